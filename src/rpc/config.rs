//! Margo runtime configuration: parsing, validation, defaults and reporting.
//!
//! This module reproduces the behaviour of the JSON configuration accepted by
//! `margo_init_ext` (mochi-margo 0.23.x, the version Bedrock 0.16 was measured
//! against) and the document reported by
//! `margo_get_config_opt(mid, MARGO_CONFIG_USE_NAMES)`.
//!
//! Input handling follows upstream closely:
//! * a key whose value is JSON `null` behaves as if it were absent (upstream's
//!   JSON library represents `null` as a missing object);
//! * unknown keys are ignored at every level;
//! * pools and xstreams given in `argobots` keep their order; a `__primary__`
//!   pool (appended at the end of the pool list) and a `__primary__` xstream
//!   are added when no `__primary__` xstream is defined;
//! * `use_progress_thread` / `rpc_thread_count` create extra pools and
//!   xstreams after that, unless `progress_pool` / `rpc_pool` are given.
//!
//! Where upstream would crash, silently misbehave or fail later at run time,
//! this module reports a `ConfigError` up front instead (see the notes on the
//! individual checks).

use serde_json::{Map, Value};
use std::collections::HashSet;

/// Version reported in the `version` key of the effective configuration.
pub const MARGO_VERSION: &str = "0.23.1";
/// Name of the pool and xstream that represent the caller's own thread.
pub const PRIMARY_NAME: &str = "__primary__";
/// The most xstreams (one thread each) an engine may have besides
/// `__primary__`, which every engine has: those declared in
/// `argobots.xstreams` and those `use_progress_thread` and
/// `rpc_thread_count` generate, together; also the most an engine accepts
/// at run time. So `rpc_thread_count` is at most 1024. Upstream has no bound, but a
/// configuration asking for more threads than this is a mistake (a typo'd
/// count, a fuzzer), and accepting it would start that many threads.
pub const MAX_XSTREAMS: usize = 1024;

/// Upstream stores these settings in a C `int`; larger values would be
/// silently truncated there, so they are rejected here.
const MAX_INT_SETTING: i64 = i32::MAX as i64;

const DEFAULT_PROGRESS_TIMEOUT_UB_MSEC: u64 = 100;
const DEFAULT_PROGRESS_SPINDOWN_MSEC: u64 = 10;
/// Margo 0.24 raised this to 256; the spec (margo 0.23.1) reports 32.
const DEFAULT_HANDLE_CACHE_SIZE: u64 = 32;
const DEFAULT_ABT_MEM_MAX_NUM_STACKS: u64 = 8;
const DEFAULT_ABT_THREAD_STACKSIZE: u64 = 2_097_152;
const DEFAULT_PROFILING_DIR: &str = ".";

// ---------------------------------------------------------------------------
// Enumerations
// ---------------------------------------------------------------------------

/// Declares an enum whose variants map one-to-one onto JSON strings.
macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident, default $def:ident, { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            /// Every variant, in the order used in error messages.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The JSON spelling of this variant.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// Parses the JSON spelling; `None` for anything else.
            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }

            fn choices() -> String {
                Self::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")
            }
        }

        impl Default for $name {
            fn default() -> Self { $name::$def }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum!(
    /// Kind of an Argobots pool (`kind` field).
    PoolKind, default FifoWait, {
        Fifo => "fifo",
        FifoWait => "fifo_wait",
        PrioWait => "prio_wait",
        EarliestFirst => "earliest_first",
        External => "external",
    }
);

string_enum!(
    /// Access mode of an Argobots pool (`access` field).
    PoolAccess, default Mpmc, {
        Private => "private",
        Spsc => "spsc",
        Mpsc => "mpsc",
        Spmc => "spmc",
        Mpmc => "mpmc",
    }
);

string_enum!(
    /// Scheduler of an xstream (`scheduler.type` field).
    SchedulerType, default BasicWait, {
        Default => "default",
        Basic => "basic",
        Prio => "prio",
        RandWs => "randws",
        BasicWait => "basic_wait",
    }
);

// ---------------------------------------------------------------------------
// Configuration types
// ---------------------------------------------------------------------------

/// One Argobots pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolSpec {
    pub name: String,
    pub kind: PoolKind,
    /// Not reported for `External` pools (upstream does not know it).
    pub access: PoolAccess,
}

/// One Argobots execution stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XstreamSpec {
    pub name: String,
    pub scheduler: SchedulerType,
    /// Indices into `MargoConfig::pools`, in scheduling order (never empty
    /// for a configuration produced by this module).
    pub pools: Vec<usize>,
    pub cpubind: Option<i64>,
    pub affinity: Option<Vec<i64>>,
}

/// NIC selection policy (`plumber` object).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlumberConfig {
    pub bucket_policy: String,
    pub nic_policy: String,
}

impl Default for PlumberConfig {
    fn default() -> Self {
        PlumberConfig { bucket_policy: "package".to_string(), nic_policy: "roundrobin".to_string() }
    }
}

/// The validated, fully resolved Margo configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct MargoConfig {
    pub pools: Vec<PoolSpec>,
    pub xstreams: Vec<XstreamSpec>,
    /// Index of the pool running the network progress loop.
    pub progress_pool: usize,
    /// Index of the default pool for RPC handlers.
    pub rpc_pool: usize,
    /// Mercury options as given (validated), without the output-only
    /// `version` key and without keys set to `null`.
    pub mercury: Map<String, Value>,
    pub progress_timeout_ub_msec: u64,
    pub progress_spindown_msec: u64,
    pub handle_cache_size: u64,
    pub enable_abt_profiling: bool,
    pub abt_mem_max_num_stacks: u64,
    pub abt_thread_stacksize: u64,
    pub profiling_dir: String,
    /// A property of the Argobots build: reported, never read from input
    /// (upstream ignores the input key as well).
    pub lazy_stack_alloc: bool,
    pub plumber: PlumberConfig,
    /// Kept exactly as given and reported back when present.
    pub monitoring: Option<Value>,
}

/// Arguments of `margo_init(addr, mode, use_progress_thread,
/// rpc_thread_count)`: when set they replace the JSON keys of the same name.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InitOverrides {
    pub use_progress_thread: Option<bool>,
    pub rpc_thread_count: Option<i32>,
}

/// Run-time facts reported in the `mercury` section of the effective config.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuntimeInfo {
    /// Self address of the engine.
    pub address: String,
    pub listening: bool,
    /// Version of the network layer (Mercury's `version` field).
    pub version: String,
}

/// A configuration problem; the message starts with the offending field path.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    #[error("JSON syntax error at line {line}, column {column}: {message}")]
    Syntax { line: usize, column: usize, message: String },
    #[error("{path}: expected {expected}, found {found}")]
    WrongType { path: String, expected: &'static str, found: &'static str },
    #[error("{path}: {value:?} is not one of {allowed}")]
    NotOneOf { path: String, value: String, allowed: String },
    #[error("{path}: invalid name {name:?}: {reason}")]
    InvalidName { path: String, name: String, reason: String },
    #[error("{path}: name {name:?} is already used")]
    DuplicateName { path: String, name: String },
    #[error("{path}: there is no pool named {name:?}")]
    UnknownPool { path: String, name: String },
    #[error("{path}: pool index {index} is out of range ({count} pools available)")]
    PoolIndexOutOfRange { path: String, index: i128, count: usize },
    #[error("{path}: {value} is out of range (expected {expected})")]
    OutOfRange { path: String, value: String, expected: String },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
    #[error("there is no {kind} named {name:?}")]
    NotFound { kind: &'static str, name: String },
    #[error("cannot remove {kind} {name:?}: {reason}")]
    CannotRemove { kind: &'static str, name: String, reason: String },
}

impl ConfigError {
    /// The field path the error refers to, if it refers to one.
    pub fn path(&self) -> Option<&str> {
        match self {
            ConfigError::WrongType { path, .. }
            | ConfigError::NotOneOf { path, .. }
            | ConfigError::InvalidName { path, .. }
            | ConfigError::DuplicateName { path, .. }
            | ConfigError::UnknownPool { path, .. }
            | ConfigError::PoolIndexOutOfRange { path, .. }
            | ConfigError::OutOfRange { path, .. }
            | ConfigError::Invalid { path, .. } => Some(path),
            ConfigError::Syntax { .. } | ConfigError::NotFound { .. } | ConfigError::CannotRemove { .. } => None,
        }
    }
}

// ---------------------------------------------------------------------------
// JSON helpers
// ---------------------------------------------------------------------------

fn field(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn item(path: &str, index: usize) -> String {
    format!("{path}[{index}]")
}

/// The JSON type name of `v`, as config errors print it.
pub(crate) fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn wrong_type(path: &str, expected: &'static str, found: &Value) -> ConfigError {
    ConfigError::WrongType { path: path.to_string(), expected, found: json_type(found) }
}

/// Member lookup where `null` counts as absent (upstream semantics).
fn member<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).filter(|v| !v.is_null())
}

/// An object, with `null` standing for an empty one.
fn object_or_empty<'a>(v: &'a Value, empty: &'a Map<String, Value>, path: &str) -> Result<&'a Map<String, Value>, ConfigError> {
    match v {
        Value::Null => Ok(empty),
        Value::Object(m) => Ok(m),
        other => Err(wrong_type(path, "object", other)),
    }
}

/// Any JSON integer (signed or unsigned 64-bit) widened to i128.
fn as_wide_int(v: &Value) -> Option<i128> {
    match v {
        Value::Number(n) => n.as_i64().map(i128::from).or_else(|| n.as_u64().map(i128::from)),
        _ => None,
    }
}

fn as_i64(v: &Value, path: &str) -> Result<i64, ConfigError> {
    match as_wide_int(v) {
        Some(w) => i64::try_from(w).map_err(|_| ConfigError::OutOfRange {
            path: path.to_string(),
            value: w.to_string(),
            expected: "a 64-bit signed integer".to_string(),
        }),
        None => Err(wrong_type(path, "integer", v)),
    }
}

fn opt_bool(obj: &Map<String, Value>, key: &str, path: &str) -> Result<Option<bool>, ConfigError> {
    match member(obj, key) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(wrong_type(&field(path, key), "boolean", other)),
    }
}

fn opt_str<'a>(obj: &'a Map<String, Value>, key: &str, path: &str) -> Result<Option<&'a str>, ConfigError> {
    match member(obj, key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(other) => Err(wrong_type(&field(path, key), "string", other)),
    }
}

fn opt_int(obj: &Map<String, Value>, key: &str, path: &str) -> Result<Option<i64>, ConfigError> {
    match member(obj, key) {
        None => Ok(None),
        Some(v) => as_i64(v, &field(path, key)).map(Some),
    }
}

fn opt_array<'a>(obj: &'a Map<String, Value>, key: &str, path: &str) -> Result<Option<&'a Vec<Value>>, ConfigError> {
    match member(obj, key) {
        None => Ok(None),
        Some(Value::Array(a)) => Ok(Some(a)),
        Some(other) => Err(wrong_type(&field(path, key), "array", other)),
    }
}

/// A non-negative integer setting that upstream keeps in a C `int`.
fn opt_setting(obj: &Map<String, Value>, key: &str, path: &str) -> Result<Option<u64>, ConfigError> {
    match opt_int(obj, key, path)? {
        None => Ok(None),
        Some(v) if (0..=MAX_INT_SETTING).contains(&v) => Ok(Some(v as u64)),
        Some(v) => Err(ConfigError::OutOfRange {
            path: field(path, key),
            value: v.to_string(),
            expected: format!("an integer between 0 and {MAX_INT_SETTING}"),
        }),
    }
}

/// Names must be usable as C identifiers.
fn check_name(name: &str, path: &str) -> Result<(), ConfigError> {
    let reason = if name.is_empty() {
        Some("names must not be empty".to_string())
    } else if name.as_bytes()[0].is_ascii_digit() {
        Some("names must not start with a digit".to_string())
    } else {
        name.chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '_'))
            .map(|c| format!("invalid character {c:?} (names must be C identifiers)"))
    };
    match reason {
        None => Ok(()),
        Some(reason) => Err(ConfigError::InvalidName { path: path.to_string(), name: name.to_string(), reason }),
    }
}

/// Rejects repeated explicit names; `array_path` is e.g. `margo.argobots.pools`.
fn check_unique<'a>(names: impl Iterator<Item = Option<&'a str>>, array_path: &str) -> Result<(), ConfigError> {
    let mut seen: HashSet<&str> = HashSet::new();
    for (i, name) in names.enumerate() {
        if let Some(n) = name {
            if !seen.insert(n) {
                return Err(ConfigError::DuplicateName { path: field(&item(array_path, i), "name"), name: n.to_string() });
            }
        }
    }
    Ok(())
}

/// Upstream's name generator: the element at index `i` is named
/// `__<prefix>_<n>__`, n starting at `i` and increasing until the name is
/// free. It remembers what is taken (the names given, and those it handed
/// out) in a set, and where its last search ended: indices only grow within
/// one generator, and a taken name stays taken, so names below that point
/// need no second look. Naming n elements is therefore linear (a scan of
/// all names per candidate made 65 536 generated xstreams take seconds).
struct NameGenerator {
    prefix: &'static str,
    taken: HashSet<String>,
    searched_below: usize,
}

impl NameGenerator {
    fn new<'a>(prefix: &'static str, taken: impl IntoIterator<Item = &'a str>) -> Self {
        NameGenerator { prefix, taken: taken.into_iter().map(str::to_string).collect(), searched_below: 0 }
    }

    /// The name of the element at `index`; it counts as taken from now on.
    fn name_for(&mut self, index: usize) -> String {
        let mut n = index.max(self.searched_below);
        loop {
            let candidate = format!("__{}_{n}__", self.prefix);
            n += 1;
            if !self.taken.contains(&candidate) {
                self.searched_below = n;
                self.taken.insert(candidate.clone());
                return candidate;
            }
        }
    }
}

/// `argobots.xstreams` lists more xstreams than an engine may start.
fn too_many_xstreams(path: &str, entries: usize) -> ConfigError {
    ConfigError::OutOfRange {
        path: path.to_string(),
        value: format!("{entries} entries"),
        expected: format!("at most {MAX_XSTREAMS} xstreams besides {PRIMARY_NAME}"),
    }
}

// ---------------------------------------------------------------------------
// Pools and xstreams
// ---------------------------------------------------------------------------

/// A pool entry after validation, before its name is settled.
struct PoolDef {
    name: Option<String>,
    kind: PoolKind,
    access: PoolAccess,
}

fn parse_pool(v: &Value, path: &str) -> Result<PoolDef, ConfigError> {
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
enum PoolRef<'a> {
    Index(i128),
    Name(&'a str),
}

/// An xstream entry after validation, before its name is settled.
struct XstreamDef {
    name: Option<String>,
    scheduler: SchedulerType,
    pools: Vec<usize>,
    cpubind: Option<i64>,
    affinity: Option<Vec<i64>>,
}

/// `resolve` maps a pool reference to a pool index or explains why it cannot.
fn parse_xstream(
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
fn resolve_in(r: &PoolRef<'_>, path: &str, names: &[Option<&str>]) -> Result<usize, ConfigError> {
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
enum Selector {
    Index(usize),
    Name(String),
}

/// Validates `progress_pool` / `rpc_pool`: an index into the configured
/// pools, `"__primary__"`, or the explicit name of a configured pool.
fn parse_selector(v: Option<&Value>, path: &str, names: &[Option<&str>]) -> Result<Option<Selector>, ConfigError> {
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

// ---------------------------------------------------------------------------
// Mercury and plumber
// ---------------------------------------------------------------------------

enum OptKind {
    Str,
    Bool,
    UInt,
    OneOf(&'static [&'static str]),
}

enum Reported {
    /// Reported only when given.
    IfGiven,
    Bool(bool),
    UInt(u64),
    Str(&'static str),
}

/// Mercury options upstream understands, their types, and the value the
/// effective configuration reports when the option was not given.
const MERCURY_OPTIONS: &[(&str, OptKind, Reported)] = &[
    ("address", OptKind::Str, Reported::IfGiven),
    ("version", OptKind::Str, Reported::IfGiven),
    ("listening", OptKind::Bool, Reported::IfGiven),
    ("request_post_incr", OptKind::UInt, Reported::UInt(256)),
    ("request_post_init", OptKind::UInt, Reported::UInt(256)),
    ("auto_sm", OptKind::Bool, Reported::Bool(false)),
    ("no_bulk_eager", OptKind::Bool, Reported::Bool(false)),
    ("no_loopback", OptKind::Bool, Reported::Bool(false)),
    ("stats", OptKind::Bool, Reported::Bool(false)),
    ("na_no_block", OptKind::Bool, Reported::Bool(false)),
    ("na_no_retry", OptKind::Bool, Reported::Bool(false)),
    ("max_contexts", OptKind::UInt, Reported::UInt(0)),
    ("ip_subnet", OptKind::Str, Reported::IfGiven),
    ("auth_key", OptKind::Str, Reported::IfGiven),
    ("input_eager_size", OptKind::UInt, Reported::IfGiven),
    ("output_eager_size", OptKind::UInt, Reported::IfGiven),
    ("log_level", OptKind::Str, Reported::Str("warning")),
    ("log_subsys", OptKind::Str, Reported::Str("hg,na")),
    ("na_max_unexpected_size", OptKind::UInt, Reported::UInt(0)),
    ("na_max_expected_size", OptKind::UInt, Reported::UInt(0)),
    ("sm_info_string", OptKind::Str, Reported::IfGiven),
    ("na_request_mem_device", OptKind::Bool, Reported::Bool(false)),
    ("checksum_level", OptKind::OneOf(&["none", "rpc_headers", "rpc_payload"]), Reported::Str("none")),
    ("na_addr_format", OptKind::OneOf(&["unspec", "ipv4", "ipv6", "native"]), Reported::Str("unspec")),
];

/// Keys filled in from the run time, never from the stored options.
const MERCURY_RUNTIME_KEYS: &[&str] = &["address", "listening", "version"];

fn parse_mercury(v: Option<&Value>, path: &str) -> Result<Map<String, Value>, ConfigError> {
    let obj = match v {
        None => return Ok(Map::new()),
        Some(Value::Object(m)) => m,
        Some(other) => return Err(wrong_type(path, "object", other)),
    };
    for (key, kind, _) in MERCURY_OPTIONS {
        let value = match member(obj, key) {
            None => continue,
            Some(value) => value,
        };
        let kpath = field(path, key);
        match kind {
            OptKind::Str => {
                if !value.is_string() {
                    return Err(wrong_type(&kpath, "string", value));
                }
            }
            OptKind::Bool => {
                if !value.is_boolean() {
                    return Err(wrong_type(&kpath, "boolean", value));
                }
            }
            OptKind::UInt => {
                // Upstream reads these as unsigned; a negative value would
                // wrap around, so it is rejected.
                let n = as_i64(value, &kpath)?;
                if n < 0 {
                    return Err(ConfigError::OutOfRange {
                        path: kpath,
                        value: n.to_string(),
                        expected: "a non-negative integer".to_string(),
                    });
                }
            }
            OptKind::OneOf(choices) => match value {
                Value::String(s) if choices.contains(&s.as_str()) => {}
                Value::String(s) => {
                    return Err(ConfigError::NotOneOf { path: kpath, value: s.clone(), allowed: choices.join(", ") })
                }
                other => return Err(wrong_type(&kpath, "string", other)),
            },
        }
    }
    Ok(obj.iter().filter(|(k, v)| !v.is_null() && k.as_str() != "version").map(|(k, v)| (k.clone(), v.clone())).collect())
}

fn parse_plumber(v: Option<&Value>, path: &str) -> Result<PlumberConfig, ConfigError> {
    let mut plumber = PlumberConfig::default();
    let obj = match v {
        None => return Ok(plumber),
        Some(Value::Object(m)) => m,
        Some(other) => return Err(wrong_type(path, "object", other)),
    };
    if let Some(s) = opt_str(obj, "bucket_policy", path)? {
        plumber.bucket_policy = s.to_string();
    }
    if let Some(s) = opt_str(obj, "nic_policy", path)? {
        plumber.nic_policy = s.to_string();
    }
    Ok(plumber)
}

/// Settings shared by top-level and child configurations (besides mercury,
/// which is validated first to keep upstream's error order).
struct CommonSettings {
    plumber: PlumberConfig,
    progress_spindown_msec: u64,
    progress_timeout_ub_msec: u64,
    handle_cache_size: u64,
    enable_abt_profiling: bool,
    monitoring: Option<Value>,
}

fn parse_common(obj: &Map<String, Value>, path: &str) -> Result<CommonSettings, ConfigError> {
    Ok(CommonSettings {
        plumber: parse_plumber(member(obj, "plumber"), &field(path, "plumber"))?,
        progress_spindown_msec: opt_setting(obj, "progress_spindown_msec", path)?.unwrap_or(DEFAULT_PROGRESS_SPINDOWN_MSEC),
        progress_timeout_ub_msec: opt_setting(obj, "progress_timeout_ub_msec", path)?.unwrap_or(DEFAULT_PROGRESS_TIMEOUT_UB_MSEC),
        handle_cache_size: opt_setting(obj, "handle_cache_size", path)?.unwrap_or(DEFAULT_HANDLE_CACHE_SIZE),
        // Upstream silently falls back to false for a non-boolean.
        enable_abt_profiling: opt_bool(obj, "enable_abt_profiling", path)?.unwrap_or(false),
        monitoring: member(obj, "monitoring").cloned(),
    })
}

// ---------------------------------------------------------------------------
// MargoConfig
// ---------------------------------------------------------------------------

impl Default for MargoConfig {
    /// The configuration `{}` resolves to.
    fn default() -> Self {
        MargoConfig {
            pools: vec![PoolSpec { name: PRIMARY_NAME.to_string(), kind: PoolKind::FifoWait, access: PoolAccess::Mpmc }],
            xstreams: vec![XstreamSpec {
                name: PRIMARY_NAME.to_string(),
                scheduler: SchedulerType::BasicWait,
                pools: vec![0],
                cpubind: None,
                affinity: None,
            }],
            progress_pool: 0,
            rpc_pool: 0,
            mercury: Map::new(),
            progress_timeout_ub_msec: DEFAULT_PROGRESS_TIMEOUT_UB_MSEC,
            progress_spindown_msec: DEFAULT_PROGRESS_SPINDOWN_MSEC,
            handle_cache_size: DEFAULT_HANDLE_CACHE_SIZE,
            enable_abt_profiling: false,
            abt_mem_max_num_stacks: DEFAULT_ABT_MEM_MAX_NUM_STACKS,
            abt_thread_stacksize: DEFAULT_ABT_THREAD_STACKSIZE,
            profiling_dir: DEFAULT_PROFILING_DIR.to_string(),
            lazy_stack_alloc: false,
            plumber: PlumberConfig::default(),
            monitoring: None,
        }
    }
}

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

    fn pool_namer(&self) -> NameGenerator {
        NameGenerator::new("pool", self.pools.iter().map(|p| p.name.as_str()))
    }

    fn xstream_namer(&self) -> NameGenerator {
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

    /// Looks a pool up by name (string) or index (non-negative integer).
    pub fn pool_index(&self, name_or_index: &Value) -> Option<usize> {
        match name_or_index {
            Value::String(s) => self.pool_by_name(s),
            Value::Number(n) => n.as_u64().and_then(|i| usize::try_from(i).ok()).filter(|i| *i < self.pools.len()),
            _ => None,
        }
    }

    pub fn pool_by_name(&self, name: &str) -> Option<usize> {
        self.pools.iter().position(|p| p.name == name)
    }

    pub fn xstream_by_name(&self, name: &str) -> Option<usize> {
        self.xstreams.iter().position(|x| x.name == name)
    }

    /// `margo_add_pool_from_json`: validates `v` (an object, or `null` for
    /// all defaults), names it `__pool_<index>__` when unnamed, appends it
    /// and returns its index. Error paths start with `pool`.
    pub fn add_pool_from_json(&mut self, v: &Value) -> Result<usize, ConfigError> {
        let def = parse_pool(v, "pool")?;
        let name = match def.name {
            Some(n) if n == PRIMARY_NAME => {
                // Upstream refuses this once Argobots runs, which is always
                // the case after initialization.
                return Err(ConfigError::Invalid {
                    path: "pool.name".to_string(),
                    message: format!("\"{PRIMARY_NAME}\" is reserved and cannot be added at run time"),
                });
            }
            Some(n) => {
                if self.pool_by_name(&n).is_some() {
                    return Err(ConfigError::DuplicateName { path: "pool.name".to_string(), name: n });
                }
                n
            }
            None => self.pool_namer().name_for(self.pools.len()),
        };
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
        let name = match def.name {
            Some(n) if n == PRIMARY_NAME => {
                return Err(ConfigError::Invalid {
                    path: "xstream.name".to_string(),
                    message: format!("\"{PRIMARY_NAME}\" is reserved and cannot be added at run time"),
                });
            }
            Some(n) => {
                if self.xstream_by_name(&n).is_some() {
                    return Err(ConfigError::DuplicateName { path: "xstream.name".to_string(), name: n });
                }
                n
            }
            None => self.xstream_namer().name_for(self.xstreams.len()),
        };
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

    /// Upstream's non-fatal sanity checks of the pool/xstream layout, as
    /// human-readable warnings (margo logs them at init and carries on).
    pub fn sanity_warnings(&self) -> Vec<String> {
        const FIRST: u8 = 1;
        const WITH_PROGRESS: u8 = 2;
        const AFTER_PROGRESS: u8 = 4;
        const BEFORE_PROGRESS: u8 = 8;
        let n = self.pools.len();
        let mut flags = vec![0u8; n];
        for x in &self.xstreams {
            let mut seen_progress = false;
            for (j, &p) in x.pools.iter().enumerate() {
                if p >= n {
                    continue;
                }
                if p == self.progress_pool {
                    seen_progress = true;
                }
                if j == 0 {
                    flags[p] |= FIRST;
                }
                if p != self.progress_pool {
                    flags[p] |= if seen_progress { AFTER_PROGRESS } else { BEFORE_PROGRESS };
                }
            }
            if seen_progress {
                for &p in x.pools.iter().filter(|&&p| p < n) {
                    flags[p] |= WITH_PROGRESS;
                }
            }
        }
        let mut out = Vec::new();
        for (i, (pool, f)) in self.pools.iter().zip(flags).enumerate() {
            let who = format!("pool \"{}\" (index {i})", pool.name);
            if f == 0 {
                out.push(format!("{who} is not used by any xstream; work pushed to it will never run"));
                continue;
            }
            if f & FIRST == 0 {
                out.push(format!("{who} is not the first pool of any xstream; its work may starve"));
            }
            if i == self.progress_pool {
                continue;
            }
            if f & BEFORE_PROGRESS == 0 {
                out.push(format!(
                    "{who} never comes before the progress pool in an xstream; the progress loop may keep its xstreams busy"
                ));
            }
            if f & AFTER_PROGRESS != 0 {
                out.push(format!("{who} comes after the progress pool in some xstream, which may never get to it"));
            }
            if f & WITH_PROGRESS != 0 {
                out.push(format!("{who} shares an xstream with the progress pool; its work may be delayed"));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rt() -> RuntimeInfo {
        RuntimeInfo { address: "na+sm://1234-0".into(), listening: true, version: "2.4.1".into() }
    }

    fn parse(v: Value) -> Result<MargoConfig, ConfigError> {
        MargoConfig::from_value(&v, &InitOverrides::default())
    }

    fn ok(v: Value) -> MargoConfig {
        match parse(v.clone()) {
            Ok(c) => c,
            Err(e) => panic!("config {v} rejected: {e}"),
        }
    }

    fn err(v: Value) -> ConfigError {
        match parse(v.clone()) {
            Ok(c) => panic!("config {v} accepted: {c:?}"),
            Err(e) => e,
        }
    }

    /// Output without the parts the spec's expected documents drop.
    fn reported(cfg: &MargoConfig) -> Value {
        let mut out = cfg.to_json(&rt());
        if let Value::Object(m) = &mut out {
            m.remove("mercury");
            m.remove("version");
        }
        out
    }

    fn pool_names(cfg: &MargoConfig) -> Vec<&str> {
        cfg.pools.iter().map(|p| p.name.as_str()).collect()
    }

    fn xstream_names(cfg: &MargoConfig) -> Vec<&str> {
        cfg.xstreams.iter().map(|x| x.name.as_str()).collect()
    }

    /// (name, pool indices) of each xstream.
    fn layout(cfg: &MargoConfig) -> Vec<(String, Vec<usize>)> {
        cfg.xstreams.iter().map(|x| (x.name.clone(), x.pools.clone())).collect()
    }

    fn roundtrip(cfg: &MargoConfig) {
        let out = cfg.to_json(&rt());
        let again = match MargoConfig::from_value(&out, &InitOverrides::default()) {
            Ok(c) => c,
            Err(e) => panic!("output {out} rejected: {e}"),
        };
        assert_eq!(again.to_json(&rt()), out);
    }

    // ---- spec examples ----------------------------------------------------

    #[test]
    fn spec_empty_config() {
        let expected: Value = serde_json::from_str(
            r#"{"argobots":{"abt_mem_max_num_stacks":8,"abt_thread_stacksize":2097152,"lazy_stack_alloc":false,
            "pools":[{"access":"mpmc","kind":"fifo_wait","name":"__primary__"}],"profiling_dir":".",
            "xstreams":[{"name":"__primary__","scheduler":{"pools":["__primary__"],"type":"basic_wait"}}]},
            "enable_abt_profiling":false,"handle_cache_size":32,"plumber":{"bucket_policy":"package","nic_policy":"roundrobin"},
            "progress_pool":"__primary__","progress_spindown_msec":10,"progress_timeout_ub_msec":100,"rpc_pool":"__primary__"}"#,
        )
        .unwrap();
        let cfg = ok(json!({}));
        assert_eq!(reported(&cfg), expected);
        assert_eq!(cfg, MargoConfig::default());
        // Keys come out sorted, as in the spec's compact dump.
        let text = serde_json::to_string(&reported(&cfg)).unwrap();
        assert!(text.starts_with(
            r#"{"argobots":{"abt_mem_max_num_stacks":8,"abt_thread_stacksize":2097152,"lazy_stack_alloc":false,"pools""#
        ));
        assert_eq!(text, serde_json::to_string(&expected).unwrap());
    }

    #[test]
    fn spec_progress_thread_and_rpc_threads() {
        let expected = json!({
            "argobots": {
                "abt_mem_max_num_stacks": 8, "abt_thread_stacksize": 2097152, "lazy_stack_alloc": false,
                "pools": [
                    {"access": "mpmc", "kind": "fifo_wait", "name": "__primary__"},
                    {"access": "mpmc", "kind": "fifo_wait", "name": "__pool_1__"},
                    {"access": "mpmc", "kind": "fifo_wait", "name": "__pool_2__"}
                ],
                "profiling_dir": ".",
                "xstreams": [
                    {"name": "__primary__", "scheduler": {"pools": ["__primary__"], "type": "basic_wait"}},
                    {"name": "__xstream_1__", "scheduler": {"pools": ["__pool_1__"], "type": "basic_wait"}},
                    {"name": "__xstream_2__", "scheduler": {"pools": ["__pool_2__"], "type": "basic_wait"}},
                    {"name": "__xstream_3__", "scheduler": {"pools": ["__pool_2__"], "type": "basic_wait"}}
                ]
            },
            "enable_abt_profiling": false, "handle_cache_size": 32,
            "plumber": {"bucket_policy": "package", "nic_policy": "roundrobin"},
            "progress_pool": "__pool_1__", "progress_spindown_msec": 10, "progress_timeout_ub_msec": 100,
            "rpc_pool": "__pool_2__"
        });
        let cfg = ok(json!({"use_progress_thread": true, "rpc_thread_count": 2}));
        assert_eq!(reported(&cfg), expected);
        assert_eq!((cfg.progress_pool, cfg.rpc_pool), (1, 2));
        roundtrip(&cfg);
    }

    #[test]
    fn empty_text_and_null_mean_defaults() {
        let none = InitOverrides::default();
        for text in ["", "   \n\t", "{}", "null"] {
            assert_eq!(MargoConfig::from_json_str(text, &none).unwrap(), MargoConfig::default(), "{text:?}");
        }
    }

    #[test]
    fn two_user_pools_without_progress_thread() {
        let cfg = ok(json!({
            "use_progress_thread": false,
            "argobots": {"pools": [{"name": "my_pool_1", "kind": "fifo_wait", "access": "mpmc"},
                                   {"name": "my_pool_2", "kind": "fifo", "access": "spmc"}]}
        }));
        assert_eq!(pool_names(&cfg), ["my_pool_1", "my_pool_2", "__primary__"]);
        assert_eq!(cfg.pool_index(&json!(0)), Some(0));
        assert_eq!(cfg.pool_index(&json!("my_pool_2")), Some(1));
        assert_eq!(cfg.pools[1].kind, PoolKind::Fifo);
        assert_eq!(cfg.pools[1].access, PoolAccess::Spmc);
        assert_eq!(layout(&cfg), [("__primary__".to_string(), vec![2])]);
        assert_eq!((cfg.progress_pool, cfg.rpc_pool), (2, 2));
        assert_eq!(cfg.to_json(&rt())["rpc_pool"], json!("__primary__"));
        // Unused pools are legal; upstream only warns.
        let warnings = cfg.sanity_warnings();
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].contains("my_pool_1") && warnings[0].contains("not used"));
        roundtrip(&cfg);
    }

    // ---- resolution rules (upstream unit-test scenarios) ------------------

    #[test]
    fn thread_count_combinations() {
        // (use_progress_thread, rpc_thread_count, pools, xstream layout, progress, rpc)
        let cases: Vec<(Value, usize, Vec<usize>, usize, usize)> = vec![
            (json!({"use_progress_thread": true}), 2, vec![0, 1], 1, 0),
            (json!({"use_progress_thread": false}), 1, vec![0], 0, 0),
            (json!({"rpc_thread_count": -1}), 1, vec![0], 0, 0),
            (json!({"rpc_thread_count": 0}), 1, vec![0], 0, 0),
            (json!({"rpc_thread_count": 1}), 2, vec![0, 1], 0, 1),
            (json!({"rpc_thread_count": 2}), 2, vec![0, 1, 1], 0, 1),
            (json!({"rpc_thread_count": -1, "use_progress_thread": true}), 2, vec![0, 1], 1, 1),
            (json!({"rpc_thread_count": 0, "use_progress_thread": true}), 2, vec![0, 1], 1, 0),
            (json!({"rpc_thread_count": 1, "use_progress_thread": true}), 3, vec![0, 1, 2], 1, 2),
        ];
        for (input, npools, xpools, progress, rpc) in cases {
            let cfg = ok(input.clone());
            assert_eq!(cfg.pools.len(), npools, "{input}");
            let first_pools: Vec<usize> = cfg.xstreams.iter().map(|x| x.pools[0]).collect();
            assert_eq!(first_pools, xpools, "{input}");
            assert_eq!((cfg.progress_pool, cfg.rpc_pool), (progress, rpc), "{input}");
            for (i, x) in cfg.xstreams.iter().enumerate().skip(1) {
                assert_eq!(x.name, format!("__xstream_{i}__"));
            }
            roundtrip(&cfg);
        }
    }

    #[test]
    fn init_overrides_replace_json_keys() {
        // margo_init(addr, mode, true, 2)
        let o = InitOverrides { use_progress_thread: Some(true), rpc_thread_count: Some(2) };
        let cfg = MargoConfig::from_json_str("", &o).unwrap();
        assert_eq!(pool_names(&cfg), ["__primary__", "__pool_1__", "__pool_2__"]);
        assert_eq!(cfg.xstreams.len(), 4);
        // An override replaces the key, so a bad JSON value under it is moot.
        let o = InitOverrides { use_progress_thread: Some(false), rpc_thread_count: Some(0) };
        let cfg = MargoConfig::from_value(&json!({"use_progress_thread": "XXX", "rpc_thread_count": 5}), &o).unwrap();
        assert_eq!(cfg, MargoConfig::default());
        // Without overrides the JSON keys apply.
        let cfg = MargoConfig::from_value(&json!({"rpc_thread_count": 1}), &InitOverrides::default()).unwrap();
        assert_eq!(cfg.rpc_pool, 1);
        // A partial override leaves the other key to the JSON.
        let o = InitOverrides { use_progress_thread: Some(true), rpc_thread_count: None };
        let cfg = MargoConfig::from_value(&json!({"rpc_thread_count": -1}), &o).unwrap();
        assert_eq!((cfg.progress_pool, cfg.rpc_pool), (1, 1));
    }

    #[test]
    fn all_pool_kinds_and_access_modes() {
        let cfg = ok(json!({"argobots": {"pools": [
            {"name": "a", "kind": "fifo", "access": "private"},
            {"name": "b", "kind": "fifo_wait", "access": "mpmc"},
            {"name": "c", "kind": "prio_wait", "access": "spsc"},
            {"name": "d", "kind": "earliest_first", "access": "mpsc"},
            {"name": "e", "kind": "fifo", "access": "spmc"},
            {"name": "f"}
        ]}}));
        let kinds: Vec<&str> = cfg.pools.iter().map(|p| p.kind.as_str()).collect();
        let access: Vec<&str> = cfg.pools.iter().map(|p| p.access.as_str()).collect();
        assert_eq!(kinds, ["fifo", "fifo_wait", "prio_wait", "earliest_first", "fifo", "fifo_wait", "fifo_wait"]);
        assert_eq!(access, ["private", "mpmc", "spsc", "mpsc", "spmc", "mpmc", "mpmc"]);
        assert_eq!(cfg.progress_pool, 6);
        // Index-based output, as margo_get_config without USE_NAMES.
        let out = cfg.to_json_opt(&rt(), false);
        assert_eq!(out["progress_pool"], json!(6));
        assert_eq!(out["argobots"]["xstreams"][0]["scheduler"]["pools"], json!([6]));
        roundtrip(&cfg);
    }

    #[test]
    fn generated_names_and_unnamed_entries() {
        let cfg = ok(json!({"argobots": {
            "pools": [{}, null, {"name": "x"}],
            "xstreams": [{"cpubind": 0, "scheduler": {"pools": [0]}},
                         {"affinity": [0, 1], "scheduler": {"pools": [1, "x"], "type": "basic"}}]
        }}));
        assert_eq!(pool_names(&cfg), ["__pool_0__", "__pool_1__", "x", "__primary__"]);
        assert_eq!(xstream_names(&cfg), ["__xstream_0__", "__xstream_1__", "__primary__"]);
        assert_eq!(cfg.xstreams[1].pools, [1, 2]);
        assert_eq!(cfg.xstreams[1].scheduler, SchedulerType::Basic);
        let out = cfg.to_json(&rt());
        let xs = &out["argobots"]["xstreams"];
        assert_eq!(
            xs[0],
            json!({"cpubind": 0, "name": "__xstream_0__",
                                 "scheduler": {"pools": ["__pool_0__"], "type": "basic_wait"}})
        );
        assert_eq!(xs[1]["affinity"], json!([0, 1]));
        assert!(xs[1].get("cpubind").is_none());
        assert!(xs[2].get("cpubind").is_none() && xs[2].get("affinity").is_none());
        roundtrip(&cfg);
    }

    #[test]
    fn name_generator_matches_upstreams_rule() {
        // The rule, written the slow way: from the element's index up to
        // the first name not taken before.
        fn reference(taken: &[&str], indices: &[usize]) -> Vec<String> {
            let mut taken: Vec<String> = taken.iter().map(|s| s.to_string()).collect();
            let mut out = Vec::new();
            for &i in indices {
                let name = (i..).map(|n| format!("__x_{n}__")).find(|c| !taken.contains(c)).unwrap();
                taken.push(name.clone());
                out.push(name);
            }
            out
        }
        let cases: [(&[&str], &[usize]); 5] = [
            (&[], &[0, 1, 2]),
            (&["__x_0__", "__x_1__", "__x_5__"], &[0, 1, 2, 3, 4]),
            (&["__x_3__", "__x_4__"], &[3, 3, 3, 7]),
            (&["__x_2__", "other"], &[0, 5, 6]),
            (&["__x_10__", "__x_11__", "__x_12__"], &[1, 9, 10, 11, 12, 13]),
        ];
        for (taken, indices) in cases {
            let mut generator = NameGenerator::new("x", taken.iter().copied());
            let got: Vec<String> = indices.iter().map(|&i| generator.name_for(i)).collect();
            assert_eq!(got, reference(taken, indices), "taken {taken:?}, indices {indices:?}");
        }
    }

    #[test]
    fn many_generated_names_are_unique() {
        // 50 000 unnamed pools: naming them scanned every name per
        // candidate before (quadratic: seconds); now one set look-up each.
        let pools: Vec<Value> = (0..50_000).map(|_| json!({})).collect();
        let cfg = ok(json!({"argobots": {"pools": pools}, "rpc_thread_count": MAX_XSTREAMS}));
        let names: HashSet<&str> = pool_names(&cfg).into_iter().collect();
        assert_eq!(names.len(), 50_000 + 2);
        assert_eq!(cfg.pools[49_999].name, "__pool_49999__");
        // __primary__ then the generated ones, each name once.
        assert_eq!(cfg.xstreams.len(), MAX_XSTREAMS + 1);
        let xs: HashSet<&str> = xstream_names(&cfg).into_iter().collect();
        assert_eq!(xs.len(), MAX_XSTREAMS + 1);
        assert_eq!(cfg.xstreams[MAX_XSTREAMS].name, format!("__xstream_{MAX_XSTREAMS}__"));
    }

    #[test]
    fn an_engine_starts_at_most_max_xstreams_threads() {
        let msg = |v: Value| err(v).to_string();
        // The fuzzer's value fails at once, naming the field.
        assert_eq!(
            msg(json!({"rpc_thread_count": 65536})),
            "margo.rpc_thread_count: 65536 is out of range (expected at most 1024)"
        );
        assert_eq!(
            msg(json!({"rpc_thread_count": 1025})),
            "margo.rpc_thread_count: 1025 is out of range (expected at most 1024)"
        );
        // Generated threads count with the declared ones; __primary__
        // (the caller's thread) does not.
        assert_eq!(
            msg(json!({"rpc_thread_count": 1024, "use_progress_thread": true})),
            "margo.rpc_thread_count: 1024 is out of range (expected at most 1023: with 1 other xstreams \
             this engine would start more than 1024 threads)"
        );
        let declared =
            |n: usize| -> Vec<Value> { (0..n).map(|i| json!({"name": format!("es{i}"), "scheduler": {"pools": [0]}})).collect() };
        let pools = json!([{"name": "p"}]);
        ok(json!({"argobots": {"pools": pools, "xstreams": declared(MAX_XSTREAMS)}}));
        ok(json!({"argobots": {"pools": pools, "xstreams": declared(1000)}, "rpc_thread_count": 24}));
        assert_eq!(
            msg(json!({"argobots": {"pools": pools, "xstreams": declared(1000)}, "rpc_thread_count": 25})),
            "margo.rpc_thread_count: 25 is out of range (expected at most 24: with 1000 other xstreams \
             this engine would start more than 1024 threads)"
        );
        assert_eq!(
            msg(json!({"argobots": {"pools": pools, "xstreams": declared(MAX_XSTREAMS)}, "use_progress_thread": true})),
            "margo.use_progress_thread: true is out of range (expected false: with 1024 other xstreams \
             this engine would start more than 1024 threads)"
        );
        assert_eq!(
            msg(json!({"argobots": {"pools": pools, "xstreams": declared(MAX_XSTREAMS + 1)}})),
            "margo.argobots.xstreams: 1025 entries is out of range (expected at most 1024 xstreams besides __primary__)"
        );
        assert_eq!(
            msg(json!({"argobots": {"pools": pools, "xstreams": declared(100_000)}})),
            "margo.argobots.xstreams: 100000 entries is out of range (expected at most 1024 xstreams besides __primary__)"
        );
        // At run time too.
        let mut cfg = ok(json!({"argobots": {"pools": pools, "xstreams": declared(MAX_XSTREAMS - 1)}}));
        cfg.add_xstream_from_json(&json!({"scheduler": {"pools": ["p"]}})).unwrap();
        assert_eq!(
            cfg.add_xstream_from_json(&json!({"scheduler": {"pools": ["p"]}})).unwrap_err().to_string(),
            "xstream: this engine already runs 1024 xstreams besides __primary__, the most it accepts"
        );
    }

    #[test]
    fn generated_names_skip_names_declared_later() {
        let cfg = ok(json!({"argobots": {
            "pools": [{}, {"name": "__pool_0__"}],
            "xstreams": [{"scheduler": {"pools": [0]}}, {"name": "__xstream_0__", "scheduler": {"pools": [1]}}]
        }}));
        assert_eq!(pool_names(&cfg), ["__pool_1__", "__pool_0__", "__primary__"]);
        assert_eq!(xstream_names(&cfg), ["__xstream_1__", "__xstream_0__", "__primary__"]);
        // With use_progress_thread the generated pool skips taken names too.
        let cfg = ok(json!({"use_progress_thread": true, "argobots": {"pools": [{"name": "__pool_2__"}]}}));
        assert_eq!(pool_names(&cfg), ["__pool_2__", "__primary__", "__pool_3__"]);
        assert_eq!(cfg.progress_pool, 2);
    }

    #[test]
    fn explicit_progress_and_rpc_pools() {
        let base = json!({"pools": [{"name": "my_pool"}], "xstreams": [{"scheduler": {"pools": ["my_pool"]}}]});
        let cfg = ok(json!({"argobots": base, "progress_pool": "my_pool"}));
        assert_eq!((cfg.progress_pool, cfg.rpc_pool), (0, 1));
        let cfg = ok(json!({"argobots": base, "rpc_pool": 0, "rpc_thread_count": 4}));
        assert_eq!((cfg.progress_pool, cfg.rpc_pool), (1, 0));
        assert_eq!(cfg.xstreams.len(), 2, "rpc_thread_count is ignored when rpc_pool is given");
        let cfg = ok(json!({"argobots": base, "progress_pool": 0, "use_progress_thread": true}));
        assert_eq!(cfg.pools.len(), 2, "use_progress_thread is ignored when progress_pool is given");
        let cfg = ok(json!({"argobots": base, "progress_pool": "__primary__", "rpc_pool": "__primary__"}));
        assert_eq!((cfg.progress_pool, cfg.rpc_pool), (1, 1));
        // rpc_thread_count < 0 follows an explicit progress pool.
        let cfg = ok(json!({"argobots": base, "progress_pool": "my_pool", "rpc_thread_count": -3}));
        assert_eq!((cfg.progress_pool, cfg.rpc_pool), (0, 0));
        roundtrip(&cfg);
    }

    #[test]
    fn primary_pool_and_xstream_rules() {
        // A user-defined __primary__ pool is used by the generated xstream.
        let cfg = ok(json!({"argobots": {"pools": [{"name": "p"}, {"name": "__primary__", "kind": "fifo"}]}}));
        assert_eq!(pool_names(&cfg), ["p", "__primary__"]);
        assert_eq!(layout(&cfg), [("__primary__".to_string(), vec![1])]);
        assert_eq!(cfg.pools[1].kind, PoolKind::Fifo);
        // A user-defined __primary__ xstream with the __primary__ pool first.
        let cfg = ok(json!({"argobots": {
            "pools": [{"name": "p1"}, {"name": "__primary__"}],
            "xstreams": [{"name": "__primary__", "scheduler": {"pools": ["__primary__", "p1"]}}]}}));
        assert_eq!(pool_names(&cfg), ["p1", "__primary__"]);
        assert_eq!(layout(&cfg), [("__primary__".to_string(), vec![1, 0])]);
        assert_eq!(cfg.progress_pool, 1);
        roundtrip(&cfg);
        // ...but not when another pool comes first or no __primary__ pool exists.
        let e = err(json!({"argobots": {
            "pools": [{"name": "p1"}, {"name": "__primary__"}],
            "xstreams": [{"name": "__primary__", "scheduler": {"pools": ["p1", "__primary__"]}}]}}));
        assert_eq!(e.path(), Some("margo.argobots.xstreams[0].scheduler.pools"));
        let e = err(json!({"argobots": {
            "pools": [{"name": "p1"}],
            "xstreams": [{"name": "__primary__", "scheduler": {"pools": ["p1"]}}]}}));
        assert!(e.to_string().contains("must be the pool named \"__primary__\""), "{e}");
        // Xstreams cannot name the implicit __primary__ pool.
        let e = err(json!({"argobots": {"xstreams": [{"scheduler": {"pools": ["__primary__"]}}]}}));
        assert!(matches!(e, ConfigError::UnknownPool { .. }), "{e}");
    }

    #[test]
    fn settings_and_mercury_are_reported() {
        let cfg = ok(json!({
            "mercury": {"address": "na+sm", "version": "9.9.9", "auto_sm": true, "ip_subnet": "10.0.0.0/8",
                        "max_contexts": 4, "checksum_level": "rpc_headers", "not_a_mercury_key": 1, "stats": null},
            "argobots": {"abt_mem_max_num_stacks": 12, "abt_thread_stacksize": 4000000, "profiling_dir": "/tmp",
                         "lazy_stack_alloc": true},
            "progress_timeout_ub_msec": 5, "progress_spindown_msec": 0, "handle_cache_size": 64,
            "enable_abt_profiling": true, "plumber": {"nic_policy": "random"},
            "monitoring": {"config": {"sampling": 3}},
            "some_unknown_key": [1, 2, 3]
        }));
        assert!(!cfg.mercury.contains_key("version") && !cfg.mercury.contains_key("stats"));
        assert_eq!(cfg.mercury["not_a_mercury_key"], json!(1));
        let out = cfg.to_json(&rt());
        assert_eq!(out["version"], json!(MARGO_VERSION));
        assert_eq!(out["progress_timeout_ub_msec"], json!(5));
        assert_eq!(out["progress_spindown_msec"], json!(0));
        assert_eq!(out["handle_cache_size"], json!(64));
        assert_eq!(out["enable_abt_profiling"], json!(true));
        assert_eq!(out["plumber"], json!({"bucket_policy": "package", "nic_policy": "random"}));
        assert_eq!(out["monitoring"], json!({"config": {"sampling": 3}}));
        assert_eq!(out["argobots"]["abt_mem_max_num_stacks"], json!(12));
        assert_eq!(out["argobots"]["abt_thread_stacksize"], json!(4000000));
        assert_eq!(out["argobots"]["profiling_dir"], json!("/tmp"));
        assert_eq!(out["argobots"]["lazy_stack_alloc"], json!(false), "reported from the runtime, not the input");
        let hg = &out["mercury"];
        assert_eq!(hg["address"], json!("na+sm://1234-0"));
        assert_eq!(hg["listening"], json!(true));
        assert_eq!(hg["version"], json!("2.4.1"));
        assert_eq!(hg["auto_sm"], json!(true));
        assert_eq!(hg["ip_subnet"], json!("10.0.0.0/8"));
        assert_eq!(hg["max_contexts"], json!(4));
        assert_eq!(hg["checksum_level"], json!("rpc_headers"));
        assert_eq!(hg["stats"], json!(false));
        assert_eq!(hg["request_post_init"], json!(256));
        assert_eq!(hg["log_level"], json!("warning"));
        assert_eq!(hg["na_addr_format"], json!("unspec"));
        assert!(hg.get("not_a_mercury_key").is_none());
        assert!(hg.get("auth_key").is_none());
        assert!(out.get("some_unknown_key").is_none());
        roundtrip(&cfg);
        // Without monitoring the key is absent.
        assert!(ok(json!({})).to_json(&rt()).get("monitoring").is_none());
    }

    #[test]
    fn roundtrip_various() {
        for input in [
            json!({}),
            json!({"use_progress_thread": true, "rpc_thread_count": 3}),
            json!({"rpc_thread_count": -1, "use_progress_thread": true}),
            json!({"argobots": {"pools": [{"name": "a", "kind": "prio_wait"}, {"access": "spsc"}],
                                "xstreams": [{"name": "es", "cpubind": 3, "affinity": [3, 4],
                                              "scheduler": {"type": "prio", "pools": ["a", 1]}}]},
                   "progress_pool": 1, "rpc_pool": "a"}),
        ] {
            roundtrip(&ok(input));
        }
    }

    // ---- run-time changes --------------------------------------------------

    #[test]
    fn add_and_remove_pools() {
        let mut cfg = MargoConfig::default();
        assert_eq!(cfg.add_pool_from_json(&json!({"name": "my_pool1"})).unwrap(), 1);
        assert_eq!(cfg.add_pool_from_json(&json!({"kind": "prio_wait", "access": "spmc"})).unwrap(), 2);
        assert_eq!(cfg.add_pool_from_json(&Value::Null).unwrap(), 3);
        assert_eq!(pool_names(&cfg), ["__primary__", "my_pool1", "__pool_2__", "__pool_3__"]);
        assert_eq!(cfg.pools[2].kind, PoolKind::PrioWait);
        let names: Vec<Value> =
            cfg.to_json(&rt())["argobots"]["pools"].as_array().unwrap().iter().map(|p| p["name"].clone()).collect();
        assert_eq!(names, [json!("__primary__"), json!("my_pool1"), json!("__pool_2__"), json!("__pool_3__")]);

        // Errors: duplicate, reserved, invalid JSON shapes.
        assert!(matches!(cfg.add_pool_from_json(&json!({"name": "my_pool1"})), Err(ConfigError::DuplicateName { .. })));
        assert!(cfg.add_pool_from_json(&json!({"name": "__primary__"})).is_err());
        assert_eq!(cfg.add_pool_from_json(&json!(1234)).unwrap_err().to_string(), "pool: expected object, found integer");
        assert_eq!(
            cfg.add_pool_from_json(&json!({"kind": "foo"})).unwrap_err().to_string(),
            r#"pool.kind: "foo" is not one of fifo, fifo_wait, prio_wait, earliest_first, external"#
        );
        assert_eq!(cfg.pools.len(), 4, "failed additions leave no trace");

        // Removal swaps the last pool into the freed slot.
        cfg.remove_pool("my_pool1").unwrap();
        assert_eq!(pool_names(&cfg), ["__primary__", "__pool_3__", "__pool_2__"]);
        assert!(matches!(cfg.remove_pool("my_pool1"), Err(ConfigError::NotFound { .. })));
        assert!(matches!(cfg.remove_pool("__primary__"), Err(ConfigError::CannotRemove { .. })));
        // A freshly generated name starts at the current length.
        assert_eq!(cfg.add_pool_from_json(&json!({})).unwrap(), 3);
        assert_eq!(cfg.pools[3].name, "__pool_4__");
    }

    #[test]
    fn remove_pool_fixes_indices() {
        let mut cfg = ok(json!({"use_progress_thread": true, "rpc_thread_count": 1,
                                "argobots": {"pools": [{"name": "spare"}]}}));
        assert_eq!(pool_names(&cfg), ["spare", "__primary__", "__pool_2__", "__pool_3__"]);
        assert_eq!((cfg.progress_pool, cfg.rpc_pool), (2, 3));
        assert!(cfg.remove_pool("__pool_2__").unwrap_err().to_string().contains("progress pool"));
        assert!(cfg.remove_pool("__pool_3__").unwrap_err().to_string().contains("RPC handler pool"));
        cfg.remove_pool("spare").unwrap();
        assert_eq!(pool_names(&cfg), ["__pool_3__", "__primary__", "__pool_2__"]);
        assert_eq!((cfg.progress_pool, cfg.rpc_pool), (2, 0));
        assert_eq!(
            layout(&cfg),
            [
                ("__primary__".to_string(), vec![1]),
                ("__xstream_1__".to_string(), vec![2]),
                ("__xstream_2__".to_string(), vec![0]),
            ]
        );
        let out = cfg.to_json(&rt());
        assert_eq!(out["rpc_pool"], json!("__pool_3__"));
        assert_eq!(out["argobots"]["xstreams"][2]["scheduler"]["pools"], json!(["__pool_3__"]));
        roundtrip(&cfg);
    }

    #[test]
    fn add_and_remove_xstreams() {
        let mut cfg = MargoConfig::default();
        cfg.add_pool_from_json(&json!({"name": "p"})).unwrap();
        let i = cfg.add_xstream_from_json(&json!({"name": "my_es1", "scheduler": {"pools": [0], "type": "basic_wait"}})).unwrap();
        assert_eq!(i, 1);
        let i = cfg.add_xstream_from_json(&json!({"scheduler": {"pools": ["p", "__primary__"]}, "cpubind": 2})).unwrap();
        assert_eq!(i, 2);
        assert_eq!(xstream_names(&cfg), ["__primary__", "my_es1", "__xstream_2__"]);
        assert_eq!(cfg.xstreams[2].pools, [1, 0]);
        assert_eq!(cfg.xstreams[2].cpubind, Some(2));
        // Now pool "p" is in use.
        assert!(cfg.remove_pool("p").unwrap_err().to_string().contains("__xstream_2__"));

        let e = cfg.add_xstream_from_json(&json!({"name": "my_es1", "scheduler": {"pools": [0]}})).unwrap_err();
        assert!(matches!(e, ConfigError::DuplicateName { .. }), "{e}");
        let e = cfg.add_xstream_from_json(&json!({"scheduler": {"pools": ["nope"]}})).unwrap_err();
        assert_eq!(e.to_string(), r#"xstream.scheduler.pools[0]: there is no pool named "nope""#);
        let e = cfg.add_xstream_from_json(&json!({"scheduler": {"pools": [2]}})).unwrap_err();
        assert_eq!(e.to_string(), "xstream.scheduler.pools[0]: pool index 2 is out of range (2 pools available)");
        assert!(cfg.add_xstream_from_json(&json!({"name": "__primary__", "scheduler": {"pools": [0]}})).is_err());
        assert!(cfg.add_xstream_from_json(&json!({"name": "x"})).is_err());
        assert!(cfg.add_xstream_from_json(&json!("1234")).is_err());
        assert_eq!(cfg.xstreams.len(), 3);

        assert!(matches!(cfg.remove_xstream("__primary__"), Err(ConfigError::CannotRemove { .. })));
        assert!(matches!(cfg.remove_xstream("nope"), Err(ConfigError::NotFound { .. })));
        cfg.remove_xstream("my_es1").unwrap();
        assert_eq!(xstream_names(&cfg), ["__primary__", "__xstream_2__"]);
        cfg.remove_xstream("__xstream_2__").unwrap();
        cfg.remove_pool("p").unwrap();
        assert_eq!(cfg, MargoConfig::default());
    }

    #[test]
    fn pool_lookup() {
        let cfg = ok(json!({"argobots": {"pools": [{"name": "a"}]}}));
        assert_eq!(cfg.pool_index(&json!("a")), Some(0));
        assert_eq!(cfg.pool_index(&json!("__primary__")), Some(1));
        assert_eq!(cfg.pool_index(&json!(1)), Some(1));
        assert_eq!(cfg.pool_index(&json!(2)), None);
        assert_eq!(cfg.pool_index(&json!(-1)), None);
        assert_eq!(cfg.pool_index(&json!(1.0)), None);
        assert_eq!(cfg.pool_index(&json!("b")), None);
        assert_eq!(cfg.pool_by_name("a"), Some(0));
        assert_eq!(cfg.xstream_by_name("__primary__"), Some(0));
    }

    #[test]
    fn child_engine_shares_parent_pools() {
        let parent = ok(json!({"argobots": {"pools": [{"name": "my_pool"}],
                                            "xstreams": [{"scheduler": {"pools": ["my_pool"]}}]}}));
        let child = MargoConfig::from_value_with_parent(&json!({"rpc_pool": "my_pool"}), &parent, "margo[1]").unwrap();
        assert_eq!(child.pools, parent.pools);
        assert_eq!(child.xstreams, parent.xstreams);
        assert_eq!((child.progress_pool, child.rpc_pool), (1, 0));
        let child = MargoConfig::from_value_with_parent(&Value::Null, &parent, "margo[1]").unwrap();
        assert_eq!((child.progress_pool, child.rpc_pool), (1, 1));
        for bad in [json!({"argobots": {}}), json!({"use_progress_thread": false}), json!({"rpc_thread_count": 0})] {
            let e = MargoConfig::from_value_with_parent(&bad, &parent, "margo[1]").unwrap_err();
            assert!(e.path().unwrap_or("").starts_with("margo[1]."), "{e}");
        }
        let e = MargoConfig::from_value_with_parent(&json!({"progress_pool": 7}), &parent, "margo[1]").unwrap_err();
        assert_eq!(e.to_string(), "margo[1].progress_pool: pool index 7 is out of range (2 pools available)");
    }

    #[test]
    fn syntax_errors_report_position() {
        let e = MargoConfig::from_json_str("{\n  \"argobots\": {[\n}", &InitOverrides::default()).unwrap_err();
        match &e {
            ConfigError::Syntax { line, column, .. } => assert_eq!((*line, *column), (2, 16)),
            other => panic!("unexpected {other:?}"),
        }
        assert!(e.to_string().starts_with("JSON syntax error at line 2, column 16: "), "{e}");
        assert!(matches!(MargoConfig::from_json_str("{} x", &InitOverrides::default()), Err(ConfigError::Syntax { .. })));
    }

    // ---- validation errors -------------------------------------------------

    #[test]
    fn validation_errors() {
        let cases: Vec<(Value, &str)> = vec![
            // Root and sections.
            (json!([1]), "margo: expected object, found array"),
            (json!("x"), "margo: expected object, found string"),
            (json!({"mercury": 1}), "margo.mercury: expected object, found integer"),
            (json!({"argobots": true}), "margo.argobots: expected object, found boolean"),
            (json!({"plumber": "x"}), "margo.plumber: expected object, found string"),
            (json!({"plumber": {"nic_policy": 3}}), "margo.plumber.nic_policy: expected string, found integer"),
            (json!({"plumber": {"bucket_policy": false}}), "margo.plumber.bucket_policy: expected string, found boolean"),
            // Mercury options.
            (json!({"mercury": {"address": 12345}}), "margo.mercury.address: expected string, found integer"),
            (json!({"mercury": {"listening": "yes"}}), "margo.mercury.listening: expected boolean, found string"),
            (json!({"mercury": {"auto_sm": 1}}), "margo.mercury.auto_sm: expected boolean, found integer"),
            (json!({"mercury": {"request_post_init": "256"}}), "margo.mercury.request_post_init: expected integer, found string"),
            (json!({"mercury": {"max_contexts": 1.5}}), "margo.mercury.max_contexts: expected integer, found number"),
            (json!({"mercury": {"request_post_incr": -1}}), "margo.mercury.request_post_incr: -1 is out of range (expected a non-negative integer)"),
            (json!({"mercury": {"checksum_level": "all"}}), r#"margo.mercury.checksum_level: "all" is not one of none, rpc_headers, rpc_payload"#),
            (json!({"mercury": {"na_addr_format": 4}}), "margo.mercury.na_addr_format: expected string, found integer"),
            (json!({"mercury": {"version": 2}}), "margo.mercury.version: expected string, found integer"),
            // Argobots scalars.
            (json!({"argobots": {"abt_mem_max_num_stacks": true}}), "margo.argobots.abt_mem_max_num_stacks: expected integer, found boolean"),
            (json!({"argobots": {"abt_thread_stacksize": "2M"}}), "margo.argobots.abt_thread_stacksize: expected integer, found string"),
            (json!({"argobots": {"abt_thread_stacksize": -1}}), "margo.argobots.abt_thread_stacksize: -1 is out of range (expected an integer between 0 and 2147483647)"),
            (json!({"argobots": {"profiling_dir": 1}}), "margo.argobots.profiling_dir: expected string, found integer"),
            // Pools.
            (json!({"argobots": {"pools": true}}), "margo.argobots.pools: expected array, found boolean"),
            (json!({"argobots": {"pools": {}}}), "margo.argobots.pools: expected array, found object"),
            (json!({"argobots": {"pools": [true]}}), "margo.argobots.pools[0]: expected object, found boolean"),
            (json!({"argobots": {"pools": [{}, {"kind": 1}]}}), "margo.argobots.pools[1].kind: expected string, found integer"),
            (json!({"argobots": {"pools": [{}, {"kind": "foo"}]}}), r#"margo.argobots.pools[1].kind: "foo" is not one of fifo, fifo_wait, prio_wait, earliest_first, external"#),
            (json!({"argobots": {"pools": [{"kind": "randws"}]}}), r#"margo.argobots.pools[0].kind: "randws" is not one of fifo, fifo_wait, prio_wait, earliest_first, external"#),
            (json!({"argobots": {"pools": [{"kind": "external"}]}}), "margo.argobots.pools[0].kind: external pools are registered by the program and cannot be created from a configuration"),
            (json!({"argobots": {"pools": [{"access": true}]}}), "margo.argobots.pools[0].access: expected string, found boolean"),
            (json!({"argobots": {"pools": [{"access": "XXX"}]}}), r#"margo.argobots.pools[0].access: "XXX" is not one of private, spsc, mpsc, spmc, mpmc"#),
            (json!({"argobots": {"pools": [{"name": true}]}}), "margo.argobots.pools[0].name: expected string, found boolean"),
            (json!({"argobots": {"pools": [{"name": ""}]}}), r#"margo.argobots.pools[0].name: invalid name "": names must not be empty"#),
            (json!({"argobots": {"pools": [{"name": "2mypool"}]}}), r#"margo.argobots.pools[0].name: invalid name "2mypool": names must not start with a digit"#),
            (json!({"argobots": {"pools": [{"name": "$%^"}]}}), r#"margo.argobots.pools[0].name: invalid name "$%^": invalid character '$' (names must be C identifiers)"#),
            (json!({"argobots": {"pools": [{"name": "my pool"}]}}), r#"margo.argobots.pools[0].name: invalid name "my pool": invalid character ' ' (names must be C identifiers)"#),
            (json!({"argobots": {"pools": [{"name": "pé"}]}}), r#"margo.argobots.pools[0].name: invalid name "pé": invalid character 'é' (names must be C identifiers)"#),
            (json!({"argobots": {"pools": [{"name": "my_pool"}, {"name": "my_pool"}]}}), r#"margo.argobots.pools[1].name: name "my_pool" is already used"#),
            // Xstreams.
            (json!({"argobots": {"xstreams": true}}), "margo.argobots.xstreams: expected array, found boolean"),
            (json!({"argobots": {"xstreams": [true]}}), "margo.argobots.xstreams[0]: expected object, found boolean"),
            (json!({"argobots": {"pools": [{}], "xstreams": [{"name": true, "scheduler": {"pools": [0]}}]}}), "margo.argobots.xstreams[0].name: expected string, found boolean"),
            (json!({"argobots": {"pools": [{}], "xstreams": [{"name": "%&*(", "scheduler": {"pools": [0]}}]}}), r#"margo.argobots.xstreams[0].name: invalid name "%&*(": invalid character '%' (names must be C identifiers)"#),
            (json!({"argobots": {"pools": [{}], "xstreams": [{"name": "2myes", "scheduler": {"pools": [0]}}]}}), r#"margo.argobots.xstreams[0].name: invalid name "2myes": names must not start with a digit"#),
            (json!({"argobots": {"pools": [{}], "xstreams": [{"name": "", "scheduler": {"pools": [0]}}]}}), r#"margo.argobots.xstreams[0].name: invalid name "": names must not be empty"#),
            (json!({"argobots": {"pools": [{}], "xstreams": [{"name": "my_es", "scheduler": {"pools": [0]}}, {"name": "my_es", "scheduler": {"pools": [0]}}]}}), r#"margo.argobots.xstreams[1].name: name "my_es" is already used"#),
            (json!({"argobots": {"pools": [{}], "xstreams": [{"cpubind": true, "scheduler": {"pools": [0]}}]}}), "margo.argobots.xstreams[0].cpubind: expected integer, found boolean"),
            (json!({"argobots": {"pools": [{}], "xstreams": [{"affinity": true, "scheduler": {"pools": [0]}}]}}), "margo.argobots.xstreams[0].affinity: expected array, found boolean"),
            (json!({"argobots": {"pools": [{}], "xstreams": [{"affinity": [0, true], "scheduler": {"pools": [0]}}]}}), "margo.argobots.xstreams[0].affinity[1]: expected integer, found boolean"),
            (json!({"argobots": {"pools": [{}], "xstreams": [{}]}}), "margo.argobots.xstreams[0].scheduler: missing (an xstream needs a scheduler with at least one pool)"),
            (json!({"argobots": {"xstreams": [{"name": "__primary__"}]}}), "margo.argobots.xstreams[0].scheduler: missing (an xstream needs a scheduler with at least one pool)"),
            (json!({"argobots": {"pools": [{}], "xstreams": [{"scheduler": true}]}}), "margo.argobots.xstreams[0].scheduler: expected object, found boolean"),
            (json!({"argobots": {"pools": [{}], "xstreams": [{"scheduler": {"type": true, "pools": [0]}}]}}), "margo.argobots.xstreams[0].scheduler.type: expected string, found boolean"),
            (json!({"argobots": {"pools": [{}], "xstreams": [{"scheduler": {"type": "XXX", "pools": [0]}}]}}), r#"margo.argobots.xstreams[0].scheduler.type: "XXX" is not one of default, basic, prio, randws, basic_wait"#),
            (json!({"argobots": {"pools": [{}], "xstreams": [{"scheduler": {"pools": true}}]}}), "margo.argobots.xstreams[0].scheduler.pools: expected array, found boolean"),
            (json!({"argobots": {"xstreams": [{"scheduler": {"pools": []}}]}}), "margo.argobots.xstreams[0].scheduler.pools: a scheduler needs at least one pool"),
            (json!({"argobots": {"xstreams": [{"name": "__primary__", "scheduler": {"pools": []}}]}}), "margo.argobots.xstreams[0].scheduler.pools: a scheduler needs at least one pool"),
            (json!({"argobots": {"pools": [{}], "xstreams": [{"scheduler": {"pools": [true]}}]}}), "margo.argobots.xstreams[0].scheduler.pools[0]: expected integer or string, found boolean"),
            (json!({"argobots": {"pools": [{}], "xstreams": [{"scheduler": {"pools": [0.0]}}]}}), "margo.argobots.xstreams[0].scheduler.pools[0]: expected integer or string, found number"),
            (json!({"argobots": {"pools": [{}], "xstreams": [{"scheduler": {"pools": [42]}}]}}), "margo.argobots.xstreams[0].scheduler.pools[0]: pool index 42 is out of range (1 pools available)"),
            (json!({"argobots": {"pools": [{}], "xstreams": [{"scheduler": {"pools": [-1]}}]}}), "margo.argobots.xstreams[0].scheduler.pools[0]: pool index -1 is out of range (1 pools available)"),
            (json!({"argobots": {"pools": [{}], "xstreams": [{"scheduler": {"pools": [0, "XXX"]}}]}}), r#"margo.argobots.xstreams[0].scheduler.pools[1]: there is no pool named "XXX""#),
            // A generated name cannot be referenced (upstream checks names in the input).
            (json!({"argobots": {"pools": [{}], "xstreams": [{"scheduler": {"pools": ["__pool_0__"]}}]}}), r#"margo.argobots.xstreams[0].scheduler.pools[0]: there is no pool named "__pool_0__""#),
            // Top-level scalars.
            (json!({"progress_spindown_msec": -1}), "margo.progress_spindown_msec: -1 is out of range (expected an integer between 0 and 2147483647)"),
            (json!({"progress_timeout_ub_msec": "100"}), "margo.progress_timeout_ub_msec: expected integer, found string"),
            (json!({"handle_cache_size": 1.5}), "margo.handle_cache_size: expected integer, found number"),
            (json!({"handle_cache_size": 4294967296u64}), "margo.handle_cache_size: 4294967296 is out of range (expected an integer between 0 and 2147483647)"),
            (json!({"handle_cache_size": u64::MAX}), "margo.handle_cache_size: 18446744073709551615 is out of range (expected a 64-bit signed integer)"),
            (json!({"enable_abt_profiling": "yes"}), "margo.enable_abt_profiling: expected boolean, found string"),
            (json!({"use_progress_thread": "XXX"}), "margo.use_progress_thread: expected boolean, found string"),
            (json!({"use_progress_thread": 1}), "margo.use_progress_thread: expected boolean, found integer"),
            (json!({"rpc_thread_count": "XXX"}), "margo.rpc_thread_count: expected integer, found string"),
            (json!({"rpc_thread_count": 2.0}), "margo.rpc_thread_count: expected integer, found number"),
            (json!({"rpc_thread_count": 100000}), "margo.rpc_thread_count: 100000 is out of range (expected at most 1024)"),
            // progress_pool / rpc_pool.
            (json!({"progress_pool": true}), "margo.progress_pool: expected integer or string, found boolean"),
            (json!({"progress_pool": 0}), "margo.progress_pool: pool index 0 is out of range (0 pools available)"),
            (json!({"progress_pool": -1}), "margo.progress_pool: pool index -1 is out of range (0 pools available)"),
            (json!({"argobots": {"pools": [{}], "xstreams": [{"scheduler": {"pools": [0]}}]}, "progress_pool": 42}), "margo.progress_pool: pool index 42 is out of range (1 pools available)"),
            (json!({"argobots": {"pools": [{"name": "my_pool"}]}, "progress_pool": "XXX"}), r#"margo.progress_pool: there is no pool named "XXX""#),
            (json!({"rpc_pool": [0]}), "margo.rpc_pool: expected integer or string, found array"),
            (json!({"argobots": {"pools": [{}]}, "rpc_pool": 1}), "margo.rpc_pool: pool index 1 is out of range (1 pools available)"),
            (json!({"argobots": {"pools": [{"name": "my_pool"}]}, "rpc_pool": "XXX"}), r#"margo.rpc_pool: there is no pool named "XXX""#),
        ];
        for (input, expected) in cases {
            let e = err(input.clone());
            assert_eq!(e.to_string(), expected, "input: {input}");
            if let Some(p) = e.path() {
                assert!(expected.starts_with(p), "path {p} of {input}");
            }
        }
    }

    #[test]
    fn null_values_count_as_absent() {
        let cfg = ok(json!({"mercury": null, "argobots": {"pools": null, "xstreams": null, "profiling_dir": null},
                            "progress_pool": null, "rpc_pool": null, "use_progress_thread": null,
                            "rpc_thread_count": null, "handle_cache_size": null, "plumber": null}));
        assert_eq!(cfg, MargoConfig::default());
    }

    #[test]
    fn error_path_prefix_is_configurable() {
        let e =
            MargoConfig::from_value_at(&json!({"argobots": {"pools": [{"kind": "x"}]}}), &InitOverrides::default(), "margo[2]")
                .unwrap_err();
        assert_eq!(e.path(), Some("margo[2].argobots.pools[0].kind"));
    }

    #[test]
    fn sanity_warnings_follow_upstream_checks() {
        assert!(MargoConfig::default().sanity_warnings().is_empty());
        assert!(ok(json!({"use_progress_thread": true, "rpc_thread_count": 2})).sanity_warnings().is_empty());
        // A pool that only appears after the progress pool on the same xstream.
        let cfg = ok(json!({"argobots": {"pools": [{"name": "__primary__"}, {"name": "p1"}],
            "xstreams": [{"name": "__primary__", "scheduler": {"pools": ["__primary__", "p1"]}}]}}));
        let w = cfg.sanity_warnings();
        assert_eq!(w.len(), 4, "{w:?}");
        assert!(w.iter().all(|m| m.contains("\"p1\"")));
    }

    #[test]
    fn enum_spellings() {
        for k in PoolKind::ALL {
            assert_eq!(PoolKind::parse(k.as_str()), Some(*k));
        }
        for a in PoolAccess::ALL {
            assert_eq!(PoolAccess::parse(a.as_str()), Some(*a));
        }
        for s in SchedulerType::ALL {
            assert_eq!(SchedulerType::parse(&s.to_string()), Some(*s));
        }
        assert_eq!(PoolKind::default(), PoolKind::FifoWait);
        assert_eq!(PoolAccess::default(), PoolAccess::Mpmc);
        assert_eq!(SchedulerType::default(), SchedulerType::BasicWait);
        assert_eq!(PoolKind::parse("FIFO"), None);
    }
}
