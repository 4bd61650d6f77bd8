//! `bedrock-query`: print the effective config of Bedrock daemons, as
//! `{"<address>": <config>, ...}` on one line (`-p`: indented).

#[path = "common/fabric_start.rs"]
mod fabric_start;

use clap::Parser;
use mochi::bedrock::client::ServiceGroupHandle;
use mochi::rpc::{Engine, InitOverrides, Mode};

#[derive(Parser)]
#[command(name = "bedrock-query", about = "Query the configuration of Bedrock daemons")]
struct Cli {
    /// Protocol to use (na+sm, ofi+tcp).
    protocol: String,
    /// Address of a daemon (repeatable).
    #[arg(short, long = "addresses")]
    addresses: Vec<String>,
    /// Flock group file listing the daemons.
    #[arg(short, long = "flock-file")]
    flock_file: Option<std::path::PathBuf>,
    /// Bedrock provider id of the daemons.
    #[arg(short = 'i', long, default_value_t = 0)]
    provider_id: u16,
    /// Jx9 query file (not supported: fails with a clear error).
    #[arg(short, long = "jx9-file")]
    jx9_file: Option<std::path::PathBuf>,
    /// Indent the output.
    #[arg(short, long)]
    pretty: bool,
    /// Log level.
    #[arg(short, long, default_value = "warning")]
    verbose: String,
}

fn run(cli: Cli) -> Result<String, String> {
    if let Some(l) = mochi::log::Level::parse(&cli.verbose) {
        mochi::log::set_level(l);
    }
    let mut addresses = cli.addresses.clone();
    if let Some(f) = &cli.flock_file {
        let view = mochi::flock::view_file::from_file(f).map_err(|e| format!("{}: {e}", f.display()))?;
        for m in view.members() {
            if !addresses.contains(&m.address) {
                addresses.push(m.address.clone());
            }
        }
    }
    if addresses.is_empty() {
        return Err("no address or flock file specified".into());
    }
    let engine = Engine::new(&cli.protocol, Mode::Client, "", &InitOverrides::default()).map_err(|e| e.to_string())?;
    let result = (|| {
        let group = ServiceGroupHandle::from_addresses(&engine, &addresses, cli.provider_id).map_err(|e| e.to_string())?;
        let text = match &cli.jx9_file {
            Some(path) => {
                let script = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
                group.query_config(&script).map_err(|e| e.to_string())?
            }
            None => group.get_config().map_err(|e| e.to_string())?,
        };
        if cli.pretty {
            let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
            serde_json::to_string_pretty(&v).map_err(|e| e.to_string())
        } else {
            Ok(text)
        }
    })();
    engine.finalize();
    result
}

fn main() {
    fabric_start::init_libfabric();
    match run(Cli::parse()) {
        Ok(text) => {
            use std::io::Write;
            // A reader that stops early (`| head`) is not an error: stop
            // quietly instead of panicking on the broken pipe.
            if let Err(e) = writeln!(std::io::stdout().lock(), "{text}") {
                if e.kind() != std::io::ErrorKind::BrokenPipe {
                    eprintln!("bedrock-query: error: cannot write the result: {e}");
                    std::process::exit(1);
                }
            }
        }
        Err(e) => {
            eprintln!("bedrock-query: error: {e}");
            std::process::exit(1);
        }
    }
}
