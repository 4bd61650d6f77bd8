//! Server and client in separate processes, over real libfabric endpoints:
//! the `mochi-echo` binary on both sides.

use mochi::fabric::{parse_listen, Endpoint, Post};
use mochi::rpc::{Engine, InitOverrides, Mode};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ECHO: &str = env!("CARGO_BIN_EXE_mochi-echo");

struct Server {
    child: Child,
    address: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// The child is returned inside Server (which kills and waits for it on drop)
// or killed and waited for on timeout; clippy cannot follow the move.
#[allow(clippy::zombie_processes)]
fn start_server(protocol: &str) -> Server {
    // Tests run in parallel: each server gets its own folder.
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("mochi-mp-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("server.addr");
    let _ = std::fs::remove_file(&file);
    let mut child = Command::new(ECHO)
        .args(["server", protocol, "--addr-file"])
        .arg(&file)
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn mochi-echo server");
    let start = Instant::now();
    loop {
        if let Ok(text) = std::fs::read_to_string(&file) {
            return Server { child, address: text.trim().to_string() };
        }
        if start.elapsed() >= Duration::from_secs(20) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("server did not publish its address");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn wait_exit(child: &mut Child, within: Duration) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(start.elapsed() < within, "process did not exit in {within:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn client_then_shutdown(protocol: &str) {
    let mut server = start_server(protocol);
    for size in ["64", "100000", "67108864"] {
        let out = Command::new(ECHO)
            .args(["client", &server.address, "--count", "20", "--size", size, "--threads", "2"])
            .output()
            .unwrap();
        assert!(out.status.success(), "client failed: {}", String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stdout).contains("calls=20"));
    }
    let out = Command::new(ECHO).args(["client", &server.address, "--count", "1", "--shutdown"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(wait_exit(&mut server.child, Duration::from_secs(10)).success());
}

#[test]
fn shm_processes_exchange_rpcs() {
    client_then_shutdown("na+sm");
}

#[test]
fn tcp_processes_exchange_rpcs() {
    client_then_shutdown("ofi+tcp");
}

#[test]
fn killed_server_fails_calls_within_timeout() {
    for protocol in ["na+sm", "ofi+tcp"] {
        let mut server = start_server(protocol);
        let engine = Engine::new(protocol, Mode::Client, "", &InitOverrides::default()).unwrap();
        let addr = engine.lookup(&server.address).unwrap();
        engine.call(&addr, "echo", 1, b"alive".to_vec(), Duration::from_secs(10)).unwrap();
        server.child.kill().unwrap();
        server.child.wait().unwrap();
        let start = Instant::now();
        let r = engine.call(&addr, "echo", 1, b"dead?".to_vec(), Duration::from_millis(500));
        assert!(
            r.is_err(),
            "{protocol}: call to a killed server succeeded: {:?}",
            r.as_ref().map(|v| String::from_utf8_lossy(v).into_owned())
        );
        assert!(start.elapsed() < Duration::from_secs(3), "{protocol}: took {:?}", start.elapsed());
        engine.finalize();
    }
}

/// Garbage on the wire is dropped with a log line; the server keeps serving.
#[test]
fn garbage_bytes_do_not_hurt_the_server() {
    for protocol in ["na+sm", "ofi+tcp"] {
        let server = start_server(protocol);
        let mut raw = Endpoint::open(&parse_listen(protocol).unwrap()).unwrap();
        let (_, name) = mochi::fabric::parse_peer(&server.address).unwrap();
        let dest = raw.av_insert(&name).unwrap();
        let mut junk: Vec<Vec<u8>> = vec![vec![], vec![0xff; 3], b"MOCH".to_vec(), vec![0u8; 4000]];
        let mut header = b"MOCH\x01\x01\x00\x05".to_vec(); // valid start, then a lie about lengths
        header.extend_from_slice(&[0u8; 20]);
        header.extend_from_slice(&u32::MAX.to_le_bytes());
        header.extend_from_slice(&[0u8; 8]);
        junk.push(header);
        for (i, j) in junk.iter().enumerate() {
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                // SAFETY: `j` outlives the completion, which we wait for below.
                match unsafe { raw.post_send(j.as_ptr(), j.len(), dest, 2 * (i + 1)) }.unwrap() {
                    Post::Done => break,
                    Post::Again => {
                        let _ = raw.poll(&mut Vec::new());
                        assert!(Instant::now() < deadline, "could not send garbage");
                    }
                }
            }
            let mut done = Vec::new();
            let deadline = Instant::now() + Duration::from_secs(5);
            while done.is_empty() && Instant::now() < deadline {
                let _ = raw.poll(&mut done);
            }
        }
        let engine = Engine::new(protocol, Mode::Client, "", &InitOverrides::default()).unwrap();
        let addr = engine.lookup(&server.address).unwrap();
        let back = engine.call(&addr, "echo", 1, b"still there".to_vec(), Duration::from_secs(10)).unwrap();
        assert_eq!(back, b"still there");
        engine.finalize();
    }
}
