//! One Flock group member in its own process: the building block of the
//! multi-process tests and benchmarks (Bedrock does the same from a config).
//!
//! ```text
//! mochi-flock-member --protocol na+sm --provider-id 1 \
//!     --config '{"group":{"type":"centralized"},"file":"g.flock"}' \
//!     --bootstrap self|join:ADDRESS:PROVIDER_ID|file:PATH|view:PATH \
//!     [--addr-file PATH] [--print-updates]
//! ```
//! SIGTERM or SIGINT destroys the provider (a graceful leave) and exits 0.
//! With `--print-updates`, every membership and metadata update the provider
//! reports is printed on stdout (`member joined|left|died|moved ADDRESS ID`,
//! `metadata KEY VALUE`), after the address line.

#[path = "common/fabric_start.rs"]
mod fabric_start;

use clap::Parser;
use mochi::flock::client::{Client, GroupHandle};
use mochi::flock::protocol::Update;
use mochi::flock::provider::{Provider, ProviderArgs, UpdateCallbacks};
use mochi::flock::{bootstrap, view_file, GroupView};
use mochi::rpc::{Engine, InitOverrides, Mode};

#[derive(Parser)]
#[command(about = "Run one Flock group member")]
struct Cli {
    #[arg(long, default_value = "na+sm")]
    protocol: String,
    #[arg(long, default_value_t = 1)]
    provider_id: u16,
    /// Provider config (JSON), as given to flock_provider_register.
    #[arg(long, default_value = r#"{"group":{"type":"static"}}"#)]
    config: String,
    /// self | join:ADDRESS:PROVIDER_ID | file:PATH (join through a group
    /// file) | view:PATH (a view we are already a member of)
    #[arg(long, default_value = "self")]
    bootstrap: String,
    /// Write our address here (atomically) once the provider is up.
    #[arg(long)]
    addr_file: Option<std::path::PathBuf>,
    /// Print every update the provider reports (for tests).
    #[arg(long)]
    print_updates: bool,
}

/// Prints the provider's update callbacks, one line each.
struct Printer;

impl UpdateCallbacks for Printer {
    fn membership(&self, update: Update, address: &str, provider_id: u16) {
        let what = match update {
            Update::Joined => "joined",
            Update::Left => "left",
            Update::Died => "died",
            Update::Moved => "moved",
        };
        println!("member {what} {address} {provider_id}");
    }
    fn metadata(&self, key: &str, value: &str) {
        println!("metadata {key} {value}");
    }
}

fn initial_view(engine: &Engine, provider_id: u16, method: &str) -> Result<GroupView, String> {
    if method == "self" {
        return Ok(bootstrap::from_self(engine, provider_id));
    }
    if let Some(path) = method.strip_prefix("file:").or_else(|| method.strip_prefix("view:")) {
        return view_file::from_file(std::path::Path::new(path)).map_err(|e| e.to_string());
    }
    if let Some(rest) = method.strip_prefix("join:") {
        let (addr, pid) = rest.rsplit_once(':').ok_or("join:ADDRESS:PROVIDER_ID expected")?;
        let pid: u16 = pid.parse().map_err(|_| format!("bad provider id \"{pid}\""))?;
        let client = Client::new(engine, None);
        let target = engine.lookup(addr).map_err(|e| e.to_string())?;
        let handle = GroupHandle::create(&client, &target, pid, 0).map_err(|e| e.to_string())?;
        return Ok(handle.view());
    }
    Err(format!("unknown bootstrap method \"{method}\""))
}

fn main() {
    fabric_start::init_libfabric();
    let cli = Cli::parse();
    // Block the stop signals before any thread starts, so only sigwait sees them.
    let set = mochi::signals::block();
    let run = || -> Result<(Engine, Provider), String> {
        let engine = Engine::new(&cli.protocol, Mode::Server, "", &InitOverrides::default()).map_err(|e| e.to_string())?;
        let view = initial_view(&engine, cli.provider_id, &cli.bootstrap)?;
        let provider =
            Provider::register(&engine, cli.provider_id, &cli.config, ProviderArgs { initial_view: view, ..Default::default() })
                .map_err(|e| format!("{e} (flock error {})", e.code()))?;
        Ok((engine, provider))
    };
    let (engine, provider) = match run() {
        Ok(x) => x,
        Err(e) => {
            eprintln!("mochi-flock-member: {e}");
            std::process::exit(1);
        }
    };
    engine.enable_remote_shutdown();
    let addr = engine.self_address().to_string();
    println!("{addr}");
    if cli.print_updates {
        provider.add_update_callbacks(1, std::sync::Arc::new(Printer));
    }
    if let Some(path) = &cli.addr_file {
        let tmp = path.with_extension("tmp");
        if std::fs::write(&tmp, format!("{addr}\n")).and_then(|_| std::fs::rename(&tmp, path)).is_err() {
            eprintln!("mochi-flock-member: cannot write {}", path.display());
        }
    }
    let waiter = engine.clone();
    let signals = mochi::signals::StopSignals::spawn(set, move |_| {
        provider.destroy();
        waiter.finalize();
    })
    .unwrap_or_else(|e| {
        eprintln!("mochi-flock-member: cannot start the signal thread: {e}");
        std::process::exit(1)
    });
    engine.wait_for_finalize();
    signals.join();
}
