//! `bedrock-shutdown`: stop Bedrock daemons (by address or Flock group
//! file). Exits non-zero if any of them could not be shut down.

#[path = "common/fabric_start.rs"]
mod fabric_start;

use clap::Parser;
use mochi::bedrock::client::ServiceGroupHandle;
use mochi::rpc::{Engine, InitOverrides, Mode};

#[derive(Parser)]
#[command(name = "bedrock-shutdown", about = "Shut Bedrock daemons down")]
struct Cli {
    /// Protocol to use (na+sm, ofi+tcp).
    protocol: String,
    /// Address of a daemon (repeatable).
    #[arg(short, long = "addresses")]
    addresses: Vec<String>,
    /// Flock group file listing the daemons.
    #[arg(short, long = "flock-file")]
    flock_file: Option<std::path::PathBuf>,
    /// Log level.
    #[arg(short, long, default_value = "warning")]
    verbose: String,
}

fn main() {
    fabric_start::init_libfabric();
    let cli = Cli::parse();
    if let Some(l) = mochi::log::Level::parse(&cli.verbose) {
        mochi::log::set_level(l);
    }
    let mut addresses = cli.addresses.clone();
    if let Some(f) = &cli.flock_file {
        match mochi::flock::view_file::from_file(f) {
            Ok(view) => {
                for m in view.members() {
                    if !addresses.contains(&m.address) {
                        addresses.push(m.address.clone());
                    }
                }
            }
            Err(e) => {
                eprintln!("bedrock-shutdown: error: {}: {e}", f.display());
                std::process::exit(1);
            }
        }
    }
    if addresses.is_empty() {
        eprintln!("bedrock-shutdown: error: no address or flock file specified");
        std::process::exit(1);
    }
    let engine = match Engine::new(&cli.protocol, Mode::Client, "", &InitOverrides::default()) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("bedrock-shutdown: error: {e}");
            std::process::exit(1);
        }
    };
    let mut failed = false;
    match ServiceGroupHandle::from_addresses(&engine, &addresses, 0) {
        Ok(group) => {
            for (addr, r) in group.shutdown() {
                if let Err(e) = r {
                    eprintln!("bedrock-shutdown: Could not shutdown {addr}: {e}");
                    failed = true;
                }
            }
        }
        Err(e) => {
            eprintln!("bedrock-shutdown: error: {e}");
            failed = true;
        }
    }
    engine.finalize();
    std::process::exit(if failed { 1 } else { 0 });
}
