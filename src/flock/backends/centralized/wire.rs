//! The backend's RPCs and their payloads (our own encoding, built on
//! `rpc::codec`). Names follow upstream's `flock_centralized_*`; the
//! payloads differ: every message that concerns the group carries the
//! sender's *claim* (term, primary) so that members can tell a current
//! primary from a stale one, and changes carry a version number so that a
//! follower can tell a duplicate from a gap.
//!
//! Public so that tests can forge messages.

use crate::flock::error::{FlockError, Result};
use crate::flock::protocol::{decode_view, encode_view, Update};
use crate::flock::view::{GroupView, Member};
use crate::rpc::codec::{DecodeError, Reader, Writer};

/// Primary → follower: liveness check carrying the primary's version/digest.
pub const PING: &str = "flock_centralized_ping";
/// Primary → followers: one change of the view.
pub const UPDATE: &str = "flock_centralized_membership_update";
/// Follower → primary: "here is my version and digest; send the view if it differs".
pub const SYNC: &str = "flock_centralized_get_view";
pub const LEAVE: &str = "flock_centralized_leave";
pub const JOIN: &str = "flock_centralized_join";
/// Member → primary: set or remove a metadata entry.
pub const METADATA: &str = "flock_centralized_metadata";
/// Any member → any member: who is your primary, am I a member for you?
pub const WHOIS: &str = "flock_centralized_whois";
/// Leaving primary → its successor: take over.
pub const HANDOVER: &str = "flock_centralized_handover";

pub const ALL: [&str; 8] = [PING, UPDATE, SYNC, LEAVE, JOIN, METADATA, WHOIS, HANDOVER];

/// Who a member believes leads the group, and since which term.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    pub term: u64,
    pub primary: Member,
}

impl Claim {
    /// The order in which competing claims are resolved: the higher term
    /// wins; within a term, the primary that sorts first in a view wins (the
    /// same rule that picks a successor, so both agree).
    pub fn beats(&self, other: &Claim) -> bool {
        self.term > other.term || (self.term == other.term && self.primary < other.primary)
    }
}

/// A member removed from the group, remembered so that it is not silently
/// taken back (it must join again) and so that a diff can name the reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tombstone {
    pub member: Member,
    pub update: Update,
}

/// One change of the view.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    Membership { update: Update, member: Member },
    MetadataSet { key: String, value: String },
    MetadataRemove { key: String },
}

/// The primary's full state, as a follower installs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    pub claim: Claim,
    pub version: u64,
    pub view: GroupView,
    pub tombstones: Vec<Tombstone>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ping {
    pub claim: Claim,
    pub version: u64,
    pub digest: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PingReply {
    /// The responder follows the sender.
    Accepted,
    /// The responder follows this other claim (which beats the sender's).
    Follows(Claim),
    /// The responder does not take part (leaving, expelled, joining).
    Refused(Claim),
    /// The responder is alive but does not know the sender as a member of
    /// its view (it follows this claim, and will look for the new primary
    /// through the members it knows).
    Unknown(Claim),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpdateMsg {
    pub claim: Claim,
    pub version: u64,
    /// The primary's digest after the change (a follower that ends up with
    /// another digest has diverged and pulls the view).
    pub digest_after: u64,
    pub change: Change,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpdateReply {
    Applied,
    Duplicate,
    /// Missing earlier changes: the follower pulls the view.
    Gap,
    Refused,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncReq {
    pub requester: Member,
    pub claim: Claim,
    pub version: u64,
    pub digest: u64,
}

/// "I am not the primary": where to go instead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Redirect {
    pub claim: Claim,
    /// The responder is choosing a new primary: retry shortly.
    pub electing: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SyncReply {
    UpToDate {
        claim: Claim,
        version: u64,
    },
    Full(Snapshot),
    /// The requester is not in the primary's view; `expelled` if it was
    /// removed (declared dead or left) and must rejoin explicitly.
    NotMember {
        claim: Claim,
        expelled: bool,
    },
    NotPrimary(Redirect),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JoinReply {
    Joined(Snapshot),
    NotPrimary(Redirect),
    Error { code: i32, message: String },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LeaveReply {
    Done,
    NotMember,
    NotPrimary(Redirect),
    Error { code: i32, message: String },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetadataReq {
    pub key: String,
    /// `None` removes the entry.
    pub value: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MetadataReply {
    /// The change as the primary broadcast it (the requester applies it at once).
    Applied(UpdateMsg),
    /// Nothing to change (same value already set, or no such key).
    Unchanged,
    NotPrimary(Redirect),
    Error {
        code: i32,
        message: String,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WhoisReq {
    pub requester: Member,
    pub claim: Claim,
    /// The requester believes the primary of `claim` is dead.
    pub suspect: bool,
}

/// What the responder knows of the requester.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Standing {
    Member = 0,
    Unknown = 1,
    /// Removed from the group (declared dead or left).
    Expelled = 2,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WhoisReply {
    /// The responder takes part in the group (primary or follower).
    pub active: bool,
    pub claim: Claim,
    pub electing: bool,
    pub standing: Standing,
    /// The responder heard from its primary recently.
    pub primary_fresh: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HandoverReply {
    Accepted,
    Refused,
    /// The member is leaving the group itself (its provider is being
    /// destroyed): not an anomaly, the whole group may be stopping.
    Leaving,
}

fn bad(what: &str) -> FlockError {
    FlockError::from(DecodeError::Invalid(what.to_string()))
}

// ---- building blocks ---------------------------------------------------

pub fn put_member(w: &mut Writer, m: &Member) {
    w.str(&m.address).u16(m.provider_id);
}

pub fn get_member(r: &mut Reader<'_>) -> Result<Member> {
    Ok(Member { address: r.str()?.to_string(), provider_id: r.u16()? })
}

pub fn put_claim(w: &mut Writer, c: &Claim) {
    w.u64(c.term);
    put_member(w, &c.primary);
}

pub fn get_claim(r: &mut Reader<'_>) -> Result<Claim> {
    Ok(Claim { term: r.u64()?, primary: get_member(r)? })
}

fn get_update(r: &mut Reader<'_>) -> Result<Update> {
    Update::from_u8(r.u8()?).ok_or_else(|| bad("unknown membership update kind"))
}

fn put_change(w: &mut Writer, c: &Change) {
    match c {
        Change::Membership { update, member } => {
            w.u8(0).u8(*update as u8);
            put_member(w, member);
        }
        Change::MetadataSet { key, value } => {
            w.u8(1).str(key).str(value);
        }
        Change::MetadataRemove { key } => {
            w.u8(2).str(key);
        }
    }
}

fn get_change(r: &mut Reader<'_>) -> Result<Change> {
    Ok(match r.u8()? {
        0 => Change::Membership { update: get_update(r)?, member: get_member(r)? },
        1 => Change::MetadataSet { key: r.str()?.to_string(), value: r.str()?.to_string() },
        2 => Change::MetadataRemove { key: r.str()?.to_string() },
        _ => return Err(bad("unknown change kind")),
    })
}

fn put_snapshot(w: &mut Writer, s: &Snapshot) {
    put_claim(w, &s.claim);
    w.u64(s.version);
    encode_view(w, &s.view);
    w.u32(s.tombstones.len() as u32);
    for t in &s.tombstones {
        put_member(w, &t.member);
        w.u8(t.update as u8);
    }
}

fn get_snapshot(r: &mut Reader<'_>) -> Result<Snapshot> {
    let claim = get_claim(r)?;
    let version = r.u64()?;
    let view = decode_view(r)?;
    let n = r.count(7)?;
    let mut tombstones = Vec::with_capacity(n);
    for _ in 0..n {
        tombstones.push(Tombstone { member: get_member(r)?, update: get_update(r)? });
    }
    Ok(Snapshot { claim, version, view, tombstones })
}

fn put_redirect(w: &mut Writer, d: &Redirect) {
    put_claim(w, &d.claim);
    w.bool(d.electing);
}

fn get_redirect(r: &mut Reader<'_>) -> Result<Redirect> {
    Ok(Redirect { claim: get_claim(r)?, electing: r.bool()? })
}

/// Runs `f` on a reader over `bytes` and checks nothing is left over.
fn decode<T>(bytes: &[u8], f: impl FnOnce(&mut Reader<'_>) -> Result<T>) -> Result<T> {
    let mut r = Reader::new(bytes);
    let v = f(&mut r)?;
    r.end()?;
    Ok(v)
}

fn encode(f: impl FnOnce(&mut Writer)) -> Vec<u8> {
    let mut w = Writer::new();
    f(&mut w);
    w.finish()
}

// ---- messages ----------------------------------------------------------

impl Ping {
    pub fn encode(&self) -> Vec<u8> {
        encode(|w| {
            put_claim(w, &self.claim);
            w.u64(self.version).u64(self.digest);
        })
    }
    pub fn decode(b: &[u8]) -> Result<Ping> {
        decode(b, |r| Ok(Ping { claim: get_claim(r)?, version: r.u64()?, digest: r.u64()? }))
    }
}

impl PingReply {
    pub fn encode(&self) -> Vec<u8> {
        encode(|w| match self {
            PingReply::Accepted => {
                w.u8(0);
            }
            PingReply::Follows(c) => {
                w.u8(1);
                put_claim(w, c);
            }
            PingReply::Refused(c) => {
                w.u8(2);
                put_claim(w, c);
            }
            PingReply::Unknown(c) => {
                w.u8(3);
                put_claim(w, c);
            }
        })
    }
    pub fn decode(b: &[u8]) -> Result<PingReply> {
        decode(b, |r| {
            Ok(match r.u8()? {
                0 => PingReply::Accepted,
                1 => PingReply::Follows(get_claim(r)?),
                2 => PingReply::Refused(get_claim(r)?),
                3 => PingReply::Unknown(get_claim(r)?),
                _ => return Err(bad("unknown ping reply")),
            })
        })
    }
}

impl UpdateMsg {
    pub fn write(&self, w: &mut Writer) {
        put_claim(w, &self.claim);
        w.u64(self.version).u64(self.digest_after);
        put_change(w, &self.change);
    }
    fn read(r: &mut Reader<'_>) -> Result<UpdateMsg> {
        Ok(UpdateMsg { claim: get_claim(r)?, version: r.u64()?, digest_after: r.u64()?, change: get_change(r)? })
    }
    pub fn encode(&self) -> Vec<u8> {
        encode(|w| self.write(w))
    }
    pub fn decode(b: &[u8]) -> Result<UpdateMsg> {
        decode(b, UpdateMsg::read)
    }
}

impl UpdateReply {
    pub fn encode(&self) -> Vec<u8> {
        vec![*self as u8]
    }
    pub fn decode(b: &[u8]) -> Result<UpdateReply> {
        decode(b, |r| {
            Ok(match r.u8()? {
                0 => UpdateReply::Applied,
                1 => UpdateReply::Duplicate,
                2 => UpdateReply::Gap,
                3 => UpdateReply::Refused,
                _ => return Err(bad("unknown update reply")),
            })
        })
    }
}

impl SyncReq {
    pub fn encode(&self) -> Vec<u8> {
        encode(|w| {
            put_member(w, &self.requester);
            put_claim(w, &self.claim);
            w.u64(self.version).u64(self.digest);
        })
    }
    pub fn decode(b: &[u8]) -> Result<SyncReq> {
        decode(b, |r| Ok(SyncReq { requester: get_member(r)?, claim: get_claim(r)?, version: r.u64()?, digest: r.u64()? }))
    }
}

impl SyncReply {
    pub fn encode(&self) -> Vec<u8> {
        encode(|w| match self {
            SyncReply::UpToDate { claim, version } => {
                w.u8(0);
                put_claim(w, claim);
                w.u64(*version);
            }
            SyncReply::Full(s) => {
                w.u8(1);
                put_snapshot(w, s);
            }
            SyncReply::NotMember { claim, expelled } => {
                w.u8(2);
                put_claim(w, claim);
                w.bool(*expelled);
            }
            SyncReply::NotPrimary(d) => {
                w.u8(3);
                put_redirect(w, d);
            }
        })
    }
    pub fn decode(b: &[u8]) -> Result<SyncReply> {
        decode(b, |r| {
            Ok(match r.u8()? {
                0 => SyncReply::UpToDate { claim: get_claim(r)?, version: r.u64()? },
                1 => SyncReply::Full(get_snapshot(r)?),
                2 => SyncReply::NotMember { claim: get_claim(r)?, expelled: r.bool()? },
                3 => SyncReply::NotPrimary(get_redirect(r)?),
                _ => return Err(bad("unknown sync reply")),
            })
        })
    }
}

/// Join and leave requests: the member concerned.
pub fn encode_member(m: &Member) -> Vec<u8> {
    encode(|w| put_member(w, m))
}

pub fn decode_member(b: &[u8]) -> Result<Member> {
    decode(b, get_member)
}

fn put_error(w: &mut Writer, code: i32, message: &str) {
    w.i32(code).str(message);
}

impl JoinReply {
    pub fn encode(&self) -> Vec<u8> {
        encode(|w| match self {
            JoinReply::Joined(s) => {
                w.u8(0);
                put_snapshot(w, s);
            }
            JoinReply::NotPrimary(d) => {
                w.u8(1);
                put_redirect(w, d);
            }
            JoinReply::Error { code, message } => {
                w.u8(2);
                put_error(w, *code, message);
            }
        })
    }
    pub fn decode(b: &[u8]) -> Result<JoinReply> {
        decode(b, |r| {
            Ok(match r.u8()? {
                0 => JoinReply::Joined(get_snapshot(r)?),
                1 => JoinReply::NotPrimary(get_redirect(r)?),
                2 => JoinReply::Error { code: r.i32()?, message: r.str()?.to_string() },
                _ => return Err(bad("unknown join reply")),
            })
        })
    }
}

impl LeaveReply {
    pub fn encode(&self) -> Vec<u8> {
        encode(|w| match self {
            LeaveReply::Done => {
                w.u8(0);
            }
            LeaveReply::NotMember => {
                w.u8(1);
            }
            LeaveReply::NotPrimary(d) => {
                w.u8(2);
                put_redirect(w, d);
            }
            LeaveReply::Error { code, message } => {
                w.u8(3);
                put_error(w, *code, message);
            }
        })
    }
    pub fn decode(b: &[u8]) -> Result<LeaveReply> {
        decode(b, |r| {
            Ok(match r.u8()? {
                0 => LeaveReply::Done,
                1 => LeaveReply::NotMember,
                2 => LeaveReply::NotPrimary(get_redirect(r)?),
                3 => LeaveReply::Error { code: r.i32()?, message: r.str()?.to_string() },
                _ => return Err(bad("unknown leave reply")),
            })
        })
    }
}

impl MetadataReq {
    pub fn encode(&self) -> Vec<u8> {
        encode(|w| {
            w.str(&self.key);
            match &self.value {
                Some(v) => w.bool(true).str(v),
                None => w.bool(false),
            };
        })
    }
    pub fn decode(b: &[u8]) -> Result<MetadataReq> {
        decode(b, |r| {
            let key = r.str()?.to_string();
            let value = if r.bool()? { Some(r.str()?.to_string()) } else { None };
            Ok(MetadataReq { key, value })
        })
    }
}

impl MetadataReply {
    pub fn encode(&self) -> Vec<u8> {
        encode(|w| match self {
            MetadataReply::Applied(u) => {
                w.u8(0);
                u.write(w);
            }
            MetadataReply::Unchanged => {
                w.u8(1);
            }
            MetadataReply::NotPrimary(d) => {
                w.u8(2);
                put_redirect(w, d);
            }
            MetadataReply::Error { code, message } => {
                w.u8(3);
                put_error(w, *code, message);
            }
        })
    }
    pub fn decode(b: &[u8]) -> Result<MetadataReply> {
        decode(b, |r| {
            Ok(match r.u8()? {
                0 => MetadataReply::Applied(UpdateMsg::read(r)?),
                1 => MetadataReply::Unchanged,
                2 => MetadataReply::NotPrimary(get_redirect(r)?),
                3 => MetadataReply::Error { code: r.i32()?, message: r.str()?.to_string() },
                _ => return Err(bad("unknown metadata reply")),
            })
        })
    }
}

impl WhoisReq {
    pub fn encode(&self) -> Vec<u8> {
        encode(|w| {
            put_member(w, &self.requester);
            put_claim(w, &self.claim);
            w.bool(self.suspect);
        })
    }
    pub fn decode(b: &[u8]) -> Result<WhoisReq> {
        decode(b, |r| Ok(WhoisReq { requester: get_member(r)?, claim: get_claim(r)?, suspect: r.bool()? }))
    }
}

impl WhoisReply {
    pub fn encode(&self) -> Vec<u8> {
        encode(|w| {
            w.bool(self.active);
            put_claim(w, &self.claim);
            w.bool(self.electing).u8(self.standing as u8).bool(self.primary_fresh);
        })
    }
    pub fn decode(b: &[u8]) -> Result<WhoisReply> {
        decode(b, |r| {
            let active = r.bool()?;
            let claim = get_claim(r)?;
            let electing = r.bool()?;
            let standing = match r.u8()? {
                0 => Standing::Member,
                1 => Standing::Unknown,
                2 => Standing::Expelled,
                _ => return Err(bad("unknown standing")),
            };
            Ok(WhoisReply { active, claim, electing, standing, primary_fresh: r.bool()? })
        })
    }
}

/// A handover carries the leaving primary's snapshot.
pub fn encode_handover(s: &Snapshot) -> Vec<u8> {
    encode(|w| put_snapshot(w, s))
}

pub fn decode_handover(b: &[u8]) -> Result<Snapshot> {
    decode(b, get_snapshot)
}

impl HandoverReply {
    pub fn encode(&self) -> Vec<u8> {
        vec![*self as u8]
    }
    pub fn decode(b: &[u8]) -> Result<HandoverReply> {
        decode(b, |r| {
            Ok(match r.u8()? {
                0 => HandoverReply::Accepted,
                1 => HandoverReply::Refused,
                2 => HandoverReply::Leaving,
                _ => return Err(bad("unknown handover reply")),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(a: &str, p: u16) -> Member {
        Member { address: a.into(), provider_id: p }
    }

    fn snapshot() -> Snapshot {
        let mut view = GroupView::new();
        view.add_member("na+sm://1-0", 1);
        view.add_member("na+sm://2-0", 1);
        view.add_metadata("k", "v");
        Snapshot {
            claim: Claim { term: 3, primary: member("na+sm://1-0", 1) },
            version: 9,
            view,
            tombstones: vec![Tombstone { member: member("na+sm://3-0", 1), update: Update::Died }],
        }
    }

    /// Every prefix of a valid message must fail to decode (never panic).
    fn truncations<T: std::fmt::Debug>(bytes: &[u8], dec: impl Fn(&[u8]) -> Result<T>) {
        for n in 0..bytes.len() {
            assert!(dec(&bytes[..n]).is_err(), "prefix of {n} bytes decoded");
        }
        let mut longer = bytes.to_vec();
        longer.push(0);
        assert!(dec(&longer).is_err(), "trailing byte accepted");
    }

    #[test]
    fn round_trips() {
        let c = Claim { term: 2, primary: member("na+sm://5-0", 7) };
        let u = UpdateMsg {
            claim: c.clone(),
            version: 4,
            digest_after: 99,
            change: Change::Membership { update: Update::Left, member: member("x", 1) },
        };
        let s = snapshot();

        let p = Ping { claim: c.clone(), version: 1, digest: 2 };
        assert_eq!(Ping::decode(&p.encode()).unwrap(), p);
        truncations(&p.encode(), Ping::decode);
        for r in
            [PingReply::Accepted, PingReply::Follows(c.clone()), PingReply::Refused(c.clone()), PingReply::Unknown(c.clone())]
        {
            assert_eq!(PingReply::decode(&r.encode()).unwrap(), r);
            truncations(&r.encode(), PingReply::decode);
        }
        for ch in [
            u.change.clone(),
            Change::MetadataSet { key: "a".into(), value: "b".into() },
            Change::MetadataRemove { key: "a".into() },
        ] {
            let m = UpdateMsg { change: ch, ..u.clone() };
            assert_eq!(UpdateMsg::decode(&m.encode()).unwrap(), m);
            truncations(&m.encode(), UpdateMsg::decode);
        }
        for r in [UpdateReply::Applied, UpdateReply::Duplicate, UpdateReply::Gap, UpdateReply::Refused] {
            assert_eq!(UpdateReply::decode(&r.encode()).unwrap(), r);
        }
        let q = SyncReq { requester: member("y", 2), claim: c.clone(), version: 5, digest: 6 };
        assert_eq!(SyncReq::decode(&q.encode()).unwrap(), q);
        truncations(&q.encode(), SyncReq::decode);
        let d = Redirect { claim: c.clone(), electing: true };
        for r in [
            SyncReply::UpToDate { claim: c.clone(), version: 3 },
            SyncReply::Full(s.clone()),
            SyncReply::NotMember { claim: c.clone(), expelled: true },
            SyncReply::NotPrimary(d.clone()),
        ] {
            assert_eq!(SyncReply::decode(&r.encode()).unwrap(), r);
            truncations(&r.encode(), SyncReply::decode);
        }
        let back = match SyncReply::decode(&SyncReply::Full(s.clone()).encode()).unwrap() {
            SyncReply::Full(b) => b,
            _ => unreachable!(),
        };
        assert_eq!(back.view.digest(), s.view.digest());
        for r in
            [JoinReply::Joined(s.clone()), JoinReply::NotPrimary(d.clone()), JoinReply::Error { code: 3, message: "m".into() }]
        {
            assert_eq!(JoinReply::decode(&r.encode()).unwrap(), r);
            truncations(&r.encode(), JoinReply::decode);
        }
        for r in [
            LeaveReply::Done,
            LeaveReply::NotMember,
            LeaveReply::NotPrimary(d.clone()),
            LeaveReply::Error { code: 3, message: "m".into() },
        ] {
            assert_eq!(LeaveReply::decode(&r.encode()).unwrap(), r);
            truncations(&r.encode(), LeaveReply::decode);
        }
        for m in [MetadataReq { key: "k".into(), value: Some("v".into()) }, MetadataReq { key: "k".into(), value: None }] {
            assert_eq!(MetadataReq::decode(&m.encode()).unwrap(), m);
            truncations(&m.encode(), MetadataReq::decode);
        }
        for r in [
            MetadataReply::Applied(u.clone()),
            MetadataReply::Unchanged,
            MetadataReply::NotPrimary(d.clone()),
            MetadataReply::Error { code: 11, message: "no".into() },
        ] {
            assert_eq!(MetadataReply::decode(&r.encode()).unwrap(), r);
            truncations(&r.encode(), MetadataReply::decode);
        }
        let w = WhoisReq { requester: member("z", 3), claim: c.clone(), suspect: true };
        assert_eq!(WhoisReq::decode(&w.encode()).unwrap(), w);
        truncations(&w.encode(), WhoisReq::decode);
        let wr =
            WhoisReply { active: false, claim: c.clone(), electing: true, standing: Standing::Expelled, primary_fresh: true };
        assert_eq!(WhoisReply::decode(&wr.encode()).unwrap(), wr);
        truncations(&wr.encode(), WhoisReply::decode);
        assert_eq!(decode_handover(&encode_handover(&s)).unwrap(), s);
        truncations(&encode_handover(&s), decode_handover);
        assert_eq!(decode_member(&encode_member(&member("a", 1))).unwrap(), member("a", 1));
        for r in [HandoverReply::Accepted, HandoverReply::Refused, HandoverReply::Leaving] {
            assert_eq!(HandoverReply::decode(&r.encode()).unwrap(), r);
        }
    }

    #[test]
    fn garbage_is_an_error() {
        for bytes in [&[][..], &[9][..], &[0xff; 40][..]] {
            assert!(SyncReply::decode(bytes).is_err());
            assert!(JoinReply::decode(bytes).is_err());
            assert!(UpdateMsg::decode(bytes).is_err());
            assert!(PingReply::decode(bytes).is_err());
        }
    }

    #[test]
    fn claims_order() {
        let a = Claim { term: 2, primary: member("na+sm://2-0", 1) };
        let b = Claim { term: 2, primary: member("na+sm://1-0", 1) };
        let c = Claim { term: 3, primary: member("na+sm://9-0", 1) };
        assert!(b.beats(&a) && !a.beats(&b));
        assert!(c.beats(&a) && c.beats(&b));
        assert!(!a.beats(&a));
    }
}
