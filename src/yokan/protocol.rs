//! Yokan's RPCs: names and payloads (our own wire format; the behaviour,
//! not the bytes, is what matches upstream).
//!
//! Every request starts with the mode (`i32`); every answer with a
//! `yk_return_t` (`i32`), followed by the error text when it is not 0.

use super::error::{code, Result, YokanError};
use crate::rpc::codec::{Reader, Writer};

pub const CHECK: &str = "yk_check";
pub const COUNT: &str = "yk_count";
pub const PUT: &str = "yk_put";
pub const EXISTS: &str = "yk_exists";
pub const LENGTH: &str = "yk_length";
pub const GET: &str = "yk_get";
pub const ERASE: &str = "yk_erase";
pub const ERASE_RANGE: &str = "yk_erase_range";
pub const LIST: &str = "yk_list";
/// Twins of the operations that may block with `YOKAN_MODE_WAIT`: they run
/// on the provider's own waiting threads, so a waiter never holds up the
/// handler pool (and the put that would wake it).
pub const EXISTS_WAIT: &str = "yk_exists_wait";
pub const LENGTH_WAIT: &str = "yk_length_wait";
pub const GET_WAIT: &str = "yk_get_wait";
pub const ERASE_WAIT: &str = "yk_erase_wait";

/// What every provider answers to [`CHECK`].
pub const IDENTITY: &str = "yokan";

pub fn wait_twin(name: &str) -> Option<&'static str> {
    Some(match name {
        EXISTS => EXISTS_WAIT,
        LENGTH => LENGTH_WAIT,
        GET => GET_WAIT,
        ERASE => ERASE_WAIT,
        _ => return None,
    })
}

pub fn encode_keys(w: &mut Writer, keys: &[&[u8]]) {
    w.u32(keys.len() as u32);
    for k in keys {
        w.bytes(k);
    }
}

pub fn decode_keys<'a>(r: &mut Reader<'a>) -> Result<Vec<&'a [u8]>> {
    let n = r.count(4)?;
    (0..n).map(|_| r.bytes().map_err(YokanError::from)).collect()
}

/// A success answer with `body` written by `f`.
pub fn ok(f: impl FnOnce(&mut Writer)) -> Vec<u8> {
    let mut w = Writer::new();
    w.i32(code::SUCCESS);
    f(&mut w);
    w.finish()
}

pub fn error(e: &YokanError) -> Vec<u8> {
    let mut w = Writer::new();
    w.i32(e.code).str(&e.detail);
    w.finish()
}

/// Splits an answer: the body's reader on success, the error otherwise.
pub fn decode_reply(bytes: &[u8]) -> Result<Reader<'_>> {
    let mut r = Reader::new(bytes);
    let c = r.i32().map_err(|e| YokanError::new(code::FROM_MERCURY, format!("malformed Yokan answer: {e}")))?;
    if c == code::SUCCESS {
        return Ok(r);
    }
    let detail = r.str().unwrap_or("(no detail)").to_string();
    Err(YokanError::new(c, detail))
}

/// Maps a decode failure of an answer (a broken peer) to a transport error.
pub fn bad_reply(e: crate::rpc::codec::DecodeError) -> YokanError {
    YokanError::new(code::FROM_MERCURY, format!("malformed Yokan answer: {e}"))
}
