//! Dependency specifications (the values of a provider entry's
//! `dependencies` object): pure parsing into [`DependencySpec`]. Resolving a
//! parsed spec against pools, engines and (local or remote) providers is the
//! caller's business.
//!
//! How a spec is read depends on the *declared* type of the dependency:
//! * `pool` / `xstream`: any string is a name, an integer an index (into
//!   engine 0's pools / xstreams);
//! * `margo`: an integer, or a string of decimal digits, is an engine index;
//! * any other type `T` is a module name and the spec designates a provider
//!   of type `T`: `name`, `ident:ID` (the `ident` is not checked), or with a
//!   locator `name@LOC` / `T:ID@LOC` where `LOC` is `local`, an MPI rank
//!   (decimal digits) or a Mercury address. Integers are rejected.

use super::error::BedrockError;
use serde_json::Value;
use std::fmt;

type Result<T> = std::result::Result<T, BedrockError>;

/// A parsed dependency specification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DependencySpec {
    /// A pool of engine 0's Argobots environment.
    Pool(ArgobotsRef),
    /// An execution stream of engine 0's Argobots environment.
    Xstream(ArgobotsRef),
    /// A Margo instance (engine) by index; the range is not checked here
    /// (out of range: [`BedrockError::MargoInstanceNotFound`]).
    Margo(u64),
    /// A provider of the declared type.
    Provider(ProviderRef),
}

/// A pool or xstream reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArgobotsRef {
    Name(String),
    /// Not range-checked here.
    Index(u64),
}

/// A provider reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderRef {
    pub target: ProviderTarget,
    /// `None`: no `@` in the spec — the provider must exist in this process
    /// and the dependency resolves to the provider (component) itself,
    /// reported under the provider's name. `Some(_)`: the dependency
    /// resolves to a provider handle, reported as `"T:<id>@<address>"`.
    pub locator: Option<Locator>,
}

/// Which provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderTarget {
    /// By provider name.
    Name(String),
    /// By type and provider id. Without a locator the `type_name` is the
    /// identifier as written (upstream does not check it: lookups use the
    /// declared type); with a locator it equals the declared type.
    TypeAndId { type_name: String, provider_id: u16 },
}

/// Where the provider lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Locator {
    /// `@local`: this process.
    Local,
    /// `@<digits>`: the process of that MPI rank (the caller checks the
    /// range: [`BedrockError::InvalidRank`]).
    MpiRank(u32),
    /// Anything else: a network address.
    Address(String),
}

impl ProviderTarget {
    /// The spec sent to a (local or remote) provider lookup: the name, or
    /// `"<declared type>:<id>"`.
    pub fn lookup_spec(&self, declared_type: &str) -> String {
        match self {
            ProviderTarget::Name(n) => n.clone(),
            ProviderTarget::TypeAndId { provider_id, .. } => {
                format!("{declared_type}:{provider_id}")
            }
        }
    }
}

impl fmt::Display for Locator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Locator::Local => f.write_str("local"),
            Locator::MpiRank(r) => write!(f, "{r}"),
            Locator::Address(a) => f.write_str(a),
        }
    }
}

impl fmt::Display for ProviderRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.target {
            ProviderTarget::Name(n) => f.write_str(n)?,
            ProviderTarget::TypeAndId { type_name, provider_id } => write!(f, "{type_name}:{provider_id}")?,
        }
        if let Some(loc) = &self.locator {
            write!(f, "@{loc}")?;
        }
        Ok(())
    }
}

/// Parses a string spec for a dependency of declared type `declared_type`.
pub fn parse_spec(declared_type: &str, spec: &str) -> Result<DependencySpec> {
    match declared_type {
        "pool" => Ok(DependencySpec::Pool(ArgobotsRef::Name(spec.to_string()))),
        "xstream" => Ok(DependencySpec::Xstream(ArgobotsRef::Name(spec.to_string()))),
        "margo" => parse_margo_index(spec).map(DependencySpec::Margo),
        _ => parse_provider_spec(declared_type, spec).map(DependencySpec::Provider),
    }
}

/// Parses an integer spec (pools, xstreams and margo instances only).
pub fn parse_index(declared_type: &str, index: u64) -> Result<DependencySpec> {
    match declared_type {
        "pool" => Ok(DependencySpec::Pool(ArgobotsRef::Index(index))),
        "xstream" => Ok(DependencySpec::Xstream(ArgobotsRef::Index(index))),
        "margo" => Ok(DependencySpec::Margo(index)),
        _ => Err(BedrockError::IndexNotAllowed),
    }
}

/// Parses one JSON value (a string or an integer) as a spec.
pub fn parse_value(declared_type: &str, v: &Value) -> Result<DependencySpec> {
    match v {
        Value::String(s) => parse_spec(declared_type, s),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                parse_index(declared_type, u)
            } else if let Some(i) = n.as_i64() {
                match declared_type {
                    "pool" | "xstream" | "margo" => Err(BedrockError::NegativeDependencyIndex(i)),
                    _ => Err(BedrockError::IndexNotAllowed),
                }
            } else {
                Err(BedrockError::msg(format!("Invalid dependency specification {v} (expected a string or an integer)")))
            }
        }
        other => Err(BedrockError::msg(format!("Invalid dependency specification {other} (expected a string or an integer)"))),
    }
}

/// Reads the configured value of one declared dependency (§1.4 step 5):
/// `value` is the entry of the provider's `dependencies` object with the
/// dependency's name (`None` if absent).
///
/// * not an array dependency: a string or integer, or a 1-element array of
///   one, gives exactly one spec;
/// * array dependency: a string or non-negative integer counts as a
///   1-element array; any other non-array is an error; an empty array gives
///   no spec (and the dependency is then not reported);
/// * absent: `Ok(None)` if optional, "Missing dependency" if required.
///
/// Every error comes wrapped as upstream reports it: `While resolving
/// dependency "<name>" (type "<type>"): <cause>` (wrap resolution failures
/// the same way with [`BedrockError::while_resolving`]).
pub fn dependency_specs(
    name: &str,
    declared_type: &str,
    is_array: bool,
    is_required: bool,
    value: Option<&Value>,
) -> Result<Option<Vec<DependencySpec>>> {
    read_dependency(name, declared_type, is_array, is_required, value)
        .map_err(|e| BedrockError::while_resolving(name, declared_type, e))
}

fn read_dependency(
    name: &str,
    declared_type: &str,
    is_array: bool,
    is_required: bool,
    value: Option<&Value>,
) -> Result<Option<Vec<DependencySpec>>> {
    let value = match value {
        Some(v) => v,
        None if is_required => {
            return Err(BedrockError::MissingDependency { name: name.to_string(), type_name: declared_type.to_string() })
        }
        None => return Ok(None),
    };
    if !is_array {
        let single = match value {
            Value::Array(a) if a.len() == 1 => &a[0],
            Value::Array(a) => return Err(BedrockError::DependencyShouldBeSingle { name: name.to_string(), len: a.len() }),
            v => v,
        };
        return parse_value(declared_type, single).map(|s| Some(vec![s]));
    }
    let items: &[Value] = match value {
        Value::Array(a) => a,
        Value::String(_) => std::slice::from_ref(value),
        Value::Number(n) if n.is_u64() => std::slice::from_ref(value),
        _ => return Err(BedrockError::DependencyShouldBeArray(name.to_string())),
    };
    items.iter().map(|v| parse_value(declared_type, v)).collect::<Result<Vec<_>>>().map(Some)
}

/// `std::stoul`-like but strict: decimal digits only.
fn parse_margo_index(spec: &str) -> Result<u64> {
    if spec.is_empty() || !spec.bytes().all(|b| b.is_ascii_digit()) {
        return Err(BedrockError::InvalidMargoInstanceSpec(spec.to_string()));
    }
    spec.parse::<u64>().map_err(|_| BedrockError::InvalidMargoInstanceSpec(spec.to_string()))
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_ident_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Splits `IDENT(:DIGITS)?` off the front of `s`; returns the identifier,
/// the digits (if any) and the rest. `None` if `s` does not start with an
/// identifier.
fn split_ident(s: &str) -> Option<(&str, Option<&str>, &str)> {
    let bytes = s.as_bytes();
    if bytes.first().is_none_or(|b| !is_ident_start(*b)) {
        return None;
    }
    let end = bytes.iter().position(|b| !is_ident_char(*b)).unwrap_or(bytes.len());
    let (ident, rest) = s.split_at(end);
    if let Some(after) = rest.strip_prefix(':') {
        let digits_end = after.bytes().position(|b| !b.is_ascii_digit()).unwrap_or(after.len());
        if digits_end > 0 {
            return Some((ident, Some(&after[..digits_end]), &after[digits_end..]));
        }
    }
    Some((ident, None, rest))
}

fn parse_provider_id(spec: &str, digits: &str) -> Result<u16> {
    digits.parse::<u16>().map_err(|_| BedrockError::InvalidProviderIdInSpec(spec.to_string()))
}

/// Parses a provider spec for a dependency of (module) type
/// `declared_type`.
pub fn parse_provider_spec(declared_type: &str, spec: &str) -> Result<ProviderRef> {
    let ill = || BedrockError::IllFormattedDependency(spec.to_string());
    let (ident, digits, rest) = split_ident(spec).ok_or_else(ill)?;
    let locator = if rest.is_empty() {
        None
    } else {
        match rest.strip_prefix('@') {
            // `@` must be followed by at least one character.
            Some(loc) if !loc.is_empty() => Some(parse_locator(loc)?),
            _ => return Err(ill()),
        }
    };
    let target = match digits {
        None => ProviderTarget::Name(ident.to_string()),
        Some(d) => {
            if locator.is_some() && ident != declared_type {
                return Err(BedrockError::InvalidProviderTypeInSpec {
                    spec: spec.to_string(),
                    expected: declared_type.to_string(),
                });
            }
            ProviderTarget::TypeAndId { type_name: ident.to_string(), provider_id: parse_provider_id(spec, d)? }
        }
    };
    Ok(ProviderRef { target, locator })
}

fn parse_locator(loc: &str) -> Result<Locator> {
    if loc == "local" {
        return Ok(Locator::Local);
    }
    if loc.bytes().all(|b| b.is_ascii_digit()) {
        // Ranks are C ints upstream.
        return match loc.parse::<u32>() {
            Ok(r) if r <= i32::MAX as u32 => Ok(Locator::MpiRank(r)),
            _ => Err(BedrockError::InvalidRank(loc.to_string())),
        };
    }
    Ok(Locator::Address(loc.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn name(n: &str) -> ProviderTarget {
        ProviderTarget::Name(n.into())
    }

    fn tid(t: &str, id: u16) -> ProviderTarget {
        ProviderTarget::TypeAndId { type_name: t.into(), provider_id: id }
    }

    fn prov(target: ProviderTarget, locator: Option<Locator>) -> DependencySpec {
        DependencySpec::Provider(ProviderRef { target, locator })
    }

    #[test]
    fn local_provider_by_name() {
        assert_eq!(parse_spec("module_a", "my_provider").unwrap(), prov(name("my_provider"), None));
        assert_eq!(parse_spec("module_a", "_x9").unwrap(), prov(name("_x9"), None));
    }

    #[test]
    fn local_provider_by_type_and_id_ident_not_checked() {
        assert_eq!(parse_spec("module_a", "module_a:1").unwrap(), prov(tid("module_a", 1), None));
        // Without a locator the identifier is not checked against the type.
        assert_eq!(parse_spec("module_a", "whatever:7").unwrap(), prov(tid("whatever", 7), None));
        assert_eq!(parse_spec("module_a", "module_a:65535").unwrap(), prov(tid("module_a", 65535), None));
    }

    #[test]
    fn with_locators() {
        assert_eq!(parse_spec("module_a", "my_provider_a@local").unwrap(), prov(name("my_provider_a"), Some(Locator::Local)));
        assert_eq!(
            parse_spec("module_a", "module_a:1@na+sm://1234-0").unwrap(),
            prov(tid("module_a", 1), Some(Locator::Address("na+sm://1234-0".into())))
        );
        assert_eq!(parse_spec("module_a", "module_a:1@0").unwrap(), prov(tid("module_a", 1), Some(Locator::MpiRank(0))));
        assert_eq!(parse_spec("yokan", "kv@12").unwrap(), prov(name("kv"), Some(Locator::MpiRank(12))));
        // Anything after the first '@' is the locator.
        assert_eq!(
            parse_spec("t", "p@ofi+tcp://10.0.0.1:1234@x").unwrap(),
            prov(name("p"), Some(Locator::Address("ofi+tcp://10.0.0.1:1234@x".into())))
        );
        assert_eq!(parse_spec("t", "p@localhost").unwrap(), prov(name("p"), Some(Locator::Address("localhost".into()))));
    }

    #[test]
    fn type_must_match_with_locator() {
        let e = parse_spec("module_a", "module_b:2@local").unwrap_err();
        assert_eq!(e.to_string(), "Invalid provider type in \"module_b:2@local\" (expected module_a)");
        // By name the type is checked at resolution, not here.
        assert!(parse_spec("module_a", "some_b@local").is_ok());
    }

    #[test]
    fn ill_formatted() {
        for s in
            ["", "1abc", "abc:", "abc:x", "a b", "a-b", "abc:12x", "a:b@c", "@local", "abc@", "ab:1@", ":1", "é", "abc:-1", "a.b"]
        {
            let e = parse_spec("module_a", s).unwrap_err();
            assert_eq!(e, BedrockError::IllFormattedDependency(s.into()), "spec {s:?}");
            assert_eq!(e.to_string(), format!("Ill-formated dependency specification \"{s}\""));
        }
    }

    #[test]
    fn provider_id_range_and_rank_range() {
        assert_eq!(parse_spec("t", "t:65536").unwrap_err(), BedrockError::InvalidProviderIdInSpec("t:65536".into()));
        assert_eq!(
            parse_spec("t", "p@99999999999").unwrap_err().to_string(),
            "Requesting address of an invalid rank (99999999999)"
        );
        assert_eq!(parse_spec("t", "p@2147483648").unwrap_err(), BedrockError::InvalidRank("2147483648".into()));
    }

    #[test]
    fn pools_xstreams_margo() {
        assert_eq!(parse_spec("pool", "__primary__").unwrap(), DependencySpec::Pool(ArgobotsRef::Name("__primary__".into())));
        // Pool and xstream names are not parsed.
        assert_eq!(parse_spec("pool", "weird name@x").unwrap(), DependencySpec::Pool(ArgobotsRef::Name("weird name@x".into())));
        assert_eq!(parse_value("pool", &json!(1)).unwrap(), DependencySpec::Pool(ArgobotsRef::Index(1)));
        assert_eq!(parse_value("xstream", &json!("my_es")).unwrap(), DependencySpec::Xstream(ArgobotsRef::Name("my_es".into())));
        assert_eq!(parse_value("xstream", &json!(0)).unwrap(), DependencySpec::Xstream(ArgobotsRef::Index(0)));
        assert_eq!(parse_value("margo", &json!(0)).unwrap(), DependencySpec::Margo(0));
        assert_eq!(parse_value("margo", &json!("0")).unwrap(), DependencySpec::Margo(0));
        assert_eq!(parse_value("margo", &json!("999")).unwrap(), DependencySpec::Margo(999));
        assert_eq!(parse_value("margo", &json!(999)).unwrap(), DependencySpec::Margo(999));
        for bad in ["not_a_number", "", "1abc", "-1", " 1"] {
            assert_eq!(
                parse_value("margo", &json!(bad)).unwrap_err().to_string(),
                format!("Invalid margo instance specification \"{bad}\" (expected integer index)")
            );
        }
    }

    #[test]
    fn indices_only_for_argobots_and_margo() {
        assert_eq!(
            parse_value("module_a", &json!(1)).unwrap_err().to_string(),
            "Only pools, xstreams, and margo instances can be referenced by index"
        );
        assert_eq!(parse_value("module_a", &json!(-1)).unwrap_err(), BedrockError::IndexNotAllowed);
        assert_eq!(parse_value("pool", &json!(-1)).unwrap_err(), BedrockError::NegativeDependencyIndex(-1));
        assert!(parse_value("pool", &json!(1.5)).is_err());
        assert!(parse_value("pool", &json!(true)).is_err());
    }

    #[test]
    fn single_dependency_shapes() {
        let one = |v: Value| dependency_specs("d", "pool", false, true, Some(&v));
        assert_eq!(one(json!("p")).unwrap(), Some(vec![DependencySpec::Pool(ArgobotsRef::Name("p".into()))]));
        assert_eq!(one(json!(["p"])).unwrap(), Some(vec![DependencySpec::Pool(ArgobotsRef::Name("p".into()))]));
        assert_eq!(one(json!([3])).unwrap(), Some(vec![DependencySpec::Pool(ArgobotsRef::Index(3))]));
        let e = one(json!(["a", "b"])).unwrap_err();
        assert!(e.to_string().starts_with("While resolving dependency \"d\" (type \"pool\"): Dependency \"d\" should be"), "{e}");
        assert!(one(json!([])).is_err());
    }

    #[test]
    fn missing_and_optional() {
        assert_eq!(dependency_specs("d", "module_a", false, false, None).unwrap(), None);
        assert_eq!(
            dependency_specs("d", "module_a", true, true, None).unwrap_err().to_string(),
            "While resolving dependency \"d\" (type \"module_a\"): Missing dependency \"d\" of type \"module_a\" in provider configuration"
        );
    }

    #[test]
    fn array_dependency_shapes() {
        let arr = |v: Value| dependency_specs("deps", "module_a", true, false, Some(&v));
        assert_eq!(arr(json!("a")).unwrap(), Some(vec![prov(name("a"), None)]));
        assert_eq!(
            arr(json!(["a", "module_a:2@local"])).unwrap(),
            Some(vec![prov(name("a"), None), prov(tid("module_a", 2), Some(Locator::Local))])
        );
        assert_eq!(arr(json!([])).unwrap(), Some(vec![]));
        assert_eq!(
            arr(json!(-1)).unwrap_err().to_string(),
            "While resolving dependency \"deps\" (type \"module_a\"): Dependency \"deps\" should be an array"
        );
        assert_eq!(
            arr(json!(["ok", "bad spec"])).unwrap_err().to_string(),
            "While resolving dependency \"deps\" (type \"module_a\"): Ill-formated dependency specification \"bad spec\""
        );
        // An unsigned integer becomes a 1-element array (then fails for a
        // provider type, but works for pools).
        assert_eq!(
            arr(json!(1)).unwrap_err().to_string(),
            "While resolving dependency \"deps\" (type \"module_a\"): Only pools, xstreams, and margo instances can be referenced by index"
        );
        assert_eq!(
            dependency_specs("p", "pool", true, true, Some(&json!(2))).unwrap(),
            Some(vec![DependencySpec::Pool(ArgobotsRef::Index(2))])
        );
    }

    #[test]
    fn display_and_lookup_spec() {
        let r = parse_provider_spec("module_a", "module_a:3@na+sm://1-2").unwrap();
        assert_eq!(r.to_string(), "module_a:3@na+sm://1-2");
        assert_eq!(r.target.lookup_spec("module_a"), "module_a:3");
        let r = parse_provider_spec("module_a", "x:4").unwrap();
        assert_eq!(r.target.lookup_spec("module_a"), "module_a:4");
        let r = parse_provider_spec("module_a", "prov@7").unwrap();
        assert_eq!(r.to_string(), "prov@7");
        assert_eq!(r.target.lookup_spec("module_a"), "prov");
    }
}
