//! The `swim` backend runs on the pool its provider was given, with no
//! thread of its own: a pool with one execution stream, shared with another
//! provider, keeps serving that provider while swim waits for a member that
//! does not answer; and an idle group wakes only for its protocol periods.
//! (A test binary of its own: it reads the process's threads.)

mod common;

use common::*;
use mochi::flock::provider::{Provider, ProviderArgs};
use mochi::rpc::{Engine, InitOverrides, Mode};
use std::sync::Arc;
use std::time::{Duration, Instant};

const PID: u16 = 1;
const ECHO_PID: u16 = 9;

/// A process-wide check: no thread of swim's own.
fn assert_no_swim_threads() {
    tasks::assert_no_threads_containing("swim", "swim_pools", "swim");
}

#[test]
fn a_shared_one_stream_pool_keeps_serving_while_swim_waits() {
    let _serial = MULTIPROCESS.lock();
    // Handlers of the pool "shared" run on one stream, which does not drive
    // network progress.
    let config = r#"{"argobots":{"pools":[{"name":"__primary__"},{"name":"shared"}],
        "xstreams":[{"name":"__primary__","scheduler":{"pools":["__primary__"]}},
                    {"name":"one","scheduler":{"pools":["shared"]}}]},
        "progress_pool":"__primary__","rpc_pool":"__primary__"}"#;
    let server = Engine::new("na+sm", Mode::Server, config, &InitOverrides::default()).unwrap();
    let shared = server.pool_by_name("shared").unwrap();
    server.register("echo", ECHO_PID, Some(shared.clone()), Arc::new(|req| Ok(req.payload))).unwrap();

    // A member that never answers a ping (its handler is stuck until the end).
    let stuck = engine("na+sm", Mode::Server);
    let (release, stuck_rx) = crossbeam_channel::bounded::<()>(0);
    stuck
        .register(
            mochi::flock::backends::swim::wire::PING,
            PID,
            None,
            Arc::new(move |_| {
                let _ = stuck_rx.recv_timeout(Duration::from_secs(60));
                Err("stuck".into())
            }),
        )
        .unwrap();

    let mut view = mochi::flock::bootstrap::from_self(&server, PID);
    view.add_member(stuck.self_address().as_str(), PID);
    // Each probe of the stuck member waits a whole second for its answer:
    // an echo stuck behind it would take that long.
    let timing = r#"{"protocol_period_ms":1500,"ping_timeout_ms":1000,"ping_req_timeout_ms":1000,"ping_req_members":2,"suspicion_timeout_ms":1500}"#;
    let provider = Provider::register(
        &server,
        PID,
        &format!(r#"{{"group":{{"type":"swim","config":{timing}}}}}"#),
        ProviderArgs { pool: Some(shared.clone()), initial_view: view, ..Default::default() },
    )
    .unwrap();
    assert_no_swim_threads();

    let client = engine("na+sm", Mode::Client);
    let addr = client.lookup(&server.self_address().to_string()).unwrap();
    let stuck_address = stuck.self_address().to_string();
    let start = Instant::now();
    let mut slowest = Duration::ZERO;
    let mut calls = 0;
    // Until swim declared the stuck member dead: a suspicion, its expiry
    // and the last ping, each waiting a second on the shared pool's stream.
    while provider.view().contains_member(&stuck_address, PID) {
        assert!(start.elapsed() < Duration::from_secs(30), "the stuck member was never declared dead");
        let t = Instant::now();
        client.call(&addr, "echo", ECHO_PID, vec![1; 16], Duration::from_secs(10)).unwrap();
        slowest = slowest.max(t.elapsed());
        calls += 1;
        std::thread::sleep(Duration::from_millis(10));
    }
    eprintln!("stuck member dropped after {:?}; {calls} echoes, the slowest {slowest:?}", start.elapsed());
    // Generous for a loaded machine, and still half of one ping's wait.
    assert!(slowest < Duration::from_millis(500), "an echo waited {slowest:?} behind swim on the shared stream");
    assert_no_swim_threads();

    provider.destroy();
    drop(release);
    client.finalize();
    stuck.finalize();
    server.finalize();
}

#[test]
fn an_idle_group_wakes_only_for_its_periods() {
    let _serial = MULTIPROCESS.lock();
    let period_ms = 500;
    let config = format!(
        r#"{{"group":{{"type":"swim","config":{{"protocol_period_ms":{period_ms},"ping_timeout_ms":200,"ping_req_timeout_ms":400,"suspicion_timeout_ms":5000}}}}}}"#
    );
    let engines: Vec<Engine> = (0..2).map(|_| engine("na+sm", Mode::Server)).collect();
    let first = Provider::register(
        &engines[0],
        PID,
        &config,
        ProviderArgs { initial_view: mochi::flock::bootstrap::from_self(&engines[0], PID), ..Default::default() },
    )
    .unwrap();
    let second =
        Provider::register(&engines[1], PID, &config, ProviderArgs { initial_view: first.view(), ..Default::default() }).unwrap();
    eventually("two members", Duration::from_secs(15), || {
        first.view().members().len() == 2 && second.view().members().len() == 2
    });
    assert_no_swim_threads();
    // Let the join's gossip and syncs settle.
    std::thread::sleep(Duration::from_millis(4 * period_ms));
    let before = tasks::tasks(None);
    let window = Duration::from_millis(8 * period_ms);
    std::thread::sleep(window);
    let after = tasks::tasks(None);
    let woke = tasks::woke(&before, &after, &["mochi-"]);
    let periods = 2 * window.as_millis() as u64 / period_ms; // both members
    eprintln!("{woke} wake-ups of the library's threads over {periods} member-periods");
    // A period is a timer wake-up, a job, a ping and its answer on either
    // side: a handful of wake-ups. Polling in a loop would be thousands.
    assert!(woke <= 30 * periods, "{woke} wake-ups in {periods} protocol periods: {before:?} -> {after:?}");
    first.destroy();
    second.destroy();
    for e in engines {
        e.finalize();
    }
}
