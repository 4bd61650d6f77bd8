//! Building a [`MargoConfig`] from its JSON document: validation in
//! upstream's order, then the pools and xstreams upstream adds.

use super::argobots::{parse_pool, parse_selector, parse_xstream, resolve_in, too_many_xstreams, PoolRef, Selector};
use super::enums::{PoolAccess, PoolKind, SchedulerType};
use super::error::ConfigError;
use super::json::{field, item, member, object_or_empty, opt_array, opt_bool, opt_int, opt_setting, opt_str, wrong_type};
use super::mercury::parse_mercury;
use super::names::{check_unique, NameGenerator};
use super::settings::parse_common;
use super::types::{InitOverrides, MargoConfig, PoolSpec, XstreamSpec};
use super::{DEFAULT_ABT_MEM_MAX_NUM_STACKS, DEFAULT_ABT_THREAD_STACKSIZE, DEFAULT_PROFILING_DIR, MAX_XSTREAMS, PRIMARY_NAME};
use serde_json::{Map, Value};

impl MargoConfig {
    /// Parses JSON text; an empty or blank text means `{}`.
    pub fn from_json_str(text: &str, overrides: &InitOverrides) -> Result<MargoConfig, ConfigError> {
        if text.trim().is_empty() {
            return Self::from_value(&Value::Null, overrides);
        }
        let value: Value = serde_json::from_str(text).map_err(|e| {
            let full = e.to_string();
            let suffix = format!(" at line {} column {}", e.line(), e.column());
            let message = full.strip_suffix(&suffix).unwrap_or(&full).to_string();
            ConfigError::Syntax { line: e.line(), column: e.column(), message }
        })?;
        Self::from_value(&value, overrides)
    }

    /// Builds the configuration from the `margo` object (`null` means `{}`).
    /// Error paths start with `margo`.
    pub fn from_value(v: &Value, overrides: &InitOverrides) -> Result<MargoConfig, ConfigError> {
        Self::from_value_at(v, overrides, "margo")
    }

    /// Same as [`from_value`](Self::from_value), with error paths starting
    /// with `path` (e.g. `margo[0]`).
    pub fn from_value_at(v: &Value, overrides: &InitOverrides, path: &str) -> Result<MargoConfig, ConfigError> {
        let empty = Map::new();
        let obj = object_or_empty(v, &empty, path)?;

        // Validation, in upstream's order: mercury, argobots, plumber,
        // numeric settings, progress_pool, use_progress_thread, rpc_pool,
        // rpc_thread_count.
        let mercury = parse_mercury(member(obj, "mercury"), &field(path, "mercury"))?;

        let abt_path = field(path, "argobots");
        let abt = match member(obj, "argobots") {
            None => &empty,
            Some(Value::Object(m)) => m,
            Some(other) => return Err(wrong_type(&abt_path, "object", other)),
        };
        let pools_path = field(&abt_path, "pools");
        let xstreams_path = field(&abt_path, "xstreams");
        let json_pools = opt_array(abt, "pools", &abt_path)?.map(Vec::as_slice).unwrap_or(&[]);
        let json_xstreams = opt_array(abt, "xstreams", &abt_path)?.map(Vec::as_slice).unwrap_or(&[]);
        // Room for __primary__, which is not counted.
        if json_xstreams.len() > MAX_XSTREAMS + 1 {
            return Err(too_many_xstreams(&xstreams_path, json_xstreams.len()));
        }
        let abt_mem_max_num_stacks =
            opt_setting(abt, "abt_mem_max_num_stacks", &abt_path)?.unwrap_or(DEFAULT_ABT_MEM_MAX_NUM_STACKS);
        let abt_thread_stacksize = opt_setting(abt, "abt_thread_stacksize", &abt_path)?.unwrap_or(DEFAULT_ABT_THREAD_STACKSIZE);
        let profiling_dir = opt_str(abt, "profiling_dir", &abt_path)?.unwrap_or(DEFAULT_PROFILING_DIR).to_string();

        let mut pool_defs = Vec::with_capacity(json_pools.len());
        for (i, p) in json_pools.iter().enumerate() {
            pool_defs.push(parse_pool(p, &item(&pools_path, i))?);
        }
        check_unique(pool_defs.iter().map(|d| d.name.as_deref()), &pools_path)?;
        // Only explicitly named pools can be referenced by name (upstream
        // checks references against the input, before names are generated).
        let pool_names: Vec<Option<&str>> = pool_defs.iter().map(|d| d.name.as_deref()).collect();

        let mut xstream_defs = Vec::with_capacity(json_xstreams.len());
        for (i, x) in json_xstreams.iter().enumerate() {
            let resolve = |r: &PoolRef<'_>, p: &str| resolve_in(r, p, &pool_names);
            xstream_defs.push(parse_xstream(x, &item(&xstreams_path, i), &resolve)?);
        }
        check_unique(xstream_defs.iter().map(|d| d.name.as_deref()), &xstreams_path)?;
        let declared = xstream_defs.iter().filter(|d| d.name.as_deref() != Some(PRIMARY_NAME)).count();
        if declared > MAX_XSTREAMS {
            return Err(too_many_xstreams(&xstreams_path, xstream_defs.len()));
        }

        let common = parse_common(obj, path)?;

        let progress_sel = parse_selector(member(obj, "progress_pool"), &field(path, "progress_pool"), &pool_names)?;
        let use_progress_thread = match overrides.use_progress_thread {
            Some(b) => b,
            None => opt_bool(obj, "use_progress_thread", path)?.unwrap_or(false),
        };
        let rpc_sel = parse_selector(member(obj, "rpc_pool"), &field(path, "rpc_pool"), &pool_names)?;
        let rpc_thread_count = match overrides.rpc_thread_count {
            Some(n) => i64::from(n),
            None => opt_int(obj, "rpc_thread_count", path)?.unwrap_or(0),
        };
        if rpc_thread_count > MAX_XSTREAMS as i64 {
            return Err(ConfigError::OutOfRange {
                path: field(path, "rpc_thread_count"),
                value: rpc_thread_count.to_string(),
                expected: format!("at most {MAX_XSTREAMS}"),
            });
        }

        // Construction. Generated names also avoid explicit names declared
        // later in the same list (upstream would produce duplicates there).
        let mut pool_namer = NameGenerator::new("pool", pool_defs.iter().filter_map(|d| d.name.as_deref()));
        let mut xstream_namer = NameGenerator::new("xstream", xstream_defs.iter().filter_map(|d| d.name.as_deref()));

        let mut cfg = MargoConfig {
            pools: Vec::with_capacity(pool_defs.len() + 3),
            xstreams: Vec::with_capacity(xstream_defs.len() + 1),
            progress_pool: 0,
            rpc_pool: 0,
            mercury,
            progress_timeout_ub_msec: common.progress_timeout_ub_msec,
            progress_spindown_msec: common.progress_spindown_msec,
            handle_cache_size: common.handle_cache_size,
            enable_abt_profiling: common.enable_abt_profiling,
            abt_mem_max_num_stacks,
            abt_thread_stacksize,
            profiling_dir,
            lazy_stack_alloc: false,
            plumber: common.plumber,
            monitoring: common.monitoring,
        };

        for d in pool_defs {
            let name = match d.name {
                Some(n) => n,
                None => pool_namer.name_for(cfg.pools.len()),
            };
            cfg.pools.push(PoolSpec { name, kind: d.kind, access: d.access });
        }
        for d in xstream_defs {
            let name = match d.name {
                Some(n) => n,
                None => xstream_namer.name_for(cfg.xstreams.len()),
            };
            cfg.xstreams.push(XstreamSpec {
                name,
                scheduler: d.scheduler,
                pools: d.pools,
                cpubind: d.cpubind,
                affinity: d.affinity,
            });
        }

        // The primary pool/xstream.
        let primary_pool = cfg.pool_by_name(PRIMARY_NAME);
        let primary_idx = match cfg.xstream_by_name(PRIMARY_NAME) {
            Some(xi) => {
                // Upstream requires the first pool of a user-defined primary
                // xstream to be the pool named __primary__ (and fails after
                // initialization when no such pool exists).
                let first = cfg.xstreams[xi].pools.first().copied();
                match primary_pool {
                    Some(pi) if Some(pi) == first => pi,
                    _ => {
                        return Err(ConfigError::Invalid {
                            path: field(&field(&item(&xstreams_path, xi), "scheduler"), "pools"),
                            message: format!(
                                "the first pool of the {PRIMARY_NAME} xstream must be the pool named \"{PRIMARY_NAME}\""
                            ),
                        })
                    }
                }
            }
            None => {
                let pi = match primary_pool {
                    Some(pi) => pi,
                    None => {
                        cfg.pools.push(PoolSpec {
                            name: PRIMARY_NAME.to_string(),
                            kind: PoolKind::FifoWait,
                            access: PoolAccess::Mpmc,
                        });
                        cfg.pools.len() - 1
                    }
                };
                cfg.xstreams.push(XstreamSpec {
                    name: PRIMARY_NAME.to_string(),
                    scheduler: SchedulerType::BasicWait,
                    pools: vec![pi],
                    cpubind: None,
                    affinity: None,
                });
                pi
            }
        };

        // The xstreams generated below must fit within MAX_XSTREAMS too;
        // the error names the setting that asked for them.
        let progress_threads = usize::from(progress_sel.is_none() && use_progress_thread);
        let rpc_threads = match rpc_sel {
            None if rpc_thread_count > 0 => rpc_thread_count as usize,
            _ => 0,
        };
        if declared + progress_threads + rpc_threads > MAX_XSTREAMS {
            let (setting, value, expected) = if rpc_threads > 0 {
                let others = declared + progress_threads;
                let room = MAX_XSTREAMS.saturating_sub(others);
                (
                    "rpc_thread_count",
                    rpc_thread_count.to_string(),
                    format!(
                        "at most {room}: with {others} other xstreams this engine would start more than {MAX_XSTREAMS} threads"
                    ),
                )
            } else {
                (
                    "use_progress_thread",
                    "true".to_string(),
                    format!("false: with {declared} other xstreams this engine would start more than {MAX_XSTREAMS} threads"),
                )
            };
            return Err(ConfigError::OutOfRange { path: field(path, setting), value, expected });
        }

        // Progress pool: explicit selection wins over use_progress_thread.
        cfg.progress_pool = match progress_sel {
            Some(sel) => cfg.select(&sel, primary_idx, &field(path, "progress_pool"))?,
            None if use_progress_thread => cfg.add_generated_pool(1),
            None => primary_idx,
        };
        // RPC pool: explicit selection wins over rpc_thread_count.
        cfg.rpc_pool = match rpc_sel {
            Some(sel) => cfg.select(&sel, primary_idx, &field(path, "rpc_pool"))?,
            None if rpc_thread_count < 0 => cfg.progress_pool,
            None if rpc_thread_count > 0 => cfg.add_generated_pool(rpc_thread_count as usize),
            None => primary_idx,
        };
        Ok(cfg)
    }

    /// Configuration of an additional engine that shares `parent`'s Argobots
    /// environment (`margo_init_info::parent_mid`): `argobots`,
    /// `use_progress_thread` and `rpc_thread_count` are rejected, and
    /// `progress_pool` / `rpc_pool` refer to the parent's pools.
    pub fn from_value_with_parent(v: &Value, parent: &MargoConfig, path: &str) -> Result<MargoConfig, ConfigError> {
        let empty = Map::new();
        let obj = object_or_empty(v, &empty, path)?;
        let mercury = parse_mercury(member(obj, "mercury"), &field(path, "mercury"))?;
        for key in ["argobots", "use_progress_thread", "rpc_thread_count"] {
            if member(obj, key).is_some() {
                return Err(ConfigError::Invalid {
                    path: field(path, key),
                    message: "not allowed for an engine that shares its parent's Argobots environment".to_string(),
                });
            }
        }
        let common = parse_common(obj, path)?;
        // Every parent pool already has a name, so all can be referenced.
        let names: Vec<Option<&str>> = parent.pools.iter().map(|p| Some(p.name.as_str())).collect();
        let progress_sel = parse_selector(member(obj, "progress_pool"), &field(path, "progress_pool"), &names)?;
        let rpc_sel = parse_selector(member(obj, "rpc_pool"), &field(path, "rpc_pool"), &names)?;
        let primary_idx = parent.pool_by_name(PRIMARY_NAME).ok_or_else(|| ConfigError::Invalid {
            path: path.to_string(),
            message: format!("the parent engine has no \"{PRIMARY_NAME}\" pool"),
        })?;

        let mut cfg = MargoConfig {
            pools: parent.pools.clone(),
            xstreams: parent.xstreams.clone(),
            progress_pool: primary_idx,
            rpc_pool: primary_idx,
            mercury,
            progress_timeout_ub_msec: common.progress_timeout_ub_msec,
            progress_spindown_msec: common.progress_spindown_msec,
            handle_cache_size: common.handle_cache_size,
            enable_abt_profiling: common.enable_abt_profiling,
            abt_mem_max_num_stacks: parent.abt_mem_max_num_stacks,
            abt_thread_stacksize: parent.abt_thread_stacksize,
            profiling_dir: parent.profiling_dir.clone(),
            lazy_stack_alloc: parent.lazy_stack_alloc,
            plumber: common.plumber,
            monitoring: common.monitoring,
        };
        if let Some(sel) = progress_sel {
            cfg.progress_pool = cfg.select(&sel, primary_idx, &field(path, "progress_pool"))?;
        }
        if let Some(sel) = rpc_sel {
            cfg.rpc_pool = cfg.select(&sel, primary_idx, &field(path, "rpc_pool"))?;
        }
        Ok(cfg)
    }

    fn select(&self, sel: &Selector, primary_idx: usize, path: &str) -> Result<usize, ConfigError> {
        match sel {
            Selector::Index(i) => Ok(*i),
            Selector::Name(n) if n == PRIMARY_NAME => Ok(primary_idx),
            Selector::Name(n) => {
                self.pool_by_name(n).ok_or_else(|| ConfigError::UnknownPool { path: path.to_string(), name: n.clone() })
            }
        }
    }

    pub(super) fn pool_namer(&self) -> NameGenerator {
        NameGenerator::new("pool", self.pools.iter().map(|p| p.name.as_str()))
    }

    pub(super) fn xstream_namer(&self) -> NameGenerator {
        NameGenerator::new("xstream", self.xstreams.iter().map(|x| x.name.as_str()))
    }

    /// Adds an mpmc fifo_wait pool and `num_xstreams` basic_wait xstreams
    /// using it, all with generated names; returns the pool index.
    fn add_generated_pool(&mut self, num_xstreams: usize) -> usize {
        let name = self.pool_namer().name_for(self.pools.len());
        self.pools.push(PoolSpec { name, kind: PoolKind::FifoWait, access: PoolAccess::Mpmc });
        let idx = self.pools.len() - 1;
        let mut namer = self.xstream_namer();
        self.xstreams.reserve(num_xstreams);
        for _ in 0..num_xstreams {
            let name = namer.name_for(self.xstreams.len());
            self.xstreams.push(XstreamSpec {
                name,
                scheduler: SchedulerType::BasicWait,
                pools: vec![idx],
                cpubind: None,
                affinity: None,
            });
        }
        idx
    }
}
