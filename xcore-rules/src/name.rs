//! Names: of plugins (they scope cache keys, codes and migrations), of roles
//! and of permissions (stored by the admin API, required by guards).

use crate::Invalid;

/// Checks a plugin name: letters, digits, `_` and `-`, not starting with
/// `xcore` (the framework's own cache and code namespaces are `xcore-…`,
/// and a plugin's namespace is its name).
///
/// ```
/// assert!(xcore_rules::name::plugin("tableau-de-bord").is_ok());
/// assert!(xcore_rules::name::plugin("mon plugin").is_err());
/// assert!(xcore_rules::name::plugin("xcore-auth").is_err());
/// ```
pub fn plugin(name: &str) -> Result<(), Invalid> {
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !valid {
        return Err(Invalid::new(
            "a plugin name is made of letters, digits, `_` and `-`, like \"catalogue\" or \"tableau-de-bord\"",
        ));
    }
    if name.to_ascii_lowercase().starts_with(RESERVED_PREFIX) {
        return Err(Invalid::new(format!(
            "plugin names starting with `{RESERVED_PREFIX}` are reserved for the framework's own namespaces"
        )));
    }
    Ok(())
}

/// A dependency of a plugin: another plugin's name, optionally with a
/// requirement on its version after `@` (`"catalogue"`,
/// `"catalogue@^1.2"`, Cargo's syntax).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependency {
    /// The plugin depended on.
    pub name: String,
    /// What its version must match (`None`: any).
    pub version: Option<semver::VersionReq>,
}

/// Reads `name` or `name@requirement`.
///
/// ```
/// let dependency = xcore_rules::name::dependency("catalogue@^1").unwrap();
/// assert_eq!(dependency.name, "catalogue");
/// assert!(dependency.version.unwrap().matches(&"1.4.0".parse().unwrap()));
/// assert!(xcore_rules::name::dependency("tableau-de-bord").unwrap().version.is_none());
/// assert!(xcore_rules::name::dependency("mon plugin").is_err());
/// assert!(xcore_rules::name::dependency("catalogue@one").is_err());
/// ```
pub fn dependency(spec: &str) -> Result<Dependency, Invalid> {
    let (name, version) = match spec.split_once('@') {
        Some((name, requirement)) => {
            let version = requirement.trim().parse::<semver::VersionReq>().map_err(|err| {
                Invalid::new(format!(
                    "`{requirement}` is not a version requirement ({err}); write e.g. \"{name}@^1\""
                ))
            })?;
            (name.trim(), Some(version))
        }
        None => (spec.trim(), None),
    };
    plugin(name).map_err(|invalid| {
        Invalid::new(format!(
            "`{spec}` does not name a plugin: {invalid}; a dependency is \"name\" or \"name@^1\""
        ))
    })?;
    Ok(Dependency {
        name: name.to_owned(),
        version,
    })
}

/// The start of the framework's own namespaces.
pub const RESERVED_PREFIX: &str = "xcore";

/// Checks a role name: 1 to 64 characters among a-z, 0-9, `_`, `-`, `:`
/// and `.`.
///
/// ```
/// assert!(xcore_rules::name::role("editor").is_ok());
/// assert!(xcore_rules::name::role("").is_err());
/// ```
pub fn role(name: &str) -> Result<(), Invalid> {
    access_name("role", name)
}

/// Checks a permission name, by the same rule as roles (`items:delete`).
///
/// ```
/// assert!(xcore_rules::name::permission("items:delete").is_ok());
/// assert!(xcore_rules::name::permission("Items Delete").is_err());
/// ```
pub fn permission(name: &str) -> Result<(), Invalid> {
    access_name("permission", name)
}

/// The longest role or permission name.
pub const MAX_ACCESS_NAME: usize = 64;

fn access_name(kind: &str, name: &str) -> Result<(), Invalid> {
    let valid = !name.is_empty()
        && name.len() <= MAX_ACCESS_NAME
        && name.chars().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-' | ':' | '.')
        });
    if valid {
        Ok(())
    } else {
        Err(Invalid::new(format!(
            "a {kind} name has 1 to {MAX_ACCESS_NAME} characters among a-z, 0-9, `_`, `-`, `:` and `.`"
        )))
    }
}
