//! The backend's RPCs and their message types (encoded by `rpc::codec`). Names follow upstream's `flock_centralized_*`; the
//! payloads differ: every message that concerns the group carries the
//! sender's *claim* (term, primary) so that members can tell a current
//! primary from a stale one, and changes carry a version number so that a
//! follower can tell a duplicate from a gap.
//!
//! Public so that tests can forge messages.

use crate::flock::protocol::Update;
use crate::flock::view::{GroupView, Member};
use serde::{Deserialize, Serialize};

/// Primary → follower: liveness check carrying the primary's version/digest.
pub const PING: &str = "flock_centralized_ping";
/// Primary → followers: one change of the view.
pub const UPDATE: &str = "flock_centralized_membership_update";
/// Follower → primary: "here is my version and digest; send the view if it differs".
pub const SYNC: &str = "flock_centralized_get_view";
/// Member → primary: leave / join; the request is the [`Member`] concerned.
pub const LEAVE: &str = "flock_centralized_leave";
pub const JOIN: &str = "flock_centralized_join";
/// Member → primary: set or remove a metadata entry.
pub const METADATA: &str = "flock_centralized_metadata";
/// Any member → any member: who is your primary, am I a member for you?
pub const WHOIS: &str = "flock_centralized_whois";
/// Leaving primary → its successor: take over; the request is the leaving
/// primary's [`Snapshot`].
pub const HANDOVER: &str = "flock_centralized_handover";

pub const ALL: [&str; 8] = [PING, UPDATE, SYNC, LEAVE, JOIN, METADATA, WHOIS, HANDOVER];

/// Who a member believes leads the group, and since which term.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tombstone {
    pub member: Member,
    pub update: Update,
}

/// One change of the view.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Change {
    Membership { update: Update, member: Member },
    MetadataSet { key: String, value: String },
    MetadataRemove { key: String },
}

/// The primary's full state, as a follower installs it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    pub claim: Claim,
    pub version: u64,
    pub view: GroupView,
    pub tombstones: Vec<Tombstone>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ping {
    pub claim: Claim,
    pub version: u64,
    pub digest: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PingReply {
    /// The responder follows the sender.
    Accepted,
    /// The responder follows this other claim (which beats the sender's).
    Follows(Claim),
    /// The responder does not take part (expelled, joining).
    Refused(Claim),
    /// The responder is alive but does not know the sender as a member of
    /// its view (it follows this claim, and will look for the new primary
    /// through the members it knows).
    Unknown(Claim),
    /// The responder is leaving the group (its provider is being
    /// destroyed). Its leave request may have gone to a primary it knew
    /// before the sender took over, so the sender counts it as left.
    Leaving,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateMsg {
    pub claim: Claim,
    pub version: u64,
    /// The primary's digest after the change (a follower that ends up with
    /// another digest has diverged and pulls the view).
    pub digest_after: u64,
    pub change: Change,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum UpdateReply {
    Applied,
    Duplicate,
    /// Missing earlier changes: the follower pulls the view.
    Gap,
    Refused,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncReq {
    pub requester: Member,
    pub claim: Claim,
    pub version: u64,
    pub digest: u64,
}

/// "I am not the primary": where to go instead.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redirect {
    pub claim: Claim,
    /// The responder is choosing a new primary: retry shortly.
    pub electing: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum JoinReply {
    Joined(Snapshot),
    NotPrimary(Redirect),
    Error { code: i32, message: String },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LeaveReply {
    Done,
    NotMember,
    NotPrimary(Redirect),
    Error { code: i32, message: String },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetadataReq {
    pub key: String,
    /// `None` removes the entry.
    pub value: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WhoisReq {
    pub requester: Member,
    pub claim: Claim,
    /// The requester believes the primary of `claim` is dead.
    pub suspect: bool,
}

/// What the responder knows of the requester.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Standing {
    Member = 0,
    Unknown = 1,
    /// Removed from the group (declared dead or left).
    Expelled = 2,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WhoisReply {
    /// The responder takes part in the group (primary or follower).
    pub active: bool,
    pub claim: Claim,
    pub electing: bool,
    pub standing: Standing,
    /// The responder heard from its primary recently.
    pub primary_fresh: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum HandoverReply {
    Accepted,
    Refused,
    /// The member is leaving the group itself (its provider is being
    /// destroyed): not an anomaly, the whole group may be stopping.
    Leaving,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::codec::{decode, encode};
    use serde::de::DeserializeOwned;

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

    /// Round trip; every prefix of the message and the message with one
    /// byte more fail to decode (never panic).
    fn round_trip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(v: T) {
        let bytes = encode(&v);
        assert_eq!(decode::<T>(&bytes).unwrap(), v);
        for n in 0..bytes.len() {
            assert!(decode::<T>(&bytes[..n]).is_err(), "prefix of {n} bytes decoded");
        }
        let mut longer = bytes.to_vec();
        longer.push(0);
        assert!(decode::<T>(&longer).is_err(), "trailing byte accepted");
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
        round_trip(Ping { claim: c.clone(), version: 1, digest: 2 });
        for r in [
            PingReply::Accepted,
            PingReply::Follows(c.clone()),
            PingReply::Refused(c.clone()),
            PingReply::Unknown(c.clone()),
            PingReply::Leaving,
        ] {
            round_trip(r);
        }
        for ch in [
            u.change.clone(),
            Change::MetadataSet { key: "a".into(), value: "b".into() },
            Change::MetadataRemove { key: "a".into() },
        ] {
            round_trip(UpdateMsg { change: ch, ..u.clone() });
        }
        for r in [UpdateReply::Applied, UpdateReply::Duplicate, UpdateReply::Gap, UpdateReply::Refused] {
            round_trip(r);
        }
        round_trip(SyncReq { requester: member("y", 2), claim: c.clone(), version: 5, digest: 6 });
        let d = Redirect { claim: c.clone(), electing: true };
        for r in [
            SyncReply::UpToDate { claim: c.clone(), version: 3 },
            SyncReply::Full(s.clone()),
            SyncReply::NotMember { claim: c.clone(), expelled: true },
            SyncReply::NotPrimary(d.clone()),
        ] {
            round_trip(r);
        }
        let back = match decode(&encode(&SyncReply::Full(s.clone()))).unwrap() {
            SyncReply::Full(b) => b,
            _ => unreachable!(),
        };
        assert_eq!(back.view.digest(), s.view.digest());
        for r in
            [JoinReply::Joined(s.clone()), JoinReply::NotPrimary(d.clone()), JoinReply::Error { code: 3, message: "m".into() }]
        {
            round_trip(r);
        }
        for r in [
            LeaveReply::Done,
            LeaveReply::NotMember,
            LeaveReply::NotPrimary(d.clone()),
            LeaveReply::Error { code: 3, message: "m".into() },
        ] {
            round_trip(r);
        }
        round_trip(MetadataReq { key: "k".into(), value: Some("v".into()) });
        round_trip(MetadataReq { key: "k".into(), value: None });
        for r in [
            MetadataReply::Applied(u.clone()),
            MetadataReply::Unchanged,
            MetadataReply::NotPrimary(d.clone()),
            MetadataReply::Error { code: 11, message: "no".into() },
        ] {
            round_trip(r);
        }
        round_trip(WhoisReq { requester: member("z", 3), claim: c.clone(), suspect: true });
        round_trip(WhoisReply {
            active: false,
            claim: c.clone(),
            electing: true,
            standing: Standing::Expelled,
            primary_fresh: true,
        });
        round_trip(s);
        round_trip(member("a", 1));
        for r in [HandoverReply::Accepted, HandoverReply::Refused, HandoverReply::Leaving] {
            round_trip(r);
        }
    }

    #[test]
    fn garbage_is_an_error() {
        for bytes in [&[][..], &[9][..], &[0xff; 40][..]] {
            assert!(decode::<SyncReply>(bytes).is_err());
            assert!(decode::<JoinReply>(bytes).is_err());
            assert!(decode::<UpdateMsg>(bytes).is_err());
            assert!(decode::<PingReply>(bytes).is_err());
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
