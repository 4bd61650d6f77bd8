//! The on-the-wire fragment format.
//!
//! Every message (request or response) travels as one or more fragments.
//! Each fragment starts with a fixed header followed by the sender's
//! libfabric name (so the receiver can answer without trusting completion
//! queue source addresses, which shm does not fill reliably) and then a
//! slice of the payload. All integers are little-endian.
//!
//! ```text
//! 0  u32 magic "MOCH"     4  u8 version   5 u8 kind   6 u8 status   7 u8 sender_len
//! 8  u16 provider_id      10 u16 timeout (requests; see below)
//! 12 u64 msg_id           20 u64 rpc_id
//! 28 u32 total_len        32 u32 offset
//! 36 [sender_len bytes of sender name] [payload slice]
//! ```
//!
//! The `timeout` field (reserved, written 0 and never read, by the builds
//! before it) tells the callee how long the caller waits for the answer
//! ([`encode_timeout`]): 0 when not said, so requests from older peers read
//! as "not said", and older peers ignore it. Responses carry 0.

use std::time::Duration;

pub const MAGIC: u32 = u32::from_le_bytes(*b"MOCH");
pub const VERSION: u8 = 1;
pub const FIXED_HEADER: usize = 36;
/// Largest message we send or accept (requests and responses alike).
pub const MAX_MESSAGE: usize = 256 << 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    Request = 1,
    Response = 2,
}

/// How a request ended, carried in responses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Status {
    Ok = 0,
    /// Nobody registered an RPC of that name.
    NoSuchRpc = 1,
    /// The RPC exists but not for that provider id.
    NoSuchProvider = 2,
    /// The handler ran and reported an error (payload: message text).
    HandlerError = 3,
    /// The receiver is shutting down.
    ShuttingDown = 4,
}

impl Status {
    fn from_u8(v: u8) -> Option<Status> {
        Some(match v {
            0 => Status::Ok,
            1 => Status::NoSuchRpc,
            2 => Status::NoSuchProvider,
            3 => Status::HandlerError,
            4 => Status::ShuttingDown,
            _ => return None,
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub kind: Kind,
    pub status: Status,
    pub provider_id: u16,
    pub msg_id: u64,
    pub rpc_id: u64,
    pub total_len: u32,
    pub offset: u32,
    /// A request's timeout: how long its caller waits for the answer
    /// (`None`: not said). On the wire as [`encode_timeout`] writes it.
    pub timeout: Option<Duration>,
}

/// Largest count of one unit of the `timeout` field (its low 14 bits).
const TIMEOUT_COUNT: u64 = (1 << 14) - 1;
/// The units of the `timeout` field (its top 2 bits), finest first.
const TIMEOUT_UNITS: [Duration; 4] =
    [Duration::from_millis(1), Duration::from_secs(1), Duration::from_secs(60), Duration::from_secs(3600)];

/// The `timeout` field of a request header: 0 for `None`; else the top two
/// bits pick the unit (0: ms, 1: s, 2: min, 3: h) and the low 14 bits a count
/// of at least 1, in the finest unit that holds the timeout, rounded up (the
/// callee never reads a shorter timeout than the caller's). Up to 16 383 ms
/// to the millisecond, up to 4.5 h to the second; longer ones saturate at
/// 16 383 h (almost two years).
pub fn encode_timeout(timeout: Option<Duration>) -> u16 {
    let Some(t) = timeout else { return 0 };
    let nanos = t.as_nanos().max(1);
    for (code, unit) in TIMEOUT_UNITS.iter().enumerate() {
        let count = nanos.div_ceil(unit.as_nanos());
        if count <= u128::from(TIMEOUT_COUNT) {
            return ((code as u16) << 14) | count as u16;
        }
    }
    (3 << 14) | TIMEOUT_COUNT as u16
}

/// Reads the `timeout` field ([`encode_timeout`]); a count of 0 (whatever
/// the unit) is "not said".
pub fn decode_timeout(field: u16) -> Option<Duration> {
    let count = u64::from(field) & TIMEOUT_COUNT;
    (count != 0).then(|| TIMEOUT_UNITS[usize::from(field >> 14)] * count as u32)
}

#[derive(thiserror::Error, Debug, PartialEq, Eq)]
pub enum WireError {
    #[error("fragment of {0} bytes is shorter than a header")]
    Short(usize),
    #[error("bad magic number {0:#010x}")]
    BadMagic(u32),
    #[error("unsupported protocol version {0}")]
    BadVersion(u8),
    #[error("unknown message kind {0}")]
    BadKind(u8),
    #[error("unknown status {0}")]
    BadStatus(u8),
    #[error("sender name of {0} bytes does not fit in the fragment")]
    BadSender(usize),
    #[error("message of {0} bytes exceeds the {MAX_MESSAGE}-byte limit")]
    TooLarge(usize),
    #[error("fragment [{offset}, +{len}) lies outside a {total}-byte message")]
    OutOfBounds { offset: usize, len: usize, total: usize },
}

/// A decoded fragment borrowing from the receive buffer.
#[derive(Debug)]
pub struct Fragment<'a> {
    pub header: Header,
    pub sender: &'a [u8],
    pub data: &'a [u8],
}

/// Hash of an RPC name (FNV-1a, 64 bits): both sides derive the same id.
pub fn rpc_id(name: &str) -> u64 {
    crate::fnv::fnv1a64(name.bytes())
}

/// Writes the header and sender name into `out` (cleared first).
pub fn encode_header(out: &mut Vec<u8>, h: &Header, sender: &[u8]) {
    debug_assert!(sender.len() <= u8::MAX as usize);
    out.clear();
    out.extend_from_slice(&MAGIC.to_le_bytes());
    out.push(VERSION);
    out.push(h.kind as u8);
    out.push(h.status as u8);
    out.push(sender.len() as u8);
    out.extend_from_slice(&h.provider_id.to_le_bytes());
    let timeout = if h.kind == Kind::Request { encode_timeout(h.timeout) } else { 0 };
    out.extend_from_slice(&timeout.to_le_bytes());
    out.extend_from_slice(&h.msg_id.to_le_bytes());
    out.extend_from_slice(&h.rpc_id.to_le_bytes());
    out.extend_from_slice(&h.total_len.to_le_bytes());
    out.extend_from_slice(&h.offset.to_le_bytes());
    out.extend_from_slice(sender);
}

fn u16_at(b: &[u8], i: usize) -> u16 {
    u16::from_le_bytes([b[i], b[i + 1]])
}
fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes(b[i..i + 4].try_into().expect("4 bytes"))
}
fn u64_at(b: &[u8], i: usize) -> u64 {
    u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"))
}

/// Decodes one received fragment, validating every field.
// Written for the pre-1.82 MSRV; `is_none_or` when the lead's rewrite of src/rpc lands.
#[allow(clippy::unnecessary_map_or)]
pub fn decode(buf: &[u8]) -> Result<Fragment<'_>, WireError> {
    if buf.len() < FIXED_HEADER {
        return Err(WireError::Short(buf.len()));
    }
    let magic = u32_at(buf, 0);
    if magic != MAGIC {
        return Err(WireError::BadMagic(magic));
    }
    if buf[4] != VERSION {
        return Err(WireError::BadVersion(buf[4]));
    }
    let kind = match buf[5] {
        1 => Kind::Request,
        2 => Kind::Response,
        k => return Err(WireError::BadKind(k)),
    };
    let status = Status::from_u8(buf[6]).ok_or(WireError::BadStatus(buf[6]))?;
    let sender_len = buf[7] as usize;
    if FIXED_HEADER + sender_len > buf.len() || sender_len == 0 {
        return Err(WireError::BadSender(sender_len));
    }
    let header = Header {
        kind,
        status,
        provider_id: u16_at(buf, 8),
        msg_id: u64_at(buf, 12),
        rpc_id: u64_at(buf, 20),
        total_len: u32_at(buf, 28),
        offset: u32_at(buf, 32),
        timeout: if kind == Kind::Request { decode_timeout(u16_at(buf, 10)) } else { None },
    };
    let total = header.total_len as usize;
    if total > MAX_MESSAGE {
        return Err(WireError::TooLarge(total));
    }
    let sender = &buf[FIXED_HEADER..FIXED_HEADER + sender_len];
    let data = &buf[FIXED_HEADER + sender_len..];
    let offset = header.offset as usize;
    if offset.checked_add(data.len()).map_or(true, |end| end > total) || (data.is_empty() && total != 0) {
        return Err(WireError::OutOfBounds { offset, len: data.len(), total });
    }
    Ok(Fragment { header, sender, data })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Header {
        Header {
            kind: Kind::Request,
            status: Status::Ok,
            provider_id: 42,
            msg_id: 7,
            rpc_id: rpc_id("echo"),
            total_len: 5,
            offset: 0,
            timeout: Some(Duration::from_millis(1500)),
        }
    }

    #[test]
    fn round_trip() {
        let mut buf = Vec::new();
        encode_header(&mut buf, &sample(), b"peer");
        buf.extend_from_slice(b"hello");
        let f = decode(&buf).unwrap();
        assert_eq!(f.header, sample());
        assert_eq!(f.sender, b"peer");
        assert_eq!(f.data, b"hello");
    }

    #[test]
    fn timeouts_round_up_to_their_unit() {
        let ms = Duration::from_millis;
        let s = Duration::from_secs;
        for (given, read) in [
            (ms(1500), ms(1500)),
            (Duration::from_micros(1), ms(1)),
            (Duration::ZERO, ms(1)),
            (ms(16_383), ms(16_383)),
            (ms(16_384), s(17)),
            (s(3600), s(3600)),
            (ms(3_000_001), s(3001)),
            (s(16_384), s(16_440)),
            (s(7 * 24 * 3600), s(7 * 24 * 3600)),
            (s(16_383 * 60 + 1), s(274 * 3600)),
            (Duration::MAX, s(16_383 * 3600)),
        ] {
            let field = encode_timeout(Some(given));
            assert_ne!(field, 0, "{given:?}");
            assert_eq!(decode_timeout(field), Some(read), "{given:?}");
            // What is read is written back the same (re-encoding is stable).
            assert_eq!(decode_timeout(encode_timeout(Some(read))), Some(read), "{given:?}");
        }
        assert_eq!(encode_timeout(None), 0);
        for unit in 0..4u16 {
            assert_eq!(decode_timeout(unit << 14), None, "a count of 0 is not said");
        }
    }

    #[test]
    fn requests_carry_their_timeout_and_older_headers_read_as_not_said() {
        let mut buf = Vec::new();
        encode_header(&mut buf, &sample(), b"peer");
        buf.extend_from_slice(b"hello");
        assert_eq!(u16_at(&buf, 10), encode_timeout(Some(Duration::from_millis(1500))));
        // A peer that predates the field writes 0 there.
        buf[10..12].copy_from_slice(&[0, 0]);
        assert_eq!(decode(&buf).unwrap().header.timeout, None);
        // Responses carry none.
        let response = Header { kind: Kind::Response, ..sample() };
        encode_header(&mut buf, &response, b"peer");
        buf.extend_from_slice(b"hello");
        assert_eq!(u16_at(&buf, 10), 0);
        assert_eq!(decode(&buf).unwrap().header, Header { timeout: None, ..response });
    }

    #[test]
    fn garbage_is_rejected() {
        assert_eq!(decode(b"short").unwrap_err(), WireError::Short(5));
        let mut buf = Vec::new();
        encode_header(&mut buf, &sample(), b"peer");
        buf.extend_from_slice(b"hello");
        let mut bad = buf.clone();
        bad[0] ^= 1;
        assert!(matches!(decode(&bad), Err(WireError::BadMagic(_))));
        let mut bad = buf.clone();
        bad[5] = 9;
        assert_eq!(decode(&bad).unwrap_err(), WireError::BadKind(9));
        let mut bad = buf.clone();
        bad[7] = 200;
        assert_eq!(decode(&bad).unwrap_err(), WireError::BadSender(200));
        let mut bad = buf.clone();
        bad.push(b'!'); // one byte more than total_len
        assert!(matches!(decode(&bad), Err(WireError::OutOfBounds { .. })));
        let mut bad = buf.clone();
        bad[28..32].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(decode(&bad), Err(WireError::TooLarge(_))));
        // A cut inside the header or sender name is rejected; a cut inside
        // the data reads as a fragment of the same message (the receiver
        // waits for the rest, then drops it after its time-to-live).
        for n in 0..=FIXED_HEADER + 4 {
            assert!(decode(&buf[..n]).is_err());
        }
        for n in FIXED_HEADER + 5..buf.len() {
            let f = decode(&buf[..n]).unwrap();
            assert!(f.data.len() < f.header.total_len as usize);
        }
    }
}
