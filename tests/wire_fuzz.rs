//! Every decoder of bytes that arrive from the network (or from a file)
//! fed with hostile input: random bytes, streams of plausible fields
//! (small counts, short strings, known tags, so that decoding gets deep
//! into nested structures), and every truncation and many single-byte
//! mutations of valid messages. A decoder may refuse, never panic; and a
//! length field claiming gigabytes must not make it allocate them (the
//! whole run stays fast and small).
//!
//! Deterministic: a fixed-seed generator, so a failure reproduces.

use mochi::bedrock::protocol as bedrock_protocol;
use mochi::flock::backends::centralized::wire as centralized;
use mochi::flock::backends::swim::wire as swim;
use mochi::flock::protocol as flock_protocol;
use mochi::flock::view::{GroupView, Member};
use mochi::flock::view_file;
use mochi::rpc::codec::{self, Writer};
use mochi::rpc::wire;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// xorshift64*: enough randomness for fuzzing, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn random_bytes(rng: &mut Rng) -> Vec<u8> {
    let len = rng.below(96) as usize;
    (0..len).map(|_| rng.next() as u8).collect()
}

/// A stream of fields as our codec writes them, with values biased
/// towards what decoders branch on.
fn plausible_fields(rng: &mut Rng) -> Vec<u8> {
    let mut w = Writer::new();
    for _ in 0..rng.below(24) {
        match rng.below(8) {
            0 => {
                w.u8(rng.below(7) as u8);
            }
            1 => {
                w.u16(rng.below(4) as u16);
            }
            2 => {
                // a count: mostly small, sometimes absurd
                w.u32(if rng.below(10) == 0 { u32::MAX - rng.below(8) as u32 } else { rng.below(4) as u32 });
            }
            3 => {
                w.u64(rng.next());
            }
            4 => {
                w.i32(rng.below(3) as i32 - 1);
            }
            5 => {
                let words = ["na+sm://1-0", "__config__", "__type__", "", "k", "ofi+tcp://127.0.0.1:1"];
                w.str(words[rng.below(words.len() as u64) as usize]);
            }
            6 => {
                // a string whose bytes are not UTF-8
                w.bytes(&[0xff, 0xfe, rng.next() as u8]);
            }
            _ => {
                w.bool(rng.below(2) == 1);
            }
        }
    }
    w.finish()
}

/// Truncations at every length, and mutations of single bytes.
fn variants_of(valid: &[u8], rng: &mut Rng) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = (0..valid.len()).map(|n| valid[..n].to_vec()).collect();
    for i in 0..valid.len() {
        for v in [0u8, 1, 2, 0x7f, 0xff, rng.next() as u8] {
            let mut m = valid.to_vec();
            m[i] = v;
            out.push(m);
        }
    }
    let mut longer = valid.to_vec();
    longer.extend_from_slice(&[0, 1, 2]);
    out.push(longer);
    out
}

type Decoder = (&'static str, fn(&[u8]));

fn decoders() -> Vec<Decoder> {
    vec![
        ("rpc fragment", |b| {
            let _ = wire::decode(b);
        }),
        ("flock view reply", |b| {
            let _ = codec::decode::<flock_protocol::ViewReply>(b);
        }),
        ("flock status", |b| {
            let _ = codec::decode::<flock_protocol::StatusReply>(b);
        }),
        ("flock notification", |b| {
            let _ = codec::decode::<flock_protocol::Notification>(b);
        }),
        ("bedrock args", |b| {
            let _ = codec::decode::<bedrock_protocol::Args>(b);
        }),
        ("bedrock answer", |b| {
            let _ = codec::decode::<bedrock_protocol::Answer>(b);
        }),
        ("centralized ping", |b| {
            let _ = codec::decode::<centralized::Ping>(b);
        }),
        ("centralized ping reply", |b| {
            let _ = codec::decode::<centralized::PingReply>(b);
        }),
        ("centralized update", |b| {
            let _ = codec::decode::<centralized::UpdateMsg>(b);
        }),
        ("centralized sync reply", |b| {
            let _ = codec::decode::<centralized::SyncReply>(b);
        }),
        ("centralized member", |b| {
            let _ = codec::decode::<Member>(b);
        }),
        ("centralized join reply", |b| {
            let _ = codec::decode::<centralized::JoinReply>(b);
        }),
        ("centralized metadata request", |b| {
            let _ = codec::decode::<centralized::MetadataReq>(b);
        }),
        ("centralized handover", |b| {
            let _ = codec::decode::<centralized::Snapshot>(b);
        }),
        ("swim ping", |b| {
            let _ = codec::decode::<swim::Envelope>(b);
        }),
        ("swim ack", |b| {
            let _ = codec::decode::<swim::Ack>(b);
        }),
        ("swim ping-req", |b| {
            let _ = codec::decode::<swim::PingReq>(b);
        }),
        ("swim ping-req reply", |b| {
            let _ = codec::decode::<swim::PingReqReply>(b);
        }),
        ("swim announce", |b| {
            let _ = codec::decode::<swim::Announce>(b);
        }),
        ("swim state reply", |b| {
            let _ = codec::decode::<swim::StateReply>(b);
        }),
        ("swim sync", |b| {
            let _ = codec::decode::<swim::Sync>(b);
        }),
        ("view file", |b| {
            let _ = view_file::from_bytes(b);
        }),
    ]
}

/// Valid messages to mutate (one per format we can build from outside).
fn seeds() -> Vec<Vec<u8>> {
    let mut view = GroupView::new();
    view.add_member("na+sm://12-0", 1);
    view.add_member("ofi+tcp://127.0.0.1:4000", 2);
    view.add_metadata("__type__", "static");
    let mut fragment = Vec::new();
    let header = wire::Header {
        kind: wire::Kind::Request,
        status: wire::Status::Ok,
        provider_id: 3,
        msg_id: 9,
        rpc_id: 77,
        total_len: 5,
        offset: 0,
    };
    wire::encode_header(&mut fragment, &header, b"sender-name");
    fragment.extend_from_slice(b"hello");
    vec![
        fragment,
        codec::encode(&flock_protocol::ViewReply::View(view.clone())),
        codec::encode(&flock_protocol::Notification::Metadata { key: "k".into(), value: "v".into() }),
        codec::encode(&["a", "", "{\"x\":1}"][..]),
        codec::encode(&bedrock_protocol::Answer::Err(bedrock_protocol::Refusal::NotSupported("no".into()))),
        codec::encode(&Member { address: "na+sm://1-0".into(), provider_id: 4 }),
        view_file::serialize(&view).into_bytes(),
    ]
}

fn run(decoder: &Decoder, input: &[u8]) {
    let (name, f) = decoder;
    if catch_unwind(AssertUnwindSafe(|| f(input))).is_err() {
        panic!("the {name} decoder panicked on {} bytes: {:02x?}", input.len(), input);
    }
}

#[test]
fn decoders_refuse_hostile_input_without_panicking() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let decoders = decoders();
    let seeds = seeds();
    let mut inputs = 0usize;
    for decoder in &decoders {
        for _ in 0..2000 {
            run(decoder, &random_bytes(&mut rng));
            run(decoder, &plausible_fields(&mut rng));
            inputs += 2;
        }
        for seed in &seeds {
            for v in variants_of(seed, &mut rng) {
                run(decoder, &v);
                inputs += 1;
            }
        }
    }
    assert!(inputs > 100_000, "only {inputs} inputs");
}

#[test]
fn seeds_are_valid_for_their_own_decoder() {
    // Guards the fuzz test itself: if a seed stopped decoding, its
    // mutations would only exercise the first error path.
    let s = seeds();
    assert!(wire::decode(&s[0]).is_ok());
    assert!(codec::decode::<flock_protocol::ViewReply>(&s[1]).is_ok());
    assert!(codec::decode::<flock_protocol::Notification>(&s[2]).is_ok());
    assert_eq!(codec::decode::<bedrock_protocol::Args>(&s[3]).unwrap(), vec!["a", "", "{\"x\":1}"]);
    assert!(codec::decode::<bedrock_protocol::Answer>(&s[4]).is_ok());
    assert!(codec::decode::<Member>(&s[5]).is_ok());
    assert_eq!(view_file::from_bytes(&s[6]).unwrap().member_count(), 2);
}
