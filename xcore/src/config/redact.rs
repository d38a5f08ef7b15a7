//! Connection URLs whose passwords never show: in logs, in `Debug`, in what
//! `check-config` prints.

use serde::{Deserialize, Serialize, Serializer};

/// A connection URL whose password never shows in logs or `Debug` output.
///
/// ```
/// let url = xcore::config::RedactedUrl::from("postgres://app:s3cret@db:5432/shop");
/// assert_eq!(url.to_string(), "postgres://app:***@db:5432/shop");
/// assert_eq!(url.expose(), "postgres://app:s3cret@db:5432/shop");
/// let url = xcore::config::RedactedUrl::from("postgres://db/shop?user=app&password=s3cret");
/// assert_eq!(url.to_string(), "postgres://db/shop?user=app&password=***");
/// ```
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(from = "String")]
pub struct RedactedUrl(String);

impl RedactedUrl {
    /// The full URL, password included. Call only to connect.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for RedactedUrl {
    fn from(value: String) -> Self {
        RedactedUrl(value)
    }
}

impl From<&str> for RedactedUrl {
    fn from(value: &str) -> Self {
        RedactedUrl(value.to_owned())
    }
}

impl std::fmt::Display for RedactedUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // scheme://user:password@host...?password=... -> the same with ***.
        let url = &self.0;
        let (base, query) = match url.split_once('?') {
            Some((base, query)) => (base, Some(query)),
            None => (url.as_str(), None),
        };
        match base.find("://").and_then(|end| {
            let rest = &base[end + 3..];
            let at = rest.find('@')?;
            let colon = rest[..at].find(':')?;
            Some((end + 3 + colon, end + 3 + at))
        }) {
            Some((colon, at)) => write!(f, "{}:***{}", &base[..colon], &base[at..])?,
            None => f.write_str(base)?,
        }
        if let Some(query) = query {
            f.write_str("?")?;
            for (index, pair) in query.split('&').enumerate() {
                if index > 0 {
                    f.write_str("&")?;
                }
                match pair.split_once('=') {
                    Some((name, _)) if is_secret_parameter(name) => write!(f, "{name}=***")?,
                    _ => f.write_str(pair)?,
                }
            }
        }
        Ok(())
    }
}

/// Query parameters of connection URLs that carry credentials
/// (`?password=`, `sslpassword`, `auth_token`…).
fn is_secret_parameter(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    [
        "pass",
        "pwd",
        "secret",
        "token",
        "key",
        "auth",
        "credential",
    ]
    .iter()
    .any(|word| name.contains(word))
}

/// `section` (a plugin's, as `check-config` prints it) with the value of
/// every key that names a credential (the words of
/// [`is_secret_parameter`]), at any depth, shown as `***`.
pub(crate) fn redact_section(section: &mut serde_json::Value) {
    if let serde_json::Value::Object(keys) = section {
        for (key, value) in keys.iter_mut() {
            if is_secret_parameter(key) && !value.is_object() {
                *value = serde_json::Value::String("***".into());
            } else {
                redact_section(value);
            }
        }
    }
}

/// Written out (by `check-config`) with its password hidden.
impl Serialize for RedactedUrl {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl std::fmt::Debug for RedactedUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "\"{self}\"")
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn a_plugins_credentials_never_show() {
        let mut section = json!({
            "api_token": "t0k", "page_size": 5, "smtp": {"password": "p", "host": "h"},
        });
        super::redact_section(&mut section);
        assert_eq!(
            section,
            json!({"api_token": "***", "page_size": 5, "smtp": {"password": "***", "host": "h"}})
        );
    }
}
