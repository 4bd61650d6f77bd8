//! Client operations at any member: split by primary owner, forwarded,
//! applied at the primary and copied to the other owners.

use super::wire::{self, Change, Route};
use super::{LocalDb, Shard, ShardCallError, MAX_HOPS};
use crate::rpc::codec::{Reader, Writer};
use crate::yokan::backend::{Filter, Item};
use crate::yokan::error::{code, Result, YokanError};
use crate::yokan::mode;
use crate::yokan::protocol::{self, decode_keys, ok};
use std::collections::{BTreeMap, HashMap};

/// One key's answer to a read.
#[derive(Clone, Debug)]
enum Answer {
    Done,
    Exists(bool),
    Length(Option<u64>),
    Value(Option<Vec<u8>>),
}

impl Answer {
    fn missing(&self) -> bool {
        matches!(self, Answer::Exists(false) | Answer::Length(None) | Answer::Value(None))
    }
}

/// The base operation of a `WAIT` twin.
fn base_op(op: &str) -> &str {
    match op {
        protocol::EXISTS_WAIT => protocol::EXISTS,
        protocol::LENGTH_WAIT => protocol::LENGTH,
        protocol::GET_WAIT => protocol::GET,
        protocol::ERASE_WAIT => protocol::ERASE,
        other => other,
    }
}

/// A keyed request taken apart: the mode and its keys (with values for a put).
struct Keyed<'a> {
    mode: i32,
    keys: Vec<&'a [u8]>,
    values: Option<Vec<&'a [u8]>>,
}

fn parse_keyed<'a>(op: &str, payload: &'a [u8]) -> Result<Keyed<'a>> {
    let mut r = Reader::new(payload);
    let mode = r.i32()?;
    if base_op(op) == protocol::PUT {
        let n = r.count(8)?;
        let (mut keys, mut values) = (Vec::with_capacity(n), Vec::with_capacity(n));
        for _ in 0..n {
            keys.push(r.bytes()?);
            values.push(r.bytes()?);
        }
        r.end()?;
        Ok(Keyed { mode, keys, values: Some(values) })
    } else {
        let keys = decode_keys(&mut r)?;
        r.end()?;
        Ok(Keyed { mode, keys, values: None })
    }
}

impl Keyed<'_> {
    /// The client payload of the subset `idx`.
    fn subset(&self, idx: &[usize]) -> Vec<u8> {
        let mut w = Writer::new();
        w.i32(self.mode).u32(idx.len() as u32);
        for &i in idx {
            w.bytes(self.keys[i]);
            if let Some(values) = &self.values {
                w.bytes(values[i]);
            }
        }
        w.finish()
    }

    fn is_write(&self, op: &str) -> bool {
        let op = base_op(op);
        op == protocol::PUT || op == protocol::ERASE || (op == protocol::GET && self.mode & mode::CONSUME != 0)
    }
}

/// Reads the per-key answers of a successful reply.
fn answers(op: &str, body: &mut Reader<'_>, n: usize) -> Result<Vec<Answer>> {
    let bad = |e| YokanError::new(code::FROM_MERCURY, format!("malformed answer from a shard: {e}"));
    let op = base_op(op);
    if op == protocol::PUT || op == protocol::ERASE {
        return Ok(vec![Answer::Done; n]);
    }
    let got = body.u32().map_err(bad)? as usize;
    if got != n {
        return Err(YokanError::new(code::FROM_MERCURY, format!("a shard answered for {got} keys, {n} asked")));
    }
    (0..n)
        .map(|_| {
            Ok(match op {
                protocol::EXISTS => Answer::Exists(body.bool().map_err(bad)?),
                protocol::LENGTH => Answer::Length(Some(body.u64().map_err(bad)?).filter(|s| *s != u64::MAX)),
                _ => Answer::Value(if body.bool().map_err(bad)? { Some(body.bytes().map_err(bad)?.to_vec()) } else { None }),
            })
        })
        .collect()
}

fn encode_answers(op: &str, all: &[Answer]) -> Vec<u8> {
    ok(|w| {
        let op = base_op(op);
        if op == protocol::PUT || op == protocol::ERASE {
            return;
        }
        w.u32(all.len() as u32);
        for a in all {
            match a {
                Answer::Exists(b) => {
                    w.bool(*b);
                }
                Answer::Length(l) => {
                    w.u64(l.unwrap_or(u64::MAX));
                }
                Answer::Value(Some(v)) => {
                    w.bool(true).bytes(v);
                }
                Answer::Value(None) | Answer::Done => {
                    w.bool(false);
                }
            }
        }
    })
}

/// The reply of a list, with the key transformations of `mode`.
pub(crate) fn list_reply(items: &[Item], mode: i32, filter: &Filter) -> Vec<u8> {
    let strip = mode & mode::NO_PREFIX != 0;
    let ignore = mode & mode::IGNORE_KEYS != 0;
    let keep_last = mode & mode::KEEP_LAST == mode::KEEP_LAST;
    let n = items.len();
    ok(|w| {
        w.u32(n as u32);
        for (i, (k, v)) in items.iter().enumerate() {
            let key: &[u8] = if ignore && !(keep_last && i + 1 == n) {
                &[]
            } else if strip {
                filter.strip(k)
            } else {
                k
            };
            w.bytes(key).bytes(v);
        }
    })
}

impl Shard {
    /// A client operation at this member (any member serves any key).
    pub(crate) fn route(&self, local: &dyn LocalDb, op: &str, payload: &[u8], route: &Route) -> Result<Vec<u8>> {
        match op {
            protocol::COUNT => self.count(local),
            protocol::LIST => self.list(local, payload),
            protocol::ERASE_RANGE => self.erase_range(local, payload),
            protocol::PUT
            | protocol::EXISTS
            | protocol::LENGTH
            | protocol::GET
            | protocol::ERASE
            | protocol::EXISTS_WAIT
            | protocol::LENGTH_WAIT
            | protocol::GET_WAIT
            | protocol::ERASE_WAIT => self.keyed(local, op, payload, route),
            _ => local.run(op, payload, false),
        }
    }

    fn keyed(&self, local: &dyn LocalDb, op: &str, payload: &[u8], route: &Route) -> Result<Vec<u8>> {
        let req = parse_keyed(op, payload)?;
        if req.keys.is_empty() {
            return local.run(op, payload, route.multi);
        }
        let multi = route.multi || req.keys.len() > 1;
        let view = self.current();
        let mut skip: Vec<String> = route.skip.clone();
        skip.extend(self.suspects());
        let mut results: Vec<Option<Answer>> = vec![None; req.keys.len()];
        let mut pending: Vec<usize> = (0..req.keys.len()).collect();
        let mut asked: HashMap<usize, String> = HashMap::new();
        // Each round routes around the members found gone in the last.
        for _ in 0..=view.len() {
            let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
            for &i in &pending {
                let owners = self.owners(&view, req.keys[i], &skip);
                let Some(primary) = owners.first() else {
                    return Err(YokanError::new(code::FROM_MERCURY, "no live member owns the key"));
                };
                groups.entry(primary.to_string()).or_default().push(i);
            }
            let mut retry = Vec::new();
            for (primary, idx) in groups {
                let sub = req.subset(&idx);
                let r = Route { hops: route.hops, as_replica: false, multi, skip: skip.clone() };
                match self.at(local, &primary, op, &sub, &r) {
                    Ok(reply) => {
                        let mut body = protocol::decode_reply(&reply)?;
                        for (i, a) in idx.iter().zip(answers(op, &mut body, idx.len())?) {
                            results[*i] = Some(a);
                            asked.insert(*i, primary.clone());
                        }
                    }
                    Err(ShardCallError::Gone(_)) => {
                        skip.push(primary);
                        retry.extend(idx);
                    }
                    Err(e) => return Err(e.into_yokan(&primary)),
                }
            }
            if retry.is_empty() {
                break;
            }
            pending = retry;
        }
        let mut all: Vec<Answer> = Vec::with_capacity(results.len());
        for r in results {
            all.push(r.ok_or_else(|| YokanError::new(code::FROM_MERCURY, "no live member owns the key"))?);
        }
        if !req.is_write(op) {
            self.look_further(local, op, &req, &mut all, &asked, &skip);
        }
        Ok(encode_answers(op, &all))
    }

    /// Keys reported missing by their primary while keys may be moving (a
    /// recent view change) or a member is being routed around are looked
    /// for at the other owners of this view and of the previous one.
    fn look_further(
        &self,
        local: &dyn LocalDb,
        op: &str,
        req: &Keyed<'_>,
        all: &mut [Answer],
        asked: &HashMap<usize, String>,
        skip: &[String],
    ) {
        let previous = self.moving_from();
        if previous.is_none() && skip.is_empty() {
            return;
        }
        let current = self.current();
        for (i, answer) in all.iter_mut().enumerate() {
            if !answer.missing() {
                continue;
            }
            let mut candidates: Vec<String> = current.ranked(req.keys[i]).into_iter().map(str::to_string).collect();
            candidates.truncate(self.replication + skip.len());
            if let Some(p) = &previous {
                candidates.extend(p.owners(req.keys[i], self.replication).into_iter().map(str::to_string));
            }
            candidates.dedup();
            for c in candidates {
                if asked.get(&i) == Some(&c) || skip.contains(&c) {
                    continue;
                }
                let r = Route { as_replica: true, ..Route::default() };
                // A WAIT read would block at a replica: ask the plain form.
                let sub = req.subset(&[i]);
                let Ok(reply) = self.at(local, &c, base_op(op), &sub, &r) else { continue };
                let Ok(mut body) = protocol::decode_reply(&reply) else { continue };
                if let Ok(mut a) = answers(op, &mut body, 1) {
                    if !a[0].missing() {
                        *answer = a.remove(0);
                        break;
                    }
                }
            }
        }
    }

    /// Runs `op` at `member`'s shard (here if it is us).
    fn at(
        &self,
        local: &dyn LocalDb,
        member: &str,
        op: &str,
        payload: &[u8],
        route: &Route,
    ) -> std::result::Result<Vec<u8>, ShardCallError> {
        if member == self.me {
            return Ok(self.apply(local, op, payload, route).unwrap_or_else(|e| protocol::error(&e)));
        }
        let rpc = if protocol::wait_twin(base_op(op)).is_some_and(|t| t == op) { wire::APPLY_WAIT } else { wire::APPLY };
        self.call(member, rpc, wire::encode_apply(route, op, payload))
    }

    /// Runs `op` as the primary of its keys: applies it and copies its
    /// effect to the other owners before answering. A request that reached
    /// us under an older view is routed on.
    pub(crate) fn apply(&self, local: &dyn LocalDb, op: &str, payload: &[u8], route: &Route) -> Result<Vec<u8>> {
        let req = parse_keyed(op, payload)?;
        let view = self.current();
        let mut skip = route.skip.clone();
        skip.extend(self.suspects());
        if route.as_replica {
            return local.run(op, payload, route.multi);
        }
        let primary_elsewhere = req.keys.iter().any(|k| self.owners(&view, k, &skip).first().is_some_and(|p| *p != self.me));
        if primary_elsewhere && route.hops < MAX_HOPS {
            let next = Route { hops: route.hops + 1, skip, ..route.clone() };
            return self.keyed(local, op, payload, &next);
        }
        if !req.is_write(op) {
            return local.run(op, payload, route.multi);
        }
        let _locked = self.lock_keys(&req.keys);
        let reply = local.run(op, payload, route.multi)?;
        let changes: Vec<Change> = if base_op(op) == protocol::PUT {
            let values = local.backend()?.get(&req.keys, false)?;
            req.keys.iter().zip(values).map(|(k, v)| (k.to_vec(), v)).collect()
        } else {
            req.keys.iter().map(|k| (k.to_vec(), None)).collect()
        };
        self.replicate(&view, &changes, &skip)?;
        Ok(reply)
    }

    /// Copies `changes` to every other owner; acknowledged once each live
    /// owner has stored them (an owner that is gone is skipped: the
    /// survivors re-make its copies when the group drops it).
    fn replicate(&self, view: &super::Placement, changes: &[Change], skip: &[String]) -> Result<()> {
        let mut per_member: BTreeMap<&str, Vec<Change>> = BTreeMap::new();
        for c in changes {
            for m in self.owners(view, &c.0, skip) {
                if m != self.me {
                    per_member.entry(m).or_default().push(c.clone());
                }
            }
        }
        for (member, list) in per_member {
            match self.call(member, wire::STORE, wire::encode_changes(&list)) {
                Ok(reply) => {
                    protocol::decode_reply(&reply)?;
                }
                Err(ShardCallError::Gone(m)) => {
                    crate::debug!("replica {member} is gone ({m}); the group will re-make its copies")
                }
                Err(e) => return Err(e.into_yokan(member)),
            }
        }
        Ok(())
    }

    /// The members to ask for a group-wide operation, and the suspects.
    fn live_members(&self) -> (Vec<String>, Vec<String>) {
        let skip = self.suspects();
        let members = self.current().addresses().filter(|m| !skip.iter().any(|s| s == m)).map(str::to_string).collect();
        (members, skip)
    }

    /// Keys in the group: each member counts those it is the first live
    /// owner of.
    fn count(&self, local: &dyn LocalDb) -> Result<Vec<u8>> {
        for _ in 0..3 {
            let (members, skip) = self.live_members();
            let mut total = 0u64;
            let mut gone = false;
            for m in &members {
                if *m == self.me {
                    total += self.count_mine(local, &skip)?;
                    continue;
                }
                let mut w = Writer::new();
                wire::encode_strings(&mut w, &skip);
                match self.call(m, wire::COUNT, w.finish()) {
                    Ok(reply) => total += protocol::decode_reply(&reply)?.u64().map_err(protocol::bad_reply)?,
                    Err(ShardCallError::Gone(_)) => {
                        gone = true;
                        break;
                    }
                    Err(e) => return Err(e.into_yokan(m)),
                }
            }
            if !gone {
                return Ok(ok(|w| {
                    w.u64(total);
                }));
            }
        }
        Err(YokanError::new(code::FROM_MERCURY, "the group kept changing while counting"))
    }

    /// Local keys whose first live owner (routing around `skip`) is us.
    pub(crate) fn count_mine(&self, local: &dyn LocalDb, skip: &[String]) -> Result<u64> {
        let view = self.current();
        let keys = local.backend()?.keys()?;
        Ok(keys.iter().filter(|k| self.owners(&view, k, skip).first() == Some(&self.me.as_str())).count() as u64)
    }

    /// A page of the whole group's keys: every live member lists its own
    /// (replicas included), the pages are merged and deduplicated.
    fn list(&self, local: &dyn LocalDb, payload: &[u8]) -> Result<Vec<u8>> {
        let mut r = Reader::new(payload);
        let mode = r.i32()?;
        let from = r.bytes()?;
        let filter_bytes = r.bytes()?;
        let max = r.u64()?;
        let with_values = r.bool()?;
        r.end()?;
        // Members list raw keys; the key transformations apply to the merge.
        let mut w = Writer::new();
        w.i32(mode & (mode::INCLUSIVE | mode::SUFFIX)).bytes(from).bytes(filter_bytes).u64(max).bool(with_values);
        let sub = w.finish();
        let (members, _) = self.live_members();
        let mut merged: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        let mut answered = 0;
        for m in &members {
            let reply = if *m == self.me {
                local.run(protocol::LIST, &sub, false)?
            } else {
                match self.call(m, wire::LIST, sub.clone()) {
                    Ok(reply) => reply,
                    Err(ShardCallError::Gone(e)) => {
                        crate::debug!("listing without {m}: {e}");
                        continue;
                    }
                    Err(e) => return Err(e.into_yokan(m)),
                }
            };
            let mut body = protocol::decode_reply(&reply)?;
            let n = body.count(8).map_err(protocol::bad_reply)?;
            for _ in 0..n {
                let k = body.bytes().map_err(protocol::bad_reply)?.to_vec();
                let v = body.bytes().map_err(protocol::bad_reply)?.to_vec();
                merged.entry(k).or_insert(v);
            }
            answered += 1;
        }
        if answered == 0 {
            return Err(YokanError::new(code::FROM_MERCURY, "no member of the group answered"));
        }
        let items: Vec<Item> = merged.into_iter().take(usize::try_from(max).unwrap_or(usize::MAX)).collect();
        Ok(list_reply(&items, mode, &Filter::from_mode(mode, filter_bytes)))
    }

    /// Erases a key range at every live member.
    fn erase_range(&self, local: &dyn LocalDb, payload: &[u8]) -> Result<Vec<u8>> {
        let (members, _) = self.live_members();
        for m in &members {
            if *m == self.me {
                local.run(protocol::ERASE_RANGE, payload, false)?;
            } else {
                match self.call(m, wire::ERASE_RANGE, payload.to_vec()) {
                    Ok(reply) => {
                        protocol::decode_reply(&reply)?;
                    }
                    Err(ShardCallError::Gone(_)) => {}
                    Err(e) => return Err(e.into_yokan(m)),
                }
            }
        }
        Ok(ok(|_| {}))
    }

    /// An internal request from another shard.
    pub(crate) fn serve(&self, local: &dyn LocalDb, rpc: &str, payload: &[u8]) -> Result<Vec<u8>> {
        match rpc {
            wire::APPLY | wire::APPLY_WAIT => {
                let (route, op, inner) = wire::decode_apply(payload)?;
                self.apply(local, op, inner, &route)
            }
            wire::STORE => {
                let changes = wire::decode_changes(payload)?;
                let backend = local.backend()?;
                let sets: Vec<(&[u8], &[u8])> = changes.iter().filter_map(|(k, v)| v.map(|v| (*k, v))).collect();
                let erases: Vec<&[u8]> = changes.iter().filter(|(_, v)| v.is_none()).map(|(k, _)| *k).collect();
                // No stripe lock here: a primary holds its stripes while it
                // waits for this answer, and the same process may be that
                // primary's replica and another key's primary at once.
                if !sets.is_empty() {
                    backend.put(&sets, mode::DEFAULT, false)?;
                }
                if !erases.is_empty() {
                    backend.erase(&erases)?;
                }
                Ok(ok(|_| {}))
            }
            wire::FILL => {
                let pairs = wire::decode_pairs(payload)?;
                local.backend()?.put(&pairs, mode::NEW_ONLY, false)?;
                Ok(ok(|_| {}))
            }
            wire::COUNT => {
                let mut r = Reader::new(payload);
                let skip = wire::decode_strings(&mut r)?;
                r.end()?;
                let n = self.count_mine(local, &skip)?;
                Ok(ok(|w| {
                    w.u64(n);
                }))
            }
            wire::LIST => local.run(protocol::LIST, payload, false),
            wire::ERASE_RANGE => local.run(protocol::ERASE_RANGE, payload, false),
            other => Err(YokanError::unsupported(format!("unknown shard request {other}"))),
        }
    }
}
