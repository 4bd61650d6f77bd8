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
use mochi::flock::protocol::Update;
use mochi::flock::view::{GroupView, Member};
use mochi::flock::view_file;
use mochi::rpc::codec::{self, Bytes};
use mochi::rpc::wire;
use mochi::yokan::protocol as yokan;
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

type Decoder = (&'static str, fn(&[u8]));

/// A decoder entry for message type `$ty` (which may borrow from the input).
macro_rules! decoder {
    ($ty:ty) => {
        (stringify!($ty), |b: &[u8]| {
            let _ = codec::decode::<$ty>(b);
        })
    };
}

fn decoders() -> Vec<Decoder> {
    use centralized::*;
    use yokan::{ListArgs, Operation, Reply};
    vec![
        ("rpc fragment", |b| {
            let _ = wire::decode(b);
        }),
        ("view file", |b| {
            let _ = view_file::from_bytes(b);
        }),
        decoder!(flock_protocol::ViewReply),
        decoder!(flock_protocol::GetView),
        decoder!(flock_protocol::MetadataSet<'_>),
        decoder!(flock_protocol::Subscription),
        decoder!(flock_protocol::MetadataPush),
        decoder!(flock_protocol::StatusReply),
        decoder!(flock_protocol::Notification),
        decoder!(bedrock_protocol::Args),
        decoder!(bedrock_protocol::Answer),
        decoder!(Member),
        decoder!(Ping),
        decoder!(PingReply),
        decoder!(UpdateMsg),
        decoder!(UpdateReply),
        decoder!(SyncReq),
        decoder!(SyncReply),
        decoder!(JoinReply),
        decoder!(LeaveReply),
        decoder!(MetadataReq),
        decoder!(MetadataReply),
        decoder!(WhoisReq),
        decoder!(WhoisReply),
        decoder!(Snapshot),
        decoder!(HandoverReply),
        decoder!(swim::Envelope),
        decoder!(swim::Ack),
        decoder!(swim::PingReq),
        decoder!(swim::PingReqReply),
        decoder!(swim::Announce),
        decoder!(swim::StateReply),
        decoder!(swim::Sync),
        decoder!(Operation<()>),
        decoder!(Operation<yokan::Keys<'_>>),
        decoder!(Operation<yokan::Pairs<'_>>),
        decoder!(Operation<yokan::Prefix<'_>>),
        decoder!(Operation<ListArgs<'_>>),
        decoder!(Reply<String>),
        decoder!(Reply<u64>),
        decoder!(Reply<()>),
        decoder!(Reply<Vec<bool>>),
        decoder!(Reply<Vec<Option<u64>>>),
        decoder!(Reply<Vec<Option<Bytes<'_>>>>),
        decoder!(Reply<Vec<(Bytes<'_>, Bytes<'_>)>>),
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
    let member = Member { address: "na+sm://1-0".into(), provider_id: 4 };
    let claim = centralized::Claim { term: 2, primary: member.clone() };
    let envelope = swim::Envelope {
        sender: swim::Identity { address: "na+sm://1-0".into(), provider_id: 1, generation: 9, incarnation: 1 },
        digest: 42,
        gossip: vec![
            swim::Gossip::Member(swim::MemberRecord {
                kind: swim::Kind::Suspect,
                address: "na+sm://2-0".into(),
                provider_id: 1,
                generation: 3,
                incarnation: 0,
            }),
            swim::Gossip::Meta(swim::MetaRecord {
                key: "k".into(),
                value: Some("v".into()),
                version: 2,
                origin: "na+sm://1-0".into(),
                origin_pid: 1,
            }),
        ],
    };
    let keys = [Bytes(b"key"), Bytes(b"other")];
    vec![
        fragment,
        codec::encode(&flock_protocol::ViewReply::View(view.clone())),
        codec::encode(&flock_protocol::Notification::Metadata { key: "k".into(), value: "v".into() }),
        codec::encode(&["a", "", "{\"x\":1}"][..]),
        codec::encode(&bedrock_protocol::Answer::Err(bedrock_protocol::Refusal::NotSupported("no".into()))),
        codec::encode(&member),
        view_file::serialize(&view).into_bytes(),
        codec::encode(&centralized::SyncReply::Full(centralized::Snapshot {
            claim: claim.clone(),
            version: 7,
            view: view.clone(),
            tombstones: vec![centralized::Tombstone { member: member.clone(), update: Update::Died }],
        })),
        codec::encode(&centralized::MetadataReply::Applied(centralized::UpdateMsg {
            claim,
            version: 8,
            digest_after: 1,
            change: centralized::Change::MetadataSet { key: "k".into(), value: "v".into() },
        })),
        codec::encode(&swim::Sync { envelope: envelope.clone(), state: swim::FullState { members: vec![], metadata: vec![] } }),
        codec::encode(&swim::PingReqReply {
            status: swim::Status::Left { generation: 1, incarnation: 2 },
            probe: swim::ProbeResult { responded: true, generation: 1, incarnation: 2 },
            envelope,
        }),
        codec::encode(&yokan::Operation { mode: 0x400, args: keys.iter().zip(&keys).map(|(k, v)| (*k, *v)).collect::<Vec<_>>() }),
        codec::encode(&yokan::Reply::<Vec<Option<Bytes<'_>>>>::Ok(vec![Some(Bytes(b"value")), None])),
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
    assert!(codec::decode::<centralized::SyncReply>(&s[7]).is_ok());
    assert!(codec::decode::<centralized::MetadataReply>(&s[8]).is_ok());
    assert!(codec::decode::<swim::Sync>(&s[9]).is_ok());
    assert!(codec::decode::<swim::PingReqReply>(&s[10]).is_ok());
    assert!(codec::decode::<yokan::Operation<yokan::Pairs<'_>>>(&s[11]).is_ok());
    assert!(codec::decode::<yokan::Reply<Vec<Option<Bytes<'_>>>>>(&s[12]).is_ok());
}
