//! The fuzz targets' bodies (one function per target in `fuzz_targets/`)
//! and the seeds of their corpora. The one source of these bodies: the
//! deterministic hostile-input test (`tests/wire_fuzz.rs`, which includes
//! this file as a module) runs the same functions on stable Rust.
//!
//! Message targets read a selector byte, then decode the rest as the
//! message type it picks. Beyond "no panic, no hang, no huge allocation"
//! (what libFuzzer itself watches), every target checks a round trip:
//! whatever decodes, re-encoded, decodes to the same value. Each body
//! returns whether the input was accepted (the tests check that seeds are).

use mochi::bedrock::config::{ConfigFormat, ProviderSpec, ServerConfig};
use mochi::bedrock::protocol as bedrock;
use mochi::flock::backends::centralized::wire as centralized;
use mochi::flock::backends::swim::wire as swim;
use mochi::flock::protocol as flock;
use mochi::flock::protocol::Update;
use mochi::flock::view::{GroupView, Member};
use mochi::flock::view_file;
use mochi::rpc::codec::{self, Bytes};
use mochi::rpc::config::RuntimeInfo;
use mochi::rpc::{wire, InitOverrides, MargoConfig};
use mochi::yokan::protocol as yokan;

/// Decodes `$data` as `$ty`; if that works, re-encodes and checks that the
/// result decodes to the same value.
/// True if it decoded.
macro_rules! round_trip {
    ($ty:ty, $data:expr) => {{
        match codec::decode::<$ty>($data) {
            Ok(value) => {
                let bytes = codec::encode(&value);
                match codec::decode::<$ty>(&bytes) {
                    Ok(back) => assert_eq!(back, value, "re-encoded {} decodes differently", stringify!($ty)),
                    Err(e) => panic!("re-encoded {} does not decode: {e}", stringify!($ty)),
                }
                true
            }
            Err(_) => false,
        }
    }};
}

/// Dispatches on the selector byte: the message types, in order.
macro_rules! messages {
    ($data:expr, $($ty:ty),+ $(,)?) => {{
        let Some((&selector, rest)) = $data.split_first() else { return false };
        let types: &[fn(&[u8]) -> bool] = &[$(|b: &[u8]| round_trip!($ty, b)),+];
        types[selector as usize % types.len()](rest)
    }};
}

// ---- targets --------------------------------------------------------------------

/// A target's body: true if the input was accepted.
pub type Body = fn(&[u8]) -> bool;

/// Every target, by its name in `fuzz_targets/` and the corpus.
pub const TARGETS: &[(&str, Body)] = &[
    ("fragment", fragment),
    ("flock_messages", flock_messages),
    ("centralized_messages", centralized_messages),
    ("swim_messages", swim_messages),
    ("bedrock_messages", bedrock_messages),
    ("yokan_messages", yokan_messages),
    ("view_file", view_file),
    ("margo_config", margo_config),
    ("bedrock_config", bedrock_config),
];

/// Selector values that reach every message type of every message target
/// (the most types one target has, centralized's, is 15).
pub const SELECTORS: u8 = 16;

/// The fixed fragment header (`rpc::wire`).
pub fn fragment(data: &[u8]) -> bool {
    let Ok(f) = wire::decode(data) else { return false };
    let mut again = Vec::new();
    wire::encode_header(&mut again, &f.header, f.sender);
    again.extend_from_slice(f.data);
    let back = wire::decode(&again).expect("a re-encoded fragment decodes");
    assert_eq!(back.header, f.header);
    assert_eq!(back.sender, f.sender);
    assert_eq!(back.data, f.data);
    true
}

pub fn flock_messages(data: &[u8]) -> bool {
    messages!(
        data,
        flock::ViewReply,
        flock::GetView,
        flock::MetadataSet<'_>,
        flock::Subscription,
        flock::MetadataPush,
        flock::StatusReply,
        flock::Notification,
    )
}

pub fn centralized_messages(data: &[u8]) -> bool {
    use centralized::*;
    messages!(
        data,
        Member,
        Ping,
        PingReply,
        UpdateMsg,
        UpdateReply,
        SyncReq,
        SyncReply,
        JoinReply,
        LeaveReply,
        MetadataReq,
        MetadataReply,
        WhoisReq,
        WhoisReply,
        Snapshot,
        HandoverReply,
    )
}

pub fn swim_messages(data: &[u8]) -> bool {
    use swim::*;
    messages!(data, Envelope, Ack, PingReq, PingReqReply, Announce, StateReply, Sync)
}

pub fn bedrock_messages(data: &[u8]) -> bool {
    messages!(data, bedrock::Args, bedrock::Answer)
}

pub fn yokan_messages(data: &[u8]) -> bool {
    use yokan::{ListArgs, Operation, Reply};
    messages!(
        data,
        Operation<()>,
        Operation<yokan::Keys<'_>>,
        Operation<yokan::Pairs<'_>>,
        Operation<yokan::Prefix<'_>>,
        Operation<ListArgs<'_>>,
        Reply<String>,
        Reply<u64>,
        Reply<()>,
        Reply<Vec<bool>>,
        Reply<Vec<Option<u64>>>,
        Reply<Vec<Option<Bytes<'_>>>>,
        Reply<Vec<(Bytes<'_>, Bytes<'_>)>>,
        Operation<yokan::DocArgs<'_>>,
        Reply<bool>,
        Reply<(u64, u64)>,
        Reply<Vec<u64>>,
        Reply<Vec<(u64, Bytes<'_>)>>,
    )
}

/// Group files: what parses, written back, parses to the same view.
pub fn view_file(data: &[u8]) -> bool {
    let Ok(view) = view_file::from_bytes(data) else { return false };
    let text = view_file::serialize(&view);
    let back = view_file::from_string(&text).unwrap_or_else(|e| panic!("a written view does not parse: {e}\n{text}"));
    assert_eq!(back, view, "a written view parses differently:\n{text}");
    assert_eq!(back.digest(), view.digest());
    true
}

/// Margo JSON configs: what is accepted, reported, is accepted again.
pub fn margo_config(data: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(data) else { return false };
    let Ok(config) = MargoConfig::from_json_str(text, &InitOverrides::default()) else { return false };
    let _ = config.sanity_warnings();
    let reported = config.to_json(&RuntimeInfo::default());
    if let Err(e) = MargoConfig::from_value(&reported, &InitOverrides::default()) {
        panic!("the reported config of an accepted one is refused: {e}\ninput: {text}\nreported: {reported}");
    }
    true
}

/// Bedrock configs (JSON, TOML, Jx9 by the first byte; with or without an
/// MPI rank by the second) and provider descriptions.
pub fn bedrock_config(data: &[u8]) -> bool {
    let [format, rank, rest @ ..] = data else { return false };
    let Ok(text) = std::str::from_utf8(rest) else { return false };
    let format = match format % 3 {
        0 => ConfigFormat::Json,
        1 => ConfigFormat::Toml,
        _ => ConfigFormat::Jx9,
    };
    let mpi = (*rank >= 128).then_some((i32::from(rank % 4), 4));
    let server = ServerConfig::from_text(text, format, mpi).is_ok();
    let provider = ProviderSpec::from_json_str(text).is_ok();
    server || provider
}

// ---- seeds ------------------------------------------------------------------

/// One seed: (target, name, bytes).
pub type Seed = (&'static str, String, Vec<u8>);

fn message<T: serde::Serialize + ?Sized>(target: &'static str, selector: u8, name: &str, value: &T) -> Seed {
    let mut bytes = vec![selector];
    bytes.extend(codec::encode(value));
    (target, name.to_string(), bytes)
}

fn sample_view() -> GroupView {
    let mut view = GroupView::new();
    view.add_member("na+sm://12-0", 1);
    view.add_member("ofi+tcp://127.0.0.1:4000", 2);
    view.add_metadata("__type__", "static");
    view.add_metadata("k", "v");
    view
}

/// Seeds of the binary targets, built with the real encoders.
pub fn message_seeds() -> Vec<Seed> {
    let view = sample_view();
    let member = Member { address: "na+sm://1-0".into(), provider_id: 4 };
    let claim = centralized::Claim { term: 2, primary: member.clone() };
    let snapshot = centralized::Snapshot {
        claim: claim.clone(),
        version: 7,
        view: view.clone(),
        tombstones: vec![centralized::Tombstone { member: member.clone(), update: Update::Died }],
    };
    let update = centralized::UpdateMsg {
        claim: claim.clone(),
        version: 8,
        digest_after: 1,
        change: centralized::Change::Membership { update: Update::Joined, member: member.clone() },
    };
    let redirect = centralized::Redirect { claim: claim.clone(), electing: true };
    let gossip = vec![
        swim::Gossip::Member(swim::MemberRecord {
            kind: swim::Kind::Suspect,
            address: "na+sm://2-0".into(),
            provider_id: 1,
            generation: 3,
            incarnation: 1,
        }),
        swim::Gossip::Meta(swim::MetaRecord {
            key: "k".into(),
            value: Some("v".into()),
            version: 2,
            origin: "na+sm://1-0".into(),
            origin_pid: 1,
        }),
    ];
    let envelope = swim::Envelope {
        sender: swim::Identity { address: "na+sm://1-0".into(), provider_id: 1, generation: 9, incarnation: 1 },
        digest: 42,
        gossip,
    };
    let state = swim::FullState {
        members: vec![swim::MemberRecord {
            kind: swim::Kind::Alive,
            address: "na+sm://3-0".into(),
            provider_id: 1,
            generation: 5,
            incarnation: 0,
        }],
        metadata: vec![swim::MetaRecord { key: "a".into(), value: None, version: 1, origin: String::new(), origin_pid: 0 }],
    };
    let dead = swim::Status::DeclaredDead { generation: 1, incarnation: 2 };
    let keys = [Bytes(b"key"), Bytes(b"other")];
    let mut fragment = Vec::new();
    let header = wire::Header {
        kind: wire::Kind::Request,
        status: wire::Status::Ok,
        provider_id: 3,
        msg_id: 9,
        rpc_id: wire::rpc_id("yk_get"),
        total_len: 5,
        offset: 0,
        timeout: Some(std::time::Duration::from_millis(1500)),
    };
    wire::encode_header(&mut fragment, &header, b"na+sm://1-0");
    fragment.extend_from_slice(b"hello");

    let (f, c, s, b, y) = ("flock_messages", "centralized_messages", "swim_messages", "bedrock_messages", "yokan_messages");
    vec![
        ("fragment", "request".into(), fragment),
        message(f, 0, "view", &flock::ViewReply::View(view.clone())),
        message(f, 0, "error", &flock::ViewReply::Error(5, "no".into())),
        message(f, 1, "get-view", &flock::GetView { digest: view.digest() }),
        message(f, 2, "metadata-set", &flock::MetadataSet { key: "k", value: "v" }),
        message(f, 3, "subscription", &flock::Subscription { notify_id: 7 }),
        message(f, 4, "push", &flock::MetadataPush { key: "k".into(), value: Some("v".into()) }),
        message(f, 5, "status", &flock::StatusReply::Error(3, "bad".into())),
        message(
            f,
            6,
            "notification",
            &flock::Notification::Membership { update: Update::Left, address: "na+sm://1-0".into(), provider_id: 1 },
        ),
        message(c, 0, "member", &member),
        message(c, 1, "ping", &centralized::Ping { claim: claim.clone(), version: 3, digest: 4 }),
        message(c, 2, "ping-reply", &centralized::PingReply::Follows(claim.clone())),
        message(c, 3, "update", &update),
        message(c, 4, "update-reply", &centralized::UpdateReply::Gap),
        message(c, 5, "sync", &centralized::SyncReq { requester: member.clone(), claim: claim.clone(), version: 1, digest: 2 }),
        message(c, 6, "sync-reply", &centralized::SyncReply::Full(snapshot.clone())),
        message(c, 7, "join-reply", &centralized::JoinReply::NotPrimary(redirect.clone())),
        message(c, 8, "leave-reply", &centralized::LeaveReply::Error { code: 2, message: "m".into() }),
        message(c, 9, "metadata", &centralized::MetadataReq { key: "k".into(), value: None }),
        message(c, 10, "metadata-reply", &centralized::MetadataReply::Applied(update)),
        message(c, 11, "whois", &centralized::WhoisReq { requester: member, claim: claim.clone(), suspect: true }),
        message(
            c,
            12,
            "whois-reply",
            &centralized::WhoisReply {
                active: true,
                claim,
                electing: false,
                standing: centralized::Standing::Expelled,
                primary_fresh: true,
            },
        ),
        message(c, 13, "handover", &snapshot),
        message(c, 14, "handover-reply", &centralized::HandoverReply::Leaving),
        message(s, 0, "ping", &envelope),
        message(s, 1, "ack", &swim::Ack { status: dead, envelope: envelope.clone() }),
        message(s, 2, "ping-req", &swim::PingReq { envelope: envelope.clone(), target: "na+sm://3-0".into(), target_pid: 1 }),
        message(
            s,
            3,
            "ping-req-reply",
            &swim::PingReqReply {
                status: swim::Status::Ok,
                probe: swim::ProbeResult { responded: true, generation: 5, incarnation: 0 },
                envelope: envelope.clone(),
            },
        ),
        message(s, 4, "announce", &swim::Announce { kind: swim::Kind::Join, envelope: envelope.clone() }),
        message(s, 5, "state-reply", &swim::StateReply { status: swim::Status::Ok, state: Some(state.clone()) }),
        message(s, 6, "sync", &swim::Sync { envelope, state }),
        message(b, 0, "args", &["flock", "{\"group\":{\"type\":\"static\"}}", "3"][..]),
        message(b, 1, "answer", &bedrock::Answer::Err(bedrock::Refusal::NotSupported("jx9".into()))),
        message(b, 1, "answer-ok", &bedrock::Answer::Ok("{}".into())),
        message(y, 0, "count", &yokan::Operation { mode: 0, args: () }),
        message(y, 1, "get", &yokan::Operation { mode: 0x40, args: keys.to_vec() }),
        message(y, 2, "put", &yokan::Operation { mode: 0x400, args: vec![(keys[0], Bytes(b"value"))] }),
        message(y, 3, "erase-range", &yokan::Operation { mode: 0, args: Bytes(b"prefix") }),
        message(
            y,
            4,
            "list",
            &yokan::Operation {
                mode: 0x20,
                args: yokan::ListArgs { from: Bytes(b"a"), filter: Bytes(b"k"), max: 10, with_values: true },
            },
        ),
        message(y, 5, "check-reply", &yokan::Reply::<&str>::Ok(yokan::IDENTITY)),
        message(y, 6, "count-reply", &yokan::Reply::<u64>::Ok(3)),
        message(y, 7, "failure", &yokan::Reply::<()>::Err(yokan::Failure { code: 5, detail: "not found".into() })),
        message(y, 8, "exists-reply", &yokan::Reply::<Vec<bool>>::Ok(vec![true, false])),
        message(y, 9, "length-reply", &yokan::Reply::<Vec<Option<u64>>>::Ok(vec![Some(5), None])),
        message(y, 10, "get-reply", &yokan::Reply::<Vec<Option<Bytes<'_>>>>::Ok(vec![Some(Bytes(b"value")), None])),
        message(y, 11, "list-reply", &yokan::Reply::<Vec<(Bytes<'_>, Bytes<'_>)>>::Ok(vec![(keys[0], keys[1])])),
        message(
            y,
            12,
            "doc-store",
            &yokan::Operation {
                mode: 0,
                args: yokan::DocArgs { collection: "docs", op: yokan::DocOp::Store(vec![Bytes(b"doc")]) },
            },
        ),
        message(
            y,
            12,
            "doc-update",
            &yokan::Operation {
                mode: 0x8000,
                args: yokan::DocArgs { collection: "docs", op: yokan::DocOp::Update { ids: vec![3], docs: vec![Bytes(b"d")] } },
            },
        ),
        message(
            y,
            12,
            "doc-list",
            &yokan::Operation {
                mode: 0,
                args: yokan::DocArgs { collection: "docs", op: yokan::DocOp::List { from: 1, max: 10, with_docs: true } },
            },
        ),
        message(y, 13, "exists-collection-reply", &yokan::Reply::<bool>::Ok(true)),
        message(y, 14, "record-reply", &yokan::Reply::<(u64, u64)>::Ok((2, 5))),
        message(y, 15, "store-reply", &yokan::Reply::<Vec<u64>>::Ok(vec![4, 5])),
        message(y, 16, "doc-list-reply", &yokan::Reply::<Vec<(u64, Bytes<'_>)>>::Ok(vec![(1, Bytes(b"doc"))])),
    ]
}

/// Seeds of the text targets: views written by us, and the configs found
/// under `repo` (tests/bedrock/configs, tests/data/bedrock).
pub fn text_seeds(repo: &std::path::Path) -> Vec<Seed> {
    let mut seeds: Vec<Seed> = vec![
        ("view_file", "two-members".into(), view_file::serialize(&sample_view()).into_bytes()),
        ("view_file", "empty".into(), view_file::serialize(&GroupView::new()).into_bytes()),
        ("margo_config", "empty".into(), b"{}".to_vec()),
        (
            "margo_config",
            "pools".into(),
            br#"{"use_progress_thread":true,"rpc_thread_count":2,"argobots":{"pools":[{"name":"p","kind":"fifo_wait","access":"mpmc"}],"xstreams":[{"name":"x","scheduler":{"type":"basic_wait","pools":["p"]}}]},"progress_pool":"p","rpc_pool":0}"#
                .to_vec(),
        ),
    ];
    let mut configs: Vec<(String, String)> = Vec::new();
    let dir = repo.join("tests/bedrock/configs");
    let mut files: Vec<_> = std::fs::read_dir(&dir).map(|d| d.flatten().map(|e| e.path()).collect()).unwrap_or_default();
    files.extend(["seed-basic-config.json", "seed-distributed-config.json"].map(|f| repo.join("tests/data/bedrock").join(f)));
    files.sort();
    for path in files {
        if let (Ok(text), Some(name)) = (std::fs::read_to_string(&path), path.file_name()) {
            configs.push((name.to_string_lossy().trim_start_matches("seed-").replace('.', "-"), text));
        }
    }
    for list in ["valid-configs.json", "invalid-configs.json"] {
        let Ok(text) = std::fs::read_to_string(repo.join("tests/data/bedrock").join(list)) else { continue };
        let Ok(serde_json::Value::Array(cases)) = serde_json::from_str(&text) else { continue };
        for (i, case) in cases.iter().enumerate() {
            if let Some(input) = case.get("input") {
                configs.push((format!("{}-{i}", list.trim_end_matches("-configs.json")), input.to_string()));
                if let Some(margo) = input.get("margo") {
                    seeds.push((
                        "margo_config",
                        format!("{}-{i}", list.trim_end_matches("-configs.json")),
                        margo.to_string().into_bytes(),
                    ));
                }
            }
            if let Some(margo) = case.get("output").and_then(|o| o.get("margo")) {
                seeds.push(("margo_config", format!("reported-{i}"), margo.to_string().into_bytes()));
            }
        }
    }
    for (name, text) in configs {
        let format = if name.ends_with("toml") { 1u8 } else { 0 };
        let mut bytes = vec![format, 0];
        bytes.extend_from_slice(text.as_bytes());
        seeds.push(("bedrock_config", name, bytes));
    }
    seeds
}
