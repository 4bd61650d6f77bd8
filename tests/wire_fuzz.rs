//! Every decoder of bytes that arrive from the network (or from a file)
//! fed with hostile input: random bytes, streams of plausible fields
//! (small counts, short strings, known tags, so that decoding gets deep
//! into nested structures), and every truncation and many single-byte
//! mutations of valid messages. A decoder may refuse, never panic; and a
//! length field claiming gigabytes must not make it allocate them (the
//! whole run stays fast and small).
//!
//! The decoders run through the coverage-guided fuzz targets' own bodies
//! (`fuzz/src/lib.rs`, included below: one source for both), so every
//! input that decodes is also checked to round-trip. Message targets take
//! a selector byte first, and each is run under every selector.
//!
//! Deterministic: a fixed-seed generator, so a failure reproduces.

#[path = "../fuzz/src/lib.rs"]
#[allow(dead_code)]
mod bodies;

use bodies::{Body, SELECTORS, TARGETS};
use mochi::rpc::codec::{self, Bytes};
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

/// A stream of fields as our codec writes them (postcard: a message is
/// its fields one after the other), with values biased towards what
/// decoders branch on.
fn plausible_fields(rng: &mut Rng) -> Vec<u8> {
    let mut out = Vec::new();
    for _ in 0..rng.below(24) {
        out.extend(match rng.below(8) {
            // a tag: enum variant, option, small integer
            0 => codec::encode(&(rng.below(7) as u8)),
            1 => codec::encode(&(rng.below(4) as u16)),
            // a count: mostly small, sometimes absurd
            2 => codec::encode(&if rng.below(10) == 0 { u64::MAX - rng.below(8) } else { rng.below(4) }),
            3 => codec::encode(&rng.next()),
            4 => codec::encode(&(rng.below(3) as i32 - 1)),
            5 => {
                let words = ["na+sm://1-0", "__config__", "__type__", "", "k", "ofi+tcp://127.0.0.1:1", "a\0b"];
                codec::encode(words[rng.below(words.len() as u64) as usize])
            }
            // a string whose bytes are not UTF-8
            6 => codec::encode(&Bytes(&[0xff, 0xfe, rng.next() as u8])),
            _ => codec::encode(&(rng.below(2) == 1)),
        });
    }
    out
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

/// A fuzz target's body, and the selector byte put before each input
/// (message targets), if any.
struct Decoder {
    name: String,
    body: Body,
    selector: Option<u8>,
}

fn decoders() -> Vec<Decoder> {
    let mut out = Vec::new();
    for &(name, body) in TARGETS {
        if name.ends_with("_messages") {
            out.extend((0..SELECTORS).map(|s| Decoder { name: format!("{name}[{s}]"), body, selector: Some(s) }));
        } else if matches!(name, "fragment" | "view_file") {
            out.push(Decoder { name: name.to_string(), body, selector: None });
        }
        // The config loaders parse text: random bytes and mutated messages
        // only reach their first error (the fuzz runner covers them).
    }
    out
}

fn run(decoder: &Decoder, input: &[u8]) {
    let mut bytes = Vec::with_capacity(input.len() + 1);
    bytes.extend(decoder.selector);
    bytes.extend_from_slice(input);
    if catch_unwind(AssertUnwindSafe(|| (decoder.body)(&bytes))).is_err() {
        panic!("the {} decoder panicked on {} bytes: {:02x?}", decoder.name, bytes.len(), bytes);
    }
}

#[test]
fn decoders_refuse_hostile_input_without_panicking() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let decoders = decoders();
    // Valid messages to mutate (without their selector byte: each is fed
    // to every decoder, under every selector), and the fragment.
    let seeds: Vec<Vec<u8>> = bodies::message_seeds()
        .into_iter()
        .map(|(target, _, bytes)| if target == "fragment" { bytes } else { bytes[1..].to_vec() })
        .collect();
    let mut inputs = 0usize;
    for decoder in &decoders {
        for _ in 0..1000 {
            run(decoder, &random_bytes(&mut rng));
            run(decoder, &plausible_fields(&mut rng));
            inputs += 2;
        }
    }
    for seed in &seeds {
        for v in variants_of(seed, &mut rng) {
            for decoder in &decoders {
                run(decoder, &v);
                inputs += 1;
            }
        }
    }
    eprintln!("{inputs} inputs through {} decoders", decoders.len());
    assert!(inputs > 100_000, "only {inputs} inputs");
}

#[test]
fn seeds_are_valid_for_their_own_target() {
    // Guards the fuzz test (and the fuzz corpus) itself: if a seed stopped
    // decoding, its mutations would only exercise the first error path.
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = bodies::text_seeds(repo);
    assert!(text.iter().any(|(t, _, _)| *t == "bedrock_config"), "no config file found under {}", repo.display());
    let mut refused = Vec::new();
    for (target, name, bytes) in bodies::message_seeds().into_iter().chain(text) {
        let (_, body) = TARGETS.iter().find(|(t, _)| *t == target).unwrap_or_else(|| panic!("no target {target}"));
        // The configs of the invalid list, and a view without members, are
        // seeds of error paths.
        let on_purpose = name.starts_with("invalid-") || (target == "view_file" && name == "empty");
        if !body(&bytes) && !on_purpose {
            refused.push(format!("{target}/{name}"));
        }
    }
    assert!(refused.is_empty(), "seeds refused by their own target: {refused:?}");
}
