//! One libfabric reliable-datagram endpoint (through the in-tree shim).
//!
//! `Endpoint` is `Send` but not `Sync`: the RPC layer keeps it behind a mutex
//! and whoever holds the mutex drives progress. Buffers passed to `post_send`
//! and `post_recv` must stay valid until their completion is read; the RPC
//! layer guarantees that by owning them in slabs keyed by the context value.

use super::address::{format_name, sm_node_name, ListenSpec, Protocol};
use super::doorbell::Doorbell;
use libfabric_sys as sys;
use std::ffi::{CStr, CString};
use std::os::raw::{c_char, c_void};

#[derive(thiserror::Error, Debug, Clone)]
pub enum FabricError {
    #[error("could not open a libfabric {provider} endpoint: {detail}")]
    Open { provider: &'static str, detail: String },
    #[error("libfabric {call} failed: {detail} ({code})")]
    Call { call: &'static str, code: i64, detail: String },
}

fn strerror(code: i64) -> String {
    // SAFETY: fis_strerror returns a static NUL-terminated string.
    unsafe { CStr::from_ptr(sys::fis_strerror(code as i32)).to_string_lossy().into_owned() }
}

fn call_error(call: &'static str, code: i64) -> FabricError {
    FabricError::Call { call, code, detail: strerror(code) }
}

/// Outcome of posting an operation.
#[derive(Debug, PartialEq, Eq)]
pub enum Post {
    Done,
    /// Resources are busy: progress the completion queue and retry.
    Again,
}

/// A completion read from the queue.
#[derive(Clone, Copy, Debug)]
pub struct Completion {
    pub context: usize,
    pub is_recv: bool,
    pub len: usize,
}

/// An operation that failed; `context` names it.
#[derive(Clone, Debug)]
pub struct CompletionError {
    pub context: usize,
    pub message: String,
}

pub struct Endpoint {
    raw: *mut sys::fis_endpoint,
    protocol: Protocol,
    name: Vec<u8>,
    address: String,
    wait_fd: Option<i32>,
    /// Largest message `inject` takes (0 for none).
    inject_size: usize,
    /// How peers wake us (shm only; tcp has `wait_fd`).
    doorbell: Option<std::sync::Arc<Doorbell>>,
}

// SAFETY: the libfabric objects are opened with FI_THREAD_DOMAIN and only ever
// used by one thread at a time (the RPC layer's mutex); moving that exclusive
// use between threads is allowed.
unsafe impl Send for Endpoint {}

// Over tcp we prefer rxm's per-connection receive queues
// (FI_OFI_RXM_USE_SRX=0): src/ffi/init.rs sets that at load time, before any
// thread exists, instead of here (64 B echo median 47 µs instead of 66 µs,
// 1 MiB echo 1.0 instead of 0.75 GB/s, no 64 MiB pre-filled shared queue).

impl Endpoint {
    pub fn open(spec: &ListenSpec) -> Result<Endpoint, FabricError> {
        match spec.protocol {
            Protocol::Sm => {
                super::shm_sweep::start_once();
                // A killed process leaves its shm region behind; if its pid
                // came back to us, the provider's next endpoint index skips
                // the stale name.
                let node = sm_node_name(std::process::id());
                let mut last = None;
                for _ in 0..8 {
                    match Self::open_raw(Protocol::Sm, Some(&node), None, false) {
                        Ok(mut ep) => {
                            let region = std::str::from_utf8(&ep.name)
                                .ok()
                                .and_then(|n| n.trim_end_matches('\0').strip_prefix("fi_shm://"))
                                .map(str::to_string)
                                .ok_or_else(|| FabricError::Open { provider: "shm", detail: "unexpected shm name".into() })?;
                            let bell = Doorbell::create(&region).map_err(|e| FabricError::Open {
                                provider: "shm",
                                detail: format!("cannot create the doorbell of {region}: {e}"),
                            })?;
                            ep.doorbell = Some(std::sync::Arc::new(bell));
                            return Ok(ep);
                        }
                        Err(e) => last = Some(e),
                    }
                }
                Err(last.expect("at least one attempt"))
            }
            Protocol::Tcp => {
                let bind = spec.tcp_bind.expect("tcp listen spec carries a bind address");
                let port = bind.port().to_string();
                Self::open_raw(Protocol::Tcp, Some(&bind.ip().to_string()), Some(&port), true)
            }
        }
    }

    fn open_raw(protocol: Protocol, node: Option<&str>, service: Option<&str>, wait_fd: bool) -> Result<Endpoint, FabricError> {
        let provider = protocol.provider();
        let open_err = |detail: String| FabricError::Open { provider, detail };
        let c_prov = CString::new(provider).expect("static provider name");
        let c_node = node.map(|n| CString::new(n).map_err(|_| open_err("NUL in node".into()))).transpose()?;
        let c_service = service.map(|s| CString::new(s).map_err(|_| open_err("NUL in service".into()))).transpose()?;
        let mut raw = std::ptr::null_mut();
        let mut errbuf = [0 as c_char; 256];
        // SAFETY: all pointers are valid for the call; errbuf's length is passed.
        let rc = unsafe {
            sys::fis_open(
                c_prov.as_ptr(),
                c_node.as_ref().map_or(std::ptr::null(), |c| c.as_ptr()),
                c_service.as_ref().map_or(std::ptr::null(), |c| c.as_ptr()),
                wait_fd as i32,
                &mut raw,
                errbuf.as_mut_ptr(),
                errbuf.len(),
            )
        };
        if rc != 0 || raw.is_null() {
            // SAFETY: the shim always NUL-terminates errbuf.
            let detail = unsafe { CStr::from_ptr(errbuf.as_ptr()) }.to_string_lossy().into_owned();
            return Err(open_err(detail));
        }
        let mut ep =
            Endpoint { raw, protocol, name: Vec::new(), address: String::new(), wait_fd: None, inject_size: 0, doorbell: None };
        let mut buf = vec![0u8; 256];
        let mut len = buf.len();
        // SAFETY: buf is writable for len bytes.
        let rc = unsafe { sys::fis_getname(raw, buf.as_mut_ptr() as *mut c_void, &mut len) };
        if rc != 0 {
            return Err(call_error("fi_getname", rc as i64));
        }
        buf.truncate(len);
        ep.address = format_name(protocol, &buf)
            .ok_or_else(|| open_err(format!("unexpected endpoint name {:?}", String::from_utf8_lossy(&buf))))?;
        ep.name = buf;
        // SAFETY: raw is a live endpoint.
        ep.inject_size = unsafe { sys::fis_inject_size(raw) };
        if wait_fd {
            // SAFETY: raw is a live endpoint.
            let fd = unsafe { sys::fis_wait_fd(raw) };
            ep.wait_fd = (fd >= 0).then_some(fd);
        }
        Ok(ep)
    }

    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// Our libfabric name (opaque bytes that peers insert in their AV).
    pub fn name(&self) -> &[u8] {
        &self.name
    }

    /// Our address as users see it.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// A file descriptor that becomes readable when completions arrive, if the
    /// provider has one (tcp does, shm does not).
    pub fn wait_fd(&self) -> Option<i32> {
        self.wait_fd
    }

    /// The doorbell peers ring after posting to us (shm endpoints).
    pub fn doorbell(&self) -> Option<std::sync::Arc<Doorbell>> {
        self.doorbell.clone()
    }

    pub fn av_insert(&mut self, name: &[u8]) -> Result<u64, FabricError> {
        let mut fi_addr = 0u64;
        // SAFETY: name is readable; the provider copies what it needs.
        let rc = unsafe { sys::fis_av_insert(self.raw, name.as_ptr() as *const c_void, &mut fi_addr) };
        if rc != 0 {
            return Err(call_error("fi_av_insert", rc as i64));
        }
        Ok(fi_addr)
    }

    pub fn av_remove(&mut self, fi_addr: u64) {
        // SAFETY: raw is live; removing an unknown address only returns an error.
        unsafe { sys::fis_av_remove(self.raw, fi_addr) };
    }

    /// Posts a send of `len` bytes at `buf`.
    ///
    /// # Safety
    /// `buf..buf+len` must stay valid and unchanged until the completion
    /// carrying `context` has been read.
    // The body is the rewrite's (src/fabric is the lead's): the lint is
    // allowed here rather than the call wrapped.
    #[allow(unsafe_op_in_unsafe_fn)]
    pub unsafe fn post_send(&mut self, buf: *const u8, len: usize, dest: u64, context: usize) -> Result<Post, FabricError> {
        // SAFETY: raw is our live endpoint; the buffer stays valid until its
        // completion (this function's contract); `context` is only echoed back.
        let rc = sys::fis_send(self.raw, buf as *const c_void, len, dest, context as *mut c_void);
        match rc as i64 {
            0 => Ok(Post::Done),
            x if x == -sys::FI_EAGAIN => Ok(Post::Again),
            x => Err(call_error("fi_send", x)),
        }
    }

    /// Largest message [`Endpoint::inject`] takes (0: use `post_send`).
    ///
    /// An injected message costs no send completion: over tcp that saves
    /// a write to the completion queue's wait fd, most of what a small
    /// message costs; over shm (4 KiB) the message is copied into the
    /// peer's region at once, so it never waits on the peer's progress.
    pub fn inject_size(&self) -> usize {
        self.inject_size
    }

    /// Sends `buf` (at most [`Endpoint::inject_size`] bytes), which may be
    /// reused as soon as this returns; no completion is reported.
    pub fn inject(&mut self, buf: &[u8], dest: u64) -> Result<Post, FabricError> {
        if buf.len() > self.inject_size {
            return Err(FabricError::Call {
                call: "fi_inject",
                code: -(libc::EMSGSIZE as i64),
                detail: format!("{} bytes is more than the endpoint's inject size of {}", buf.len(), self.inject_size),
            });
        }
        // SAFETY: raw is our live endpoint; the provider copies `buf`
        // before returning (that is what inject means).
        let rc = unsafe { sys::fis_inject(self.raw, buf.as_ptr() as *const c_void, buf.len(), dest) };
        match rc as i64 {
            0 => Ok(Post::Done),
            x if x == -sys::FI_EAGAIN => Ok(Post::Again),
            x => Err(call_error("fi_inject", x)),
        }
    }

    /// Posts a receive into `buf`.
    ///
    /// # Safety
    /// `buf..buf+len` must stay valid and untouched until the completion
    /// carrying `context` has been read (or the endpoint is closed).
    // The body is the rewrite's (src/fabric is the lead's): the lint is
    // allowed here rather than the call wrapped.
    #[allow(unsafe_op_in_unsafe_fn)]
    pub unsafe fn post_recv(&mut self, buf: *mut u8, len: usize, context: usize) -> Result<Post, FabricError> {
        // SAFETY: raw is our live endpoint; the buffer stays valid and
        // untouched until its completion (this function's contract).
        let rc = sys::fis_recv(self.raw, buf as *mut c_void, len, context as *mut c_void);
        match rc as i64 {
            0 => Ok(Post::Done),
            x if x == -sys::FI_EAGAIN => Ok(Post::Again),
            x => Err(call_error("fi_recv", x)),
        }
    }

    /// Reads up to `out.len()` completions; drives the provider's progress.
    /// A failed operation is returned as `Err` (one per call).
    pub fn poll(&mut self, out: &mut Vec<Completion>) -> Result<usize, CompletionError> {
        let mut entries = [sys::fis_completion::default(); 64];
        // SAFETY: entries is writable for 64 entries.
        let n = unsafe { sys::fis_cq_read(self.raw, entries.as_mut_ptr(), entries.len()) };
        if n > 0 {
            for e in &entries[..n as usize] {
                out.push(Completion { context: e.context as usize, is_recv: e.flags & sys::FIS_FLAG_RECV != 0, len: e.len });
            }
            return Ok(n as usize);
        }
        if n as i64 == -sys::FI_EAVAIL {
            let mut err = sys::fis_error { context: std::ptr::null_mut(), err: 0, prov_errno: 0, message: [0; 160] };
            // SAFETY: err is a valid out-parameter.
            let rc = unsafe { sys::fis_cq_readerr(self.raw, &mut err) };
            if rc == 1 {
                // SAFETY: the shim NUL-terminates message.
                let text = unsafe { CStr::from_ptr(err.message.as_ptr()) }.to_string_lossy().into_owned();
                return Err(CompletionError {
                    context: err.context as usize,
                    message: format!("{} ({})", text, strerror(err.err as i64)),
                });
            }
        }
        Ok(0)
    }

    /// True when it is safe to block on `wait_fd` (no completion pending).
    pub fn try_wait(&mut self) -> bool {
        // SAFETY: raw is live.
        unsafe { sys::fis_trywait(self.raw) == 0 }
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        // No shm drive of this process may be inside libfabric while our
        // region goes away (see local_peers.rs).
        let _closing = (self.protocol == Protocol::Sm).then(|| super::local_peers::close_guard(&self.name));
        // SAFETY: raw came from fis_open and is closed exactly once.
        unsafe { sys::fis_close(self.raw) };
    }
}
