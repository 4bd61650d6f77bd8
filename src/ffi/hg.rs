//! Mercury's C types as Margo clients see them, and the mapping from our
//! RPC errors to `hg_return_t`.
#![allow(non_camel_case_types)]

use crate::fabric::AddressError;
use crate::rpc::RpcError;

/// Mercury's return codes (mercury >= 2.4 numbering).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum hg_return {
    HG_SUCCESS = 0,
    HG_PERMISSION = 1,
    HG_NOENTRY = 2,
    HG_INTERRUPT = 3,
    HG_AGAIN = 4,
    HG_NOMEM = 5,
    HG_ACCESS = 6,
    HG_FAULT = 7,
    HG_BUSY = 8,
    HG_EXIST = 9,
    HG_NODEV = 10,
    HG_INVALID_ARG = 11,
    HG_PROTOCOL_ERROR = 12,
    HG_OVERFLOW = 13,
    HG_MSGSIZE = 14,
    HG_PROTONOSUPPORT = 15,
    HG_OPNOTSUPPORTED = 16,
    HG_ADDRINUSE = 17,
    HG_ADDRNOTAVAIL = 18,
    HG_HOSTUNREACH = 19,
    HG_TIMEOUT = 20,
    HG_CANCELED = 21,
    HG_IO_ERROR = 22,
    HG_CHECKSUM_ERROR = 23,
    HG_NA_ERROR = 24,
    HG_OTHER_ERROR = 25,
    HG_RETURN_MAX = 26,
}

pub type hg_return_t = hg_return;
pub type hg_size_t = u64;
pub type hg_bool_t = u8;
pub type hg_id_t = u64;

/// Opaque address handle (`hg_addr_t`); owns one `rpc::Address`.
pub struct hg_addr {
    _private: [u8; 0],
}
pub type hg_addr_t = *mut hg_addr;

/// Argobots' pool handle, declared in `abt.h` with the rest of Argobots.
pub use super::abt::ABT_pool;

impl From<&RpcError> for hg_return {
    fn from(e: &RpcError) -> hg_return {
        use hg_return::*;
        match e {
            RpcError::Address(AddressError::UnknownProtocol(_)) => HG_PROTONOSUPPORT,
            RpcError::Address(AddressError::Unresolvable { .. }) => HG_ADDRNOTAVAIL,
            RpcError::Address(_) => HG_INVALID_ARG,
            RpcError::Fabric(_) => HG_NA_ERROR,
            RpcError::Config(_) => HG_INVALID_ARG,
            RpcError::WrongProtocol { .. } => HG_PROTONOSUPPORT,
            RpcError::NoSuchRpc(_) | RpcError::NoSuchProvider { .. } | RpcError::NoSuchPool(_) => HG_NOENTRY,
            RpcError::AlreadyRegistered { .. } => HG_EXIST,
            RpcError::Remote { .. } => HG_OTHER_ERROR,
            RpcError::Timeout { .. } => HG_TIMEOUT,
            RpcError::Unreachable { .. } | RpcError::PeerGone { .. } => HG_HOSTUNREACH,
            RpcError::MessageTooLarge(_) => HG_MSGSIZE,
            RpcError::Finalized => HG_INVALID_ARG,
            RpcError::ShuttingDown => HG_CANCELED,
            RpcError::Canceled { .. } => HG_CANCELED,
            RpcError::RemoteShutdownDisabled(_) | RpcError::InUse(_) => HG_PERMISSION,
        }
    }
}

/// Opaque RPC handle (`hg_handle_t`); owns one `ffi::rpc::Handle`.
pub struct hg_handle {
    _private: [u8; 0],
}
pub type hg_handle_t = *mut hg_handle;

/// Opaque bulk handle (`hg_bulk_t`); owns one `ffi::bulk::Bulk`.
pub struct hg_bulk {
    _private: [u8; 0],
}
pub type hg_bulk_t = *mut hg_bulk;

/// A bulk transfer's direction: `HG_BULK_PUSH` (0) or `HG_BULK_PULL` (1).
/// Received as an `int` (the C enum's representation), so that a value
/// out of range is an error, not undefined behaviour; `margo.h` declares
/// it as Mercury's `enum hg_bulk_op`.
pub type hg_bulk_op_t = std::ffi::c_int;

/// Mercury's memory type of a bulk handle's buffers (`hg_mem_type_t`;
/// received as an `int`, like [`hg_bulk_op_t`]): `HG_MEM_TYPE_HOST` (0) is
/// the only one provided.
pub type hg_mem_type_t = std::ffi::c_int;

/// Mercury's `struct hg_bulk_attr` (`margo_bulk_create_attr`).
#[repr(C)]
pub struct hg_bulk_attr {
    pub mem_type: hg_mem_type_t,
    /// The device of device memory (unused for host memory).
    pub device: u64,
}

/// Opaque serialization state (`hg_proc_t`); borrows the `ffi::hg_proc::Proc`
/// of one running proc callback.
pub struct hg_proc {
    _private: [u8; 0],
}
pub type hg_proc_t = *mut hg_proc;

/// What a proc callback is asked to do.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum hg_proc_op_t {
    /// Write the fields into the payload.
    HG_ENCODE = 0,
    /// Read the fields from the payload (strings are allocated).
    HG_DECODE = 1,
    /// Release what a decode allocated.
    HG_FREE = 2,
}

/// A serialization callback (`MERCURY_GEN_PROC` writes them).
pub type hg_proc_cb_t = Option<unsafe extern "C" fn(proc: hg_proc_t, data: *mut std::ffi::c_void) -> hg_return_t>;

/// An RPC handler (`DEFINE_MARGO_RPC_HANDLER` writes them).
pub type hg_rpc_cb_t = Option<unsafe extern "C" fn(handle: hg_handle_t) -> hg_return_t>;

/// Mercury's class type: there is none here (`hg_info.hg_class` is NULL).
pub struct hg_class {
    _private: [u8; 0],
}
pub type hg_class_t = hg_class;

/// Mercury's context type: there is none here (`hg_info.context` stands
/// for the handle's margo instance; only `margo_hg_info_get_instance`
/// reads it).
pub struct hg_context {
    _private: [u8; 0],
}
pub type hg_context_t = hg_context;

/// What `margo_get_info` reports about a handle, laid out as Mercury's
/// `struct hg_info`: `addr` (the target of a call, or the caller of a
/// received request; owned by the handle, `margo_addr_dup` it to keep it)
/// and `id` (the RPC id with its provider). `hg_class` is NULL, `context`
/// an opaque stand-in (`margo_hg_info_get_instance` maps it to the
/// instance), `context_id` is 0.
#[repr(C)]
pub struct hg_info {
    pub hg_class: *mut hg_class_t,
    pub context: *mut hg_context_t,
    pub addr: hg_addr_t,
    pub id: hg_id_t,
    pub context_id: u8,
}

/// A string field of a `MERCURY_GEN_PROC` struct (decoding allocates it,
/// freeing releases it).
pub type hg_string_t = *mut std::ffi::c_char;
pub type hg_const_string_t = *const std::ffi::c_char;
