//! The engine's runtime layout: the Margo config with its pools and the
//! execution streams serving them, kept together so they cannot drift
//! apart (the config's pool `i` is `pools[i]`).

use super::config::MargoConfig;
use super::error::{Result, RpcError};
use super::pool::{Driver, Pool, Xstream};
use std::collections::HashMap;
use std::sync::Arc;

/// A snapshot of an engine's pools and execution streams, by index.
#[derive(Clone, Debug, Default)]
pub struct Layout {
    pub pools: Vec<String>,
    /// (name, key): the key names the running stream (0 if it is not
    /// running).
    pub xstreams: Vec<(String, usize)>,
}

/// A pool or an execution stream, for the references users hold on them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Part {
    Pool,
    Xstream,
}

impl Part {
    fn noun(self) -> &'static str {
        match self {
            Part::Pool => "pool",
            Part::Xstream => "xstream",
        }
    }
}

pub(crate) struct Runtime {
    pub config: MargoConfig,
    pools: Vec<Arc<Pool>>,
    xstreams: Vec<Xstream>,
    /// References users took (`margo_pool_ref_incr`, a Bedrock provider on
    /// a pool): what they hold cannot be removed. By name, which is unique.
    refs: HashMap<(Part, String), u32>,
}

impl Runtime {
    /// Creates the pools and starts the execution streams of `config`; the
    /// first stream serving the progress pool drives progress with `driver`.
    pub fn start(config: MargoConfig, driver: Arc<dyn Driver>) -> Result<Runtime> {
        let pools: Vec<Arc<Pool>> = config.pools.iter().map(|p| Pool::new(&p.name)).collect();
        // A pool no execution stream serves would strand its handlers
        // forever (upstream only warns, and e.g. the tutorial's distributed
        // config then never answers): the primary stream serves such pools,
        // after its own. The reported config is left as written.
        let unserved: Vec<usize> = (0..pools.len()).filter(|i| !config.xstreams.iter().any(|x| x.pools.contains(i))).collect();
        for &i in &unserved {
            crate::warning!("pool \"{}\" is not served by any xstream; __primary__ will serve it", config.pools[i].name);
        }
        let primary = config.xstreams.iter().position(|x| x.name == "__primary__").unwrap_or(0);
        let served_by = |k: usize| -> Vec<usize> {
            let extra = if k == primary { unserved.as_slice() } else { &[] };
            config.xstreams[k].pools.iter().chain(extra).copied().collect()
        };
        let driving = (0..config.xstreams.len()).find(|&k| served_by(k).contains(&config.progress_pool));
        let mut xstreams = Vec::new();
        for (k, xs) in config.xstreams.iter().enumerate() {
            let served: Vec<Arc<Pool>> = served_by(k).iter().filter_map(|&i| pools.get(i).cloned()).collect();
            let x = if Some(k) == driving {
                Xstream::spawn_driver(&xs.name, served, driver.clone())
            } else {
                Xstream::spawn(&xs.name, served)
            }
            .map_err(|e| RpcError::Config(format!("cannot start xstream {}: {e}", xs.name)))?;
            xstreams.push(x);
        }
        if driving.is_none() {
            // The config validation makes every pool served (see above).
            return Err(RpcError::Config("no execution stream serves the progress pool".into()));
        }
        Ok(Runtime { config, pools, xstreams, refs: HashMap::new() })
    }

    pub fn pool_at(&self, index: usize) -> Option<Arc<Pool>> {
        self.pools.get(index).cloned()
    }

    pub fn pool_by_name(&self, name: &str) -> Option<Arc<Pool>> {
        self.pools.iter().find(|p| p.name() == name).cloned()
    }

    pub fn find_pool(&self, pool: *const Pool) -> Option<Arc<Pool>> {
        self.pools.iter().find(|p| Arc::as_ptr(p) == pool).cloned()
    }

    /// The pool handlers run on unless they ask for another.
    pub fn rpc_pool(&self) -> Arc<Pool> {
        self.pools[self.config.rpc_pool].clone()
    }

    pub fn progress_pool(&self) -> Arc<Pool> {
        self.pools[self.config.progress_pool].clone()
    }

    /// Adds a pool; returns its index.
    pub fn add_pool_from_json(&mut self, v: &serde_json::Value) -> Result<usize> {
        let index = self.config.add_pool_from_json(v).map_err(|e| RpcError::Config(e.to_string()))?;
        debug_assert_eq!(self.pools.len(), index, "pools and config stay aligned");
        self.pools.push(Pool::new(&self.config.pools[index].name));
        Ok(index)
    }

    /// Removes a pool no execution stream, handler or role uses.
    pub fn remove_pool(&mut self, name: &str) -> Result<()> {
        let index = self.config.pool_by_name(name).ok_or_else(|| RpcError::NoSuchPool(name.to_string()))?;
        self.check_unreferenced(Part::Pool, name)?;
        // Our list holds one reference; any other is a user.
        if Arc::strong_count(&self.pools[index]) > 1 {
            return Err(RpcError::Config(format!("pool \"{name}\" is in use")));
        }
        self.config.remove_pool(name).map_err(|e| RpcError::Config(e.to_string()))?;
        // The config moved its last pool into the hole: mirror that.
        self.pools.swap_remove(index);
        Ok(())
    }

    /// Starts an execution stream; returns its index.
    pub fn add_xstream_from_json(&mut self, v: &serde_json::Value) -> Result<usize> {
        let index = self.config.add_xstream_from_json(v).map_err(|e| RpcError::Config(e.to_string()))?;
        let spec = &self.config.xstreams[index];
        let served = spec.pools.iter().filter_map(|&i| self.pool_at(i)).collect();
        match Xstream::spawn(&spec.name, served) {
            Ok(x) => {
                self.xstreams.push(x);
                Ok(index)
            }
            Err(e) => {
                let name = spec.name.clone();
                let _ = self.config.remove_xstream(&name);
                Err(RpcError::Config(format!("cannot start xstream {name}: {e}")))
            }
        }
    }

    /// Removes an execution stream (not `__primary__`) and hands it back,
    /// to be stopped outside the runtime's lock.
    pub fn remove_xstream(&mut self, name: &str) -> Result<Option<Xstream>> {
        self.check_unreferenced(Part::Xstream, name)?;
        if self.xstreams.iter().any(|x| x.name == name && x.drives_progress()) {
            return Err(RpcError::Config(format!("xstream \"{name}\" drives network progress and cannot be removed")));
        }
        self.config.remove_xstream(name).map_err(|e| RpcError::Config(e.to_string()))?;
        Ok(self.xstreams.iter().position(|x| x.name == name).map(|i| self.xstreams.swap_remove(i)))
    }

    /// The pools' names by index, and the execution streams' names by
    /// index with their keys ([`Xstream::key`]).
    pub fn layout(&self) -> Layout {
        Layout {
            pools: self.config.pools.iter().map(|p| p.name.clone()).collect(),
            xstreams: self
                .config
                .xstreams
                .iter()
                .map(|spec| {
                    let key = self.xstreams.iter().find(|x| x.name == spec.name).map_or(0, Xstream::key);
                    (spec.name.clone(), key)
                })
                .collect(),
        }
    }

    /// Takes a reference on a pool or stream (it then cannot be removed).
    pub fn ref_incr(&mut self, part: Part, name: &str) {
        *self.refs.entry((part, name.to_string())).or_insert(0) += 1;
    }

    /// Gives back a reference taken with [`Runtime::ref_incr`].
    pub fn release(&mut self, part: Part, name: &str) -> Result<()> {
        let key = (part, name.to_string());
        match self.refs.get_mut(&key) {
            Some(n) if *n > 1 => *n -= 1,
            Some(_) => {
                self.refs.remove(&key);
            }
            None => return Err(RpcError::InUse(format!("{} \"{name}\" has no reference to release", part.noun()))),
        }
        Ok(())
    }

    /// The references users hold on a pool or stream.
    pub fn ref_count(&self, part: Part, name: &str) -> u32 {
        self.refs.get(&(part, name.to_string())).copied().unwrap_or(0)
    }

    fn check_unreferenced(&self, part: Part, name: &str) -> Result<()> {
        match self.ref_count(part, name) {
            0 => Ok(()),
            n => Err(RpcError::InUse(format!("{} \"{name}\" is still referenced ({n} reference(s) taken)", part.noun()))),
        }
    }

    /// Hands every execution stream back, to be stopped (finalize).
    pub fn take_xstreams(&mut self) -> Vec<Xstream> {
        std::mem::take(&mut self.xstreams)
    }
}
