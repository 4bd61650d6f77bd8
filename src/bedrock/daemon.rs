//! The `bedrock` daemon's command line (flags as upstream's): parse, start
//! a server, write the effective config if asked, run until shut down.
//! Failures are loud: a message on stderr and a non-zero exit status.

use super::config::ConfigFormat;
use super::server::Server;
use crate::log::{self, Level};
use clap::Parser;
use std::io::Read;

#[derive(Parser, Debug)]
#[command(name = "bedrock", version = env!("CARGO_PKG_VERSION"), about = "Start a process's Mochi services from a configuration")]
struct Cli {
    /// Protocol (na+sm, ofi+tcp) or full address; inferred from
    /// margo.mercury.address when omitted.
    address: Option<String>,
    /// Log level: trace, debug, info, warning, error, critical, off.
    #[arg(short, long, default_value = "info")]
    verbose: String,
    /// Configuration file (JSON, or TOML with -t).
    #[arg(short, long)]
    config: Option<std::path::PathBuf>,
    /// Write the effective configuration there once deployed.
    #[arg(short, long)]
    output_config: Option<std::path::PathBuf>,
    /// Read the configuration from standard input.
    #[arg(long)]
    stdin: bool,
    /// The configuration is a Jx9 script (not supported: fails clearly).
    #[arg(short, long)]
    jx9: bool,
    /// The configuration is TOML.
    #[arg(short, long)]
    toml: bool,
    /// Jx9 parameters name=JSON,... (needs -j).
    #[arg(long)]
    jx9_context: Option<String>,
}

fn set_level(text: &str) -> Result<(), String> {
    if text == "off" {
        log::set_off();
        return Ok(());
    }
    let level = Level::parse(text).ok_or_else(|| format!("invalid log level \"{text}\""))?;
    log::set_level(level);
    Ok(())
}

fn run(cli: Cli) -> Result<(), String> {
    set_level(&cli.verbose)?;
    if cli.config.is_some() && cli.stdin {
        return Err("both config file and --stdin were provided".into());
    }
    if cli.jx9 && cli.toml {
        return Err("cannot use both --jx9/-j and --toml/-t".into());
    }
    if let Some(ctx) = &cli.jx9_context {
        if !cli.jx9 {
            return Err("passing Jx9 parameters for a JSON configuration".into());
        }
        if let Some(bad) = ctx.split(',').find(|kv| !kv.contains('=')) {
            return Err(format!("invalid Jx9 parameter \"{bad}\" (expected name=value)"));
        }
    }
    let text = match (&cli.config, cli.stdin) {
        (Some(path), _) => {
            std::fs::read_to_string(path).map_err(|e| format!("could not read configuration file {}: {e}", path.display()))?
        }
        (None, true) => {
            let mut s = String::new();
            std::io::stdin().read_to_string(&mut s).map_err(|e| format!("could not read the configuration from stdin: {e}"))?;
            s
        }
        (None, false) => String::new(),
    };
    let format = if cli.jx9 {
        ConfigFormat::Jx9
    } else if cli.toml {
        ConfigFormat::Toml
    } else {
        ConfigFormat::Json
    };
    // SIGINT/SIGTERM finalize cleanly (providers destroyed newest first, so
    // a Flock member leaves its group). Blocked before any thread starts,
    // so only the waiting thread below receives them.
    let signals = crate::signals::block();
    let server = Server::start(cli.address.as_deref().unwrap_or(""), &text, format).map_err(|e| e.to_string())?;
    let on_signal = server.clone();
    let waiter = crate::signals::StopSignals::spawn(signals, move |sig| {
        crate::info!("signal {sig} received: shutting down");
        on_signal.finalize();
    });
    let waiter = match waiter {
        Ok(w) => w,
        Err(e) => {
            server.finalize();
            return Err(format!("cannot start the signal thread: {e}"));
        }
    };
    if let Some(out) = &cli.output_config {
        let text = serde_json::to_string_pretty(&server.config_json()).unwrap_or_default();
        if let Err(e) = std::fs::write(out, text) {
            server.finalize();
            waiter.join();
            return Err(format!("could not write {}: {e}", out.display()));
        }
    }
    server.wait_for_finalize();
    // Stopped by a signal or remotely: either way the signal thread ends here.
    waiter.join();
    Ok(())
}

/// Runs the daemon with `args` (program name first); returns the exit code.
pub fn main_with_args(args: Vec<String>) -> i32 {
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    match run(cli) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("bedrock: error: {e}");
            1
        }
    }
}
