//! Client operations at any member: split by primary owner, forwarded,
//! applied at the primary and copied to the other owners.

use super::wire::{self, Change, Route};
use super::{LocalDb, Requester, Shard, ShardCallError, WaitBound, MAX_HOPS};
use crate::rpc::codec::{self, Bytes};
use crate::rpc::Address;
use crate::yokan::backend::{Filter, Item};
use crate::yokan::error::{code, Result, YokanError};
use crate::yokan::mode;
use crate::yokan::protocol::{self, answer, failure, success, ListArgs, Operation};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

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
    if base_op(op) == protocol::PUT {
        let Operation { mode, args } = codec::decode::<Operation<protocol::Pairs<'a>>>(payload)?;
        let keys = args.iter().map(|(k, _)| k.0).collect();
        let values = args.iter().map(|(_, v)| v.0).collect();
        Ok(Keyed { mode, keys, values: Some(values) })
    } else {
        let Operation { mode, args } = codec::decode::<Operation<protocol::Keys<'a>>>(payload)?;
        Ok(Keyed { mode, keys: args.into_iter().map(|k| k.0).collect(), values: None })
    }
}

impl Keyed<'_> {
    /// The client payload of the subset `idx`.
    fn subset(&self, idx: &[usize]) -> Vec<u8> {
        match &self.values {
            Some(values) => {
                let args: protocol::Pairs<'_> = idx.iter().map(|&i| (Bytes(self.keys[i]), Bytes(values[i]))).collect();
                codec::encode(&Operation { mode: self.mode, args })
            }
            None => {
                let args: protocol::Keys<'_> = idx.iter().map(|&i| Bytes(self.keys[i])).collect();
                codec::encode(&Operation { mode: self.mode, args })
            }
        }
    }

    fn is_write(&self, op: &str) -> bool {
        let op = base_op(op);
        op == protocol::PUT || op == protocol::ERASE || (op == protocol::GET && self.mode & mode::CONSUME != 0)
    }
}

/// The per-key answers of a reply (or the error it reports).
fn answers(op: &str, reply: &[u8], n: usize) -> Result<Vec<Answer>> {
    let op = base_op(op);
    let all: Vec<Answer> = match op {
        protocol::PUT | protocol::ERASE => {
            answer::<()>(reply)?;
            return Ok(vec![Answer::Done; n]);
        }
        protocol::EXISTS => answer::<Vec<bool>>(reply)?.into_iter().map(Answer::Exists).collect(),
        protocol::LENGTH => answer::<Vec<Option<u64>>>(reply)?.into_iter().map(Answer::Length).collect(),
        _ => answer::<Vec<Option<Bytes<'_>>>>(reply)?.into_iter().map(|v| Answer::Value(v.map(|b| b.0.to_vec()))).collect(),
    };
    if all.len() != n {
        return Err(YokanError::new(code::FROM_MERCURY, format!("a shard answered for {} keys, {n} asked", all.len())));
    }
    Ok(all)
}

fn encode_answers(op: &str, all: &[Answer]) -> Vec<u8> {
    match base_op(op) {
        protocol::PUT | protocol::ERASE => success(()),
        protocol::EXISTS => success(all.iter().map(|a| matches!(a, Answer::Exists(true))).collect::<Vec<_>>()),
        protocol::LENGTH => success(all.iter().map(|a| if let Answer::Length(l) = a { *l } else { None }).collect::<Vec<_>>()),
        _ => success(all.iter().map(|a| if let Answer::Value(Some(v)) = a { Some(Bytes(v)) } else { None }).collect::<Vec<_>>()),
    }
}

/// The reply of a list, with the key transformations of `mode`.
pub(crate) fn list_reply(items: &[Item], mode: i32, filter: &Filter) -> Vec<u8> {
    let strip = mode & mode::NO_PREFIX != 0;
    let ignore = mode & mode::IGNORE_KEYS != 0;
    let keep_last = mode & mode::KEEP_LAST == mode::KEEP_LAST;
    let n = items.len();
    let listed: Vec<(Bytes<'_>, Bytes<'_>)> = items
        .iter()
        .enumerate()
        .map(|(i, (k, v))| {
            let key: &[u8] = if ignore && !(keep_last && i + 1 == n) {
                &[]
            } else if strip {
                filter.strip(k)
            } else {
                k
            };
            (Bytes(key), Bytes(v))
        })
        .collect();
    success(listed)
}

impl Shard {
    /// A client operation at this member (any member serves any key). A
    /// `WAIT` operation waits for its keys until `until` (when its caller
    /// stops waiting; `None`: no bound), here or at their primary.
    pub(crate) fn route(
        &self,
        local: &dyn LocalDb,
        op: &str,
        payload: &[u8],
        route: &Route,
        until: Option<Instant>,
    ) -> Result<Vec<u8>> {
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
            | protocol::ERASE_WAIT => self.keyed(local, op, payload, route, until),
            protocol::DOC => self.doc_route(local, payload, route, until),
            _ => local.run(op, payload, false, until.into()),
        }
    }

    fn keyed(&self, local: &dyn LocalDb, op: &str, payload: &[u8], route: &Route, until: Option<Instant>) -> Result<Vec<u8>> {
        let req = parse_keyed(op, payload)?;
        if req.keys.is_empty() {
            return local.run(op, payload, route.multi, until.into());
        }
        let view = self.current();
        let mut skip: Vec<String> = route.skip.clone();
        skip.extend(self.suspects());
        // Every key has us as primary (what a group-aware client sends):
        // served here, on this handler's thread, from the request as it came.
        if req.keys.iter().all(|k| self.primary_of(&view, k, &skip) == Some(self.me.as_str())) {
            return self.as_primary(local, op, payload, &req, route.multi, &view, &skip, until);
        }
        let multi = route.multi || req.keys.len() > 1;
        let mut results: Vec<Option<Answer>> = vec![None; req.keys.len()];
        let mut pending: Vec<usize> = (0..req.keys.len()).collect();
        let mut asked: HashMap<usize, String> = HashMap::new();
        // A plain read whose primary does not answer in time (slow, or cut
        // off from us) goes on to the key's next owner, but never beyond
        // its owners: a member without a copy would report the key missing.
        // Writes and WAIT reads fail instead.
        let fall_over = !req.is_write(op) && base_op(op) == op;
        let mut silent: Vec<String> = Vec::new();
        let mut silence: Option<YokanError> = None;
        // Each round routes around the members found gone (or silent) in the last.
        for _ in 0..=view.len() {
            let around: Vec<String> = skip.iter().chain(&silent).cloned().collect();
            let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
            for &i in &pending {
                let owners = self.owners(&view, req.keys[i], &around);
                let Some(primary) = owners.first() else {
                    return Err(YokanError::new(code::FROM_MERCURY, "no live member owns the key"));
                };
                if let Some(e) = silence.as_ref().filter(|_| !self.owners(&view, req.keys[i], &skip).contains(primary)) {
                    return Err(YokanError::new(e.code, format!("no owner of a key answered in time (last: {})", e.detail)));
                }
                groups.entry(primary.to_string()).or_default().push(i);
            }
            let mut retry = Vec::new();
            for (primary, idx) in groups {
                let sub = req.subset(&idx);
                let r = Route { hops: route.hops, as_replica: false, multi, skip: around.clone() };
                match self.at(local, &primary, op, &sub, &r, until) {
                    Ok(reply) => {
                        for (i, a) in idx.iter().zip(answers(op, &reply, idx.len())?) {
                            results[*i] = Some(a);
                            asked.insert(*i, primary.clone());
                        }
                    }
                    Err(ShardCallError::Gone(_)) => {
                        skip.push(primary);
                        retry.extend(idx);
                    }
                    Err(ShardCallError::Silent(m)) if fall_over => {
                        crate::debug!("{primary} did not answer a read in time ({m}); asking the next owner");
                        silence = Some(ShardCallError::Silent(m).into_yokan(&primary));
                        silent.push(primary);
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
            skip.extend(silent);
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
                for owner in p.owners(req.keys[i], self.replication) {
                    if !candidates.iter().any(|c| c == owner) {
                        candidates.push(owner.to_string());
                    }
                }
            }
            for c in candidates {
                // A member the group removed is not asked: it no longer sees the
                // group's writes (an expelled one keeps serving its last view), so
                // its copies may be stale, and what only it holds is not the group's.
                if asked.get(&i) == Some(&c) || skip.contains(&c) || self.departed(&c) {
                    continue;
                }
                let r = Route { as_replica: true, ..Route::default() };
                // A WAIT read would block at a replica: ask the plain form.
                let sub = req.subset(&[i]);
                let Ok(reply) = self.at(local, &c, base_op(op), &sub, &r, None) else { continue };
                if let Ok(mut a) = answers(op, &reply, 1) {
                    if !a[0].missing() {
                        *answer = a.remove(0);
                        break;
                    }
                }
            }
        }
    }

    /// Runs `op` at `member`'s shard (here if it is us). A `WAIT`
    /// operation waits for its keys until `until` (`None`: no bound): sent
    /// on, it carries what is left of that time, and the call waits as long
    /// (and a margin) rather than the usual shard timeout.
    pub(super) fn at(
        &self,
        local: &dyn LocalDb,
        member: &str,
        op: &str,
        payload: &[u8],
        route: &Route,
        until: Option<Instant>,
    ) -> std::result::Result<Vec<u8>, ShardCallError> {
        if member == self.me {
            return Ok(self.apply(local, op, payload, route, until.into()).unwrap_or_else(|e| failure(&e)));
        }
        if protocol::wait_twin(base_op(op)) != Some(op) {
            return self.call(
                member,
                wire::APPLY,
                codec::encode(&wire::Apply { route: route.clone(), op, payload: Bytes(payload) }),
            );
        }
        let bound = until.map(|t| t.saturating_duration_since(Instant::now()));
        let wait_ms = bound.map(|b| u64::try_from(b.as_nanos().div_ceil(1_000_000)).unwrap_or(u64::MAX));
        let timeout = super::wait_call_timeout(bound);
        let request = wire::ApplyWait { route: route.clone(), op, payload: Bytes(payload), wait_ms };
        let bounded = self.call_waiting(member, wire::APPLY_WAIT_BOUNDED, codec::encode(&request), timeout);
        let Err(ShardCallError::NoSuchRpc(_)) = bounded else { return bounded };
        // A member that predates the bound: its request (it waits without
        // one there; our call still waits only as long as our caller).
        let old = wire::Apply { route: route.clone(), op, payload: Bytes(payload) };
        match self.call_waiting(member, wire::APPLY_WAIT, codec::encode(&old), timeout) {
            Err(ShardCallError::NoSuchRpc(e)) => Err(self.call_failed(member, e)),
            other => other,
        }
    }

    /// Watches the member a forwarded `WAIT` came from, for as long as the
    /// guard lives: if it is found gone, its wait ends at once.
    fn watch_requester(&self, sender: &Address, requester: &Arc<Requester>) -> Option<crate::rpc::PeerWatchGuard> {
        let r = requester.clone();
        match self.engine.watch_peer(sender, Box::new(move |why| r.found_gone(why))) {
            Ok(guard) => Some(guard),
            Err(e) => {
                // (Finalizing: the wait ends with the stream it blocks on.)
                crate::debug!("yokan provider {}: cannot watch {sender}: {e}", self.provider_id);
                None
            }
        }
    }

    /// The primary of `key` in `view`, routing around `skip`.
    pub(super) fn primary_of<'a>(&self, view: &'a super::Placement, key: &[u8], skip: &[String]) -> Option<&'a str> {
        view.first(key, |m| skip.iter().any(|s| s == m))
    }

    /// Runs `op` as the primary of its keys: applies it and copies its
    /// effect to the other owners before answering. A request that reached
    /// us under an older view is routed on. A `WAIT` operation waits for
    /// its keys until `bound` ends the wait (routed on, until its time is up).
    pub(crate) fn apply(
        &self,
        local: &dyn LocalDb,
        op: &str,
        payload: &[u8],
        route: &Route,
        bound: WaitBound<'_>,
    ) -> Result<Vec<u8>> {
        if op == protocol::DOC {
            return self.doc_apply(local, payload, route, bound);
        }
        if route.as_replica {
            return local.run(op, payload, route.multi, bound);
        }
        let req = parse_keyed(op, payload)?;
        let view = self.current();
        let mut skip = route.skip.clone();
        skip.extend(self.suspects());
        let primary_elsewhere = req.keys.iter().any(|k| self.primary_of(&view, k, &skip).is_some_and(|p| p != self.me.as_str()));
        if primary_elsewhere && route.hops < MAX_HOPS {
            let next = Route { hops: route.hops + 1, skip, ..route.clone() };
            return self.keyed(local, op, payload, &next, bound.until);
        }
        if !req.is_write(op) {
            return local.run(op, payload, route.multi, bound);
        }
        self.write(local, op, payload, &req, route.multi, &view, &skip, bound)
    }

    /// A client request whose keys all have us as primary, at the member
    /// the client called: reads answer from here (a key missing while keys
    /// move is looked for further), writes are applied and copied.
    #[allow(clippy::too_many_arguments)]
    fn as_primary(
        &self,
        local: &dyn LocalDb,
        op: &str,
        payload: &[u8],
        req: &Keyed<'_>,
        multi: bool,
        view: &super::Placement,
        skip: &[String],
        until: Option<Instant>,
    ) -> Result<Vec<u8>> {
        if req.is_write(op) {
            return self.write(local, op, payload, req, multi, view, skip, until.into());
        }
        let reply = local.run(op, payload, multi, until.into())?;
        if skip.is_empty() && self.moving_from().is_none() {
            return Ok(reply);
        }
        let mut all = answers(op, &reply, req.keys.len())?;
        if !all.iter().any(Answer::missing) {
            return Ok(reply);
        }
        let asked: HashMap<usize, String> = (0..all.len()).map(|i| (i, self.me.clone())).collect();
        self.look_further(local, op, req, &mut all, &asked, skip);
        Ok(encode_answers(op, &all))
    }

    /// A write at its keys' primary. Applied and numbered under the keys'
    /// stripe locks, which are let go before the copies are sent (see
    /// `order.rs`: the copies keep the primary's order by the numbers);
    /// answered once every live owner has stored it. A `WAIT` write (an
    /// erase, a consuming get) waits for its keys without the locks (the
    /// put it waits for takes them), until `bound` ends the wait.
    #[allow(clippy::too_many_arguments)]
    fn write(
        &self,
        local: &dyn LocalDb,
        op: &str,
        payload: &[u8],
        req: &Keyed<'_>,
        multi: bool,
        view: &super::Placement,
        skip: &[String],
        bound: WaitBound<'_>,
    ) -> Result<Vec<u8>> {
        let copies = self.replication > 1 && view.len() > 1;
        let (reply, seq, changes) = loop {
            let locked = self.lock_keys(&req.keys);
            let Some(reply) = local.run_if_ready(op, payload, multi)? else {
                drop(locked);
                local.wait_present(&req.keys, bound)?;
                continue;
            };
            if !copies {
                return Ok(reply);
            }
            let changes: Vec<Change> = if base_op(op) == protocol::PUT {
                let values = local.backend()?.get(&req.keys, false)?;
                req.keys.iter().zip(values).map(|(k, v)| (k.to_vec(), v)).collect()
            } else {
                req.keys.iter().map(|k| (k.to_vec(), None)).collect()
            };
            break (reply, self.sequencer.begin(), changes);
        };
        let copied = self.replicate(view, seq, &changes, skip);
        self.sequencer.end(seq);
        copied.map(|()| reply)
    }

    /// Copies write `seq` to every other owner, all at once; acknowledged
    /// once each live owner has stored it (an owner that is gone is
    /// skipped: the survivors re-make its copies when the group drops it).
    pub(super) fn replicate(&self, view: &super::Placement, seq: u64, changes: &[Change], skip: &[String]) -> Result<()> {
        let mut per_member: BTreeMap<&str, Vec<Change>> = BTreeMap::new();
        for c in changes {
            for m in self.owners(view, &c.0, skip) {
                if m != self.me {
                    per_member.entry(m).or_default().push(c.clone());
                }
            }
        }
        let mark = self.sequencer.mark();
        let calls: Vec<_> = per_member
            .into_iter()
            .map(|(member, list)| {
                let payload = wire::encode_store(self.sequencer.id(), seq, mark, &list);
                (member, self.call_start(member, wire::STORE, payload, self.timeout, super::Waiter::ThisThread))
            })
            .collect();
        let mut outcome = Ok(());
        for (member, started) in calls {
            let answered = started.and_then(|pending| self.call_finish(member, pending));
            match answered {
                Ok(reply) => {
                    if let Err(e) = answer::<()>(&reply) {
                        outcome = outcome.and(Err(e));
                    }
                }
                Err(ShardCallError::Gone(m)) => {
                    crate::debug!("replica {member} is gone ({m}); the group will re-make its copies")
                }
                Err(e) => outcome = outcome.and(Err(e.into_yokan(member))),
            }
        }
        outcome
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
                match self.call(m, wire::COUNT, codec::encode(&skip)) {
                    Ok(reply) => total += answer::<u64>(&reply)?,
                    Err(ShardCallError::Gone(_)) => {
                        gone = true;
                        break;
                    }
                    Err(e) => return Err(e.into_yokan(m)),
                }
            }
            if !gone {
                return Ok(success(total));
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
        let Operation { mode, args } = codec::decode::<Operation<ListArgs<'_>>>(payload)?;
        let (filter_bytes, max) = (args.filter.0, args.max);
        // Members list raw keys; the key transformations apply to the merge.
        let sub = codec::encode(&Operation { mode: mode & (mode::INCLUSIVE | mode::SUFFIX), args });
        let (members, _) = self.live_members();
        let mut merged: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        let mut answered = 0;
        for m in &members {
            let reply = if *m == self.me {
                local.run(protocol::LIST, &sub, false, WaitBound::default())?
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
            for (k, v) in answer::<Vec<(Bytes<'_>, Bytes<'_>)>>(&reply)? {
                merged.entry(k.0.to_vec()).or_insert_with(|| v.0.to_vec());
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
                local.run(protocol::ERASE_RANGE, payload, false, WaitBound::default())?;
            } else {
                match self.call(m, wire::ERASE_RANGE, payload.to_vec()) {
                    Ok(reply) => answer::<()>(&reply)?,
                    Err(ShardCallError::Gone(_)) => {}
                    Err(e) => return Err(e.into_yokan(m)),
                }
            }
        }
        Ok(success(()))
    }

    /// An internal request from another shard (`sender`: its address;
    /// `until`: when it stops waiting for the answer, `None` if it did not
    /// say).
    pub(crate) fn serve(
        &self,
        local: &dyn LocalDb,
        rpc: &str,
        payload: &[u8],
        sender: Option<&Address>,
        until: Option<Instant>,
    ) -> Result<Vec<u8>> {
        let sender_text = sender.map(Address::as_str);
        // Copies come from the owners of a key in the sender's view. A
        // member the group removed no longer places keys as the group does
        // (an expelled member keeps its last view): what it sends — a copy
        // held up by a partition and delivered when the link came back, a
        // write made through it since — would put data behind the group's
        // placement, and an erase would remove a group's copy. Refused.
        if let Some(from) = sender_text.filter(|s| (rpc == wire::STORE || rpc == wire::FILL) && self.departed(s)) {
            let why = format!("copies from {from} refused: the group removed it (it must join again to take part)");
            crate::debug!("yokan provider {}: {why}", self.provider_id);
            return Err(YokanError::new(code::OTHER, why));
        }
        match rpc {
            wire::APPLY => {
                let apply = codec::decode::<wire::Apply<'_>>(payload)?;
                self.apply(local, apply.op, apply.payload.0, &apply.route, until.into())
            }
            wire::APPLY_WAIT | wire::APPLY_WAIT_BOUNDED => {
                // Waits as long as the forwarder said (its call lasts a
                // margin longer): no bound from a forwarder that predates it.
                // And no longer than the forwarder lives: it is watched
                // while the wait lasts.
                let apply = wire::decode_apply_wait(payload)?;
                let until = apply.wait_ms.and_then(|ms| Instant::now().checked_add(Duration::from_millis(ms)));
                let requester = sender.map(|s| Requester::new(s.as_str()));
                let _watch = sender.zip(requester.as_ref()).and_then(|(s, r)| self.watch_requester(s, r));
                let bound = WaitBound { until, requester: requester.as_deref() };
                self.apply(local, apply.op, apply.payload.0, &apply.route, bound)
            }
            wire::STORE => {
                let store = codec::decode::<wire::Store<'_>>(payload)?;
                let backend = local.backend()?;
                let keys: Vec<&[u8]> = store.changes.iter().map(|(k, _)| k.0).collect();
                // Only the changes no newer write of their key has passed.
                self.applied.store(store.sender, store.seq, store.mark, &keys, |fresh| {
                    let sets: Vec<(&[u8], &[u8])> =
                        fresh.iter().filter_map(|&i| store.changes[i].1.map(|v| (keys[i], v.0))).collect();
                    let erases: Vec<&[u8]> = fresh.iter().filter(|&&i| store.changes[i].1.is_none()).map(|&i| keys[i]).collect();
                    if !sets.is_empty() {
                        backend.put(&sets, mode::DEFAULT, false)?;
                    }
                    if !erases.is_empty() {
                        backend.erase(&erases)?;
                    }
                    Ok::<(), YokanError>(())
                })?;
                Ok(success(()))
            }
            wire::INFO => Ok(success(wire::Info { replication: self.replication as u64, address: self.me.clone() })),
            wire::STATE => {
                let members = self.current().addresses().map(str::to_string).collect();
                Ok(success(wire::State { members, moving: self.rebalancer.moving() }))
            }
            wire::FILL => {
                let fill = codec::decode::<wire::Fill<'_>>(payload)?;
                let pairs: Vec<(&[u8], &[u8])> = fill.iter().map(|(k, v)| (k.0, v.0)).collect();
                local.backend()?.put(&pairs, mode::NEW_ONLY, false)?;
                Ok(success(()))
            }
            wire::COUNT => {
                let skip = codec::decode::<wire::CountArgs>(payload)?;
                Ok(success(self.count_mine(local, &skip)?))
            }
            wire::LIST => local.run(protocol::LIST, payload, false, WaitBound::default()),
            wire::ERASE_RANGE => local.run(protocol::ERASE_RANGE, payload, false, WaitBound::default()),
            other => Err(YokanError::unsupported(format!("unknown shard request {other}"))),
        }
    }
}
