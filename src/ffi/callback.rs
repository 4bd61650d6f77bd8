//! A C callback and its argument (`void (*)(void*)` with a `void*`), as
//! the C API takes them for threads, timers and finalize callbacks, moved
//! to whichever thread runs them.

use std::ffi::c_void;

pub struct CCallback {
    func: unsafe extern "C" fn(*mut c_void),
    arg: *mut c_void,
}

// SAFETY: every entry point that takes a callback documents that it may
// run, with its argument, on another thread of the library (a pool's
// stream, the finalizing thread): the C caller hands both over.
unsafe impl Send for CCallback {}
// SAFETY: the same contract covers callbacks run more than once, possibly
// at the same time (a timer restarted while its last firing runs): C
// shares `arg` knowingly.
unsafe impl Sync for CCallback {}

impl CCallback {
    pub fn new(func: unsafe extern "C" fn(*mut c_void), arg: *mut c_void) -> CCallback {
        CCallback { func, arg }
    }

    /// The function and argument as two words (to be read back by
    /// [`CCallback::parts_from_words`]).
    pub fn words(&self) -> [usize; 2] {
        [self.func as usize, self.arg as usize]
    }

    /// The function and argument that [`CCallback::words`] gave.
    pub fn parts_from_words(words: [usize; 2]) -> (Option<unsafe extern "C" fn(*mut c_void)>, *mut c_void) {
        let func = (words[0] != 0).then(|| {
            // SAFETY: a non-zero word from `words` is the address of the
            // `unsafe extern "C" fn(*mut c_void)` it was made from.
            unsafe { std::mem::transmute::<usize, unsafe extern "C" fn(*mut c_void)>(words[0]) }
        });
        (func, words[1] as *mut c_void)
    }

    pub fn call(&self) {
        // SAFETY: a function and the argument the C caller gave with it,
        // for exactly these calls.
        unsafe { (self.func)(self.arg) }
    }
}
