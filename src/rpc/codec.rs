//! The one codec of RPC payloads: every message is a serde type (the
//! protocol files hold only those types and their conversions), written and
//! read here with [postcard](https://docs.rs/postcard/1) — varint integers,
//! length-prefixed strings and byte strings, enum variants by index. Every
//! peer of one build agrees on the format by construction; the fixed fragment
//! header (`rpc::wire`) stays hand-written below it.
//!
//! Hostile input is an error, never a panic, and never a large allocation:
//! * every read is bounds-checked by postcard; a string or byte string is
//!   taken from the input before anything is allocated for it;
//! * decoding never reserves room ahead of what it has decoded: the input
//!   flavor below reports no bytes left to serde, so a collection grows as
//!   its elements actually arrive, and a forged length prefix (say, four
//!   billion entries in a ten-byte message) allocates nothing for them —
//!   it fails with [`DecodeError::Truncated`] when the input runs out;
//! * trailing bytes are refused ([`DecodeError::Trailing`]).

use postcard::de_flavors::{Flavor, Slice};
use serde::de::{SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::cell::RefCell;
use std::marker::PhantomData;

#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    #[error("payload truncated")]
    Truncated,
    #[error("a string is not UTF-8")]
    NotUtf8,
    #[error("{0} unexpected trailing bytes")]
    Trailing(usize),
    #[error("invalid value: {0}")]
    Invalid(String),
}

/// The payload of `value`. Cannot fail for our message types: postcard
/// refuses only sequences of unknown length and custom serializer errors,
/// and no message type has either (the round-trip tests encode every one).
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    match postcard::to_allocvec(value) {
        Ok(bytes) => bytes,
        Err(e) => unreachable!("a message type that postcard cannot encode ({e}): a bug in its serde derive"),
    }
}

/// Decodes a whole payload; strings and byte strings of `T` may borrow from
/// `bytes`.
pub fn decode<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, DecodeError> {
    REFUSAL.with(|r| r.borrow_mut().take());
    let mut de = postcard::Deserializer::from_flavor(NoReserve(Slice::new(bytes)));
    let value = T::deserialize(&mut de).map_err(decode_error)?;
    match de.finalize().map_err(decode_error)? {
        [] => Ok(value),
        rest => Err(DecodeError::Trailing(rest.len())),
    }
}

fn decode_error(e: postcard::Error) -> DecodeError {
    use postcard::Error as E;
    match e {
        E::DeserializeUnexpectedEnd => DecodeError::Truncated,
        E::DeserializeBadUtf8 => DecodeError::NotUtf8,
        E::SerdeDeCustom => match REFUSAL.with(|r| r.borrow_mut().take()) {
            Some(why) => DecodeError::Invalid(why),
            None => DecodeError::Invalid(e.to_string()),
        },
        other => DecodeError::Invalid(other.to_string()),
    }
}

thread_local! {
    /// The text of the last [`refuse`] on this thread: postcard's error type
    /// keeps no message of its own for custom errors.
    static REFUSAL: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// For `deserialize_with` checks of message types: refuses the message with
/// `why`, which [`decode`] reports as [`DecodeError::Invalid`].
pub fn refuse<E: serde::de::Error>(why: String) -> E {
    let e = E::custom(&why);
    REFUSAL.with(|r| *r.borrow_mut() = Some(why));
    e
}

/// Postcard's slice input, except that it tells serde nothing about the
/// bytes left: serde then sizes collections by what it has decoded, never by
/// a length prefix read from the input.
struct NoReserve<'de>(Slice<'de>);

impl<'de> Flavor<'de> for NoReserve<'de> {
    type Remainder = &'de [u8];
    type Source = &'de [u8];

    fn pop(&mut self) -> postcard::Result<u8> {
        self.0.pop()
    }
    /// "No bytes left": postcard then gives serde no size hint for a
    /// sequence longer than zero.
    fn size_hint(&self) -> Option<usize> {
        Some(0)
    }
    fn try_take_n(&mut self, ct: usize) -> postcard::Result<&'de [u8]> {
        self.0.try_take_n(ct)
    }
    fn finalize(self) -> postcard::Result<&'de [u8]> {
        self.0.finalize()
    }
}

/// A byte string borrowed from the payload (keys, values): written as one
/// length-prefixed block rather than serde's default of one element per
/// byte (same bytes on the wire, one copy instead of a loop), read without
/// copying.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Bytes<'a>(pub &'a [u8]);

impl Serialize for Bytes<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Bytes<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        <&'de [u8]>::deserialize(d).map(Bytes)
    }
}

/// For `deserialize_with`: a sequence of at most `MAX` elements; decoding
/// stops at the first element past the limit.
pub fn seq_at_most<'de, D, T, const MAX: usize>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct AtMost<T, const MAX: usize>(PhantomData<T>);
    impl<'de, T: Deserialize<'de>, const MAX: usize> Visitor<'de> for AtMost<T, MAX> {
        type Value = Vec<T>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "a sequence of at most {MAX} elements")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let mut out = Vec::new();
            while let Some(item) = seq.next_element()? {
                if out.len() == MAX {
                    return Err(refuse(format!("more than {MAX} entries")));
                }
                out.push(item);
            }
            Ok(out)
        }
    }
    d.deserialize_seq(AtMost::<T, MAX>(PhantomData))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Sample<'a> {
        a: u8,
        b: u16,
        c: u32,
        d: i32,
        e: u64,
        f: bool,
        g: String,
        #[serde(borrow)]
        h: Bytes<'a>,
        i: Vec<(String, Option<u64>)>,
    }

    fn sample() -> Sample<'static> {
        Sample {
            a: 1,
            b: 2,
            c: 3,
            d: -4,
            e: u64::MAX,
            f: true,
            g: "héllo".into(),
            h: Bytes(b"\0\x01"),
            i: vec![("x".into(), None), ("".into(), Some(7))],
        }
    }

    #[test]
    fn round_trip_truncation_and_trailing_bytes() {
        let buf = encode(&sample());
        assert_eq!(decode::<Sample<'_>>(&buf).unwrap(), sample());
        for n in 0..buf.len() {
            assert!(decode::<Sample<'_>>(&buf[..n]).is_err(), "prefix of {n} bytes decoded");
        }
        let mut longer = buf.clone();
        longer.push(0);
        assert_eq!(decode::<Sample<'_>>(&longer).unwrap_err(), DecodeError::Trailing(1));
    }

    #[test]
    fn bytes_are_borrowed_and_match_a_plain_byte_vector() {
        let buf = encode(&Bytes(b"abc"));
        assert_eq!(buf, encode(&b"abc".to_vec()));
        let back: Bytes<'_> = decode(&buf).unwrap();
        assert_eq!(back.0.as_ptr(), buf[1..].as_ptr());
    }

    #[test]
    fn forged_lengths_are_refused() {
        // A varint length of 2^63 followed by nothing, for a string, bytes
        // and a list.
        let forged = [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01];
        assert_eq!(decode::<String>(&forged).unwrap_err(), DecodeError::Truncated);
        assert_eq!(decode::<Bytes<'_>>(&forged).unwrap_err(), DecodeError::Truncated);
        assert_eq!(decode::<Vec<u64>>(&forged).unwrap_err(), DecodeError::Truncated);
        assert_eq!(decode::<String>(&[2, 0xff, 0xfe]).unwrap_err(), DecodeError::NotUtf8);
        assert!(matches!(decode::<bool>(&[2]), Err(DecodeError::Invalid(_))));
    }

    #[derive(Deserialize, Debug)]
    struct Limited {
        #[serde(deserialize_with = "seq_at_most::<_, _, 2>")]
        _v: Vec<u8>,
    }

    #[test]
    fn bounded_sequences_and_refusals_keep_their_reason() {
        assert!(decode::<Limited>(&[2, 1, 2]).is_ok());
        let e = decode::<Limited>(&[3, 1, 2, 3]).unwrap_err();
        assert_eq!(e, DecodeError::Invalid("more than 2 entries".into()));
        // The next decode on the thread does not inherit the reason.
        assert!(matches!(decode::<bool>(&[7]), Err(DecodeError::Invalid(m)) if !m.contains("entries")));
    }
}
