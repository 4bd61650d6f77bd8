//! Bedrock's management RPCs: names and payloads (our own encoding).

use crate::rpc::codec::{DecodeError, Reader, Writer};
use std::time::Duration;

pub const GET_CONFIG: &str = "bedrock_get_config";
pub const QUERY_CONFIG: &str = "bedrock_query_config";
pub const ADD_POOL: &str = "bedrock_add_pool";
pub const ADD_XSTREAM: &str = "bedrock_add_xstream";
pub const REMOVE_POOL: &str = "bedrock_remove_pool";
pub const REMOVE_XSTREAM: &str = "bedrock_remove_xstream";
pub const LOOKUP_PROVIDER: &str = "bedrock_lookup_provider";
pub const LOAD_MODULE: &str = "bedrock_load_module";
pub const START_PROVIDER: &str = "bedrock_start_provider";
pub const MIGRATE_PROVIDER: &str = "bedrock_migrate_provider";
pub const SNAPSHOT_PROVIDER: &str = "bedrock_snapshot_provider";
pub const RESTORE_PROVIDER: &str = "bedrock_restore_provider";
pub const CHANGE_PROVIDER_POOL: &str = "bedrock_change_provider_pool";

/// Every management RPC answered by a Bedrock server.
pub const ALL: [&str; 13] = [
    GET_CONFIG,
    QUERY_CONFIG,
    ADD_POOL,
    ADD_XSTREAM,
    REMOVE_POOL,
    REMOVE_XSTREAM,
    LOOKUP_PROVIDER,
    LOAD_MODULE,
    START_PROVIDER,
    MIGRATE_PROVIDER,
    SNAPSHOT_PROVIDER,
    RESTORE_PROVIDER,
    CHANGE_PROVIDER_POOL,
];

/// Default timeout of client calls.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);

/// The longest a `bedrock_lookup_provider` handler waits for the provider
/// to appear, whatever timeout the caller asked for (upstream waits in a
/// cheap user-level thread; here the wait parks one of the engine's handler
/// threads, so it is bounded).
pub const MAX_LOOKUP_WAIT: Duration = Duration::from_secs(60);

/// Arguments: a list of strings (every management RPC takes strings, plus
/// numbers sent as text where needed).
pub fn encode_args(args: &[&str]) -> Vec<u8> {
    let mut w = Writer::new();
    w.u32(args.len() as u32);
    for a in args {
        w.str(a);
    }
    w.finish()
}

pub fn decode_args(bytes: &[u8]) -> Result<Vec<String>, DecodeError> {
    let mut r = Reader::new(bytes);
    let n = r.count(4)?;
    let out = (0..n).map(|_| r.str().map(str::to_string)).collect::<Result<Vec<_>, _>>()?;
    r.end()?;
    Ok(out)
}

/// Why a management request was refused, as a client needs to tell it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The request failed; the text says why.
    Failed(String),
    /// The server deliberately does not implement the request (Jx9 queries,
    /// migration, ...): clients report `BEDROCK_ERR_NOT_SUPPORTED`.
    NotSupported(String),
}

impl From<String> for Refusal {
    fn from(text: String) -> Refusal {
        Refusal::Failed(text)
    }
}

/// A management request's outcome: the value, or why there is none.
pub type Answer = Result<String, Refusal>;

// Status byte before the text (0 and 1 match the earlier boolean encoding).
const FAILED: u8 = 0;
const DONE: u8 = 1;
const NOT_SUPPORTED: u8 = 2;

pub fn encode_result(r: &Answer) -> Vec<u8> {
    let (status, text) = match r {
        Ok(v) => (DONE, v),
        Err(Refusal::Failed(e)) => (FAILED, e),
        Err(Refusal::NotSupported(e)) => (NOT_SUPPORTED, e),
    };
    let mut w = Writer::new();
    w.u8(status).str(text);
    w.finish()
}

pub fn decode_result(bytes: &[u8]) -> Result<Answer, DecodeError> {
    let mut r = Reader::new(bytes);
    let status = r.u8()?;
    let text = r.str()?.to_string();
    r.end()?;
    match status {
        DONE => Ok(Ok(text)),
        FAILED => Ok(Err(Refusal::Failed(text))),
        NOT_SUPPORTED => Ok(Err(Refusal::NotSupported(text))),
        other => Err(DecodeError::Invalid(format!("unknown answer status {other}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        assert_eq!(decode_args(&encode_args(&["a", "", "c"])).unwrap(), vec!["a", "", "c"]);
        assert_eq!(decode_result(&encode_result(&Ok("x".into()))).unwrap(), Ok("x".into()));
        assert_eq!(decode_result(&encode_result(&Err("bad".to_string().into()))).unwrap(), Err(Refusal::Failed("bad".into())));
        let no = Err(Refusal::NotSupported("no".into()));
        assert_eq!(decode_result(&encode_result(&no)).unwrap(), no);
        assert!(decode_result(&[9, 0, 0, 0, 0]).is_err());
        assert!(decode_args(&[1, 2]).is_err());
        assert!(decode_result(&[7]).is_err());
    }
}
