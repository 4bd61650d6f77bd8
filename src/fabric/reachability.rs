//! Peers that certainly cannot be reached, told apart before their first
//! message. libfabric does not say so itself: its shm provider accepts
//! sends to a region whose process is gone and never completes them, and
//! its rxm layer retries a refused tcp connection silently, so such a call
//! would only fail at its timeout (a Bedrock join to a dead address: 10 s,
//! a bedrock-query: 30 s). Only certain evidence counts; anything else
//! (a slow network, a pid reused by another program) lets the call go on.
//! (A tcp peer that dies later, with calls in flight or messages queued to
//! it, is noticed by `peer_watch.rs`.)

use super::address::{format_name, shm_region_and_pid, tcp_socket_addr, Protocol};
use std::time::Duration;

/// Why the peer named `name` (its libfabric name) cannot be reached, or
/// `None` if it may be. Over tcp this makes one connection attempt,
/// bounded by `patience`, opened and closed at once (our listeners ignore
/// it).
pub fn certainly_unreachable(protocol: Protocol, name: &[u8], patience: Duration) -> Option<String> {
    match protocol {
        Protocol::Sm => shm_gone(name),
        Protocol::Tcp => tcp_refused(name, patience),
    }
}

/// A peer of ours over shm whose region does not exist, or whose process
/// has exited (its region left behind by SIGKILL).
fn shm_gone(name: &[u8]) -> Option<String> {
    let address = format_name(Protocol::Sm, name)?;
    let (region, pid) = shm_region_and_pid(name)?;
    if !std::path::Path::new("/dev/shm").join(region).exists() {
        return Some(format!(
            "nobody listens at {address}: its shared-memory endpoint does not exist (process exited or never started)"
        ));
    }
    // SAFETY: signal 0 only checks that the process exists.
    if unsafe { libc::kill(pid, 0) } != 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH) {
        return Some(format!("nobody listens at {address}: process {pid} has exited"));
    }
    None
}

/// A tcp peer whose port refuses connections.
fn tcp_refused(name: &[u8], patience: Duration) -> Option<String> {
    let sa = tcp_socket_addr(name)?;
    match std::net::TcpStream::connect_timeout(&std::net::SocketAddr::V4(sa), patience) {
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            Some(format!("nobody listens at ofi+tcp://{sa}: connection refused"))
        }
        _ => None,
    }
}
