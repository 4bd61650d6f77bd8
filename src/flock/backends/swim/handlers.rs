//! What a member does with the messages it receives: check who sent them
//! (the transport knows; the message only claims), decide whether to
//! listen, apply what they say, answer.

use super::probe::Outcome;
use super::state::{Admission, Id, State};
use super::wire::{
    self, Ack, Announce, Envelope, Gossip, Kind, MemberRecord, PingReq, PingReqReply, ProbeResult, StateReply, Status, Sync,
};
use super::{Answer, Shared};
use crate::rpc::codec;
use crate::rpc::{timer, PendingCall, Request, Responder};
use parking_lot::Mutex;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How a ping-req starts: answered at once, or waiting for a ping.
enum PingReqStart {
    Done(Vec<u8>),
    Waiting { requester: Id, target: Id, call: PendingCall },
}

impl Shared {
    /// Detects that this process was frozen: the protocol thread should
    /// have woken up long ago. Called by the protocol thread and by every
    /// handler (after a SIGCONT, queued requests may run first).
    pub(super) fn note_stall(&self, st: &mut State, now: Instant) {
        let Some(due) = st.sleeping_until else { return };
        let late = now.saturating_duration_since(due);
        if late > self.config.period().max(Duration::from_millis(500)) && !st.stalled && !st.expelled {
            crate::warning!(
                "swim: this process was frozen for about {late:?}; ignoring gossip and declaring no one dead until a member answers us"
            );
            st.stalled = true;
            st.restart_suspicions(now);
        }
    }

    // ---- checks on incoming messages ------------------------------------

    /// The sender named in a message must be the process that sent it (the
    /// transport knows which one did). Calls from our own engine carry no
    /// sender and are trusted.
    pub(super) fn check_transport(&self, req: &Request, claimed: &str) -> std::result::Result<(), String> {
        let Some(sender) = &req.sender else { return Ok(()) };
        match self.engine.lookup(claimed) {
            Ok(a) if a == *sender => Ok(()),
            Ok(_) => Err(format!("it claims to come from {claimed} but was sent by {sender}")),
            Err(e) => Err(format!("it names an invalid sender address \"{claimed}\" ({e}); sent by {sender}")),
        }
    }

    pub(super) fn rejected(&self, rpc: &str, req: &Request, why: impl std::fmt::Display) -> String {
        let from = req.sender.as_ref().map_or_else(|| "this process".to_string(), |a| a.to_string());
        let message = format!("swim: rejected a {rpc} message from {from}: {why}");
        let now = Instant::now();
        if self.state.lock().should_log(&format!("{rpc}|{from}"), now) {
            crate::warning!("{message}");
        }
        message
    }

    /// Under the state lock: `Status::Ok` if the sender is a member (its
    /// gossip is then applied), otherwise the status to answer with.
    pub(super) fn admit(&self, st: &mut State, env: &Envelope, rpc: &str, now: Instant) -> std::result::Result<Status, String> {
        if st.expelled || self.stopping() {
            return Ok(Status::NotMember);
        }
        self.note_stall(st, now);
        let who = format!("({}, {})", env.sender.address, env.sender.provider_id);
        match st.admit(&env.sender, now) {
            Admission::Member => {
                st.process_gossip(&env.gossip, now);
                Ok(Status::Ok)
            }
            Admission::Unknown => {
                if st.should_log(&format!("unknown|{who}"), now) {
                    crate::info!("swim: ignoring {rpc} from {who}, which is not a member");
                }
                Ok(Status::UnknownSender)
            }
            Admission::Departed(s) => {
                if st.should_log(&format!("departed|{who}"), now) {
                    crate::info!("swim: ignoring {rpc} from {who}, which has left or was declared dead");
                }
                Ok(s)
            }
            Admission::Invalid(why) => Err(why),
        }
    }

    // ---- handlers --------------------------------------------------------

    pub(super) fn on_ping(&self, req: Request) -> std::result::Result<Vec<u8>, String> {
        let env: Envelope = codec::decode(&req.payload).map_err(|e| self.rejected(wire::PING, &req, e))?;
        self.check_transport(&req, &env.sender.address).map_err(|e| self.rejected(wire::PING, &req, e))?;
        let now = Instant::now();
        let sender: Id = (env.sender.address.clone(), env.sender.provider_id);
        let reply = self.with_state(|st| {
            let status = self.admit(st, &env, wire::PING, now)?;
            let mine = if status == Status::Ok { st.envelope(Some(&sender)) } else { st.bare_envelope() };
            Ok(codec::encode(&Ack { status, envelope: mine }))
        });
        reply.map_err(|e: String| self.rejected(wire::PING, &req, e))
    }

    /// An indirect probe: ping `target` for the requester and answer once
    /// its answer is in or the ping timed out. The answer is deferred, so
    /// the pool serves other requests meanwhile.
    pub(super) fn on_ping_req(self: &Arc<Self>, req: Request, responder: Responder) {
        let started = self.start_ping_req(&req);
        let (requester, target, call) = match started {
            Ok(PingReqStart::Done(reply)) => return responder.respond(Ok(reply)),
            Err(e) => return responder.respond(Err(e)),
            Ok(PingReqStart::Waiting { requester, target, call }) => (requester, target, call),
        };
        let deadline = call.deadline();
        // Whichever comes first, the answer or the deadline, takes the call
        // and answers the requester.
        let completion = call.completion();
        let slot = Arc::new(Mutex::new(Some((call, responder))));
        let finish = {
            let me = Arc::downgrade(self);
            let slot = slot.clone();
            move || {
                let Some((call, responder)) = slot.lock().take() else { return };
                let outcome = call.wait();
                match me.upgrade() {
                    Some(me) => responder.respond(Ok(me.ping_req_reply(&requester, &target, outcome))),
                    None => responder.respond(Err("the swim group is being destroyed".into())),
                }
            }
        };
        timer::schedule(deadline, &self.pool, Box::new(finish.clone()));
        // Registered outside the slot's lock: a call already answered runs
        // `finish` at once.
        completion.on_complete(Box::new(finish));
    }

    /// Checks a ping-req and starts the ping it asks for.
    fn start_ping_req(&self, req: &Request) -> std::result::Result<PingReqStart, String> {
        let PingReq { envelope: env, target, target_pid } =
            codec::decode(&req.payload).map_err(|e| self.rejected(wire::PING_REQ, req, e))?;
        self.check_transport(req, &env.sender.address).map_err(|e| self.rejected(wire::PING_REQ, req, e))?;
        let now = Instant::now();
        let requester: Id = (env.sender.address.clone(), env.sender.provider_id);
        let status =
            self.with_state(|st| self.admit(st, &env, wire::PING_REQ, now)).map_err(|e| self.rejected(wire::PING_REQ, req, e))?;
        let none = ProbeResult { responded: false, generation: 0, incarnation: 0 };
        if status != Status::Ok {
            let mine = self.state.lock().bare_envelope();
            return Ok(PingReqStart::Done(codec::encode(&PingReqReply { status, probe: none, envelope: mine })));
        }
        let target: Id = (target, target_pid);
        if target == self.self_id {
            let me = self.state.lock().identity();
            let probe = ProbeResult { responded: true, generation: me.generation, incarnation: me.incarnation };
            let mine = self.with_state(|st| st.envelope(Some(&requester)));
            return Ok(PingReqStart::Done(codec::encode(&PingReqReply { status: Status::Ok, probe, envelope: mine })));
        }
        let ping = self.with_state(|st| st.envelope(Some(&target)));
        match self.call_async(&target, wire::PING, codec::encode(&ping), self.config.ping_timeout()) {
            Ok(call) => Ok(PingReqStart::Waiting { requester, target, call }),
            // Unreachable at once: the target did not respond.
            Err(e) => Ok(PingReqStart::Done(self.ping_req_reply(&requester, &target, Err(e)))),
        }
    }

    /// The answer to a ping-req, given how the ping of `target` went.
    fn ping_req_reply(&self, requester: &Id, target: &Id, outcome: Outcome) -> Vec<u8> {
        let probe = match self.ping_answer(target, outcome) {
            Some((answer, e)) if answer != Answer::NotAlive => {
                ProbeResult { responded: true, generation: e.sender.generation, incarnation: e.sender.incarnation }
            }
            _ => ProbeResult { responded: false, generation: 0, incarnation: 0 },
        };
        let mine = self.with_state(|st| st.envelope(Some(requester)));
        codec::encode(&PingReqReply { status: Status::Ok, probe, envelope: mine })
    }

    pub(super) fn on_announce(&self, req: Request) -> std::result::Result<Vec<u8>, String> {
        let Announce { kind, envelope: env } = codec::decode(&req.payload).map_err(|e| self.rejected(wire::ANNOUNCE, &req, e))?;
        self.check_transport(&req, &env.sender.address).map_err(|e| self.rejected(wire::ANNOUNCE, &req, e))?;
        let who: Id = (env.sender.address.clone(), env.sender.provider_id);
        let generation = env.sender.generation;
        let now = Instant::now();
        if kind == Kind::Leave {
            let status = self.with_state(|st| {
                if st.expelled || self.stopping() {
                    return Status::NotMember;
                }
                match st.peers.get(&who) {
                    // Our record may predate a restart: a leave of the
                    // same or a newer instance counts.
                    Some(p) if generation >= p.generation => {
                        st.process_gossip(&env.gossip, now);
                        let rec = MemberRecord {
                            kind: Kind::Leave,
                            address: who.0.clone(),
                            provider_id: who.1,
                            generation,
                            incarnation: env.sender.incarnation,
                        };
                        if st.merge_member(&rec, now) {
                            st.gossip.add(Gossip::Member(rec));
                            crate::info!("swim: ({}, {}) left the group", who.0, who.1);
                        }
                        Status::Ok
                    }
                    _ => Status::UnknownSender,
                }
            });
            return Ok(codec::encode(&StateReply { status, state: None }));
        }
        // A join. Refuse impossible or departed senders before doing any work.
        let early = self.with_state(|st| {
            if st.expelled || self.stopping() {
                return Ok(Some(Status::NotMember));
            }
            if who == st.self_id || generation == 0 {
                return Err("a join announcement from ourselves, or without a generation".to_string());
            }
            Ok(st.tombs.get(&who).filter(|t| t.covers(generation)).map(|t| t.status_for(generation)))
        });
        if let Some(status) = early.map_err(|e| self.rejected(wire::ANNOUNCE, &req, e))? {
            return Ok(codec::encode(&StateReply { status, state: None }));
        }
        // The joiner must answer a ping at the address it claims, as the
        // instance it claims to be: no answer, no membership.
        let probe = self.with_state(|st| st.bare_envelope());
        let verified = self
            .call(&who, wire::PING, codec::encode(&probe), self.verify_timeout())
            .map_err(|e| e.to_string())
            .and_then(|b| codec::decode::<Ack>(&b).map_err(|e| e.to_string()))
            .and_then(|Ack { status, envelope: e }| {
                if e.sender.address != who.0 || e.sender.provider_id != who.1 || e.sender.generation != generation {
                    Err("another instance answered".to_string())
                } else if status == Status::NotMember {
                    Err("it says it is not a member any more".to_string())
                } else {
                    Ok(())
                }
            });
        if let Err(e) = verified {
            return Err(self.rejected(wire::ANNOUNCE, &req, format!("could not reach the joiner back: {e}")));
        }
        let state = self.with_state(|st| {
            let rec = MemberRecord {
                kind: Kind::Join,
                address: who.0.clone(),
                provider_id: who.1,
                generation,
                incarnation: env.sender.incarnation,
            };
            if st.merge_member(&rec, now) {
                st.gossip.add(Gossip::Member(rec));
                crate::info!("swim: ({}, {}) joined the group", who.0, who.1);
            }
            st.process_gossip(&env.gossip, now);
            st.full_state()
        });
        Ok(codec::encode(&StateReply { status: Status::Ok, state: Some(state) }))
    }

    pub(super) fn on_sync(&self, req: Request) -> std::result::Result<Vec<u8>, String> {
        let Sync { envelope: env, state: theirs } =
            codec::decode(&req.payload).map_err(|e| self.rejected(wire::SYNC, &req, e))?;
        self.check_transport(&req, &env.sender.address).map_err(|e| self.rejected(wire::SYNC, &req, e))?;
        let now = Instant::now();
        let reply = self.with_state(|st| {
            let status = self.admit(st, &env, wire::SYNC, now)?;
            if status != Status::Ok {
                return Ok(codec::encode(&StateReply { status, state: None }));
            }
            st.merge_state(&theirs, now);
            Ok(codec::encode(&StateReply { status: Status::Ok, state: Some(st.full_state()) }))
        });
        reply.map_err(|e: String| self.rejected(wire::SYNC, &req, e))
    }
}
