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

/// Opaque pool handle (`ABT_pool`); borrows one of an engine's pools.
pub struct ABT_pool_opaque {
    _private: [u8; 0],
}
pub type ABT_pool = *mut ABT_pool_opaque;

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
            RpcError::RemoteShutdownDisabled(_) => HG_PERMISSION,
        }
    }
}
