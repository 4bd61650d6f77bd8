//! The transport layer: libfabric endpoints and the address strings users see.

pub mod address;
pub mod doorbell;
pub mod endpoint;
pub mod local_peers;
pub mod peer_watch;
pub mod reachability;
pub mod shm_region;
pub mod shm_sweep;

pub use address::{parse_listen, parse_peer, AddressError, ListenSpec, Protocol};
pub use doorbell::{BellWords, Doorbell, PeerBell};
pub use endpoint::{Completion, CompletionError, Endpoint, FabricError, Post};

/// A new epoll instance and a non-blocking eventfd (not yet watched).
pub(crate) fn epoll_and_eventfd() -> std::io::Result<(std::os::fd::OwnedFd, std::os::fd::OwnedFd)> {
    // SAFETY: plain syscalls; every returned fd is checked, then owned.
    unsafe {
        let ep = libc::epoll_create1(libc::EPOLL_CLOEXEC);
        if ep < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let ep = std::os::fd::FromRawFd::from_raw_fd(ep);
        let ev = libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK);
        if ev < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok((ep, std::os::fd::FromRawFd::from_raw_fd(ev)))
    }
}
