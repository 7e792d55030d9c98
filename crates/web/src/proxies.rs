//! Which peers may tell us the client's address (`TRUSTED_PROXIES`), and the one rule
//! that reads it from `X-Forwarded-For` / `X-Real-IP` for rate limits, audit and logs.

use axum::http::HeaderMap;
use broadnet_domain::ParseError;
use std::fmt;
use std::net::IpAddr;

/// An address block such as `10.0.0.0/8` or `::1/128`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// `a.b.c.d/n`, `x::y/n`, or a bare address (a block of one).
    pub fn parse(s: &str) -> Result<Cidr, ParseError> {
        let s = s.trim();
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let net: IpAddr =
            addr.trim().parse().map_err(|_| ParseError(format!("{s:?} is not an IP address or CIDR block")))?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => match p.trim().parse::<u8>() {
                Ok(p) if p <= max => p,
                _ => return Err(ParseError(format!("{s:?} has a prefix length that is not 0 to {max}"))),
            },
        };
        Ok(Cidr { net, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        // An IPv4 peer on a dual-stack socket arrives as ::ffff:a.b.c.d.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        match (self.net, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.net, self.prefix)
    }
}

/// The proxies whose forwarding headers are believed. Empty trusts no one: the TCP
/// peer is always the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedProxies(Vec<Cidr>, ForwardedHeader);

/// Which header a trusted proxy writes the client's address in (TRUSTED_PROXY_HEADER).
/// A proxy passes the other one through from the client untouched, so naming the one
/// it sets closes that door.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For`, else `X-Real-IP` when there is none.
    #[default]
    Auto,
    /// Only `X-Forwarded-For` (Nginx: `$proxy_add_x_forwarded_for`).
    ForwardedFor,
    /// Only `X-Real-IP` (Nginx: `proxy_set_header X-Real-IP $remote_addr`).
    RealIp,
}

impl ForwardedHeader {
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "auto" => Ok(ForwardedHeader::Auto),
            "x-forwarded-for" => Ok(ForwardedHeader::ForwardedFor),
            "x-real-ip" => Ok(ForwardedHeader::RealIp),
            other => Err(ParseError(format!("must be x-forwarded-for, x-real-ip or auto, not {other:?}"))),
        }
    }
}

impl Default for TrustedProxies {
    /// A reverse proxy on the same host (Nginx on loopback), the usual deployment.
    fn default() -> Self {
        TrustedProxies(
            vec![
                Cidr { net: IpAddr::from([127, 0, 0, 0]), prefix: 8 },
                Cidr { net: IpAddr::from(std::net::Ipv6Addr::LOCALHOST), prefix: 128 },
            ],
            ForwardedHeader::Auto,
        )
    }
}

impl TrustedProxies {
    pub const DEFAULT: &'static str = "127.0.0.0/8,::1";

    /// A comma-separated list of addresses and CIDR blocks; `none` (or an empty list)
    /// trusts no proxy.
    pub fn parse(s: &str) -> Result<TrustedProxies, ParseError> {
        if s.trim().eq_ignore_ascii_case("none") {
            return Ok(TrustedProxies(Vec::new(), ForwardedHeader::Auto));
        }
        s.split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(Cidr::parse)
            .collect::<Result<_, _>>()
            .map(|c| TrustedProxies(c, ForwardedHeader::Auto))
    }

    /// Reads the client's address from `header` only.
    pub fn with_header(mut self, header: ForwardedHeader) -> Self {
        self.1 = header;
        self
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|c| c.contains(ip))
    }

    /// The client's address. A peer that is not a trusted proxy is the client, whatever
    /// it claims. Behind trusted proxies, `X-Forwarded-For` is read from the right (each
    /// proxy appends the address it saw) past the trusted hops: the first untrusted
    /// address is the last one a trusted proxy vouched for; anything left of it was
    /// written by the client. `X-Real-IP` counts only when there is no `X-Forwarded-For`.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.contains(peer) {
            return peer;
        }
        let real_ip = || headers.get("x-real-ip").and_then(|v| v.to_str().ok()).and_then(parse_hop);
        if self.1 == ForwardedHeader::RealIp {
            return real_ip().unwrap_or(peer);
        }
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .collect();
        if hops.is_empty() {
            return if self.1 == ForwardedHeader::Auto { real_ip().unwrap_or(peer) } else { peer };
        }
        let mut nearest = peer;
        for hop in hops.iter().rev() {
            match parse_hop(hop) {
                Some(ip) if self.contains(ip) => nearest = ip,
                Some(ip) => return ip,
                // Garbage where a trusted proxy should have written an address: keep
                // the nearest address we can vouch for rather than guess.
                None => return nearest,
            }
        }
        // Every hop is a trusted proxy: the farthest one is the best we know.
        nearest
    }
}

impl fmt::Display for TrustedProxies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("none");
        }
        let parts: Vec<String> = self.0.iter().map(Cidr::to_string).collect();
        f.write_str(&parts.join(","))?;
        match self.1 {
            ForwardedHeader::Auto => Ok(()),
            ForwardedHeader::ForwardedFor => f.write_str(" (X-Forwarded-For only)"),
            ForwardedHeader::RealIp => f.write_str(" (X-Real-IP only)"),
        }
    }
}

/// One forwarded address: `1.2.3.4`, `2001:db8::1`, or with a port (`1.2.3.4:5678`,
/// `[2001:db8::1]:5678`), as some proxies write it.
fn parse_hop(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    s.parse::<IpAddr>().ok().or_else(|| s.parse::<std::net::SocketAddr>().ok().map(|a| a.ip()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn the_named_header_is_the_only_one_read() {
        let mut h = HeaderMap::new();
        h.insert("x-real-ip", HeaderValue::from_static("198.51.100.1"));
        h.insert("x-forwarded-for", HeaderValue::from_static("10.4.4.1"));
        let lo = "127.0.0.1".parse().unwrap();
        let auto = TrustedProxies::default();
        assert_eq!(auto.client_ip(lo, &h), "10.4.4.1".parse::<IpAddr>().unwrap());
        let real = TrustedProxies::default().with_header(ForwardedHeader::RealIp);
        assert_eq!(
            real.client_ip(lo, &h),
            "198.51.100.1".parse::<IpAddr>().unwrap(),
            "a client's X-Forwarded-For is ignored"
        );
        let xff = TrustedProxies::default().with_header(ForwardedHeader::ForwardedFor);
        h.remove("x-forwarded-for");
        assert_eq!(xff.client_ip(lo, &h), lo, "a client's X-Real-IP is ignored");
        assert!(ForwardedHeader::parse("X-Real-IP").is_ok() && ForwardedHeader::parse("forwarded").is_err());
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn cidr_blocks_and_single_addresses() {
        let c = Cidr::parse("10.4.0.0/16").unwrap();
        assert!(c.contains(ip("10.4.255.1")) && !c.contains(ip("10.5.0.1")));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains(ip("203.0.113.9")));
        assert!(!Cidr::parse("0.0.0.0/0").unwrap().contains(ip("2001:db8::1")));
        let one = Cidr::parse(" 192.0.2.7 ").unwrap();
        assert!(one.contains(ip("192.0.2.7")) && !one.contains(ip("192.0.2.8")));
        let v6 = Cidr::parse("2001:db8::/32").unwrap();
        assert!(v6.contains(ip("2001:db8:ffff::1")) && !v6.contains(ip("2001:db9::1")));
        assert!(Cidr::parse("::/0").unwrap().contains(ip("::1")));
        // IPv4 peers seen through a dual-stack socket.
        assert!(Cidr::parse("127.0.0.0/8").unwrap().contains(ip("::ffff:127.0.0.1")));
        for bad in ["", "10.0.0.0/33", "::1/129", "10.0.0/8", "example.com", "10.0.0.0/x", "1.2.3.4/-1"] {
            assert!(Cidr::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn trusted_proxy_lists() {
        let d = TrustedProxies::parse(TrustedProxies::DEFAULT).unwrap();
        assert_eq!(d, TrustedProxies::default());
        assert!(d.contains(ip("127.0.0.53")) && d.contains(ip("::1")) && !d.contains(ip("10.0.0.1")));
        assert_eq!(d.to_string(), "127.0.0.0/8,::1/128");
        let none = TrustedProxies::parse("none").unwrap();
        assert!(!none.contains(ip("127.0.0.1")));
        assert_eq!(none.to_string(), "none");
        assert!(TrustedProxies::parse("10.0.0.0/8, 127.0.0.1,").unwrap().contains(ip("10.9.9.9")));
        assert!(TrustedProxies::parse("10.0.0.0/8,nginx").is_err());
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let t = TrustedProxies::default();
        let h = headers(&[("x-forwarded-for", "10.4.1.1, 127.0.0.1"), ("x-real-ip", "10.66.66.66")]);
        assert_eq!(t.client_ip(ip("198.51.100.20"), &h), ip("198.51.100.20"));
    }

    #[test]
    fn forwarded_for_is_read_from_the_right_past_trusted_hops() {
        let t = TrustedProxies::parse("127.0.0.1,10.0.0.0/8").unwrap();
        let peer = ip("127.0.0.1");
        // Nginx appended the client it saw; what the client wrote is to its left.
        let h = headers(&[("x-forwarded-for", "10.4.7.1, 203.0.113.50")]);
        assert_eq!(t.client_ip(peer, &h), ip("203.0.113.50"));
        // A chain of trusted proxies (a load balancer at 10.0.0.2 in front of Nginx).
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 203.0.113.50, 10.0.0.2")]);
        assert_eq!(t.client_ip(peer, &h), ip("203.0.113.50"));
        // Several header lines are one list, in order.
        let h = headers(&[("x-forwarded-for", "6.6.6.6"), ("x-forwarded-for", "203.0.113.51:4711, 10.0.0.2")]);
        assert_eq!(t.client_ip(peer, &h), ip("203.0.113.51"));
        // X-Real-IP is ignored when X-Forwarded-For is there.
        let h = headers(&[("x-forwarded-for", "203.0.113.52"), ("x-real-ip", "10.66.66.66")]);
        assert_eq!(t.client_ip(peer, &h), ip("203.0.113.52"));
        // Only trusted hops: the farthest one.
        let h = headers(&[("x-forwarded-for", "10.0.0.9, 10.0.0.2")]);
        assert_eq!(t.client_ip(peer, &h), ip("10.0.0.9"));
        // Garbage where an address should be: the nearest trusted hop.
        let h = headers(&[("x-forwarded-for", "203.0.113.53, nonsense, 10.0.0.2")]);
        assert_eq!(t.client_ip(peer, &h), ip("10.0.0.2"));
    }

    #[test]
    fn real_ip_only_from_a_trusted_peer_without_forwarded_for() {
        let t = TrustedProxies::default();
        let h = headers(&[("x-real-ip", "[2001:db8::5]:443")]);
        assert_eq!(t.client_ip(ip("::1"), &h), ip("2001:db8::5"));
        let h = headers(&[("x-real-ip", "not an address")]);
        assert_eq!(t.client_ip(ip("127.0.0.1"), &h), ip("127.0.0.1"));
        assert_eq!(t.client_ip(ip("127.0.0.1"), &HeaderMap::new()), ip("127.0.0.1"));
    }
}
