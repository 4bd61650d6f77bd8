//! Learning at once that a peer has gone away (tcp and shm).
//!
//! libfabric 1.17's tcp path (`tcp;ofi_rxm`) never tells its user that a
//! peer died. A request already delivered to a peer that is then killed
//! waits for its timeout (rxm drops the reset connection silently), and a
//! message to a peer whose port refuses connections is refused with
//! `-FI_EAGAIN` while rxm starts a new connection attempt on every retry,
//! until the message's deadline (10 s for a shard call, 30 s for a
//! response): the sender retries on its back-off for all that time.
//!
//! A `PeerWatch` keeps one plain TCP connection open to the listening
//! address of each peer the engine waits on (or cannot send to), and one
//! thread blocked in `epoll_wait` on those connections. Our peers'
//! listeners (libfabric's tcp passive endpoints) accept such a connection
//! and wait for a connection request that never comes, as for the
//! connection probes of `reachability.rs`; they close it only when their
//! endpoint or process goes away. So the kernel wakes the thread when the
//! peer's process exits (its sockets are closed), and the verdict is only
//! ever certain evidence:
//!
//! * the connection to the peer's address is **refused**: nobody listens
//!   there (the process exited, or never started);
//! * the open connection is **closed** by the peer, and a new one is then
//!   refused. (If the new one is accepted, the peer lives: the watch goes on
//!   with it. A peer that closes watches every time is no longer watched.)
//!
//! Anything else (a connection attempt that hangs or fails otherwise, as
//! across a partition) gives no verdict: calls then end as before, by
//! their timeout. A verdict is queued for the transport, which fails the
//! calls waiting on that peer and drops the messages queued to it, and the
//! engine is woken (the waker set with [`WatchHandle::on_gone`]) so that it
//! drives at once. Nothing here polls: the thread blocks without a timeout
//! while every watch is fine, and an engine that calls nobody has no watch
//! and no thread. A watch that ends without a verdict (a hang-up or reset
//! while a SIGKILLed peer closes its sockets) lets its peer rest a while;
//! then, and only then, the thread wakes when the rest ends, so that the
//! engine asks again for the peers it must keep watching (an idle engine
//! would otherwise not drive, and never ask).
//!
//! Cost: per watched peer, one descriptor here and one at the peer (its
//! listener's pending connection), for as long as calls wait on it and
//! [`IDLE`] after; one connection set-up per peer, not per call.
//!
//! **shm.** libfabric's shm provider is no better: a message queued in the
//! region of a process that is then SIGKILLed is never answered, and sends
//! to its region go on succeeding. A shm peer of ours is a process whose pid
//! is in its name (`fi_shm://mochi-<pid>:…`), so its watch is a pidfd
//! (`pidfd_open`), which the kernel makes readable when that process exits:
//! certain evidence, at once, with no probe at the peer. A pid that no
//! longer exists when the watch starts is a verdict too. (A pid reused by
//! another program gives no verdict: calls end by their timeout.)

use super::address::{shm_region_and_pid, tcp_socket_addr};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::net::SocketAddrV4;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// A peer whose last watch ended without a verdict is not watched again
/// before this (a hanging or failing connection attempt is not retried on
/// every send).
const REST: Duration = Duration::from_secs(1);
/// A watch not asked for during this long, with no call waiting on its
/// peer, is closed.
pub const IDLE: Duration = Duration::from_secs(30);
/// A peer that closes a live watch again within this long of the last
/// time is not watched any more (its listener does not keep idle
/// connections, so closing says nothing).
const FLAPPING: Duration = Duration::from_secs(1);
/// How many times in a row a confirming connection may be reset before
/// the watch ends without a verdict (see the Confirming arm of `on_event`).
const MAX_RESETS: u8 = 3;
/// Watches kept at most (beyond, peers are simply not watched).
const MAX_WATCHES: usize = 1024;
/// The epoll token of the stop eventfd.
const STOP: u64 = 0;

/// A peer found gone, and why.
#[derive(Debug)]
pub struct Gone {
    pub peer: Arc<[u8]>,
    pub why: String,
}

type Waker = Box<dyn Fn() + Send + Sync>;

enum Phase {
    /// The first connection attempt is under way.
    Connecting,
    /// Connected: waiting for the peer to close.
    Open,
    /// The peer closed the last connection: is anyone still listening?
    Confirming,
}

struct Watch {
    addr: SocketAddrV4,
    sock: OwnedFd,
    token: u64,
    phase: Phase,
    /// When the transport last asked for this watch.
    needed: Instant,
    /// When a closed watch was last found alive again.
    reopened: Option<Instant>,
    /// Confirming connections reset in a row.
    resets: u8,
}

/// shm: the pidfd of a peer's process.
struct ProcWatch {
    pid: i32,
    /// Held open: closing it takes it out of the epoll set.
    _fd: OwnedFd,
    token: u64,
    needed: Instant,
}

#[derive(Default)]
struct State {
    watches: HashMap<Arc<[u8]>, Watch>,
    procs: HashMap<Arc<[u8]>, ProcWatch>,
    tokens: HashMap<u64, Arc<[u8]>>,
    next_token: u64,
    gone: Vec<Gone>,
    /// Peers not to watch again before the given time.
    resting: HashMap<Arc<[u8]>, Instant>,
}

struct Shared {
    epoll: OwnedFd,
    /// Written to stop the thread (with `stopping` set), or to have it
    /// look at the rests again (a rest started on another thread).
    stop: OwnedFd,
    stopping: AtomicBool,
    state: Mutex<State>,
    /// Set when `state.gone` is not empty (read on every drive).
    any_gone: AtomicBool,
    /// Set when a peer's rest ended (see [`PeerWatch::rest_ended`]).
    rest_ended: AtomicBool,
    waker: OnceLock<Waker>,
}

/// The watches of one endpoint (owned by its transport).
pub struct PeerWatch {
    shared: Arc<Shared>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Lets the engine say how to wake it when a peer is found gone.
#[derive(Clone)]
pub struct WatchHandle(Arc<Shared>);

impl WatchHandle {
    /// `wake` runs (on the watch thread, with no lock held) after a verdict
    /// is queued; it must be quick and must not block. Set once.
    pub fn on_gone(&self, wake: Waker) {
        let _ = self.0.waker.set(wake);
    }
}

impl PeerWatch {
    pub fn new() -> std::io::Result<PeerWatch> {
        let (epoll, stop) = super::epoll_and_eventfd()?;
        ctl(&epoll, libc::EPOLL_CTL_ADD, stop.as_raw_fd(), libc::EPOLLIN as u32, STOP)?;
        let shared = Arc::new(Shared {
            epoll,
            stop,
            state: Mutex::new(State { next_token: STOP + 1, ..State::default() }),
            stopping: AtomicBool::new(false),
            any_gone: AtomicBool::new(false),
            rest_ended: AtomicBool::new(false),
            waker: OnceLock::new(),
        });
        Ok(PeerWatch { shared, thread: None })
    }

    pub fn handle(&self) -> WatchHandle {
        WatchHandle(self.shared.clone())
    }

    /// Makes sure `peer` (a tcp or shm libfabric name) is watched. Never
    /// blocks: a tcp connection attempt goes on in the kernel.
    pub fn ensure(&mut self, peer: &Arc<[u8]>) {
        let now = Instant::now();
        let rested;
        let woke = {
            let mut s = self.shared.state.lock();
            if let Some(w) = s.watches.get_mut(peer) {
                w.needed = now;
                return;
            }
            if let Some(w) = s.procs.get_mut(peer) {
                w.needed = now;
                return;
            }
            if s.resting.get(peer).is_some_and(|until| now < *until) || s.watches.len() + s.procs.len() >= MAX_WATCHES {
                return;
            }
            s.resting.remove(peer);
            let woke = match shm_region_and_pid(peer) {
                Some((_, pid)) => self.shared.watch_process(&mut s, peer, pid, now),
                None => match tcp_socket_addr(peer) {
                    Some(addr) => self.shared.watch_listener(&mut s, peer, addr, now),
                    None => return,
                },
            };
            rested = s.resting.contains_key(peer);
            woke
        };
        if rested && self.thread.is_some() {
            // The thread may be blocked without a timeout: have it take
            // this rest's end into account.
            let one = 1u64.to_ne_bytes();
            // SAFETY: writing 8 bytes to our eventfd.
            unsafe { libc::write(self.shared.stop.as_raw_fd(), one.as_ptr() as *const libc::c_void, 8) };
        }
        if self.thread.is_none() {
            let shared = self.shared.clone();
            match std::thread::Builder::new().name("mochi-peer-watch".into()).spawn(move || run(&shared)) {
                Ok(t) => self.thread = Some(t),
                Err(e) => crate::warning!("cannot start the peer watch thread: {e}"),
            }
        }
        if woke {
            self.shared.wake();
        }
    }

    /// Stops watching `peer` (it left the address vector).
    pub fn forget(&mut self, peer: &[u8]) {
        let mut s = self.shared.state.lock();
        if let Some(token) = s.watches.remove(peer).map(|w| w.token).or_else(|| s.procs.remove(peer).map(|w| w.token)) {
            s.tokens.remove(&token);
        }
    }

    /// Closes the watches not asked for since `now - IDLE` whose peer has no
    /// call waiting (`busy`), and forgets old rests.
    pub fn retire(&mut self, now: Instant, busy: impl Fn(&[u8]) -> bool) {
        let mut s = self.shared.state.lock();
        let idle: Vec<Arc<[u8]>> = s
            .watches
            .iter()
            .map(|(p, w)| (p, w.needed))
            .chain(s.procs.iter().map(|(p, w)| (p, w.needed)))
            .filter(|(p, needed)| now.saturating_duration_since(*needed) > IDLE && !busy(&p[..]))
            .map(|(p, _)| p.clone())
            .collect();
        for p in idle {
            if let Some(token) = s.watches.remove(&p).map(|w| w.token).or_else(|| s.procs.remove(&p).map(|w| w.token)) {
                s.tokens.remove(&token);
            }
        }
        s.resting.retain(|_, until| now < *until);
    }

    /// True if a verdict waits to be taken (one atomic load).
    pub fn any_gone(&self) -> bool {
        self.shared.any_gone.load(Ordering::Acquire)
    }

    /// True (once) if a peer's rest ended since the last call: a peer the
    /// engine must keep watching (a guarded one) is to be asked for again
    /// now, not at the next drive that happens to come. A watch that ended
    /// without a verdict (a reset or a hang-up while a SIGKILLed peer
    /// closed its sockets) would otherwise never give one on an idle engine.
    pub fn rest_ended(&self) -> bool {
        self.shared.rest_ended.swap(false, Ordering::AcqRel)
    }

    /// The verdicts since the last call (cheap when there are none).
    pub fn take_gone(&self) -> Vec<Gone> {
        if !self.shared.any_gone.load(Ordering::Acquire) {
            return Vec::new();
        }
        let mut s = self.shared.state.lock();
        self.shared.any_gone.store(false, Ordering::Release);
        std::mem::take(&mut s.gone)
    }

    /// Peers watched now (tests and diagnostics).
    pub fn watched(&self) -> usize {
        let s = self.shared.state.lock();
        s.watches.len() + s.procs.len()
    }
}

impl Drop for PeerWatch {
    fn drop(&mut self) {
        if let Some(t) = self.thread.take() {
            self.shared.stopping.store(true, Ordering::Release);
            let one = 1u64.to_ne_bytes();
            // SAFETY: writing 8 bytes to our eventfd.
            unsafe { libc::write(self.shared.stop.as_raw_fd(), one.as_ptr() as *const libc::c_void, 8) };
            if t.thread().id() != std::thread::current().id() {
                let _ = t.join();
            }
        }
    }
}

impl Shared {
    /// Milliseconds until the earliest rest ends (at least 1), or -1 (no
    /// timeout) when no peer rests: an engine whose watches are all fine
    /// never wakes this thread on a timer.
    fn until_next_rest_ends(&self) -> i32 {
        let s = self.state.lock();
        let Some(next) = s.resting.values().min() else { return -1 };
        next.saturating_duration_since(Instant::now()).as_micros().div_ceil(1000).clamp(1, i32::MAX as u128) as i32
    }

    /// Forgets the rests that are over; true if there were any.
    fn end_rests(&self) -> bool {
        let now = Instant::now();
        let mut s = self.state.lock();
        let before = s.resting.len();
        s.resting.retain(|_, until| now < *until);
        let ended = s.resting.len() < before;
        if ended {
            self.rest_ended.store(true, Ordering::Release);
        }
        ended
    }

    fn wake(&self) {
        if let Some(w) = self.waker.get() {
            w();
        }
    }

    /// Acts on what epoll reported for `token`; true if a verdict was queued.
    fn on_event(&self, token: u64, events: u32) -> bool {
        let mut s = self.state.lock();
        let Some(peer) = s.tokens.get(&token).cloned() else { return false };
        if let Some(w) = s.procs.remove(&peer) {
            // A pidfd is readable only once its process has exited.
            s.tokens.remove(&w.token);
            let why = process_exited(&peer, w.pid);
            crate::debug!("peer watch: {why}");
            s.gone.push(Gone { peer, why });
            self.any_gone.store(true, Ordering::Release);
            return true;
        }
        let Some(w) = s.watches.get_mut(&peer) else { return false };
        let now = Instant::now();
        let verdict = match w.phase {
            Phase::Connecting | Phase::Confirming => match socket_error(&w.sock) {
                // Not writable yet, and no error: nothing happened.
                Ok(0) if events & (libc::EPOLLOUT | libc::EPOLLHUP | libc::EPOLLERR) as u32 == 0 => return false,
                Ok(0) if events & libc::EPOLLOUT as u32 == 0 => {
                    crate::debug!("watching ofi+tcp://{}: hung up while connecting; no verdict", w.addr);
                    self.rest(&mut s, &peer, now + REST);
                    return false;
                }
                Ok(0) => {
                    let again = matches!(w.phase, Phase::Confirming);
                    if again && w.reopened.is_some_and(|t| now.duration_since(t) < FLAPPING) {
                        crate::debug!("ofi+tcp://{} closes idle connections: not watched", w.addr);
                        self.rest(&mut s, &peer, now + IDLE);
                        return false;
                    }
                    if again {
                        w.reopened = Some(now);
                    }
                    w.resets = 0;
                    w.phase = Phase::Open;
                    if ctl(&self.epoll, libc::EPOLL_CTL_MOD, w.sock.as_raw_fd(), interest(&w.phase), token).is_err() {
                        self.rest(&mut s, &peer, now + REST);
                    }
                    return false;
                }
                Ok(libc::ECONNREFUSED) if matches!(w.phase, Phase::Confirming) => {
                    format!("{} (it closed its connections)", refused(w.addr))
                }
                Ok(libc::ECONNREFUSED) => refused(w.addr),
                // A SIGKILLed process closes its sockets one by one: our
                // watch connection may close, and the confirming one reach
                // the listener's queue, before the listener closes and
                // resets what it still queues. That says nothing yet (a
                // reset is no refusal): look again. (Giving up here left
                // the calls waiting on a dead peer until their timeouts:
                // seen in one run in six of a test where two engines watch
                // the process it kills, tests/yokan_lifecycle.rs.)
                Ok(libc::ECONNRESET) if matches!(w.phase, Phase::Confirming) && w.resets < MAX_RESETS => {
                    w.resets += 1;
                    let addr = w.addr;
                    match self.reconnect(w, token) {
                        Ok(()) => return false,
                        Err(e) if e.raw_os_error() == Some(libc::ECONNREFUSED) => {
                            format!("{} (it closed its connections)", refused(addr))
                        }
                        Err(e) => {
                            crate::debug!("watching ofi+tcp://{addr} again: {e}; no verdict");
                            self.rest(&mut s, &peer, now + REST);
                            return false;
                        }
                    }
                }
                Ok(e) => {
                    let e = std::io::Error::from_raw_os_error(e);
                    crate::debug!("watching ofi+tcp://{}: {e}; no verdict", w.addr);
                    self.rest(&mut s, &peer, now + REST);
                    return false;
                }
                Err(e) => {
                    crate::debug!("watching ofi+tcp://{}: {e}; no verdict", w.addr);
                    self.rest(&mut s, &peer, now + REST);
                    return false;
                }
            },
            Phase::Open => {
                // The peer's listener never writes before it has read a
                // connection request: anything readable is the end.
                let mut byte = 0u8;
                // SAFETY: reads at most one byte into `byte`, without blocking.
                let n = unsafe {
                    libc::recv(
                        w.sock.as_raw_fd(),
                        &mut byte as *mut u8 as *mut libc::c_void,
                        1,
                        libc::MSG_PEEK | libc::MSG_DONTWAIT,
                    )
                };
                if n > 0 {
                    crate::debug!("ofi+tcp://{} wrote on a watch connection: not a peer's listener; not watched", w.addr);
                    self.rest(&mut s, &peer, now + IDLE);
                    return false;
                }
                if n < 0 && events & (libc::EPOLLHUP | libc::EPOLLERR | libc::EPOLLRDHUP) as u32 == 0 {
                    return false;
                }
                // Closed: is anyone still listening there?
                let addr = w.addr;
                match self.reconnect(w, token) {
                    Ok(()) => return false,
                    Err(e) if e.raw_os_error() == Some(libc::ECONNREFUSED) => {
                        format!("{} (it closed its connections)", refused(addr))
                    }
                    Err(e) => {
                        crate::debug!("watching ofi+tcp://{addr} again: {e}; no verdict");
                        self.rest(&mut s, &peer, now + REST);
                        return false;
                    }
                }
            }
        };
        if let Some(w) = s.watches.remove(&peer) {
            s.tokens.remove(&w.token);
        }
        crate::debug!("peer watch: {verdict}");
        s.gone.push(Gone { peer, why: verdict });
        self.any_gone.store(true, Ordering::Release);
        true
    }

    /// tcp: starts watching the listener at `addr` of `peer`; true if it
    /// refuses already (a verdict was queued).
    fn watch_listener(&self, s: &mut State, peer: &Arc<[u8]>, addr: SocketAddrV4, now: Instant) -> bool {
        match connect(addr) {
            Ok((sock, phase)) => {
                let token = s.next_token;
                s.next_token += 1;
                if let Err(e) = ctl(&self.epoll, libc::EPOLL_CTL_ADD, sock.as_raw_fd(), interest(&phase), token) {
                    crate::debug!("cannot watch ofi+tcp://{addr}: {e}");
                    s.resting.insert(peer.clone(), now + REST);
                    return false;
                }
                s.tokens.insert(token, peer.clone());
                s.watches.insert(peer.clone(), Watch { addr, sock, token, phase, needed: now, reopened: None, resets: 0 });
                false
            }
            Err(e) if e.raw_os_error() == Some(libc::ECONNREFUSED) => {
                s.gone.push(Gone { peer: peer.clone(), why: refused(addr) });
                self.any_gone.store(true, Ordering::Release);
                true
            }
            Err(e) => {
                crate::debug!("cannot watch ofi+tcp://{addr}: {e}");
                s.resting.insert(peer.clone(), now + REST);
                false
            }
        }
    }

    /// shm: starts watching the process `pid` of `peer`; true if it is
    /// already gone (a verdict was queued).
    fn watch_process(&self, s: &mut State, peer: &Arc<[u8]>, pid: i32, now: Instant) -> bool {
        match pidfd_open(pid) {
            Ok(fd) => {
                let token = s.next_token;
                s.next_token += 1;
                if let Err(e) = ctl(&self.epoll, libc::EPOLL_CTL_ADD, fd.as_raw_fd(), libc::EPOLLIN as u32, token) {
                    crate::debug!("cannot watch process {pid}: {e}");
                    s.resting.insert(peer.clone(), now + REST);
                    return false;
                }
                s.tokens.insert(token, peer.clone());
                s.procs.insert(peer.clone(), ProcWatch { pid, _fd: fd, token, needed: now });
                false
            }
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {
                s.gone.push(Gone { peer: peer.clone(), why: process_exited(peer, pid) });
                self.any_gone.store(true, Ordering::Release);
                true
            }
            Err(e) => {
                // (ENOSYS before Linux 5.3: calls end by their timeouts.)
                crate::debug!("cannot watch process {pid}: {e}");
                s.resting.insert(peer.clone(), now + IDLE);
                false
            }
        }
    }

    /// Replaces `w`'s connection by a new one to its address, to learn
    /// whether anyone still listens there (connected at once or not, the
    /// socket is writable when it is: the Confirming arm takes it from
    /// there). An error: the attempt failed at once (`ECONNREFUSED`: nobody
    /// listens), or the new socket could not be watched.
    fn reconnect(&self, w: &mut Watch, token: u64) -> std::io::Result<()> {
        let (sock, _) = connect(w.addr)?;
        let _ = ctl(&self.epoll, libc::EPOLL_CTL_DEL, w.sock.as_raw_fd(), 0, token);
        w.sock = sock;
        w.phase = Phase::Confirming;
        ctl(&self.epoll, libc::EPOLL_CTL_ADD, w.sock.as_raw_fd(), interest(&w.phase), token)
    }

    /// Drops `peer`'s watch without a verdict; not watched again before `until`.
    fn rest(&self, s: &mut State, peer: &Arc<[u8]>, until: Instant) {
        if let Some(w) = s.watches.remove(peer) {
            s.tokens.remove(&w.token);
        }
        s.resting.insert(peer.clone(), until);
    }
}

/// The watch thread: blocks in epoll until a watch changes or it is
/// stopped, or (only while a peer rests) until the earliest rest ends.
fn run(shared: &Shared) {
    let mut events = [libc::epoll_event { events: 0, u64: 0 }; 32];
    loop {
        let timeout = shared.until_next_rest_ends();
        // SAFETY: events is writable for 32 entries; epoll is our epoll fd.
        let n = unsafe { libc::epoll_wait(shared.epoll.as_raw_fd(), events.as_mut_ptr(), events.len() as i32, timeout) };
        if n == 0 {
            if shared.end_rests() {
                shared.wake();
            }
            continue;
        }
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            crate::error!("the peer watch stopped: epoll_wait: {e}");
            return;
        }
        let mut woke = false;
        for ev in &events[..n as usize] {
            let (token, flags) = (ev.u64, ev.events);
            if token == STOP {
                if shared.stopping.load(Ordering::Acquire) {
                    return;
                }
                // A kick: the loop looks at the rests again.
                let mut buf = [0u8; 8];
                // SAFETY: reading 8 bytes into an 8-byte buffer from our
                // non-blocking eventfd.
                unsafe { libc::read(shared.stop.as_raw_fd(), buf.as_mut_ptr() as *mut libc::c_void, 8) };
                continue;
            }
            woke |= shared.on_event(token, flags);
        }
        if woke {
            shared.wake();
        }
    }
}

fn process_exited(peer: &[u8], pid: i32) -> String {
    let address = super::address::format_name(super::Protocol::Sm, peer).unwrap_or_else(|| format!("process {pid}"));
    format!("nobody listens at {address} any more: process {pid} has exited")
}

/// A pidfd for `pid` (readable once the process exits).
fn pidfd_open(pid: i32) -> std::io::Result<OwnedFd> {
    // SAFETY: pidfd_open(2) takes no pointers; the fd is checked, then owned.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

fn refused(addr: SocketAddrV4) -> String {
    format!("nobody listens at ofi+tcp://{addr} any more: connection refused")
}

fn interest(phase: &Phase) -> u32 {
    match phase {
        Phase::Open => (libc::EPOLLIN | libc::EPOLLRDHUP) as u32,
        Phase::Connecting | Phase::Confirming => libc::EPOLLOUT as u32,
    }
}

fn ctl(epoll: &OwnedFd, op: i32, fd: i32, events: u32, token: u64) -> std::io::Result<()> {
    let mut e = libc::epoll_event { events, u64: token };
    // SAFETY: epoll is our epoll fd, fd a live socket or eventfd of ours, e
    // a valid event (ignored by EPOLL_CTL_DEL).
    if unsafe { libc::epoll_ctl(epoll.as_raw_fd(), op, fd, &mut e) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Starts a non-blocking connection to `addr`: the socket, and whether it
/// is already open or still connecting.
fn connect(addr: SocketAddrV4) -> std::io::Result<(OwnedFd, Phase)> {
    // SAFETY: socket(2); the fd is checked, then owned.
    let sock = unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        OwnedFd::from_raw_fd(fd)
    };
    let sa = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: addr.port().to_be(),
        sin_addr: libc::in_addr { s_addr: u32::from_ne_bytes(addr.ip().octets()) },
        sin_zero: [0; 8],
    };
    // SAFETY: sa is a valid sockaddr_in of the size given; sock is ours.
    let rc = unsafe {
        libc::connect(
            sock.as_raw_fd(),
            &sa as *const libc::sockaddr_in as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        return Ok((sock, Phase::Open));
    }
    let e = std::io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::EINPROGRESS) {
        return Ok((sock, Phase::Connecting));
    }
    Err(e)
}

/// The socket's pending error (0: none), read and cleared.
fn socket_error(sock: &OwnedFd) -> std::io::Result<i32> {
    let mut err: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: err and len are valid out-parameters of the sizes given.
    let rc = unsafe {
        libc::getsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ERROR,
            &mut err as *mut libc::c_int as *mut libc::c_void,
            &mut len,
        )
    };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, TcpListener};
    use std::sync::mpsc;

    fn name_of(addr: SocketAddrV4) -> Arc<[u8]> {
        let mut b = vec![0u8; 16];
        b[..2].copy_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
        b[2..4].copy_from_slice(&addr.port().to_be_bytes());
        b[4..8].copy_from_slice(&addr.ip().octets());
        Arc::from(b)
    }

    fn watch_with_bell() -> (PeerWatch, mpsc::Receiver<()>) {
        let w = PeerWatch::new().unwrap();
        let (tx, rx) = mpsc::channel();
        let tx = Mutex::new(tx);
        w.handle().on_gone(Box::new(move || {
            let _ = tx.lock().send(());
        }));
        (w, rx)
    }

    fn local(l: &TcpListener) -> SocketAddrV4 {
        match l.local_addr().unwrap() {
            std::net::SocketAddr::V4(a) => a,
            other => panic!("{other}"),
        }
    }

    fn shm_name(pid: u32) -> Arc<[u8]> {
        Arc::from(format!("fi_shm://mochi-{pid}:0:0\0").into_bytes())
    }

    #[test]
    fn a_shm_peer_whose_process_exits_is_gone_at_once() {
        let mut child = std::process::Command::new("sleep").arg("30").spawn().unwrap();
        let (mut w, rx) = watch_with_bell();
        let peer = shm_name(child.id());
        w.ensure(&peer);
        assert_eq!(w.watched(), 1);
        assert!(rx.recv_timeout(Duration::from_millis(200)).is_err(), "a live process is not gone");
        assert!(w.take_gone().is_empty());
        child.kill().unwrap();
        rx.recv_timeout(Duration::from_secs(5)).expect("woken when the process exits");
        child.wait().unwrap();
        let gone = w.take_gone();
        assert_eq!(gone.len(), 1);
        assert_eq!(gone[0].peer, peer);
        assert!(gone[0].why.contains("has exited"), "{}", gone[0].why);
        assert_eq!(w.watched(), 0);
    }

    #[test]
    fn a_shm_peer_whose_process_is_gone_already_is_gone_at_once() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        let (mut w, rx) = watch_with_bell();
        w.ensure(&shm_name(pid));
        rx.recv_timeout(Duration::from_secs(5)).expect("woken");
        let gone = w.take_gone();
        assert_eq!(gone.len(), 1);
        assert!(gone[0].why.contains(&format!("process {pid} has exited")), "{}", gone[0].why);
    }

    #[test]
    fn the_end_of_a_rest_wakes_the_engine() {
        let live = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let (mut w, rx) = watch_with_bell();
        // A watch on a live listener starts the thread, which then blocks
        // without a timeout.
        w.ensure(&name_of(local(&live)));
        let (_held, _) = live.accept().unwrap();
        assert!(rx.recv_timeout(Duration::from_millis(200)).is_err(), "nothing to say about a live peer");
        assert!(!w.rest_ended());
        // A peer starts resting (as after a watch that ended without a
        // verdict), and the thread is told, as ensure tells it.
        let resting = name_of(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 9));
        let rest = Duration::from_millis(150);
        let started = Instant::now();
        w.shared.state.lock().resting.insert(resting.clone(), started + rest);
        let one = 1u64.to_ne_bytes();
        // SAFETY: writing 8 bytes to the watch's eventfd.
        unsafe { libc::write(w.shared.stop.as_raw_fd(), one.as_ptr() as *const libc::c_void, 8) };
        rx.recv_timeout(Duration::from_secs(5)).expect("woken when the rest ends");
        assert!(started.elapsed() >= rest, "not before the rest ends: {:?}", started.elapsed());
        assert!(w.rest_ended(), "the engine learns that a rest ended");
        assert!(!w.rest_ended(), "once");
        assert!(w.shared.state.lock().resting.is_empty());
        assert!(w.take_gone().is_empty(), "an ended rest is no verdict");
        // The kick did not stop the thread: a peer that goes is still seen.
        let dying = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        w.ensure(&name_of(local(&dying)));
        let (held, _) = dying.accept().unwrap();
        drop(dying);
        drop(held);
        rx.recv_timeout(Duration::from_secs(5)).expect("woken by a verdict");
        assert_eq!(w.take_gone().len(), 1);
    }

    #[test]
    fn a_port_that_refuses_is_gone_at_once() {
        let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let addr = local(&l);
        drop(l);
        let (mut w, rx) = watch_with_bell();
        let peer = name_of(addr);
        w.ensure(&peer);
        rx.recv_timeout(Duration::from_secs(5)).expect("woken");
        let gone = w.take_gone();
        assert_eq!(gone.len(), 1);
        assert_eq!(gone[0].peer, peer);
        assert!(gone[0].why.contains("connection refused"), "{}", gone[0].why);
        assert!(w.take_gone().is_empty());
    }

    #[test]
    fn a_listener_that_goes_away_is_gone_and_a_live_one_is_not() {
        let alive = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let dying = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let (mut w, rx) = watch_with_bell();
        let (a, d) = (name_of(local(&alive)), name_of(local(&dying)));
        w.ensure(&a);
        w.ensure(&d);
        w.ensure(&d);
        // The accepted connections are held, as a libfabric listener does,
        // then the dying one closes them and its port.
        let (held, _) = dying.accept().unwrap();
        let (_kept, _) = alive.accept().unwrap();
        std::thread::sleep(Duration::from_millis(50));
        assert!(w.take_gone().is_empty(), "nobody has gone yet");
        assert_eq!(w.watched(), 2);
        drop(dying);
        drop(held);
        rx.recv_timeout(Duration::from_secs(5)).expect("woken");
        let gone = w.take_gone();
        assert_eq!(gone.len(), 1, "{gone:?}");
        assert_eq!(gone[0].peer, d);
        assert!(gone[0].why.contains("closed its connections"), "{}", gone[0].why);
        assert_eq!(w.watched(), 1);
        w.retire(Instant::now() + IDLE + Duration::from_secs(1), |p| *p == *a);
        assert_eq!(w.watched(), 1, "a peer with calls waiting stays watched");
        w.retire(Instant::now() + IDLE + Duration::from_secs(1), |_| false);
        assert_eq!(w.watched(), 0);
    }

    #[test]
    fn a_peer_that_closes_but_still_listens_is_not_gone() {
        let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let (mut w, _rx) = watch_with_bell();
        let p = name_of(local(&l));
        w.ensure(&p);
        let (first, _) = l.accept().unwrap();
        drop(first);
        // The watch connects again, and is accepted: the peer lives.
        let (_second, _) = l.accept().unwrap();
        std::thread::sleep(Duration::from_millis(50));
        assert!(w.take_gone().is_empty());
        assert_eq!(w.watched(), 1);
    }
}
