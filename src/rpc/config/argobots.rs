//! The `argobots` entries: pools, xstreams, and the references to pools
//! that schedulers, `progress_pool` and `rpc_pool` make.

use super::enums::{PoolAccess, PoolKind, SchedulerType};
use super::error::ConfigError;
use super::json::{as_i64, as_wide_int, field, item, member, object_or_empty, opt_array, opt_int, opt_str, wrong_type};
use super::names::check_name;
use super::{MAX_XSTREAMS, PRIMARY_NAME};
use serde_json::{Map, Value};

/// `argobots.xstreams` lists more xstreams than an engine may start.
pub(super) fn too_many_xstreams(path: &str, entries: usize) -> ConfigError {
    ConfigError::OutOfRange {
        path: path.to_string(),
        value: format!("{entries} entries"),
        expected: format!("at most {MAX_XSTREAMS} xstreams besides {PRIMARY_NAME}"),
    }
}

/// A pool entry after validation, before its name is settled.
pub(super) struct PoolDef {
    pub(super) name: Option<String>,
    pub(super) kind: PoolKind,
    pub(super) access: PoolAccess,
}

pub(super) fn parse_pool(v: &Value, path: &str) -> Result<PoolDef, ConfigError> {
    let empty = Map::new();
    let obj = object_or_empty(v, &empty, path)?;

    let access = match opt_str(obj, "access", path)? {
        None => PoolAccess::default(),
        Some(s) => PoolAccess::parse(s).ok_or_else(|| ConfigError::NotOneOf {
            path: field(path, "access"),
            value: s.to_string(),
            allowed: PoolAccess::choices(),
        })?,
    };
    let kind = match opt_str(obj, "kind", path)? {
        None => PoolKind::default(),
        Some(s) => PoolKind::parse(s).ok_or_else(|| ConfigError::NotOneOf {
            path: field(path, "kind"),
            value: s.to_string(),
            allowed: PoolKind::choices(),
        })?,
    };
    if kind == PoolKind::External {
        return Err(ConfigError::Invalid {
            path: field(path, "kind"),
            message: "external pools are registered by the program and cannot be created from a configuration".to_string(),
        });
    }
    let name = opt_str(obj, "name", path)?;
    if let Some(n) = name {
        check_name(n, &field(path, "name"))?;
    }
    Ok(PoolDef { name: name.map(str::to_string), kind, access })
}

/// How a scheduler, `progress_pool` or `rpc_pool` designates a pool.
pub(super) enum PoolRef<'a> {
    Index(i128),
    Name(&'a str),
}

/// An xstream entry after validation, before its name is settled.
pub(super) struct XstreamDef {
    pub(super) name: Option<String>,
    pub(super) scheduler: SchedulerType,
    pub(super) pools: Vec<usize>,
    pub(super) cpubind: Option<i64>,
    pub(super) affinity: Option<Vec<i64>>,
}

/// `resolve` maps a pool reference to a pool index or explains why it cannot.
pub(super) fn parse_xstream(
    v: &Value,
    path: &str,
    resolve: &dyn Fn(&PoolRef<'_>, &str) -> Result<usize, ConfigError>,
) -> Result<XstreamDef, ConfigError> {
    let empty = Map::new();
    let obj = object_or_empty(v, &empty, path)?;

    let name = opt_str(obj, "name", path)?;
    let cpubind = opt_int(obj, "cpubind", path)?;
    let affinity = match opt_array(obj, "affinity", path)? {
        None => None,
        Some(list) => {
            let apath = field(path, "affinity");
            let mut cpus = Vec::with_capacity(list.len());
            for (i, cpu) in list.iter().enumerate() {
                cpus.push(as_i64(cpu, &item(&apath, i))?);
            }
            Some(cpus)
        }
    };

    // Upstream accepts a missing scheduler or an empty pool list while
    // validating, then fails to create the xstream (Argobots would give it
    // pools margo does not know about); reject both here.
    let spath = field(path, "scheduler");
    let sched = match member(obj, "scheduler") {
        None => {
            return Err(ConfigError::Invalid {
                path: spath,
                message: "missing (an xstream needs a scheduler with at least one pool)".to_string(),
            })
        }
        Some(Value::Object(m)) => m,
        Some(other) => return Err(wrong_type(&spath, "object", other)),
    };
    let scheduler = match opt_str(sched, "type", &spath)? {
        None => SchedulerType::default(),
        Some(s) => SchedulerType::parse(s).ok_or_else(|| ConfigError::NotOneOf {
            path: field(&spath, "type"),
            value: s.to_string(),
            allowed: SchedulerType::choices(),
        })?,
    };
    let ppath = field(&spath, "pools");
    let refs = opt_array(sched, "pools", &spath)?.map(Vec::as_slice).unwrap_or(&[]);
    if refs.is_empty() {
        return Err(ConfigError::Invalid { path: ppath, message: "a scheduler needs at least one pool".to_string() });
    }
    let mut pools = Vec::with_capacity(refs.len());
    for (i, r) in refs.iter().enumerate() {
        let rpath = item(&ppath, i);
        let pref = match r {
            Value::String(s) => PoolRef::Name(s),
            other => match as_wide_int(other) {
                Some(w) => PoolRef::Index(w),
                None => return Err(wrong_type(&rpath, "integer or string", other)),
            },
        };
        pools.push(resolve(&pref, &rpath)?);
    }

    if let Some(n) = name {
        check_name(n, &field(path, "name"))?;
    }
    Ok(XstreamDef { name: name.map(str::to_string), scheduler, pools, cpubind, affinity })
}

/// Resolves a reference against a list of pools where only `names` (one
/// entry per pool, `None` for unnamed ones) can be referred to by name.
pub(super) fn resolve_in(r: &PoolRef<'_>, path: &str, names: &[Option<&str>]) -> Result<usize, ConfigError> {
    match r {
        PoolRef::Index(i) => {
            if *i >= 0 && *i < names.len() as i128 {
                Ok(*i as usize)
            } else {
                Err(ConfigError::PoolIndexOutOfRange { path: path.to_string(), index: *i, count: names.len() })
            }
        }
        PoolRef::Name(n) => names
            .iter()
            .position(|x| *x == Some(*n))
            .ok_or_else(|| ConfigError::UnknownPool { path: path.to_string(), name: n.to_string() }),
    }
}

/// A validated `progress_pool` / `rpc_pool` value.
pub(super) enum Selector {
    Index(usize),
    Name(String),
}

/// Validates `progress_pool` / `rpc_pool`: an index into the configured
/// pools, `"__primary__"`, or the explicit name of a configured pool.
pub(super) fn parse_selector(v: Option<&Value>, path: &str, names: &[Option<&str>]) -> Result<Option<Selector>, ConfigError> {
    let v = match v {
        None => return Ok(None),
        Some(v) => v,
    };
    match v {
        Value::String(s) if s == PRIMARY_NAME => Ok(Some(Selector::Name(s.clone()))),
        Value::String(s) => {
            resolve_in(&PoolRef::Name(s), path, names)?;
            Ok(Some(Selector::Name(s.clone())))
        }
        other => match as_wide_int(other) {
            Some(w) => resolve_in(&PoolRef::Index(w), path, names).map(|i| Some(Selector::Index(i))),
            None => Err(wrong_type(path, "integer or string", other)),
        },
    }
}
