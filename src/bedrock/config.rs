//! Bedrock's configuration front end: the input pipeline (JSON / TOML text
//! → one JSON object), the static validation of that object into a
//! [`ServerConfig`], pure helpers for the checks that happen while providers
//! are created, and the assembly of the effective configuration Bedrock
//! reports ([`output_config`]).
//!
//! Error texts are upstream Bedrock's (see [`BedrockError`]). Checks that
//! need run-time state — a module type exists, dependencies resolve, a
//! library can be loaded — are not done here.

use super::error::BedrockError;
use crate::rpc::config::json_type;
use crate::rpc::config::{InitOverrides, MargoConfig};
use serde_json::{Map, Value};
use std::collections::HashSet;

type Result<T> = std::result::Result<T, BedrockError>;

/// Bedrock's own provider id when the `bedrock` section does not give one.
pub const DEFAULT_BEDROCK_PROVIDER_ID: u16 = 0;
/// Default `bedrock.dependency_resolution_timeout`, in seconds.
pub const DEFAULT_DEPENDENCY_RESOLUTION_TIMEOUT: f64 = 30.0;
/// A provider id of 65535 (or none) asks for an automatically chosen one.
pub const AUTO_PROVIDER_ID: u16 = u16::MAX;
/// The pattern provider names must match (reported in schema errors).
pub const PROVIDER_NAME_PATTERN: &str = "^[a-zA-Z_][a-zA-Z0-9_]*$";

// ---------------------------------------------------------------------------
// Input pipeline
// ---------------------------------------------------------------------------

/// Language of a configuration text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigFormat {
    Json,
    Toml,
    /// Accepted as a value so callers can say what they were given; loading
    /// always fails with [`BedrockError::Jx9NotSupported`].
    Jx9,
}

/// Turns configuration text into the JSON object the server is configured
/// from: parsing (an empty or blank text means `{}`), simplified-JSON
/// expansion of dotted keys (JSON only), `__if__` filtering, then
/// resolution of a root array (one element: that element; otherwise the
/// element of this process's MPI rank, `mpi` being `(rank, size)`, when
/// the array has one element per process).
pub fn load(text: &str, format: ConfigFormat, mpi: Option<(i32, i32)>) -> Result<Value> {
    select(parse_document(text, format)?, mpi)
}

/// The whole document as JSON, before `__if__` filtering and the choice of
/// this rank's part.
fn parse_document(text: &str, format: ConfigFormat) -> Result<Value> {
    match format {
        ConfigFormat::Jx9 => Err(BedrockError::Jx9NotSupported),
        ConfigFormat::Json => expand_simplified_json(parse_json(text)?),
        ConfigFormat::Toml => toml_to_json(text),
    }
}

/// True if a `dependencies` object anywhere in the document (the parts of
/// every rank included) names a provider by MPI rank (`name@3`,
/// `type:id@3`). Decided on the whole document so that every process of a
/// job started from one file decides alike: the address exchange this
/// triggers is collective.
fn uses_rank_locators(doc: &Value) -> bool {
    let is_rank_locator = |v: &Value| {
        v.as_str().and_then(|s| s.rsplit_once('@')).is_some_and(|(_, r)| !r.is_empty() && r.bytes().all(|b| b.is_ascii_digit()))
    };
    match doc {
        Value::Object(m) => m.iter().any(|(k, v)| {
            let direct = k == "dependencies"
                && v.as_object().is_some_and(|deps| {
                    deps.values().any(|d| is_rank_locator(d) || d.as_array().is_some_and(|a| a.iter().any(is_rank_locator)))
                });
            direct || uses_rank_locators(v)
        }),
        Value::Array(a) => a.iter().any(uses_rank_locators),
        _ => false,
    }
}

/// `__if__` filtering, then this rank's part of the document.
fn select(parsed: Value, mpi: Option<(i32, i32)>) -> Result<Value> {
    let filtered = filter_if_conditions(parsed)?.unwrap_or(Value::Null);
    let resolved = resolve_root_array(filtered, mpi)?;
    match resolved {
        Value::Null => Ok(Value::Object(Map::new())),
        Value::Object(m) => Ok(Value::Object(m)),
        other => Err(BedrockError::InvalidRoot(json_type(&other))),
    }
}

/// Parses JSON text (blank → `null`); errors read like upstream's parser
/// messages: `parse error at line L, column C: <what>`.
fn parse_json(text: &str) -> Result<Value> {
    if text.trim().is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_str(text).map_err(|e| {
        let full = e.to_string();
        let suffix = format!(" at line {} column {}", e.line(), e.column());
        let what = full.strip_suffix(&suffix).unwrap_or(&full);
        BedrockError::JsonParse(format!("parse error at line {}, column {}: {}", e.line(), e.column(), what))
    })
}

/// Converts a TOML document: tables → objects, arrays, strings, integers,
/// floats, booleans; dates and times are rejected.
pub fn toml_to_json(text: &str) -> Result<Value> {
    let table: toml::Table =
        text.parse().map_err(|e: toml::de::Error| BedrockError::TomlParse(e.to_string().trim_end().to_string()))?;
    toml_table_to_json(&table)
}

fn toml_table_to_json(table: &toml::Table) -> Result<Value> {
    let mut m = Map::new();
    for (k, v) in table {
        m.insert(k.clone(), toml_value_to_json(v)?);
    }
    Ok(Value::Object(m))
}

fn toml_value_to_json(v: &toml::Value) -> Result<Value> {
    Ok(match v {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Integer(i) => Value::from(*i),
        toml::Value::Float(f) => match serde_json::Number::from_f64(*f) {
            Some(n) => Value::Number(n),
            None => return Err(BedrockError::NonFiniteTomlFloat(f.to_string())),
        },
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Datetime(_) => return Err(BedrockError::InvalidTomlValue),
        toml::Value::Array(a) => Value::Array(a.iter().map(toml_value_to_json).collect::<Result<_>>()?),
        toml::Value::Table(t) => toml_table_to_json(t)?,
    })
}

/// How deep simplified-JSON expansion may nest the document: the nesting
/// limit of the JSON parser itself. Without a bound, one key made of
/// thousands of dots builds an object so deep that every later recursive
/// walk of the document (filtering, validation, dropping) overflows the
/// stack.
pub const MAX_EXPANDED_DEPTH: usize = 128;

/// Simplified-JSON expansion of a parsed document: in every object
/// (recursively through objects, not through arrays) a key `"a.b.c": v`
/// becomes `{"a": {"b": {"c": v}}}`, merged with its siblings. Keys are
/// processed in sorted order; a later key wins where values conflict (a
/// non-object in the way of a dotted path is replaced by an object).
/// A key whose expansion would nest the document deeper than
/// [`MAX_EXPANDED_DEPTH`] objects is an error naming that key.
///
/// A `null` root becomes `{}`; a root array has each of its object
/// elements expanded (the per-process configuration form); a scalar root
/// is an error.
pub fn expand_simplified_json(v: Value) -> Result<Value> {
    match v {
        Value::Null => Ok(Value::Object(Map::new())),
        Value::Object(m) => Ok(Value::Object(expand_object(&m, 0)?)),
        Value::Array(items) => Ok(Value::Array(
            items
                .into_iter()
                .map(|item| match item {
                    Value::Object(m) => expand_object(&m, 1).map(Value::Object),
                    other => Ok(other),
                })
                .collect::<Result<_>>()?,
        )),
        other => Err(BedrockError::InvalidRoot(json_type(&other))),
    }
}

/// `depth`: how many objects enclose the members of the object built.
fn expand_object(input: &Map<String, Value>, depth: usize) -> Result<Map<String, Value>> {
    let mut out = Map::new();
    expand_into(input, &mut out, depth)?;
    Ok(out)
}

fn expand_into(input: &Map<String, Value>, out: &mut Map<String, Value>, depth: usize) -> Result<()> {
    for (key, value) in input {
        let segments = key.split('.').count();
        if depth + segments > MAX_EXPANDED_DEPTH {
            return Err(BedrockError::KeyNestsTooDeep { key: abbreviate_key(key), limit: MAX_EXPANDED_DEPTH });
        }
        let segments: Vec<&str> = key.split('.').collect();
        insert_path(out, &segments, value, depth)?;
    }
    Ok(())
}

/// A key as error messages show it: whole when short, otherwise its start
/// and its length (such keys can be megabytes long).
fn abbreviate_key(key: &str) -> String {
    const SHOWN: usize = 64;
    match key.char_indices().nth(SHOWN) {
        None => key.to_string(),
        Some((cut, _)) => format!("{}... ({} bytes)", &key[..cut], key.len()),
    }
}

/// Stores `value` at `segments` under `map` (whose members are `depth`
/// objects deep), creating (or replacing non-object values by) the
/// intermediate objects; an object value is merged into what is already
/// there, itself being expanded. Iterates over the segments, so the walk
/// itself does not recurse per level.
fn insert_path(map: &mut Map<String, Value>, segments: &[&str], value: &Value, depth: usize) -> Result<()> {
    let Some((last, path)) = segments.split_last() else { return Ok(()) };
    let mut target = map;
    for segment in path {
        target = object_slot(target, segment);
    }
    if let Value::Object(nested) = value {
        let target = object_slot(target, last);
        expand_into(nested, target, depth + segments.len())
    } else {
        target.insert((*last).to_string(), value.clone());
        Ok(())
    }
}

/// The object stored under `key` in `map`, created (or replacing a
/// non-object value) when needed.
fn object_slot<'m>(map: &'m mut Map<String, Value>, key: &str) -> &'m mut Map<String, Value> {
    let slot = map.entry(key.to_string()).or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    match slot {
        Value::Object(m) => m,
        _ => unreachable!("the slot was just made an object"),
    }
}

/// `__if__` filtering: an object with an `__if__` member is kept only when
/// it is `true` (the member itself stays); removed objects vanish from
/// arrays and become `null` as object members. `None` means the value
/// itself was removed. As upstream, `null` array elements are dropped too.
/// A string condition is a Jx9 expression, which is not supported.
pub fn filter_if_conditions(v: Value) -> Result<Option<Value>> {
    match v {
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                match filter_if_conditions(item)? {
                    None | Some(Value::Null) => {}
                    Some(kept) => out.push(kept),
                }
            }
            Ok(Some(Value::Array(out)))
        }
        Value::Object(m) => {
            if let Some(cond) = m.get("__if__") {
                match cond {
                    Value::Bool(true) => {}
                    Value::Bool(false) => return Ok(None),
                    Value::String(s) => return Err(BedrockError::Jx9ConditionNotSupported(s.clone())),
                    _ => return Err(BedrockError::InvalidIfCondition),
                }
            }
            let mut out = Map::new();
            for (k, child) in m {
                let kept = filter_if_conditions(child)?.unwrap_or(Value::Null);
                out.insert(k, kept);
            }
            Ok(Some(Value::Object(out)))
        }
        other => Ok(Some(other)),
    }
}

/// A root array resolves to its only element, or to the element of this
/// process's rank when it has one element per MPI process.
fn resolve_root_array(v: Value, mpi: Option<(i32, i32)>) -> Result<Value> {
    let mut items = match v {
        Value::Array(items) => items,
        other => return Ok(other),
    };
    if items.len() == 1 {
        return Ok(items.swap_remove(0));
    }
    let (rank, size) = mpi.ok_or(BedrockError::ArrayWithoutMpi)?;
    if usize::try_from(size).ok() != Some(items.len()) {
        return Err(BedrockError::AmbiguousConfiguration);
    }
    match usize::try_from(rank) {
        Ok(r) if r < items.len() => Ok(items.swap_remove(r)),
        _ => Err(BedrockError::InvalidRank(rank.to_string())),
    }
}

// ---------------------------------------------------------------------------
// Validated configuration
// ---------------------------------------------------------------------------

/// A statically validated server configuration.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// One Margo configuration per engine (at least one); engines after the
    /// first share the first one's Argobots environment.
    pub margo: Vec<MargoConfig>,
    pub bedrock: BedrockSection,
    pub libraries: Libraries,
    /// In creation order.
    pub providers: Vec<ProviderSpec>,
    /// The document (any rank's part) has `name@RANK` dependencies: under
    /// an MPI launcher the server exchanges addresses with MPI at start-up.
    pub uses_rank_locators: bool,
}

/// The `bedrock` section.
#[derive(Debug, Clone, PartialEq)]
pub struct BedrockSection {
    pub provider_id: u16,
    /// Pool of Bedrock's own RPCs, by name; `None`: engine 0's RPC pool.
    pub pool: Option<String>,
    /// Seconds a remote provider lookup waits for the provider to appear.
    pub dependency_resolution_timeout: f64,
}

impl Default for BedrockSection {
    fn default() -> Self {
        BedrockSection {
            provider_id: DEFAULT_BEDROCK_PROVIDER_ID,
            pool: None,
            dependency_resolution_timeout: DEFAULT_DEPENDENCY_RESOLUTION_TIMEOUT,
        }
    }
}

impl BedrockSection {
    /// Parses the `bedrock` entry (`None` or `null`: defaults).
    pub fn from_value(v: Option<&Value>) -> Result<BedrockSection> {
        let m = match v {
            None | Some(Value::Null) => return Ok(BedrockSection::default()),
            Some(Value::Object(m)) => m,
            Some(_) => return Err(BedrockError::BedrockNotObject),
        };
        let mut section = BedrockSection::default();
        match m.get("dependency_resolution_timeout") {
            None | Some(Value::Null) => {}
            Some(Value::Number(n)) => {
                section.dependency_resolution_timeout = n.as_f64().ok_or(BedrockError::BedrockTimeoutType)?
            }
            Some(_) => return Err(BedrockError::BedrockTimeoutType),
        }
        match m.get("provider_id") {
            None | Some(Value::Null) => {}
            Some(Value::Number(n)) => {
                section.provider_id = n.as_u64().and_then(|u| u16::try_from(u).ok()).ok_or(BedrockError::BedrockProviderIdType)?
            }
            Some(_) => return Err(BedrockError::BedrockProviderIdType),
        }
        match m.get("pool") {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) => section.pool = Some(s.clone()),
            Some(_) => return Err(BedrockError::BedrockPoolType),
        }
        Ok(section)
    }

    /// Name of the pool Bedrock's RPCs run in, checked against engine 0's
    /// configuration (default: its RPC pool).
    pub fn pool_name(&self, engine0: &MargoConfig) -> Result<String> {
        match &self.pool {
            None => engine0.pools.get(engine0.rpc_pool).map(|p| p.name.clone()).ok_or_else(|| BedrockError::PoolIndexNotFound {
                index: engine0.rpc_pool as u64,
                reason: "no such pool".to_string(),
            }),
            Some(name) => match engine0.pool_by_name(name) {
                Some(_) => Ok(name.clone()),
                None => Err(BedrockError::PoolNotFound {
                    name: name.clone(),
                    reason: "no pool with this name in the Margo configuration".to_string(),
                }),
            },
        }
    }
}

/// How `libraries` was written; the effective configuration reports it in
/// the same form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LibrariesForm {
    /// `["libfoo.so", ...]` (upstream's current form).
    Array,
    /// `{"<module>": "libfoo.so", ...}` (older tutorials' form).
    Object,
}

/// One library to load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LibrarySpec {
    /// The key in the object form; `None` in the array form and for
    /// libraries loaded at run time.
    pub module: Option<String>,
    pub path: String,
}

/// The `libraries` section; the loaded set grows when modules are loaded at
/// run time ([`Libraries::record_loaded`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Libraries {
    pub form: LibrariesForm,
    /// In load order (object form: sorted by module name).
    pub entries: Vec<LibrarySpec>,
}

impl Default for Libraries {
    fn default() -> Self {
        Libraries { form: LibrariesForm::Array, entries: Vec::new() }
    }
}

impl Libraries {
    /// Parses the `libraries` entry: an array of strings or an object whose
    /// values are strings (`None` or `null`: nothing to load). Every element
    /// is checked before anything is loaded, as upstream does.
    pub fn from_value(v: Option<&Value>) -> Result<Libraries> {
        match v {
            None | Some(Value::Null) => Ok(Libraries::default()),
            Some(Value::Array(items)) => {
                let entries = items
                    .iter()
                    .map(|item| match item {
                        Value::String(s) => Ok(LibrarySpec { module: None, path: s.clone() }),
                        _ => Err(BedrockError::LibraryNotString),
                    })
                    .collect::<Result<Vec<_>>>()?;
                Ok(Libraries { form: LibrariesForm::Array, entries })
            }
            Some(Value::Object(m)) => {
                let entries = m
                    .iter()
                    .map(|(module, item)| match item {
                        Value::String(s) => Ok(LibrarySpec { module: Some(module.clone()), path: s.clone() }),
                        _ => Err(BedrockError::LibraryNotString),
                    })
                    .collect::<Result<Vec<_>>>()?;
                Ok(Libraries { form: LibrariesForm::Object, entries })
            }
            Some(_) => Err(BedrockError::LibrariesNotArray),
        }
    }

    /// Paths in load order, each once (a library is loaded only once).
    pub fn paths(&self) -> Vec<&str> {
        let mut seen = HashSet::new();
        self.entries.iter().map(|e| e.path.as_str()).filter(|p| seen.insert(*p)).collect()
    }

    /// Records a library loaded at run time; false if it was already there.
    pub fn record_loaded(&mut self, path: &str) -> bool {
        if self.entries.iter().any(|e| e.path == path) {
            return false;
        }
        self.entries.push(LibrarySpec { module: None, path: path.to_string() });
        true
    }

    /// The reported `libraries`: the array of paths (each once, load order),
    /// or for the object form the object `{module: path}` (a library loaded
    /// at run time is keyed by its path).
    pub fn to_json(&self) -> Value {
        match self.form {
            LibrariesForm::Array => Value::Array(self.paths().into_iter().map(|p| Value::String(p.to_string())).collect()),
            LibrariesForm::Object => {
                let mut m = Map::new();
                for e in &self.entries {
                    let key = e.module.clone().unwrap_or_else(|| e.path.clone());
                    m.entry(key).or_insert_with(|| Value::String(e.path.clone()));
                }
                Value::Object(m)
            }
        }
    }
}

/// One entry of `providers`, validated against upstream's schema.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderSpec {
    pub name: String,
    pub type_name: String,
    /// `None` when absent or 65535: chosen at creation
    /// ([`auto_provider_id`]).
    pub provider_id: Option<u16>,
    pub tags: Vec<String>,
    /// Always an object (`{}` when absent).
    pub config: Value,
    /// As given (values: string, integer, or array of strings/integers);
    /// read them with [`super::dependency_spec::dependency_specs`].
    pub dependencies: Map<String, Value>,
    /// Engine index (default 0).
    pub engine: usize,
}

impl ProviderSpec {
    /// Step 1 of provider creation: schema validation (JSON-Schema of
    /// upstream's ProviderManager; failures →
    /// `Error validating JSON (ProviderManager): <validator message>`).
    /// Keys other than those of the schema are ignored.
    pub fn from_value(v: &Value) -> Result<ProviderSpec> {
        validate_provider_schema(v).map_err(BedrockError::provider_validation)?;
        let m = match v {
            Value::Object(m) => m,
            _ => return Err(BedrockError::provider_validation(schema_error("", v, "unexpected instance type"))),
        };
        let text = |k: &str| m.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
        let provider_id = match m.get("provider_id").and_then(Value::as_u64) {
            Some(id) if id < u64::from(AUTO_PROVIDER_ID) => Some(id as u16),
            _ => None,
        };
        let tags = match m.get("tags") {
            Some(Value::Array(a)) => a.iter().filter_map(|t| t.as_str().map(str::to_string)).collect(),
            _ => Vec::new(),
        };
        let config = match m.get("config") {
            Some(Value::Object(c)) => Value::Object(c.clone()),
            _ => Value::Object(Map::new()),
        };
        let dependencies = match m.get("dependencies") {
            Some(Value::Object(d)) => d.clone(),
            _ => Map::new(),
        };
        let engine = match m.get("engine").and_then(Value::as_u64) {
            Some(e) => usize::try_from(e).unwrap_or(usize::MAX),
            None => 0,
        };
        Ok(ProviderSpec { name: text("name"), type_name: text("type"), provider_id, tags, config, dependencies, engine })
    }

    /// Parses a provider description given as JSON text (as received by
    /// the `bedrock_start_provider` RPC), then validates it.
    pub fn from_json_str(text: &str) -> Result<ProviderSpec> {
        let v: Value = serde_json::from_str(text)
            .map_err(|e| BedrockError::JsonParseContext { context: "ProviderManager".to_string(), message: e.to_string() })?;
        ProviderSpec::from_value(&v)
    }

    /// The requested id as upstream sees it (65535 = automatic).
    pub fn requested_provider_id(&self) -> u16 {
        self.provider_id.unwrap_or(AUTO_PROVIDER_ID)
    }

    /// Steps 2–3 of provider creation: the engine index exists, and the
    /// requested provider id is not Bedrock's own (as upstream, this
    /// compares the *requested* id, 65535 when automatic).
    pub fn check_engine_and_bedrock_id(&self, num_engines: usize, bedrock_provider_id: u16) -> Result<()> {
        if self.engine >= num_engines {
            return Err(BedrockError::InvalidEngineIndex { index: self.engine as u64, count: num_engines });
        }
        if self.requested_provider_id() == bedrock_provider_id {
            return Err(BedrockError::BedrockProviderIdInUse(bedrock_provider_id));
        }
        Ok(())
    }
}

/// Step 7 of provider creation: the smallest provider id in `[0, 65534)`
/// used neither by Bedrock itself nor by an existing provider.
pub fn auto_provider_id(used: &[u16], bedrock_id: u16) -> Option<u16> {
    let used: HashSet<u16> = used.iter().copied().chain(std::iter::once(bedrock_id)).collect();
    (0..AUTO_PROVIDER_ID - 1).find(|id| !used.contains(id))
}

/// Steps 6–8 of provider creation, against the providers that already
/// exist (`(name, provider_id)` pairs): the name is free, the id is chosen
/// if automatic, and the id is free. Returns the provider's id.
pub fn check_new_provider<'a>(
    name: &str,
    requested: Option<u16>,
    existing: impl IntoIterator<Item = (&'a str, u16)>,
    bedrock_id: u16,
) -> Result<u16> {
    let existing: Vec<(&str, u16)> = existing.into_iter().collect();
    if existing.iter().any(|(n, _)| *n == name) {
        return Err(BedrockError::NameInUse(name.to_string()));
    }
    let id = match requested.filter(|id| *id != AUTO_PROVIDER_ID) {
        Some(id) => id,
        None => {
            let used: Vec<u16> = existing.iter().map(|(_, id)| *id).collect();
            auto_provider_id(&used, bedrock_id).ok_or(BedrockError::NoProviderIdAvailable)?
        }
    };
    if existing.iter().any(|(_, i)| *i == id) {
        return Err(BedrockError::ProviderIdInUse(id));
    }
    Ok(id)
}

// ---------------------------------------------------------------------------
// Provider schema (upstream's JSON-Schema, validated by hand so that the
// first error reported is the one upstream's validator reports, in its
// words: "At <json pointer> of <instance> - <message>").
// ---------------------------------------------------------------------------

fn schema_error(pointer: &str, instance: &Value, message: &str) -> String {
    let dumped = serde_json::to_string(instance).unwrap_or_default();
    format!("At {pointer} of {dumped} - {message}")
}

fn is_integer(v: &Value) -> bool {
    matches!(v, Value::Number(n) if n.is_i64() || n.is_u64())
}

/// The integer as upstream's validator sees it (a signed 64-bit value).
fn as_signed(v: &Value) -> i64 {
    match v {
        Value::Number(n) => n.as_i64().unwrap_or_else(|| n.as_u64().map_or(0, |u| u as i64)),
        _ => 0,
    }
}

fn matches_name_pattern(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty() && (b[0].is_ascii_alphabetic() || b[0] == b'_') && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

fn check_integer_range(pointer: &str, v: &Value, min: i64, max: Option<i64>) -> std::result::Result<(), String> {
    if !is_integer(v) {
        return Err(schema_error(pointer, v, "unexpected instance type"));
    }
    let x = as_signed(v);
    if let Some(max) = max {
        if x > max {
            return Err(schema_error(pointer, v, &format!("instance exceeds maximum of {max}")));
        }
    }
    if x < min {
        return Err(schema_error(pointer, v, &format!("instance is below minimum of {min}")));
    }
    Ok(())
}

fn is_dependency_value(v: &Value) -> bool {
    match v {
        Value::String(_) => true,
        v if is_integer(v) => true,
        Value::Array(items) => items.iter().all(|i| i.is_string() || is_integer(i)),
        _ => false,
    }
}

fn validate_provider_schema(v: &Value) -> std::result::Result<(), String> {
    let m = match v {
        Value::Object(m) => m,
        _ => return Err(schema_error("", v, "unexpected instance type")),
    };
    for required in ["name", "type"] {
        if !m.contains_key(required) {
            return Err(schema_error("", v, &format!("required property '{required}' not found in object")));
        }
    }
    // Properties in key order (upstream's JSON objects are sorted maps).
    for (key, value) in m {
        let pointer = format!("/{key}");
        match key.as_str() {
            "config" if !value.is_object() => {
                return Err(schema_error(&pointer, value, "unexpected instance type"));
            }
            "dependencies" => {
                let deps = match value {
                    Value::Object(d) => d,
                    _ => return Err(schema_error(&pointer, value, "unexpected instance type")),
                };
                for (dep, dv) in deps {
                    if !is_dependency_value(dv) {
                        return Err(schema_error(
                            &pointer,
                            value,
                            &format!(
                                "validation failed for additional property '{dep}': no subschema has succeeded, \
                                 but one of them is required to validate. Type: anyOf, number of failed subschemas: 3"
                            ),
                        ));
                    }
                }
            }
            "engine" => check_integer_range(&pointer, value, 0, None)?,
            "name" => match value {
                Value::String(s) if matches_name_pattern(s) => {}
                Value::String(_) => {
                    return Err(schema_error(
                        &pointer,
                        value,
                        &format!("instance does not match regex pattern: {PROVIDER_NAME_PATTERN}"),
                    ))
                }
                _ => return Err(schema_error(&pointer, value, "unexpected instance type")),
            },
            "provider_id" => check_integer_range(&pointer, value, 0, Some(i64::from(u16::MAX)))?,
            "tags" => {
                let items = match value {
                    Value::Array(a) => a,
                    _ => return Err(schema_error(&pointer, value, "unexpected instance type")),
                };
                if let Some((i, bad)) = items.iter().enumerate().find(|(_, t)| !t.is_string()) {
                    return Err(schema_error(&format!("{pointer}/{i}"), bad, "unexpected instance type"));
                }
            }
            "type" if !value.is_string() => {
                return Err(schema_error(&pointer, value, "unexpected instance type"));
            }
            _ => {}
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Whole-document validation
// ---------------------------------------------------------------------------

/// Parses the Margo part: absent/`null` or an object → one engine; a
/// non-empty array → one engine per element (engines after the first share
/// the first one's Argobots environment).
pub fn parse_margo_section(v: Option<&Value>) -> Result<Vec<MargoConfig>> {
    let overrides = InitOverrides::default();
    match v {
        None => Ok(vec![MargoConfig::from_value(&Value::Null, &overrides)?]),
        Some(Value::Array(items)) => {
            let first = items.first().ok_or(BedrockError::EmptyMargoArray)?;
            let primary = MargoConfig::from_value_at(first, &overrides, "margo[0]")?;
            let mut engines = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate().skip(1) {
                engines.push(MargoConfig::from_value_with_parent(item, &primary, &format!("margo[{i}]"))?);
            }
            engines.insert(0, primary);
            Ok(engines)
        }
        Some(other) => Ok(vec![MargoConfig::from_value(other, &overrides)?]),
    }
}

/// Validates a loaded configuration ([`load`]'s output) in upstream's
/// order — Margo section, `bedrock` section, `libraries`, then each
/// provider: schema, engine index, Bedrock's provider id, (module type and
/// dependencies: run time, not checked here), name not yet used, automatic
/// id, id not yet used.
pub fn parse_server_config(v: &Value) -> Result<ServerConfig> {
    let empty = Map::new();
    let root = match v {
        Value::Null => &empty,
        Value::Object(m) => m,
        other => return Err(BedrockError::InvalidRoot(json_type(other))),
    };
    let margo = parse_margo_section(root.get("margo"))?;
    let bedrock = BedrockSection::from_value(root.get("bedrock"))?;
    bedrock.pool_name(&margo[0])?;
    let libraries = Libraries::from_value(root.get("libraries"))?;

    let entries: &[Value] = match root.get("providers") {
        None | Some(Value::Null) => &[],
        Some(Value::Array(a)) => a,
        Some(_) => return Err(BedrockError::ProvidersNotArray),
    };
    let mut providers: Vec<ProviderSpec> = Vec::with_capacity(entries.len());
    let mut registered: Vec<(String, u16)> = Vec::with_capacity(entries.len());
    for entry in entries {
        let spec = ProviderSpec::from_value(entry)?;
        spec.check_engine_and_bedrock_id(margo.len(), bedrock.provider_id)?;
        let id = check_new_provider(
            &spec.name,
            spec.provider_id,
            registered.iter().map(|(n, id)| (n.as_str(), *id)),
            bedrock.provider_id,
        )?;
        registered.push((spec.name.clone(), id));
        providers.push(spec);
    }
    Ok(ServerConfig { margo, bedrock, libraries, providers, uses_rank_locators: false })
}

impl ServerConfig {
    /// [`load`] then [`parse_server_config`].
    pub fn from_text(text: &str, format: ConfigFormat, mpi: Option<(i32, i32)>) -> Result<ServerConfig> {
        let parsed = parse_document(text, format)?;
        let rank_locators = uses_rank_locators(&parsed);
        let mut cfg = parse_server_config(&select(parsed, mpi)?)?;
        cfg.uses_rank_locators = rank_locators;
        Ok(cfg)
    }

    /// Name of the pool Bedrock's own RPCs use.
    pub fn bedrock_pool_name(&self) -> Result<String> {
        self.bedrock.pool_name(&self.margo[0])
    }

    /// The address engine `index` is created with (see [`engine_address`]).
    pub fn engine_address(&self, cli_address: &str, index: usize) -> Result<String> {
        let margo = self.margo.get(index).ok_or(BedrockError::EngineIndexOutOfRange { index, count: self.margo.len() })?;
        engine_address(cli_address, margo, index)
    }
}

/// The address (or protocol) an engine is initialised with: the command
/// line's when given; otherwise the protocol of `mercury.address` in its
/// Margo configuration (the text before the first `:`).
pub fn engine_address(cli_address: &str, margo: &MargoConfig, index: usize) -> Result<String> {
    if !cli_address.is_empty() {
        return Ok(cli_address.to_string());
    }
    match margo.mercury.get("address") {
        Some(Value::String(a)) => match a.find(':') {
            Some(colon) if colon > 0 => Ok(a[..colon].to_string()),
            _ => Err(BedrockError::ProtocolInference(index)),
        },
        _ => Err(BedrockError::ProtocolInference(index)),
    }
}

// ---------------------------------------------------------------------------
// Effective configuration
// ---------------------------------------------------------------------------

/// What a provider reports in the effective configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderReport {
    pub name: String,
    pub type_name: String,
    pub provider_id: u16,
    pub engine: usize,
    /// The component's own configuration.
    pub config: Value,
    pub tags: Vec<String>,
    /// Declared and resolved dependencies (see [`report_dependencies`]).
    pub dependencies: Map<String, Value>,
}

impl ProviderReport {
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("config".into(), self.config.clone());
        m.insert("dependencies".into(), Value::Object(self.dependencies.clone()));
        m.insert("engine".into(), Value::from(self.engine));
        m.insert("name".into(), Value::String(self.name.clone()));
        m.insert("provider_id".into(), Value::from(self.provider_id));
        m.insert("tags".into(), Value::Array(self.tags.iter().map(|t| Value::String(t.clone())).collect()));
        m.insert("type".into(), Value::String(self.type_name.clone()));
        Value::Object(m)
    }
}

/// The reported `dependencies` object from `(dependency name, resolved
/// names, declared as array)` triples, in declaration order: an array
/// dependency reports the list of resolved names, any other the single
/// resolved name; a dependency with nothing resolved is omitted.
pub fn report_dependencies<'a, I, N>(deps: I) -> Map<String, Value>
where
    I: IntoIterator<Item = (&'a str, N, bool)>,
    N: IntoIterator<Item = &'a str>,
{
    let mut m = Map::new();
    for (name, resolved, is_array) in deps {
        let resolved: Vec<Value> = resolved.into_iter().map(|s| Value::String(s.to_string())).collect();
        if resolved.is_empty() {
            continue;
        }
        let value = if is_array { Value::Array(resolved) } else { resolved.into_iter().next().unwrap_or(Value::Null) };
        m.insert(name.to_string(), value);
    }
    m
}

/// Assembles the effective configuration (keys sorted at every level, as
/// `serde_json`'s map is ordered): `bedrock {pool, provider_id}`,
/// `libraries`, `margo` (each engine's reported Margo configuration: an
/// object for one engine, an array for several) and `providers` (in
/// creation order).
pub fn output_config(
    margo: &[Value],
    bedrock_pool: &str,
    bedrock_provider_id: u16,
    libraries: &Libraries,
    providers: &[ProviderReport],
) -> Value {
    let mut bedrock = Map::new();
    bedrock.insert("pool".into(), Value::String(bedrock_pool.to_string()));
    bedrock.insert("provider_id".into(), Value::from(bedrock_provider_id));
    let margo = match margo {
        [single] => single.clone(),
        many => Value::Array(many.to_vec()),
    };
    let mut root = Map::new();
    root.insert("bedrock".into(), Value::Object(bedrock));
    root.insert("libraries".into(), libraries.to_json());
    root.insert("margo".into(), margo);
    root.insert("providers".into(), Value::Array(providers.iter().map(ProviderReport::to_json).collect()));
    Value::Object(root)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::config::RuntimeInfo;
    use serde_json::json;

    const VALID: &str = include_str!("../../tests/data/bedrock/valid-configs.json");
    const INVALID: &str = include_str!("../../tests/data/bedrock/invalid-configs.json");
    const SEED_BASIC: &str = include_str!("../../tests/data/bedrock/seed-basic-config.json");
    const SEED_DEPENDENCY: &str = include_str!("../../tests/data/bedrock/seed-with-dependency.json");
    const SEED_DISTRIBUTED: &str = include_str!("../../tests/data/bedrock/seed-distributed-config.json");

    fn load_json(text: &str) -> Value {
        load(text, ConfigFormat::Json, None).unwrap()
    }

    fn parse_text(text: &str) -> Result<ServerConfig> {
        ServerConfig::from_text(text, ConfigFormat::Json, None)
    }

    fn err_text(text: &str) -> String {
        parse_text(text).unwrap_err().to_string()
    }

    /// What a server started from `cfg` would report (providers as created
    /// from their specs, with no dependencies resolved), without the
    /// run-time `mercury` and `version` keys.
    fn effective(cfg: &ServerConfig) -> Value {
        let margo: Vec<Value> = cfg
            .margo
            .iter()
            .map(|m| {
                let mut v = m.to_json(&RuntimeInfo::default());
                let o = v.as_object_mut().unwrap();
                o.remove("mercury");
                o.remove("version");
                v
            })
            .collect();
        let mut registered: Vec<(String, u16)> = Vec::new();
        let mut reports = Vec::new();
        for p in &cfg.providers {
            let id = check_new_provider(
                &p.name,
                p.provider_id,
                registered.iter().map(|(n, i)| (n.as_str(), *i)),
                cfg.bedrock.provider_id,
            )
            .unwrap();
            registered.push((p.name.clone(), id));
            reports.push(ProviderReport {
                name: p.name.clone(),
                type_name: p.type_name.clone(),
                provider_id: id,
                engine: p.engine,
                config: p.config.clone(),
                tags: p.tags.clone(),
                dependencies: Map::new(),
            });
        }
        output_config(&margo, &cfg.bedrock_pool_name().unwrap(), cfg.bedrock.provider_id, &cfg.libraries, &reports)
    }

    // ----- upstream test vectors -----

    #[test]
    fn every_valid_case_produces_upstreams_output() {
        let cases: Vec<Value> = serde_json::from_str(VALID).unwrap();
        assert_eq!(cases.len(), 4);
        for case in cases {
            let name = case["test"].as_str().unwrap();
            let input = serde_json::to_string(&case["input"]).unwrap();
            let cfg = parse_text(&input).unwrap_or_else(|e| panic!("{name}: {e}"));
            let out = effective(&cfg);
            assert_eq!(out, case["output"], "{name}");
            // Sorted keys at every level: the text is upstream's dump.
            assert_eq!(serde_json::to_string(&out).unwrap(), serde_json::to_string(&case["output"]).unwrap(), "{name}");
        }
    }

    /// Invalid cases that need run-time state (loading a library, looking a
    /// module type up); everything else must be rejected statically.
    const RUNTIME_INVALID: &[&str] = &["library not found", "invalid provider type in provider definition"];

    #[test]
    fn every_static_invalid_case_is_rejected() {
        let cases: Vec<Value> = serde_json::from_str(INVALID).unwrap();
        assert_eq!(cases.len(), 16);
        let expected: &[(&str, &str)] = &[
            ("invalid type for libraries field", "\"libraries\" field needs to be an array"),
            ("invalid type for library", "Module library should be a string"),
            (
                "invalid type of provider field",
                "Invalid JSON configuration passed to ProviderManager::addProviderListFromJSON (should be an array)",
            ),
            (
                "invalid type of provider definition",
                "Error validating JSON (ProviderManager): At  of true - unexpected instance type",
            ),
            (
                "no provider type in provider definition",
                "Error validating JSON (ProviderManager): At  of {\"name\":\"my_provider\",\"provider_id\":123} - required property 'type' not found in object",
            ),
            (
                "invalid type for provider name in provider definition",
                "Error validating JSON (ProviderManager): At /name of true - unexpected instance type",
            ),
            (
                "invalid type for provider type in provider definition",
                "Error validating JSON (ProviderManager): At /type of true - unexpected instance type",
            ),
            (
                "invalid type for provider_id in provider definition",
                "Error validating JSON (ProviderManager): At /provider_id of true - unexpected instance type",
            ),
            (
                "invalid provider_id value in provider definition",
                "Error validating JSON (ProviderManager): At /provider_id of -1 - instance is below minimum of 0",
            ),
            (
                "invalid config type in provider definition",
                "Error validating JSON (ProviderManager): At /config of true - unexpected instance type",
            ),
            (
                "provider definition without a name",
                "Error validating JSON (ProviderManager): At  of {\"provider_id\":123,\"type\":\"module_a\"} - required property 'name' not found in object",
            ),
            (
                "empty provider name in provider definition",
                "Error validating JSON (ProviderManager): At /name of \"\" - instance does not match regex pattern: ^[a-zA-Z_][a-zA-Z0-9_]*$",
            ),
            ("two providers with the same name", "Name \"my_provider\" already used by another provider"),
            ("two providers with the same provider id", "Another provider already uses provider ID 42"),
        ];
        let mut checked = 0;
        for case in &cases {
            let name = case["test"].as_str().unwrap();
            let input = serde_json::to_string(&case["input"]).unwrap();
            let result = parse_text(&input);
            if RUNTIME_INVALID.contains(&name) {
                assert!(result.is_ok(), "{name} is only detectable at run time: {result:?}");
                continue;
            }
            let (_, text) = expected.iter().find(|(n, _)| *n == name).unwrap_or_else(|| panic!("no expectation for {name}"));
            assert_eq!(result.unwrap_err().to_string(), *text, "{name}");
            checked += 1;
        }
        assert_eq!(checked, expected.len());
        assert_eq!(checked + RUNTIME_INVALID.len(), cases.len());
    }

    #[test]
    fn runtime_invalid_cases_parse_to_what_the_runtime_must_reject() {
        let cfg = parse_text(r#"{"libraries":["abc.so"]}"#).unwrap();
        assert_eq!(cfg.libraries.paths(), vec!["abc.so"]);
        let cfg = parse_text(r#"{"providers":[{"name":"my_provider","provider_id":123,"type":"module_invalid"}]}"#).unwrap();
        assert_eq!(cfg.providers[0].type_name, "module_invalid");
    }

    // ----- the tutorial's configurations -----

    #[test]
    fn seed_configs_validate() {
        let basic = parse_text(SEED_BASIC).unwrap();
        assert_eq!(basic.libraries.form, LibrariesForm::Object);
        assert_eq!(basic.libraries.paths(), vec!["libflock-bedrock-module.so"]);
        assert_eq!(basic.providers.len(), 1);
        let p = &basic.providers[0];
        assert_eq!((p.name.as_str(), p.type_name.as_str(), p.provider_id), ("my_group", "flock", Some(1)));
        assert_eq!(p.config["bootstrap"], "self");
        assert_eq!(p.config["group"], json!({"type": "static", "config": {}}));
        assert_eq!(p.config["file"], "my_group.flock");

        let dep = parse_text(SEED_DEPENDENCY).unwrap();
        assert_eq!(dep.libraries.paths(), vec!["libflock-bedrock-module.so", "libyokan-bedrock-module.so"]);
        assert_eq!(dep.providers[1].dependencies["flock_group"], "my_group");
        assert_eq!(dep.providers[1].provider_id, Some(42));

        let dist = parse_text(SEED_DISTRIBUTED).unwrap();
        assert_eq!(dist.margo.len(), 1);
        let m = &dist.margo[0];
        assert_eq!(m.pools[m.rpc_pool].name, "rpc_pool");
        assert_eq!(dist.bedrock_pool_name().unwrap(), "rpc_pool");
        assert_eq!(dist.providers[0].config["bootstrap"], "mpi");
        assert_eq!(dist.providers[1].dependencies["group"], "service_group");
    }

    #[test]
    fn seed_config_output_keeps_the_object_form_of_libraries() {
        let cfg = parse_text(SEED_DEPENDENCY).unwrap();
        let out = effective(&cfg);
        assert_eq!(out["libraries"], json!({"flock": "libflock-bedrock-module.so", "yokan": "libyokan-bedrock-module.so"}));
        assert_eq!(out["providers"][0]["name"], "my_group");
        assert_eq!(out["providers"][1]["provider_id"], 42);
        assert_eq!(out["bedrock"], json!({"pool": "__primary__", "provider_id": 0}));
    }

    // ----- input pipeline -----

    #[test]
    fn empty_text_is_an_empty_object() {
        assert_eq!(load_json(""), json!({}));
        assert_eq!(load_json("  \n"), json!({}));
        assert_eq!(load_json("null"), json!({}));
        assert_eq!(load("", ConfigFormat::Toml, None).unwrap(), json!({}));
    }

    #[test]
    fn json_syntax_errors_carry_the_parser_message() {
        let e = load("{[", ConfigFormat::Json, None).unwrap_err();
        assert!(matches!(e, BedrockError::JsonParse(_)));
        assert_eq!(e.to_string(), "parse error at line 1, column 2: key must be a string");
        let e = load("{\"a\": 1,}", ConfigFormat::Json, None).unwrap_err().to_string();
        assert!(e.starts_with("parse error at line 1, column 9: "), "{e}");
    }

    #[test]
    fn rank_locators_are_found_in_any_part_of_the_document() {
        let cfg = |t: &str| ServerConfig::from_text(t, ConfigFormat::Json, Some((0, 2))).unwrap().uses_rank_locators;
        assert!(!cfg(r#"{"providers":[{"name":"a","type":"t","dependencies":{"x":"b@local","y":"c@na+sm://1-0"}}]}"#));
        assert!(cfg(r#"{"providers":[{"name":"a","type":"t","dependencies":{"x":"b@1"}}]}"#));
        assert!(cfg(r#"{"providers":[{"name":"a","type":"t","dependencies":{"x":["b","t:3@0"]}}]}"#));
        // Rank 0 reads the first part, but rank 1's part decides for both.
        assert!(cfg(r#"[{}, {"providers":[{"name":"a","type":"t","dependencies":{"x":"b@0"}}]}]"#));
        // Only dependencies count, not module configs.
        assert!(!cfg(r#"{"providers":[{"name":"a","type":"t","config":{"mail":"x@1"}}]}"#));
    }

    #[test]
    fn jx9_is_not_supported() {
        let e = load("return {};", ConfigFormat::Jx9, None).unwrap_err();
        assert_eq!(e, BedrockError::Jx9NotSupported);
        assert!(e.to_string().contains("not supported"));
        assert!(ServerConfig::from_text("+&*", ConfigFormat::Jx9, None).is_err());
    }

    #[test]
    fn toml_with_two_pools() {
        let text = r#"
[margo]
use_progress_thread = false

[[margo.argobots.pools]]
name   = "my_pool_1"
access = "mpmc"
kind   = "fifo_wait"

[[margo.argobots.pools]]
name   = "my_pool_2"
access = "mpmc"
kind   = "fifo"
"#;
        let cfg = ServerConfig::from_text(text, ConfigFormat::Toml, None).unwrap();
        let m = &cfg.margo[0];
        assert_eq!(m.pools.len(), 3);
        assert_eq!(m.pools[0].name, "my_pool_1");
        assert_eq!(m.pools[1].name, "my_pool_2");
        assert_eq!(m.pools[2].name, "__primary__");
        assert_eq!(cfg.bedrock_pool_name().unwrap(), "__primary__");
    }

    #[test]
    fn toml_full_document() {
        let text = r#"
libraries = ["liba.so", "libflock-bedrock-module.so"]

[bedrock]
provider_id = 7
dependency_resolution_timeout = 2.5

[margo]
use_progress_thread = true

  [[margo.argobots.pools]]
  name = "p1"

[[providers]]
name = "first"
type = "yokan"
provider_id = 1
tags = ["a", "b"]
  [providers.config.database]
  type = "map"

[[providers]]
name = "second"
type = "flock"
  [providers.config]
  bootstrap = ["join", "mpi"]
  group = { "type" = "centralized" }
  [providers.dependencies]
  db = "first"
  pools = ["p1", 0]
"#;
        let cfg = ServerConfig::from_text(text, ConfigFormat::Toml, None).unwrap();
        assert_eq!(cfg.bedrock.provider_id, 7);
        assert_eq!(cfg.bedrock.dependency_resolution_timeout, 2.5);
        assert_eq!(cfg.libraries.paths(), vec!["liba.so", "libflock-bedrock-module.so"]);
        assert_eq!(cfg.providers[0].tags, vec!["a", "b"]);
        assert_eq!(cfg.providers[0].config, json!({"database": {"type": "map"}}));
        assert_eq!(cfg.providers[1].provider_id, None);
        assert_eq!(cfg.providers[1].dependencies["pools"], json!(["p1", 0]));
        assert_eq!(cfg.providers[1].config["group"], json!({"type": "centralized"}));
        // progress pool generated by use_progress_thread
        let m = &cfg.margo[0];
        assert_eq!(m.pools[m.progress_pool].name, "__pool_2__");
    }

    #[test]
    fn toml_dates_and_syntax_errors() {
        let e = load("when = 1979-05-27T07:32:00Z", ConfigFormat::Toml, None).unwrap_err();
        assert_eq!(e.to_string(), "Invalid TOML value encountered");
        let e = load("[x]\nd = 1979-05-27", ConfigFormat::Toml, None).unwrap_err();
        assert_eq!(e, BedrockError::InvalidTomlValue);
        let e = load("a = nan", ConfigFormat::Toml, None).unwrap_err();
        assert!(matches!(e, BedrockError::NonFiniteTomlFloat(_)));
        let e = load("a = = 1", ConfigFormat::Toml, None).unwrap_err();
        assert!(matches!(e, BedrockError::TomlParse(_)));
        assert!(!e.to_string().is_empty());
    }

    #[test]
    fn toml_keys_are_not_expanded() {
        // Dotted keys are TOML syntax already; a quoted key stays as is.
        let v = load("\"a.b\" = 1\nc.d = 2", ConfigFormat::Toml, None).unwrap();
        assert_eq!(v, json!({"a.b": 1, "c": {"d": 2}}));
    }

    #[test]
    fn dotted_keys_are_expanded() {
        assert_eq!(
            load_json(r#"{"margo.argobots.abt_mem_max_num_stacks": 16, "margo.rpc_pool": "__primary__"}"#),
            json!({"margo": {"argobots": {"abt_mem_max_num_stacks": 16}, "rpc_pool": "__primary__"}})
        );
        // Merged with an existing object, recursively inside nested objects.
        assert_eq!(load_json(r#"{"a": {"x": 1, "y.z": 2}, "a.b": 3}"#), json!({"a": {"x": 1, "y": {"z": 2}, "b": 3}}));
        // A non-object in the way is replaced.
        assert_eq!(load_json(r#"{"a": 1, "a.b": 2}"#), json!({"a": {"b": 2}}));
        // Arrays are not traversed.
        assert_eq!(
            load_json(r#"{"providers": [{"config.x": 1}], "p.q": [{"r.s": 2}]}"#),
            json!({"providers": [{"config.x": 1}], "p": {"q": [{"r.s": 2}]}})
        );
        // Empty objects stay objects.
        assert_eq!(load_json(r#"{"margo": {"mercury": {}}}"#), json!({"margo": {"mercury": {}}}));
        // Objects under dotted keys are merged and expanded too.
        assert_eq!(load_json(r#"{"a.b": {"c.d": 1}, "a.b.e": 2}"#), json!({"a": {"b": {"c": {"d": 1}, "e": 2}}}));
    }

    #[test]
    fn dotted_keys_nest_at_most_max_expanded_depth() {
        let key = |levels: usize| vec!["k"; levels].join(".");
        // Exactly the limit is accepted, and the walks after expansion
        // (filtering, rank locators, drop) cope with it on a test thread's
        // stack.
        let deepest = load_json(&format!(r#"{{"{}": 1}}"#, key(MAX_EXPANDED_DEPTH)));
        let mut v = &deepest;
        for _ in 0..MAX_EXPANDED_DEPTH {
            v = &v["k"];
        }
        assert_eq!(v, &json!(1));
        // One more level is an error naming the key.
        let e = err_text(&format!(r#"{{"{}": 1}}"#, key(MAX_EXPANDED_DEPTH + 1)));
        assert_eq!(
            e,
            format!(
                r#"Invalid configuration: key "{}... (257 bytes)" nests the configuration deeper than 128 levels"#,
                &key(MAX_EXPANDED_DEPTH + 1)[..64]
            )
        );
        // Depth adds up through objects nested under dotted keys, and in
        // the elements of a root array.
        let half = key(MAX_EXPANDED_DEPTH / 2);
        assert!(load(&format!(r#"{{"{half}": {{"{half}": 1}}}}"#), ConfigFormat::Json, None).is_ok());
        let e = err_text(&format!(r#"{{"{half}": {{"{half}.x": 1}}}}"#));
        assert!(e.contains(&format!(r#"key "{}" nests"#, abbreviate_key(&format!("{half}.x")))), "{e}");
        assert_eq!(abbreviate_key("short.key"), "short.key");
        let e = load(&format!(r#"[{{"{}": 1}}]"#, key(MAX_EXPANDED_DEPTH)), ConfigFormat::Json, None).unwrap_err();
        assert!(matches!(e, BedrockError::KeyNestsTooDeep { limit: MAX_EXPANDED_DEPTH, .. }), "{e}");
    }

    #[test]
    fn a_key_of_thousands_of_dots_is_an_error_not_a_stack_overflow() {
        // The fuzzer's input: one key of ~11 700 dots (it killed the daemon
        // with SIGSEGV). The message shows the key's start and its length.
        let dots = ".".repeat(11_700);
        let e = err_text(&format!(r#"{{"{dots}": 1}}"#));
        assert_eq!(
            e,
            format!(
                r#"Invalid configuration: key "{}... (11700 bytes)" nests the configuration deeper than 128 levels"#,
                ".".repeat(64)
            )
        );
        // The same key under an `__if__` filter and inside a root array.
        let e = err_text(&format!(r#"[{{"__if__": true, "a.{dots}": {{"__if__": false}}}}]"#));
        assert!(e.starts_with(r#"Invalid configuration: key "a...."#), "{e}");
    }

    #[test]
    fn dotted_keys_build_a_valid_configuration() {
        let cfg = parse_text(
            r#"{"margo.argobots.pools": [{"name": "p"}], "margo.rpc_pool": "p", "bedrock.provider_id": 3,
                "bedrock.pool": "p"}"#,
        )
        .unwrap();
        assert_eq!(cfg.bedrock.provider_id, 3);
        assert_eq!(cfg.bedrock_pool_name().unwrap(), "p");
        assert_eq!(cfg.margo[0].pools[cfg.margo[0].rpc_pool].name, "p");
    }

    #[test]
    fn if_conditions() {
        let v = load_json(
            r#"{"providers": [
                {"name": "a", "type": "t", "__if__": true},
                {"name": "b", "type": "t", "__if__": false},
                {"name": "c", "type": "t"}],
              "bedrock": {"__if__": false, "provider_id": 3},
              "margo": {"__if__": true, "argobots": {"pools": [{"name": "x", "__if__": false}]}}}"#,
        );
        assert_eq!(
            v,
            json!({
                "providers": [{"name": "a", "type": "t", "__if__": true}, {"name": "c", "type": "t"}],
                "bedrock": null,
                "margo": {"__if__": true, "argobots": {"pools": []}}
            })
        );
        let cfg = parse_server_config(&v).unwrap();
        assert_eq!(cfg.providers.len(), 2);
        assert_eq!(cfg.bedrock.provider_id, 0);
        // A removed root is an empty configuration.
        assert_eq!(load_json(r#"{"__if__": false, "bedrock": {"provider_id": 5}}"#), json!({}));
        // Null array elements are dropped as well (upstream behaviour).
        assert_eq!(load_json(r#"{"a": [1, null, 2]}"#), json!({"a": [1, 2]}));
    }

    #[test]
    fn if_condition_errors() {
        let e = load(r#"{"x": {"__if__": "$MPI_COMM_WORLD.rank == 0"}}"#, ConfigFormat::Json, None).unwrap_err();
        assert_eq!(e, BedrockError::Jx9ConditionNotSupported("$MPI_COMM_WORLD.rank == 0".into()));
        assert!(e.to_string().contains("$MPI_COMM_WORLD.rank == 0"));
        assert!(e.to_string().contains("not supported"));
        for bad in ["1", "null", "[]", "{}"] {
            let e = load(&format!(r#"{{"x": {{"__if__": {bad}}}}}"#), ConfigFormat::Json, None).unwrap_err();
            assert_eq!(e.to_string(), "__if__ condition should be a string or a boolean", "{bad}");
        }
        // Conditions inside removed objects are never looked at.
        assert_eq!(load_json(r#"{"x": {"__if__": false, "y": {"__if__": "jx9"}}}"#), json!({"x": null}));
        // TOML goes through the same filter.
        let v = load("[a]\n__if__ = false\n[b]\n__if__ = true", ConfigFormat::Toml, None).unwrap();
        assert_eq!(v, json!({"a": null, "b": {"__if__": true}}));
    }

    #[test]
    fn root_arrays() {
        let text = r#"[{"bedrock.provider_id": 1}, {"bedrock": {"provider_id": 2}}, {"bedrock": {"provider_id": 3}}]"#;
        for rank in 0..3 {
            let v = load(text, ConfigFormat::Json, Some((rank, 3))).unwrap();
            assert_eq!(v, json!({"bedrock": {"provider_id": rank + 1}}));
        }
        assert_eq!(
            load(text, ConfigFormat::Json, None).unwrap_err().to_string(),
            "Configuration resolved to an array but MPI is not enabled"
        );
        assert_eq!(
            load(text, ConfigFormat::Json, Some((0, 4))).unwrap_err().to_string(),
            "Ambiguous configuration did not resolve to a single possibility for the process"
        );
        // A single element (possibly after filtering) needs no MPI.
        assert_eq!(load_json(r#"[{"a": 1}]"#), json!({"a": 1}));
        assert_eq!(
            load_json(r#"[{"a": 1, "__if__": false}, {"b.c": 2, "__if__": true}]"#),
            json!({"b": {"c": 2}, "__if__": true})
        );
        // Null elements are dropped by the filter, like removed ones.
        assert_eq!(load("[null]", ConfigFormat::Json, None).unwrap_err(), BedrockError::ArrayWithoutMpi);
        assert_eq!(load_json(r#"[null, {"a": 1}]"#), json!({"a": 1}));
        assert_eq!(load(r#"[]"#, ConfigFormat::Json, None).unwrap_err(), BedrockError::ArrayWithoutMpi);
        assert_eq!(load(r#"[]"#, ConfigFormat::Json, Some((0, 2))).unwrap_err(), BedrockError::AmbiguousConfiguration);
        assert_eq!(load_json("[{}]"), json!({}));
        // Whatever was selected must be an object.
        assert_eq!(load("[5]", ConfigFormat::Json, None).unwrap_err(), BedrockError::InvalidRoot("integer"));
        assert!(load("[1, 2]", ConfigFormat::Json, Some((5, 2))).is_err());
    }

    #[test]
    fn scalar_roots_are_rejected() {
        for (text, found) in [("5", "integer"), ("\"x\"", "string"), ("true", "boolean"), ("1.5", "number")] {
            let e = load(text, ConfigFormat::Json, None).unwrap_err();
            assert_eq!(e, BedrockError::InvalidRoot(found));
            assert_eq!(e.to_string(), format!("Invalid configuration: the root should be an object (found {found})"));
        }
        assert!(parse_server_config(&json!(5)).is_err());
        assert!(parse_server_config(&Value::Null).is_ok());
    }

    // ----- top-level sections -----

    #[test]
    fn bedrock_section() {
        assert_eq!(err_text(r#"{"bedrock": 1}"#), "Invalid entry type for \"bedrock\" (expected object)");
        assert_eq!(err_text(r#"{"bedrock": []}"#), "Invalid entry type for \"bedrock\" (expected object)");
        assert_eq!(err_text(r#"{"bedrock": {"pool": 1}}"#), "Invalid type in Bedrock's \"pool\" entry");
        assert_eq!(
            err_text(r#"{"bedrock": {"pool": "nope"}}"#),
            "Could not find pool with name \"nope\": no pool with this name in the Margo configuration"
        );
        assert!(matches!(parse_text(r#"{"bedrock": {"provider_id": 65536}}"#).unwrap_err(), BedrockError::BedrockProviderIdType));
        assert!(matches!(parse_text(r#"{"bedrock": {"provider_id": "0"}}"#).unwrap_err(), BedrockError::BedrockProviderIdType));
        assert!(matches!(
            parse_text(r#"{"bedrock": {"dependency_resolution_timeout": "1"}}"#).unwrap_err(),
            BedrockError::BedrockTimeoutType
        ));
        let cfg = parse_text(r#"{"bedrock": {"provider_id": 65535, "dependency_resolution_timeout": 5, "pool": "__primary__"}}"#)
            .unwrap();
        assert_eq!(
            cfg.bedrock,
            BedrockSection { provider_id: 65535, pool: Some("__primary__".into()), dependency_resolution_timeout: 5.0 }
        );
        let cfg = parse_text(r#"{"bedrock": {}}"#).unwrap();
        assert_eq!(cfg.bedrock, BedrockSection::default());
        assert_eq!(cfg.bedrock.dependency_resolution_timeout, 30.0);
    }

    #[test]
    fn bedrock_pool_defaults_to_the_rpc_pool() {
        let cfg = parse_text(r#"{"margo": {"use_progress_thread": true, "rpc_thread_count": 2}}"#).unwrap();
        assert_eq!(cfg.bedrock_pool_name().unwrap(), "__pool_2__");
        let cfg = parse_text(r#"{"margo": {"rpc_thread_count": -1, "use_progress_thread": true}}"#).unwrap();
        assert_eq!(cfg.bedrock_pool_name().unwrap(), "__pool_1__");
    }

    #[test]
    fn libraries_section() {
        let cfg = parse_text(r#"{"libraries": ["a.so", "b.so", "a.so"]}"#).unwrap();
        assert_eq!(cfg.libraries.entries.len(), 3);
        assert_eq!(cfg.libraries.paths(), vec!["a.so", "b.so"]);
        assert_eq!(cfg.libraries.to_json(), json!(["a.so", "b.so"]));
        let cfg = parse_text(r#"{"libraries": {"mod_b": "b.so", "mod_a": "a.so"}}"#).unwrap();
        assert_eq!(cfg.libraries.form, LibrariesForm::Object);
        assert_eq!(cfg.libraries.entries[0], LibrarySpec { module: Some("mod_a".into()), path: "a.so".into() });
        assert_eq!(cfg.libraries.to_json(), json!({"mod_a": "a.so", "mod_b": "b.so"}));
        assert_eq!(err_text(r#"{"libraries": {"m": 1}}"#), "Module library should be a string");
        assert_eq!(err_text(r#"{"libraries": "a.so"}"#), "\"libraries\" field needs to be an array");
        assert_eq!(err_text(r#"{"libraries": ["a.so", 1]}"#), "Module library should be a string");
        let cfg = parse_text(r#"{"libraries": null}"#).unwrap();
        assert_eq!(cfg.libraries.to_json(), json!([]));
    }

    #[test]
    fn libraries_loaded_at_run_time_are_reported() {
        let mut libs = Libraries::from_value(Some(&json!(["a.so"]))).unwrap();
        assert!(libs.record_loaded("b.so"));
        assert!(!libs.record_loaded("a.so"));
        assert_eq!(libs.to_json(), json!(["a.so", "b.so"]));
        let mut libs = Libraries::from_value(Some(&json!({"flock": "libflock.so"}))).unwrap();
        assert!(libs.record_loaded("./libModuleA.so"));
        assert!(!libs.record_loaded("libflock.so"));
        assert_eq!(libs.to_json(), json!({"flock": "libflock.so", "./libModuleA.so": "./libModuleA.so"}));
    }

    #[test]
    fn margo_section_shapes() {
        assert_eq!(parse_text(r#"{"margo": [{}, {}]}"#).unwrap().margo.len(), 2);
        assert_eq!(parse_text(r#"{"margo": [{}]}"#).unwrap().margo.len(), 1);
        assert_eq!(parse_text(r#"{"margo": null}"#).unwrap().margo.len(), 1);
        assert_eq!(parse_text(r#"{"margo": []}"#).unwrap_err(), BedrockError::EmptyMargoArray);
        assert!(matches!(parse_text(r#"{"margo": 5}"#).unwrap_err(), BedrockError::Margo(_)));
        let e = err_text(r#"{"margo": {"argobots": {"pools": [{"kind": "nope"}]}}}"#);
        assert!(e.starts_with("Invalid Margo configuration: margo.argobots.pools[0].kind"), "{e}");
        // Child engines share engine 0's Argobots environment.
        let e = err_text(r#"{"margo": [{}, {"argobots": {}}]}"#);
        assert!(e.contains("margo[1].argobots"), "{e}");
        let cfg = parse_text(
            r#"{"margo": [
                {"argobots": {"pools": [{"name": "pool_sm"}],
                              "xstreams": [{"name": "es_sm", "scheduler": {"pools": ["pool_sm"]}}]},
                 "progress_pool": "pool_sm", "rpc_pool": "pool_sm"},
                {"mercury": {"address": "ofi+tcp"}, "progress_pool": "pool_sm", "rpc_pool": "pool_sm"}],
              "providers": [
                {"name": "on_sm", "type": "m", "provider_id": 1, "engine": 0, "config": {}, "dependencies": {}},
                {"name": "on_tcp", "type": "m", "provider_id": 2, "engine": 1,
                 "dependencies": {"secondary_margo": 1, "my_pool": "pool_sm"}}]}"#,
        )
        .unwrap();
        assert_eq!(cfg.margo.len(), 2);
        assert_eq!(cfg.providers[1].engine, 1);
        assert_eq!(cfg.bedrock_pool_name().unwrap(), "pool_sm");
        let out = effective(&cfg);
        assert!(out["margo"].is_array());
        assert_eq!(out["margo"].as_array().unwrap().len(), 2);
        assert_eq!(out["margo"][1]["rpc_pool"], "pool_sm");
    }

    #[test]
    fn engine_index_out_of_range() {
        assert_eq!(
            err_text(r#"{"providers": [{"name": "a", "type": "t", "engine": 1}]}"#),
            "Invalid engine index 1 (only 1 engines available)"
        );
        assert_eq!(
            err_text(r#"{"margo": [{}, {}], "providers": [{"name": "a", "type": "t", "engine": 2}]}"#),
            "Invalid engine index 2 (only 2 engines available)"
        );
        assert_eq!(
            err_text(r#"{"providers": [{"name": "a", "type": "t", "engine": -1}]}"#),
            "Error validating JSON (ProviderManager): At /engine of -1 - instance is below minimum of 0"
        );
    }

    #[test]
    fn protocol_inference() {
        let addr = |text: &str| parse_text(text).unwrap().engine_address("", 0);
        assert_eq!(addr(r#"{"margo": {"mercury": {"address": "na+sm://0"}}}"#).unwrap(), "na+sm");
        for text in [
            "{}",
            r#"{"margo": {}}"#,
            r#"{"margo": {"mercury": {}}}"#,
            r#"{"margo": {"mercury": {"address": "nocolon"}}}"#,
            r#"{"margo": {"mercury": {"address": ":x"}}}"#,
        ] {
            assert_eq!(
                addr(text).unwrap_err().to_string(),
                "Could not infer protocol for engine 0: no address provided and no valid mercury.address found in configuration",
                "{text}"
            );
        }
        // A numeric address is rejected by the Margo section already.
        assert!(parse_text(r#"{"margo": {"mercury": {"address": 12345}}}"#).is_err());
        let cfg = parse_text("{}").unwrap();
        assert_eq!(cfg.engine_address("ofi+tcp", 0).unwrap(), "ofi+tcp");
        assert!(matches!(
            cfg.engine_address("na+sm", 3).unwrap_err(),
            BedrockError::EngineIndexOutOfRange { index: 3, count: 1 }
        ));
    }

    // ----- provider entries -----

    fn provider_err(entry: Value) -> String {
        ProviderSpec::from_value(&entry).unwrap_err().to_string()
    }

    #[test]
    fn provider_schema_messages() {
        let p = "Error validating JSON (ProviderManager): ";
        assert_eq!(provider_err(json!([])), format!("{p}At  of [] - unexpected instance type"));
        assert_eq!(
            provider_err(json!({"type": "t"})),
            format!("{p}At  of {{\"type\":\"t\"}} - required property 'name' not found in object")
        );
        // 'name' is reported before 'type'.
        assert_eq!(provider_err(json!({})), format!("{p}At  of {{}} - required property 'name' not found in object"));
        assert_eq!(
            provider_err(json!({"name": "a b", "type": "t"})),
            format!("{p}At /name of \"a b\" - instance does not match regex pattern: ^[a-zA-Z_][a-zA-Z0-9_]*$")
        );
        assert_eq!(
            provider_err(json!({"name": "1a", "type": "t"})),
            format!("{p}At /name of \"1a\" - instance does not match regex pattern: ^[a-zA-Z_][a-zA-Z0-9_]*$")
        );
        assert_eq!(provider_err(json!({"name": null, "type": "t"})), format!("{p}At /name of null - unexpected instance type"));
        assert_eq!(
            provider_err(json!({"name": "a", "type": "t", "provider_id": 65536})),
            format!("{p}At /provider_id of 65536 - instance exceeds maximum of 65535")
        );
        assert_eq!(
            provider_err(json!({"name": "a", "type": "t", "provider_id": 1.0})),
            format!("{p}At /provider_id of 1.0 - unexpected instance type")
        );
        assert_eq!(
            provider_err(json!({"name": "a", "type": "t", "tags": ["x", 1]})),
            format!("{p}At /tags/1 of 1 - unexpected instance type")
        );
        assert_eq!(
            provider_err(json!({"name": "a", "type": "t", "tags": "x"})),
            format!("{p}At /tags of \"x\" - unexpected instance type")
        );
        assert_eq!(
            provider_err(json!({"name": "a", "type": "t", "dependencies": []})),
            format!("{p}At /dependencies of [] - unexpected instance type")
        );
        assert_eq!(
            provider_err(json!({"name": "a", "type": "t", "dependencies": {"ok": ["x", 1], "bad": true}})),
            format!(
                "{p}At /dependencies of {{\"bad\":true,\"ok\":[\"x\",1]}} - validation failed for additional property 'bad': \
                 no subschema has succeeded, but one of them is required to validate. Type: anyOf, number of failed subschemas: 3"
            )
        );
        assert!(
            provider_err(json!({"name": "a", "type": "t", "dependencies": {"d": ["x", {}]}})).contains("additional property 'd'")
        );
        assert_eq!(
            provider_err(json!({"name": "a", "type": "t", "engine": "0"})),
            format!("{p}At /engine of \"0\" - unexpected instance type")
        );
        // The first offending property in key order wins.
        assert_eq!(
            provider_err(json!({"name": 1, "type": 2, "config": 3})),
            format!("{p}At /config of 3 - unexpected instance type")
        );
    }

    #[test]
    fn provider_entry_fields() {
        let spec = ProviderSpec::from_value(&json!({
            "name": "my_provider", "type": "module_a", "provider_id": 123, "tags": ["x"],
            "config": {"k": [1]}, "dependencies": {"pool": "__primary__"}, "engine": 0,
            "pool": "__primary__", "extra": {"ignored": true}
        }))
        .unwrap();
        assert_eq!(
            spec,
            ProviderSpec {
                name: "my_provider".into(),
                type_name: "module_a".into(),
                provider_id: Some(123),
                tags: vec!["x".into()],
                config: json!({"k": [1]}),
                dependencies: json!({"pool": "__primary__"}).as_object().unwrap().clone(),
                engine: 0,
            }
        );
        let spec = ProviderSpec::from_value(&json!({"name": "a", "type": "t", "provider_id": 65535})).unwrap();
        assert_eq!(spec.provider_id, None);
        assert_eq!(spec.requested_provider_id(), 65535);
        assert_eq!(spec.config, json!({}));
        assert!(spec.tags.is_empty() && spec.dependencies.is_empty());
        let spec = ProviderSpec::from_json_str(r#"{"name":"a","type":"t","provider_id":34,"pool":"p"}"#).unwrap();
        assert_eq!(spec.provider_id, Some(34));
        assert!(ProviderSpec::from_json_str("{").unwrap_err().to_string().starts_with("Error parsing JSON (ProviderManager): "));
    }

    #[test]
    fn provider_ids() {
        assert_eq!(
            err_text(r#"{"providers": [{"name": "a", "type": "t", "provider_id": 0}]}"#),
            "Bedrock already uses provider ID 0"
        );
        assert_eq!(
            err_text(r#"{"bedrock": {"provider_id": 5}, "providers": [{"name": "a", "type": "t", "provider_id": 5}]}"#),
            "Bedrock already uses provider ID 5"
        );
        // Automatic ids skip Bedrock's own and those already taken.
        let cfg = parse_text(
            r#"{"providers": [{"name": "a", "type": "t", "provider_id": 2},
                              {"name": "b", "type": "t"},
                              {"name": "c", "type": "t", "provider_id": 65535},
                              {"name": "d", "type": "t"}]}"#,
        )
        .unwrap();
        let out = effective(&cfg);
        let ids: Vec<u64> = out["providers"].as_array().unwrap().iter().map(|p| p["provider_id"].as_u64().unwrap()).collect();
        assert_eq!(ids, vec![2, 1, 3, 4]);
        // An explicit id may collide with an automatic one given earlier.
        assert_eq!(
            err_text(r#"{"providers": [{"name": "a", "type": "t"}, {"name": "b", "type": "t", "provider_id": 1}]}"#),
            "Another provider already uses provider ID 1"
        );
        // As upstream: with Bedrock on 65535, automatic ids are refused.
        assert_eq!(
            err_text(r#"{"bedrock": {"provider_id": 65535}, "providers": [{"name": "a", "type": "t"}]}"#),
            "Bedrock already uses provider ID 65535"
        );
        // The engine check comes before the Bedrock id check.
        assert_eq!(
            err_text(r#"{"providers": [{"name": "a", "type": "t", "provider_id": 0, "engine": 4}]}"#),
            "Invalid engine index 4 (only 1 engines available)"
        );
    }

    #[test]
    fn auto_provider_id_rules() {
        assert_eq!(auto_provider_id(&[], 0), Some(1));
        assert_eq!(auto_provider_id(&[], 3), Some(0));
        assert_eq!(auto_provider_id(&[1, 2, 4], 0), Some(3));
        let all: Vec<u16> = (0..65533).collect();
        assert_eq!(auto_provider_id(&all, 65535), Some(65533));
        let all: Vec<u16> = (0..65534).collect();
        assert_eq!(auto_provider_id(&all, 65535), None);
        let existing: Vec<(&str, u16)> = all.iter().map(|id| ("other", *id)).collect();
        assert_eq!(
            check_new_provider("x", None, existing.iter().copied(), 65535).unwrap_err(),
            BedrockError::NoProviderIdAvailable
        );
    }

    #[test]
    fn check_new_provider_order() {
        let existing = [("a", 1u16), ("b", 2u16)];
        assert_eq!(check_new_provider("c", Some(7), existing, 0).unwrap(), 7);
        assert_eq!(check_new_provider("c", None, existing, 0).unwrap(), 3);
        assert_eq!(check_new_provider("c", Some(65535), existing, 0).unwrap(), 3);
        // The name is checked before the id.
        assert_eq!(check_new_provider("a", Some(2), existing, 0).unwrap_err(), BedrockError::NameInUse("a".into()));
        assert_eq!(check_new_provider("c", Some(2), existing, 0).unwrap_err(), BedrockError::ProviderIdInUse(2));
    }

    // ----- effective configuration -----

    #[test]
    fn output_shape() {
        let libs = Libraries::from_value(Some(&json!(["./libModuleA.so"]))).unwrap();
        let report = ProviderReport {
            name: "my_provider".into(),
            type_name: "module_a".into(),
            provider_id: 123,
            engine: 0,
            config: json!({}),
            tags: vec![],
            dependencies: Map::new(),
        };
        let out = output_config(&[json!({"m": 1})], "__primary__", 0, &libs, &[report]);
        assert_eq!(
            serde_json::to_string(&out).unwrap(),
            r#"{"bedrock":{"pool":"__primary__","provider_id":0},"libraries":["./libModuleA.so"],"margo":{"m":1},"providers":[{"config":{},"dependencies":{},"engine":0,"name":"my_provider","provider_id":123,"tags":[],"type":"module_a"}]}"#
        );
        let out = output_config(&[json!({}), json!({})], "p", 9, &Libraries::default(), &[]);
        assert_eq!(out["margo"], json!([{}, {}]));
        assert_eq!(out["libraries"], json!([]));
        assert_eq!(out["bedrock"], json!({"pool": "p", "provider_id": 9}));
    }

    #[test]
    fn reported_dependencies() {
        let pools = ["__primary__", "my_pool"];
        let none: [&str; 0] = [];
        let m = report_dependencies([
            ("pool", vec!["__primary__"], false),
            ("pools", pools.to_vec(), true),
            ("optional", none.to_vec(), false),
            ("remote", vec!["module_a:1@na+sm://1-2"], false),
        ]);
        assert_eq!(
            Value::Object(m),
            json!({"pool": "__primary__", "pools": ["__primary__", "my_pool"], "remote": "module_a:1@na+sm://1-2"})
        );
    }
}
