//! Who is on the other end of the connection: the client's IP address, from
//! the socket, or from the forwarding header (`http.forwarded_header`) when
//! — and only when — the socket's peer is a proxy the configuration trusts
//! (`http.trusted_proxies`). Anyone can write those headers; believing them
//! from anyone else would let a client pick the address its limits count
//! against. For the same reason only the one header the proxy writes is
//! read: a proxy that appends to `X-Forwarded-For` passes a `Forwarded`
//! header through untouched, so that one is entirely the client's.

use std::cell::Cell;
use std::fmt;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::request::Parts;
use axum::http::{Extensions, HeaderMap};

use crate::config::{ForwardedHeader, TrustedProxies};

/// The client's IP address, as an extractor: `async fn h(client: ClientAddr)`.
///
/// ```
/// use xcore::client::ClientAddr;
///
/// async fn whoami(client: ClientAddr) -> String {
///     format!("you are {client}")
/// }
/// ```
///
/// The socket's peer comes from the app's own server (`App::run`,
/// `App::serve`), or from a `ConnectInfo<SocketAddr>` extension when the
/// router is served another way (`into_make_service_with_connect_info`).
/// `App::serve` does not add that extension to every request: take
/// `ClientAddr`, not axum's `ConnectInfo`, in handlers. Without a socket (a
/// router driven in-process by hand), the address is `::` (unspecified);
/// `TestClient` requests come from `127.0.0.1` unless told otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientAddr(pub IpAddr);

impl fmt::Display for ClientAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

thread_local! {
    /// The peer of the connection whose request this thread is running,
    /// set by the app's stack while it runs the request: `App::serve` hands
    /// the address over this way instead of a `ConnectInfo` extension,
    /// which would cost every request an allocation.
    static PEER: Cell<Option<SocketAddr>> = const { Cell::new(None) };
}

/// While alive, [`client_addr`] sees `peer` as the socket's peer on this
/// thread (see [`PEER`]); dropping it puts back the previous one.
pub(crate) struct PeerScope(Option<SocketAddr>);

impl PeerScope {
    pub(crate) fn enter(peer: Option<SocketAddr>) -> Self {
        PeerScope(PEER.replace(peer))
    }
}

impl Drop for PeerScope {
    fn drop(&mut self) {
        PEER.set(self.0);
    }
}

/// The client address of a request: the socket's peer, or, behind trusted
/// proxies, the nearest address in the forwarding chain that is not one.
pub(crate) fn client_addr(
    parts: &Parts,
    trusted: &TrustedProxies,
    header: ForwardedHeader,
) -> ClientAddr {
    client_addr_of(&parts.extensions, &parts.headers, trusted, header)
}

/// [`client_addr`] from a request's extensions and headers.
pub(crate) fn client_addr_of(
    extensions: &Extensions,
    headers: &HeaderMap,
    trusted: &TrustedProxies,
    header: ForwardedHeader,
) -> ClientAddr {
    let peer = extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0)
        .or_else(|| PEER.get())
        .map_or(IpAddr::V6(Ipv6Addr::UNSPECIFIED), |peer| peer.ip());
    if trusted.is_empty() || !trusted.trusts(peer) {
        return ClientAddr(peer);
    }
    // Walk the chain from the nearest hop back; the first hop we do not
    // trust is the client as far as anyone honest can tell.
    let chain = forwarded_chain(headers, header);
    let client = chain
        .iter()
        .rev()
        .copied()
        .find(|ip| !trusted.trusts(*ip))
        .or_else(|| chain.first().copied())
        .unwrap_or(peer);
    ClientAddr(client)
}

/// The addresses `header` lists, in order (client first): the `for=` of
/// each `Forwarded` element (RFC 7239), or each `X-Forwarded-For` item.
/// Unparsable entries (names, `unknown`, an element without `for`) end the
/// chain there, so nothing beyond them is believed.
fn forwarded_chain(headers: &HeaderMap, header: ForwardedHeader) -> Vec<IpAddr> {
    let items = headers
        .get_all(header.name())
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|value| value.split(','));
    let parsed: Vec<Option<IpAddr>> = match header {
        ForwardedHeader::XForwardedFor => items.map(|item| parse_node(item.trim())).collect(),
        ForwardedHeader::Forwarded => items
            .map(|element| {
                element.split(';').find_map(|pair| {
                    let (key, value) = pair.trim().split_once('=')?;
                    key.trim()
                        .eq_ignore_ascii_case("for")
                        .then(|| parse_node(value.trim().trim_matches('"')))
                })?
            })
            .collect(),
    };
    // Keep the trustworthy tail: everything after the last unparsable entry.
    let start = parsed
        .iter()
        .rposition(Option::is_none)
        .map_or(0, |i| i + 1);
    parsed[start..].iter().flatten().copied().collect()
}

/// `1.2.3.4`, `1.2.3.4:80`, `[::1]`, `[::1]:80`, `::1`.
fn parse_node(node: &str) -> Option<IpAddr> {
    if let Ok(ip) = node.parse() {
        return Some(ip);
    }
    if let Some(rest) = node.strip_prefix('[') {
        return rest.split_once(']').and_then(|(ip, _)| ip.parse().ok());
    }
    node.parse::<SocketAddr>().ok().map(|s| s.ip())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    fn parts(peer: &str, headers: &[(&str, &str)]) -> Parts {
        let mut request = Request::builder();
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let (mut parts, ()) = request.body(()).expect("request").into_parts();
        parts
            .extensions
            .insert(ConnectInfo(peer.parse::<SocketAddr>().expect("peer")));
        parts
    }

    fn trusted(list: &str) -> TrustedProxies {
        let items: Vec<String> = list.split(',').map(str::to_owned).collect();
        TrustedProxies::parse(&items).expect("ranges")
    }

    fn ip(text: &str) -> ClientAddr {
        ClientAddr(text.parse().expect("ip"))
    }

    const XFF: ForwardedHeader = ForwardedHeader::XForwardedFor;
    const FORWARDED: ForwardedHeader = ForwardedHeader::Forwarded;

    #[test]
    fn forwarding_headers_are_ignored_from_untrusted_peers() {
        let request = parts("203.0.113.9:5000", &[("x-forwarded-for", "1.1.1.1")]);
        assert_eq!(
            client_addr(&request, &TrustedProxies::default(), XFF),
            ip("203.0.113.9")
        );
        assert_eq!(
            client_addr(&request, &trusted("10.0.0.0/8"), XFF),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn only_the_configured_header_is_read() {
        let proxies = trusted("10.0.0.0/8");
        // The proxy appends to X-Forwarded-For; the client wrote Forwarded.
        let request = parts(
            "10.0.0.2:5000",
            &[
                ("x-forwarded-for", "198.51.100.7"),
                ("forwarded", "for=6.6.6.6"),
            ],
        );
        assert_eq!(client_addr(&request, &proxies, XFF), ip("198.51.100.7"));
        assert_eq!(client_addr(&request, &proxies, FORWARDED), ip("6.6.6.6"));
        // Without the configured header, the peer is the client.
        let request = parts("10.0.0.2:5000", &[("forwarded", "for=6.6.6.6")]);
        assert_eq!(client_addr(&request, &proxies, XFF), ip("10.0.0.2"));
        // An element without `for` ends the chain like a name does.
        let request = parts(
            "10.0.0.2:5000",
            &[("forwarded", "for=6.6.6.6, proto=https, for=192.0.2.1")],
        );
        assert_eq!(client_addr(&request, &proxies, FORWARDED), ip("192.0.2.1"));
    }

    #[test]
    fn behind_trusted_proxies_the_nearest_untrusted_hop_is_the_client() {
        let proxies = trusted("10.0.0.0/8");
        let request = parts(
            "10.0.0.2:5000",
            &[("x-forwarded-for", "6.6.6.6, 198.51.100.7, 10.0.0.5")],
        );
        // 6.6.6.6 is whatever the client wrote; 198.51.100.7 reached our proxy.
        assert_eq!(client_addr(&request, &proxies, XFF), ip("198.51.100.7"));
        let request = parts(
            "10.0.0.2:5000",
            &[(
                "forwarded",
                "for=192.0.2.60;proto=http, for=\"[2001:db8::1]:4711\"",
            )],
        );
        assert_eq!(
            client_addr(&request, &proxies, FORWARDED),
            ip("2001:db8::1")
        );
        let request = parts(
            "10.0.0.2:5000",
            &[("x-forwarded-for", "garbage, 192.0.2.1")],
        );
        assert_eq!(client_addr(&request, &proxies, XFF), ip("192.0.2.1"));
        let request = parts("10.0.0.2:5000", &[]);
        assert_eq!(client_addr(&request, &proxies, XFF), ip("10.0.0.2"));
    }
}
