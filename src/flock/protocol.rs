//! Flock's RPCs: names and payload encodings (our own wire format; see the
//! README: file formats and APIs are the compatibility surface, not bytes).

use super::error::{FlockError, Result};
use super::view::GroupView;
use crate::rpc::codec::{DecodeError, Reader, Writer};
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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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

pub fn encode_view(w: &mut Writer, view: &GroupView) {
    w.u32(view.member_count() as u32);
    for m in view.members() {
        w.str(&m.address).u16(m.provider_id);
    }
    w.u32(view.metadata_count() as u32);
    for (k, v) in view.metadata() {
        w.str(k).str(v);
    }
}

/// Decodes a view; the digest is recomputed from the content, so a forged
/// digest cannot make a view look like another.
pub fn decode_view(r: &mut Reader<'_>) -> Result<GroupView> {
    let mut view = GroupView::new();
    let n = r.count(6)?;
    for _ in 0..n {
        let address = r.str()?;
        let provider_id = r.u16()?;
        view.add_member(address, provider_id);
    }
    let n = r.count(8)?;
    for _ in 0..n {
        let key = r.str()?;
        let value = r.str()?;
        view.add_metadata(key, value);
    }
    Ok(view)
}

/// `flock_get_view` answer: the error code, then the view if it changed.
pub enum ViewReply {
    Unchanged,
    View(GroupView),
    Error(i32, String),
}

pub fn encode_view_reply(reply: &ViewReply) -> Vec<u8> {
    let mut w = Writer::new();
    match reply {
        ViewReply::Unchanged => {
            w.i32(0).bool(true);
        }
        ViewReply::View(v) => {
            w.i32(0).bool(false);
            encode_view(&mut w, v);
        }
        ViewReply::Error(code, message) => {
            w.i32(*code).str(message);
        }
    }
    w.finish()
}

pub fn decode_view_reply(bytes: &[u8]) -> Result<ViewReply> {
    let mut r = Reader::new(bytes);
    let code = r.i32()?;
    let reply = if code != 0 {
        ViewReply::Error(code, r.str()?.to_string())
    } else if r.bool()? {
        ViewReply::Unchanged
    } else {
        ViewReply::View(decode_view(&mut r)?)
    };
    r.end()?;
    Ok(reply)
}

/// A generic "status" answer: 0 or an error code with its message.
pub fn encode_status(result: &Result<()>) -> Vec<u8> {
    let mut w = Writer::new();
    match result {
        Ok(()) => {
            w.i32(0);
        }
        Err(e) => {
            w.i32(e.code()).str(&e.to_string());
        }
    }
    w.finish()
}

pub fn decode_status(bytes: &[u8]) -> Result<()> {
    let mut r = Reader::new(bytes);
    match r.i32()? {
        0 => Ok(()),
        code => Err(FlockError::from_code(code, r.str()?)),
    }
}

/// What a member pushes to its subscribers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notification {
    Membership { update: Update, address: String, provider_id: u16 },
    Metadata { key: String, value: String },
    MetadataRemoved { key: String },
}

pub fn encode_notification(n: &Notification) -> Vec<u8> {
    let mut w = Writer::new();
    match n {
        Notification::Membership { update, address, provider_id } => {
            w.u8(0).u8(*update as u8).str(address).u16(*provider_id);
        }
        Notification::Metadata { key, value } => {
            w.u8(1).str(key).str(value);
        }
        Notification::MetadataRemoved { key } => {
            w.u8(2).str(key);
        }
    }
    w.finish()
}

pub fn decode_notification(bytes: &[u8]) -> Result<Notification> {
    let mut r = Reader::new(bytes);
    let n = match r.u8()? {
        0 => {
            let update = Update::from_u8(r.u8()?).ok_or_else(|| FlockError::Other("unknown update kind".into()))?;
            Notification::Membership { update, address: r.str()?.to_string(), provider_id: r.u16()? }
        }
        1 => Notification::Metadata { key: r.str()?.to_string(), value: r.str()?.to_string() },
        2 => Notification::MetadataRemoved { key: r.str()?.to_string() },
        t => return Err(FlockError::Other(format!("unknown notification type {t}"))),
    };
    r.end()?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn view_reply_round_trip() {
        let mut v = GroupView::new();
        v.add_member("na+sm://1-0", 3);
        v.add_member("na+sm://2-0", 3);
        v.add_metadata("k", "v");
        let bytes = encode_view_reply(&ViewReply::View(v.clone()));
        match decode_view_reply(&bytes).unwrap() {
            ViewReply::View(back) => {
                assert_eq!(back, v);
                assert_eq!(back.digest(), v.digest());
            }
            _ => panic!("expected a view"),
        }
        assert!(matches!(decode_view_reply(&encode_view_reply(&ViewReply::Unchanged)).unwrap(), ViewReply::Unchanged));
        for n in 0..bytes.len() {
            assert!(decode_view_reply(&bytes[..n]).is_err());
        }
    }

    #[test]
    fn notifications_round_trip() {
        for n in [
            Notification::Membership { update: Update::Died, address: "a".into(), provider_id: 7 },
            Notification::Metadata { key: "k".into(), value: "".into() },
            Notification::MetadataRemoved { key: "k".into() },
        ] {
            assert_eq!(decode_notification(&encode_notification(&n)).unwrap(), n);
        }
        assert!(decode_notification(&[9]).is_err());
    }
}
