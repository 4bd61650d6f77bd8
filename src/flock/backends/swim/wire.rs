//! Messages between `swim` members (encoded by `rpc::codec`; the checks a
//! serde type cannot express — no NUL byte in a name a C view must hold,
//! non-empty addresses and keys, at most [`MAX_GOSSIP`] gossip entries, only
//! JOIN and LEAVE announcements — run while decoding, so garbage is an
//! error, never a panic). RPC names are upstream's, plus `flock_swim_sync`
//! for anti-entropy.
//!
//! Every member → member message starts with an [`Envelope`]: who sends it
//! (address, provider id, generation, incarnation), the sender's state
//! digest, and up to [`MAX_GOSSIP`] piggy-backed gossip entries. Every reply
//! starts with a [`Status`] telling the caller how the responder sees it.
//!
//! | RPC | request | reply |
//! |---|---|---|
//! | [`PING`] | [`Envelope`] | [`Ack`] |
//! | [`PING_REQ`] | [`PingReq`] | [`PingReqReply`] |
//! | [`ANNOUNCE`] | [`Announce`] | [`StateReply`] |
//! | [`SYNC`] | [`Sync`] | [`StateReply`] |

use crate::rpc::codec::{self, refuse};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub const PING: &str = "flock_swim_ping";
pub const PING_REQ: &str = "flock_swim_ping_req";
pub const ANNOUNCE: &str = "flock_swim_announce";
pub const SYNC: &str = "flock_swim_sync";

/// Gossip entries piggy-backed on one message (upstream's limit).
pub const MAX_GOSSIP: usize = 8;

/// A membership record's kind, with upstream's numbering.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[repr(u8)]
pub enum Kind {
    Alive = 0,
    Suspect = 1,
    Confirm = 2,
    Join = 3,
    Leave = 4,
}

impl Kind {
    /// Confirm and Leave remove the member; the others keep it.
    pub fn is_departure(self) -> bool {
        matches!(self, Kind::Confirm | Kind::Leave)
    }
}

/// What one member says about another (or about itself).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberRecord {
    pub kind: Kind,
    #[serde(deserialize_with = "address")]
    pub address: String,
    pub provider_id: u16,
    /// Which instance of the provider at that address (0: not known yet).
    pub generation: u64,
    /// Raised by the member itself to refute suspicion.
    pub incarnation: u64,
}

/// One metadata entry, versioned for last-writer-wins.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetaRecord {
    #[serde(deserialize_with = "key")]
    pub key: String,
    /// None: the key was removed.
    #[serde(deserialize_with = "optional_text")]
    pub value: Option<String>,
    pub version: u64,
    /// The member that wrote it ("" for entries of the initial view).
    #[serde(deserialize_with = "text")]
    pub origin: String,
    pub origin_pid: u16,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Gossip {
    Member(MemberRecord),
    Meta(MetaRecord),
}

/// The sender of a message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    #[serde(deserialize_with = "address")]
    pub address: String,
    pub provider_id: u16,
    pub generation: u64,
    pub incarnation: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    pub sender: Identity,
    /// The sender's view digest, without its `__config__` entry.
    pub digest: u64,
    /// Only the first [`MAX_GOSSIP`] entries are sent; more are refused.
    #[serde(serialize_with = "first_gossip", deserialize_with = "codec::seq_at_most::<_, _, MAX_GOSSIP>")]
    pub gossip: Vec<Gossip>,
}

/// How the responder sees the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FullState {
    pub members: Vec<MemberRecord>,
    pub metadata: Vec<MetaRecord>,
}

/// What a helper found when it pinged the target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeResult {
    pub responded: bool,
    pub generation: u64,
    pub incarnation: u64,
}

/// [`PING`] reply: how the responder sees us, and its envelope.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    pub status: Status,
    pub envelope: Envelope,
}

/// [`PING_REQ`] request: ping `target` for me.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PingReq {
    pub envelope: Envelope,
    #[serde(deserialize_with = "address")]
    pub target: String,
    pub target_pid: u16,
}

/// [`PING_REQ`] reply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PingReqReply {
    pub status: Status,
    pub probe: ProbeResult,
    pub envelope: Envelope,
}

/// [`ANNOUNCE`] request: JOIN or LEAVE (about the sender itself).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Announce {
    #[serde(deserialize_with = "announce_kind")]
    pub kind: Kind,
    pub envelope: Envelope,
}

/// Replies of [`ANNOUNCE`] and [`SYNC`]: the responder's full state when it
/// has one to share.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateReply {
    pub status: Status,
    pub state: Option<FullState>,
}

/// [`SYNC`] request: the sender's full state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sync {
    pub envelope: Envelope,
    pub state: FullState,
}

// ---- checks while decoding ------------------------------------------------

/// A string a C view can hold (no NUL byte), non-empty when `nonempty`.
fn checked<E: serde::de::Error>(s: String, what: &str, nonempty: bool) -> Result<String, E> {
    if s.contains('\0') {
        return Err(refuse(format!("{what} contains a NUL byte")));
    }
    if nonempty && s.is_empty() {
        return Err(refuse(format!("empty {what}")));
    }
    Ok(s)
}

fn address<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    checked(String::deserialize(d)?, "address", true)
}

fn key<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    checked(String::deserialize(d)?, "metadata key", true)
}

fn text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    checked(String::deserialize(d)?, "text", false)
}

fn optional_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Option::<String>::deserialize(d)?.map(|s| checked(s, "metadata value", false)).transpose()
}

fn announce_kind<'de, D: Deserializer<'de>>(d: D) -> Result<Kind, D::Error> {
    match Kind::deserialize(d)? {
        k @ (Kind::Join | Kind::Leave) => Ok(k),
        k => Err(refuse(format!("an announcement of kind {k:?}"))),
    }
}

fn first_gossip<S: Serializer>(gossip: &[Gossip], s: S) -> Result<S::Ok, S::Error> {
    gossip[..gossip.len().min(MAX_GOSSIP)].serialize(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::codec::{decode, encode, DecodeError};
    use serde::de::DeserializeOwned;

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

    fn state() -> FullState {
        FullState {
            members: vec![MemberRecord {
                kind: Kind::Confirm,
                address: "a".into(),
                provider_id: 1,
                generation: 2,
                incarnation: 3,
            }],
            metadata: vec![MetaRecord { key: "k".into(), value: Some("".into()), version: 1, origin: "".into(), origin_pid: 0 }],
        }
    }

    /// Round trip; every prefix and the message with one byte more fail.
    fn round_trip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(v: T) {
        let bytes = encode(&v);
        assert_eq!(decode::<T>(&bytes).unwrap(), v);
        for n in 0..bytes.len() {
            assert!(decode::<T>(&bytes[..n]).is_err(), "truncated at {n} decoded");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode::<T>(&longer).is_err());
    }

    #[test]
    fn round_trips_and_truncations_fail() {
        let e = envelope(MAX_GOSSIP);
        let p = ProbeResult { responded: true, generation: 1, incarnation: 5 };
        round_trip(e.clone());
        round_trip(Ack { status: Status::DeclaredDead { generation: 1, incarnation: 2 }, envelope: e.clone() });
        round_trip(PingReq { envelope: e.clone(), target: "t".into(), target_pid: 4 });
        round_trip(PingReqReply { status: Status::Left { generation: 3, incarnation: 4 }, probe: p, envelope: e.clone() });
        round_trip(Announce { kind: Kind::Join, envelope: e.clone() });
        round_trip(StateReply { status: Status::Ok, state: Some(state()) });
        round_trip(StateReply { status: Status::NotMember, state: None });
        round_trip(Sync { envelope: e, state: state() });
    }

    #[test]
    fn garbage_is_rejected() {
        // Too many gossip entries: only MAX_GOSSIP are sent, more are refused.
        let mut e = envelope(MAX_GOSSIP + 3);
        assert_eq!(decode::<Envelope>(&encode(&e)).unwrap().gossip.len(), MAX_GOSSIP);
        let mut forged = encode(&envelope(MAX_GOSSIP));
        let count_at = 1 + e.sender.address.len() + 1 + 1 + 1 + 1;
        assert_eq!(forged[count_at], MAX_GOSSIP as u8);
        forged[count_at] = (MAX_GOSSIP + 1) as u8;
        assert_eq!(decode::<Envelope>(&forged).unwrap_err(), DecodeError::Truncated);
        forged.extend_from_slice(&encode(&e.gossip[0]));
        assert_eq!(decode::<Envelope>(&forged).unwrap_err(), DecodeError::Invalid(format!("more than {MAX_GOSSIP} entries")));
        // NUL bytes, empty addresses, announce kinds other than JOIN/LEAVE.
        e.sender.address = "a\0b".into();
        assert_eq!(decode::<Envelope>(&encode(&e)).unwrap_err(), DecodeError::Invalid("address contains a NUL byte".into()));
        e.sender.address = String::new();
        assert!(decode::<Envelope>(&encode(&e)).is_err());
        let confirm = Announce { kind: Kind::Confirm, envelope: envelope(0) };
        assert!(decode::<Announce>(&encode(&confirm)).is_err());
        for junk in [&b""[..], b"\xff", b"\x00\x00\x00\x00", &[0xffu8; 64][..]] {
            assert!(decode::<Envelope>(junk).is_err());
            assert!(decode::<Sync>(junk).is_err());
            assert!(decode::<StateReply>(junk).is_err());
        }
    }
}
