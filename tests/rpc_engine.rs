//! The RPC core between two engines of one process, over real libfabric
//! endpoints (shm and tcp).

mod common;

use common::*;
use mochi::rpc::{Engine, Mode, RpcError};
use std::sync::Arc;
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(10);

fn echo_server(proto: &str) -> Engine {
    let e = engine(proto, Mode::Server);
    e.register("echo", 1, None, Arc::new(|req| Ok(req.payload))).unwrap();
    e.register("fail", 1, None, Arc::new(|_| Err("no luck".to_string()))).unwrap();
    e.register("sender", 1, None, Arc::new(|req| Ok(req.sender.map(|a| a.to_string()).unwrap_or_default().into_bytes())))
        .unwrap();
    e
}

fn exercise(proto: &str) {
    let server = echo_server(proto);
    let client = engine(proto, Mode::Client);
    let addr = client.lookup(server.self_address().as_str()).unwrap();
    assert_eq!(client.call(&addr, "echo", 1, b"hello".to_vec(), T).unwrap(), b"hello");
    assert_eq!(client.call(&addr, "echo", 1, Vec::new(), T).unwrap(), b"");
    // The handler sees the caller's address.
    let who = client.call(&addr, "sender", 1, Vec::new(), T).unwrap();
    assert_eq!(String::from_utf8(who).unwrap(), client.self_address().to_string());
    // Distinct errors for unknown provider and unknown RPC.
    assert!(matches!(client.call(&addr, "echo", 2, vec![], T), Err(RpcError::NoSuchProvider { provider_id: 2, .. })));
    assert!(matches!(client.call(&addr, "nope", 1, vec![], T), Err(RpcError::NoSuchRpc(_))));
    assert!(matches!(client.call(&addr, "fail", 1, vec![], T), Err(RpcError::Remote { .. })));
    // Large messages, both ways.
    for size in [4095, 4096, 70_000, 1 << 20, 64 << 20] {
        let data: Vec<u8> = (0..size).map(|i| (i * 31 % 251) as u8).collect();
        let back = client.call(&addr, "echo", 1, data.clone(), Duration::from_secs(60)).unwrap();
        assert!(back == data, "{size}-byte echo differs");
    }
    // Many threads at once.
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let c = client.clone();
            let a = addr.clone();
            std::thread::spawn(move || {
                for i in 0..200 {
                    let msg = format!("{t}-{i}").into_bytes();
                    assert_eq!(c.call(&a, "echo", 1, msg.clone(), T).unwrap(), msg);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    // A call to ourselves works without the fabric.
    let me = server.self_address();
    assert_eq!(server.call(&me, "echo", 1, b"self".to_vec(), T).unwrap(), b"self");
    client.finalize();
    server.finalize();
    assert!(matches!(client.call(&addr, "echo", 1, vec![], T), Err(RpcError::Finalized)));
}

#[test]
fn shm_round_trips() {
    exercise("na+sm");
}

#[test]
fn tcp_round_trips() {
    exercise("ofi+tcp");
}

/// A handler learns how long its caller waits for the answer
/// (`Request::deadline`), over the fabric (tcp: the request header carries
/// the timeout) and between engines of one process (shm).
fn deadlines(proto: &str) {
    let server = engine(proto, Mode::Server);
    let left = |req: mochi::rpc::Request| {
        let ms = req.deadline.map_or(u64::MAX, |d| d.saturating_duration_since(Instant::now()).as_millis() as u64);
        Ok(ms.to_le_bytes().to_vec())
    };
    server.register("left", 1, None, Arc::new(left)).unwrap();
    let client = engine(proto, Mode::Client);
    let addr = client.lookup(server.self_address().as_str()).unwrap();
    let ms = |timeout: Duration| {
        let reply = client.call(&addr, "left", 1, Vec::new(), timeout).unwrap();
        u64::from_le_bytes(reply.try_into().unwrap())
    };
    for timeout in [Duration::from_millis(1500), Duration::from_secs(20), Duration::from_secs(7 * 24 * 3600)] {
        let left = Duration::from_millis(ms(timeout));
        // Counted from the arrival, never shorter than the caller's (its
        // rounding on the wire is up, and these are whole units).
        assert!(left <= timeout && left + Duration::from_millis(500) > timeout, "{proto}: {timeout:?} seen as {left:?}");
    }
    client.finalize();
    server.finalize();
}

#[test]
fn handlers_see_their_callers_deadline() {
    deadlines("na+sm");
    deadlines("ofi+tcp");
}

#[test]
fn dead_peers_fail_within_their_timeout() {
    for (proto, dead) in [("na+sm", "na+sm://999999-77"), ("ofi+tcp", "ofi+tcp://127.0.0.1:1")] {
        let client = engine(proto, Mode::Client);
        let addr = client.lookup(dead).unwrap();
        let start = Instant::now();
        let r = client.call(&addr, "echo", 1, b"x".to_vec(), Duration::from_millis(300));
        // Both peers are certainly gone (no such process; port refused).
        assert!(matches!(&r, Err(e @ RpcError::PeerGone { .. }) if e.certainly_gone()), "{proto}: {r:?}");
        assert!(start.elapsed() < Duration::from_secs(2), "{proto}: took {:?}", start.elapsed());
        client.finalize();
    }
}

/// Over shm, a peer whose process is gone fails at once with a message
/// saying so, not at the call's timeout: never listened, exited cleanly
/// (region removed), or killed (region left behind, process gone).
#[test]
fn shm_peers_known_to_be_gone_fail_at_once() {
    let client = engine("na+sm", Mode::Client);
    let long = Duration::from_secs(20);
    // A process that exits: its endpoint existed, then its region went away.
    let gone = {
        let server = engine("na+sm", Mode::Server);
        let a = server.self_address().to_string();
        server.finalize();
        a
    };
    // A killed process: its region stays in /dev/shm (libfabric cannot
    // remove it), its pid does not exist.
    let mut child = std::process::Command::new("sleep").arg("30").spawn().unwrap();
    let pid = child.id();
    let stale = std::path::PathBuf::from(format!("/dev/shm/mochi-{pid}:0:0"));
    std::fs::write(&stale, b"left behind").unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    for (dead, why) in [
        ("na+sm://4194399-0".to_string(), "does not exist"),
        (gone, "does not exist"),
        // (the background sweep of dead regions may have removed it first)
        (format!("na+sm://{pid}-0"), "has exited|does not exist"),
    ] {
        let addr = client.lookup(&dead).unwrap();
        let start = Instant::now();
        let r = client.call(&addr, "echo", 1, b"x".to_vec(), long);
        let text = format!("{:?}", r.as_ref().err());
        let explained = why.split('|').any(|w| text.contains(w));
        assert!(r.is_err() && text.contains("nobody listens") && explained, "{dead}: {text}");
        assert!(start.elapsed() < Duration::from_secs(2), "{dead}: took {:?}", start.elapsed());
    }
    let _ = std::fs::remove_file(&stale);
    client.finalize();
}

/// Over tcp, a port nobody listens on fails the first call at once
/// (libfabric alone retries the refused connection until the timeout); a
/// live peer is not disturbed by the check.
#[test]
fn tcp_refused_peers_fail_at_once() {
    let client = engine("ofi+tcp", Mode::Client);
    let dead = client.lookup("ofi+tcp://127.0.0.1:1").unwrap();
    let start = Instant::now();
    let r = client.call(&dead, "echo", 1, b"x".to_vec(), Duration::from_secs(20));
    assert!(matches!(&r, Err(RpcError::PeerGone { message, .. }) if message.contains("connection refused")), "{r:?}");
    assert!(start.elapsed() < Duration::from_secs(2), "took {:?}", start.elapsed());
    let server = echo_server("ofi+tcp");
    let live = client.lookup(server.self_address().as_str()).unwrap();
    for _ in 0..3 {
        assert_eq!(client.call(&live, "echo", 1, b"hi".to_vec(), T).unwrap(), b"hi");
    }
    server.finalize();
    client.finalize();
}

#[test]
fn remote_shutdown_needs_consent() {
    let server = engine("na+sm", Mode::Server);
    let client = engine("na+sm", Mode::Client);
    let addr = client.lookup(server.self_address().as_str()).unwrap();
    assert!(client.shutdown_remote(&addr, T).is_err());
    server.enable_remote_shutdown();
    client.shutdown_remote(&addr, T).unwrap();
    server.wait_for_finalize();
    client.finalize();
}

/// A handler that finalizes its own engine still answers: the finalize
/// happens once it has returned (as margo defers it while an RPC runs),
/// and requests arriving meanwhile are refused, not served.
#[test]
fn a_handler_finalizing_its_engine_still_answers() {
    for proto in ["na+sm", "ofi+tcp"] {
        let server = engine(proto, Mode::Server);
        let (tx, rx) = std::sync::mpsc::channel();
        let me = server.clone();
        server
            .register(
                "last_words",
                1,
                None,
                Arc::new(move |_req| {
                    me.finalize();
                    // Deferred: still running, still serving this answer;
                    // waiting for it here returns (it would never end).
                    me.wait_for_finalize();
                    tx.send(me.is_finalizing()).unwrap();
                    Ok(b"goodbye".to_vec())
                }),
            )
            .unwrap();
        let client = engine(proto, Mode::Client);
        let addr = client.lookup(server.self_address().as_str()).unwrap();
        let answer = client.call(&addr, "last_words", 1, Vec::new(), T);
        assert_eq!(answer.unwrap(), b"goodbye", "{proto}");
        assert!(!rx.recv().unwrap(), "{proto}: finalize waited for the handler");
        server.wait_for_finalize();
        assert!(client.call(&addr, "last_words", 1, Vec::new(), Duration::from_secs(2)).is_err(), "{proto}");
        client.finalize();
    }
}

#[test]
fn bad_addresses_are_rejected() {
    let e = engine("na+sm", Mode::Client);
    for bad in ["", "na+sm://garbage", "ofi+tcp://nohost:99999", "ofi+tcp://127.0.0.1:5"] {
        assert!(e.lookup(bad).is_err(), "{bad}");
    }
    e.finalize();
}

/// A server that has answered many short-lived clients keeps bounded
/// per-peer tables (address vector, doorbells, reachability), and still
/// answers the newest ones.
fn churn(proto: &str, clients: usize) {
    let server = echo_server(proto);
    let addr_text = server.self_address().to_string();
    let mut biggest = (0, 0, 0);
    for i in 0..clients {
        // Server mode: the server calls each of them back (a client-mode
        // engine that registered nothing does not listen, see below).
        let client = engine(proto, Mode::Server);
        let addr = client.lookup(&addr_text).unwrap();
        let back = client.call(&addr, "echo", 1, vec![i as u8; 32], Duration::from_secs(10)).unwrap();
        assert_eq!(back, vec![i as u8; 32]);
        // The server calls back too, so its reachability set sees churn.
        let caller = server.lookup(&client.self_address().to_string()).unwrap();
        let _ = server.call(&caller, "nothing-registered", 1, Vec::new(), Duration::from_secs(10));
        client.finalize();
        let sizes = server.peer_table_sizes();
        biggest = (biggest.0.max(sizes.0), biggest.1.max(sizes.1), biggest.2.max(sizes.2));
    }
    let bound = mochi::rpc::MAX_PEERS;
    assert!(biggest.0 <= bound && biggest.1 <= bound && biggest.2 <= bound, "{proto}: tables grew to {biggest:?}");
    let last = engine(proto, Mode::Client);
    let addr = last.lookup(&addr_text).unwrap();
    assert_eq!(last.call(&addr, "echo", 1, b"ok".to_vec(), Duration::from_secs(10)).unwrap(), b"ok");
    last.finalize();
    server.finalize();
}

/// A client-mode engine starts listening when it registers an RPC, even
/// after it made calls without listening (over tcp its calls then each
/// watch the completion fd alone, see rpc/progress.rs `CqWatch`): a peer's
/// request to it is answered at once, not when it next calls.
fn client_that_registers_answers(proto: &str) {
    let server = echo_server(proto);
    let client = engine(proto, Mode::Client);
    let to_server = client.lookup(server.self_address().as_str()).unwrap();
    for i in 0..50u8 {
        assert_eq!(client.call(&to_server, "echo", 1, vec![i], T).unwrap(), vec![i]);
    }
    client.register("ping", 3, None, Arc::new(|_| Ok(b"pong".to_vec()))).unwrap();
    let to_client = server.lookup(client.self_address().as_str()).unwrap();
    for _ in 0..20 {
        let start = Instant::now();
        assert_eq!(server.call(&to_client, "ping", 3, Vec::new(), T).unwrap(), b"pong");
        assert!(start.elapsed() < Duration::from_secs(2), "{proto}: the client answered only after {:?}", start.elapsed());
        // The client's own calls in between do not stop it listening.
        assert_eq!(client.call(&to_server, "echo", 1, b"x".to_vec(), T).unwrap(), b"x");
    }
    client.finalize();
    server.finalize();
}

#[test]
fn client_that_registers_answers_tcp() {
    client_that_registers_answers("ofi+tcp");
}

#[test]
fn client_that_registers_answers_shm() {
    client_that_registers_answers("na+sm");
}

#[test]
fn churning_tcp_peers_keep_tables_bounded() {
    // Past MAX_PEERS (512) once: the idle half is evicted, then the table
    // grows again without reaching the bound.
    churn("ofi+tcp", mochi::rpc::MAX_PEERS + 128);
}

/// Over shm, engines of one process call each other directly
/// (rpc/local.rs), so this churns the process's engine list rather than
/// the address vector; shm peers in other processes are evicted like tcp
/// ones (the same code path, covered by the tcp churn above).
#[test]
fn churning_shm_peers_keep_tables_bounded() {
    churn("na+sm", 120);
}

/// A deferred handler answers from another thread while its execution
/// stream serves other requests; one that drops or panics answers with an
/// error at once rather than leaving its caller to time out.
fn deferred(proto: &str) {
    let server = engine(proto, Mode::Server);
    // One pool, one stream: a handler that waited here would block "echo".
    server.register("echo", 1, None, Arc::new(|req| Ok(req.payload))).unwrap();
    server
        .register_deferred(
            "later",
            1,
            None,
            Arc::new(|req, responder| {
                std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_millis(300));
                    responder.respond(Ok(req.payload));
                });
            }),
        )
        .unwrap();
    server.register_deferred("dropped", 1, None, Arc::new(|_, responder| drop(responder))).unwrap();
    server.register_deferred("panics", 1, None, Arc::new(|_, _| panic!("deferred handler panic (expected)"))).unwrap();
    let client = engine(proto, Mode::Client);
    let addr = client.lookup(server.self_address().as_str()).unwrap();
    let slow = client.call_async(&addr, "later", 1, b"late".to_vec(), T).unwrap();
    let start = Instant::now();
    assert_eq!(client.call(&addr, "echo", 1, b"now".to_vec(), T).unwrap(), b"now");
    assert!(start.elapsed() < Duration::from_millis(250), "echo waited for the deferred handler");
    assert_eq!(slow.wait().unwrap(), b"late");
    for name in ["dropped", "panics"] {
        let start = Instant::now();
        match client.call(&addr, name, 1, Vec::new(), T) {
            Err(RpcError::Remote { message, .. }) => assert!(!message.is_empty()),
            other => panic!("{name}: expected a remote error, got {other:?}"),
        }
        assert!(start.elapsed() < Duration::from_secs(5), "{name} left its caller waiting");
    }
    // A call to ourselves, answered later.
    let me = server.self_address();
    assert_eq!(server.call(&me, "later", 1, b"self".to_vec(), T).unwrap(), b"self");
    client.finalize();
    server.finalize();
}

#[test]
fn deferred_answers_over_shm_and_tcp() {
    deferred("na+sm");
    deferred("ofi+tcp");
}

/// A handler that waits for a call lends its execution stream: requests
/// that come meanwhile run on a stand-in, and each waiting handler resumes
/// when its own answer (here: its timeout) comes, not when handlers started
/// after it finish. Handlers of the one stream still run one at a time.
fn lending(proto: &str) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;
    // A peer that never answers "hole".
    let silent = engine(proto, Mode::Server);
    let held = Arc::new(Mutex::new(Vec::new()));
    let keep = held.clone();
    silent.register_deferred("hole", 1, None, Arc::new(move |_, responder| keep.lock().unwrap().push(responder))).unwrap();
    let hole = silent.self_address().to_string();
    // A server with one execution stream (the default layout).
    let server = engine(proto, Mode::Server);
    let running = Arc::new(AtomicUsize::new(0));
    let overlaps = Arc::new(AtomicUsize::new(0));
    let enter = {
        let (running, overlaps) = (running.clone(), overlaps.clone());
        move || {
            if running.fetch_add(1, Ordering::SeqCst) != 0 {
                overlaps.fetch_add(1, Ordering::SeqCst);
            }
        }
    };
    let leave = {
        let running = running.clone();
        move || {
            running.fetch_sub(1, Ordering::SeqCst);
        }
    };
    let (e1, l1) = (enter.clone(), leave.clone());
    server
        .register(
            "echo",
            1,
            None,
            Arc::new(move |req| {
                e1();
                std::thread::sleep(Duration::from_millis(2));
                l1();
                Ok(req.payload)
            }),
        )
        .unwrap();
    server
        .register(
            "waits",
            1,
            None,
            Arc::new(move |req| {
                enter();
                let start = Instant::now();
                let peer = req.engine.lookup(&hole).map_err(|e| e.to_string())?;
                leave();
                let r = req.engine.call(&peer, "hole", 1, Vec::new(), Duration::from_secs(2));
                enter();
                assert!(r.is_err());
                let waited = start.elapsed().as_millis().to_string();
                leave();
                Ok(waited.into_bytes())
            }),
        )
        .unwrap();
    let client = engine(proto, Mode::Client);
    let addr = client.lookup(server.self_address().as_str()).unwrap();
    let first = client.call_async(&addr, "waits", 1, Vec::new(), T).unwrap();
    let sent = Instant::now();
    let mut later = Vec::new();
    for round in 0..20 {
        let start = Instant::now();
        assert_eq!(client.call(&addr, "echo", 1, b"x".to_vec(), T).unwrap(), b"x");
        assert!(
            start.elapsed() < Duration::from_millis(500),
            "{proto}: echo waited {:?} behind a waiting handler",
            start.elapsed()
        );
        if round % 5 == 4 {
            // Waiting handlers that start while the first one waits.
            later.push(client.call_async(&addr, "waits", 1, Vec::new(), T).unwrap());
        }
        std::thread::sleep(Duration::from_millis(75));
    }
    let waited: u64 = String::from_utf8(first.wait().unwrap()).unwrap().parse().unwrap();
    let answered = sent.elapsed();
    // Alone it waits its 2 s timeout; on a shared stack it would also wait
    // for the ones started up to 1.5 s after it (3.5 s).
    assert!(
        waited < 2_900 && answered < Duration::from_millis(2_900),
        "{proto}: first waiting handler took {waited} ms ({answered:?})"
    );
    for p in later {
        let w: u64 = String::from_utf8(p.wait().unwrap()).unwrap().parse().unwrap();
        assert!(w < 2_900, "{proto}: a waiting handler took {w} ms");
    }
    assert_eq!(overlaps.load(Ordering::SeqCst), 0, "{proto}: two handlers of one stream ran at once");
    client.finalize();
    server.finalize();
    held.lock().unwrap().clear();
    silent.finalize();
}

#[test]
fn waiting_handlers_lend_their_stream() {
    lending("na+sm");
    lending("ofi+tcp");
}

/// What `Engine::watch_peer` callbacks report: (tag, why).
type Verdicts = crossbeam_channel::Receiver<(&'static str, String)>;

fn watcher(
    e: &Engine,
    peer: &mochi::rpc::Address,
    tag: &'static str,
    tx: &crossbeam_channel::Sender<(&'static str, String)>,
) -> mochi::rpc::PeerWatchGuard {
    let tx = tx.clone();
    e.watch_peer(
        peer,
        Box::new(move |why| {
            let _ = tx.send((tag, why.to_string()));
        }),
    )
    .unwrap()
}

/// Two guards on `peer`, the second dropped at once; `kill` makes the peer
/// go. Only the kept guard fires, soon after; then a watch on the peer,
/// already gone, fires at once.
fn watched_peer_goes(proto: &str, peer: &str, kill: impl FnOnce(), why: &str) {
    let e = engine(proto, Mode::Server);
    let addr = e.lookup(peer).unwrap();
    let (tx, rx): (_, Verdicts) = crossbeam_channel::unbounded();
    let _kept = watcher(&e, &addr, "kept", &tx);
    drop(watcher(&e, &addr, "dropped", &tx));
    assert!(rx.recv_timeout(Duration::from_millis(300)).is_err(), "{proto}: a live peer is not gone");
    kill();
    let gone_at = Instant::now();
    let (tag, message) = rx.recv_timeout(Duration::from_secs(5)).expect("the watch fires when the peer goes");
    eprintln!("{proto}: the watch fired {:?} after the peer went: {message}", gone_at.elapsed());
    assert_eq!(tag, "kept");
    assert!(message.contains(why), "{proto}: {message}");
    assert!(rx.recv_timeout(Duration::from_millis(200)).is_err(), "{proto}: a dropped guard never fires (nor a kept one twice)");
    let start = Instant::now();
    let _late = watcher(&e, &addr, "late", &tx);
    let (tag, _) = rx.recv_timeout(Duration::from_secs(2)).expect("a peer already gone fires at once");
    assert_eq!(tag, "late");
    eprintln!("{proto}: a watch on a peer already gone fired in {:?}", start.elapsed());
    e.finalize();
}

/// A `mochi-echo` server in a process of its own: (process, address).
fn echo_process(proto: &str) -> (Reaped, String) {
    let file = scratch_dir("echo").join("server.addr");
    let child = Reaped(
        std::process::Command::new(env!("CARGO_BIN_EXE_mochi-echo"))
            .args(["server", proto, "--addr-file"])
            .arg(&file)
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("start mochi-echo"),
    );
    let start = Instant::now();
    loop {
        if let Ok(text) = std::fs::read_to_string(&file) {
            if !text.trim().is_empty() {
                // The file has done its job: leave nothing behind.
                let _ = std::fs::remove_dir_all(file.parent().unwrap());
                return (child, text.trim().to_string());
            }
        }
        // (Dropping the child kills it.)
        assert!(start.elapsed() < Duration::from_secs(20), "mochi-echo did not publish its address");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A child process, SIGKILLed (if still there) and reaped when dropped.
struct Reaped(std::process::Child);

impl Reaped {
    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Reaped {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Engines in other processes, SIGKILLed while watched: over shm their
/// process exits, over tcp their listener closes and refuses.
#[test]
fn watched_peers_that_go_fire_their_watch() {
    for (proto, why) in [("na+sm", "has exited"), ("ofi+tcp", "connection refused")] {
        let (mut child, peer) = echo_process(proto);
        watched_peer_goes(proto, &peer, || child.kill(), why);
    }
}

#[test]
fn watching_a_peer_of_another_protocol_is_refused() {
    let e = engine("na+sm", Mode::Client);
    let tcp = mochi::rpc::Address::parse("ofi+tcp://127.0.0.1:1").unwrap();
    let r = e.watch_peer(&tcp, Box::new(|_| {}));
    assert!(matches!(r, Err(RpcError::WrongProtocol { .. })), "{:?}", r.err());
    e.finalize();
}

/// A call canceled from another thread ends at once with `Canceled`, and
/// its answer, when the handler finally gives it, is dropped.
fn cancel(proto: &str) {
    let server = engine(proto, Mode::Server);
    let (release_tx, release_rx) = crossbeam_channel::unbounded::<()>();
    server
        .register(
            "stall",
            1,
            None,
            Arc::new(move |_req| {
                let _ = release_rx.recv_timeout(Duration::from_secs(30));
                Ok(b"late".to_vec())
            }),
        )
        .unwrap();
    let client = engine(proto, Mode::Client);
    let addr = client.lookup(server.self_address().as_str()).unwrap();
    let (token_tx, token_rx) = crossbeam_channel::bounded(1);
    let caller = {
        let (client, addr) = (client.clone(), addr.clone());
        std::thread::spawn(move || {
            let start = Instant::now();
            let r = client
                .call_with_token(&addr, "stall", 1, Vec::new(), Duration::from_secs(30), |c| token_tx.send(c.token()).unwrap());
            (r, start.elapsed())
        })
    };
    let token = token_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    assert!(client.cancel_call(&token), "{proto}: the call was in flight");
    let (r, took) = caller.join().unwrap();
    assert!(matches!(r, Err(RpcError::Canceled { .. })), "{proto}: {r:?}");
    assert!(took < Duration::from_secs(10), "{proto}: canceled after {took:?}");
    assert!(!client.cancel_call(&token), "{proto}: a finished call is not canceled again");
    release_tx.send(()).unwrap();
    // The engine still works (the late answer went nowhere).
    server.register("echo", 2, None, Arc::new(|req| Ok(req.payload))).unwrap();
    assert_eq!(client.call(&addr, "echo", 2, vec![1, 2], Duration::from_secs(10)).unwrap(), vec![1, 2]);
    client.finalize();
    server.finalize();
}

#[test]
fn a_canceled_call_ends_at_once_on_both_transports() {
    cancel("na+sm");
    cancel("ofi+tcp");
}

/// Argobots' objects in handlers (`rpc::sync`): on a pool with a single
/// execution stream, a handler blocked on an eventual lends the stream, so
/// the later request that sets it runs; threads started on that pool by a
/// handler run and are joined by it.
#[test]
fn a_handler_blocked_on_an_eventual_lends_its_only_stream() {
    use mochi::rpc::sync::{Eventual, Mutex as AbtMutex, Ult};
    let config = r#"{"argobots":{"pools":[{"name":"__primary__"},{"name":"one"}],
        "xstreams":[{"name":"__primary__","scheduler":{"pools":["__primary__"]}},
                    {"name":"es1","scheduler":{"pools":["one"]}}]},
        "progress_pool":"__primary__","rpc_pool":"one"}"#;
    let server = Engine::new("na+sm", Mode::Server, config, &mochi::rpc::InitOverrides::default()).unwrap();
    let event = Arc::new(Eventual::new(4).unwrap());
    let (e1, e2) = (event.clone(), event.clone());
    server
        .register(
            "wait",
            1,
            None,
            Arc::new(move |_req| {
                e1.wait();
                // SAFETY: set with 4 bytes before `wait` returned; the
                // eventual lives as long as this handler's captures.
                Ok(unsafe { std::slice::from_raw_parts(e1.value_ptr(), 4) }.to_vec())
            }),
        )
        .unwrap();
    server
        .register("set", 1, None, Arc::new(move |req| e2.set(&req.payload).map(|_| Vec::new()).map_err(|e| e.to_string())))
        .unwrap();
    let pool = server.pool_by_name("one").unwrap();
    server
        .register(
            "spawn",
            1,
            None,
            Arc::new(move |_req| {
                let lock = Arc::new(AbtMutex::new(false));
                let sum = Arc::new(std::sync::atomic::AtomicU32::new(0));
                let threads: Vec<Ult> = (1..=4)
                    .map(|i| {
                        let (lock, sum) = (lock.clone(), sum.clone());
                        Ult::spawn(&pool, move || {
                            lock.lock();
                            sum.fetch_add(i, std::sync::atomic::Ordering::SeqCst);
                            lock.unlock().unwrap();
                        })
                    })
                    .collect();
                for t in &threads {
                    t.join().map_err(|e| format!("{e:?}"))?;
                }
                Ok(sum.load(std::sync::atomic::Ordering::SeqCst).to_le_bytes().to_vec())
            }),
        )
        .unwrap();
    let client = engine("na+sm", Mode::Client);
    let addr = client.lookup(server.self_address().as_str()).unwrap();
    let waiting = client.call_async(&addr, "wait", 1, Vec::new(), Duration::from_secs(30)).unwrap();
    client.call(&addr, "set", 1, vec![1, 2, 3, 4], Duration::from_secs(10)).expect("set runs while wait blocks the only stream");
    assert_eq!(waiting.wait().unwrap(), vec![1, 2, 3, 4]);
    let sum = client.call(&addr, "spawn", 1, Vec::new(), Duration::from_secs(10)).unwrap();
    assert_eq!(sum, 10u32.to_le_bytes().to_vec(), "four threads on the handler's own one-stream pool, joined");
    client.finalize();
    server.finalize();
}
