//! Flock's RPCs: names and message types (encoded by `rpc::codec`; our own
//! wire format, see the README: file formats and APIs are the compatibility
//! surface, not bytes).

use super::error::{FlockError, Result};
use super::view::GroupView;
use super::view::Member;
use crate::rpc::codec::DecodeError;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::time::Duration;

/// Client → any member: fetch the view unless the caller's digest matches.
pub const GET_VIEW: &str = "flock_get_view";
/// Client → member: set a metadata entry for the whole group.
pub const METADATA_SET: &str = "flock_metadata_set";
/// Client → member: start / stop receiving updates.
pub const SUBSCRIBE: &str = "flock_subscribe";
pub const UNSUBSCRIBE: &str = "flock_unsubscribe";
/// Member → subscriber (registered on the client's engine).
pub const NOTIFY: &str = "flock_notify";

/// Default timeout of client-side Flock RPCs.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);
/// Timeout of notifications pushed to subscribers.
pub const NOTIFY_TIMEOUT: Duration = Duration::from_secs(2);

/// Membership changes, with upstream's `flock_update_t` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[repr(u8)]
pub enum Update {
    Joined = 0,
    Left = 1,
    Died = 2,
    Moved = 3,
}

impl Update {
    pub fn from_u8(v: u8) -> Option<Update> {
        Some(match v {
            0 => Update::Joined,
            1 => Update::Left,
            2 => Update::Died,
            3 => Update::Moved,
            _ => return None,
        })
    }
}

impl From<DecodeError> for FlockError {
    fn from(e: DecodeError) -> Self {
        FlockError::Other(format!("malformed Flock message: {e}"))
    }
}

/// A view travels as its members and its metadata entries; the digest is
/// recomputed from them when it arrives, so a forged digest cannot make a
/// view look like another.
impl Serialize for GroupView {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        (self.members(), self.metadata()).serialize(s)
    }
}

impl<'de> Deserialize<'de> for GroupView {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let (mut members, mut metadata) = <(Vec<Member>, Vec<(String, String)>)>::deserialize(d)?;
        // In view order first, so that each insertion lands at the end (a
        // hostile order would cost a quadratic number of moves). Stable for
        // metadata: of two entries with one key, the later one still wins.
        members.sort_unstable();
        metadata.sort_by(|a, b| a.0.cmp(&b.0));
        let mut view = GroupView::new();
        for m in &members {
            view.add_member(&m.address, m.provider_id);
        }
        for (k, v) in &metadata {
            view.add_metadata(k, v);
        }
        Ok(view)
    }
}

/// `flock_get_view` and `flock_subscribe` answers: the view, unless the
/// caller's digest matched.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ViewReply {
    Unchanged,
    View(GroupView),
    Error(i32, String),
}

/// `flock_get_view` request: the digest of the caller's cached view.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetView {
    pub digest: u64,
}

/// `flock_metadata_set` request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetadataSet<'a> {
    pub key: &'a str,
    pub value: &'a str,
}

/// `flock_subscribe` / `flock_unsubscribe` request: the provider id under
/// which the caller registered its `flock_notify` handler.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    pub notify_id: u16,
}

/// A metadata change pushed between members (static backend): `None`
/// removes the key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetadataPush {
    pub key: String,
    pub value: Option<String>,
}

/// A generic "status" answer: done, or an error code with its message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StatusReply {
    Done,
    Error(i32, String),
}

impl From<&Result<()>> for StatusReply {
    fn from(result: &Result<()>) -> StatusReply {
        match result {
            Ok(()) => StatusReply::Done,
            Err(e) => StatusReply::Error(e.code(), e.to_string()),
        }
    }
}

impl StatusReply {
    pub fn into_result(self) -> Result<()> {
        match self {
            StatusReply::Done => Ok(()),
            StatusReply::Error(code, message) => Err(remote_error(code, message)),
        }
    }
}

/// The error a peer reported; code 0 (success) is not an error code, and a
/// peer that sends it is broken.
pub fn remote_error(code: i32, message: String) -> FlockError {
    match code {
        0 => FlockError::from(DecodeError::Invalid(format!("an error with the success code: {message}"))),
        code => FlockError::from_code(code, message),
    }
}

/// What a member pushes to its subscribers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Notification {
    Membership { update: Update, address: String, provider_id: u16 },
    Metadata { key: String, value: String },
    MetadataRemoved { key: String },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::codec::{decode, encode};

    #[test]
    fn views_travel_with_their_digest_recomputed() {
        let mut v = GroupView::new();
        v.add_member("na+sm://2-0", 3);
        v.add_member("na+sm://1-0", 3);
        v.add_metadata("k", "v");
        let bytes = encode(&ViewReply::View(v.clone()));
        match decode(&bytes).unwrap() {
            ViewReply::View(back) => {
                assert_eq!(back, v);
                assert_eq!(back.digest(), v.digest());
            }
            other => panic!("expected a view, got {other:?}"),
        }
        for n in 0..bytes.len() {
            assert!(decode::<ViewReply>(&bytes[..n]).is_err());
        }
        // Members out of order on the wire are sorted again.
        let unsorted = encode(&(
            vec![Member { address: "b".into(), provider_id: 1 }, Member { address: "a".into(), provider_id: 1 }],
            Vec::<(String, String)>::new(),
        ));
        let back: GroupView = decode(&unsorted).unwrap();
        assert_eq!(back.members()[0].address, "a");
        assert_eq!(back.digest(), back.compute_digest());
    }

    #[test]
    fn status_replies_carry_the_error_code() {
        let e: Result<()> = Err(FlockError::from_code(5, "no"));
        let back: StatusReply = decode(&encode(&StatusReply::from(&e))).unwrap();
        assert_eq!(back.into_result().unwrap_err().code(), 5);
        assert!(decode::<StatusReply>(&encode(&StatusReply::from(&Ok(())))).unwrap().into_result().is_ok());
        assert!(decode::<Notification>(&[9]).is_err());
    }
}
