//! Bedrock's management RPCs: names and message types (encoded by
//! `rpc::codec`).

use serde::{Deserialize, Serialize};
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

/// Request of every management RPC: its arguments, strings (numbers sent
/// as text where needed). Clients may encode a `[&str]`: same bytes.
pub type Args = Vec<String>;

/// Why a management request was refused, as a client needs to tell it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

/// Reply of every management RPC: the value, or why there is none.
pub type Answer = Result<String, Refusal>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::codec::{decode, encode};

    #[test]
    fn round_trips() {
        // A slice, not an array: serde writes arrays as tuples, without a length.
        assert_eq!(decode::<Args>(&encode(&["a", "", "c"][..])).unwrap(), vec!["a", "", "c"]);
        for a in [Ok("x".to_string()), Err("bad".to_string().into()), Err(Refusal::NotSupported("no".into()))] {
            assert_eq!(decode::<Answer>(&encode(&a)).unwrap(), a);
        }
        assert!(decode::<Answer>(&[9, 0]).is_err());
        assert!(decode::<Args>(&[1, 2]).is_err());
        assert!(decode::<Answer>(&[1, 7]).is_err());
    }
}
