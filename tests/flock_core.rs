//! Flock providers (static backend) and clients over real endpoints.

mod common;

use common::*;
use mochi::flock::client::{Client, GroupHandle, MODE_INIT_UPDATE};
use mochi::flock::error::code;
use mochi::flock::provider::{Provider, ProviderArgs};
use mochi::flock::{view_file, GroupView};
use mochi::rpc::{Engine, Mode};
use parking_lot::Mutex;
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Group {
    engines: Vec<Engine>,
    providers: Vec<Provider>,
}

fn static_group(proto: &str, n: usize, provider_id: u16, file: Option<&std::path::Path>) -> Group {
    let engines: Vec<Engine> = (0..n).map(|_| engine(proto, Mode::Server)).collect();
    let mut view = GroupView::new();
    for e in &engines {
        view.add_member(e.self_address().as_str(), provider_id);
    }
    let config = match file {
        Some(f) => format!(r#"{{"group":{{"type":"static"}},"file":"{}"}}"#, f.display()),
        None => r#"{"group":{"type":"static","config":{}}}"#.to_string(),
    };
    let providers = engines
        .iter()
        .map(|e| {
            Provider::register(e, provider_id, &config, ProviderArgs { initial_view: view.clone(), ..Default::default() })
                .unwrap()
        })
        .collect();
    Group { engines, providers }
}

impl Drop for Group {
    fn drop(&mut self) {
        for e in &self.engines {
            e.finalize();
        }
    }
}

const BOUND: Duration = Duration::from_secs(10);

fn discovery(proto: &str) {
    let dir = std::env::temp_dir().join(format!("flock-core-{}-{}", std::process::id(), proto.replace('+', "_")));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("group.flock");
    let group = static_group(proto, 4, 7, Some(&file));
    let client_engine = engine(proto, Mode::Client);
    let client = Client::new(&client_engine, None);

    // A handle made from any one member knows the whole group.
    let addr = client_engine.lookup(group.engines[2].self_address().as_str()).unwrap();
    let handle = GroupHandle::create(&client, &addr, 7, 0).unwrap();
    let view = handle.view();
    assert_eq!(view.member_count(), 4);
    assert_eq!(view.find_metadata("__type__"), Some("static"));
    assert_eq!(view.find_metadata("__config__"), Some("{}"));
    assert_eq!(view.digest(), group.providers[0].view().digest());

    // Exactly one member (the first) wrote the file, mode 0600, same view.
    let on_disk = view_file::from_file(&file).unwrap();
    assert_eq!(on_disk.digest(), view.digest());
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    let from_file = GroupHandle::from_file(&client, &file, MODE_INIT_UPDATE).unwrap();
    assert_eq!(from_file.view().member_count(), 4);

    // Wrong provider id: a distinct error.
    let err = GroupHandle::create(&client, &addr, 8, 0).err().unwrap();
    assert_eq!(err.code(), code::INVALID_PROVIDER, "{err}");

    // Metadata set through one member reaches every member, every subscriber
    // and the group file.
    let recorder = Arc::new(Recorder::default());
    let other =
        GroupHandle::create(&client, &client_engine.lookup(group.engines[0].self_address().as_str()).unwrap(), 7, 0).unwrap();
    other.subscribe(recorder.clone()).unwrap();
    let cb = Arc::new(Recorder::default());
    group.providers[3].add_update_callbacks(1, cb.clone());
    handle.metadata_set("color", "blue").unwrap();
    for p in &group.providers {
        assert_eq!(p.view().find_metadata("color"), Some("blue"));
    }
    assert_eq!(handle.view().find_metadata("color"), Some("blue"));
    eventually("subscriber callback", BOUND, || recorder.metadata.lock().contains(&("color".into(), "blue".into())));
    assert_eq!(other.view().find_metadata("color"), Some("blue"));
    assert!(cb.metadata.lock().contains(&("color".into(), "blue".into())));
    assert_eq!(view_file::from_file(&file).unwrap().find_metadata("color"), Some("blue"));
    // Reserved keys stay the backend's.
    assert_eq!(handle.metadata_set("__type__", "x").err().unwrap().code(), code::OP_FORBIDDEN);

    // Effective config, upstream's shape and key order.
    assert_eq!(
        group.providers[1].config_string(),
        format!(
            r#"{{"gateway":{{"type":"default","config":{{}}}},"group":{{"type":"static","config":{{}}}},"file":"{}"}}"#,
            file.display()
        )
    );

    // update() with an unchanged digest keeps the view.
    handle.update().unwrap();
    assert_eq!(handle.view().member_count(), 4);
    other.unsubscribe().unwrap();
    drop(group);
    client_engine.finalize();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn discovery_and_metadata_over_shm() {
    discovery("na+sm");
}

#[test]
fn discovery_and_metadata_over_tcp() {
    discovery("ofi+tcp");
}

#[test]
fn provider_registration_errors() {
    let e = engine("na+sm", Mode::Server);
    let self_view = mochi::flock::bootstrap::from_self(&e, 1);
    let args = || ProviderArgs { initial_view: self_view.clone(), ..Default::default() };
    let code_of = |config: &str, args: ProviderArgs| Provider::register(&e, 1, config, args).err().map(|x| x.code());
    assert_eq!(code_of("{", args()), Some(code::INVALID_CONFIG));
    assert_eq!(code_of("[]", args()), Some(code::INVALID_CONFIG));
    assert_eq!(code_of("{}", args()), Some(code::INVALID_CONFIG), "no group type");
    assert_eq!(code_of(r#"{"group":{"type":"nope"}}"#, args()), Some(code::INVALID_CONFIG));
    assert_eq!(code_of(r#"{"group":{"type":3}}"#, args()), Some(code::INVALID_CONFIG));
    assert_eq!(code_of(r#"{"group":{"type":"static"},"gateway":{"type":"nope"}}"#, args()), Some(code::INVALID_CONFIG));
    // Not in the initial view → joining, which a static group forbids.
    assert_eq!(code_of(r#"{"group":{"type":"static"}}"#, ProviderArgs::default()), Some(code::OP_FORBIDDEN));
    let p = Provider::register(&e, 1, r#"{"group":{"type":"static"}}"#, args()).unwrap();
    assert_eq!(code_of(r#"{"group":{"type":"static"}}"#, args()), Some(code::INVALID_PROVIDER), "id taken");
    let ask = |id: u16| e.provider_identity(&e.self_address(), id, std::time::Duration::from_secs(10)).unwrap();
    assert_eq!(ask(1).as_deref(), Some("flock"), "the identity margo_provider_get_identity answers");
    p.destroy();
    assert_eq!(ask(1), None, "a destroyed provider takes its identity along");
    // Destroyed: the id is free again.
    Provider::register(&e, 1, r#"{"group":{"type":"static"}}"#, args()).unwrap();
    let client_engine = engine("na+sm", Mode::Client);
    assert_eq!(
        Provider::register(&client_engine, 1, r#"{"group":{"type":"static"}}"#, ProviderArgs::default()).err().unwrap().code(),
        code::INVALID_ARGS
    );
    e.finalize();
    client_engine.finalize();
}

/// Dropping the last subscribed handle sends the unsubscribe request but
/// does not wait for the answer: a contact that takes its time (here, a
/// fake contact whose unsubscribe handler stalls) does not stall the drop.
#[test]
fn dropping_a_subscribed_handle_does_not_wait_for_the_contact() {
    use mochi::flock::protocol::{self, StatusReply, ViewReply};
    use mochi::rpc::codec;
    let server = engine("na+sm", Mode::Server);
    let mut view = GroupView::new();
    view.add_member(server.self_address().as_str(), 7);
    let reply = codec::encode(&ViewReply::View(view));
    for name in [protocol::GET_VIEW, protocol::SUBSCRIBE] {
        let reply = reply.clone();
        server.register(name, 7, None, Arc::new(move |_| Ok(reply.clone()))).unwrap();
    }
    let (arrived_tx, arrived_rx) = std::sync::mpsc::channel::<()>();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let (arrived_tx, release_rx) = (Mutex::new(arrived_tx), Mutex::new(release_rx));
    server
        .register(
            protocol::UNSUBSCRIBE,
            7,
            None,
            Arc::new(move |_| {
                let _ = arrived_tx.lock().send(());
                // Stall until the test is done (bounded, so the server stops).
                let _ = release_rx.lock().recv_timeout(Duration::from_secs(10));
                Ok(codec::encode(&StatusReply::Done))
            }),
        )
        .unwrap();

    let client_engine = engine("na+sm", Mode::Client);
    let client = Client::new(&client_engine, None);
    let handle = GroupHandle::create(&client, &server.self_address(), 7, MODE_INIT_UPDATE).unwrap();
    handle.subscribe(Arc::new(Recorder::default())).unwrap();

    let start = Instant::now();
    drop(handle);
    let took = start.elapsed();
    // The blocking version waited for the answer: NOTIFY_TIMEOUT (2 s) here.
    assert!(took < protocol::NOTIFY_TIMEOUT / 2, "dropping the handle took {took:?}");
    // The request was sent all the same.
    arrived_rx.recv_timeout(Duration::from_secs(10)).expect("the contact received the unsubscribe request");
    assert_eq!(client.live_handles(), 0);
    release_tx.send(()).unwrap();
    client_engine.finalize();
    server.finalize();
}
