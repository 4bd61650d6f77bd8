//! The kernel's futex: sleep while a 32-bit word holds a value, wake the
//! sleepers of a word. Used by the shm doorbells (words in shared memory)
//! and by Argobots' mutex and condition variable (`rpc/sync`).

use std::sync::atomic::AtomicU32;
use std::time::Duration;

/// Blocks while `*word == expected`, at most `timeout`. Returns on a wake,
/// a timeout, a signal, or at once if the word already differs: callers
/// look at the word again.
pub fn wait(word: &AtomicU32, expected: u32, timeout: Option<Duration>) {
    let ts = timeout.map(|t| libc::timespec {
        tv_sec: t.as_secs().min(i32::MAX as u64) as libc::time_t,
        tv_nsec: t.subsec_nanos() as libc::c_long,
    });
    let ts_ptr = ts.as_ref().map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: word is a valid, aligned u32 for the duration of the call;
    // FUTEX_WAIT only reads it (shared, not PRIVATE: the doorbells' words
    // are mapped by several processes). EINTR, EAGAIN and ETIMEDOUT all
    // mean "look again", which every caller does.
    unsafe {
        libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAIT, expected, ts_ptr, 0usize, 0u32);
    }
}

/// Wakes up to `count` threads blocked on `word` (in any process).
pub fn wake(word: &AtomicU32, count: i32) {
    // SAFETY: word is a valid, aligned u32; FUTEX_WAKE does not touch memory.
    unsafe {
        libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE, count, 0usize, 0usize, 0u32);
    }
}

/// Wakes every thread blocked on `word`.
pub fn wake_all(word: &AtomicU32) {
    wake(word, i32::MAX);
}
