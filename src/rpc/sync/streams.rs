//! Pools and execution streams a program makes itself, outside any margo
//! instance (`ABT_pool_create_basic`, `ABT_xstream_create*`; thallium's
//! `pool::create`, `xstream::create`), and the stand-in for Argobots'
//! primary stream.
//!
//! Under Argobots the program's main thread is the primary execution
//! stream (rank 0) with a pool of its own, whose work runs when main
//! yields or joins. Main is not one of our streams, so the primary
//! stream's pool is served by a thread started on first use; work given to
//! "the primary stream" runs there, on another OS thread than main.
//!
//! A stream joins (`ABT_xstream_join`) by running what its pools hold at
//! that moment, then stopping (`Xstream::stop`); freeing joins first.

use super::super::pool::{Pool, Xstream};
use super::super::stream::{current_stream, stream_info};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

/// Why a stream or pool operation was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum StreamError {
    #[error("not a stream or pool this program made (or already freed)")]
    Unknown,
    #[error("the primary stream (the program's main thread) cannot be joined or freed")]
    Primary,
    #[error("a stream cannot join itself (the caller runs on it)")]
    SelfJoin,
    #[error("a running stream serves this pool: join the stream first")]
    InUse,
    #[error("cannot start the stream's thread: {0}")]
    Spawn(String),
}

struct UserStream {
    /// `None` once joined.
    running: Option<Xstream>,
    rank: i32,
    pools: Vec<Arc<Pool>>,
}

#[derive(Default)]
struct Registry {
    pools: Vec<Arc<Pool>>,
    streams: HashMap<usize, UserStream>,
}

static REGISTRY: Mutex<Option<Registry>> = Mutex::new(None);

fn with<T>(f: impl FnOnce(&mut Registry) -> T) -> T {
    f(REGISTRY.lock().get_or_insert_with(Registry::default))
}

/// The primary stream's pool and the stream serving it (started once).
struct Primary {
    pool: Arc<Pool>,
    _server: Option<Xstream>,
}

static PRIMARY: OnceLock<Primary> = OnceLock::new();

fn primary() -> &'static Primary {
    PRIMARY.get_or_init(|| {
        let pool = Pool::new("__abt_primary__");
        let server = match Xstream::spawn("abt-primary", vec![pool.clone()]) {
            Ok(x) => Some(x),
            Err(e) => {
                crate::error!("cannot start the thread serving the primary stream's pool: {e}");
                None
            }
        };
        Primary { pool, _server: server }
    })
}

/// The key C sees for the primary stream (a stand-in: main is not a
/// stream of ours).
pub fn primary_key() -> usize {
    primary() as *const Primary as usize
}

/// A new pool (any Argobots kind or access: ours are all multi-producer,
/// multi-consumer queues that streams block on).
pub fn create_pool(name: &str) -> Arc<Pool> {
    let pool = Pool::new(name);
    with(|r| r.pools.push(pool.clone()));
    pool
}

/// A pool made by [`create_pool`] or the primary stream's, by address.
pub fn find_pool(ptr: *const Pool) -> Option<Arc<Pool>> {
    if let Some(p) = PRIMARY.get().filter(|p| Arc::as_ptr(&p.pool) == ptr) {
        return Some(p.pool.clone());
    }
    with(|r| r.pools.iter().find(|p| Arc::as_ptr(p) == ptr).cloned())
}

/// Frees a pool no running stream of ours serves.
pub fn free_pool(ptr: *const Pool) -> Result<(), StreamError> {
    with(|r| {
        let i = r.pools.iter().position(|p| Arc::as_ptr(p) == ptr).ok_or(StreamError::Unknown)?;
        let served = r.streams.values().any(|s| s.running.is_some() && s.pools.iter().any(|p| Arc::as_ptr(p) == ptr));
        if served {
            return Err(StreamError::InUse);
        }
        r.pools.swap_remove(i);
        Ok(())
    })
}

/// Starts a stream serving `pools` in order (a new pool of its own if
/// empty); returns its key.
pub fn create_stream(pools: Vec<Arc<Pool>>) -> Result<usize, StreamError> {
    let pools = if pools.is_empty() { vec![create_pool("abt_xstream_pool")] } else { pools };
    let x = Xstream::spawn("abt", pools.clone()).map_err(|e| StreamError::Spawn(e.to_string()))?;
    let key = x.key();
    let rank = x.rank();
    with(|r| r.streams.insert(key, UserStream { running: Some(x), rank, pools }));
    Ok(key)
}

/// Runs what the stream's pools hold, then stops it.
pub fn join_stream(key: usize) -> Result<(), StreamError> {
    if key == primary_key() {
        return Err(StreamError::Primary);
    }
    if current_stream().is_some_and(|(k, _)| k == key) {
        return Err(StreamError::SelfJoin);
    }
    // Stopped outside the registry's lock: its jobs may use the registry.
    let running = with(|r| r.streams.get_mut(&key).map(|s| s.running.take())).ok_or(StreamError::Unknown)?;
    if let Some(mut x) = running {
        x.stop();
    }
    Ok(())
}

/// Joins the stream and forgets it.
pub fn free_stream(key: usize) -> Result<(), StreamError> {
    join_stream(key)?;
    with(|r| r.streams.remove(&key)).map(|_| ()).ok_or(StreamError::Unknown)
}

/// The calling thread's stream: (key, rank), the primary one (rank 0) off
/// execution streams.
pub fn self_stream() -> (usize, i32) {
    current_stream().unwrap_or_else(|| (primary_key(), 0))
}

/// Rank and main pools of a stream: one made here (running or joined), a
/// margo instance's, or the primary one.
pub fn stream_parts(key: usize) -> Option<(i32, Vec<Arc<Pool>>)> {
    if key == primary_key() {
        return Some((0, vec![primary().pool.clone()]));
    }
    if let Some(found) = with(|r| r.streams.get(&key).map(|s| (s.rank, s.pools.clone()))) {
        return Some(found);
    }
    stream_info(key).map(|i| (i.rank, i.pools))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn a_stream_runs_its_pools_work_and_joins() {
        let pool = create_pool("t");
        let key = create_stream(vec![pool.clone()]).unwrap();
        let (tx, rx) = mpsc::channel();
        for i in 0..10 {
            let tx = tx.clone();
            pool.push(Box::new(move || {
                let (_, rank) = self_stream();
                tx.send((i, rank)).unwrap();
            }));
        }
        let mut seen: Vec<(i32, i32)> = (0..10).map(|_| rx.recv().unwrap()).collect();
        seen.sort();
        let (rank, pools) = stream_parts(key).unwrap();
        assert!(rank > 0 && seen.iter().all(|&(_, r)| r == rank), "{seen:?} on rank {rank}");
        assert_eq!(pools.len(), 1);
        assert_eq!(free_pool(Arc::as_ptr(&pool)), Err(StreamError::InUse));
        free_stream(key).unwrap();
        assert_eq!(free_stream(key), Err(StreamError::Unknown));
        free_pool(Arc::as_ptr(&pool)).unwrap();
        assert!(find_pool(Arc::as_ptr(&pool)).is_none());
    }

    #[test]
    fn off_streams_the_caller_is_the_primary_stream() {
        assert_eq!(self_stream(), (primary_key(), 0));
        assert_eq!(join_stream(primary_key()), Err(StreamError::Primary));
        let (tx, rx) = mpsc::channel();
        stream_parts(primary_key()).unwrap().1[0].push(Box::new(move || tx.send(()).unwrap()));
        rx.recv().unwrap();
    }
}
