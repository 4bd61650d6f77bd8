//! The RPCs between the shards of a distributed Yokan database: names and
//! message types (encoded by `rpc::codec`, like every other protocol).
//!
//! * [`APPLY`] (and [`APPLY_WAIT`] for `WAIT` operations): run a client
//!   operation as the keys' primary: apply it locally, copy its effect to
//!   the other owners, answer like the plain operation.
//! * [`STORE`]: set or erase these keys, as the primary says (no routing);
//!   each write carries the primary's sequence number, so a copy never
//!   replaces a newer write of a key with an older one (see `order.rs`).
//! * [`FILL`]: store these pairs where the key is absent (moves and repairs:
//!   never overwrites a newer write).
//! * [`COUNT`], [`LIST`], [`ERASE_RANGE`]: the shard's own part of a
//!   group-wide operation (`LIST` and `ERASE_RANGE` take the client's
//!   request as is).
//! * [`INFO`]: what a group-aware client asks a shard once (see [`Info`]).
//!
//! Answers are Yokan [`Reply`](crate::yokan::protocol::Reply)s.

use crate::rpc::codec::Bytes;
use serde::{Deserialize, Serialize};

pub const APPLY: &str = "yk_d_apply";
pub const APPLY_WAIT: &str = "yk_d_apply_wait";
pub const STORE: &str = "yk_d_store";
pub const FILL: &str = "yk_d_fill";
pub const COUNT: &str = "yk_d_count";
pub const LIST: &str = "yk_d_list";
pub const ERASE_RANGE: &str = "yk_d_erase_range";
pub const INFO: &str = "yk_d_info";

/// Internal RPCs that may wait on other shards (or, `APPLY_WAIT`, for a key).
/// Like every RPC of the provider they run on its handler pool: a handler
/// lends its execution stream while it waits (`rpc/stream.rs`).
pub const ROUTED: [&str; 2] = [APPLY, APPLY_WAIT];
/// Internal RPCs that only touch the local database (they never wait on
/// anyone).
pub const LEAF: [&str; 6] = [STORE, FILL, COUNT, LIST, ERASE_RANGE, INFO];

/// How an operation reached the shard that runs it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    /// Forwards so far (a request re-routed after a view change).
    pub hops: u8,
    /// Read locally, do not route (a fall-over read at a replica).
    pub as_replica: bool,
    /// A put of one pair that is part of a multi put (upstream's mode
    /// rules differ for single and multi puts).
    pub multi: bool,
    /// Members the sender found unreachable: not owners for this request.
    pub skip: Vec<String>,
}

/// An [`APPLY`] request: the route, the operation's name and its payload
/// as the client sent it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Apply<'a> {
    pub route: Route,
    #[serde(borrow)]
    pub op: &'a str,
    #[serde(borrow)]
    pub payload: Bytes<'a>,
}

/// Each key with its new value, or `None` to erase it.
pub type Changes<'a> = Vec<(Bytes<'a>, Option<Bytes<'a>>)>;

/// A [`STORE`] request: one write's changes, as the primary applied them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Store<'a> {
    /// The primary's shard (a random number per shard: a restarted member
    /// at the same address is another sender).
    pub sender: u64,
    /// The write's place in the sender's order (per key, a copy keeps the
    /// change with the highest number).
    pub seq: u64,
    /// Every write of the sender numbered below this has finished (been
    /// acknowledged or given up): a change numbered below it is stale.
    pub mark: u64,
    #[serde(borrow)]
    pub changes: Changes<'a>,
}

/// The answer to [`INFO`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Info {
    /// Copies of each key (the shard's `"replication"`).
    pub replication: u64,
    /// The member's address as the group's view lists it.
    pub address: String,
}
/// A [`FILL`] request: (key, value) pairs.
pub type Fill<'a> = Vec<(Bytes<'a>, Bytes<'a>)>;
/// A [`COUNT`] request: the members to route around.
pub type CountArgs = Vec<String>;

/// One change a primary copies to a replica (owned form).
pub type Change = (Vec<u8>, Option<Vec<u8>>);

/// The [`STORE`] payload of `changes`, written as `seq` by `sender`.
pub fn encode_store(sender: u64, seq: u64, mark: u64, changes: &[Change]) -> Vec<u8> {
    let changes: Changes<'_> = changes.iter().map(|(k, v)| (Bytes(k), v.as_deref().map(Bytes))).collect();
    crate::rpc::codec::encode(&Store { sender, seq, mark, changes })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::codec::{decode, encode};

    #[test]
    fn round_trips() {
        let route = Route { hops: 2, as_replica: true, multi: true, skip: vec!["na+sm://1-0".into()] };
        let apply = Apply { route, op: "yk_put", payload: Bytes(b"abc") };
        let bytes = encode(&apply);
        assert_eq!(decode::<Apply<'_>>(&bytes).unwrap(), apply);
        let changes = vec![(b"k".to_vec(), Some(b"v".to_vec())), (b"gone".to_vec(), None)];
        let bytes = encode_store(7, 12, 10, &changes);
        let got: Store<'_> = decode(&bytes).unwrap();
        assert_eq!((got.sender, got.seq, got.mark), (7, 12, 10));
        assert_eq!(got.changes, vec![(Bytes(b"k"), Some(Bytes(b"v"))), (Bytes(b"gone"), None)]);
        let info = Info { replication: 2, address: "na+sm://1-0".into() };
        assert_eq!(decode::<Info>(&encode(&info)).unwrap(), info);
    }

    #[test]
    fn truncated_input_is_an_error() {
        let bytes = encode(&Apply { route: Route::default(), op: "yk_get", payload: Bytes(b"xyz") });
        for cut in 0..bytes.len() {
            assert!(decode::<Apply<'_>>(&bytes[..cut]).is_err());
        }
    }
}
