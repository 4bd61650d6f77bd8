//! The client side: database handles that call a provider's RPCs.

use super::dist::handle::{rpc_error, GroupRouter, GroupSource};
use super::error::{code, Result, YokanError};
use super::mode;
use super::protocol::{self, bad_reply, DocArgs, DocOp, ListArgs, Operation, Reply};
use crate::rpc::codec::{self, Bytes};
use crate::rpc::{Address, Engine};
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
        let db = Database { engine: self.engine.clone(), address: address.clone(), provider_id, group: None };
        if check {
            let reply = db.call(protocol::CHECK, mode::DEFAULT, None, ())?;
            let id: &str = answer(&reply)?;
            if id != protocol::IDENTITY {
                return Err(YokanError::new(code::INVALID_PROVIDER, format!("the provider is a \"{id}\", not a Yokan provider")));
            }
        }
        Ok(db)
    }

    /// A group-aware handle on the distributed database whose shards are
    /// the Yokan providers `provider_id` of the group's members: each key
    /// goes straight to its primary (see [`GroupRouter`]).
    pub fn group_database(&self, source: GroupSource<'_>, provider_id: u16) -> Result<Database> {
        let router = GroupRouter::new(&self.engine, source, provider_id)?;
        let first = router.some_member().ok_or_else(|| YokanError::args("the group's view has no member"))?;
        let address = self.engine.lookup(&first).map_err(|e| YokanError::args(e.to_string()))?;
        Ok(Database { engine: self.engine.clone(), address, provider_id, group: Some(router) })
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

/// A handle on one provider's database, or (made by
/// [`Client::group_database`]) on a distributed database spread over a
/// Flock group.
#[derive(Clone)]
pub struct Database {
    engine: Engine,
    /// The provider's address (a group-aware handle: a member's).
    address: Address,
    provider_id: u16,
    group: Option<GroupRouter>,
}

/// What a keyed request carries besides its keys.
#[derive(Clone, Copy)]
enum Values<'a> {
    None,
    Pairs(&'a [(&'a [u8], &'a [u8])]),
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

    /// The group-aware router, if this handle is one.
    pub fn group(&self) -> Option<&GroupRouter> {
        self.group.as_ref()
    }

    /// The RPC to send (a `WAIT` twin) and its timeout.
    fn prepare(name: &str, mode: i32, timeout: Option<Duration>) -> Result<(&str, Duration)> {
        mode::check_client(mode)?;
        let waits = mode & mode::WAIT != 0;
        let name = match protocol::wait_twin(name) {
            Some(twin) if waits => twin,
            _ => name,
        };
        Ok((name, timeout.unwrap_or(if waits { WAIT_TIMEOUT } else { DEFAULT_TIMEOUT })))
    }

    /// A request without keys (a group-aware handle: at one live member).
    fn call(&self, name: &str, mode: i32, timeout: Option<Duration>, args: impl Serialize) -> Result<Vec<u8>> {
        let (name, timeout) = Self::prepare(name, mode, timeout)?;
        let payload = codec::encode(&Operation { mode: mode & !mode::EXTRA, args });
        match &self.group {
            Some(g) => g.any(name, &payload, timeout),
            None => self.engine.call(&self.address, name, self.provider_id, payload, timeout).map_err(rpc_error),
        }
    }

    /// A request on keys; `decode` turns a reply for `n` keys into their
    /// answers. A group-aware handle splits it by primary.
    fn keyed<T>(
        &self,
        name: &str,
        o: Opts,
        keys: &[&[u8]],
        values: Values<'_>,
        decode: impl Fn(&[u8], usize) -> Result<Vec<T>>,
    ) -> Result<Vec<T>> {
        check_keys(keys.iter().copied())?;
        let (rpc, timeout) = Self::prepare(name, o.mode, o.timeout)?;
        let mode = o.mode & !mode::EXTRA;
        let encode = |idx: Option<&[usize]>| -> Vec<u8> {
            let pick = |i: usize| idx.map_or(i, |idx| idx[i]);
            let n = idx.map_or(keys.len(), <[usize]>::len);
            match values {
                Values::Pairs(pairs) => {
                    let args: protocol::Pairs<'_> = (0..n).map(|i| (Bytes(pairs[pick(i)].0), Bytes(pairs[pick(i)].1))).collect();
                    codec::encode(&Operation { mode, args })
                }
                Values::None => {
                    let args: protocol::Keys<'_> = (0..n).map(|i| Bytes(keys[pick(i)])).collect();
                    codec::encode(&Operation { mode, args })
                }
            }
        };
        let Some(group) = &self.group else {
            let reply = self.engine.call(&self.address, rpc, self.provider_id, encode(None), timeout).map_err(rpc_error)?;
            return decode(&reply, keys.len());
        };
        // A multi put split into parts of one key keeps the multi-put rule
        // of NEW_ONLY / EXIST_ONLY: a refused key is skipped, not an error.
        let skips_refused =
            keys.len() > 1 && matches!(values, Values::Pairs(_)) && o.mode & (mode::NEW_ONLY | mode::EXIST_ONLY) != 0;
        group.keyed(
            rpc,
            keys,
            timeout,
            |idx| encode(Some(idx)),
            |reply, idx| match decode(reply, idx.len()) {
                Err(e) if skips_refused && idx.len() == 1 && (e.code == code::KEY_EXISTS || e.code == code::KEY_NOT_FOUND) => {
                    decode(&protocol::success(()), 1)
                }
                other => other,
            },
        )
    }

    pub fn count(&self, o: Opts) -> Result<u64> {
        let reply = self.call(protocol::COUNT, o.mode, o.timeout, ())?;
        answer(&reply)
    }

    pub fn put(&self, o: Opts, pairs: &[(&[u8], &[u8])]) -> Result<()> {
        if pairs.is_empty() {
            return Ok(());
        }
        let keys: Vec<&[u8]> = pairs.iter().map(|(k, _)| *k).collect();
        self.keyed(protocol::PUT, o, &keys, Values::Pairs(pairs), |reply, n| {
            answer::<()>(reply)?;
            Ok(vec![(); n])
        })?;
        Ok(())
    }

    pub fn exists(&self, o: Opts, keys: &[&[u8]]) -> Result<Vec<bool>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        self.keyed(protocol::EXISTS, o, keys, Values::None, |reply, n| counted(answer(reply)?, n))
    }

    /// Value sizes, None for absent keys.
    pub fn length(&self, o: Opts, keys: &[&[u8]]) -> Result<Vec<Option<u64>>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        self.keyed(protocol::LENGTH, o, keys, Values::None, |reply, n| counted(answer(reply)?, n))
    }

    /// Values, None for absent keys.
    pub fn get(&self, o: Opts, keys: &[&[u8]]) -> Result<Vec<Option<Vec<u8>>>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        self.keyed(protocol::GET, o, keys, Values::None, |reply, n| {
            let values: Vec<Option<Bytes<'_>>> = counted(answer(reply)?, n)?;
            Ok(values.into_iter().map(|v| v.map(|b| b.0.to_vec())).collect())
        })
    }

    pub fn erase(&self, o: Opts, keys: &[&[u8]]) -> Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        self.keyed(protocol::ERASE, o, keys, Values::None, |reply, n| {
            answer::<()>(reply)?;
            Ok(vec![(); n])
        })?;
        Ok(())
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

/// Collections of documents (`collection.rs` on the provider's side; in a
/// database spread over a group, `dist/docs.rs`: a group-aware handle sends
/// each request to one member, which forwards it to the collection's
/// primary).
impl Database {
    fn doc(&self, o: Opts, collection: &str, op: DocOp<'_>) -> Result<Vec<u8>> {
        super::collection::check_name(collection)?;
        self.call(protocol::DOC, o.mode, o.timeout, DocArgs { collection, op })
    }

    pub fn collection_create(&self, o: Opts, name: &str) -> Result<()> {
        answer(&self.doc(o, name, DocOp::Create)?)
    }

    pub fn collection_drop(&self, o: Opts, name: &str) -> Result<()> {
        answer(&self.doc(o, name, DocOp::Drop)?)
    }

    pub fn collection_exists(&self, o: Opts, name: &str) -> Result<bool> {
        answer(&self.doc(o, name, DocOp::Exists)?)
    }

    /// The collection's live document count and the id its next document gets.
    pub fn collection_record(&self, o: Opts, name: &str) -> Result<(u64, u64)> {
        answer(&self.doc(o, name, DocOp::Record)?)
    }

    /// Stores documents; their ids, in order.
    pub fn doc_store(&self, o: Opts, name: &str, docs: &[&[u8]]) -> Result<Vec<u64>> {
        let reply = self.doc(o, name, DocOp::Store(docs.iter().map(|d| Bytes(d)).collect()))?;
        counted(answer(&reply)?, docs.len())
    }

    pub fn doc_update(&self, o: Opts, name: &str, ids: &[u64], docs: &[&[u8]]) -> Result<()> {
        let op = DocOp::Update { ids: ids.to_vec(), docs: docs.iter().map(|d| Bytes(d)).collect() };
        answer(&self.doc(o, name, op)?)
    }

    /// Documents by id, None for absent ones.
    pub fn doc_load(&self, o: Opts, name: &str, ids: &[u64]) -> Result<Vec<Option<Vec<u8>>>> {
        let reply = self.doc(o, name, DocOp::Load(ids.to_vec()))?;
        let docs: Vec<Option<Bytes<'_>>> = counted(answer(&reply)?, ids.len())?;
        Ok(docs.into_iter().map(|d| d.map(|b| b.0.to_vec())).collect())
    }

    /// Document sizes by id, None for absent ones.
    pub fn doc_length(&self, o: Opts, name: &str, ids: &[u64]) -> Result<Vec<Option<u64>>> {
        counted(answer(&self.doc(o, name, DocOp::Length(ids.to_vec()))?)?, ids.len())
    }

    pub fn doc_erase(&self, o: Opts, name: &str, ids: &[u64]) -> Result<()> {
        answer(&self.doc(o, name, DocOp::Erase(ids.to_vec()))?)
    }

    /// Up to `max` documents from id `from` on, in id order (bytes empty
    /// unless `with_docs`).
    pub fn doc_list(&self, o: Opts, name: &str, from: u64, max: usize, with_docs: bool) -> Result<Vec<(u64, Vec<u8>)>> {
        let reply = self.doc(o, name, DocOp::List { from, max: max as u64, with_docs })?;
        let docs: Vec<(u64, Bytes<'_>)> = answer(&reply)?;
        if docs.len() > max || docs.windows(2).any(|w| w[0].0 >= w[1].0) || docs.first().is_some_and(|d| d.0 < from) {
            return Err(YokanError::new(code::FROM_MERCURY, "the provider listed documents out of order or too many"));
        }
        Ok(docs.into_iter().map(|(id, d)| (id, d.0.to_vec())).collect())
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
