//! Provider identities: the kind of service a provider id serves
//! ("yokan", "flock", a user's own), which a client may ask before
//! talking to it (margo's `margo_provider_register_identity` and
//! `margo_provider_get_identity`). Like margo, an identity is answered by
//! an RPC named [`IDENTITY_RPC`] registered at the provider's id, so a
//! provider id without one answers "no such provider"; the answer is the
//! identity encoded as margo encodes an `hg_string_t` output (a `u64`
//! little-endian `length + 1`, then the bytes), so a C program may also
//! call the RPC itself.

use super::engine::{Engine, Handler};
use super::{Address, Result, RpcError};
use std::sync::Arc;
use std::time::Duration;

/// The name of the RPC that answers a provider's identity.
pub const IDENTITY_RPC: &str = "__identity__";

/// Identities longer than this are refused (they travel in one message).
pub const MAX_IDENTITY: usize = 4096;

fn encode(identity: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + identity.len());
    out.extend_from_slice(&(identity.len() as u64 + 1).to_le_bytes());
    out.extend_from_slice(identity.as_bytes());
    out
}

fn decode(bytes: &[u8]) -> std::result::Result<Option<String>, String> {
    let Some((len, rest)) = bytes.split_first_chunk::<8>() else {
        return Err(format!("an identity answer of {} bytes (at least 8 expected)", bytes.len()));
    };
    match u64::from_le_bytes(*len) {
        0 if rest.is_empty() => Ok(None),
        n if n >= 1 && n - 1 == rest.len() as u64 => {
            String::from_utf8(rest.to_vec()).map(Some).map_err(|_| "an identity that is not UTF-8".to_string())
        }
        n => Err(format!("an identity answer announcing {n} bytes with {} present", rest.len())),
    }
}

impl Engine {
    /// Names the kind of provider at `provider_id` (replacing a previous
    /// identity).
    pub fn register_identity(&self, provider_id: u16, identity: &str) -> Result<()> {
        if identity.len() > MAX_IDENTITY || identity.contains('\0') {
            return Err(RpcError::Config(format!(
                "a provider identity must be at most {MAX_IDENTITY} bytes without NUL (got {} bytes)",
                identity.len()
            )));
        }
        let answer = encode(identity);
        let handler: Handler = Arc::new(move |_request| Ok(answer.clone()));
        self.deregister(IDENTITY_RPC, provider_id);
        self.register(IDENTITY_RPC, provider_id, None, handler)?;
        self.set_identity(provider_id, Some(identity.into()));
        Ok(())
    }

    /// Removes the identity of `provider_id`; false if it had none.
    pub fn deregister_identity(&self, provider_id: u16) -> bool {
        self.set_identity(provider_id, None);
        self.deregister(IDENTITY_RPC, provider_id)
    }

    /// Removes the identity of `provider_id` if it is `identity` (a
    /// provider leaving takes its own identity, not one another provider
    /// registered at the same id since).
    pub fn deregister_own_identity(&self, provider_id: u16, identity: &str) {
        if self.identity(provider_id).as_deref() == Some(identity) {
            self.deregister_identity(provider_id);
        }
    }

    /// The identity registered here for `provider_id`.
    pub fn registered_identity(&self, provider_id: u16) -> Option<Arc<str>> {
        self.identity(provider_id)
    }

    /// Asks `addr` for the identity of its provider `provider_id`: `None`
    /// if it has none (or no such provider).
    pub fn provider_identity(&self, addr: &Address, provider_id: u16, timeout: Duration) -> Result<Option<String>> {
        match self.call(addr, IDENTITY_RPC, provider_id, Vec::new(), timeout) {
            Ok(bytes) => decode(&bytes)
                .map_err(|what| RpcError::Remote { name: IDENTITY_RPC.to_string(), message: format!("{addr} answered {what}") }),
            Err(RpcError::NoSuchRpc(_) | RpcError::NoSuchProvider { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_round_trip_and_malformed_answers_are_refused() {
        assert_eq!(decode(&encode("yokan")).unwrap().as_deref(), Some("yokan"));
        assert_eq!(decode(&encode("")).unwrap().as_deref(), Some(""));
        assert_eq!(decode(&0u64.to_le_bytes()).unwrap(), None);
        assert!(decode(&[1, 2, 3]).is_err());
        let mut long = encode("abc");
        long.push(b'x');
        assert!(decode(&long).is_err());
        let mut huge = u64::MAX.to_le_bytes().to_vec();
        huge.push(b'a');
        assert!(decode(&huge).is_err());
    }
}
