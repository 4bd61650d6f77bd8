//! Membership benchmark of the `centralized` Flock backend, with real
//! `mochi-flock-member` processes; prints a markdown table.
//!
//! ```text
//! mochi-flock-bench [--protocol na+sm] [--joiners 8,32] [--repeat 5]
//! ```
//! Scenarios (ping settings 200 ms timeout / 200 ms interval / 2 timeouts):
//! * join: a primary, then N processes launched at once joining through it;
//!   time from launch until every member reports the same N+1-member view.
//! * leave: SIGTERM to a follower; time until every other member dropped it.
//! * SIGKILL follower: time until every other member dropped it.
//! * SIGKILL primary: time until the survivors agree on a new primary and
//!   report the same view.
//!
//! Views are read through a Flock client, polled every few milliseconds,
//! so every number includes up to one polling round.

use clap::Parser;
use mochi::flock::client::{Client, GroupHandle};
use mochi::flock::{GroupView, Member};
use mochi::rng::Rng;
use mochi::rpc::{Engine, InitOverrides, Mode};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PID: u16 = 1;
const SETTINGS: &str = r#"{"ping_timeout_ms":200,"ping_interval_ms":200,"ping_max_num_timeouts":2}"#;

#[derive(Parser)]
#[command(about = "Benchmark Flock's centralized backend with real processes")]
struct Cli {
    #[arg(long, default_value = "na+sm")]
    protocol: String,
    /// Group sizes for the join scenario (joiners launched at once).
    #[arg(long, default_value = "8,32", value_delimiter = ',')]
    joiners: Vec<usize>,
    /// Samples per failure scenario.
    #[arg(long, default_value_t = 5)]
    repeat: usize,
    /// The member binary (default: next to this one).
    #[arg(long)]
    member: Option<PathBuf>,
}

struct Proc {
    child: Child,
    member: Member,
}

struct Bench {
    protocol: String,
    member_bin: PathBuf,
    dir: PathBuf,
    config: String,
    engine: Engine,
    client: Client,
    procs: Vec<Proc>,
    serial: usize,
}

impl Bench {
    fn new(protocol: &str, member_bin: PathBuf, tag: &str) -> Bench {
        let dir = std::env::temp_dir().join(format!("flock-bench-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create a scratch directory");
        let config =
            format!(r#"{{"group":{{"type":"centralized","config":{SETTINGS}}},"file":"{}"}}"#, dir.join("group.flock").display());
        let engine = Engine::new(protocol, Mode::Client, "", &InitOverrides::default()).expect("client engine");
        let client = Client::new(&engine, None);
        Bench { protocol: protocol.to_string(), member_bin, dir, config, engine, client, procs: Vec::new(), serial: 0 }
    }

    /// Launches members at once; returns their indexes once all are up.
    fn launch(&mut self, bootstraps: &[String]) -> Vec<usize> {
        let mut pending = Vec::new();
        for b in bootstraps {
            self.serial += 1;
            let addr_file = self.dir.join(format!("m{}.addr", self.serial));
            let child = Command::new(&self.member_bin)
                .args(["--protocol", &self.protocol, "--provider-id", &PID.to_string(), "--config", &self.config])
                .args(["--bootstrap", b])
                .arg("--addr-file")
                .arg(&addr_file)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn mochi-flock-member");
            pending.push((child, addr_file));
        }
        let start = Instant::now();
        let mut out = Vec::new();
        for (mut child, addr_file) in pending {
            let addr = loop {
                if let Ok(text) = std::fs::read_to_string(&addr_file) {
                    break text.trim().to_string();
                }
                if let Ok(Some(status)) = child.try_wait() {
                    panic!("a member exited ({status}) before it was up");
                }
                assert!(start.elapsed() < Duration::from_secs(60), "a member did not start");
                std::thread::sleep(Duration::from_millis(2));
            };
            out.push(self.procs.len());
            self.procs.push(Proc { child, member: Member { address: addr, provider_id: PID } });
        }
        out
    }

    fn join_arg(&self, i: usize) -> String {
        format!("join:{}:{PID}", self.procs[i].member.address)
    }

    /// Handles on `live`, for polling.
    fn handles(&self, live: &[usize]) -> Vec<GroupHandle> {
        live.iter()
            .map(|&i| {
                let addr = self.engine.lookup(&self.procs[i].member.address).expect("member address");
                GroupHandle::create(&self.client, &addr, PID, 0).expect("member answers")
            })
            .collect()
    }

    /// Polls until every handle reports the same view, made of exactly
    /// `live` (and, if given, led by a primary other than `not_primary`);
    /// returns the time since `start`.
    fn converged(&self, handles: &[GroupHandle], live: &[usize], not_primary: Option<&Member>, start: Instant) -> Duration {
        let mut expected: Vec<Member> = live.iter().map(|&i| self.procs[i].member.clone()).collect();
        expected.sort();
        loop {
            let views: Vec<GroupView> = handles
                .iter()
                .map(|h| {
                    let _ = h.update();
                    h.view()
                })
                .collect();
            let first = &views[0];
            let ok = views.iter().all(|v| v.digest() == first.digest())
                && first.members() == expected.as_slice()
                && not_primary.is_none_or(|p| primary_of(first) != *p);
            if ok {
                return start.elapsed();
            }
            assert!(start.elapsed() < Duration::from_secs(60), "no convergence within a minute");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn signal(&mut self, i: usize, sig: i32) {
        // SAFETY: kill(2) on our own child.
        unsafe { libc::kill(self.procs[i].child.id() as i32, sig) };
    }
}

impl Drop for Bench {
    fn drop(&mut self) {
        for p in &mut self.procs {
            let _ = p.child.kill();
            let _ = p.child.wait();
        }
        self.engine.finalize();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn primary_of(view: &GroupView) -> Member {
    let cfg: serde_json::Value = view.find_metadata("__config__").and_then(|t| serde_json::from_str(t).ok()).unwrap_or_default();
    Member {
        address: cfg["primary_address"].as_str().unwrap_or_default().to_string(),
        provider_id: cfg["primary_provider_id"].as_u64().unwrap_or(0) as u16,
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// "median (min–max), mean" in milliseconds.
fn summary(mut v: Vec<Duration>) -> String {
    v.sort();
    if v.is_empty() {
        return "-".into();
    }
    let mean = v.iter().map(|d| ms(*d)).sum::<f64>() / v.len() as f64;
    format!("{:.0} ({:.0}–{:.0}), mean {mean:.0}", ms(v[v.len() / 2]), ms(v[0]), ms(v[v.len() - 1]))
}

/// A pause of 0 to 250 ms: failures must strike at a random point of the
/// ping schedule (with a fixed interval, the bench's own rhythm would
/// otherwise always hit the same phase).
fn random_pause(rng: &mut Rng) {
    std::thread::sleep(Duration::from_micros(rng.below(250_000) as u64));
}

/// Starts a primary and `n` joiners (joiners launched one batch).
fn group(b: &mut Bench, n: usize) -> Vec<usize> {
    let first = b.launch(&["self".to_string()])[0];
    let joins: Vec<String> = (0..n).map(|_| b.join_arg(first)).collect();
    let mut all = vec![first];
    all.extend(b.launch(&joins));
    let hs = b.handles(&all);
    b.converged(&hs, &all, None, Instant::now());
    all
}

fn leader(b: &Bench, live: &[usize]) -> usize {
    let h = b.handles(&live[..1]);
    let p = primary_of(&h[0].view());
    *live.iter().find(|&&i| b.procs[i].member == p).expect("the primary is a member")
}

fn main() {
    let cli = Cli::parse();
    let member_bin =
        cli.member.clone().unwrap_or_else(|| std::env::current_exe().expect("own path").with_file_name("mochi-flock-member"));
    let proto = cli.protocol.as_str();
    let mut rows: Vec<(String, String)> = Vec::new();

    // Start-up cost alone: members that form their own one-member groups.
    for &n in &cli.joiners {
        let mut b = Bench::new(proto, member_bin.clone(), &format!("self{n}"));
        let start = Instant::now();
        b.launch(&vec!["self".to_string(); n]);
        rows.push((
            format!("baseline: {n} processes started at once, no join (bootstrap self)"),
            format!("{:.0}", ms(start.elapsed())),
        ));
    }
    {
        let mut b = Bench::new(proto, member_bin.clone(), "self1");
        let mut alone = Vec::new();
        for _ in 0..cli.repeat {
            let start = Instant::now();
            b.launch(&["self".to_string()]);
            alone.push(start.elapsed());
        }
        rows.push(("baseline: 1 process started alone, no join (bootstrap self)".into(), summary(alone)));
    }
    {
        let mut b = Bench::new(proto, member_bin.clone(), "join1");
        let mut live = group(&mut b, 3);
        let mut one = Vec::new();
        for _ in 0..cli.repeat {
            let j = b.join_arg(live[0]);
            let start = Instant::now();
            let new = b.launch(&[j])[0];
            live.push(new);
            let hs = b.handles(&live);
            one.push(b.converged(&hs, &live, None, start));
        }
        rows.push(("1 joiner launched → all views converged (process start included)".into(), summary(one)));
    }
    for &n in &cli.joiners {
        let mut b = Bench::new(proto, member_bin.clone(), &format!("join{n}"));
        let first = b.launch(&["self".to_string()])[0];
        let joins: Vec<String> = (0..n).map(|_| b.join_arg(first)).collect();
        let start = Instant::now();
        let mut all = vec![first];
        all.extend(b.launch(&joins));
        let up = start.elapsed();
        let hs = b.handles(&all);
        let took = b.converged(&hs, &all, None, start);
        rows.push((
            format!("{n} joiners launched at once → all {} views converged", n + 1),
            format!("{:.0} (processes up after {:.0})", ms(took), ms(up)),
        ));
    }

    // Failures: groups of 8, shrinking as members go; fresh groups as needed.
    let mut leave = Vec::new();
    let mut kill = Vec::new();
    let mut failover = Vec::new();
    let mut round = 0;
    let mut rng =
        Rng::new(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1));
    while leave.len() < cli.repeat || kill.len() < cli.repeat || failover.len() < cli.repeat {
        round += 1;
        let mut b = Bench::new(proto, member_bin.clone(), &format!("fail{round}"));
        let mut live = group(&mut b, 7);
        std::thread::sleep(Duration::from_millis(300));
        for step in 0..3 {
            let p = leader(&b, &live);
            let (victim, sig) = match step {
                0 if leave.len() < cli.repeat => (*live.iter().rev().find(|&&i| i != p).unwrap(), libc::SIGTERM),
                1 if kill.len() < cli.repeat => (*live.iter().rev().find(|&&i| i != p).unwrap(), libc::SIGKILL),
                2 if failover.len() < cli.repeat => (p, libc::SIGKILL),
                _ => continue,
            };
            let survivors: Vec<usize> = live.iter().copied().filter(|&i| i != victim).collect();
            let hs = b.handles(&survivors);
            let gone = b.procs[victim].member.clone();
            random_pause(&mut rng);
            let start = Instant::now();
            b.signal(victim, sig);
            let took = b.converged(&hs, &survivors, (victim == p).then_some(&gone), start);
            match step {
                0 => leave.push(took),
                1 => kill.push(took),
                _ => failover.push(took),
            }
            live = survivors;
            // Let the group settle (pings resume their normal pace).
            std::thread::sleep(Duration::from_millis(300));
        }
    }
    rows.push(("graceful leave (SIGTERM follower) → dropped everywhere".into(), summary(leave)));
    rows.push(("SIGKILL follower → dropped everywhere".into(), summary(kill)));
    rows.push(("SIGKILL primary → new primary, views converged".into(), summary(failover)));

    println!(
        "machine: {} cores; protocol {proto}; ping timeout 200 ms, interval 200 ms, 2 timeouts; {} samples per failure row",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        cli.repeat
    );
    println!();
    println!("| scenario | time (ms): median (min–max), mean |");
    println!("|---|---|");
    for (k, v) in rows {
        println!("| {k} | {v} |");
    }
}
