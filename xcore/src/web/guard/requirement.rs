use std::borrow::Cow;
use std::fmt;

use super::CurrentUser;
use crate::error::Error;

/// Who may call a route: everyone, any signed-in user, holders of one of
/// some roles, and/or holders of some permissions.
///
/// `#[route(..., auth = "admin")]` builds `Guard::role("admin")`; written by
/// hand the guard is passed to [`RouteInfo::guard`](crate::RouteInfo::guard).
///
/// ```
/// use xcore::Guard;
/// use xcore::guard::CurrentUser;
/// use xcore::security::Claims;
/// use std::time::Duration;
///
/// let editor = CurrentUser::from_claims(
///     Claims::new("7", Duration::from_secs(60)).with_roles(["editor"]).with_permissions(["items:write"]),
/// );
/// assert!(Guard::signed_in().check(&editor).is_ok());
/// assert!(Guard::any_role(["admin", "editor"]).check(&editor).is_ok());
/// assert!(Guard::role("admin").check(&editor).is_err());
/// assert!(Guard::permission("items:write").check(&editor).is_ok());
/// assert!(Guard::role("editor").and_permission("items:delete").check(&editor).is_err());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Guard {
    signed_in: bool,
    any_role: Vec<Cow<'static, str>>,
    permissions: Vec<Cow<'static, str>>,
}

impl Guard {
    /// No requirement: the route is public.
    pub fn public() -> Self {
        Guard::default()
    }

    /// Any signed-in user.
    pub fn signed_in() -> Self {
        Guard {
            signed_in: true,
            ..Guard::default()
        }
    }

    /// A signed-in user with `role`.
    pub fn role(role: impl Into<Cow<'static, str>>) -> Self {
        Self::any_role([role])
    }

    /// A signed-in user with at least one of `roles`.
    pub fn any_role<I, R>(roles: I) -> Self
    where
        I: IntoIterator<Item = R>,
        R: Into<Cow<'static, str>>,
    {
        Guard {
            signed_in: true,
            any_role: roles.into_iter().map(Into::into).collect(),
            permissions: Vec::new(),
        }
    }

    /// A signed-in user holding `permission`.
    pub fn permission(permission: impl Into<Cow<'static, str>>) -> Self {
        Guard::signed_in().and_permission(permission)
    }

    /// Adds a permission the user must also hold.
    pub fn and_permission(mut self, permission: impl Into<Cow<'static, str>>) -> Self {
        self.signed_in = true;
        self.permissions.push(permission.into());
        self
    }

    /// Whether anyone may call the route.
    pub fn is_public(&self) -> bool {
        !self.signed_in
    }

    /// Roles of which the user needs one (empty: no role requirement).
    pub fn roles(&self) -> impl ExactSizeIterator<Item = &str> {
        self.any_role.iter().map(|r| r.as_ref())
    }

    /// Permissions the user needs, all of them.
    pub fn permissions(&self) -> impl ExactSizeIterator<Item = &str> {
        self.permissions.iter().map(|p| p.as_ref())
    }

    /// Checks an authenticated user against the guard: `Err` is a 403. A
    /// scoped API key ([`CurrentUser::is_scoped_key`]) also needs the guard
    /// to name a permission.
    pub fn check(&self, user: &CurrentUser) -> Result<(), Error> {
        if user.is_scoped_key() && self.permissions.is_empty() {
            return Err(super::current_user::scoped_key_refused());
        }
        if !self.any_role.is_empty() && !self.any_role.iter().any(|r| user.has_role(r)) {
            return Err(Error::Forbidden(match self.any_role.as_slice() {
                [only] => format!("this route requires the role `{only}`"),
                roles => format!(
                    "this route requires one of the roles {}",
                    roles
                        .iter()
                        .map(|r| format!("`{r}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }));
        }
        if let Some(missing) = self.permissions.iter().find(|p| !user.has_permission(p)) {
            return Err(Error::Forbidden(format!(
                "this route requires the permission `{missing}`"
            )));
        }
        Ok(())
    }
}

impl fmt::Display for Guard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.signed_in {
            return f.write_str("public");
        }
        f.write_str("signed in")?;
        if !self.any_role.is_empty() {
            write!(f, ", role {}", self.any_role.join(" or "))?;
        }
        if !self.permissions.is_empty() {
            write!(f, ", permission {}", self.permissions.join(" and "))?;
        }
        Ok(())
    }
}
