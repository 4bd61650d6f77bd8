//! Run-time changes: the pools and xstreams `margo_add_*_from_json` add and
//! `margo_remove_*` remove.

use super::argobots::{parse_pool, parse_xstream, resolve_in, PoolRef};
use super::error::ConfigError;
use super::types::{MargoConfig, PoolSpec, XstreamSpec};
use super::{MAX_XSTREAMS, PRIMARY_NAME};
use serde_json::Value;

/// The name of a pool or xstream added at run time: the one given, unless
/// it is `__primary__` (upstream refuses that once Argobots runs, which is
/// always the case after initialization) or `taken`; else `generated()`.
/// Error paths start with `kind`.
fn added_name(
    kind: &str,
    given: Option<String>,
    taken: impl Fn(&str) -> bool,
    generated: impl FnOnce() -> String,
) -> Result<String, ConfigError> {
    match given {
        Some(n) if n == PRIMARY_NAME => Err(ConfigError::Invalid {
            path: format!("{kind}.name"),
            message: format!("\"{PRIMARY_NAME}\" is reserved and cannot be added at run time"),
        }),
        Some(n) if taken(&n) => Err(ConfigError::DuplicateName { path: format!("{kind}.name"), name: n }),
        Some(n) => Ok(n),
        None => Ok(generated()),
    }
}

impl MargoConfig {
    /// `margo_add_pool_from_json`: validates `v` (an object, or `null` for
    /// all defaults), names it `__pool_<index>__` when unnamed, appends it
    /// and returns its index. Error paths start with `pool`.
    pub fn add_pool_from_json(&mut self, v: &Value) -> Result<usize, ConfigError> {
        let def = parse_pool(v, "pool")?;
        let name =
            added_name("pool", def.name, |n| self.pool_by_name(n).is_some(), || self.pool_namer().name_for(self.pools.len()))?;
        self.pools.push(PoolSpec { name, kind: def.kind, access: def.access });
        Ok(self.pools.len() - 1)
    }

    /// `margo_add_xstream_from_json`: scheduler pools are referenced by name
    /// or index among the existing pools; unnamed xstreams get
    /// `__xstream_<index>__`. Returns the new xstream's index. Error paths
    /// start with `xstream`.
    pub fn add_xstream_from_json(&mut self, v: &Value) -> Result<usize, ConfigError> {
        let threads = self.xstreams.iter().filter(|x| x.name != PRIMARY_NAME).count();
        if threads >= MAX_XSTREAMS {
            return Err(ConfigError::Invalid {
                path: "xstream".to_string(),
                message: format!("this engine already runs {threads} xstreams besides {PRIMARY_NAME}, the most it accepts"),
            });
        }
        let def = {
            let names: Vec<Option<&str>> = self.pools.iter().map(|p| Some(p.name.as_str())).collect();
            let resolve = |r: &PoolRef<'_>, p: &str| resolve_in(r, p, &names);
            parse_xstream(v, "xstream", &resolve)?
        };
        let name = added_name(
            "xstream",
            def.name,
            |n| self.xstream_by_name(n).is_some(),
            || self.xstream_namer().name_for(self.xstreams.len()),
        )?;
        self.xstreams.push(XstreamSpec {
            name,
            scheduler: def.scheduler,
            pools: def.pools,
            cpubind: def.cpubind,
            affinity: def.affinity,
        });
        Ok(self.xstreams.len() - 1)
    }

    /// Removes a pool that no xstream uses and that is neither the progress
    /// nor the RPC pool. Like upstream, the last pool takes the removed
    /// pool's slot; all stored indices are updated accordingly.
    pub fn remove_pool(&mut self, name: &str) -> Result<(), ConfigError> {
        let idx = self.pool_by_name(name).ok_or_else(|| ConfigError::NotFound { kind: "pool", name: name.to_string() })?;
        let refuse = |reason: String| ConfigError::CannotRemove { kind: "pool", name: name.to_string(), reason };
        if idx == self.progress_pool {
            return Err(refuse("it is the progress pool".to_string()));
        }
        if idx == self.rpc_pool {
            return Err(refuse("it is the default RPC handler pool".to_string()));
        }
        if let Some(x) = self.xstreams.iter().find(|x| x.pools.contains(&idx)) {
            return Err(refuse(format!("it is used by xstream \"{}\"", x.name)));
        }
        let last = self.pools.len() - 1;
        self.pools.swap_remove(idx);
        if idx != last {
            let remap = |i: &mut usize| {
                if *i == last {
                    *i = idx;
                }
            };
            for x in &mut self.xstreams {
                x.pools.iter_mut().for_each(remap);
            }
            remap(&mut self.progress_pool);
            remap(&mut self.rpc_pool);
        }
        Ok(())
    }

    /// Removes an xstream (never `__primary__`); like upstream, the last
    /// xstream takes its slot.
    pub fn remove_xstream(&mut self, name: &str) -> Result<(), ConfigError> {
        let idx = self.xstream_by_name(name).ok_or_else(|| ConfigError::NotFound { kind: "xstream", name: name.to_string() })?;
        if name == PRIMARY_NAME {
            return Err(ConfigError::CannotRemove {
                kind: "xstream",
                name: name.to_string(),
                reason: "the primary xstream cannot be removed".to_string(),
            });
        }
        self.xstreams.swap_remove(idx);
        Ok(())
    }
}
