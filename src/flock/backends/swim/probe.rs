//! What a member does on its own: probe one member per protocol period
//! (directly, then through helpers), expire suspicions, sync with members
//! whose digest differs, join and leave.
//!
//! The protocol period is a chain of jobs on the provider's pool, never a
//! thread of its own and never a job that waits: a period starts the calls
//! it needs and returns; [`Shared::when_answered`] runs the next step as a
//! new job once every answer is in or the calls' deadline passed (the
//! deadline is a `rpc::timer` entry); the last step schedules the next
//! period on the timer. So a pool with one execution stream, shared with
//! other providers, keeps serving them (and our own ping handler) while a
//! probe waits for a member that does not answer.

use super::state::{self, Admission, Event, Id};
use super::wire::{self, Ack, Announce, Envelope, Gossip, Kind, MemberRecord, PingReq, PingReqReply, StateReply, Status, Sync};
use super::{Answer, Shared, LEAVE_TIMEOUT, MAX_LEAVE_FANOUT, UNKNOWN_STREAK_LIMIT};
use crate::flock::backend::UpdateSink;
use crate::flock::error::{FlockError, Result};
use crate::rpc::pool::Job;
use crate::rpc::{codec, timer, PendingCall, RpcError};
use parking_lot::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// What became of one call: its answer, or why there is none.
pub(super) type Outcome = std::result::Result<Vec<u8>, RpcError>;
/// A call as started: under way, or failed before it left.
type Started = std::result::Result<PendingCall, RpcError>;

/// The next step of a chain, run once (by the last answer or by the
/// deadline, whichever comes first).
struct Step(Mutex<Option<Job>>);

impl Step {
    fn run(&self) {
        let job = self.0.lock().take();
        if let Some(job) = job {
            job();
        }
    }
}

/// A handle on a step that, dropped without running it (its pool is gone),
/// drops the step's job: the calls it owns must not keep their slots (and
/// through them this step) alive.
struct Fire(Arc<Step>);

impl Fire {
    fn job(self) -> Job {
        Box::new(move || self.0.run())
    }
}

impl Drop for Fire {
    fn drop(&mut self) {
        let job = self.0 .0.lock().take();
        drop(job);
    }
}

/// Tags of the calls a period starts at once.
enum PeriodCall {
    /// The last ping of a member whose suspicion ran out.
    Expiry(Id),
    /// The direct probe of this period's target.
    Direct(Id),
}

impl Shared {
    /// Runs `then` as a job on the provider's pool once every call of
    /// `calls` is answered (or failed), or once the latest of their
    /// deadlines passed, with what became of each. Nothing waits in the
    /// meantime: answers ring the step through `PendingCall::on_complete`,
    /// and the deadline is a timer entry. `then` does not run if the backend
    /// is gone or stopping by then.
    pub(super) fn when_answered<T: Send + 'static>(
        &self,
        calls: Vec<(T, Started)>,
        then: impl FnOnce(&Arc<Shared>, Vec<(T, Outcome)>) + Send + 'static,
    ) {
        let step = Arc::new(Step(Mutex::new(None)));
        let deadline = calls.iter().filter_map(|(_, c)| c.as_ref().ok().map(PendingCall::deadline)).max();
        // One count per call under way, plus one held until everything is set up.
        let remaining = Arc::new(AtomicUsize::new(1));
        for (_, call) in &calls {
            let Ok(call) = call else { continue };
            remaining.fetch_add(1, Ordering::AcqRel);
            let (step, remaining, pool) = (step.clone(), remaining.clone(), Arc::downgrade(&self.pool));
            call.on_complete(Box::new(move || {
                if remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
                    if let Some(pool) = pool.upgrade() {
                        pool.push(Fire(step).job());
                    }
                }
            }));
        }
        let weak = self.me.clone();
        *step.0.lock() = Some(Box::new(move || {
            let Some(shared) = weak.upgrade() else { return };
            if shared.stopping() {
                return;
            }
            // Each call is answered or past its deadline: no wait blocks here.
            let outcomes = calls.into_iter().map(|(tag, call)| (tag, call.and_then(PendingCall::wait))).collect();
            then(&shared, outcomes);
        }));
        if let Some(at) = deadline {
            timer::schedule(at, &self.pool, Fire(step.clone()).job());
        }
        if remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.pool.push(Fire(step).job());
        }
    }

    /// What a ping's answer says; None if `to` did not answer (in time, or
    /// sensibly).
    pub(super) fn ping_answer(&self, to: &Id, outcome: Outcome) -> Option<(Answer, Envelope)> {
        let bytes = match outcome {
            Ok(b) => b,
            Err(e) => {
                crate::debug!("swim: ping of ({}, {}) failed: {e}", to.0, to.1);
                return None;
            }
        };
        match codec::decode::<Ack>(&bytes) {
            Ok(Ack { status, envelope: e }) if e.sender.address == to.0 && e.sender.provider_id == to.1 => {
                let answer = self.on_answer(status, &e);
                Some((answer, e))
            }
            Ok(_) => {
                crate::warning!("swim: ({}, {}) answered a ping in another member's name", to.0, to.1);
                None
            }
            Err(e) => {
                crate::warning!("swim: malformed ping answer from ({}, {}): {e}", to.0, to.1);
                None
            }
        }
    }

    fn start_ping(&self, to: &Id) -> Started {
        let env = self.with_state(|st| st.envelope(Some(to)));
        self.call_async(to, wire::PING, codec::encode(&env), self.config.ping_timeout())
    }
    /// Applies what an answering member (one we called) says, about itself
    /// and about us.
    pub(super) fn on_answer(&self, status: Status, from: &Envelope) -> Answer {
        let now = Instant::now();
        self.with_state(|st| {
            if st.expelled {
                return Answer::Alive;
            }
            match status {
                Status::Ok => {
                    if st.stalled {
                        // A member still counts us in: what we knew is
                        // usable again (anti-entropy refreshes the rest).
                        crate::info!("swim: a member answered us as a member; resuming after the stall");
                        st.stalled = false;
                    }
                    if st.admit(&from.sender, now) == Admission::Member {
                        st.process_gossip(&from.gossip, now);
                    }
                    st.unknown_streak = 0;
                    Answer::Alive
                }
                Status::UnknownSender => {
                    if now < st.young_until {
                        return Answer::AliveAnnounce;
                    }
                    st.unknown_streak += 1;
                    if st.unknown_streak >= UNKNOWN_STREAK_LIMIT.min(st.peers.len().max(1) as u32) {
                        st.expel("no longer knows us");
                    }
                    Answer::Alive
                }
                Status::DeclaredDead { generation, .. } | Status::Left { generation, .. } => {
                    if generation == st.generation {
                        st.expel(if matches!(status, Status::Left { .. }) {
                            "recorded our departure"
                        } else {
                            "declared us dead"
                        });
                    }
                    Answer::Alive
                }
                Status::NotMember => Answer::NotAlive,
            }
        })
    }

    /// Starts announcing our join to `targets`.
    fn start_announce(&self, targets: &[Id]) -> Vec<(Id, Started)> {
        let env = self.with_state(|st| st.bare_envelope());
        let payload = codec::encode(&Announce { kind: Kind::Join, envelope: env });
        targets
            .iter()
            .map(|t| (t.clone(), self.call_async(t, wire::ANNOUNCE, payload.clone(), self.announce_timeout())))
            .collect()
    }

    /// Applies the answers to a join announcement: how many accepted (their
    /// full state is merged) and the last failure.
    fn announce_answers(&self, answers: Vec<(Id, Outcome)>) -> (usize, Option<FlockError>) {
        let mut accepted = 0;
        let mut last = None;
        for (target, outcome) in answers {
            match outcome.map_err(FlockError::from).and_then(|b| Ok(codec::decode::<StateReply>(&b)?)) {
                Ok(StateReply { status: Status::Ok, state: Some(state) }) => {
                    self.with_state(|st| st.merge_state(&state, Instant::now()));
                    accepted += 1;
                }
                Ok(StateReply { status, .. }) => {
                    last = Some(FlockError::Other(format!("({}, {}) refused our join: {status:?}", target.0, target.1)));
                }
                Err(e) => {
                    crate::debug!("swim: join announcement to ({}, {}) failed: {e}", target.0, target.1);
                    last = Some(e);
                }
            }
        }
        (accepted, last)
    }

    /// Announces our join to `targets` at once and waits for their answers
    /// (creation: the provider's registration returns once joined).
    fn announce_join(&self, targets: &[Id]) -> (usize, Option<FlockError>) {
        let calls = self.start_announce(targets);
        self.announce_answers(calls.into_iter().map(|(t, c)| (t, c.and_then(PendingCall::wait))).collect())
    }

    /// Joins through the members of the initial view: a few first (their
    /// gossip reaches the rest), everyone else if none of those accepted,
    /// then everyone again (a busy member may have missed its deadline).
    pub(super) fn join_group(&self) -> Result<()> {
        let mut others: Vec<Id> = self.with_state(|st| {
            let mut v: Vec<Id> = st.peers.keys().cloned().collect();
            v.sort();
            for i in (1..v.len()).rev() {
                let j = st.rng.below(i + 1);
                v.swap(i, j);
            }
            v
        });
        if others.is_empty() {
            crate::info!("swim: the initial view names no other member: starting a group of one");
            return Ok(());
        }
        let fanout = others.len().min(state::transmit_limit(others.len() + 1).max(3) as usize);
        let rest = others.split_off(fanout);
        let all: Vec<Id> = others.iter().chain(&rest).cloned().collect();
        let mut accepted = 0;
        let mut last = None;
        for round in [&others, &rest, &all, &all] {
            if round.is_empty() {
                continue;
            }
            (accepted, last) = self.announce_join(round);
            if accepted > 0 {
                break;
            }
        }
        if accepted > 0 {
            return Ok(());
        }
        crate::error!("swim: no member of the initial view accepted our join");
        Err(match last {
            // Network failures keep the RPC error (FLOCK_ERR_FROM_MERCURY),
            // as the centralized backend's join does.
            Some(e @ FlockError::Rpc(_)) => e,
            Some(e) => FlockError::Other(format!("swim: no member of the initial view accepted our join: {e}")),
            None => FlockError::Other("swim: no member of the initial view accepted our join".into()),
        })
    }

    /// Tells other members we leave (those that miss it learn it by gossip).
    pub(super) fn leave_group(&self) {
        let plan = self.with_state(|st| {
            if st.expelled || st.peers.is_empty() {
                return None;
            }
            let mut targets: Vec<Id> = st.peers.keys().cloned().collect();
            targets.sort();
            for i in (1..targets.len()).rev() {
                let j = st.rng.below(i + 1);
                targets.swap(i, j);
            }
            targets.truncate(MAX_LEAVE_FANOUT);
            Some((targets, st.bare_envelope()))
        });
        let Some((targets, env)) = plan else { return };
        let payload = codec::encode(&Announce { kind: Kind::Leave, envelope: env });
        let calls: Vec<_> =
            targets.iter().filter_map(|t| self.call_async(t, wire::ANNOUNCE, payload.clone(), LEAVE_TIMEOUT).ok()).collect();
        let total = calls.len();
        let delivered = calls.into_iter().filter_map(|c| c.wait().ok()).count();
        crate::debug!("swim: leave announced to {delivered} of {total} members");
    }

    // ---- the protocol period --------------------------------------------

    /// Schedules the next protocol period on the provider's pool at `at`.
    pub(super) fn schedule_period(&self, at: Instant) {
        self.with_state(|st| st.sleeping_until = Some(at));
        let weak = self.me.clone();
        let job: Job = Box::new(move || {
            if let Some(s) = weak.upgrade() {
                s.start_period();
            }
        });
        let Some(id) = timer::schedule(at, &self.pool, job) else {
            crate::error!("swim: cannot schedule the next protocol period: this member stops probing");
            return;
        };
        let mut next = self.next_period.lock();
        if self.stopping() {
            timer::cancel(id);
        } else {
            *next = Some(id);
        }
    }

    /// A period's first step: expire suspicions that ran out (one last
    /// direct ping each) and ping this period's target, all at once.
    fn start_period(&self) {
        if self.stopping() || self.engine.is_finalizing() {
            return;
        }
        let start = Instant::now();
        self.with_state(|st| {
            self.note_stall(st, start);
            st.sleeping_until = None;
        });
        let ttl = self.tombstone_ttl();
        let (expelled, stalled) = self.with_state(|st| {
            st.gc(start, ttl);
            (st.expelled, st.stalled)
        });
        if expelled {
            return self.end_period(start);
        }
        let mut calls: Vec<(PeriodCall, Started)> = Vec::new();
        if !stalled {
            // One last ping each, carrying the suspicion, so that a live
            // member refutes it in its answer.
            let timeout = self.config.suspicion_timeout();
            let expired = self.with_state(|st| st.expired_suspicions(start, timeout));
            calls.extend(expired.into_iter().map(|id| {
                let call = self.start_ping(&id);
                (PeriodCall::Expiry(id), call)
            }));
        }
        if let Some(target) = self.with_state(|st| st.next_probe_target()) {
            let call = self.start_ping(&target);
            calls.push((PeriodCall::Direct(target), call));
        }
        self.when_answered(calls, move |s, answers| s.after_pings(start, answers));
    }

    /// Second step: settle the expired suspicions; a target that answered
    /// is alive (sync if our digests differ, announce ourselves if it does
    /// not know us yet); one that did not is probed through helpers.
    fn after_pings(&self, start: Instant, answers: Vec<(PeriodCall, Outcome)>) {
        let mut direct = None;
        for (call, outcome) in answers {
            match call {
                PeriodCall::Expiry(id) => match self.ping_answer(&id, outcome) {
                    Some((Answer::Alive | Answer::AliveAnnounce, _)) => {
                        self.with_state(|st| st.extend_suspicion(&id, Instant::now()))
                    }
                    _ => {
                        self.with_state(|st| st.confirm(&id, Instant::now()));
                    }
                },
                PeriodCall::Direct(target) => {
                    let answer = self.ping_answer(&target, outcome);
                    direct = Some((target, answer));
                }
            }
        }
        let Some((target, answer)) = direct else { return self.end_period(start) };
        match answer {
            Some((Answer::AliveAnnounce, _)) => {
                let calls = self.start_announce(std::slice::from_ref(&target));
                self.when_answered(calls, move |s, answers| {
                    s.announce_answers(answers);
                    s.end_period(start);
                });
            }
            Some((Answer::Alive, theirs)) => {
                let ours = self.state.lock().state_digest();
                if theirs.digest != ours && !self.stopping() {
                    self.sync_with(&target, start);
                } else {
                    self.end_period(start);
                }
            }
            Some((Answer::NotAlive, _)) | None => self.probe_through_helpers(target, start),
        }
    }

    /// Push-pull of full states with `peer` (its digest differs from ours),
    /// then the end of the period.
    fn sync_with(&self, peer: &Id, start: Instant) {
        let (env, mine) = self.with_state(|st| (st.bare_envelope(), st.full_state()));
        let call = self.call_async(peer, wire::SYNC, codec::encode(&Sync { envelope: env, state: mine }), self.sync_timeout());
        self.when_answered(vec![(peer.clone(), call)], move |s, answers| {
            for (peer, outcome) in answers {
                match outcome.map_err(FlockError::from).and_then(|b| Ok(codec::decode::<StateReply>(&b)?)) {
                    Ok(StateReply { status: Status::Ok, state: Some(theirs) }) => {
                        s.with_state(|st| st.merge_state(&theirs, Instant::now()))
                    }
                    Ok(StateReply { status, .. }) => {
                        crate::debug!("swim: sync with ({}, {}) answered {status:?}", peer.0, peer.1)
                    }
                    Err(e) => crate::debug!("swim: sync with ({}, {}) failed: {e}", peer.0, peer.1),
                }
            }
            s.end_period(start);
        });
    }

    /// Indirect probe: up to `ping_req_members` helpers ping `target` for
    /// us; if none saw it alive, it is suspected.
    fn probe_through_helpers(&self, target: Id, start: Instant) {
        let k = self.config.ping_req_members as usize;
        let helpers = self.with_state(|st| st.helpers(k, &target));
        let calls: Vec<(Id, Started)> = helpers
            .into_iter()
            .map(|h| {
                let env = self.with_state(|st| st.envelope(Some(&h)));
                let payload = codec::encode(&PingReq { envelope: env, target: target.0.clone(), target_pid: target.1 });
                let call = self.call_async(&h, wire::PING_REQ, payload, self.config.ping_req_timeout());
                (h, call)
            })
            .collect();
        self.when_answered(calls, move |s, answers| {
            let mut alive = false;
            for (helper, outcome) in answers {
                alive |= s.ping_req_answer(&target, &helper, outcome);
            }
            if !alive {
                s.with_state(|st| {
                    if !st.stalled {
                        st.suspect(&target, Instant::now());
                    }
                });
            }
            s.end_period(start);
        });
    }

    /// Applies a helper's answer to a ping-req; true if `target` showed
    /// signs of life.
    fn ping_req_answer(&self, target: &Id, helper: &Id, outcome: Outcome) -> bool {
        let reply = outcome.map_err(FlockError::from).and_then(|b| Ok(codec::decode::<PingReqReply>(&b)?));
        match reply {
            Ok(PingReqReply { status, probe, envelope: env })
                if env.sender.address == helper.0 && env.sender.provider_id == helper.1 =>
            {
                self.on_answer(status, &env);
                if probe.responded && probe.generation != 0 {
                    let rec = MemberRecord {
                        kind: Kind::Alive,
                        address: target.0.clone(),
                        provider_id: target.1,
                        generation: probe.generation,
                        incarnation: probe.incarnation,
                    };
                    self.with_state(|st| {
                        if st.merge_member(&rec, Instant::now()) {
                            st.gossip.add(Gossip::Member(rec));
                        }
                    });
                }
                probe.responded
            }
            Ok(_) => {
                crate::warning!("swim: ({}, {}) answered a ping-req in another member's name", helper.0, helper.1);
                false
            }
            Err(e) => {
                crate::debug!("swim: ping-req through ({}, {}) failed: {e}", helper.0, helper.1);
                false
            }
        }
    }

    /// The last step: checks that the period was not frozen, and schedules
    /// the next one period after this one started (at once if the probe
    /// took longer: slow timeouts delay the next period rather than queue
    /// periods up).
    fn end_period(&self, start: Instant) {
        if self.stopping() {
            return;
        }
        if start.elapsed() > self.longest_period() {
            // Frozen while probing: the sleeping-time check cannot see it.
            self.with_state(|st| {
                st.sleeping_until = Some(start + self.longest_period());
                self.note_stall(st, Instant::now());
            });
        }
        self.schedule_period((start + self.config.period()).max(Instant::now()));
    }
}

/// Reports one change to the provider.
pub(super) fn report(sink: &dyn UpdateSink, e: Event) {
    match e {
        Event::Membership(update, address, pid) => sink.membership(update, &address, pid),
        Event::Metadata(key, value) => sink.metadata(&key, &value),
        Event::MetadataRemoved(key) => sink.metadata_removed(&key),
    }
}
