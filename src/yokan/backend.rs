//! The backend trait every Yokan database type implements, the list filter,
//! and the registry of types (`map`, `unordered_map`, `set`,
//! `unordered_set`, `lmdb`, `null`, and the document stores `array`, `log`).

use super::error::{Result, YokanError};
use super::mode;
use serde_json::{Map, Value};

/// Which keys a listing returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Filter {
    /// Keys starting with these bytes (empty: every key).
    Prefix(Vec<u8>),
    /// Keys ending with these bytes.
    Suffix(Vec<u8>),
}

impl Filter {
    pub fn from_mode(mode: i32, bytes: &[u8]) -> Filter {
        if mode & mode::SUFFIX != 0 {
            Filter::Suffix(bytes.to_vec())
        } else {
            Filter::Prefix(bytes.to_vec())
        }
    }

    pub fn matches(&self, key: &[u8]) -> bool {
        match self {
            Filter::Prefix(p) => key.starts_with(p),
            Filter::Suffix(s) => key.ends_with(s),
        }
    }

    /// The key as returned with `NO_PREFIX`.
    pub fn strip<'a>(&self, key: &'a [u8]) -> &'a [u8] {
        match self {
            Filter::Prefix(p) => &key[p.len().min(key.len())..],
            Filter::Suffix(s) => &key[..key.len() - s.len().min(key.len())],
        }
    }

    /// With a prefix filter, a sorted scan can stop at the first key past
    /// the prefix.
    pub fn past_end(&self, key: &[u8]) -> bool {
        match self {
            Filter::Prefix(p) => !p.is_empty() && key > p.as_slice() && !key.starts_with(p),
            Filter::Suffix(_) => false,
        }
    }

    /// Where a sorted scan from `from` may start.
    pub fn scan_start<'a>(&'a self, from: &'a [u8]) -> &'a [u8] {
        match self {
            Filter::Prefix(p) if p.as_slice() > from => p,
            _ => from,
        }
    }
}

/// What a listing asks for.
#[derive(Clone, Debug)]
pub struct ListQuery {
    pub from: Vec<u8>,
    pub inclusive: bool,
    pub filter: Filter,
    pub max: usize,
    pub with_values: bool,
}

impl ListQuery {
    /// True if `key` comes after the start position.
    pub fn after_start(&self, key: &[u8]) -> bool {
        self.from.is_empty() || key > self.from.as_slice() || (self.inclusive && key == self.from.as_slice())
    }
}

/// One listed item.
pub type Item = (Vec<u8>, Vec<u8>);

/// A key-value store. Calls may come from many threads at once.
/// Keys are non-empty (checked before the backend is called).
pub trait Backend: Send + Sync {
    /// The type name (`map`, ...).
    fn type_name(&self) -> &'static str;
    /// The backend config with every default filled in.
    fn config(&self) -> Value;
    /// Mode bits this backend honours.
    fn supported_modes(&self) -> i32;
    /// Whether keys are kept sorted (listing is possible).
    fn is_sorted(&self) -> bool;
    /// A type that holds collections of documents only: clients' key-value
    /// operations are refused (the collections use the key space inside).
    fn documents_only(&self) -> bool {
        false
    }

    fn count(&self) -> Result<u64>;
    fn exists(&self, keys: &[&[u8]]) -> Result<Vec<bool>>;
    fn length(&self, keys: &[&[u8]]) -> Result<Vec<Option<u64>>>;
    /// Stores pairs in order under `mode` (APPEND, NEW_ONLY, EXIST_ONLY as
    /// upstream: in a `single` put a refused write is an error, in a multi
    /// put it is skipped); returns which pairs were written.
    fn put(&self, pairs: &[(&[u8], &[u8])], mode: i32, single: bool) -> Result<Vec<bool>>;
    /// Reads values; with `consume` the keys found are erased in the same step.
    fn get(&self, keys: &[&[u8]], consume: bool) -> Result<Vec<Option<Vec<u8>>>>;
    fn erase(&self, keys: &[&[u8]]) -> Result<()>;
    fn erase_range(&self, prefix: &[u8]) -> Result<()>;
    /// Items in key order (values empty unless asked for).
    fn list(&self, query: &ListQuery) -> Result<Vec<Item>>;
    /// Every key (in order if the backend is sorted): what a shard of a
    /// distributed database scans when the group changes.
    fn keys(&self) -> Result<Vec<Vec<u8>>> {
        let all = ListQuery {
            from: Vec::new(),
            inclusive: false,
            filter: Filter::Prefix(Vec::new()),
            max: usize::MAX,
            with_values: false,
        };
        Ok(self.list(&all)?.into_iter().map(|(k, _)| k).collect())
    }
    /// Called when the provider goes away (persistent data stays on disk).
    fn close(&self) {}
}

/// The decision of one put under upstream's mode rules: the value to store,
/// or None to skip the pair.
pub fn put_value(existing: Option<&[u8]>, value: &[u8], mode: i32, single: bool) -> Result<Option<Vec<u8>>> {
    if mode & mode::NEW_ONLY != 0 && existing.is_some() {
        return if single { Err(YokanError::new(super::error::code::KEY_EXISTS, "the key already exists")) } else { Ok(None) };
    }
    if mode & mode::EXIST_ONLY != 0 && existing.is_none() {
        return if single { Err(YokanError::not_found()) } else { Ok(None) };
    }
    match existing {
        Some(old) if mode & mode::APPEND != 0 => {
            let mut v = Vec::with_capacity(old.len() + value.len());
            v.extend_from_slice(old);
            v.extend_from_slice(value);
            Ok(Some(v))
        }
        _ => Ok(Some(value.to_vec())),
    }
}

/// Names of the database types this build provides.
pub const TYPES: &[&str] = &["map", "unordered_map", "set", "unordered_set", "lmdb", "null", "array", "log"];

/// Creates a backend of type `type_name` from its JSON config.
pub fn create(type_name: &str, config: &Value) -> Result<Box<dyn Backend>> {
    let Value::Object(cfg) = config else {
        return Err(YokanError::config(format!("\"database.config\" of a {type_name} database must be an object")));
    };
    match type_name {
        "map" => Ok(Box::new(super::backends::memory::MemoryBackend::new_map(cfg)?)),
        "unordered_map" => Ok(Box::new(super::backends::memory::MemoryBackend::new_unordered(cfg)?)),
        "set" => Ok(Box::new(super::backends::keyset::SetBackend::new_ordered(cfg)?)),
        "unordered_set" => Ok(Box::new(super::backends::keyset::SetBackend::new_unordered(cfg)?)),
        "lmdb" => Ok(Box::new(super::backends::lmdb::LmdbBackend::open(cfg)?)),
        "null" => Ok(Box::new(super::backends::null::NullBackend::new(cfg))),
        "array" => Ok(Box::new(super::backends::documents::DocumentsOnly::array(cfg)?)),
        "log" => Ok(Box::new(super::backends::documents::DocumentsOnly::log(cfg)?)),
        other => Err(YokanError::new(
            super::error::code::INVALID_BACKEND,
            format!("unknown database type \"{other}\" (supported: {})", TYPES.join(", ")),
        )),
    }
}

/// Reads an optional boolean field (default when absent).
pub fn bool_field(cfg: &Map<String, Value>, key: &str, default: bool) -> Result<bool> {
    match cfg.get(key) {
        None => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(YokanError::config(format!("\"{key}\" must be a boolean"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters() {
        let p = Filter::Prefix(b"matt".to_vec());
        assert!(p.matches(b"matthieu") && !p.matches(b"mat"));
        assert_eq!(p.strip(b"matthieu"), b"hieu");
        assert!(p.past_end(b"mb") && !p.past_end(b"ma") && !p.past_end(b"mattx"));
        assert_eq!(p.scan_start(b"a"), b"matt");
        let s = Filter::Suffix(b"ing".to_vec());
        assert!(s.matches(b"sing") && !s.matches(b"sin"));
        assert_eq!(s.strip(b"sing"), b"s");
    }

    #[test]
    fn put_rules() {
        assert_eq!(put_value(Some(b"a"), b"b", mode::APPEND, true).unwrap(), Some(b"ab".to_vec()));
        assert_eq!(put_value(None, b"b", mode::APPEND, true).unwrap(), Some(b"b".to_vec()));
        assert_eq!(put_value(Some(b"a"), b"b", mode::NEW_ONLY, true).unwrap_err().code, 17);
        assert_eq!(put_value(Some(b"a"), b"b", mode::NEW_ONLY, false).unwrap(), None);
        assert_eq!(put_value(None, b"b", mode::EXIST_ONLY, true).unwrap_err().code, 15);
        assert_eq!(put_value(None, b"b", mode::EXIST_ONLY, false).unwrap(), None);
    }
}
