//! Rate limits: a count per period, counted per key.

use crate::Invalid;

/// The periods a limit is written in, and their length in seconds.
pub const PERIODS: [(&str, u64); 4] = [
    ("second", 1),
    ("minute", 60),
    ("hour", 3600),
    ("day", 86_400),
];

/// The length in seconds of a period named `second`, `minute`, `hour` or
/// `day`.
///
/// ```
/// assert_eq!(xcore_rules::rate_limit::period("minute").unwrap(), 60);
/// assert!(xcore_rules::rate_limit::period("fortnight").is_err());
/// ```
pub fn period(name: &str) -> Result<u64, Invalid> {
    PERIODS
        .iter()
        .find(|(known, _)| *known == name)
        .map(|(_, secs)| *secs)
        .ok_or_else(|| {
            let hint = PERIODS
                .iter()
                .find(|(known, _)| name.trim_end_matches('s') == *known)
                .map(|(known, _)| format!(" (singular: \"{known}\")"))
                .unwrap_or_default();
            Invalid::new(format!(
                "unknown period \"{name}\"{hint}: a limit is per \"second\", \"minute\", \"hour\" or \"day\""
            ))
        })
}

/// A limit lets at least one request through per period.
pub fn count(count: u64) -> Result<(), Invalid> {
    if count == 0 {
        Err(Invalid::new(
            "a rate limit of 0 refuses every request: give a count of at least 1, or no limit",
        ))
    } else if count > u64::from(u32::MAX) {
        Err(Invalid::new(
            "a rate limit counts at most 4294967295 requests",
        ))
    } else {
        Ok(())
    }
}

/// What a limit is counted per.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KeyPart {
    /// The signed-in user.
    User,
    /// The client address.
    Ip,
    /// A path parameter.
    Param(String),
}

/// Checks that a limit's key fits its route: `user` needs a guard, each
/// parameter is one of the path's.
///
/// ```
/// use xcore_rules::rate_limit::{KeyPart, key_fits};
///
/// assert!(key_fits(&[KeyPart::Ip], &[], false).is_ok());
/// assert!(key_fits(&[KeyPart::User], &[], false).is_err());
/// assert!(key_fits(&[KeyPart::Param("id".into())], &["id"], false).is_ok());
/// ```
pub fn key_fits(key: &[KeyPart], params: &[&str], guarded: bool) -> Result<(), Invalid> {
    if key.is_empty() {
        return Err(Invalid::new(
            "a rate limit needs a key: `user`, `ip`, a path parameter like \"{id}\", or a list of them",
        ));
    }
    for part in key {
        match part {
            KeyPart::User if !guarded => {
                return Err(Invalid::new(
                    "`key = user` needs a signed-in user, but this route has no guard (`auth`): \
                     limit it per `ip`, or guard it",
                ));
            }
            KeyPart::Param(name) if !params.contains(&name.as_str()) => {
                let available = if params.is_empty() {
                    "the path has no parameters".to_owned()
                } else {
                    format!("the path's parameters are {}", params.join(", "))
                };
                return Err(Invalid::new(format!(
                    "`{{{name}}}` is not a parameter of the path ({available})"
                )));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Two limits of one route may not share their period and key: one of them
/// would never matter. `limits` are (period in seconds, key) pairs; the
/// index of the first repeated one is returned with the error.
pub fn distinct(limits: &[(u64, Vec<KeyPart>)]) -> Result<(), (usize, Invalid)> {
    for (index, (secs, key)) in limits.iter().enumerate() {
        if limits[..index]
            .iter()
            .any(|(s, k)| s == secs && same_key(k, key))
        {
            return Err((
                index,
                Invalid::new(
                    "this route already has a limit per this period and key: keep one, or \
                     give them different periods",
                ),
            ));
        }
    }
    Ok(())
}

fn same_key(a: &[KeyPart], b: &[KeyPart]) -> bool {
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    a.sort();
    b.sort();
    a == b
}

/// A limit as configuration writes it, `5/minute`: its count and period in
/// seconds.
///
/// ```
/// assert_eq!(xcore_rules::rate_limit::spec("5/minute").unwrap(), (5, 60));
/// assert!(xcore_rules::rate_limit::spec("5 per minute").is_err());
/// ```
pub fn spec(text: &str) -> Result<(u64, u64), Invalid> {
    let (number, name) = text.trim().split_once('/').ok_or_else(|| {
        Invalid::new(format!(
            "`{text}` is not a limit: write a count and a period, like \"5/minute\""
        ))
    })?;
    let number: u64 = number
        .trim()
        .parse()
        .map_err(|_| Invalid::new(format!("`{text}`: the count is a whole number")))?;
    count(number)?;
    Ok((number, period(name.trim())?))
}
