//! The RPCs between the shards of a distributed Yokan database (our own
//! format, like the rest of `yokan/protocol.rs`).
//!
//! * [`APPLY`] (and [`APPLY_WAIT`] for `WAIT` operations): run a client
//!   operation as the keys' primary: apply it locally, copy its effect to
//!   the other owners, answer like the plain operation.
//! * [`STORE`]: set or erase these keys, as the primary says (no routing).
//! * [`FILL`]: store these pairs where the key is absent (moves and repairs:
//!   never overwrites a newer write).
//! * [`COUNT`], [`LIST`], [`ERASE_RANGE`]: the shard's own part of a
//!   group-wide operation.

use crate::rpc::codec::{DecodeError, Reader, Writer};

pub const APPLY: &str = "yk_d_apply";
pub const APPLY_WAIT: &str = "yk_d_apply_wait";
pub const STORE: &str = "yk_d_store";
pub const FILL: &str = "yk_d_fill";
pub const COUNT: &str = "yk_d_count";
pub const LIST: &str = "yk_d_list";
pub const ERASE_RANGE: &str = "yk_d_erase_range";

/// Internal RPCs that may wait on other shards (served by the shard's
/// routing streams).
pub const ROUTED: [&str; 2] = [APPLY, APPLY_WAIT];
/// Internal RPCs that only touch the local database (served by the leaf
/// streams: they never wait on anyone, so routing cannot deadlock on them).
pub const LEAF: [&str; 5] = [STORE, FILL, COUNT, LIST, ERASE_RANGE];

/// How an operation reached the shard that runs it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
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
/// in the client format (mode first).
pub fn encode_apply(route: &Route, op: &str, payload: &[u8]) -> Vec<u8> {
    let mut w = Writer::new();
    w.u8(route.hops).bool(route.as_replica).bool(route.multi);
    encode_strings(&mut w, &route.skip);
    w.str(op).bytes(payload);
    w.finish()
}

pub fn decode_apply(bytes: &[u8]) -> Result<(Route, &str, &[u8]), DecodeError> {
    let mut r = Reader::new(bytes);
    let hops = r.u8()?;
    let as_replica = r.bool()?;
    let multi = r.bool()?;
    let skip = decode_strings(&mut r)?;
    let op = r.str()?;
    let payload = r.bytes()?;
    r.end()?;
    Ok((Route { hops, as_replica, multi, skip }, op, payload))
}

/// One change a primary copies to a replica: a value, or an erase.
pub type Change = (Vec<u8>, Option<Vec<u8>>);

pub fn encode_changes(changes: &[Change]) -> Vec<u8> {
    let mut w = Writer::new();
    w.u32(changes.len() as u32);
    for (k, v) in changes {
        w.bytes(k).bool(v.is_some());
        if let Some(v) = v {
            w.bytes(v);
        }
    }
    w.finish()
}

/// Decoded changes, borrowing the message: (key, value or erase).
pub type ChangeRefs<'a> = Vec<(&'a [u8], Option<&'a [u8]>)>;
/// Decoded pairs, borrowing the message.
pub type PairRefs<'a> = Vec<(&'a [u8], &'a [u8])>;

pub fn decode_changes(bytes: &[u8]) -> Result<ChangeRefs<'_>, DecodeError> {
    let mut r = Reader::new(bytes);
    let n = r.count(5)?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let k = r.bytes()?;
        let v = if r.bool()? { Some(r.bytes()?) } else { None };
        out.push((k, v));
    }
    r.end()?;
    Ok(out)
}

pub fn encode_pairs(pairs: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    let mut w = Writer::new();
    w.u32(pairs.len() as u32);
    for (k, v) in pairs {
        w.bytes(k).bytes(v);
    }
    w.finish()
}

pub fn decode_pairs(bytes: &[u8]) -> Result<PairRefs<'_>, DecodeError> {
    let mut r = Reader::new(bytes);
    let n = r.count(8)?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push((r.bytes()?, r.bytes()?));
    }
    r.end()?;
    Ok(out)
}

pub fn encode_strings(w: &mut Writer, items: &[String]) {
    w.u32(items.len() as u32);
    for s in items {
        w.str(s);
    }
}

pub fn decode_strings(r: &mut Reader<'_>) -> Result<Vec<String>, DecodeError> {
    let n = r.count(4)?;
    (0..n).map(|_| r.str().map(str::to_string)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let route = Route { hops: 2, as_replica: true, multi: true, skip: vec!["na+sm://1-0".into()] };
        let bytes = encode_apply(&route, "yk_put", b"\x00\x00\x00\x00abc");
        let (r, op, p) = decode_apply(&bytes).unwrap();
        assert_eq!((r, op, p), (route, "yk_put", &b"\x00\x00\x00\x00abc"[..]));
        let changes = vec![(b"k".to_vec(), Some(b"v".to_vec())), (b"gone".to_vec(), None)];
        let bytes = encode_changes(&changes);
        let got = decode_changes(&bytes).unwrap();
        assert_eq!(got, vec![(&b"k"[..], Some(&b"v"[..])), (&b"gone"[..], None)]);
        let pairs = vec![(b"a".to_vec(), b"1".to_vec())];
        let bytes = encode_pairs(&pairs);
        assert_eq!(decode_pairs(&bytes).unwrap(), vec![(&b"a"[..], &b"1"[..])]);
    }

    #[test]
    fn truncated_input_is_an_error() {
        let bytes = encode_apply(&Route::default(), "yk_get", b"xyz");
        for cut in 0..bytes.len() {
            assert!(decode_apply(&bytes[..cut]).is_err());
        }
        assert!(decode_changes(&[0xff, 0xff, 0xff, 0x7f]).is_err());
    }
}
