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
