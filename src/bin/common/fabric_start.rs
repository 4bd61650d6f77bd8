//! Fast libfabric start-up for our own executables.
//!
//! When libfabric 1.17 initializes (its first `fi_getinfo`, `fi_fabric` or
//! `fi_getparams` in a process) it runs the start-up function of every
//! provider built into it, whichever provider the program will use. The
//! verbs provider's start-up reads the whole of `/proc/kallsyms`, twice, to
//! learn whether the kernel can register peer memory and dma-buf memory. On
//! the development VM the two reads cost 110 ms of kernel time in a quiet
//! process, over 300 ms when several start at once: most of a Bedrock
//! daemon's start-up above libfabric's own. Our engine only opens the shm and
//! tcp providers, for which those answers mean nothing.
//!
//! So each executable of ours defines `fopen` (exported to the dynamic symbol
//! table by build.rs, so it takes precedence over libc's for every library in
//! the process) and, only while [`init_libfabric`] runs, answers an open of
//! `/proc/kallsyms` with ENOENT: the verbs provider then records "no kernel
//! support", exactly as it does on a kernel that hides that file. Every other
//! open, and every open after initialization, goes to libc untouched. This is
//! never done inside `libmochi.so` itself: a library must not interpose libc
//! for the programs that link it.
//!
//! `MOCHI_FABRIC_KALLSYMS_SCAN=1` keeps libfabric's scan (for a process that
//! also loads a module using the verbs provider with dma-buf memory).

use std::ffi::{c_char, c_int, c_void, CStr};
use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};

type FopenFn = unsafe extern "C" fn(*const c_char, *const c_char) -> *mut libc::FILE;

/// True only while libfabric initializes.
static HIDE_KALLSYMS: AtomicBool = AtomicBool::new(false);
static LIBC_FOPEN: AtomicPtr<c_void> = AtomicPtr::new(std::ptr::null_mut());

const KALLSYMS: &[u8] = b"/proc/kallsyms";

fn libc_fopen() -> Option<FopenFn> {
    let mut f = LIBC_FOPEN.load(Ordering::Acquire);
    if f.is_null() {
        // SAFETY: dlsym with a constant name; RTLD_NEXT skips this executable,
        // so the answer is libc's fopen.
        f = unsafe { libc::dlsym(libc::RTLD_NEXT, c"fopen".as_ptr()) };
        LIBC_FOPEN.store(f, Ordering::Release);
    }
    if f.is_null() {
        None
    } else {
        // SAFETY: the symbol named fopen in libc has this signature.
        Some(unsafe { std::mem::transmute::<*mut c_void, FopenFn>(f) })
    }
}

/// The process-wide `fopen` (see the module comment).
///
/// # Safety
/// Same contract as libc's `fopen`.
#[no_mangle]
pub unsafe extern "C" fn fopen(path: *const c_char, mode: *const c_char) -> *mut libc::FILE {
    // SAFETY: non-NULL, and NUL-terminated by fopen's contract.
    if HIDE_KALLSYMS.load(Ordering::Acquire) && !path.is_null() && unsafe { CStr::from_ptr(path) }.to_bytes() == KALLSYMS {
        // SAFETY: errno is this thread's; writing it is what fopen does on failure.
        unsafe { *libc::__errno_location() = libc::ENOENT };
        return std::ptr::null_mut();
    }
    match libc_fopen() {
        // SAFETY: libc's fopen, with the caller's arguments under its contract.
        Some(real) => unsafe { real(path, mode) },
        None => {
            // SAFETY: errno is this thread's, as above.
            unsafe { *libc::__errno_location() = libc::ENOSYS };
            std::ptr::null_mut()
        }
    }
}

type GetParamsFn = unsafe extern "C" fn(*mut *mut c_void, *mut c_int) -> c_int;
type FreeParamsFn = unsafe extern "C" fn(*mut c_void);

/// Initializes libfabric (already loaded into the process, linked or through
/// `dlopen(RTLD_GLOBAL)`) without the kernel-symbol scan. Later libfabric
/// calls find it initialized. Does nothing if libfabric is not loaded.
pub fn init_libfabric() {
    if std::env::var_os("MOCHI_FABRIC_KALLSYMS_SCAN").is_some_and(|v| v == "1") {
        return;
    }
    // Resolve libc's fopen before hiding anything, so the first call through
    // the interposer does not itself need a lookup.
    let _ = libc_fopen();
    // SAFETY: dlsym with constant names; fi_getparams/fi_freeparams have
    // these signatures in every libfabric 1.x.
    unsafe {
        let get = libc::dlsym(libc::RTLD_DEFAULT, c"fi_getparams".as_ptr());
        let free = libc::dlsym(libc::RTLD_DEFAULT, c"fi_freeparams".as_ptr());
        if get.is_null() || free.is_null() {
            return;
        }
        let get = std::mem::transmute::<*mut c_void, GetParamsFn>(get);
        let free = std::mem::transmute::<*mut c_void, FreeParamsFn>(free);
        HIDE_KALLSYMS.store(true, Ordering::Release);
        let mut params = std::ptr::null_mut();
        let mut count = 0;
        if get(&mut params, &mut count) == 0 && !params.is_null() {
            free(params);
        }
        HIDE_KALLSYMS.store(false, Ordering::Release);
    }
}
