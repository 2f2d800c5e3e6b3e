//! Turning a source string into the network it stands for.
//!
//! Addresses inside one subnet come and go (DHCP leases, a VPN pool handing
//! out the next free address), so the detector keys novelty on the subnet,
//! and looks one level wider, at the block around it, to tell "another
//! address from the office or VPN range the team uses" from "somewhere the
//! team has never been".

use std::net::{IpAddr, SocketAddr};

use serde::{Deserialize, Serialize};

/// A network key: an address with its host bits cleared, or a source that
/// is not an address (a host name, `localhost`, a socket path), keyed by the
/// host's symbol id, i.e. by the whole string.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Net {
    /// An IPv4 network address.
    V4(u32),
    /// An IPv6 network address.
    V6(u128),
    /// A non-address source, by symbol id.
    Name(u32),
}

/// Prefix lengths that say how wide a subnet and a block are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prefixes {
    /// IPv4 prefix length, 0 to 32.
    pub v4: u8,
    /// IPv6 prefix length, 0 to 128.
    pub v6: u8,
}

/// Parse a source as an IP address: a bare address, `addr:port`,
/// `[v6]:port` or `[v6]`. IPv4-mapped IPv6 addresses count as IPv4, so the
/// same client is one network whichever way a server logs it.
pub fn parse_ip(text: &str) -> Option<IpAddr> {
    let t = text.trim();
    let ip = t
        .parse::<IpAddr>()
        .ok()
        .or_else(|| t.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| {
            t.strip_prefix('[')
                .and_then(|s| s.strip_suffix(']'))
                .and_then(|s| s.parse::<IpAddr>().ok())
        })?;
    Some(ip.to_canonical())
}

/// The network of `ip` at `prefixes`.
pub fn network(ip: IpAddr, prefixes: Prefixes) -> Net {
    match ip {
        IpAddr::V4(a) => Net::V4(u32::from(a) & mask32(prefixes.v4)),
        IpAddr::V6(a) => Net::V6(u128::from(a) & mask128(prefixes.v6)),
    }
}

fn mask32(prefix: u8) -> u32 {
    match prefix {
        0 => 0,
        p => u32::MAX << (32 - u32::from(p.min(32))),
    }
}

fn mask128(prefix: u8) -> u128 {
    match prefix {
        0 => 0,
        p => u128::MAX << (128 - u32::from(p.min(128))),
    }
}

/// A network as people write it: `10.99.3.0/24`, `2001:db8:1:2::/64`, or
/// the source's own text for a non-address.
pub fn display(net: Net, prefixes: Prefixes, name: &str) -> String {
    match net {
        Net::V4(a) => format!("{}/{}", std::net::Ipv4Addr::from(a), prefixes.v4),
        Net::V6(a) => format!("{}/{}", std::net::Ipv6Addr::from(a), prefixes.v6),
        Net::Name(_) => name.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUBNET: Prefixes = Prefixes { v4: 24, v6: 64 };

    fn net(text: &str) -> Net {
        network(parse_ip(text).unwrap(), SUBNET)
    }

    #[test]
    fn addresses_are_keyed_by_subnet() {
        assert_eq!(net("10.1.2.3"), net("10.1.2.250"));
        assert_ne!(net("10.1.2.3"), net("10.1.3.3"));
        assert_eq!(net("2001:db8:1:2::1"), net("2001:db8:1:2:ffff::9"));
        assert_ne!(net("2001:db8:1:2::1"), net("2001:db8:1:3::1"));
        assert_eq!(net("::ffff:10.1.2.3"), net("10.1.2.9"));
        assert_eq!(net("10.1.2.3:5432"), net("10.1.2.3"));
        assert_eq!(net("[2001:db8::1]:5432"), net("2001:db8::7"));
        assert_eq!(net("[2001:db8::1]"), net("2001:db8::7"));
        assert_eq!(net(" 10.1.2.3 "), Net::V4(0x0A01_0200));
    }

    #[test]
    fn names_are_not_addresses() {
        for t in [
            "db-admin.corp",
            "localhost",
            "",
            "10.1.2",
            "300.1.1.1",
            "[::1",
        ] {
            assert_eq!(parse_ip(t), None, "{t}");
        }
    }

    #[test]
    fn prefixes_at_the_edges() {
        let ip = parse_ip("192.168.7.9").unwrap();
        assert_eq!(network(ip, Prefixes { v4: 0, v6: 0 }), Net::V4(0));
        assert_eq!(
            network(ip, Prefixes { v4: 32, v6: 128 }),
            Net::V4(0xC0A8_0709)
        );
        let v6 = parse_ip("2001:db8::1").unwrap();
        assert_eq!(
            network(v6, Prefixes { v4: 32, v6: 128 }),
            Net::V6(u128::from(std::net::Ipv6Addr::new(
                0x2001, 0xdb8, 0, 0, 0, 0, 0, 1
            )))
        );
    }

    #[test]
    fn display_is_cidr() {
        assert_eq!(display(net("10.99.3.7"), SUBNET, "x"), "10.99.3.0/24");
        assert_eq!(
            display(net("2001:db8:1:2::1"), SUBNET, "x"),
            "2001:db8:1:2::/64"
        );
        assert_eq!(display(Net::Name(4), SUBNET, "jump-host"), "jump-host");
    }
}
