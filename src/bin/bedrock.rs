//! `bedrock`: the daemon. A thin launcher that loads `libmochi.so` and runs
//! its `bedrock_daemon_main`, so that module libraries (which link
//! `libmochi.so` themselves) register into the very same library instance
//! the daemon uses. See `bedrock --help` for the flags.

#[path = "common/fabric_start.rs"]
mod fabric_start;
// This program does not link the library (it loads libmochi.so): the file
// is compiled here too, and only its `block` is used.
#[allow(dead_code)]
#[path = "../signals.rs"]
mod signals;

use libloading::os::unix::{Library, Symbol, RTLD_GLOBAL, RTLD_NOW};
use std::ffi::{c_char, c_int, CString};

type DaemonMain = unsafe extern "C" fn(c_int, *const *const c_char) -> c_int;

/// Where to look for the library, most specific first.
fn candidates() -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(p) = std::env::var("MOCHI_LIBRARY") {
        out.push(p);
    }
    if let Some(dir) = std::env::current_exe().ok().and_then(|e| e.parent().map(|d| d.to_path_buf())) {
        out.push(dir.join("../lib/libmochi.so.0").to_string_lossy().into_owned());
        out.push(dir.join("libmochi.so").to_string_lossy().into_owned());
        out.push(dir.join("../libmochi.so").to_string_lossy().into_owned());
    }
    out.push("libmochi.so.0".into());
    out
}

/// Opens the first candidate that loads; otherwise what each one said.
fn open_libmochi() -> Result<Library, Vec<String>> {
    let mut tried = Vec::new();
    for c in candidates() {
        if c.contains('/') && !std::path::Path::new(&c).exists() {
            continue;
        }
        // SAFETY: loading libmochi runs its initializers, which is what we
        // want; RTLD_GLOBAL so that module libraries bind to this instance.
        match unsafe { Library::open(Some(&c), RTLD_NOW | RTLD_GLOBAL) } {
            Ok(lib) => return Ok(lib),
            Err(e) => tried.push(format!("{c}: {e}")),
        }
    }
    Err(tried)
}

fn main() {
    // Block the stop signals before loading anything: libraries may start
    // threads while they load, and the daemon wants SIGINT/SIGTERM to reach
    // only its own waiting thread (which shuts the server down cleanly).
    signals::block();
    // Kept open for the whole process (std::process::exit below never
    // drops it).
    let library = match open_libmochi() {
        Ok(lib) => lib,
        Err(tried) => {
            eprintln!("bedrock: error: cannot load libmochi (set MOCHI_LIBRARY to its path). Tried:\n  {}", tried.join("\n  "));
            std::process::exit(1);
        }
    };
    // libmochi brought libfabric in; initialize it now, quickly.
    fabric_start::init_libfabric();
    // SAFETY: bedrock_daemon_main is exported by libmochi with exactly the
    // DaemonMain signature.
    let main_fn: Symbol<DaemonMain> = match unsafe { library.get(b"bedrock_daemon_main\0") } {
        Ok(f) => f,
        Err(e) => {
            eprintln!("bedrock: error: the loaded libmochi has no bedrock_daemon_main: {e}");
            std::process::exit(1);
        }
    };
    let args: Vec<CString> = std::env::args_os().map(|a| CString::new(a.into_encoded_bytes()).unwrap_or_default()).collect();
    let argv: Vec<*const c_char> = args.iter().map(|a| a.as_ptr()).collect();
    // SAFETY: argv holds argc valid strings that outlive the call.
    let code = unsafe { main_fn(argv.len() as c_int, argv.as_ptr()) };
    std::process::exit(code);
}
