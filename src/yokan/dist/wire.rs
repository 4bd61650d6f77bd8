//! The RPCs between the shards of a distributed Yokan database: names and
//! message types (encoded by `rpc::codec`, like every other protocol).
//!
//! * [`APPLY`] (and [`APPLY_WAIT_BOUNDED`] for `WAIT` operations): run a
//!   client operation as the keys' primary: apply it locally, copy its
//!   effect to the other owners, answer like the plain operation. An
//!   `APPLY_WAIT_BOUNDED` also says how long its waiter may wait
//!   ([`ApplyWait::wait_ms`]). [`APPLY_WAIT`] is the `WAIT` request of
//!   members that predate the bound (an [`Apply`], no bound): still served,
//!   and sent to a member that does not know `APPLY_WAIT_BOUNDED` ("no such
//!   RPC"), so that a group of old and new members keeps working.
//! * [`STORE`]: set or erase these keys, as the primary says (no routing);
//!   each write carries the primary's sequence number, so a copy never
//!   replaces a newer write of a key with an older one (see `order.rs`).
//! * [`FILL`]: store these pairs where the key is absent (moves and repairs:
//!   never overwrites a newer write).
//! * [`COUNT`], [`LIST`], [`ERASE_RANGE`]: the shard's own part of a
//!   group-wide operation (`LIST` and `ERASE_RANGE` take the client's
//!   request as is).
//! * [`INFO`]: what a group-aware client asks a shard once (see [`Info`]).
//! * [`STATE`]: whether the shard is still moving keys (see [`State`]).
//!
//! Answers are Yokan [`Reply`](crate::yokan::protocol::Reply)s.

use crate::rpc::codec::{decode, Bytes, DecodeError};
use serde::{Deserialize, Serialize};

pub const APPLY: &str = "yk_d_apply";
/// A `WAIT` operation without a bound (an [`Apply`]; what members that
/// predate [`APPLY_WAIT_BOUNDED`] send and serve).
pub const APPLY_WAIT: &str = "yk_d_apply_wait";
/// A `WAIT` operation with its waiter's bound (an [`ApplyWait`]).
pub const APPLY_WAIT_BOUNDED: &str = "yk_d_apply_wait_bounded";
pub const STORE: &str = "yk_d_store";
pub const FILL: &str = "yk_d_fill";
pub const COUNT: &str = "yk_d_count";
pub const LIST: &str = "yk_d_list";
pub const ERASE_RANGE: &str = "yk_d_erase_range";
pub const INFO: &str = "yk_d_info";
pub const STATE: &str = "yk_d_state";

/// Internal RPCs that may wait on other shards (or, the `APPLY_WAIT`s, for
/// a key). Like every RPC of the provider they run on its handler pool: a
/// handler lends its execution stream while it waits (`rpc/stream.rs`).
pub const ROUTED: [&str; 3] = [APPLY, APPLY_WAIT, APPLY_WAIT_BOUNDED];
/// Internal RPCs that only touch the local database (they never wait on
/// anyone).
pub const LEAF: [&str; 7] = [STORE, FILL, COUNT, LIST, ERASE_RANGE, INFO, STATE];

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

/// An [`APPLY_WAIT_BOUNDED`] request: an [`Apply`] (same fields, same
/// bytes), then how long the primary may keep its waiter. The request of a
/// member that predates the field ([`APPLY_WAIT`]) is an [`Apply`] alone:
/// [`decode_apply_wait`] reads it as "no bound".
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplyWait<'a> {
    pub route: Route,
    #[serde(borrow)]
    pub op: &'a str,
    #[serde(borrow)]
    pub payload: Bytes<'a>,
    /// How long, from its arrival, the primary may wait for the keys, in
    /// milliseconds (rounded up); past it, the waiter ends with
    /// `YOKAN_ERR_TIMEOUT` and gives its place among the provider's
    /// `"max_waiting_requests"` back. `None`: no bound (waits until the keys
    /// appear). The forwarder sends the time its own handler may still
    /// answer: what is left, when it forwards, of its caller's timeout as the
    /// caller's request carried it (`rpc::Request::deadline`), or of the
    /// bound it was itself given if the request reached it forwarded; `None`
    /// if its caller did not say (a peer that predates timeouts in request
    /// headers). The forwarder's own call waits that long plus a margin, so
    /// that the primary's answer (the keys, or the timeout) reaches it.
    /// (A primary that predates the field, which knows only [`APPLY_WAIT`],
    /// waits without bound.)
    pub wait_ms: Option<u64>,
}

/// Reads an [`APPLY_WAIT_BOUNDED`] or [`APPLY_WAIT`] request: an
/// [`ApplyWait`], or an [`Apply`] alone (a member that predates the bound):
/// no bound.
pub fn decode_apply_wait(bytes: &[u8]) -> Result<ApplyWait<'_>, DecodeError> {
    match decode::<ApplyWait<'_>>(bytes) {
        // An older peer's request ends where the bound would start.
        Err(DecodeError::Truncated) => {
            let Apply { route, op, payload } = decode::<Apply<'_>>(bytes)?;
            Ok(ApplyWait { route, op, payload, wait_ms: None })
        }
        other => other,
    }
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
/// The answer to [`STATE`]: the view a shard places keys by, and whether
/// it has moves left for it. Once every member reports the group's view
/// and no move left, no key is on its way anywhere (what an operator, or a
/// test, waits for after a join before erasing keys: an erase racing a
/// move may be undone by it, docs/distributed-yokan.md).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// The members of the shard's current view, sorted.
    pub members: Vec<String>,
    /// A view change whose keys it has not finished moving (or a move it
    /// is to try again).
    pub moving: bool,
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
    use crate::rpc::codec::encode;

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
        let state = State { members: vec!["na+sm://1-0".into(), "na+sm://2-0".into()], moving: true };
        assert_eq!(decode::<State>(&encode(&state)).unwrap(), state);
    }

    #[test]
    fn apply_wait_round_trips_and_reads_an_older_peers_request_as_unbounded() {
        let route = Route { hops: 1, as_replica: false, multi: true, skip: vec!["na+sm://2-0".into()] };
        for wait_ms in [Some(1500), Some(0), Some(u64::MAX), None] {
            let new = ApplyWait { route: route.clone(), op: "yk_get_wait", payload: Bytes(b"keys"), wait_ms };
            assert_eq!(decode_apply_wait(&encode(&new)).unwrap(), new);
        }
        // What a member built before the bound sends: an Apply alone.
        let old = Apply { route: route.clone(), op: "yk_get_wait", payload: Bytes(b"keys") };
        let old_bytes = encode(&old);
        let read = decode_apply_wait(&old_bytes).unwrap();
        assert_eq!(read, ApplyWait { route, op: "yk_get_wait", payload: Bytes(b"keys"), wait_ms: None });
        // The new form is the old one's bytes, then the bound.
        let new = ApplyWait { wait_ms: Some(1500), ..read };
        assert!(encode(&new).starts_with(&old_bytes));
    }

    #[test]
    fn a_cut_apply_wait_is_an_error_unless_cut_where_an_older_request_ends() {
        let new = ApplyWait { route: Route::default(), op: "yk_get_wait", payload: Bytes(b"xyz"), wait_ms: Some(300_000) };
        let bytes = encode(&new);
        let old_len = encode(&Apply { route: Route::default(), op: "yk_get_wait", payload: Bytes(b"xyz") }).len();
        for cut in 0..bytes.len() {
            match decode_apply_wait(&bytes[..cut]) {
                Ok(read) => assert!(cut == old_len && read.wait_ms.is_none(), "cut at {cut}: {read:?}"),
                Err(_) => assert_ne!(cut, old_len),
            }
        }
        assert!(decode_apply_wait(&[bytes.as_slice(), &[0]].concat()).is_err(), "a trailing byte");
    }

    #[test]
    fn truncated_input_is_an_error() {
        let bytes = encode(&Apply { route: Route::default(), op: "yk_get", payload: Bytes(b"xyz") });
        for cut in 0..bytes.len() {
            assert!(decode::<Apply<'_>>(&bytes[..cut]).is_err());
        }
    }
}
