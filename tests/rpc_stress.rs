//! Many callers and many handlers, both directions, both transports: every
//! call must be answered, and none may stall. A lost wake-up (work queued
//! where the sleeping thread does not look) shows as a call that waits far
//! longer than its peers; the engine has no timer that would hide it.

use mochi::rpc::{Engine, InitOverrides, Mode};
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const THREADS_PER_SIDE: usize = 6;
const CALLS_PER_THREAD: usize = 1500;
/// Generous: a healthy call takes microseconds even on a loaded 2-core VM.
const STALL_BOUND: Duration = Duration::from_secs(5);

fn server(proto: &str) -> Engine {
    let config = r#"{"rpc_thread_count": 3}"#;
    let e = Engine::new(proto, Mode::Server, config, &InitOverrides::default()).unwrap();
    e.register("echo", 1, None, Arc::new(|req| Ok(req.payload))).unwrap();
    e
}

/// `relay` answers by calling `echo` on the engine whose address it was
/// given: handlers that are callers too. They run on a pool of their own
/// (two streams), so that relays waiting on each other's engines never
/// hold every stream that could answer their `echo`.
fn register_relay(on: &Engine, peer_addr: &str) {
    let peer_addr = peer_addr.to_string();
    on.add_pool_from_json(&serde_json::json!({"name": "relays"})).unwrap();
    for x in ["relay_x1", "relay_x2"] {
        on.add_xstream_from_json(&serde_json::json!({"name": x, "scheduler": {"type": "basic_wait", "pools": ["relays"]}}))
            .unwrap();
    }
    on.register(
        "relay",
        1,
        on.pool_by_name("relays"),
        Arc::new(move |req| {
            let addr = req.engine.lookup(&peer_addr).map_err(|e| e.to_string())?;
            req.engine.call(&addr, "echo", 1, req.payload, Duration::from_secs(20)).map_err(|e| e.to_string())
        }),
    )
    .unwrap();
}

fn hammer(from: &Engine, to_addr: &str, seed: usize) -> std::thread::JoinHandle<Duration> {
    let from = from.clone();
    let to = from.lookup(to_addr).unwrap();
    std::thread::spawn(move || {
        let mut worst = Duration::ZERO;
        for i in 0..CALLS_PER_THREAD {
            // Mostly small calls; every 50th is several fragments long.
            let size = if (i + seed) % 50 == 0 { 150_000 } else { 64 + (i % 7) * 100 };
            let payload: Vec<u8> = (0..size).map(|k| (k + i + seed) as u8).collect();
            let rpc = if (i + seed) % 5 == 0 { "relay" } else { "echo" };
            let start = Instant::now();
            let answer = from.call(&to, rpc, 1, payload.clone(), Duration::from_secs(30));
            worst = worst.max(start.elapsed());
            assert_eq!(answer.unwrap_or_else(|e| panic!("call {i} of thread {seed} ({rpc}, {size} B): {e}")), payload);
        }
        worst
    })
}

fn hammer_all(from: &Engine, to_addr: &str, seed: usize) -> Duration {
    let threads: Vec<_> = (0..THREADS_PER_SIDE).map(|t| hammer(from, to_addr, t + seed)).collect();
    threads.into_iter().map(|t| t.join().expect("a calling thread failed")).max().unwrap()
}

/// Two engines in two processes (this test binary runs the other side as
/// `peer_side`), calling each other from many threads: shm engines of one
/// process are connected directly, not through the fabric (rpc/local.rs),
/// so the transport's wake-ups are only exercised across processes.
fn stress(proto: &str) {
    let a = server(proto);
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "peer_side", "--ignored", "--nocapture", "--test-threads=1"])
        .env(PEER_ENV, format!("{proto} {}", a.self_address()))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the peer process");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut next = |tag: &str| loop {
        let line = lines.next().unwrap_or_else(|| panic!("the peer exited before printing {tag}")).unwrap();
        // libtest may have printed "test peer_side ... " on the same line.
        if let Some(at) = line.find(tag) {
            return line[at + tag.len()..].trim().to_string();
        }
    };
    let b_addr = next("PEER-ADDR");
    register_relay(&a, &b_addr);
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "go").unwrap();
    let worst_here = hammer_all(&a, &b_addr, 0);
    let worst_there = Duration::from_micros(next("PEER-WORST").parse().unwrap());
    drop(stdin);
    assert!(child.wait().unwrap().success(), "{proto}: the peer process failed");
    let worst = worst_here.max(worst_there);
    assert!(worst < STALL_BOUND, "{proto}: a call stalled for {worst:?}");
    eprintln!("{proto}: {} calls across two processes, slowest {worst:?}", 2 * THREADS_PER_SIDE * CALLS_PER_THREAD);
    a.finalize();
}

const PEER_ENV: &str = "MOCHI_RPC_STRESS_PEER";

/// The other process of [`stress`] (run only by it).
#[test]
#[ignore = "started by the stress tests as their peer process"]
fn peer_side() {
    let spec = std::env::var(PEER_ENV).expect("run by the stress tests only");
    let (proto, a_addr) = spec.split_once(' ').unwrap();
    let b = server(proto);
    register_relay(&b, a_addr);
    println!("PEER-ADDR {}", b.self_address());
    let mut go = String::new();
    std::io::stdin().read_line(&mut go).unwrap();
    let worst = hammer_all(&b, a_addr, 100);
    println!("PEER-WORST {}", worst.as_micros());
    // Stay until the other side has finished calling us (it closes stdin).
    let _ = std::io::stdin().read_to_string(&mut go);
    b.finalize();
}

/// Both engines in this process: the direct in-process path, many callers
/// and handlers both ways.
#[test]
fn many_callers_in_one_process_over_shm() {
    let a = server("na+sm");
    let b = server("na+sm");
    register_relay(&a, &b.self_address().to_string());
    register_relay(&b, &a.self_address().to_string());
    let (a2, b_addr) = (a.clone(), b.self_address().to_string());
    let there = std::thread::spawn(move || hammer_all(&a2, &b_addr, 0));
    let worst = hammer_all(&b, &a.self_address().to_string(), 100).max(there.join().unwrap());
    assert!(worst < STALL_BOUND, "a call stalled for {worst:?}");
    a.finalize();
    b.finalize();
}

#[test]
fn many_callers_and_handlers_over_shm() {
    stress("na+sm");
}

#[test]
fn many_callers_and_handlers_over_tcp() {
    stress("ofi+tcp");
}

/// The same with every core kept busy by spinning threads, so that the
/// engine's waiters take their blocking paths (see `rpc/spin.rs`).
#[test]
fn many_callers_and_handlers_with_busy_cores() {
    let busy = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let hogs: Vec<_> = (0..cores)
        .map(|_| {
            let busy = busy.clone();
            std::thread::spawn(move || {
                while busy.load(std::sync::atomic::Ordering::Relaxed) {
                    std::hint::spin_loop();
                }
            })
        })
        .collect();
    stress("na+sm");
    stress("ofi+tcp");
    busy.store(false, std::sync::atomic::Ordering::Relaxed);
    for h in hogs {
        h.join().unwrap();
    }
}
