//! Collections of documents in a database spread over a group.
//!
//! A collection lives whole at the owners of its name: the placement ranks
//! a document's key by its collection's name
//! (`collection::placement_key`), so the record and every document move
//! together when the group changes. Its primary runs every operation on
//! it as a single provider does (ids handed out there, writes serialized
//! there); a write is applied, numbered, and copied to the other owners
//! before it is answered, exactly as a put is (`route.rs`: the copies carry
//! the keys it changed, the record included, and keep the primary's order).
//! A member that receives a document request sends it to the primary;
//! a primary found gone is routed around (its next owner holds a copy).
//!
//! Reads are answered by the primary. While keys move (a recent view
//! change) or a member is routed around, whatever it reports missing (the
//! collection, a document) is looked for at the other owners, old and new,
//! as a missing key is; a listing then merges theirs.

use super::wire::Route;
use super::{LocalDb, Shard, ShardCallError, WaitBound, MAX_HOPS};
use crate::rpc::codec;
use crate::yokan::collection::{doc_key, Doc};
use crate::yokan::error::{code, Result, YokanError};
use crate::yokan::protocol::{self, answer, success, DocArgs, DocOp, Operation};
use std::collections::BTreeMap;
use std::time::Instant;

fn decode(payload: &[u8]) -> Result<Operation<DocArgs<'_>>> {
    Ok(codec::decode::<Operation<DocArgs<'_>>>(payload)?)
}

fn is_read(op: &DocOp<'_>) -> bool {
    matches!(op, DocOp::Exists | DocOp::Record | DocOp::Load(_) | DocOp::Length(_) | DocOp::List { .. })
}

impl Shard {
    /// A document request at this member: run by its collection's primary.
    pub(crate) fn doc_route(
        &self,
        local: &dyn LocalDb,
        payload: &[u8],
        route: &Route,
        until: Option<Instant>,
    ) -> Result<Vec<u8>> {
        let name = decode(payload)?.args.collection;
        let view = self.current();
        let mut skip = route.skip.clone();
        skip.extend(self.suspects());
        for _ in 0..=view.len() {
            let Some(primary) = self.primary_of(&view, name.as_bytes(), &skip).map(str::to_string) else { break };
            let r = Route { hops: route.hops, as_replica: false, multi: false, skip: skip.clone() };
            match self.at(local, &primary, protocol::DOC, payload, &r, until) {
                Err(ShardCallError::Gone(_)) => skip.push(primary),
                Err(e) => return Err(e.into_yokan(&primary)),
                Ok(reply) => return Ok(reply),
            }
        }
        Err(YokanError::new(code::FROM_MERCURY, format!("no live member owns the collection \"{name}\"")))
    }

    /// A document request that reached us as its collection's primary (or
    /// routed on, if our view says another member is).
    pub(crate) fn doc_apply(&self, local: &dyn LocalDb, payload: &[u8], route: &Route, bound: WaitBound<'_>) -> Result<Vec<u8>> {
        if route.as_replica {
            return local.run(protocol::DOC, payload, false, bound);
        }
        let Operation { args, .. } = decode(payload)?;
        let view = self.current();
        let mut skip = route.skip.clone();
        skip.extend(self.suspects());
        let elsewhere = self.primary_of(&view, args.collection.as_bytes(), &skip).is_some_and(|p| p != self.me.as_str());
        if elsewhere && route.hops < MAX_HOPS {
            let next = Route { hops: route.hops + 1, skip, ..route.clone() };
            return self.doc_route(local, payload, &next, bound.until);
        }
        if is_read(&args.op) {
            self.doc_read(local, payload, &args, &skip)
        } else {
            self.doc_write(local, payload, &args, &view, &skip)
        }
    }

    /// A write at the collection's primary: applied under the record's
    /// stripe lock, numbered, then copied (the lock let go) to the other
    /// owners; answered once each live owner stored it.
    fn doc_write(
        &self,
        local: &dyn LocalDb,
        payload: &[u8],
        args: &DocArgs<'_>,
        view: &super::Placement,
        skip: &[String],
    ) -> Result<Vec<u8>> {
        let name = args.collection;
        let copies = self.replication > 1 && view.len() > 1;
        let locked = self.lock_keys(&[name.as_bytes()]);
        let backend = local.backend()?;
        // A drop erases documents the request does not name: found first.
        let dropped: Vec<Vec<u8>> = match args.op {
            DocOp::Drop if copies => backend
                .keys()?
                .into_iter()
                .filter(|k| crate::yokan::collection::placement_key(k) == name.as_bytes() && k.len() > name.len())
                .collect(),
            _ => Vec::new(),
        };
        let reply = local.run(protocol::DOC, payload, false, WaitBound::default())?;
        if !copies {
            return Ok(reply);
        }
        let ids: Vec<u64> = match &args.op {
            DocOp::Store(_) => answer::<Vec<u64>>(&reply)?,
            DocOp::Update { ids, .. } | DocOp::Erase(ids) => ids.clone(),
            _ => Vec::new(),
        };
        let mut keys: Vec<Vec<u8>> = vec![name.as_bytes().to_vec()];
        keys.extend(ids.iter().map(|id| doc_key(name, *id)));
        keys.extend(dropped);
        let refs: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
        let values = backend.get(&refs, false)?;
        let changes: Vec<super::wire::Change> = keys.into_iter().zip(values).collect();
        let seq = self.sequencer.begin();
        drop(locked);
        let copied = self.replicate(view, seq, &changes, skip);
        self.sequencer.end(seq);
        copied.map(|()| reply)
    }

    /// The other owners of the collection to ask while keys move or a
    /// member is routed around (none otherwise): its owners in the current
    /// view and in the one before, not us, not those skipped or removed.
    fn doc_others(&self, name: &str, skip: &[String]) -> Vec<String> {
        let previous = self.moving_from();
        if previous.is_none() && skip.is_empty() {
            return Vec::new();
        }
        let current = self.current();
        let mut others: Vec<String> = current.ranked(name.as_bytes()).into_iter().map(str::to_string).collect();
        others.truncate(self.replication + skip.len());
        if let Some(p) = &previous {
            for o in p.owners(name.as_bytes(), self.replication) {
                if !others.iter().any(|c| c == o) {
                    others.push(o.to_string());
                }
            }
        }
        others.retain(|c| *c != self.me && !skip.contains(c) && !self.departed(c));
        others
    }

    /// Asks `member`'s copy (no routing). `None`: it did not answer.
    fn doc_at_replica(&self, local: &dyn LocalDb, member: &str, payload: &[u8]) -> Option<Vec<u8>> {
        let r = Route { as_replica: true, ..Route::default() };
        self.at(local, member, protocol::DOC, payload, &r, None).ok()
    }

    /// A read at the collection's primary, with what it misses looked for
    /// at the other owners while keys move.
    fn doc_read(&self, local: &dyn LocalDb, payload: &[u8], args: &DocArgs<'_>, skip: &[String]) -> Result<Vec<u8>> {
        let mine = local.run(protocol::DOC, payload, false, WaitBound::default());
        let others = self.doc_others(args.collection, skip);
        if others.is_empty() {
            return mine;
        }
        let no_collection = matches!(&mine, Err(e) if e.code == code::KEY_NOT_FOUND);
        match &args.op {
            // The collection itself missing here: the first owner that has it answers.
            _ if no_collection => {
                for o in &others {
                    if let Some(reply) = self.doc_at_replica(local, o, payload) {
                        if answer::<serde::de::IgnoredAny>(&reply).is_ok() {
                            return Ok(reply);
                        }
                    }
                }
                mine
            }
            DocOp::Exists => {
                if answer::<bool>(mine.as_ref().map_err(Clone::clone)?)? {
                    return mine;
                }
                let found =
                    others.iter().any(|o| self.doc_at_replica(local, o, payload).is_some_and(|r| answer::<bool>(&r) == Ok(true)));
                Ok(success(found))
            }
            DocOp::Load(_) => {
                let mut docs: Vec<Option<Vec<u8>>> =
                    answer::<Vec<Option<codec::Bytes<'_>>>>(mine.as_ref().map_err(Clone::clone)?)?
                        .into_iter()
                        .map(|d| d.map(|b| b.0.to_vec()))
                        .collect();
                for o in &others {
                    if docs.iter().all(Option::is_some) {
                        break;
                    }
                    let Some(reply) = self.doc_at_replica(local, o, payload) else { continue };
                    let Ok(theirs) = answer::<Vec<Option<codec::Bytes<'_>>>>(&reply) else { continue };
                    for (d, t) in docs.iter_mut().zip(theirs) {
                        if d.is_none() {
                            *d = t.map(|b| b.0.to_vec());
                        }
                    }
                }
                Ok(success(docs.iter().map(|d| d.as_deref().map(codec::Bytes)).collect::<Vec<_>>()))
            }
            DocOp::Length(_) => {
                let mut sizes: Vec<Option<u64>> = answer(mine.as_ref().map_err(Clone::clone)?)?;
                for o in &others {
                    if sizes.iter().all(Option::is_some) {
                        break;
                    }
                    let Some(reply) = self.doc_at_replica(local, o, payload) else { continue };
                    let Ok(theirs) = answer::<Vec<Option<u64>>>(&reply) else { continue };
                    for (s, t) in sizes.iter_mut().zip(theirs) {
                        if s.is_none() {
                            *s = t;
                        }
                    }
                }
                Ok(success(sizes))
            }
            DocOp::List { max, .. } => {
                // Documents by id from every copy asked; ours first.
                let mut merged: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
                let lists =
                    std::iter::once(mine.clone().ok()).chain(others.iter().map(|o| self.doc_at_replica(local, o, payload)));
                for reply in lists.flatten() {
                    let Ok(listed) = answer::<Vec<(u64, codec::Bytes<'_>)>>(&reply) else { continue };
                    for (id, d) in listed {
                        merged.entry(id).or_insert_with(|| d.0.to_vec());
                    }
                }
                if mine.is_err() && merged.is_empty() {
                    return mine;
                }
                let max = usize::try_from(*max).unwrap_or(usize::MAX);
                let docs: Vec<Doc> = merged.into_iter().take(max).collect();
                Ok(success(docs.iter().map(|(id, d)| (*id, codec::Bytes(d))).collect::<Vec<_>>()))
            }
            // The record: ours (the collection is here).
            _ => mine,
        }
    }
}
