//! Which peers may speak for a client: `http.trusted_proxies`, the
//! addresses and networks whose forwarding header is believed, and
//! `http.forwarded_header`, the one header they write (read in
//! [`ClientAddr`](crate::client::ClientAddr)).

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

use serde::Deserialize;

use super::StringList;

/// An address or a network (`10.0.0.0/8`, `::1`), as `http.trusted_proxies`
/// lists them.
///
/// ```
/// use xcore::client::IpRange;
///
/// let range: IpRange = "10.0.0.0/8".parse().unwrap();
/// assert!(range.contains("10.1.2.3".parse().unwrap()));
/// assert!(!range.contains("11.0.0.1".parse().unwrap()));
/// assert!("10.0.0.0/33".parse::<IpRange>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpRange {
    network: u128,
    prefix: u8,
}

impl IpRange {
    /// Whether the range reaches far into the public internet: an IPv4
    /// range wider than a /8, or an IPv6 one wider than a /16 outside the
    /// private fc00::/7. No one runs proxies across that much of it;
    /// trusting it lets clients there pick their address.
    ///
    /// ```
    /// use xcore::client::IpRange;
    ///
    /// let wide = |text: &str| text.parse::<IpRange>().unwrap().covers_the_internet();
    /// assert!(wide("0.0.0.0/0") && wide("::/0") && wide("128.0.0.0/1"));
    /// assert!(!wide("10.0.0.0/8") && !wide("fc00::/7") && !wide("203.0.113.7"));
    /// ```
    pub fn covers_the_internet(&self) -> bool {
        let private_v6 = IpRange {
            network: 0xfc00_u128 << 112,
            prefix: 7,
        };
        match Ipv6Addr::from(self.network).to_ipv4_mapped() {
            Some(_) if self.prefix >= 96 => self.prefix < 96 + 8,
            _ => self.prefix < 16 && !(self.prefix >= 7 && private_v6.contains_bits(self.network)),
        }
    }

    /// Whether `ip` is in the range.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.contains_bits(as_v6_bits(ip))
    }

    fn contains_bits(&self, bits: u128) -> bool {
        let mask = match self.prefix {
            0 => 0,
            n => u128::MAX << (128 - u32::from(n)),
        };
        bits & mask == self.network & mask
    }
}

/// IPv4 as IPv4-mapped IPv6, so one comparison serves both.
fn as_v6_bits(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(v4.to_ipv6_mapped()),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

impl fmt::Display for IpRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v6 = Ipv6Addr::from(self.network);
        match v6.to_ipv4_mapped() {
            Some(v4) if self.prefix >= 96 => write!(f, "{v4}/{}", self.prefix - 96),
            _ => write!(f, "{v6}/{}", self.prefix),
        }
    }
}

impl std::str::FromStr for IpRange {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || format!("`{text}` is not an IP address or network like 10.0.0.0/8");
        let (address, prefix) = match text.trim().split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text.trim(), None),
        };
        let ip: IpAddr = address.parse().map_err(|_| bad())?;
        let width = if ip.is_ipv4() { 32 } else { 128 };
        let prefix: u8 = match prefix {
            Some(prefix) => prefix
                .parse()
                .ok()
                .filter(|p| *p <= width)
                .ok_or_else(bad)?,
            None => width,
        };
        // IPv4 prefixes count within the mapped address's last 32 bits.
        let prefix = if ip.is_ipv4() { prefix + 96 } else { prefix };
        Ok(IpRange {
            network: as_v6_bits(ip),
            prefix,
        })
    }
}

/// The header trusted proxies write the client's address in
/// (`http.forwarded_header`).
///
/// ```
/// use xcore::config::{Config, ForwardedHeader};
///
/// assert_eq!(Config::default().http.forwarded_header, ForwardedHeader::XForwardedFor);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2` (nginx, HAProxy, most
    /// load balancers).
    #[default]
    #[serde(alias = "X-Forwarded-For")]
    XForwardedFor,
    /// `Forwarded: for=client, for=proxy1` (RFC 7239).
    #[serde(alias = "Forwarded")]
    Forwarded,
}

impl ForwardedHeader {
    /// The header's name, lower-case.
    pub fn name(self) -> &'static str {
        match self {
            ForwardedHeader::XForwardedFor => "x-forwarded-for",
            ForwardedHeader::Forwarded => "forwarded",
        }
    }
}

/// The trusted proxies: a list, or one comma-separated string (as an
/// environment variable gives it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpRange>);

impl TrustedProxies {
    /// Whether `ip` is a trusted proxy.
    pub fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|range| range.contains(ip))
    }

    /// Whether no proxy is trusted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The trusted ranges.
    pub fn ranges(&self) -> impl Iterator<Item = &IpRange> {
        self.0.iter()
    }
}

impl serde::Serialize for TrustedProxies {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(ToString::to_string))
    }
}

impl TrustedProxies {
    /// The ranges these addresses or CIDR blocks name.
    pub(crate) fn parse(items: &[String]) -> Result<Self, String> {
        items
            .iter()
            .map(|item| item.parse())
            .collect::<Result<Vec<_>, _>>()
            .map(TrustedProxies)
    }
}

/// `http.trusted_proxies`: a list setting (`["10.0.0.0/8", "::1"]` or one
/// comma-separated string) whose items are address ranges.
impl<'de> Deserialize<'de> for TrustedProxies {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let StringList(items) = StringList::deserialize(deserializer)?;
        TrustedProxies::parse(&items).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_cover_both_families() {
        let v6: IpRange = "2001:db8::/32".parse().expect("range");
        assert!(v6.contains("2001:db8::1".parse().expect("ip")));
        assert!(!v6.contains("2001:db9::1".parse().expect("ip")));
        let one: IpRange = "127.0.0.1".parse().expect("range");
        assert!(one.contains("127.0.0.1".parse().expect("ip")));
        assert!(!one.contains("127.0.0.2".parse().expect("ip")));
        assert!("nope".parse::<IpRange>().is_err());
    }
}
