//! The `centralized` backend runs on the pool its provider was given, with
//! no thread of its own: a pool with one execution stream, shared with
//! another provider, keeps serving that provider while the backend waits
//! for members that do not answer (a primary pinging a silent follower, a
//! follower probing a silent primary and taking over); and an idle group
//! wakes only for its pings and view checks. (A test binary of its own: it
//! reads the process's threads.)

mod common;

use common::*;
use mochi::flock::backends::centralized::wire;
use mochi::flock::provider::{Provider, ProviderArgs};
use mochi::flock::GroupView;
use mochi::rpc::{Engine, InitOverrides, Mode};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

const ECHO_PID: u16 = 9;

/// A process-wide check: no thread of the backend's own (it had
/// `flock-central` and `flock-central-ev` per provider).
fn assert_no_backend_threads() {
    tasks::assert_no_threads_containing("central", "central_pools", "the centralized backend");
}

fn group_config(settings: &str) -> String {
    format!(r#"{{"group":{{"type":"centralized","config":{settings}}}}}"#)
}

/// The primary a view's `__config__` names.
fn primary_of(view: &GroupView) -> (String, u16) {
    let cfg: serde_json::Value = serde_json::from_str(view.find_metadata("__config__").unwrap()).unwrap();
    (cfg["primary_address"].as_str().unwrap().to_string(), cfg["primary_provider_id"].as_u64().unwrap() as u16)
}

#[test]
fn a_shared_one_stream_pool_keeps_serving_while_the_group_waits() {
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

    // A peer whose centralized handlers answer too late (after 1.5 s, past
    // every timeout; on streams of their own, so that they all get called):
    // a follower of group 1 that ignores pings, the primary of groups 2 and
    // 3, which ignores view checks, and the other member of group 3, which
    // ignores `whois` questions.
    let slow = r#"{"argobots":{"pools":[{"name":"__primary__"},{"name":"slow"}],
        "xstreams":[{"name":"__primary__","scheduler":{"pools":["__primary__"]}},
                    {"name":"s1","scheduler":{"pools":["slow"]}},{"name":"s2","scheduler":{"pools":["slow"]}},
                    {"name":"s3","scheduler":{"pools":["slow"]}},{"name":"s4","scheduler":{"pools":["slow"]}},
                    {"name":"s5","scheduler":{"pools":["slow"]}},{"name":"s6","scheduler":{"pools":["slow"]}}]},
        "progress_pool":"__primary__","rpc_pool":"__primary__"}"#;
    let stuck = Engine::new("na+sm", Mode::Server, slow, &InitOverrides::default()).unwrap();
    let slow_pool = stuck.pool_by_name("slow").unwrap();
    let asked = Arc::new(Mutex::new(HashMap::<(&str, u16), Instant>::new()));
    for (rpc, pid) in [(wire::PING, 1u16), (wire::SYNC, 2), (wire::SYNC, 3), (wire::WHOIS, 4)] {
        let asked = asked.clone();
        stuck
            .register(
                rpc,
                pid,
                Some(slow_pool.clone()),
                Arc::new(move |_| {
                    asked.lock().entry((rpc, pid)).or_insert_with(Instant::now);
                    std::thread::sleep(Duration::from_millis(1500));
                    Err("too late".into())
                }),
            )
            .unwrap();
    }
    let me = server.self_address().to_string();
    let them = stuck.self_address().to_string();
    assert!(me < them, "the server comes first in view order");

    // Every wait on the stuck member is a whole second: an echo queued
    // behind one would take that long.
    let settings = |primary: &str, pid: u16| {
        format!(
            r#"{{"ping_timeout_ms":1000,"ping_interval_ms":[200,300],"ping_max_num_timeouts":2,"update_interval":300,
                "primary_address":"{primary}","primary_provider_id":{pid}}}"#
        )
    };
    let register = |pid: u16, members: &[(&str, u16)], primary: (&str, u16)| {
        let mut view = GroupView::new();
        for (a, p) in members {
            view.add_member(a, *p);
        }
        Provider::register(
            &server,
            pid,
            &group_config(&settings(primary.0, primary.1)),
            ProviderArgs { pool: Some(shared.clone()), initial_view: view, ..Default::default() },
        )
        .unwrap()
    };
    // Group 1: we are the primary; our follower never answers a ping.
    let primary = register(1, &[(&me, 1), (&them, 1)], (&me, 1));
    // Group 2: our primary never answers; we are the only other member, so
    // we take over.
    let follower = register(2, &[(&me, 2), (&them, 2)], (&them, 2));
    // Group 3: our primary never answers, nor does the third member when we
    // ask it during the election (so we assume we are cut off and wait).
    let elector = register(3, &[(&me, 3), (&them, 3), (&them, 4)], (&them, 3));
    assert_no_backend_threads();

    let client = engine("na+sm", Mode::Client);
    let addr = client.lookup(&me).unwrap();
    let start = Instant::now();
    let mut slowest = Duration::ZERO;
    let mut calls = 0;
    // Members started together are given at least 5 s to come up; then the
    // primary declares its follower dead, the follower of group 2 takes over
    // from its primary and the one of group 3 asks the third member, each
    // after seconds of requests left unanswered. Echoes go on until a whole
    // `whois` timeout has passed.
    let settled = || {
        let v1 = primary.view();
        let v2 = follower.view();
        let whois = asked.lock().get(&(wire::WHOIS, 4)).copied();
        !v1.contains_member(&them, 1)
            && !v2.contains_member(&them, 2)
            && primary_of(&v2) == (me.clone(), 2)
            && whois.is_some_and(|t| t.elapsed() > Duration::from_millis(1200))
    };
    while !settled() {
        assert!(
            start.elapsed() < Duration::from_secs(40),
            "the stuck members were never removed: {:?} / {:?} / asked {:?}",
            primary.view(),
            follower.view(),
            asked.lock()
        );
        let t = Instant::now();
        client.call(&addr, "echo", ECHO_PID, vec![1; 16], Duration::from_secs(10)).unwrap();
        slowest = slowest.max(t.elapsed());
        calls += 1;
        std::thread::sleep(Duration::from_millis(10));
    }
    // Group 3 keeps its primary: no other member answered.
    assert!(elector.view().contains_member(&them, 3));
    let first_asked: Vec<String> =
        asked.lock().iter().map(|((rpc, pid), t)| format!("{rpc} {pid} at {:?}", t.saturating_duration_since(start))).collect();
    eprintln!(
        "settled after {:?} (first requests to the stuck member: {first_asked:?}); {calls} echoes, the slowest {slowest:?}",
        start.elapsed()
    );
    // Generous for a loaded machine, and still half of one wait.
    assert!(slowest < Duration::from_millis(500), "an echo waited {slowest:?} behind the group on the shared stream");
    assert_no_backend_threads();

    primary.destroy();
    follower.destroy();
    elector.destroy();
    client.finalize();
    stuck.finalize();
    server.finalize();
}

#[test]
fn an_idle_group_wakes_only_for_its_pings() {
    let _serial = MULTIPROCESS.lock();
    let interval_ms = 500;
    let config = group_config(&format!(
        r#"{{"ping_timeout_ms":400,"ping_interval_ms":{interval_ms},"ping_max_num_timeouts":3,"update_interval":{interval_ms}}}"#
    ));
    let engines: Vec<Engine> = (0..3).map(|_| engine("na+sm", Mode::Server)).collect();
    let mut view = GroupView::new();
    for e in &engines {
        view.add_member(e.self_address().as_str(), 1);
    }
    let providers: Vec<Provider> = engines
        .iter()
        .map(|e| Provider::register(e, 1, &config, ProviderArgs { initial_view: view.clone(), ..Default::default() }).unwrap())
        .collect();
    // Everyone heard from the primary (the view carries its config).
    eventually("one view", Duration::from_secs(15), || {
        let d: Vec<u64> = providers.iter().map(|p| p.view().digest()).collect();
        d.iter().all(|x| *x == d[0])
    });
    assert_no_backend_threads();
    std::thread::sleep(Duration::from_millis(4 * interval_ms));
    let before = tasks::tasks(None);
    let window = Duration::from_millis(8 * interval_ms);
    std::thread::sleep(window);
    let after = tasks::tasks(None);
    let woke = tasks::woke(&before, &after, &["mochi-", "flock-"]);
    let intervals = window.as_millis() as u64 / interval_ms;
    // Per interval: two pings (primary) and two view checks (followers),
    // each a timer wake-up, a step, a request and its answer.
    eprintln!("{woke} wake-ups of the library's threads over {intervals} intervals of a 3-member group");
    let busiest: Vec<(String, u64)> = after
        .iter()
        .filter_map(|t| before.iter().find(|b| b.name == t.name).map(|b| (t.name.clone(), t.switches - b.switches)))
        .filter(|(_, d)| *d > 0)
        .collect();
    eprintln!("per thread: {busiest:?}");
    // About 7 per interval here. The backend's previous threads woke 20
    // times a second per member (35 per interval here, all told).
    assert!(woke <= 16 * intervals, "{woke} wake-ups in {intervals} intervals: {before:?} -> {after:?}");
    for p in &providers {
        p.destroy();
    }
    for e in engines {
        e.finalize();
    }
}
