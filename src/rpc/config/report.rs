//! The effective configuration, as `margo_get_config_opt` reports it.

use super::enums::PoolKind;
use super::json::member;
use super::mercury::{Reported, MERCURY_OPTIONS, MERCURY_RUNTIME_KEYS};
use super::types::{MargoConfig, RuntimeInfo};
use super::MARGO_VERSION;
use serde_json::{Map, Value};

impl MargoConfig {
    /// The effective configuration as `margo_get_config_opt(mid,
    /// MARGO_CONFIG_USE_NAMES)` reports it.
    pub fn to_json(&self, rt: &RuntimeInfo) -> Value {
        self.to_json_opt(rt, true)
    }

    /// Like [`to_json`](Self::to_json); with `use_names == false` pools are
    /// referenced by index (upstream's default output).
    pub fn to_json_opt(&self, rt: &RuntimeInfo, use_names: bool) -> Value {
        let pool_ref = |i: usize| -> Value {
            match self.pools.get(i) {
                Some(p) if use_names => Value::String(p.name.clone()),
                _ => Value::from(i),
            }
        };

        let pools: Vec<Value> = self
            .pools
            .iter()
            .map(|p| {
                let mut m = Map::new();
                m.insert("name".into(), Value::String(p.name.clone()));
                m.insert("kind".into(), Value::String(p.kind.as_str().into()));
                if p.kind != PoolKind::External {
                    m.insert("access".into(), Value::String(p.access.as_str().into()));
                }
                Value::Object(m)
            })
            .collect();

        let xstreams: Vec<Value> = self
            .xstreams
            .iter()
            .map(|x| {
                let mut sched = Map::new();
                sched.insert("type".into(), Value::String(x.scheduler.as_str().into()));
                sched.insert("pools".into(), Value::Array(x.pools.iter().map(|&i| pool_ref(i)).collect()));
                let mut m = Map::new();
                m.insert("name".into(), Value::String(x.name.clone()));
                m.insert("scheduler".into(), Value::Object(sched));
                if let Some(c) = x.cpubind {
                    m.insert("cpubind".into(), Value::from(c));
                }
                if let Some(a) = &x.affinity {
                    m.insert("affinity".into(), Value::from(a.clone()));
                }
                Value::Object(m)
            })
            .collect();

        let mut abt = Map::new();
        abt.insert("abt_mem_max_num_stacks".into(), Value::from(self.abt_mem_max_num_stacks));
        abt.insert("abt_thread_stacksize".into(), Value::from(self.abt_thread_stacksize));
        abt.insert("lazy_stack_alloc".into(), Value::Bool(self.lazy_stack_alloc));
        abt.insert("pools".into(), Value::Array(pools));
        abt.insert("profiling_dir".into(), Value::String(self.profiling_dir.clone()));
        abt.insert("xstreams".into(), Value::Array(xstreams));

        let mut plumber = Map::new();
        plumber.insert("bucket_policy".into(), Value::String(self.plumber.bucket_policy.clone()));
        plumber.insert("nic_policy".into(), Value::String(self.plumber.nic_policy.clone()));

        let mut root = Map::new();
        root.insert("argobots".into(), Value::Object(abt));
        root.insert("enable_abt_profiling".into(), Value::Bool(self.enable_abt_profiling));
        root.insert("handle_cache_size".into(), Value::from(self.handle_cache_size));
        root.insert("mercury".into(), Value::Object(self.mercury_json(rt)));
        if let Some(m) = &self.monitoring {
            root.insert("monitoring".into(), m.clone());
        }
        root.insert("plumber".into(), Value::Object(plumber));
        root.insert("progress_pool".into(), pool_ref(self.progress_pool));
        root.insert("progress_spindown_msec".into(), Value::from(self.progress_spindown_msec));
        root.insert("progress_timeout_ub_msec".into(), Value::from(self.progress_timeout_ub_msec));
        root.insert("rpc_pool".into(), pool_ref(self.rpc_pool));
        root.insert("version".into(), Value::String(MARGO_VERSION.into()));
        Value::Object(root)
    }

    /// Reported Mercury section: known options (given value or upstream's
    /// reported default) plus address/listening/version from the run time.
    /// Unknown keys are not reported, as upstream only reports what it uses.
    fn mercury_json(&self, rt: &RuntimeInfo) -> Map<String, Value> {
        let mut m = Map::new();
        for (key, _, reported) in MERCURY_OPTIONS {
            if MERCURY_RUNTIME_KEYS.contains(key) {
                continue;
            }
            let value = match (member(&self.mercury, key), reported) {
                (Some(v), _) => v.clone(),
                (None, Reported::IfGiven) => continue,
                (None, Reported::Bool(b)) => Value::Bool(*b),
                (None, Reported::UInt(n)) => Value::from(*n),
                (None, Reported::Str(s)) => Value::String((*s).to_string()),
            };
            m.insert((*key).to_string(), value);
        }
        m.insert("address".into(), Value::String(rt.address.clone()));
        m.insert("listening".into(), Value::Bool(rt.listening));
        m.insert("version".into(), Value::String(rt.version.clone()));
        m
    }
}
