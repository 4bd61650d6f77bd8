//! Margo's provider identities (`margo_provider_register_identity` …),
//! over `rpc/identity.rs`.

use super::handles::{self, margo_instance_id};
use super::hg::{hg_addr_t, hg_return, hg_return_t};
use super::margo::{fail, handle_code, rpc_code, text};
use super::panic::guard;
use std::ffi::c_char;
use std::time::Duration;

/// How long `margo_provider_get_identity` waits for the peer.
const IDENTITY_TIMEOUT: Duration = Duration::from_secs(10);

/// Names the kind of provider at `provider_id` ("yokan", "my_service"),
/// which clients may ask with `margo_provider_get_identity`.
///
/// # Safety
/// `identity` must be NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn margo_provider_register_identity(
    mid: margo_instance_id,
    provider_id: u16,
    identity: *const c_char,
) -> hg_return_t {
    let entry = "margo_provider_register_identity";
    guard(entry, hg_return::HG_OTHER_ERROR, || {
        let engine = match handles::engine(mid) {
            Ok(e) => e,
            Err(e) => return handle_code(entry, e),
        };
        // SAFETY: NULL or NUL-terminated by the contract.
        let Some(identity) = (unsafe { text(identity) }) else {
            fail(entry, "identity is NULL or not UTF-8");
            return hg_return::HG_INVALID_ARG;
        };
        match engine.register_identity(provider_id, identity) {
            Ok(()) => hg_return::HG_SUCCESS,
            Err(e) => rpc_code(entry, &e),
        }
    })
}

/// Removes the identity of `provider_id` (`HG_NOENTRY` if it had none).
#[no_mangle]
pub extern "C" fn margo_provider_deregister_identity(mid: margo_instance_id, provider_id: u16) -> hg_return_t {
    let entry = "margo_provider_deregister_identity";
    guard(entry, hg_return::HG_OTHER_ERROR, || match handles::engine(mid) {
        Ok(e) if e.deregister_identity(provider_id) => hg_return::HG_SUCCESS,
        Ok(_) => hg_return::HG_NOENTRY,
        Err(e) => handle_code(entry, e),
    })
}

/// The identity registered here for `provider_id`, or NULL. The string
/// stays valid while the process lives.
#[no_mangle]
pub extern "C" fn margo_provider_registered_identity(mid: margo_instance_id, provider_id: u16) -> *const c_char {
    let entry = "margo_provider_registered_identity";
    guard(entry, std::ptr::null(), || {
        let engine = match handles::engine(mid) {
            Ok(e) => e,
            Err(e) => {
                fail(entry, e);
                return std::ptr::null();
            }
        };
        let Ok(strings) = handles::interned(mid) else { return std::ptr::null() };
        engine.registered_identity(provider_id).map_or(std::ptr::null(), |i| strings.c_str(&i))
    })
}

/// Asks `address` for the identity of its provider `provider_id` into
/// `buffer` (NUL-terminated; `*bufsize` its capacity in, the identity's
/// size with its NUL out). `HG_NOMEM` if the buffer is too small (then
/// `*bufsize` says how much is needed), `HG_NOENTRY` if the provider has
/// no identity or does not exist, `HG_INVALID_ARG` for a NULL argument.
///
/// # Safety
/// `address` must be NULL or a live address; `bufsize` NULL or
/// writable; `buffer` NULL or writable for `*bufsize` bytes.
#[no_mangle]
pub unsafe extern "C" fn margo_provider_get_identity(
    mid: margo_instance_id,
    address: hg_addr_t,
    provider_id: u16,
    buffer: *mut c_char,
    bufsize: *mut usize,
) -> hg_return_t {
    let entry = "margo_provider_get_identity";
    guard(entry, hg_return::HG_OTHER_ERROR, || {
        let engine = match handles::engine(mid) {
            Ok(e) => e,
            Err(e) => return handle_code(entry, e),
        };
        // SAFETY: NULL or a live address by the contract.
        let Some(addr) = (unsafe { handles::addr_ref(address) }) else {
            fail(entry, "address is NULL");
            return hg_return::HG_INVALID_ARG;
        };
        if bufsize.is_null() || buffer.is_null() {
            fail(entry, "buffer or bufsize is NULL");
            return hg_return::HG_INVALID_ARG;
        }
        let identity = match engine.provider_identity(addr, provider_id, IDENTITY_TIMEOUT) {
            Ok(Some(i)) => i,
            Ok(None) => return hg_return::HG_NOENTRY,
            Err(e) => return rpc_code(entry, &e),
        };
        let needed = identity.len() + 1;
        // SAFETY: non-NULL and writable by the contract.
        let capacity = unsafe { *bufsize };
        // SAFETY: as above.
        unsafe { *bufsize = needed };
        if capacity < needed {
            if capacity > 0 {
                // SAFETY: `buffer` is writable for `capacity > 0` bytes.
                unsafe { *buffer = 0 };
            }
            return hg_return::HG_NOMEM;
        }
        // SAFETY: `buffer` is writable for `capacity >= needed` bytes.
        unsafe {
            std::ptr::copy_nonoverlapping(identity.as_ptr().cast::<c_char>(), buffer, identity.len());
            *buffer.add(identity.len()) = 0;
        }
        hg_return::HG_SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use super::super::margo::{margo_addr_free, margo_addr_lookup, margo_addr_self, margo_finalize};
    use super::*;
    use crate::rpc::{Engine, InitOverrides, Mode};
    use std::ffi::{CStr, CString};

    fn instance(mode: Mode) -> margo_instance_id {
        handles::instance_into_c(Engine::new("na+sm", mode, "", &InitOverrides::default()).unwrap())
    }

    /// The identity of `server`'s provider `id`, asked by `client` through
    /// a buffer of `capacity` bytes.
    fn ask(client: margo_instance_id, server: margo_instance_id, id: u16, capacity: usize) -> (hg_return_t, usize, String) {
        let mut addr: hg_addr_t = std::ptr::null_mut();
        let mut self_addr: hg_addr_t = std::ptr::null_mut();
        let mut name = vec![0 as c_char; 256];
        let mut len = name.len() as u64;
        let mut buf = vec![0x7f as c_char; capacity.max(1)];
        let mut size = capacity;
        // SAFETY: live instances, writable outputs, a NUL-terminated name
        // written by margo_addr_to_string; handles freed before returning.
        unsafe {
            assert_eq!(margo_addr_self(server, &mut self_addr), hg_return::HG_SUCCESS);
            assert_eq!(
                super::super::margo::margo_addr_to_string(server, name.as_mut_ptr(), &mut len, self_addr),
                hg_return::HG_SUCCESS
            );
            assert_eq!(margo_addr_lookup(client, name.as_ptr(), &mut addr), hg_return::HG_SUCCESS);
            let rc = margo_provider_get_identity(client, addr, id, buf.as_mut_ptr(), &mut size);
            margo_addr_free(client, addr);
            margo_addr_free(server, self_addr);
            let text = if rc == hg_return::HG_SUCCESS {
                CStr::from_ptr(buf.as_ptr()).to_string_lossy().into_owned()
            } else {
                String::new()
            };
            (rc, size, text)
        }
    }

    #[test]
    fn identities_are_registered_answered_replaced_and_removed() {
        let server = instance(Mode::Server);
        let client = instance(Mode::Client);
        let kind = CString::new("my_service").unwrap();
        // SAFETY: a NUL-terminated identity.
        assert_eq!(unsafe { margo_provider_register_identity(server, 7, kind.as_ptr()) }, hg_return::HG_SUCCESS);
        let local = margo_provider_registered_identity(server, 7);
        // SAFETY: non-NULL results are NUL-terminated and live with the process.
        assert_eq!(unsafe { CStr::from_ptr(local) }.to_str().unwrap(), "my_service");
        assert!(margo_provider_registered_identity(server, 8).is_null());

        assert_eq!(ask(client, server, 7, 64), (hg_return::HG_SUCCESS, 11, "my_service".to_string()));
        let (rc, size, _) = ask(client, server, 7, 4);
        assert_eq!((rc, size), (hg_return::HG_NOMEM, 11), "too small a buffer says how much is needed");
        assert_eq!(ask(client, server, 8, 64).0, hg_return::HG_NOENTRY, "no identity at provider 8");

        let other = CString::new("another").unwrap();
        // SAFETY: as above.
        assert_eq!(unsafe { margo_provider_register_identity(server, 7, other.as_ptr()) }, hg_return::HG_SUCCESS);
        assert_eq!(ask(client, server, 7, 64).2, "another", "a second registration replaces the first");
        // SAFETY: the old pointer stays valid (kept for the process's life).
        assert_eq!(unsafe { CStr::from_ptr(local) }.to_str().unwrap(), "my_service");

        assert_eq!(margo_provider_deregister_identity(server, 7), hg_return::HG_SUCCESS);
        assert_eq!(margo_provider_deregister_identity(server, 7), hg_return::HG_NOENTRY);
        assert_eq!(ask(client, server, 7, 64).0, hg_return::HG_NOENTRY);
        // SAFETY: NULL identity and NULL buffer are refused, not read.
        unsafe {
            assert_eq!(margo_provider_register_identity(server, 7, std::ptr::null()), hg_return::HG_INVALID_ARG);
            let mut size = 8usize;
            assert_eq!(
                margo_provider_get_identity(client, std::ptr::null_mut(), 7, std::ptr::null_mut(), &mut size),
                hg_return::HG_INVALID_ARG
            );
        }
        margo_finalize(client);
        margo_finalize(server);
    }
}
