//! A read-only look at the header of a shm peer's libfabric region, to
//! tell whether the peer died holding its region's lock.
//!
//! libfabric 1.17's shm provider guards each region with a process-shared
//! spin lock (`pthread_spin_lock`, no owner, no timeout). A sender takes
//! the receiver's lock to queue a message, and the receiver takes its own
//! to read its queue. A process SIGKILLed inside such a section leaves its
//! lock taken forever, and the next `fi_inject` to it spins forever inside
//! libfabric, with our endpoint lock held: the whole engine would stop at
//! 100 % of a core. Before posting to a peer whose lock reads as taken,
//! the transport asks whether the peer's process still exists; if not, it
//! fails the message as sent to a dead peer and never calls libfabric.
//!
//! (What this cannot catch: a live peer whose lock was left taken by a
//! *third* process killed while sending to it. That peer stops, and so
//! would anyone sending to it; the window is the few hundred nanoseconds
//! of one send. Nor a send that starts in the microseconds between the
//! SIGKILL and the end of the process.)
//!
//! The header layout is libfabric's `struct smr_region` of region version
//! 4 (libfabric 1.17). A region of another version is not looked at.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicI32, Ordering};

/// `SMR_VERSION` of the layout below.
const REGION_VERSION: u8 = 4;
/// Bytes mapped: the header lies in the first page.
const HEADER_MAP: usize = 4096;
/// Offsets in `struct smr_region` (version 4): `u8 version`, `u8 resv`,
/// `u16 flags`, `int pid`, two `u8` CMA flags, `u32 max_sar_buf_per_peer`,
/// `void *base_addr`, then `pthread_spinlock_t lock`.
const PID_OFFSET: usize = 4;
const LOCK_OFFSET: usize = 24;
/// The value of a free `pthread_spinlock_t`: glibc's x86 lock counts down
/// from 1; its generic one sets 1 to take a lock initialized to 0.
#[cfg(any(target_arch = "x86_64", target_arch = "x86"))]
const UNLOCKED: i32 = 1;
#[cfg(not(any(target_arch = "x86_64", target_arch = "x86")))]
const UNLOCKED: i32 = 0;

/// The first page of a peer's region, mapped read-only.
pub struct RegionHeader {
    base: *const u8,
    pid: i32,
}

// SAFETY: the mapping is read only through an atomic load (the lock word)
// and a plain read done once at open; the pointer stays valid until Drop.
unsafe impl Send for RegionHeader {}
// SAFETY: as above.
unsafe impl Sync for RegionHeader {}

impl RegionHeader {
    /// Maps the header of the region of the peer named `name` (its
    /// libfabric shm name, `fi_shm://<region>`). `None` when it cannot be
    /// looked at: no such file, too short, or not a version-4 region.
    pub fn open(name: &[u8]) -> Option<RegionHeader> {
        let region = std::str::from_utf8(name).ok()?.trim_end_matches('\0').strip_prefix("fi_shm://")?;
        if region.is_empty() || region.contains('/') {
            return None;
        }
        let path = CString::new(format!("/dev/shm/{region}")).ok()?;
        // SAFETY: path is NUL-terminated; the fd is checked, then owned.
        let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NOFOLLOW) };
        if fd < 0 {
            return None;
        }
        // SAFETY: fd is a fresh descriptor nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let file = std::fs::File::from(fd);
        // A shorter file would fault when its page is touched.
        if file.metadata().ok()?.len() < HEADER_MAP as u64 {
            return None;
        }
        // SAFETY: a fresh read-only shared mapping of a file at least
        // HEADER_MAP bytes long; checked before use.
        let ptr = unsafe { libc::mmap(std::ptr::null_mut(), HEADER_MAP, libc::PROT_READ, libc::MAP_SHARED, file.as_raw_fd(), 0) };
        if ptr == libc::MAP_FAILED {
            return None;
        }
        let mut header = RegionHeader { base: ptr as *const u8, pid: 0 };
        // SAFETY: offsets 0 and PID_OFFSET..+4 lie in the mapped page; the
        // owner wrote them before publishing its name, and never changes them.
        let (version, pid) = unsafe { (*header.base, std::ptr::read_unaligned(header.base.add(PID_OFFSET) as *const i32)) };
        if version != REGION_VERSION || pid <= 0 {
            return None; // (header dropped: unmapped)
        }
        header.pid = pid;
        Some(header)
    }

    /// True if the region's lock is taken and its process has exited:
    /// nobody will ever free it. (A taken lock with a live owner is an
    /// ordinary, short section.)
    pub fn owner_died_holding_lock(&self) -> bool {
        // SAFETY: LOCK_OFFSET is 4-aligned in a page-aligned mapping that
        // lives as long as self; other processes change the word only with
        // atomic instructions.
        let lock = unsafe { &*(self.base.add(LOCK_OFFSET) as *const AtomicI32) };
        if lock.load(Ordering::Relaxed) == UNLOCKED {
            return false;
        }
        process_ended(self.pid)
    }
}

/// True if process `pid` no longer runs: it does not exist, or it is a
/// zombie (exited, not yet reaped by its parent).
fn process_ended(pid: i32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    if unsafe { libc::kill(pid, 0) } != 0 {
        return std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
    }
    // "pid (comm) S ...": the state follows the last ')'.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| stat.rsplit_once(')').map(|(_, rest)| rest.trim_start().starts_with(['Z', 'X'])))
        .unwrap_or(false)
}

impl Drop for RegionHeader {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly what open mapped, once.
        unsafe { libc::munmap(self.base as *mut libc::c_void, HEADER_MAP) };
    }
}
