//! Address strings, in upstream Mochi's spelling, and the libfabric names
//! behind them.
//!
//! * `na+sm`, `na+sm://…` → libfabric `shm`. Our shm endpoints register as
//!   node `mochi-<pid>`; the provider appends `:<domain>:<endpoint index>`,
//!   so `fi_shm://mochi-<pid>:0:<n>` is printed `na+sm://<pid>-<n>` (and
//!   `na+sm://<pid>-<n>.<domain>` in the unusual case of a non-zero domain):
//!   the printed address carries everything a peer needs to reach us.
//! * `ofi+tcp`, `ofi+tcp://HOST[:PORT]`, `ofi+tcp;ofi_rxm://HOST:PORT`,
//!   `tcp://HOST[:PORT]` → libfabric `tcp` (RDM over `ofi_rxm`); the name is
//!   a 16-byte `sockaddr_in`, printed as `ofi+tcp://<ip>:<port>`.
//!
//! Everything else is treated as opaque bytes.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, ToSocketAddrs};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// Shared memory between processes of one node.
    Sm,
    /// TCP sockets.
    Tcp,
}

impl Protocol {
    /// The libfabric provider that implements this protocol.
    pub fn provider(self) -> &'static str {
        match self {
            Protocol::Sm => "shm",
            Protocol::Tcp => "tcp",
        }
    }

    /// The prefix printed in front of addresses.
    pub fn scheme(self) -> &'static str {
        match self {
            Protocol::Sm => "na+sm",
            Protocol::Tcp => "ofi+tcp",
        }
    }
}

#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum AddressError {
    #[error("empty address")]
    Empty,
    #[error("unsupported protocol in address \"{0}\" (supported: na+sm, ofi+tcp, tcp)")]
    UnknownProtocol(String),
    #[error("malformed address \"{addr}\": {why}")]
    Malformed { addr: String, why: String },
    #[error("could not resolve host in \"{addr}\": {why}")]
    Unresolvable { addr: String, why: String },
}

fn malformed(addr: &str, why: impl Into<String>) -> AddressError {
    AddressError::Malformed { addr: addr.to_string(), why: why.into() }
}

/// Splits `scheme://rest` and maps the scheme to a protocol.
fn split(addr: &str) -> Result<(Protocol, Option<&str>), AddressError> {
    let addr_trim = addr.trim();
    if addr_trim.is_empty() {
        return Err(AddressError::Empty);
    }
    let (scheme, rest) = match addr_trim.find("://") {
        Some(i) => (&addr_trim[..i], Some(&addr_trim[i + 3..])),
        None => (addr_trim, None),
    };
    let protocol = match scheme {
        "na+sm" | "sm" => Protocol::Sm,
        "ofi+tcp" | "ofi+tcp;ofi_rxm" | "tcp" | "na+ofi+tcp" => Protocol::Tcp,
        _ => return Err(AddressError::UnknownProtocol(addr.to_string())),
    };
    Ok((protocol, rest.filter(|r| !r.is_empty())))
}

/// What to open a listening endpoint on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListenSpec {
    pub protocol: Protocol,
    /// For tcp: the IPv4 address to bind (default 127.0.0.1) and port (0: any).
    pub tcp_bind: Option<SocketAddrV4>,
}

/// Parses the address given to `margo_init` and friends.
pub fn parse_listen(addr: &str) -> Result<ListenSpec, AddressError> {
    let (protocol, rest) = split(addr)?;
    match protocol {
        // Upstream accepts anything after `na+sm://` and ignores it; so do we.
        Protocol::Sm => Ok(ListenSpec { protocol, tcp_bind: None }),
        Protocol::Tcp => {
            let bind = match rest {
                None => SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0),
                Some(hostport) => resolve_v4(addr, hostport, true)?,
            };
            Ok(ListenSpec { protocol, tcp_bind: Some(bind) })
        }
    }
}

/// Resolves `HOST[:PORT]` (port optional when `port_optional`).
fn resolve_v4(addr: &str, hostport: &str, port_optional: bool) -> Result<SocketAddrV4, AddressError> {
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) => {
            let port: u16 = p.parse().map_err(|_| malformed(addr, format!("port \"{p}\" is not a number in 0..=65535")))?;
            (h, port)
        }
        None if port_optional => (hostport, 0),
        None => return Err(malformed(addr, "missing \":PORT\"")),
    };
    if host.is_empty() {
        return Err(malformed(addr, "missing host"));
    }
    if let Ok(ip) = host.parse::<Ipv4Addr>() {
        return Ok(SocketAddrV4::new(ip, port));
    }
    if host.starts_with('[') || host.parse::<std::net::Ipv6Addr>().is_ok() {
        return Err(malformed(addr, "IPv6 addresses are not supported; use an IPv4 address"));
    }
    let found =
        (host, port).to_socket_addrs().map_err(|e| AddressError::Unresolvable { addr: addr.to_string(), why: e.to_string() })?;
    for sa in found {
        if let SocketAddr::V4(v4) = sa {
            return Ok(v4);
        }
    }
    Err(AddressError::Unresolvable { addr: addr.to_string(), why: "no IPv4 address".into() })
}

/// The shm node name the endpoints of process `pid` register under.
pub fn sm_node_name(pid: u32) -> String {
    format!("mochi-{pid}")
}

/// The libfabric shm name, as `fi_getname` reports it (NUL included).
fn sm_fabric_name(pid: u32, domain: u32, index: u32) -> Vec<u8> {
    let mut v = format!("fi_shm://{}:{domain}:{index}", sm_node_name(pid)).into_bytes();
    v.push(0);
    v
}

/// Parses a peer's address string into its protocol and libfabric name.
pub fn parse_peer(addr: &str) -> Result<(Protocol, Vec<u8>), AddressError> {
    let (protocol, rest) = split(addr)?;
    let rest = rest.ok_or_else(|| malformed(addr, "no endpoint after the protocol"))?;
    match protocol {
        Protocol::Sm => {
            // `<pid>-<n>` (upstream's current spelling) or `<pid>/<n>` (older docs).
            let (pid, n) = rest.split_once(['-', '/']).ok_or_else(|| malformed(addr, "expected na+sm://<pid>-<id>"))?;
            let pid: u32 = pid.parse().map_err(|_| malformed(addr, "process id is not a number"))?;
            let (n, domain) = n.split_once('.').unwrap_or((n, "0"));
            let n: u32 = n.parse().map_err(|_| malformed(addr, "endpoint id is not a number"))?;
            let domain: u32 = domain.parse().map_err(|_| malformed(addr, "domain id is not a number"))?;
            Ok((protocol, sm_fabric_name(pid, domain, n)))
        }
        Protocol::Tcp => {
            let sa = resolve_v4(addr, rest, false)?;
            if sa.port() == 0 {
                return Err(malformed(addr, "port 0 cannot be contacted"));
            }
            if sa.ip().is_unspecified() {
                return Err(malformed(addr, "0.0.0.0 cannot be contacted"));
            }
            Ok((protocol, sockaddr_in_bytes(sa)))
        }
    }
}

/// Formats a libfabric name as the address string users see.
pub fn format_name(protocol: Protocol, name: &[u8]) -> Option<String> {
    match protocol {
        Protocol::Sm => {
            let text = std::str::from_utf8(name).ok()?.trim_end_matches('\0');
            let rest = text.strip_prefix("fi_shm://mochi-")?;
            let mut parts = rest.split(':');
            let pid: u32 = parts.next()?.parse().ok()?;
            let domain: u32 = parts.next()?.parse().ok()?;
            let index: u32 = parts.next()?.parse().ok()?;
            if parts.next().is_some() {
                return None;
            }
            Some(match domain {
                0 => format!("na+sm://{pid}-{index}"),
                d => format!("na+sm://{pid}-{index}.{d}"),
            })
        }
        Protocol::Tcp => {
            let sa = sockaddr_in_from_bytes(name)?;
            Some(format!("ofi+tcp://{}:{}", sa.ip(), sa.port()))
        }
    }
}

/// `struct sockaddr_in` as the tcp provider wants it (family in host order,
/// port and address in network order, 8 bytes of zero padding).
fn sockaddr_in_bytes(sa: SocketAddrV4) -> Vec<u8> {
    let mut v = Vec::with_capacity(16);
    v.extend_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
    v.extend_from_slice(&sa.port().to_be_bytes());
    v.extend_from_slice(&sa.ip().octets());
    v.extend_from_slice(&[0u8; 8]);
    v
}

/// The region (`mochi-<pid>:<n>:<m>`) and owner pid of a shm libfabric
/// name (`fi_shm://<region>`, NUL-terminated) that one of our endpoints
/// published; `None` for other names.
pub fn shm_region_and_pid(name: &[u8]) -> Option<(&str, i32)> {
    let region = std::str::from_utf8(name).ok()?.trim_end_matches('\0').strip_prefix("fi_shm://")?;
    let pid: i32 = region.strip_prefix("mochi-")?.split(':').next()?.parse().ok()?;
    (pid > 0 && !region.contains('/')).then_some((region, pid))
}

/// The socket address in a tcp peer's libfabric name.
pub fn tcp_socket_addr(name: &[u8]) -> Option<SocketAddrV4> {
    sockaddr_in_from_bytes(name)
}

fn sockaddr_in_from_bytes(b: &[u8]) -> Option<SocketAddrV4> {
    if b.len() != 16 || u16::from_ne_bytes([b[0], b[1]]) != libc::AF_INET as u16 {
        return None;
    }
    let port = u16::from_be_bytes([b[2], b[3]]);
    Some(SocketAddrV4::new(Ipv4Addr::new(b[4], b[5], b[6], b[7]), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_forms() {
        assert_eq!(parse_listen("na+sm").unwrap().protocol, Protocol::Sm);
        assert_eq!(parse_listen("na+sm://").unwrap().protocol, Protocol::Sm);
        let t = parse_listen("ofi+tcp").unwrap();
        assert_eq!(t.tcp_bind, Some("127.0.0.1:0".parse().unwrap()));
        let t = parse_listen("ofi+tcp;ofi_rxm://127.0.0.1:1234").unwrap();
        assert_eq!(t.tcp_bind, Some("127.0.0.1:1234".parse().unwrap()));
        let t = parse_listen("tcp://localhost").unwrap();
        assert_eq!(t.protocol, Protocol::Tcp);
        assert_eq!(parse_listen(""), Err(AddressError::Empty));
        assert!(matches!(parse_listen("bmi+tcp"), Err(AddressError::UnknownProtocol(_))));
        assert!(matches!(parse_listen("ofi+tcp://127.0.0.1:99999"), Err(AddressError::Malformed { .. })));
    }

    #[test]
    fn peer_round_trip() {
        let (p, name) = parse_peer("na+sm://1234-5").unwrap();
        assert_eq!(p, Protocol::Sm);
        assert_eq!(format_name(p, &name).unwrap(), "na+sm://1234-5");
        assert_eq!(parse_peer("na+sm://1234/5").unwrap().1, name);
        let (p, name) = parse_peer("na+sm://1234-5.2").unwrap();
        assert_eq!(format_name(p, &name).unwrap(), "na+sm://1234-5.2");
        let (p, name) = parse_peer("ofi+tcp://127.0.0.1:4242").unwrap();
        assert_eq!(name.len(), 16);
        assert_eq!(format_name(p, &name).unwrap(), "ofi+tcp://127.0.0.1:4242");
    }

    #[test]
    fn bad_peers() {
        for bad in [
            "na+sm://garbage",
            "na+sm://",
            "na+sm",
            "ofi+tcp://127.0.0.1",
            "ofi+tcp://:12",
            "ofi+tcp://127.0.0.1:0",
            "",
            "   ",
            "foo://bar",
            "ofi+tcp://[::1]:80",
        ] {
            assert!(parse_peer(bad).is_err(), "{bad} should be rejected");
        }
        assert!(matches!(parse_peer("ofi+tcp://nohost.invalid:99999"), Err(AddressError::Malformed { .. })));
    }
}
