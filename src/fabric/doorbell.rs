//! Doorbells: how a process asleep on its shared-memory endpoint is woken.
//!
//! libfabric 1.17's shm provider has no wait object: a receiver notices a
//! message only by polling its completion queue. So each shm endpoint of
//! ours has a doorbell beside its region, a small file in /dev/shm
//! (`<region>.bell`) holding two words:
//!
//! * `sleepers`: how many threads of the owner are about to block or are
//!   blocked waiting for work;
//! * `seq`: a counter the owner blocks on with a process-shared futex.
//!
//! The protocol (the usual Dekker pair; both sides fence between their
//! store and their load, so at least one of them sees the other):
//!
//! * the owner, before it sleeps: `sleepers += 1`, reads `seq`, polls its
//!   endpoint once more, and only then blocks on `seq` (the futex returns at
//!   once if `seq` moved since it was read);
//! * a sender, after posting into the owner's region: reads `sleepers`, and
//!   only if someone sleeps bumps `seq` and wakes the futex.
//!
//! A busy receiver costs its senders one shared load per message; an idle
//! one costs nothing at all (no timer, no wake-up).
//!
//! The file is created under a temporary name and renamed into place once
//! it has its full size, so a peer never maps a short file (which would
//! fault). A peer keeps its mapping after the owner dies: ringing a dead
//! process's bell is harmless, and the shm sweep unlinks the file.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{fence, AtomicU32, Ordering};
use std::time::Duration;

const SHM_DIR: &str = "/dev/shm";
/// Suffix of a doorbell file beside its region.
pub const BELL_SUFFIX: &str = ".bell";
/// One page: the smallest mapping there is.
const BELL_FILE_SIZE: usize = 4096;

/// The shared words (at the start of the file).
#[repr(C)]
#[derive(Debug)]
pub struct BellWords {
    seq: AtomicU32,
    sleepers: AtomicU32,
    /// Threads of the owner polling its endpoint right now: while any is,
    /// a ring would only wake a sleeper for work the poller takes anyway.
    drivers: AtomicU32,
}

impl BellWords {
    /// Process-local words (for a waiter whose endpoint has no doorbell).
    pub fn new() -> BellWords {
        BellWords { seq: AtomicU32::new(0), sleepers: AtomicU32::new(0), drivers: AtomicU32::new(0) }
    }

    /// Threads announced as sleeping.
    pub fn sleepers(&self) -> u32 {
        self.sleepers.load(Ordering::SeqCst)
    }

    /// Announces a sleeper; returns the `seq` to block on. The caller must
    /// look for work once more before [`BellWords::block`], and call
    /// [`BellWords::retract`] afterwards in any case.
    pub fn announce(&self) -> u32 {
        self.sleepers.fetch_add(1, Ordering::SeqCst);
        self.seq.load(Ordering::SeqCst)
    }

    /// Withdraws an announcement (after waking, or instead of blocking).
    pub fn retract(&self) {
        self.sleepers.fetch_sub(1, Ordering::SeqCst);
    }

    /// Blocks until `seq` moves from `seen`, `timeout` passes (if any) or a
    /// spurious wake-up; the caller re-checks its work either way.
    pub fn block(&self, seen: u32, timeout: Option<Duration>) {
        futex_wait(&self.seq, seen, timeout);
    }

    /// Wakes the owner's sleepers, if there are any and no thread of the
    /// owner is polling. Call it after the work is visible (posted into the
    /// owner's region, pushed on its queue).
    pub fn ring(&self) {
        fence(Ordering::SeqCst);
        if self.sleepers.load(Ordering::SeqCst) > 0 && self.drivers.load(Ordering::SeqCst) == 0 {
            self.force();
        }
    }

    /// Wakes the owner's sleepers if there are any, polling threads or not
    /// (for work a poller would not take: a job for a sleeping stream).
    pub fn wake_sleepers(&self) {
        fence(Ordering::SeqCst);
        if self.sleepers.load(Ordering::SeqCst) > 0 {
            self.force();
        }
    }

    /// A thread starts polling the endpoint (rings are held back).
    pub fn enter_driving(&self) {
        self.drivers.fetch_add(1, Ordering::SeqCst);
    }

    /// The thread stops polling. It must poll once more afterwards: work
    /// that arrived while rings were held back is its to find.
    pub fn leave_driving(&self) {
        self.drivers.fetch_sub(1, Ordering::SeqCst);
    }

    /// Wakes every sleeper whether or not one announced itself (finalize).
    pub fn force(&self) {
        self.seq.fetch_add(1, Ordering::SeqCst);
        futex_wake(&self.seq);
    }
}

impl Default for BellWords {
    fn default() -> Self {
        Self::new()
    }
}

/// A mapped bell file.
struct Mapping {
    words: *const BellWords,
}

// SAFETY: the mapping is only read and written through atomics, which are
// safe to share between threads; the pointer stays valid until Drop.
unsafe impl Send for Mapping {}
// SAFETY: as above: all access is atomic.
unsafe impl Sync for Mapping {}

impl Mapping {
    fn new(fd: &OwnedFd) -> std::io::Result<Mapping> {
        // SAFETY: a fresh shared mapping of an fd we hold; the result is
        // checked before use.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                BELL_FILE_SIZE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Mapping { words: ptr as *const BellWords })
    }

    fn words(&self) -> &BellWords {
        // SAFETY: the mapping is page-aligned, at least BELL_FILE_SIZE bytes
        // long (checked or set before mapping) and lives as long as self.
        unsafe { &*self.words }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly what Mapping::new mapped, once.
        unsafe { libc::munmap(self.words as *mut libc::c_void, BELL_FILE_SIZE) };
    }
}

/// Our own endpoint's doorbell: created with the endpoint, unlinked when
/// it closes.
pub struct Doorbell {
    map: Mapping,
    path: PathBuf,
}

impl Doorbell {
    /// Creates the bell of the shm region `region` (a name like
    /// `mochi-<pid>:<domain>:<index>`).
    pub fn create(region: &str) -> std::io::Result<Doorbell> {
        Self::create_in(Path::new(SHM_DIR), region)
    }

    fn create_in(dir: &Path, region: &str) -> std::io::Result<Doorbell> {
        let path = dir.join(format!("{region}{BELL_SUFFIX}"));
        let temp = dir.join(format!(".{region}{BELL_SUFFIX}.{}", std::process::id()));
        let fd = open(&temp, libc::O_RDWR | libc::O_CREAT | libc::O_TRUNC)?;
        let made = (|| {
            // SAFETY: plain syscall on an fd we own.
            if unsafe { libc::ftruncate(fd.as_raw_fd(), BELL_FILE_SIZE as libc::off_t) } != 0 {
                return Err(std::io::Error::last_os_error());
            }
            let map = Mapping::new(&fd)?;
            std::fs::rename(&temp, &path)?;
            Ok(map)
        })();
        match made {
            Ok(map) => Ok(Doorbell { map, path }),
            Err(e) => {
                let _ = std::fs::remove_file(&temp);
                Err(e)
            }
        }
    }

    pub fn words(&self) -> &BellWords {
        self.map.words()
    }
}

impl Drop for Doorbell {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A peer's doorbell, mapped to ring it.
pub struct PeerBell {
    map: Mapping,
}

impl PeerBell {
    /// Maps the bell of the peer whose libfabric shm name is `name`
    /// (`fi_shm://<region>`, NUL-terminated). `None` if the peer has none:
    /// not one of ours, gone, or a file that is not a bell.
    pub fn open(name: &[u8]) -> Option<PeerBell> {
        let region = std::str::from_utf8(name).ok()?.trim_end_matches('\0').strip_prefix("fi_shm://")?;
        if region.is_empty() || region.contains('/') {
            return None;
        }
        Self::open_in(Path::new(SHM_DIR), region)
    }

    fn open_in(dir: &Path, region: &str) -> Option<PeerBell> {
        let fd = open(&dir.join(format!("{region}{BELL_SUFFIX}")), libc::O_RDWR).ok()?;
        // A file shorter than a bell would fault when touched.
        let file = std::fs::File::from(fd);
        if file.metadata().ok()?.len() < BELL_FILE_SIZE as u64 {
            return None;
        }
        let fd = OwnedFd::from(file);
        Some(PeerBell { map: Mapping::new(&fd).ok()? })
    }

    pub fn ring(&self) {
        self.map.words().ring();
    }
}

fn open(path: &Path, flags: i32) -> std::io::Result<OwnedFd> {
    let c = CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "NUL in a path"))?;
    // SAFETY: c is NUL-terminated; the returned fd is checked and owned.
    let fd = unsafe { libc::open(c.as_ptr(), flags | libc::O_CLOEXEC | libc::O_NOFOLLOW, 0o600) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh descriptor nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Blocks while `*word == expected` (process-shared futex).
pub fn futex_wait(word: &AtomicU32, expected: u32, timeout: Option<Duration>) {
    let ts = timeout.map(|t| libc::timespec {
        tv_sec: t.as_secs().min(i32::MAX as u64) as libc::time_t,
        tv_nsec: t.subsec_nanos() as libc::c_long,
    });
    let ts_ptr = ts.as_ref().map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: word is a valid, aligned u32 for the duration of the call;
    // FUTEX_WAIT only reads it. EINTR, EAGAIN and ETIMEDOUT all mean "look
    // again", which every caller does.
    unsafe {
        libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAIT, expected, ts_ptr, 0usize, 0u32);
    }
}

/// Wakes every thread blocked on `word` (in any process).
pub fn futex_wake(word: &AtomicU32) {
    // SAFETY: word is a valid, aligned u32; FUTEX_WAKE does not touch memory.
    unsafe {
        libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE, i32::MAX, 0usize, 0usize, 0u32);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Instant;

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("mochi-bell-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_ring_wakes_a_sleeper_and_a_quiet_bell_stays_quiet() {
        let dir = temp_dir("wake");
        let bell = Arc::new(Doorbell::create_in(&dir, "mochi-1:0:0").unwrap());
        let peer = PeerBell::open_in(&dir, "mochi-1:0:0").unwrap();
        // Nobody sleeps: a ring does not move seq.
        let before = bell.words().seq.load(Ordering::SeqCst);
        peer.ring();
        assert_eq!(bell.words().seq.load(Ordering::SeqCst), before);

        let sleeper = {
            let bell = bell.clone();
            std::thread::spawn(move || {
                let seen = bell.words().announce();
                let t = Instant::now();
                bell.words().block(seen, Some(Duration::from_secs(20)));
                bell.words().retract();
                t.elapsed()
            })
        };
        while bell.words().sleepers.load(Ordering::SeqCst) == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_millis(20));
        peer.ring();
        let slept = sleeper.join().unwrap();
        assert!(slept < Duration::from_secs(10), "woken by the ring, not the timeout: {slept:?}");
        drop(bell);
        assert!(!dir.join("mochi-1:0:0.bell").exists(), "the owner unlinks its bell");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn short_or_missing_files_are_not_bells() {
        let dir = temp_dir("short");
        assert!(PeerBell::open_in(&dir, "mochi-2:0:0").is_none());
        std::fs::write(dir.join("mochi-2:0:0.bell"), b"tiny").unwrap();
        assert!(PeerBell::open_in(&dir, "mochi-2:0:0").is_none());
        assert!(PeerBell::open(b"fi_shm://../etc/passwd\0").is_none());
        assert!(PeerBell::open(b"not-shm").is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
