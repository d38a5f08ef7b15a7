//! Settings that work but leave a production deployment open to attack:
//! named by `check-config` (which exits 1 on them with `--strict`) and
//! logged as warnings when a production app starts. Development is left
//! alone: these are the right settings on a laptop.

use std::net::IpAddr;

use super::{Config, Environment};

/// See [`Config::weaknesses`].
pub(super) fn weaknesses(config: &Config) -> Vec<String> {
    if config.env != Environment::Production {
        return Vec::new();
    }
    let mut found = Vec::new();
    for range in config.http.trusted_proxies.ranges() {
        if range.covers_the_internet() {
            found.push(format!(
                "http.trusted_proxies trusts {range}: any client in it can write the forwarding \
                 header and choose the address its limits and audit lines count (list your \
                 proxies' own addresses)"
            ));
        }
    }
    if config
        .http
        .cors_origins
        .0
        .iter()
        .any(|origin| origin.trim() == "*")
    {
        found.push(
            "http.cors_origins is `*`: every website's scripts may call this API from their \
             visitors' browsers (list your front ends' origins)"
                .to_owned(),
        );
    }
    if let Some(url) = &config.auth.public_url
        && url.trim().to_ascii_lowercase().starts_with("http://")
    {
        found.push(format!(
            "auth.public_url is {url}: password-reset and verification links, and the tokens \
             in them, travel unencrypted (use https://)"
        ));
    }
    if let Some(url) = &config.mail.url
        && plain_smtp(url.expose())
    {
        found.push(format!(
            "mail.url is {url}: plain SMTP to another machine sends reset links and codes \
             unencrypted (use smtps://, or smtp://…?tls=required for STARTTLS)"
        ));
    }
    found
}

/// An `smtp://` URL without required STARTTLS, to a host that is not this
/// machine (a local relay is fine).
fn plain_smtp(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("smtp://") else {
        return false;
    };
    if url.contains("tls=required") {
        return false;
    }
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let host = match host.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(host, _)| host),
    };
    let local = host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    !local
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_smtp_to_another_machine_is_weak() {
        assert!(plain_smtp("smtp://user:pass@mail.example.com:25"));
        assert!(plain_smtp("smtp://mail.example.com?tls=opportunistic"));
        assert!(!plain_smtp("smtp://mail.example.com:587?tls=required"));
        assert!(!plain_smtp("smtps://user:pass@mail.example.com"));
        assert!(!plain_smtp("smtp://127.0.0.1:25"));
        assert!(!plain_smtp("smtp://localhost"));
        assert!(!plain_smtp("smtp://[::1]:2525"));
    }
}
