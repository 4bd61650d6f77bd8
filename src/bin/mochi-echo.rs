//! A server and a client exchanging RPCs over the engine: the smallest real
//! multi-process job, and the latency benchmark's driver.
//!
//! ```text
//! mochi-echo server na+sm --addr-file /tmp/server.addr
//! mochi-echo client "$(cat /tmp/server.addr)" --count 10000 --size 64 --shutdown
//! ```

#[path = "common/fabric_start.rs"]
mod fabric_start;

use clap::{Parser, Subcommand};
use mochi::rpc::{Engine, InitOverrides, Mode};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(about = "Echo RPC server and client over the mochi engine")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the `echo` RPC (provider id 1) until shut down remotely.
    Server {
        /// Protocol or address to listen on (na+sm, ofi+tcp, ofi+tcp://IP:PORT).
        protocol: String,
        /// Write the server's address to this file (atomically).
        #[arg(long)]
        addr_file: Option<std::path::PathBuf>,
        /// Margo JSON config (pools, xstreams, ...).
        #[arg(long, default_value = "")]
        config: String,
    },
    /// Call `echo` on a server and report round-trip times.
    Client {
        /// The server's address, as it printed it.
        address: String,
        #[arg(long, default_value_t = 1000)]
        count: usize,
        /// Payload bytes per call.
        #[arg(long, default_value_t = 64)]
        size: usize,
        /// Concurrent calling threads.
        #[arg(long, default_value_t = 1)]
        threads: usize,
        /// Per-call timeout in milliseconds.
        #[arg(long, default_value_t = 10_000)]
        timeout_ms: u64,
        /// Ask the server to shut down afterwards.
        #[arg(long)]
        shutdown: bool,
        /// Write each timed call as "start_ns duration_ns" (start on
        /// CLOCK_MONOTONIC, as `perf record -k CLOCK_MONOTONIC` stamps
        /// events), one line per call: to find slow calls in a trace.
        #[arg(long)]
        rtt_file: Option<std::path::PathBuf>,
    },
    /// Create a Flock group handle from a group file (fetching the view,
    /// as FLOCK_MODE_INIT_UPDATE does) and read its view, `count` times;
    /// report the times.
    Flock {
        /// The group file a Flock provider wrote.
        group_file: std::path::PathBuf,
        #[arg(long, default_value_t = 1000)]
        count: usize,
    },
}

fn main() {
    fabric_start::init_libfabric();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Server { protocol, addr_file, config } => server(&protocol, addr_file, &config),
        Command::Client { address, count, size, threads, timeout_ms, shutdown, rtt_file } => {
            let timeout = Duration::from_millis(timeout_ms);
            client(&address, count, size, threads.max(1), timeout, shutdown, rtt_file.as_deref())
        }
        Command::Flock { group_file, count } => flock_handles(&group_file, count.max(1)),
    };
    if let Err(e) = result {
        eprintln!("mochi-echo: {e}");
        std::process::exit(1);
    }
}

fn server(protocol: &str, addr_file: Option<std::path::PathBuf>, config: &str) -> Result<(), String> {
    let engine = Engine::new(protocol, Mode::Server, config, &InitOverrides::default()).map_err(|e| e.to_string())?;
    engine.register("echo", 1, None, Arc::new(|req| Ok(req.payload))).map_err(|e| e.to_string())?;
    engine.enable_remote_shutdown();
    let addr = engine.self_address().to_string();
    println!("{addr}");
    if let Some(path) = addr_file {
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, format!("{addr}\n")).map_err(|e| format!("{}: {e}", tmp.display()))?;
        std::fs::rename(&tmp, &path).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    engine.wait_for_finalize();
    Ok(())
}

/// Now on CLOCK_MONOTONIC, in nanoseconds.
fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: ts is a valid out-parameter; the clock id is a constant.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

fn client(
    address: &str,
    count: usize,
    size: usize,
    threads: usize,
    timeout: Duration,
    shutdown: bool,
    rtt_file: Option<&std::path::Path>,
) -> Result<(), String> {
    let engine = Engine::new(protocol_of(address), Mode::Client, "", &InitOverrides::default()).map_err(|e| e.to_string())?;
    let target = engine.lookup(address).map_err(|e| e.to_string())?;
    let payload: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    // Warm-up: connection set-up and first-touch costs stay out of the numbers.
    for _ in 0..count.min(100) {
        engine.call(&target, "echo", 1, payload.clone(), timeout).map_err(|e| e.to_string())?;
    }
    let per_thread = count.div_ceil(threads);
    let start = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (engine, target, payload) = (engine.clone(), target.clone(), payload.clone());
            std::thread::spawn(move || -> Result<Vec<(u64, Duration)>, String> {
                let mut rtts = Vec::with_capacity(per_thread);
                for _ in 0..per_thread {
                    let (start_ns, t) = (monotonic_ns(), Instant::now());
                    let back = engine.call(&target, "echo", 1, payload.clone(), timeout).map_err(|e| e.to_string())?;
                    rtts.push((start_ns, t.elapsed()));
                    if back != payload {
                        return Err("echo returned different bytes".into());
                    }
                }
                Ok(rtts)
            })
        })
        .collect();
    let mut timed = Vec::new();
    for w in workers {
        timed.extend(w.join().map_err(|_| "a client thread panicked".to_string())??);
    }
    let elapsed = start.elapsed();
    if let Some(path) = rtt_file {
        timed.sort();
        let text: String = timed.iter().map(|(s, d)| format!("{s} {}\n", d.as_nanos())).collect();
        std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    let mut rtts: Vec<Duration> = timed.iter().map(|&(_, d)| d).collect();
    rtts.sort();
    let pct = |p: f64| rtts[((rtts.len() as f64 - 1.0) * p) as usize].as_secs_f64() * 1e6;
    println!(
        "calls={} size={}B threads={} median_us={:.1} p90_us={:.1} p99_us={:.1} p999_us={:.1} max_us={:.1} over_1ms={} calls_per_s={:.0} MiB_per_s={:.1}",
        rtts.len(),
        size,
        threads,
        pct(0.5),
        pct(0.9),
        pct(0.99),
        pct(0.999),
        pct(1.0),
        rtts.iter().filter(|d| d.as_micros() > 1000).count(),
        rtts.len() as f64 / elapsed.as_secs_f64(),
        (rtts.len() * size * 2) as f64 / elapsed.as_secs_f64() / (1 << 20) as f64
    );
    if shutdown {
        engine.shutdown_remote(&target, timeout).map_err(|e| e.to_string())?;
    }
    engine.finalize();
    Ok(())
}

fn flock_handles(group_file: &std::path::Path, count: usize) -> Result<(), String> {
    use mochi::flock::client::{Client, GroupHandle, MODE_INIT_UPDATE};
    let view = mochi::flock::view_file::from_file(group_file).map_err(|e| e.to_string())?;
    let first = view.member_at(0).ok_or("the group file lists no member")?.address.clone();
    let engine = Engine::new(protocol_of(&first), Mode::Client, "", &InitOverrides::default()).map_err(|e| e.to_string())?;
    let client = Client::new(&engine, None);
    let mut times = Vec::with_capacity(count);
    for i in 0..count + 100 {
        let t = Instant::now();
        let handle = GroupHandle::from_file(&client, group_file, MODE_INIT_UPDATE).map_err(|e| e.to_string())?;
        let members = handle.view().members().len();
        let took = t.elapsed();
        if members == 0 {
            return Err("the group's view is empty".into());
        }
        // The first 100 warm up (connection set-up, first touch).
        if i >= 100 {
            times.push(took);
        }
    }
    report("flock handle create + get_view", &mut times);
    drop(client);
    engine.finalize();
    Ok(())
}

fn report(what: &str, times: &mut [Duration]) {
    times.sort();
    let pct = |p: f64| times[((times.len() as f64 - 1.0) * p) as usize].as_secs_f64() * 1e6;
    println!("{what}: n={} median_us={:.1} p99_us={:.1} max_us={:.1}", times.len(), pct(0.5), pct(0.99), pct(1.0));
}

/// The protocol part of an address (what the client must speak).
fn protocol_of(address: &str) -> &str {
    address.split("://").next().unwrap_or(address)
}
