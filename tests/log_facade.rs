//! The library logs through the `log` facade: a Rust program that installs
//! its own logger before its first call into the library receives the
//! library's messages (target `mochi`), and the Margo-level sink stays out.

use mochi::rpc::{Engine, InitOverrides, Mode};
use std::sync::Mutex;

struct Capture(Mutex<Vec<(log::Level, String, String)>>);

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, r: &log::Record<'_>) {
        self.0.lock().unwrap().push((r.level(), r.target().to_string(), r.args().to_string()));
    }
    fn flush(&self) {}
}

static CAPTURE: Capture = Capture(Mutex::new(Vec::new()));

#[test]
fn a_rust_programs_logger_receives_the_librarys_messages() {
    log::set_logger(&CAPTURE).unwrap();
    log::set_max_level(log::LevelFilter::Trace);
    let engine = Engine::new("na+sm", Mode::Server, "", &InitOverrides::default()).unwrap();
    let address = engine.self_address().to_string();
    engine.finalize();
    let got = CAPTURE.0.lock().unwrap();
    assert!(
        got.iter().any(|(level, target, text)| *level == log::Level::Debug && target == "mochi" && text.contains(&address)),
        "no debug message about {address} among {got:?}"
    );
}
