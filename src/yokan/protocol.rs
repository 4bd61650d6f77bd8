//! Yokan's RPCs: names and message types (encoded by `rpc::codec`; our own
//! wire format: the behaviour, not the bytes, is what matches upstream).
//!
//! Every request is an [`Operation`]: the mode, then the operation's
//! arguments; every answer a [`Reply`]: the result, or a [`Failure`]
//! carrying the `yk_return_t` and its text.

use super::error::{code, YokanError};
use crate::rpc::codec::{Bytes, DecodeError};
use serde::{Deserialize, Serialize};

pub const CHECK: &str = "yk_check";
pub const COUNT: &str = "yk_count";
pub const PUT: &str = "yk_put";
pub const EXISTS: &str = "yk_exists";
pub const LENGTH: &str = "yk_length";
pub const GET: &str = "yk_get";
pub const ERASE: &str = "yk_erase";
pub const ERASE_RANGE: &str = "yk_erase_range";
pub const LIST: &str = "yk_list";
/// Every operation on a collection of documents ([`DocArgs`]).
pub const DOC: &str = "yk_doc";
/// Twins of the operations that may block with `YOKAN_MODE_WAIT`. They run
/// on the provider's handler pool like the others; a waiting one lends its
/// execution stream (`rpc/stream.rs`), so it never holds up the pool (and
/// the put that would wake it). At most `"max_waiting_requests"` block at
/// once (`provider.rs`).
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

/// Every request: the mode, then the operation's arguments.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operation<A> {
    pub mode: i32,
    pub args: A,
}

// Arguments, per operation ([`CHECK`] and [`COUNT`] take none: `()`).

/// [`EXISTS`], [`LENGTH`], [`GET`], [`ERASE`] and their `_WAIT` twins.
pub type Keys<'a> = Vec<Bytes<'a>>;
/// [`PUT`]: (key, value) pairs.
pub type Pairs<'a> = Vec<(Bytes<'a>, Bytes<'a>)>;
/// [`ERASE_RANGE`]: the prefix of the keys to erase.
pub type Prefix<'a> = Bytes<'a>;

/// [`LIST`]: up to `max` items after `from` that pass `filter`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListArgs<'a> {
    #[serde(borrow)]
    pub from: Bytes<'a>,
    #[serde(borrow)]
    pub filter: Bytes<'a>,
    pub max: u64,
    pub with_values: bool,
}

/// [`DOC`]: an operation on the collection named `collection`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocArgs<'a> {
    pub collection: &'a str,
    #[serde(borrow)]
    pub op: DocOp<'a>,
}

/// What a [`DOC`] request does, and (after each) what its answer carries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DocOp<'a> {
    /// `()`
    Create,
    /// `()`
    Drop,
    /// `bool`
    Exists,
    /// `(u64, u64)`: the live document count and the next id.
    Record,
    /// `Vec<u64>`: the ids given.
    Store(#[serde(borrow)] Vec<Bytes<'a>>),
    /// `()`
    Update {
        ids: Vec<u64>,
        #[serde(borrow)]
        docs: Vec<Bytes<'a>>,
    },
    /// `Vec<Option<Bytes>>`
    Load(Vec<u64>),
    /// `Vec<Option<u64>>`
    Length(Vec<u64>),
    /// `()`
    Erase(Vec<u64>),
    /// `Vec<(u64, Bytes)>`: up to `max` documents from id `from` on.
    List { from: u64, max: u64, with_docs: bool },
}

/// Every answer: the operation's result, or why it failed. Results:
/// [`CHECK`] the provider's [`IDENTITY`], [`COUNT`] a `u64`, [`EXISTS`]
/// `Vec<bool>`, [`LENGTH`] `Vec<Option<u64>>` (None: absent key), [`GET`]
/// `Vec<Option<Bytes>>`, [`LIST`] `Vec<(Bytes, Bytes)>`, others `()`.
pub type Reply<T> = std::result::Result<T, Failure>;

/// A failed operation: its `yk_return_t` and the error text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    pub code: i32,
    pub detail: String,
}

impl From<&YokanError> for Failure {
    fn from(e: &YokanError) -> Failure {
        Failure { code: e.code, detail: e.detail.clone() }
    }
}

impl From<Failure> for YokanError {
    /// A failure with the success code is a broken peer, not a success.
    fn from(f: Failure) -> YokanError {
        match f.code {
            code::SUCCESS => bad_reply(DecodeError::Invalid(format!("a failure with the success code: {}", f.detail))),
            c => YokanError::new(c, f.detail),
        }
    }
}

/// Maps a decode failure of an answer (a broken peer) to a transport error.
pub fn bad_reply(e: DecodeError) -> YokanError {
    YokanError::new(code::FROM_MERCURY, format!("malformed Yokan answer: {e}"))
}

/// A success answer carrying `result`.
pub fn success<T: Serialize>(result: T) -> Vec<u8> {
    crate::rpc::codec::encode(&Reply::<T>::Ok(result))
}

/// A failure answer (the same bytes whatever the operation).
pub fn failure(e: &YokanError) -> Vec<u8> {
    crate::rpc::codec::encode(&Reply::<()>::Err(Failure::from(e)))
}

/// The result an answer carries, or the error it reports.
pub fn answer<'a, T: Deserialize<'a>>(reply: &'a [u8]) -> std::result::Result<T, YokanError> {
    crate::rpc::codec::decode::<Reply<T>>(reply).map_err(bad_reply)?.map_err(YokanError::from)
}
