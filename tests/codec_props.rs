//! Round-trip properties of every message type of the RPC codec: for any
//! value, `decode(encode(v)) == v`, and no strict prefix of `encode(v)`
//! decodes (a message cut short is always an error).

use mochi::bedrock::protocol as bedrock;
use mochi::flock::backends::centralized::wire as centralized;
use mochi::flock::backends::swim::wire as swim;
use mochi::flock::protocol as flock;
use mochi::flock::protocol::Update;
use mochi::flock::view::{GroupView, Member};
use mochi::rpc::codec::{self, Bytes};
use mochi::yokan::dist::wire as shard;
use mochi::yokan::protocol as yokan;
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

/// Checks the round trip of `$value` decoded as `$ty` (which may borrow
/// from the encoded bytes), and that every strict prefix is refused.
macro_rules! round_trip {
    ($value:expr, $ty:ty) => {{
        let value = $value;
        let bytes = codec::encode(&value);
        let back: $ty = codec::decode(&bytes).map_err(|e| TestCaseError::fail(format!("{e} decoding {value:?}")))?;
        prop_assert_eq!(&back, &value);
        for n in 0..bytes.len() {
            prop_assert!(codec::decode::<$ty>(&bytes[..n]).is_err(), "a prefix of {} bytes decoded", n);
        }
    }};
}

// ---- strategies -------------------------------------------------------------

/// Any text, NUL bytes and non-ASCII included.
fn text() -> impl Strategy<Value = String> {
    ".{0,12}"
}

/// Text a C view can hold (swim refuses NUL bytes), possibly empty.
fn c_text() -> impl Strategy<Value = String> {
    "[^\u{0}]{0,12}"
}

/// Text a C view can hold, not empty (swim addresses and keys).
fn c_name() -> impl Strategy<Value = String> {
    "[^\u{0}]{1,12}"
}

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..24)
}

fn update() -> impl Strategy<Value = Update> {
    prop_oneof![Just(Update::Joined), Just(Update::Left), Just(Update::Died), Just(Update::Moved)]
}

fn member() -> impl Strategy<Value = Member> {
    (text(), any::<u16>()).prop_map(|(address, provider_id)| Member { address, provider_id })
}

fn view() -> impl Strategy<Value = GroupView> {
    (vec((text(), any::<u16>()), 0..6), vec((text(), text()), 0..4)).prop_map(|(members, metadata)| {
        let mut v = GroupView::new();
        for (a, p) in &members {
            v.add_member(a, *p);
        }
        for (k, val) in &metadata {
            v.add_metadata(k, val);
        }
        v
    })
}

fn error() -> impl Strategy<Value = (i32, String)> {
    (any::<i32>(), text())
}

// flock

fn view_reply() -> impl Strategy<Value = flock::ViewReply> {
    prop_oneof![
        Just(flock::ViewReply::Unchanged),
        view().prop_map(flock::ViewReply::View),
        error().prop_map(|(c, m)| flock::ViewReply::Error(c, m)),
    ]
}

fn status_reply() -> impl Strategy<Value = flock::StatusReply> {
    prop_oneof![Just(flock::StatusReply::Done), error().prop_map(|(c, m)| flock::StatusReply::Error(c, m))]
}

fn notification() -> impl Strategy<Value = flock::Notification> {
    prop_oneof![
        (update(), text(), any::<u16>()).prop_map(|(update, address, provider_id)| flock::Notification::Membership {
            update,
            address,
            provider_id
        }),
        (text(), text()).prop_map(|(key, value)| flock::Notification::Metadata { key, value }),
        text().prop_map(|key| flock::Notification::MetadataRemoved { key }),
    ]
}

// centralized

fn claim() -> impl Strategy<Value = centralized::Claim> {
    (any::<u64>(), member()).prop_map(|(term, primary)| centralized::Claim { term, primary })
}

fn change() -> impl Strategy<Value = centralized::Change> {
    prop_oneof![
        (update(), member()).prop_map(|(update, member)| centralized::Change::Membership { update, member }),
        (text(), text()).prop_map(|(key, value)| centralized::Change::MetadataSet { key, value }),
        text().prop_map(|key| centralized::Change::MetadataRemove { key }),
    ]
}

fn snapshot() -> impl Strategy<Value = centralized::Snapshot> {
    (claim(), any::<u64>(), view(), vec((member(), update()), 0..3)).prop_map(|(claim, version, view, tombs)| {
        let tombstones = tombs.into_iter().map(|(member, update)| centralized::Tombstone { member, update }).collect();
        centralized::Snapshot { claim, version, view, tombstones }
    })
}

fn update_msg() -> impl Strategy<Value = centralized::UpdateMsg> {
    (claim(), any::<u64>(), any::<u64>(), change()).prop_map(|(claim, version, digest_after, change)| centralized::UpdateMsg {
        claim,
        version,
        digest_after,
        change,
    })
}

fn redirect() -> impl Strategy<Value = centralized::Redirect> {
    (claim(), any::<bool>()).prop_map(|(claim, electing)| centralized::Redirect { claim, electing })
}

fn standing() -> impl Strategy<Value = centralized::Standing> {
    prop_oneof![Just(centralized::Standing::Member), Just(centralized::Standing::Unknown), Just(centralized::Standing::Expelled)]
}

// swim

fn kind() -> impl Strategy<Value = swim::Kind> {
    use swim::Kind::*;
    prop_oneof![Just(Alive), Just(Suspect), Just(Confirm), Just(Join), Just(Leave)]
}

fn member_record() -> impl Strategy<Value = swim::MemberRecord> {
    (kind(), c_name(), any::<u16>(), any::<u64>(), any::<u64>()).prop_map(
        |(kind, address, provider_id, generation, incarnation)| swim::MemberRecord {
            kind,
            address,
            provider_id,
            generation,
            incarnation,
        },
    )
}

fn meta_record() -> impl Strategy<Value = swim::MetaRecord> {
    (c_name(), option::of(c_text()), any::<u64>(), c_text(), any::<u16>())
        .prop_map(|(key, value, version, origin, origin_pid)| swim::MetaRecord { key, value, version, origin, origin_pid })
}

fn envelope() -> impl Strategy<Value = swim::Envelope> {
    let gossip = prop_oneof![member_record().prop_map(swim::Gossip::Member), meta_record().prop_map(swim::Gossip::Meta)];
    (c_name(), any::<u16>(), any::<u64>(), any::<u64>(), any::<u64>(), vec(gossip, 0..=swim::MAX_GOSSIP)).prop_map(
        |(address, provider_id, generation, incarnation, digest, gossip)| swim::Envelope {
            sender: swim::Identity { address, provider_id, generation, incarnation },
            digest,
            gossip,
        },
    )
}

fn status() -> impl Strategy<Value = swim::Status> {
    use swim::Status::*;
    prop_oneof![
        Just(Ok),
        Just(UnknownSender),
        (any::<u64>(), any::<u64>()).prop_map(|(generation, incarnation)| DeclaredDead { generation, incarnation }),
        (any::<u64>(), any::<u64>()).prop_map(|(generation, incarnation)| Left { generation, incarnation }),
        Just(NotMember),
    ]
}

fn full_state() -> impl Strategy<Value = swim::FullState> {
    (vec(member_record(), 0..4), vec(meta_record(), 0..4)).prop_map(|(members, metadata)| swim::FullState { members, metadata })
}

fn probe() -> impl Strategy<Value = swim::ProbeResult> {
    (any::<bool>(), any::<u64>(), any::<u64>()).prop_map(|(responded, generation, incarnation)| swim::ProbeResult {
        responded,
        generation,
        incarnation,
    })
}

// yokan

fn failure() -> impl Strategy<Value = yokan::Failure> {
    error().prop_map(|(code, detail)| yokan::Failure { code, detail })
}

fn reply<T: std::fmt::Debug + Clone>(ok: impl Strategy<Value = T>) -> impl Strategy<Value = yokan::Reply<T>> {
    prop_oneof![ok.prop_map(Ok), failure().prop_map(Err)]
}

// ---- properties ---------------------------------------------------------------

proptest! {
    #[test]
    fn flock_messages(v in view_reply(), s in status_reply(), n in notification(), digest in any::<u64>(),
                      key in text(), value in text(), notify_id in any::<u16>(), push in option::of(text())) {
        round_trip!(v, flock::ViewReply);
        round_trip!(s, flock::StatusReply);
        round_trip!(n, flock::Notification);
        round_trip!(flock::GetView { digest }, flock::GetView);
        round_trip!(flock::MetadataSet { key: &key, value: &value }, flock::MetadataSet<'_>);
        round_trip!(flock::Subscription { notify_id }, flock::Subscription);
        round_trip!(flock::MetadataPush { key, value: push }, flock::MetadataPush);
    }

    #[test]
    fn views_keep_their_digest(v in view()) {
        let back: GroupView = codec::decode(&codec::encode(&v)).unwrap();
        prop_assert_eq!(back.digest(), v.digest());
        prop_assert_eq!(back.digest(), back.compute_digest());
    }

    #[test]
    fn centralized_requests(m in member(), c in claim(), u in update_msg(), s in snapshot(),
                            version in any::<u64>(), digest in any::<u64>(), flag in any::<bool>(),
                            key in text(), value in option::of(text())) {
        round_trip!(m.clone(), Member);
        round_trip!(centralized::Ping { claim: c.clone(), version, digest }, centralized::Ping);
        round_trip!(u, centralized::UpdateMsg);
        round_trip!(centralized::SyncReq { requester: m.clone(), claim: c.clone(), version, digest }, centralized::SyncReq);
        round_trip!(centralized::MetadataReq { key, value }, centralized::MetadataReq);
        round_trip!(centralized::WhoisReq { requester: m, claim: c, suspect: flag }, centralized::WhoisReq);
        round_trip!(s, centralized::Snapshot);
    }

    #[test]
    fn centralized_replies(c in claim(), u in update_msg(), s in snapshot(), d in redirect(), st in standing(),
                           (code, message) in error(), version in any::<u64>(), flags in any::<[bool; 3]>(), pick in 0..4usize) {
        use centralized::*;
        let ping = [PingReply::Accepted, PingReply::Follows(c.clone()), PingReply::Refused(c.clone()), PingReply::Unknown(c.clone())];
        round_trip!(ping[pick].clone(), PingReply);
        let upd = [UpdateReply::Applied, UpdateReply::Duplicate, UpdateReply::Gap, UpdateReply::Refused];
        round_trip!(upd[pick], UpdateReply);
        let sync = [
            SyncReply::UpToDate { claim: c.clone(), version },
            SyncReply::Full(s.clone()),
            SyncReply::NotMember { claim: c.clone(), expelled: flags[0] },
            SyncReply::NotPrimary(d.clone()),
        ];
        round_trip!(sync[pick].clone(), SyncReply);
        let join = [JoinReply::Joined(s), JoinReply::NotPrimary(d.clone()), JoinReply::Error { code, message: message.clone() }];
        round_trip!(join[pick % 3].clone(), JoinReply);
        let leave = [
            LeaveReply::Done,
            LeaveReply::NotMember,
            LeaveReply::NotPrimary(d.clone()),
            LeaveReply::Error { code, message: message.clone() },
        ];
        round_trip!(leave[pick].clone(), LeaveReply);
        let meta = [MetadataReply::Applied(u), MetadataReply::Unchanged, MetadataReply::NotPrimary(d), MetadataReply::Error { code, message }];
        round_trip!(meta[pick].clone(), MetadataReply);
        round_trip!(
            WhoisReply { active: flags[0], claim: c, electing: flags[1], standing: st, primary_fresh: flags[2] },
            WhoisReply
        );
        let hand = [HandoverReply::Accepted, HandoverReply::Refused, HandoverReply::Leaving];
        round_trip!(hand[pick % 3], HandoverReply);
    }

    #[test]
    fn swim_messages(e in envelope(), s in status(), p in probe(), state in full_state(), some in any::<bool>(),
                     target in c_name(), target_pid in any::<u16>(), leave in any::<bool>()) {
        round_trip!(e.clone(), swim::Envelope);
        round_trip!(swim::Ack { status: s, envelope: e.clone() }, swim::Ack);
        round_trip!(swim::PingReq { envelope: e.clone(), target, target_pid }, swim::PingReq);
        round_trip!(swim::PingReqReply { status: s, probe: p, envelope: e.clone() }, swim::PingReqReply);
        let kind = if leave { swim::Kind::Leave } else { swim::Kind::Join };
        round_trip!(swim::Announce { kind, envelope: e.clone() }, swim::Announce);
        round_trip!(swim::StateReply { status: s, state: some.then(|| state.clone()) }, swim::StateReply);
        round_trip!(swim::Sync { envelope: e, state }, swim::Sync);
    }

    #[test]
    fn bedrock_messages(args in vec(text(), 0..5), answer in prop_oneof![
        text().prop_map(Ok),
        text().prop_map(|t| Err(bedrock::Refusal::Failed(t))),
        text().prop_map(|t| Err(bedrock::Refusal::NotSupported(t))),
    ]) {
        round_trip!(args.clone(), bedrock::Args);
        // Clients send `[&str]`: the same bytes.
        let borrowed: Vec<&str> = args.iter().map(String::as_str).collect();
        prop_assert_eq!(codec::encode(&borrowed), codec::encode(&args));
        round_trip!(answer, bedrock::Answer);
    }

    #[test]
    fn yokan_requests(mode in any::<i32>(), keys in vec(bytes(), 0..5), values in vec(bytes(), 0..5),
                      from in bytes(), filter in bytes(), max in any::<u64>(), with_values in any::<bool>()) {
        use yokan::{ListArgs, Operation};
        round_trip!(Operation { mode, args: () }, Operation<()>);
        let keys: yokan::Keys<'_> = keys.iter().map(|k| Bytes(k)).collect();
        round_trip!(Operation { mode, args: keys.clone() }, Operation<yokan::Keys<'_>>);
        let pairs: yokan::Pairs<'_> = keys.iter().zip(&values).map(|(k, v)| (*k, Bytes(v))).collect();
        round_trip!(Operation { mode, args: pairs }, Operation<yokan::Pairs<'_>>);
        round_trip!(Operation { mode, args: Bytes(&from) }, Operation<yokan::Prefix<'_>>);
        let list = ListArgs { from: Bytes(&from), filter: Bytes(&filter), max, with_values };
        round_trip!(Operation { mode, args: list }, Operation<ListArgs<'_>>);
    }

    #[test]
    fn yokan_replies(identity in reply(text()), count in reply(any::<u64>()), done in reply(Just(())),
                     exists in reply(vec(any::<bool>(), 0..6)), lengths in reply(vec(option::of(any::<u64>()), 0..6)),
                     values in reply(vec(option::of(bytes()), 0..6)), items in reply(vec((bytes(), bytes()), 0..6))) {
        round_trip!(identity, yokan::Reply<String>);
        round_trip!(count, yokan::Reply<u64>);
        round_trip!(done, yokan::Reply<()>);
        round_trip!(exists, yokan::Reply<Vec<bool>>);
        round_trip!(lengths, yokan::Reply<Vec<Option<u64>>>);
        let values: yokan::Reply<Vec<Option<Bytes<'_>>>> =
            values.as_ref().map(|vs| vs.iter().map(|v| v.as_deref().map(Bytes)).collect()).map_err(Clone::clone);
        round_trip!(values, yokan::Reply<Vec<Option<Bytes<'_>>>>);
        let items: yokan::Reply<Vec<(Bytes<'_>, Bytes<'_>)>> =
            items.as_ref().map(|is| is.iter().map(|(k, v)| (Bytes(k), Bytes(v))).collect()).map_err(Clone::clone);
        round_trip!(items, yokan::Reply<Vec<(Bytes<'_>, Bytes<'_>)>>);
    }

    #[test]
    fn yokan_shard_messages(hops in any::<u8>(), as_replica in any::<bool>(), multi in any::<bool>(),
                            skip in vec(text(), 0..4), op in text(), payload in bytes(),
                            changes in vec((bytes(), option::of(bytes())), 0..6), fill in vec((bytes(), bytes()), 0..6),
                            numbers in (any::<u64>(), any::<u64>(), any::<u64>())) {
        let route = shard::Route { hops, as_replica, multi, skip: skip.clone() };
        round_trip!(shard::Apply { route: route.clone(), op: &op, payload: Bytes(&payload) }, shard::Apply<'_>);
        let wait_ms = (numbers.0 % 3 != 0).then_some(numbers.1);
        let wait = shard::ApplyWait { route, op: &op, payload: Bytes(&payload), wait_ms };
        round_trip!(wait.clone(), shard::ApplyWait<'_>);
        let bytes = codec::encode(&wait);
        prop_assert_eq!(shard::decode_apply_wait(&bytes).unwrap(), wait);
        let changes: shard::Changes<'_> = changes.iter().map(|(k, v)| (Bytes(k), v.as_deref().map(Bytes))).collect();
        round_trip!(changes.clone(), shard::Changes<'_>);
        let (sender, seq, mark) = numbers;
        round_trip!(shard::Store { sender, seq, mark, changes }, shard::Store<'_>);
        round_trip!(shard::Info { replication: seq, address: op.clone() }, shard::Info);
        let fill: shard::Fill<'_> = fill.iter().map(|(k, v)| (Bytes(k), Bytes(v))).collect();
        round_trip!(fill, shard::Fill<'_>);
        round_trip!(skip, shard::CountArgs);
    }
}
