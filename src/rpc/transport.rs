//! The state behind the progress engine's lock: one endpoint, its posted
//! receive buffers, in-flight send buffers, the queue of messages waiting to
//! be sent, the address-vector cache and partly received messages.
//!
//! Whoever holds the lock calls [`Transport::drive`], which moves new
//! submissions into the send queue, posts fragments, reads completions and
//! turns them into [`Event`]s for the engine to dispatch after unlocking.
//!
//! It also keeps a [`PeerWatch`] on the peers it waits on: the
//! calls waiting on a peer whose process has gone (and the messages queued
//! to it) fail at the next drive instead of at their deadline. The peers
//! server-side code waits on behalf of ([`GoneWatchers`]) are watched too,
//! for as long as they are guarded, and a verdict on them is an event.
//! Over shm a peer whose endpoint closed while its process lives on is
//! treated the same way, from the flag in its doorbell (see
//! `fabric/doorbell.rs`, "A closed endpoint says so").

use super::peer_gone::GoneWatchers;
use super::wire::{self, Header, Kind, FIXED_HEADER, MAX_MESSAGE};
use crate::fabric::doorbell::Doorbell;
use crate::fabric::peer_watch::{PeerWatch, WatchHandle};
use crate::fabric::shm_region::RegionHeader;
use crate::fabric::{local_peers, Completion, Endpoint, PeerBell, Post, Protocol};
use crossbeam_queue::SegQueue;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Bytes per fragment over tcp, header included.
const TCP_FRAGMENT: usize = 64 * 1024;
/// Receive buffers kept posted over tcp (4 MiB).
const TCP_RECV_BUFFERS: usize = 64;
/// Bytes per fragment over shm: libfabric 1.17's shm copies a message of
/// up to this size into the receiver's region (`SMR_INJECT_SIZE`), so its
/// send is over when the call returns. A larger one is read by the
/// receiver from our memory and completes only when the receiver answers
/// in our region's response queue, which is processed strictly in order:
/// one large send to a peer that dies before reading it never completes,
/// and holds back the completion of every later large send, to anyone,
/// until the in-flight limit stops all sending. Small fragments cost a
/// copy more per byte; a SIGKILLed peer costs nothing.
const SHM_FRAGMENT: usize = 4096;
/// Receive buffers kept posted over shm (1 MiB).
const SHM_RECV_BUFFERS: usize = 256;
/// Fragments posted but not yet completed, per endpoint.
const MAX_IN_FLIGHT: usize = 256;
/// Partial messages older than this are dropped (their sender gave up).
const REASSEMBLY_TTL: Duration = Duration::from_secs(60);
/// Upper bound on memory held by partial messages.
const REASSEMBLY_BUDGET: usize = 1 << 30;
/// Peers kept in the address vector at most: beyond, the least recently
/// used ones with nothing in flight are removed (`fi_av_remove`), so a
/// churning group does not keep every departed peer forever.
pub const MAX_PEERS: usize = 512;
/// The same over shm, whose regions map at most 256 peers each (libfabric
/// 1.17's `SMR_MAX_PEERS`; peers that connect to us take slots too).
const MAX_SHM_PEERS: usize = 128;
/// Peers' doorbells kept mapped at most.
const MAX_BELLS: usize = 4096;
/// How long a peer without a doorbell is remembered as such.
const BELL_RETRY: Duration = Duration::from_secs(1);
/// Calls tracked at most for their peer's watch (see `awaiting`).
const MAX_AWAITING: usize = 1 << 16;

/// A message waiting to be sent.
/// What a drive posted to one shm peer (which of its sleepers to ring).
#[derive(Clone, Copy, Debug)]
struct Posted {
    request: bool,
    answer: bool,
}

pub struct Outgoing {
    pub dest: Arc<[u8]>,
    pub header: Header,
    pub payload: Vec<u8>,
    pub deadline: Instant,
    /// The call to fail if this message cannot be delivered.
    pub call_id: Option<u64>,
    next_offset: usize,
}

impl Outgoing {
    pub fn new(dest: Arc<[u8]>, header: Header, payload: Vec<u8>, deadline: Instant, call_id: Option<u64>) -> Self {
        Outgoing { dest, header, payload, deadline, call_id, next_offset: 0 }
    }
}

/// What the engine must act on after a drive.
pub enum Event {
    Request {
        sender: Arc<[u8]>,
        header: Header,
        payload: Vec<u8>,
    },
    Response {
        header: Header,
        payload: Vec<u8>,
    },
    /// A request could not be sent (or its send failed); `gone` when the
    /// peer is certainly gone (see `RpcError::PeerGone`).
    SendFailed {
        call_id: u64,
        message: String,
        gone: bool,
    },
    /// A peer someone watches through [`GoneWatchers`] is certainly gone.
    PeerGone {
        peer: Arc<[u8]>,
        why: String,
    },
}

struct SendSlot {
    _buf: Vec<u8>,
    dest: Arc<[u8]>,
    call_id: Option<u64>,
}

/// The receive buffers handed to libfabric: one allocation, addressed only
/// through its base pointer, since libfabric writes into parts of it while
/// we read others (a `&mut [u8]` over the whole would alias those writes).
struct RecvArea {
    base: *mut u8,
    len: usize,
    /// Bytes per buffer (the transport's fragment size).
    stride: usize,
}

impl RecvArea {
    /// Large enough that the allocator maps fresh zero pages for it, so
    /// start-up touches none of its 1–4 MiB (64 separate vectors were
    /// cleared page by page, ~2.5 ms).
    fn new(count: usize, stride: usize) -> RecvArea {
        let len = count * stride;
        let boxed: Box<[u8]> = vec![0u8; len].into_boxed_slice();
        RecvArea { base: Box::into_raw(boxed) as *mut u8, len, stride }
    }

    /// How many buffers the area holds.
    fn count(&self) -> usize {
        self.len / self.stride
    }

    /// Buffer `i` (of `stride` bytes), to post.
    fn buffer(&self, i: usize) -> *mut u8 {
        assert!((i + 1) * self.stride <= self.len);
        // SAFETY: in bounds of the allocation (checked above).
        unsafe { self.base.add(i * self.stride) }
    }

    /// The first `len` bytes of buffer `i`, once its receive completed.
    ///
    /// # Safety
    /// The receive posted on buffer `i` must have completed and the buffer
    /// not been posted again while the slice lives.
    unsafe fn received(&self, i: usize, len: usize) -> &[u8] {
        let len = len.min(self.stride);
        // SAFETY: in bounds (buffer() checks); libfabric no longer writes
        // there (the caller's contract); initialized (zeroed at start).
        unsafe { std::slice::from_raw_parts(self.buffer(i), len) }
    }
}

impl Drop for RecvArea {
    fn drop(&mut self) {
        // SAFETY: base/len came from Box::into_raw of a boxed slice of len
        // bytes; freed once. The endpoint (which may still write) closed
        // before: Transport declares `ep` first.
        unsafe { drop(Box::from_raw(std::ptr::slice_from_raw_parts_mut(self.base, self.len))) };
    }
}

/// A peer in the address vector.
struct AvEntry {
    fi_addr: u64,
    last_used: Instant,
    /// Our fragments to it not yet completed: it must stay while any is.
    in_flight: usize,
    /// shm: its region's header, to notice a peer that died holding its
    /// region's lock (see `fabric/shm_region.rs`).
    region: Option<RegionHeader>,
}

/// A peer's doorbell, or the time we found it had none.
enum BellEntry {
    Mapped(PeerBell),
    Missing(Instant),
}

struct Partial {
    buf: Vec<u8>,
    received: usize,
    started: Instant,
}

pub struct Transport {
    /// Declared first: dropped (closed) before the buffers it writes into.
    ep: Endpoint,
    recv_area: RecvArea,
    unposted_recvs: Vec<usize>,
    sends: Vec<Option<SendSlot>>,
    free_sends: Vec<usize>,
    in_flight: usize,
    queue: VecDeque<Outgoing>,
    /// Peers in the address vector; bounded (see [`MAX_PEERS`]).
    av: HashMap<Arc<[u8]>, AvEntry>,
    partials: HashMap<(Arc<[u8]>, u64, u8), Partial>,
    partial_bytes: usize,
    scratch: Vec<Completion>,
    last_sweep: Instant,
    /// Holds an injected fragment while it is built (libfabric copies it
    /// out before `fi_inject` returns), so small messages allocate nothing.
    inject_buf: Vec<u8>,
    /// Peers' doorbells (shm), and the peers to ring after this drive
    /// (with what we posted to them: requests, answers).
    bells: HashMap<Arc<[u8]>, BellEntry>,
    to_ring: Vec<(Arc<[u8]>, Posted)>,
    /// Watches on the peers we wait on or cannot send to.
    watch: Option<PeerWatch>,
    /// Calls sent (or being sent) and not answered yet, by message id:
    /// their peer and deadline (expired ones are swept).
    awaiting: HashMap<u64, (Arc<[u8]>, Instant)>,
    /// Peers watched on behalf of server-side code (see `peer_gone.rs`).
    guarded: Arc<GoneWatchers>,
    /// Our own doorbell (shm): where peers that closed say so.
    own_bell: Option<Arc<Doorbell>>,
    /// Its `peers_closed` when we last looked.
    peers_closed_seen: u32,
    /// Peers found closed after we posted a request to them (this drive).
    found_closed: Vec<Arc<[u8]>>,
}

// SAFETY: RecvArea's raw pointer is owned memory only this Transport uses;
// the Transport moves between threads only under the engine's mutex.
unsafe impl Send for Transport {}

// Context values handed to libfabric: receives are odd, sends even.
fn recv_ctx(i: usize) -> usize {
    i * 2 + 1
}
fn send_ctx(i: usize) -> usize {
    (i + 1) * 2
}

impl Transport {
    pub fn new(ep: Endpoint, guarded: Arc<GoneWatchers>) -> Result<Transport, crate::fabric::FabricError> {
        let (fragment, buffers) = match ep.protocol() {
            Protocol::Sm => (SHM_FRAGMENT, SHM_RECV_BUFFERS),
            Protocol::Tcp => (TCP_FRAGMENT, TCP_RECV_BUFFERS),
        };
        let own_bell = ep.doorbell();
        let peers_closed_seen = own_bell.as_ref().map_or(0, |b| b.words().peers_closed());
        let mut t = Transport {
            ep,
            recv_area: RecvArea::new(buffers, fragment),
            unposted_recvs: (0..buffers).collect(),
            sends: Vec::new(),
            free_sends: Vec::new(),
            in_flight: 0,
            queue: VecDeque::new(),
            av: HashMap::new(),
            partials: HashMap::new(),
            partial_bytes: 0,
            scratch: Vec::with_capacity(64),
            last_sweep: Instant::now(),
            inject_buf: Vec::new(),
            bells: HashMap::new(),
            to_ring: Vec::new(),
            watch: None,
            awaiting: HashMap::new(),
            guarded,
            own_bell,
            peers_closed_seen,
            found_closed: Vec::new(),
        };
        match PeerWatch::new() {
            Ok(w) => t.watch = Some(w),
            Err(e) => crate::warning!("peers that die will be noticed only at the timeouts of their calls: {e}"),
        }
        t.repost_receives()?;
        Ok(t)
    }

    /// The handle through which the engine asks to be woken when a
    /// watched peer is found gone (see `fabric/peer_watch.rs`).
    pub fn peer_watch(&self) -> Option<WatchHandle> {
        self.watch.as_ref().map(PeerWatch::handle)
    }

    pub fn endpoint_mut(&mut self) -> &mut Endpoint {
        &mut self.ep
    }

    /// True when nothing waits to be sent and no send is in flight.
    pub fn is_flushed(&self) -> bool {
        self.queue.is_empty() && self.in_flight == 0
    }

    /// True when messages wait for resources (the progress thread must
    /// retry: libfabric does not say when room frees up).
    pub fn has_backlog(&self) -> bool {
        !self.queue.is_empty() || !self.unposted_recvs.is_empty()
    }

    /// Bytes per fragment, header included (see [`SHM_FRAGMENT`]): the size
    /// of each receive buffer.
    fn fragment(&self) -> usize {
        self.recv_area.stride
    }

    fn repost_receives(&mut self) -> Result<(), crate::fabric::FabricError> {
        while let Some(&i) = self.unposted_recvs.last() {
            let buf = self.recv_area.buffer(i);
            // SAFETY: the buffer lives in self.recv_area (never reallocated)
            // and is not touched until its completion or the endpoint closes
            // (the endpoint is dropped before the buffers: field order).
            match unsafe { self.ep.post_recv(buf, self.fragment(), recv_ctx(i)) }? {
                Post::Done => {
                    self.unposted_recvs.pop();
                }
                Post::Again => break,
            }
        }
        Ok(())
    }

    /// One round of progress. Returns true if anything happened.
    pub fn drive(&mut self, submissions: &SegQueue<Outgoing>, events: &mut Vec<Event>) -> bool {
        // No shm endpoint of this process closes while we are inside
        // libfabric (see fabric/local_peers.rs).
        let _guard = (self.ep.protocol() == Protocol::Sm).then(local_peers::drive_guard);
        if let Some(w) = self.watch.as_mut() {
            // (A peer already gone gives its verdict here, acted on below.)
            for peer in self.guarded.take_fresh() {
                w.ensure(&peer);
            }
        }
        let mut did = self.settle_gone(events);
        while let Some(o) = submissions.pop() {
            if let (Some(w), Some(call_id)) = (self.watch.as_mut(), o.call_id) {
                w.ensure(&o.dest);
                if self.awaiting.len() >= MAX_AWAITING {
                    // Calls abandoned before their (long) deadlines: forget
                    // the expired ones; beyond, a call is not tracked (it
                    // ends at its deadline if its peer dies).
                    let now = Instant::now();
                    self.awaiting.retain(|_, (_, deadline)| *deadline > now);
                }
                if self.awaiting.len() < MAX_AWAITING {
                    self.awaiting.insert(call_id, (o.dest.clone(), o.deadline));
                }
            }
            self.queue.push_back(o);
            did = true;
        }
        did |= self.post_queued(events);
        did |= self.read_completions(events);
        if did {
            self.post_queued(events);
        }
        did |= self.settle_gone(events);
        if !self.unposted_recvs.is_empty() {
            if let Err(e) = self.repost_receives() {
                crate::error!("cannot post receive buffers: {e}");
            }
        }
        let now = Instant::now();
        let rest_ended = self.watch.as_ref().is_some_and(|w| w.rest_ended());
        if rest_ended || now.duration_since(self.last_sweep) > Duration::from_secs(1) {
            self.last_sweep = now;
            self.sweep_partials(now);
            self.sweep_watches(now);
        }
        self.ring_peers(now);
        did |= self.settle_closed(events);
        did
    }

    /// Fails what waits on the peers the watch found gone: the calls sent to
    /// them and not answered, and the messages still queued to them (which
    /// rxm would otherwise try to connect for until their deadlines). True
    /// if there were any.
    fn settle_gone(&mut self, events: &mut Vec<Event>) -> bool {
        let Some(w) = &self.watch else { return false };
        if !w.any_gone() {
            return false;
        }
        // What a peer sent before it died is ours: an answer it posted and
        // then exited (a server answering a shutdown request) is read
        // before its calls fail as sent to a dead peer. Read after the
        // verdict came, so anything posted before the death is in by now.
        let mut did = self.read_completions(events);
        let Some(w) = &self.watch else { return did };
        let gone = w.take_gone();
        for g in &gone {
            self.fail_peer(&g.peer, &g.why, events);
        }
        did |= !gone.is_empty();
        did
    }

    /// Fails what waits on the shm peers that closed their endpoints: those
    /// found closed after we posted to them, and, when a peer told us it
    /// closed, those our calls wait on whose bells say so. True if any.
    fn settle_closed(&mut self, events: &mut Vec<Event>) -> bool {
        let mut closed = std::mem::take(&mut self.found_closed);
        if let Some(own) = &self.own_bell {
            let told = own.words().peers_closed();
            if told != self.peers_closed_seen {
                self.peers_closed_seen = told;
                let waited_on = self.awaiting.values().map(|(p, _)| p).chain(self.queue.iter().map(|o| &o.dest));
                for peer in waited_on {
                    if let Some(BellEntry::Mapped(bell)) = self.bells.get(peer) {
                        if bell.is_closed() && !closed.contains(peer) {
                            closed.push(peer.clone());
                        }
                    }
                }
            }
        }
        if closed.is_empty() {
            return false;
        }
        // Its answers, posted before it closed, are ours.
        self.read_completions(events);
        for peer in closed {
            let name = crate::fabric::address::format_name(Protocol::Sm, &peer)
                .unwrap_or_else(|| String::from_utf8_lossy(&peer).trim_end_matches('\0').to_string());
            self.fail_peer(&peer, &format!("{name} finalized: its endpoint takes no more requests"), events);
        }
        true
    }

    /// Fails the calls sent to `peer` and not answered, drops the messages
    /// still queued to it, and tells whoever guards it.
    fn fail_peer(&mut self, peer: &Arc<[u8]>, why: &str, events: &mut Vec<Event>) {
        let mut failed = 0;
        let mut dropped = 0;
        self.queue.retain(|o| {
            if *o.dest != **peer {
                return true;
            }
            match o.call_id {
                Some(call_id) => {
                    events.push(Event::SendFailed { call_id, message: why.to_string(), gone: true });
                    failed += 1;
                }
                None => dropped += 1,
            }
            false
        });
        self.awaiting.retain(|&call_id, (p, _)| {
            if **p != **peer {
                return true;
            }
            events.push(Event::SendFailed { call_id, message: why.to_string(), gone: true });
            failed += 1;
            false
        });
        crate::debug!("{why}: {failed} calls failed, {dropped} answers dropped");
        if self.guarded.is_guarded(peer) {
            events.push(Event::PeerGone { peer: peer.clone(), why: why.to_string() });
        }
    }

    /// Our endpoint takes no more requests (finalize): peers that post one
    /// from now on fail it at once. Our next read of the endpoint sees every
    /// request posted before (see `fabric/doorbell.rs`).
    pub fn mark_closed(&self) {
        if let Some(own) = &self.own_bell {
            own.words().mark_closed();
        }
    }

    /// Tells every peer whose bell we hold that we closed (finalize, last).
    pub fn tell_peers_closed(&self) {
        if self.own_bell.is_none() {
            return;
        }
        for entry in self.bells.values() {
            if let BellEntry::Mapped(bell) = entry {
                bell.tell_closed();
            }
        }
    }

    /// Reads the completion queue until it is empty (or a full batch came
    /// short). True if anything was read.
    fn read_completions(&mut self, events: &mut Vec<Event>) -> bool {
        let mut did = false;
        loop {
            self.scratch.clear();
            let mut scratch = std::mem::take(&mut self.scratch);
            let n = match self.ep.poll(&mut scratch) {
                Ok(n) => n,
                Err(e) => {
                    did = true;
                    self.on_error(e.context, e.message, events);
                    self.scratch = scratch;
                    continue;
                }
            };
            for c in &scratch {
                self.on_completion(*c, events);
            }
            self.scratch = scratch;
            if n == 0 {
                return did;
            }
            did = true;
            if n < 64 {
                return did;
            }
        }
    }

    /// Forgets calls past their deadline (their callers gave up) and closes
    /// the watches no call and no guard needs any more. A guarded peer is
    /// asked for again: its watch may have ended without a verdict (a
    /// connection attempt that failed), and is then tried again once its
    /// rest is over.
    fn sweep_watches(&mut self, now: Instant) {
        let Some(w) = self.watch.as_mut() else { return };
        self.awaiting.retain(|_, (_, deadline)| *deadline > now);
        let guarded = self.guarded.guarded();
        for peer in &guarded {
            w.ensure(peer);
        }
        let busy: std::collections::HashSet<&[u8]> =
            self.awaiting.values().map(|(p, _)| &p[..]).chain(guarded.iter().map(|p| &p[..])).collect();
        w.retire(now, |peer| busy.contains(peer));
    }

    /// Marks `peer` to be rung at the end of this drive (shm only), for a
    /// request or an answer (`answer`): answers ring the caller waiting
    /// for them, if one sleeps apart (see `fabric/doorbell.rs`).
    fn ring_later(&mut self, peer: &Arc<[u8]>, answer: bool) {
        if self.ep.protocol() != Protocol::Sm {
            return;
        }
        let posted = Posted { request: !answer, answer };
        match self.to_ring.iter_mut().find(|(p, _)| Arc::ptr_eq(p, peer) || **p == **peer) {
            Some((_, kinds)) => {
                kinds.request |= posted.request;
                kinds.answer |= posted.answer;
            }
            None => self.to_ring.push((peer.clone(), posted)),
        }
    }

    /// Rings the doorbells of the peers this drive posted to (see
    /// `progress.rs`, rule 2).
    fn ring_peers(&mut self, now: Instant) {
        if self.bells.len() > MAX_BELLS {
            // Peers come and go (and forged fragments name any sender):
            // keep the cache bounded; mapping a bell again is cheap.
            self.bells.clear();
        }
        for (peer, posted) in std::mem::take(&mut self.to_ring) {
            let entry = self.bells.entry(peer.clone()).or_insert(BellEntry::Missing(now - BELL_RETRY));
            if let BellEntry::Missing(since) = entry {
                if now.duration_since(*since) < BELL_RETRY {
                    continue;
                }
                *entry = match PeerBell::open(&peer) {
                    Some(bell) => BellEntry::Mapped(bell),
                    None => BellEntry::Missing(now),
                };
            }
            if let BellEntry::Mapped(bell) = entry {
                if posted.answer {
                    bell.ring_answer();
                }
                if posted.request {
                    bell.ring();
                    // (Fenced by the ring.) A request to a closed endpoint
                    // would never be read.
                    if bell.is_closed() {
                        self.found_closed.push(peer.clone());
                    }
                }
            }
        }
    }

    fn resolve(&mut self, name: &Arc<[u8]>, now: Instant) -> Result<u64, String> {
        if let Some(a) = self.av.get_mut(name) {
            a.last_used = now;
            return Ok(a.fi_addr);
        }
        if self.av.len() >= self.max_peers() {
            self.evict_idle_peers();
        }
        let fi_addr = self.ep.av_insert(name).map_err(|e| e.to_string())?;
        let region = if self.ep.protocol() == Protocol::Sm { RegionHeader::open(name) } else { None };
        self.av.insert(name.clone(), AvEntry { fi_addr, last_used: now, in_flight: 0, region });
        Ok(fi_addr)
    }

    /// Removes the least recently used half of the peers that have
    /// nothing in flight (a peer we talk to again is simply inserted anew).
    fn evict_idle_peers(&mut self) {
        let mut idle: Vec<(Instant, Arc<[u8]>)> =
            self.av.iter().filter(|(_, e)| e.in_flight == 0).map(|(n, e)| (e.last_used, n.clone())).collect();
        idle.sort_by_key(|(t, _)| *t);
        for (_, name) in idle.into_iter().take(self.max_peers() / 2) {
            if let Some(w) = self.watch.as_mut().filter(|_| !self.guarded.is_guarded(&name)) {
                // (Its calls, if any, are not failed on its death any more;
                // the next call to it watches it again. A guarded peer's
                // watch stays: its guards wait for nothing but the verdict.)
                w.forget(&name);
            }
            if let Some(e) = self.av.remove(&name) {
                // libfabric maps a closed local peer's region no more.
                if !local_peers::is_closed(&name) {
                    self.ep.av_remove(e.fi_addr);
                }
            }
            self.bells.remove(&name);
        }
    }

    fn max_peers(&self) -> usize {
        match self.ep.protocol() {
            Protocol::Sm => MAX_SHM_PEERS,
            Protocol::Tcp => MAX_PEERS,
        }
    }

    /// Sizes of the per-peer tables (address vector, doorbells), for tests
    /// and diagnostics.
    pub fn peer_tables(&self) -> (usize, usize) {
        (self.av.len(), self.bells.len())
    }

    /// Posts as many queued fragments as resources allow. A message whose
    /// destination pushes back is set aside so it cannot block the others.
    fn post_queued(&mut self, events: &mut Vec<Event>) -> bool {
        let mut did = false;
        let now = Instant::now();
        let sender: Vec<u8> = self.ep.name().to_vec();
        let mut blocked = VecDeque::new();
        let mut header_buf = Vec::with_capacity(FIXED_HEADER + sender.len());
        while let Some(mut out) = self.queue.pop_front() {
            if now >= out.deadline {
                if let Some(call_id) = out.call_id {
                    events.push(Event::SendFailed {
                        call_id,
                        message: "peer did not accept the message in time".into(),
                        gone: false,
                    });
                } else {
                    crate::debug!("dropping a response that could not be delivered in time");
                }
                did = true;
                continue;
            }
            if self.in_flight >= MAX_IN_FLIGHT {
                blocked.push_back(out);
                continue;
            }
            if self.ep.protocol() == Protocol::Sm && local_peers::is_closed(&out.dest) {
                let message = "the peer (an endpoint of this process) has closed".to_string();
                match out.call_id {
                    Some(call_id) => events.push(Event::SendFailed { call_id, message, gone: true }),
                    None => crate::debug!("dropping a response: {message}"),
                }
                did = true;
                continue;
            }
            let dest = match self.resolve(&out.dest, now) {
                Ok(d) => d,
                Err(message) => {
                    if let Some(call_id) = out.call_id {
                        events.push(Event::SendFailed { call_id, message, gone: false });
                    }
                    did = true;
                    continue;
                }
            };
            if self.av.get(&out.dest).and_then(|e| e.region.as_ref()).is_some_and(RegionHeader::owner_died_holding_lock) {
                // libfabric would spin forever on its lock (see shm_region.rs).
                let message = format!(
                    "the peer {} has exited, leaving its shared-memory queue locked",
                    String::from_utf8_lossy(&out.dest).trim_end_matches('\0')
                );
                match out.call_id {
                    Some(call_id) => events.push(Event::SendFailed { call_id, message, gone: true }),
                    None => crate::debug!("dropping a response: {message}"),
                }
                did = true;
                continue;
            }
            let total = out.payload.len();
            let room = self.fragment() - FIXED_HEADER - sender.len();
            self.ring_later(&out.dest, out.header.kind == Kind::Response);
            let mut finished = false;
            loop {
                let start = out.next_offset;
                let end = (start + room).min(total);
                let mut h = out.header.clone();
                h.total_len = total as u32;
                h.offset = start as u32;
                wire::encode_header(&mut header_buf, &h, &sender);
                let len = header_buf.len() + end - start;
                let posted = if len <= self.ep.inject_size() {
                    // Copied out now; no completion to wait for.
                    let mut buf = std::mem::take(&mut self.inject_buf);
                    buf.clear();
                    buf.extend_from_slice(&header_buf);
                    buf.extend_from_slice(&out.payload[start..end]);
                    let posted = self.ep.inject(&buf, dest);
                    self.inject_buf = buf;
                    posted
                } else {
                    let mut buf = Vec::with_capacity(len);
                    buf.extend_from_slice(&header_buf);
                    buf.extend_from_slice(&out.payload[start..end]);
                    self.post_tracked(buf, dest, &out)
                };
                match posted {
                    Ok(Post::Done) => {
                        did = true;
                        out.next_offset = end;
                        if end >= total {
                            finished = true;
                            break;
                        }
                        if self.in_flight >= MAX_IN_FLIGHT {
                            break;
                        }
                    }
                    Ok(Post::Again) => {
                        // Over tcp rxm also answers "again" while it
                        // connects, and retries a refused connection on
                        // every send: is anyone listening there?
                        if let Some(w) = self.watch.as_mut() {
                            w.ensure(&out.dest);
                        }
                        break;
                    }
                    Err(e) => {
                        if let Some(call_id) = out.call_id {
                            events.push(Event::SendFailed { call_id, message: e.to_string(), gone: false });
                        } else {
                            crate::warning!("could not send a response: {e}");
                        }
                        finished = true;
                        did = true;
                        break;
                    }
                }
            }
            if !finished {
                blocked.push_back(out);
            }
        }
        self.queue = blocked;
        did
    }

    /// Posts one fragment that completes later: its buffer is kept (and
    /// its peer held in the address vector) until the completion.
    fn post_tracked(&mut self, buf: Vec<u8>, dest: u64, out: &Outgoing) -> Result<Post, crate::fabric::FabricError> {
        let slot = self.free_sends.pop().unwrap_or_else(|| {
            self.sends.push(None);
            self.sends.len() - 1
        });
        // SAFETY: `buf`'s heap storage moves into self.sends[slot] and stays
        // there, unchanged, until the send's completion.
        let posted = unsafe { self.ep.post_send(buf.as_ptr(), buf.len(), dest, send_ctx(slot)) };
        if let Ok(Post::Done) = posted {
            self.sends[slot] = Some(SendSlot { _buf: buf, dest: out.dest.clone(), call_id: out.call_id });
            self.in_flight += 1;
            if let Some(e) = self.av.get_mut(&out.dest) {
                e.in_flight += 1;
            }
        } else {
            self.free_sends.push(slot);
        }
        posted
    }

    fn on_completion(&mut self, c: Completion, events: &mut Vec<Event>) {
        if c.context % 2 == 1 {
            let i = c.context / 2;
            if i < self.recv_area.count() {
                let len = c.len.min(self.fragment());
                self.on_fragment(i, len, events);
                self.unposted_recvs.push(i);
            }
        } else {
            self.release_send(c.context);
        }
    }

    fn release_send(&mut self, context: usize) -> Option<SendSlot> {
        let i = (context / 2).checked_sub(1)?;
        let slot = self.sends.get_mut(i)?.take()?;
        self.free_sends.push(i);
        self.in_flight -= 1;
        if let Some(e) = self.av.get_mut(&slot.dest) {
            e.in_flight = e.in_flight.saturating_sub(1);
        }
        Some(slot)
    }

    fn on_error(&mut self, context: usize, message: String, events: &mut Vec<Event>) {
        if context % 2 == 1 {
            let i = context / 2;
            crate::warning!("a receive failed ({message}); reposting its buffer");
            if i < self.recv_area.count() {
                self.unposted_recvs.push(i);
            }
            return;
        }
        match self.release_send(context) {
            Some(SendSlot { call_id: Some(call_id), .. }) => {
                events.push(Event::SendFailed { call_id, message, gone: false });
            }
            Some(_) => crate::debug!("a response could not be delivered: {message}"),
            None => crate::warning!("completion error for an unknown operation: {message}"),
        }
    }

    fn on_fragment(&mut self, i: usize, len: usize, events: &mut Vec<Event>) {
        // SAFETY: buffer i's receive just completed; it is reposted only
        // after this function returns (on_completion).
        let bytes = unsafe { self.recv_area.received(i, len) };
        // The progress thread has no one above it to catch a panic: a bug
        // in the decoder must cost one fragment, not all progress.
        let frag = match std::panic::catch_unwind(|| wire::decode(bytes)) {
            Ok(Ok(f)) => f,
            Ok(Err(e)) => {
                crate::warning!("dropping a malformed fragment of {len} bytes: {e}");
                return;
            }
            Err(_) => {
                crate::error!("the fragment decoder panicked on {len} bytes; fragment dropped");
                return;
            }
        };
        let header = frag.header.clone();
        let total = header.total_len as usize;
        if header.kind == Kind::Response {
            self.awaiting.remove(&header.msg_id);
        }
        if frag.data.len() == total {
            let payload = frag.data.to_vec();
            let sender: Arc<[u8]> = Arc::from(frag.sender);
            events.push(make_event(sender, header, payload));
            return;
        }
        let key: (Arc<[u8]>, u64, u8) = (Arc::from(frag.sender), header.msg_id, header.kind as u8);
        let data = frag.data;
        if !self.partials.contains_key(&key) {
            if self.partial_bytes + total > REASSEMBLY_BUDGET || total > MAX_MESSAGE {
                crate::warning!("dropping a fragment: partial messages already hold {} bytes", self.partial_bytes);
                return;
            }
            self.partial_bytes += total;
            self.partials.insert(key.clone(), Partial { buf: vec![0; total], received: 0, started: Instant::now() });
        }
        let entry = self.partials.get_mut(&key).expect("inserted above");
        if entry.buf.len() != total {
            crate::warning!("dropping a fragment whose length disagrees with its message");
            return;
        }
        let off = header.offset as usize;
        entry.buf[off..off + data.len()].copy_from_slice(data);
        entry.received += data.len();
        if entry.received >= total {
            let done = self.partials.remove(&key).expect("present");
            self.partial_bytes -= total;
            events.push(make_event(key.0, header, done.buf));
        }
    }

    fn sweep_partials(&mut self, now: Instant) {
        let before = self.partials.len();
        let mut freed = 0;
        self.partials.retain(|_, p| {
            let keep = now.duration_since(p.started) < REASSEMBLY_TTL;
            if !keep {
                freed += p.buf.len();
            }
            keep
        });
        self.partial_bytes -= freed;
        if self.partials.len() != before {
            crate::warning!("dropped {} incomplete messages", before - self.partials.len());
        }
    }
}

fn make_event(sender: Arc<[u8]>, header: Header, payload: Vec<u8>) -> Event {
    match header.kind {
        Kind::Request => Event::Request { sender, header, payload },
        Kind::Response => Event::Response { header, payload },
    }
}
