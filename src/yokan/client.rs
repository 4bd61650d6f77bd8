//! The client side: database handles that call a provider's RPCs.

use super::error::{code, Result, YokanError};
use super::mode;
use super::protocol::{self, bad_reply, ListArgs, Operation, Reply};
use crate::rpc::codec::{self, Bytes};
use crate::rpc::{Address, Engine, RpcError};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Without a timeout, a call gives up after this long (upstream waits
/// forever; a dead server must not hang the caller).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);
/// `WAIT` calls may legitimately block for a long time.
pub const WAIT_TIMEOUT: Duration = Duration::from_secs(7 * 24 * 3600);

#[derive(Clone)]
pub struct Client {
    engine: Engine,
}

impl Client {
    pub fn new(engine: &Engine) -> Client {
        Client { engine: engine.clone() }
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// A handle on the database of provider `provider_id` at `address`;
    /// with `check`, asks the provider first (a wrong id gives
    /// `YOKAN_ERR_INVALID_PROVIDER`).
    pub fn database(&self, address: &Address, provider_id: u16, check: bool) -> Result<Database> {
        let db = Database { engine: self.engine.clone(), address: address.clone(), provider_id };
        if check {
            let reply = db.call(protocol::CHECK, mode::DEFAULT, None, ())?;
            let id: &str = answer(&reply)?;
            if id != protocol::IDENTITY {
                return Err(YokanError::new(code::INVALID_PROVIDER, format!("the provider is a \"{id}\", not a Yokan provider")));
            }
        }
        Ok(db)
    }
}

/// Per-call options: the mode and an optional timeout.
#[derive(Clone, Copy, Debug, Default)]
pub struct Opts {
    pub mode: i32,
    pub timeout: Option<Duration>,
}

impl Opts {
    pub fn mode(mode: i32) -> Opts {
        Opts { mode, timeout: None }
    }
}

/// A handle on one provider's database.
#[derive(Clone)]
pub struct Database {
    engine: Engine,
    address: Address,
    provider_id: u16,
}

fn rpc_error(e: RpcError) -> YokanError {
    match e {
        RpcError::NoSuchProvider { .. } | RpcError::NoSuchRpc(_) => {
            YokanError::new(code::INVALID_PROVIDER, format!("no Yokan provider answers there: {e}"))
        }
        RpcError::Timeout { .. } => YokanError::new(code::TIMEOUT, e.to_string()),
        other => YokanError::new(code::FROM_MERCURY, other.to_string()),
    }
}

impl Database {
    pub fn address(&self) -> &Address {
        &self.address
    }
    pub fn provider_id(&self) -> u16 {
        self.provider_id
    }
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    fn call(&self, name: &str, mode: i32, timeout: Option<Duration>, args: impl Serialize) -> Result<Vec<u8>> {
        mode::check_client(mode)?;
        let waits = mode & mode::WAIT != 0;
        let name = match protocol::wait_twin(name) {
            Some(twin) if waits => twin,
            _ => name,
        };
        let timeout = timeout.unwrap_or(if waits { WAIT_TIMEOUT } else { DEFAULT_TIMEOUT });
        let payload = codec::encode(&Operation { mode: mode & !mode::EXTRA, args });
        self.engine.call(&self.address, name, self.provider_id, payload, timeout).map_err(rpc_error)
    }

    fn keys_call(&self, name: &str, o: Opts, keys: &[&[u8]]) -> Result<Vec<u8>> {
        check_keys(keys.iter().copied())?;
        let keys: protocol::Keys<'_> = keys.iter().map(|k| Bytes(k)).collect();
        self.call(name, o.mode, o.timeout, keys)
    }

    pub fn count(&self, o: Opts) -> Result<u64> {
        let reply = self.call(protocol::COUNT, o.mode, o.timeout, ())?;
        answer(&reply)
    }

    pub fn put(&self, o: Opts, pairs: &[(&[u8], &[u8])]) -> Result<()> {
        if pairs.is_empty() {
            return Ok(());
        }
        check_keys(pairs.iter().map(|(k, _)| *k))?;
        let pairs: protocol::Pairs<'_> = pairs.iter().map(|(k, v)| (Bytes(k), Bytes(v))).collect();
        let reply = self.call(protocol::PUT, o.mode, o.timeout, pairs)?;
        answer(&reply)
    }

    pub fn exists(&self, o: Opts, keys: &[&[u8]]) -> Result<Vec<bool>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let reply = self.keys_call(protocol::EXISTS, o, keys)?;
        counted(answer(&reply)?, keys.len())
    }

    /// Value sizes, None for absent keys.
    pub fn length(&self, o: Opts, keys: &[&[u8]]) -> Result<Vec<Option<u64>>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let reply = self.keys_call(protocol::LENGTH, o, keys)?;
        counted(answer(&reply)?, keys.len())
    }

    /// Values, None for absent keys.
    pub fn get(&self, o: Opts, keys: &[&[u8]]) -> Result<Vec<Option<Vec<u8>>>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let reply = self.keys_call(protocol::GET, o, keys)?;
        let values: Vec<Option<Bytes<'_>>> = counted(answer(&reply)?, keys.len())?;
        Ok(values.into_iter().map(|v| v.map(|b| b.0.to_vec())).collect())
    }

    pub fn erase(&self, o: Opts, keys: &[&[u8]]) -> Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        let reply = self.keys_call(protocol::ERASE, o, keys)?;
        answer(&reply)
    }

    pub fn erase_range(&self, o: Opts, prefix: &[u8]) -> Result<()> {
        let reply = self.call(protocol::ERASE_RANGE, o.mode, o.timeout, Bytes(prefix))?;
        answer(&reply)
    }

    /// Up to `max` items after `from` (from it with INCLUSIVE) that pass
    /// the filter, in key order; values empty unless `with_values`. Keys are
    /// as the mode asks (NO_PREFIX stripped, IGNORE_KEYS emptied).
    pub fn list(&self, o: Opts, from: &[u8], filter: &[u8], max: usize, with_values: bool) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let args = ListArgs { from: Bytes(from), filter: Bytes(filter), max: max as u64, with_values };
        let reply = self.call(protocol::LIST, o.mode, o.timeout, args)?;
        let items: Vec<(Bytes<'_>, Bytes<'_>)> = answer(&reply)?;
        let n = items.len();
        if n > max {
            return Err(YokanError::new(code::FROM_MERCURY, format!("the provider listed {n} items for {max} asked")));
        }
        Ok(items.into_iter().map(|(k, v)| (k.0.to_vec(), v.0.to_vec())).collect())
    }
}

/// The result an answer carries, or the error it reports.
fn answer<'a, T: Deserialize<'a>>(reply: &'a [u8]) -> Result<T> {
    codec::decode::<Reply<T>>(reply).map_err(bad_reply)?.map_err(YokanError::from)
}

/// One answer per key asked.
fn counted<T>(answers: Vec<T>, expected: usize) -> Result<Vec<T>> {
    let n = answers.len();
    if n != expected {
        return Err(YokanError::new(code::FROM_MERCURY, format!("the provider answered for {n} keys, {expected} asked")));
    }
    Ok(answers)
}

fn check_keys<'a>(keys: impl IntoIterator<Item = &'a [u8]>) -> Result<()> {
    if keys.into_iter().any(|k| k.is_empty()) {
        return Err(YokanError::args("keys must not be empty"));
    }
    Ok(())
}
