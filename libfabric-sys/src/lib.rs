//! Raw bindings to the in-tree libfabric shim (`shim/shim.h`).
//!
//! The shim owns every libfabric object behind one opaque endpoint pointer, so
//! the Rust side never depends on libfabric's struct layouts.
#![allow(non_camel_case_types)]

use std::os::raw::{c_char, c_int, c_void};

/// Opaque endpoint: fabric, domain, completion queue, address vector, endpoint.
#[repr(C)]
pub struct fis_endpoint {
    _private: [u8; 0],
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct fis_completion {
    pub context: *mut c_void,
    pub flags: u64,
    pub len: usize,
}

impl Default for fis_completion {
    fn default() -> Self {
        fis_completion { context: std::ptr::null_mut(), flags: 0, len: 0 }
    }
}

#[repr(C)]
pub struct fis_error {
    pub context: *mut c_void,
    pub err: c_int,
    pub prov_errno: c_int,
    pub message: [c_char; 160],
}

pub const FIS_FLAG_SEND: u64 = 1;
pub const FIS_FLAG_RECV: u64 = 2;

/// libfabric error numbers (checked against the installed header by the shim).
pub const FI_EAGAIN: i64 = 11;
pub const FI_EAVAIL: i64 = 259;

extern "C" {
    pub fn fis_open(
        provider: *const c_char,
        node: *const c_char,
        service: *const c_char,
        want_wait_fd: c_int,
        out: *mut *mut fis_endpoint,
        errbuf: *mut c_char,
        errlen: usize,
    ) -> c_int;
    pub fn fis_close(ep: *mut fis_endpoint);
    pub fn fis_max_msg_size(ep: *const fis_endpoint) -> usize;
    pub fn fis_getname(ep: *mut fis_endpoint, buf: *mut c_void, len: *mut usize) -> c_int;
    pub fn fis_av_insert(ep: *mut fis_endpoint, name: *const c_void, fi_addr: *mut u64) -> c_int;
    pub fn fis_av_remove(ep: *mut fis_endpoint, fi_addr: u64) -> c_int;
    pub fn fis_send(ep: *mut fis_endpoint, buf: *const c_void, len: usize, dest: u64, context: *mut c_void) -> isize;
    pub fn fis_inject(ep: *mut fis_endpoint, buf: *const c_void, len: usize, dest: u64) -> isize;
    pub fn fis_inject_size(ep: *const fis_endpoint) -> usize;
    pub fn fis_recv(ep: *mut fis_endpoint, buf: *mut c_void, len: usize, context: *mut c_void) -> isize;
    pub fn fis_cq_read(ep: *mut fis_endpoint, out: *mut fis_completion, count: usize) -> isize;
    pub fn fis_cq_readerr(ep: *mut fis_endpoint, out: *mut fis_error) -> c_int;
    pub fn fis_wait_fd(ep: *mut fis_endpoint) -> c_int;
    pub fn fis_trywait(ep: *mut fis_endpoint) -> c_int;
    pub fn fis_strerror(err: c_int) -> *const c_char;
}
