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
//! **Answers go to the caller that waits for them.** One thread of the
//! owner that waits for the answer to its call may sleep on a word of its
//! own, `answers`, having claimed `leader`. A sender that posted an answer
//! (not a request) rings that word instead of `seq`: the caller wakes,
//! reads the answer itself, and the owner's driving stream sleeps on.
//! Through the stream, an answer costs two wake-ups in a row (the stream,
//! then the caller it hands the answer to), and on a VM whose idle cores
//! halt each is tens of microseconds. The leader reads whatever else it
//! finds (requests go to their pools, which ring the stream); after it
//! gives up `leader` it looks once more, since rings meant for it may have
//! come after its last look.
//!
//! **A closed endpoint says so.** libfabric's shm gives a peer no sign that
//! an endpoint closed while its process lives on (an MPI rank in
//! `MPI_Finalize`, an application that finalized Margo and computes on): a
//! request posted into its region is never read, and its caller would wait
//! out its whole timeout. So the owner sets `closed` once it stops taking
//! requests, then reads its endpoint once more (answering what came before
//! with "shutting down"), and before it closes bumps `peers_closed` in the
//! bell of every peer it knows and wakes them. A sender reads `closed` after
//! each request it posts (fenced, as above: either it sees the flag, or the
//! owner's last read sees its request), and a process whose `peers_closed`
//! moved looks at the bells of the peers its calls wait on; a call to a
//! closed endpoint fails at once.
//!
//! The file is created under a temporary name and renamed into place once
//! it has its full size, so a peer never maps a short file (which would
//! fault). A peer keeps its mapping after the owner dies: ringing a dead
//! process's bell is harmless, and the shm sweep unlinks the file.

use crate::futex;
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
    /// 1 while a caller of the owner sleeps on `answers` (at most one).
    leader: AtomicU32,
    /// A counter that caller blocks on; answers ring it.
    answers: AtomicU32,
    /// 1 once the owner takes no more requests (its endpoint is closing).
    closed: AtomicU32,
    /// Bumped by a peer of the owner that closed, before it wakes the owner.
    peers_closed: AtomicU32,
}

impl BellWords {
    /// Process-local words (for a waiter whose endpoint has no doorbell).
    pub fn new() -> BellWords {
        BellWords {
            seq: AtomicU32::new(0),
            sleepers: AtomicU32::new(0),
            drivers: AtomicU32::new(0),
            leader: AtomicU32::new(0),
            answers: AtomicU32::new(0),
            closed: AtomicU32::new(0),
            peers_closed: AtomicU32::new(0),
        }
    }

    /// The owner takes no more requests. Fenced: the owner's next read of
    /// its endpoint sees every request whose sender missed the flag.
    pub fn mark_closed(&self) {
        self.closed.store(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
    }

    /// True once the owner takes no more requests. A sender calls it after
    /// posting a request and ringing (which fences).
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst) != 0
    }

    /// How many times peers of the owner said they closed (see
    /// [`PeerBell::tell_closed`]).
    pub fn peers_closed(&self) -> u32 {
        self.peers_closed.load(Ordering::SeqCst)
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
        futex::wait(&self.seq, seen, timeout);
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

    /// Like [`BellWords::ring`] for an answer: wakes the caller asleep on
    /// `answers` if there is one, else the sleepers.
    pub fn ring_answer(&self) {
        fence(Ordering::SeqCst);
        if self.drivers.load(Ordering::SeqCst) > 0 {
            return;
        }
        if self.leader.load(Ordering::SeqCst) > 0 {
            self.wake_answers();
        } else if self.sleepers.load(Ordering::SeqCst) > 0 {
            self.force();
        }
    }

    /// Makes the calling thread the one caller that answers wake, if no
    /// other is: returns the `answers` to block on. The caller must look
    /// for its answer once more before [`BellWords::block_answers`], and
    /// [`BellWords::release_answers`] then look once more in any case.
    pub fn claim_answers(&self) -> Option<u32> {
        self.leader.compare_exchange(0, 1, Ordering::SeqCst, Ordering::SeqCst).ok()?;
        Some(self.answers.load(Ordering::SeqCst))
    }

    /// The `answers` to block on next (for the thread that claimed them).
    pub fn answers_seen(&self) -> u32 {
        self.answers.load(Ordering::SeqCst)
    }

    /// Blocks until `answers` moves from `seen`, `timeout` passes or a
    /// spurious wake-up.
    pub fn block_answers(&self, seen: u32, timeout: Option<Duration>) {
        futex::wait(&self.answers, seen, timeout);
    }

    /// Gives up `answers` (the caller has its answer, or gives up).
    pub fn release_answers(&self) {
        self.leader.store(0, Ordering::SeqCst);
    }

    /// Wakes the caller asleep on `answers` (its call is complete, or an
    /// answer came).
    pub fn wake_answers(&self) {
        self.answers.fetch_add(1, Ordering::SeqCst);
        futex::wake_all(&self.answers);
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

    /// Wakes the sleepers on `seq` whether or not one announced itself.
    pub fn force(&self) {
        self.seq.fetch_add(1, Ordering::SeqCst);
        futex::wake_all(&self.seq);
    }

    /// Wakes everyone: the sleepers and the caller on `answers` (finalize,
    /// a peer found gone).
    pub fn force_all(&self) {
        self.force();
        self.wake_answers();
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

    /// Rings for an answer (see [`BellWords::ring_answer`]).
    pub fn ring_answer(&self) {
        self.map.words().ring_answer();
    }

    /// True once this peer takes no more requests.
    pub fn is_closed(&self) -> bool {
        self.map.words().is_closed()
    }

    /// Tells this peer that we closed: its calls waiting on us fail at once
    /// rather than at their timeouts. Wakes it whether or not it polls.
    pub fn tell_closed(&self) {
        let words = self.map.words();
        words.peers_closed.fetch_add(1, Ordering::SeqCst);
        words.force_all();
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Instant;

    #[test]
    fn answers_ring_the_caller_that_claimed_them_and_nobody_else() {
        let w = BellWords::new();
        let (seq, answers) = (|| w.seq.load(Ordering::SeqCst), || w.answers.load(Ordering::SeqCst));
        // The stream sleeps; no caller waits apart: an answer wakes the stream.
        w.announce();
        w.ring_answer();
        assert_eq!((seq(), answers()), (1, 0));
        // A caller claims `answers`: answers go to it alone, requests still
        // to the stream; a second caller cannot claim.
        let seen = w.claim_answers().expect("free");
        assert!(w.claim_answers().is_none(), "one caller at a time");
        w.ring_answer();
        assert_eq!((seq(), answers()), (1, seen + 1));
        w.ring();
        assert_eq!((seq(), answers()), (2, seen + 1));
        // While a thread polls, nobody is rung.
        w.enter_driving();
        w.ring_answer();
        w.ring();
        assert_eq!((seq(), answers()), (2, seen + 1));
        w.leave_driving();
        // Finalize and gone peers wake both.
        w.force_all();
        assert_eq!((seq(), answers()), (3, seen + 2));
        w.release_answers();
        w.ring_answer();
        assert_eq!((seq(), answers()), (4, seen + 2), "released: answers go to the stream again");
        assert!(w.claim_answers().is_some());
    }

    #[test]
    fn a_caller_asleep_on_answers_wakes_when_rung() {
        let w = Arc::new(BellWords::new());
        let seen = w.claim_answers().unwrap();
        let sleeper = {
            let w = w.clone();
            std::thread::spawn(move || {
                let start = Instant::now();
                while w.answers_seen() == seen {
                    w.block_answers(seen, Some(Duration::from_secs(10)));
                }
                start.elapsed()
            })
        };
        std::thread::sleep(Duration::from_millis(20));
        w.ring_answer();
        let slept = sleeper.join().unwrap();
        assert!(slept < Duration::from_secs(5), "woken by the ring, not the timeout: {slept:?}");
    }

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
