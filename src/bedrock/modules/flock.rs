//! The built-in `flock` module: a Bedrock provider of type `flock` is a Flock
//! group member, bootstrapped by one or more methods tried in order.
//!
//! `bootstrap` is a string, an array, or an object with `method`:
//! `self`; `view` (+ `view_file`: a view we are already in); `file` (load
//! the group file if it exists, which joins the group; otherwise start it
//! alone); `mpi` (every rank of MPI_COMM_WORLD, or `mpi_ranks`); `join`
//! (+ `address` and `provider_id` of any member, or else through `file`).

use super::args::{config_object, handler_pool, optional};
use super::component::ProviderComponent;
use crate::bedrock::error::BedrockError;
use crate::bedrock::module::{Component, ComponentArgs, DependencyDecl, Module};
use crate::flock::client::{Client, GroupHandle};
use crate::flock::provider::{Provider, ProviderArgs};
use crate::flock::{bootstrap, bootstrap_mpi, view_file, GroupView};
use crate::rpc::Engine;
use serde_json::Value;
use std::path::PathBuf;

type Result<T> = std::result::Result<T, BedrockError>;

pub struct FlockModule;

#[derive(Debug, Clone, PartialEq)]
enum Method {
    SelfOnly,
    View(PathBuf),
    File,
    Mpi,
    Join { address: Option<String>, provider_id: Option<u16> },
}

fn bad(msg: impl Into<String>) -> BedrockError {
    BedrockError::msg(msg.into())
}

fn method_of(name: &str, obj: Option<&serde_json::Map<String, Value>>) -> Result<Method> {
    let field = |k: &str| obj.and_then(|o| o.get(k));
    Ok(match name {
        "self" => Method::SelfOnly,
        "file" => Method::File,
        "mpi" => Method::Mpi,
        "view" => match field("view_file") {
            Some(Value::String(p)) if !p.is_empty() => Method::View(PathBuf::from(p)),
            _ => return Err(bad("the \"view\" bootstrap method needs a \"view_file\" string")),
        },
        "join" => {
            let address = match field("address") {
                None | Some(Value::Null) => None,
                Some(Value::String(a)) => Some(a.clone()),
                Some(_) => return Err(bad("\"address\" of the \"join\" bootstrap method must be a string")),
            };
            let provider_id =
                match field("provider_id") {
                    None | Some(Value::Null) => None,
                    Some(v) => Some(v.as_u64().and_then(|n| u16::try_from(n).ok()).ok_or_else(|| {
                        bad("\"provider_id\" of the \"join\" bootstrap method must be an integer in 0..=65535")
                    })?),
                };
            Method::Join { address, provider_id }
        }
        other => return Err(bad(format!("Invalid value \"{other}\" for \"bootstrap\" field"))),
    })
}

fn parse_bootstrap(config: &serde_json::Map<String, Value>) -> Result<Vec<Method>> {
    let one = |v: &Value| -> Result<Method> {
        match v {
            Value::String(s) => method_of(s, None),
            Value::Object(o) => match o.get("method") {
                Some(Value::String(m)) => method_of(m, Some(o)),
                _ => Err(bad("a \"bootstrap\" object needs a \"method\" string")),
            },
            _ => Err(bad("\"bootstrap\" entries should be strings or objects")),
        }
    };
    match config.get("bootstrap") {
        None => Err(bad("\"bootstrap\" field not found in flock provider configuration")),
        Some(Value::Array(items)) if items.is_empty() => Err(bad("\"bootstrap\" array is empty")),
        Some(Value::Array(items)) => items.iter().map(one).collect(),
        Some(v @ (Value::String(_) | Value::Object(_))) => Ok(vec![one(v)?]),
        Some(_) => Err(bad("\"bootstrap\" field should be of type string, array or object")),
    }
}

fn mpi_ranks(config: &serde_json::Map<String, Value>) -> Result<Option<Vec<i32>>> {
    match config.get("mpi_ranks") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(a)) => a
            .iter()
            .map(|r| {
                r.as_i64().and_then(|n| i32::try_from(n).ok()).ok_or_else(|| bad("\"mpi_ranks\" should only contain integers"))
            })
            .collect::<Result<Vec<_>>>()
            .map(Some),
        Some(_) => Err(bad("\"mpi_ranks\" should be an array of integers")),
    }
}

fn file_of(config: &serde_json::Map<String, Value>) -> Option<PathBuf> {
    config.get("file").and_then(Value::as_str).filter(|s| !s.is_empty()).map(PathBuf::from)
}

fn initial_view(
    engine: &Engine,
    provider_id: u16,
    method: &Method,
    config: &serde_json::Map<String, Value>,
) -> Result<GroupView> {
    let flock_err = |e: crate::flock::FlockError| bad(format!("{e} (flock error {})", e.code()));
    let address = engine.self_address().to_string();
    match method {
        Method::SelfOnly => Ok(bootstrap::from_self(engine, provider_id)),
        Method::View(path) => bootstrap::from_file(path).map_err(flock_err),
        Method::File => {
            let path = file_of(config).ok_or_else(|| bad("the \"file\" bootstrap method needs a \"file\" string"))?;
            if path.exists() {
                view_file::from_file(&path).map_err(|e| flock_err(e.into()))
            } else {
                Ok(bootstrap::from_self(engine, provider_id))
            }
        }
        Method::Mpi => {
            bootstrap_mpi::ensure_initialized().map_err(flock_err)?;
            match mpi_ranks(config)? {
                None => bootstrap_mpi::view_from_world(&address, provider_id).map_err(flock_err),
                Some(ranks) => bootstrap_mpi::view_from_world_ranks(&address, provider_id, &ranks)
                    .map_err(flock_err)?
                    .ok_or_else(|| bad("this MPI rank is not listed in \"mpi_ranks\"")),
            }
        }
        Method::Join { address: Some(addr), provider_id: pid } => {
            let client = Client::new(engine, None);
            let target = engine.lookup(addr).map_err(|e| bad(format!("cannot join through {addr}: {e}")))?;
            let handle = GroupHandle::create(&client, &target, pid.unwrap_or(provider_id), 0).map_err(flock_err)?;
            Ok(handle.view())
        }
        Method::Join { address: None, .. } => {
            let path =
                file_of(config).ok_or_else(|| bad("\"file\" field not found (or is not a string) required to join the group"))?;
            view_file::from_file(&path).map_err(|e| flock_err(e.into()))
        }
    }
}

/// The group file must be writable where it is asked for: finding out at
/// the first membership change would be too late to fail loudly.
fn check_writable(path: &std::path::Path) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let probe =
        dir.join(format!(".{}.probe-{}", path.file_name().and_then(|n| n.to_str()).unwrap_or("group"), std::process::id()));
    match std::fs::OpenOptions::new().write(true).create_new(true).open(&probe) {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => Err(bad(format!("cannot write the group file {} in {}: {e}", path.display(), dir.display()))),
    }
}

impl Module for FlockModule {
    fn name(&self) -> &str {
        "flock"
    }

    fn dependencies(&self, _args: &ComponentArgs) -> Result<Vec<DependencyDecl>> {
        Ok(vec![optional("pool", "pool")])
    }

    fn create(&self, args: ComponentArgs) -> Result<Box<dyn Component>> {
        let config = config_object(&args)?;
        let methods = parse_bootstrap(config)?;
        if let Some(path) = file_of(config) {
            check_writable(&path)?;
        }
        let pool = handler_pool(&args);
        let text = args.config.to_string();
        let mut last = None;
        for (i, method) in methods.iter().enumerate() {
            let attempt = initial_view(&args.engine, args.provider_id, method, config).and_then(|view| {
                Provider::register(
                    &args.engine,
                    args.provider_id,
                    &text,
                    ProviderArgs { pool: pool.clone(), initial_view: view, ..Default::default() },
                )
                .map_err(|e| {
                    bad(format!("[flock] Could not register provider (flock_provider_register returned {}): {e}", e.code()))
                })
            });
            match attempt {
                Ok(provider) => {
                    // How the provider was bootstrapped is reported with its
                    // config, so the reported config can be deployed again.
                    let reported = ["bootstrap", "mpi_ranks"]
                        .into_iter()
                        .filter_map(|k| Some((k.to_string(), config.get(k)?.clone())))
                        .collect();
                    return Ok(Box::new(FlockComponent::reporting(provider, reported)));
                }
                Err(e) => {
                    // Expected in a list such as ["join", "mpi"] (the first
                    // process finds no group file to join): not a warning;
                    // the error of the last method is the one reported.
                    if i + 1 < methods.len() {
                        crate::info!("[flock] bootstrap method {method:?} did not apply, trying the next one: {e}");
                    }
                    last = Some(e);
                }
            }
        }
        Err(last.expect("at least one method"))
    }
}

/// A running Flock provider as a Bedrock component.
pub type FlockComponent = ProviderComponent<Provider>;

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(v: Value) -> serde_json::Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn every_documented_bootstrap_form_parses() {
        assert_eq!(parse_bootstrap(&cfg(serde_json::json!({"bootstrap": "self"}))).unwrap(), vec![Method::SelfOnly]);
        assert_eq!(
            parse_bootstrap(&cfg(serde_json::json!({"bootstrap": ["join", "mpi"]}))).unwrap(),
            vec![Method::Join { address: None, provider_id: None }, Method::Mpi]
        );
        assert_eq!(
            parse_bootstrap(&cfg(serde_json::json!({"bootstrap": {"method": "view", "view_file": "/x"}}))).unwrap(),
            vec![Method::View(PathBuf::from("/x"))]
        );
        assert_eq!(
            parse_bootstrap(&cfg(
                serde_json::json!({"bootstrap": {"method": "join", "address": "na+sm://1-0", "provider_id": 1}})
            ))
            .unwrap(),
            vec![Method::Join { address: Some("na+sm://1-0".into()), provider_id: Some(1) }]
        );
        assert_eq!(parse_bootstrap(&cfg(serde_json::json!({"bootstrap": "file"}))).unwrap(), vec![Method::File]);
    }

    #[test]
    fn bad_bootstraps_are_explained() {
        for (v, text) in [
            (serde_json::json!({}), "not found"),
            (serde_json::json!({"bootstrap": 3}), "should be of type"),
            (serde_json::json!({"bootstrap": "nope"}), "Invalid value \"nope\""),
            (serde_json::json!({"bootstrap": {"method": "view"}}), "view_file"),
            (serde_json::json!({"bootstrap": {"method": "join", "provider_id": 70000}}), "provider_id"),
            (serde_json::json!({"bootstrap": []}), "empty"),
        ] {
            let e = parse_bootstrap(&cfg(v)).unwrap_err().to_string();
            assert!(e.contains(text), "{e}");
        }
        assert!(mpi_ranks(&cfg(serde_json::json!({"mpi_ranks": [0, "x"]}))).is_err());
    }
}
