//! `bedrock`: the daemon. A thin launcher that loads `libmochi.so` and runs
//! its `bedrock_daemon_main`, so that module libraries (which link
//! `libmochi.so` themselves) register into the very same library instance
//! the daemon uses. See `bedrock --help` for the flags.

#[path = "common/fabric_start.rs"]
mod fabric_start;

use std::ffi::{c_char, c_int, CStr, CString};

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

fn dlerror() -> String {
    // SAFETY: dlerror returns NULL or a valid message.
    unsafe {
        let e = libc::dlerror();
        if e.is_null() {
            "unknown error".into()
        } else {
            CStr::from_ptr(e).to_string_lossy().into_owned()
        }
    }
}

fn main() {
    // Block the stop signals before loading anything: libraries may start
    // threads while they load, and the daemon wants SIGINT/SIGTERM to reach
    // only its own waiting thread (which shuts the server down cleanly).
    // SAFETY: plain signal-mask manipulation, inherited by later threads.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
    let mut tried = Vec::new();
    let mut handle = std::ptr::null_mut();
    for c in candidates() {
        let is_path = c.contains('/');
        if is_path && !std::path::Path::new(&c).exists() {
            continue;
        }
        let Ok(path) = CString::new(c.clone()) else { continue };
        // SAFETY: dlopen with a valid path; kept for the process's life.
        handle = unsafe { libc::dlopen(path.as_ptr(), libc::RTLD_NOW | libc::RTLD_GLOBAL) };
        if !handle.is_null() {
            break;
        }
        tried.push(format!("{c}: {}", dlerror()));
    }
    if handle.is_null() {
        eprintln!("bedrock: error: cannot load libmochi (set MOCHI_LIBRARY to its path). Tried:\n  {}", tried.join("\n  "));
        std::process::exit(1);
    }
    // libmochi brought libfabric in; initialize it now, quickly.
    fabric_start::init_libfabric();
    // SAFETY: looking up a function we export with this exact signature.
    let sym = unsafe { libc::dlsym(handle, c"bedrock_daemon_main".as_ptr()) };
    if sym.is_null() {
        eprintln!("bedrock: error: the loaded libmochi has no bedrock_daemon_main: {}", dlerror());
        std::process::exit(1);
    }
    let main_fn: DaemonMain = unsafe { std::mem::transmute::<*mut libc::c_void, DaemonMain>(sym) };
    let args: Vec<CString> = std::env::args_os().map(|a| CString::new(a.into_encoded_bytes()).unwrap_or_default()).collect();
    let argv: Vec<*const c_char> = args.iter().map(|a| a.as_ptr()).collect();
    // SAFETY: argv holds argc valid strings that outlive the call.
    let code = unsafe { main_fn(argv.len() as c_int, argv.as_ptr()) };
    std::process::exit(code);
}
