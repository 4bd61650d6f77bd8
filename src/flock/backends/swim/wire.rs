//! Messages between `swim` members (our own encoding, built on the RPC
//! codec: every read is bounds-checked, so garbage is an error, never a
//! panic). RPC names are upstream's, plus `flock_swim_sync` for anti-entropy.
//!
//! Every member → member message starts with an [`Envelope`]: who sends it
//! (address, provider id, generation, incarnation), the sender's state
//! digest, and up to [`MAX_GOSSIP`] piggy-backed gossip entries. Every reply
//! starts with a [`Status`] telling the caller how the responder sees it.

use crate::flock::error::{FlockError, Result};
use crate::rpc::codec::{DecodeError, Reader, Writer};

pub const PING: &str = "flock_swim_ping";
pub const PING_REQ: &str = "flock_swim_ping_req";
pub const ANNOUNCE: &str = "flock_swim_announce";
pub const SYNC: &str = "flock_swim_sync";

/// Gossip entries piggy-backed on one message (upstream's limit).
pub const MAX_GOSSIP: usize = 8;

/// A membership record's kind, with upstream's numbering.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Kind {
    Alive = 0,
    Suspect = 1,
    Confirm = 2,
    Join = 3,
    Leave = 4,
}

impl Kind {
    fn from_u8(v: u8) -> Option<Kind> {
        Some(match v {
            0 => Kind::Alive,
            1 => Kind::Suspect,
            2 => Kind::Confirm,
            3 => Kind::Join,
            4 => Kind::Leave,
            _ => return None,
        })
    }

    /// Confirm and Leave remove the member; the others keep it.
    pub fn is_departure(self) -> bool {
        matches!(self, Kind::Confirm | Kind::Leave)
    }
}

/// What one member says about another (or about itself).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberRecord {
    pub kind: Kind,
    pub address: String,
    pub provider_id: u16,
    /// Which instance of the provider at that address (0: not known yet).
    pub generation: u64,
    /// Raised by the member itself to refute suspicion.
    pub incarnation: u64,
}

/// One metadata entry, versioned for last-writer-wins.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetaRecord {
    pub key: String,
    /// None: the key was removed.
    pub value: Option<String>,
    pub version: u64,
    /// The member that wrote it ("" for entries of the initial view).
    pub origin: String,
    pub origin_pid: u16,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Gossip {
    Member(MemberRecord),
    Meta(MetaRecord),
}

/// The sender of a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub address: String,
    pub provider_id: u16,
    pub generation: u64,
    pub incarnation: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    pub sender: Identity,
    /// The sender's view digest, without its `__config__` entry.
    pub digest: u64,
    pub gossip: Vec<Gossip>,
}

/// How the responder sees the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// A member: the message was processed.
    Ok,
    /// Not in the responder's view; the message was ignored.
    UnknownSender,
    /// The responder has declared this instance dead (its generation and
    /// incarnation as recorded).
    DeclaredDead { generation: u64, incarnation: u64 },
    /// The responder has recorded this instance's departure.
    Left { generation: u64, incarnation: u64 },
    /// The responder is no longer a member itself (leaving, or expelled).
    NotMember,
}

/// Everything a member knows: member records (including tombstones of
/// departed members) and metadata records.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FullState {
    pub members: Vec<MemberRecord>,
    pub metadata: Vec<MetaRecord>,
}

// ---- encoding ----------------------------------------------------------

fn put_member(w: &mut Writer, m: &MemberRecord) {
    w.u8(m.kind as u8).str(&m.address).u16(m.provider_id).u64(m.generation).u64(m.incarnation);
}

fn put_meta(w: &mut Writer, m: &MetaRecord) {
    w.str(&m.key);
    match &m.value {
        Some(v) => w.bool(true).str(v),
        None => w.bool(false),
    };
    w.u64(m.version).str(&m.origin).u16(m.origin_pid);
}

fn put_envelope(w: &mut Writer, e: &Envelope) {
    w.str(&e.sender.address).u16(e.sender.provider_id).u64(e.sender.generation).u64(e.sender.incarnation);
    w.u64(e.digest);
    let n = e.gossip.len().min(MAX_GOSSIP);
    w.u32(n as u32);
    for g in &e.gossip[..n] {
        match g {
            Gossip::Member(m) => {
                w.u8(0);
                put_member(w, m);
            }
            Gossip::Meta(m) => {
                w.u8(1);
                put_meta(w, m);
            }
        }
    }
}

fn put_status(w: &mut Writer, s: Status) {
    match s {
        Status::Ok => {
            w.u8(0);
        }
        Status::UnknownSender => {
            w.u8(1);
        }
        Status::DeclaredDead { generation, incarnation } => {
            w.u8(2).u64(generation).u64(incarnation);
        }
        Status::Left { generation, incarnation } => {
            w.u8(3).u64(generation).u64(incarnation);
        }
        Status::NotMember => {
            w.u8(4);
        }
    }
}

fn put_state(w: &mut Writer, s: &FullState) {
    w.u32(s.members.len() as u32);
    for m in &s.members {
        put_member(w, m);
    }
    w.u32(s.metadata.len() as u32);
    for m in &s.metadata {
        put_meta(w, m);
    }
}

// ---- decoding ----------------------------------------------------------

fn bad(what: impl Into<String>) -> DecodeError {
    DecodeError::Invalid(what.into())
}

/// A string a C view can hold (no NUL byte), non-empty when `nonempty`.
fn text(r: &mut Reader<'_>, what: &str, nonempty: bool) -> std::result::Result<String, DecodeError> {
    let s = r.str()?;
    if s.contains('\0') {
        return Err(bad(format!("{what} contains a NUL byte")));
    }
    if nonempty && s.is_empty() {
        return Err(bad(format!("empty {what}")));
    }
    Ok(s.to_string())
}

fn get_member(r: &mut Reader<'_>) -> std::result::Result<MemberRecord, DecodeError> {
    let kind = r.u8()?;
    let kind = Kind::from_u8(kind).ok_or_else(|| bad(format!("unknown membership kind {kind}")))?;
    Ok(MemberRecord {
        kind,
        address: text(r, "address", true)?,
        provider_id: r.u16()?,
        generation: r.u64()?,
        incarnation: r.u64()?,
    })
}

fn get_meta(r: &mut Reader<'_>) -> std::result::Result<MetaRecord, DecodeError> {
    let key = text(r, "metadata key", true)?;
    let value = if r.bool()? { Some(text(r, "metadata value", false)?) } else { None };
    Ok(MetaRecord { key, value, version: r.u64()?, origin: text(r, "origin", false)?, origin_pid: r.u16()? })
}

fn get_envelope(r: &mut Reader<'_>) -> std::result::Result<Envelope, DecodeError> {
    let sender = Identity {
        address: text(r, "sender address", true)?,
        provider_id: r.u16()?,
        generation: r.u64()?,
        incarnation: r.u64()?,
    };
    let digest = r.u64()?;
    let n = r.count(1)?;
    if n > MAX_GOSSIP {
        return Err(bad(format!("{n} gossip entries (at most {MAX_GOSSIP})")));
    }
    let mut gossip = Vec::with_capacity(n);
    for _ in 0..n {
        gossip.push(match r.u8()? {
            0 => Gossip::Member(get_member(r)?),
            1 => Gossip::Meta(get_meta(r)?),
            t => return Err(bad(format!("unknown gossip entry type {t}"))),
        });
    }
    Ok(Envelope { sender, digest, gossip })
}

fn get_status(r: &mut Reader<'_>) -> std::result::Result<Status, DecodeError> {
    Ok(match r.u8()? {
        0 => Status::Ok,
        1 => Status::UnknownSender,
        2 => Status::DeclaredDead { generation: r.u64()?, incarnation: r.u64()? },
        3 => Status::Left { generation: r.u64()?, incarnation: r.u64()? },
        4 => Status::NotMember,
        s => return Err(bad(format!("unknown status {s}"))),
    })
}

fn get_state(r: &mut Reader<'_>) -> std::result::Result<FullState, DecodeError> {
    // Smallest member record: kind, 1-byte address, pid, two u64.
    let n = r.count(1 + 5 + 2 + 16)?;
    let mut members = Vec::with_capacity(n);
    for _ in 0..n {
        members.push(get_member(r)?);
    }
    let n = r.count(5 + 1 + 8 + 4 + 2)?;
    let mut metadata = Vec::with_capacity(n);
    for _ in 0..n {
        metadata.push(get_meta(r)?);
    }
    Ok(FullState { members, metadata })
}

fn finish<T>(r: Reader<'_>, v: T) -> Result<T> {
    r.end()?;
    Ok(v)
}

fn decoded<T>(v: std::result::Result<T, DecodeError>) -> Result<T> {
    v.map_err(FlockError::from)
}

// ---- messages ----------------------------------------------------------

/// `flock_swim_ping` request: the envelope.
pub fn encode_ping(e: &Envelope) -> Vec<u8> {
    let mut w = Writer::new();
    put_envelope(&mut w, e);
    w.finish()
}

pub fn decode_ping(bytes: &[u8]) -> Result<Envelope> {
    let mut r = Reader::new(bytes);
    let e = decoded(get_envelope(&mut r))?;
    finish(r, e)
}

/// `flock_swim_ping` reply: status, then the responder's envelope.
pub fn encode_ack(s: Status, e: &Envelope) -> Vec<u8> {
    let mut w = Writer::new();
    put_status(&mut w, s);
    put_envelope(&mut w, e);
    w.finish()
}

pub fn decode_ack(bytes: &[u8]) -> Result<(Status, Envelope)> {
    let mut r = Reader::new(bytes);
    let s = decoded(get_status(&mut r))?;
    let e = decoded(get_envelope(&mut r))?;
    finish(r, (s, e))
}

/// `flock_swim_ping_req` request: the envelope, then the target.
pub fn encode_ping_req(e: &Envelope, target: &str, target_pid: u16) -> Vec<u8> {
    let mut w = Writer::new();
    put_envelope(&mut w, e);
    w.str(target).u16(target_pid);
    w.finish()
}

pub fn decode_ping_req(bytes: &[u8]) -> Result<(Envelope, String, u16)> {
    let mut r = Reader::new(bytes);
    let e = decoded(get_envelope(&mut r))?;
    let target = decoded(text(&mut r, "target address", true))?;
    let pid = decoded(r.u16())?;
    finish(r, (e, target, pid))
}

/// What a helper found when it pinged the target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeResult {
    pub responded: bool,
    pub generation: u64,
    pub incarnation: u64,
}

/// `flock_swim_ping_req` reply: status, probe result, helper's envelope.
pub fn encode_ping_req_reply(s: Status, p: &ProbeResult, e: &Envelope) -> Vec<u8> {
    let mut w = Writer::new();
    put_status(&mut w, s);
    w.bool(p.responded).u64(p.generation).u64(p.incarnation);
    put_envelope(&mut w, e);
    w.finish()
}

pub fn decode_ping_req_reply(bytes: &[u8]) -> Result<(Status, ProbeResult, Envelope)> {
    let mut r = Reader::new(bytes);
    let s = decoded(get_status(&mut r))?;
    let responded = decoded(r.bool())?;
    let generation = decoded(r.u64())?;
    let incarnation = decoded(r.u64())?;
    let p = ProbeResult { responded, generation, incarnation };
    let e = decoded(get_envelope(&mut r))?;
    finish(r, (s, p, e))
}

/// `flock_swim_announce` request: JOIN or LEAVE (about the sender itself),
/// then the envelope.
pub fn encode_announce(kind: Kind, e: &Envelope) -> Vec<u8> {
    let mut w = Writer::new();
    w.u8(kind as u8);
    put_envelope(&mut w, e);
    w.finish()
}

pub fn decode_announce(bytes: &[u8]) -> Result<(Kind, Envelope)> {
    let mut r = Reader::new(bytes);
    let kind = decoded(r.u8())?;
    let kind = match Kind::from_u8(kind) {
        Some(k @ (Kind::Join | Kind::Leave)) => k,
        _ => return Err(FlockError::Other(format!("malformed Flock message: announcement of kind {kind}"))),
    };
    let e = decoded(get_envelope(&mut r))?;
    finish(r, (kind, e))
}

/// Replies of `flock_swim_announce` and `flock_swim_sync`: status, then the
/// responder's full state when it has one to share.
pub fn encode_state_reply(s: Status, state: Option<&FullState>) -> Vec<u8> {
    let mut w = Writer::new();
    put_status(&mut w, s);
    match state {
        Some(st) => {
            w.bool(true);
            put_state(&mut w, st);
        }
        None => {
            w.bool(false);
        }
    }
    w.finish()
}

pub fn decode_state_reply(bytes: &[u8]) -> Result<(Status, Option<FullState>)> {
    let mut r = Reader::new(bytes);
    let s = decoded(get_status(&mut r))?;
    let st = if decoded(r.bool())? { Some(decoded(get_state(&mut r))?) } else { None };
    finish(r, (s, st))
}

/// `flock_swim_sync` request: the envelope, then the sender's full state.
pub fn encode_sync(e: &Envelope, state: &FullState) -> Vec<u8> {
    let mut w = Writer::new();
    put_envelope(&mut w, e);
    put_state(&mut w, state);
    w.finish()
}

pub fn decode_sync(bytes: &[u8]) -> Result<(Envelope, FullState)> {
    let mut r = Reader::new(bytes);
    let e = decoded(get_envelope(&mut r))?;
    let st = decoded(get_state(&mut r))?;
    finish(r, (e, st))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(n: usize) -> Envelope {
        let mut gossip = Vec::new();
        for i in 0..n {
            gossip.push(if i % 2 == 0 {
                Gossip::Member(MemberRecord {
                    kind: Kind::Suspect,
                    address: format!("na+sm://{i}-0"),
                    provider_id: 3,
                    generation: 7,
                    incarnation: 2,
                })
            } else {
                Gossip::Meta(MetaRecord {
                    key: "k".into(),
                    value: if i % 3 == 0 { None } else { Some("v".into()) },
                    version: 4,
                    origin: "o".into(),
                    origin_pid: 1,
                })
            });
        }
        Envelope {
            sender: Identity { address: "na+sm://1-0".into(), provider_id: 1, generation: 9, incarnation: 1 },
            digest: 42,
            gossip,
        }
    }

    #[test]
    fn round_trips_and_truncations_fail() {
        let e = envelope(MAX_GOSSIP);
        let state = FullState {
            members: vec![MemberRecord {
                kind: Kind::Confirm,
                address: "a".into(),
                provider_id: 1,
                generation: 2,
                incarnation: 3,
            }],
            metadata: vec![MetaRecord { key: "k".into(), value: Some("".into()), version: 1, origin: "".into(), origin_pid: 0 }],
        };
        let p = ProbeResult { responded: true, generation: 1, incarnation: 5 };
        type Decodes = Box<dyn Fn(&[u8]) -> bool>;
        let msgs: Vec<(Vec<u8>, Decodes)> = vec![
            (encode_ping(&e), Box::new(|b| decode_ping(b).is_ok())),
            (encode_ack(Status::DeclaredDead { generation: 1, incarnation: 2 }, &e), Box::new(|b| decode_ack(b).is_ok())),
            (encode_ping_req(&e, "t", 4), Box::new(|b| decode_ping_req(b).is_ok())),
            (encode_ping_req_reply(Status::Ok, &p, &e), Box::new(|b| decode_ping_req_reply(b).is_ok())),
            (encode_announce(Kind::Join, &e), Box::new(|b| decode_announce(b).is_ok())),
            (encode_state_reply(Status::Ok, Some(&state)), Box::new(|b| decode_state_reply(b).is_ok())),
            (encode_sync(&e, &state), Box::new(|b| decode_sync(b).is_ok())),
        ];
        for (bytes, ok) in &msgs {
            assert!(ok(bytes));
            for n in 0..bytes.len() {
                assert!(!ok(&bytes[..n]), "truncated at {n} decoded");
            }
            let mut longer = bytes.clone();
            longer.push(0);
            assert!(!ok(&longer));
        }
        assert_eq!(decode_ping(&encode_ping(&e)).unwrap(), e);
        assert_eq!(decode_sync(&encode_sync(&e, &state)).unwrap(), (e.clone(), state.clone()));
        assert_eq!(
            decode_ping_req_reply(&encode_ping_req_reply(Status::Left { generation: 3, incarnation: 4 }, &p, &e)).unwrap().1,
            p
        );
    }

    #[test]
    fn garbage_is_rejected() {
        // Too many gossip entries, unknown kinds, NUL bytes, announce kinds
        // other than JOIN/LEAVE.
        let mut e = envelope(MAX_GOSSIP);
        let mut bytes = encode_ping(&e);
        let count_at = 4 + e.sender.address.len() + 2 + 8 + 8 + 8;
        bytes[count_at] = (MAX_GOSSIP + 1) as u8;
        assert!(decode_ping(&bytes).is_err());
        e.sender.address = "a\0b".into();
        assert!(decode_ping(&encode_ping(&e)).is_err());
        assert!(decode_announce(&encode_announce(Kind::Confirm, &envelope(0))).is_err());
        for junk in [&b""[..], b"\xff", b"\x00\x00\x00\x00", &[0xffu8; 64][..]] {
            assert!(decode_ping(junk).is_err());
            assert!(decode_sync(junk).is_err());
            assert!(decode_state_reply(junk).is_err());
        }
    }
}
