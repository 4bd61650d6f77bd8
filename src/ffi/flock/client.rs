//! `flock-client.h`: the client object.
#![allow(non_camel_case_types)]

use super::common::{flock_return_t, ret_err, FLOCK_SUCCESS};
use crate::ffi::handles::{self, boxed_free, boxed_into_c, margo_instance_id, Owned};
use crate::ffi::hg::ABT_pool;
use crate::ffi::panic::guard;
use crate::flock::client::Client;
use crate::flock::error::code;
use crate::flock::FlockError;

/// Opaque client (`struct flock_client`).
pub struct flock_client {
    _private: [u8; 0],
}
pub type flock_client_t = *mut flock_client;

impl Owned for flock_client {
    type Rust = Client;
}

/// Creates a client on `mid`; `pool` may be `ABT_POOL_NULL` (handler pool).
///
/// # Safety
/// `client` must be NULL or writable; `pool` NULL or one of `mid`'s pools.
#[no_mangle]
pub unsafe extern "C" fn flock_client_init(
    mid: margo_instance_id,
    pool: ABT_pool,
    client: *mut flock_client_t,
) -> flock_return_t {
    guard("flock_client_init", code::OTHER, || {
        let entry = "flock_client_init";
        let engine = match handles::engine(mid) {
            Ok(e) => e,
            Err(e) => return ret_err(entry, FlockError::InvalidArgs(e.to_string())),
        };
        if client.is_null() {
            return ret_err(entry, FlockError::InvalidArgs("NULL output pointer".into()));
        }
        let pool = match (pool.is_null(), handles::pool_of(&engine, pool)) {
            (true, _) => None,
            (false, Some(p)) => Some(p),
            (false, None) => {
                return ret_err(entry, FlockError::InvalidArgs("pool does not belong to this margo instance".into()))
            }
        };
        // SAFETY: checked non-NULL above; writable by the contract.
        unsafe { *client = boxed_into_c::<flock_client>(Client::new(&engine, pool)) };
        FLOCK_SUCCESS
    })
}

/// Frees a client (group handles made from it keep working).
///
/// # Safety
/// `client` must be NULL or a live client, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn flock_client_finalize(client: flock_client_t) -> flock_return_t {
    // SAFETY: by the contract NULL or a live client, not used afterwards.
    guard("flock_client_finalize", code::OTHER, || match unsafe { boxed_free(client) } {
        None => ret_err("flock_client_finalize", FlockError::InvalidArgs("NULL client".into())),
        Some(c) => {
            let live = c.live_handles();
            if live > 0 {
                crate::warning!("flock_client_finalize: {live} group handle(s) still alive");
            }
            FLOCK_SUCCESS
        }
    })
}
