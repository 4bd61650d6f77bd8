//! Bedrock's errors. Display texts are upstream Bedrock's messages wherever
//! upstream has one (they are what users, logs and tests see); variants
//! marked "ours" cover what upstream reports through a JSON-library
//! exception, silently accepts, or does not implement.

use crate::rpc::config::ConfigError;

#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum BedrockError {
    /// Any message built where it arises.
    #[error("{0}")]
    Message(String),
    /// A feature this implementation deliberately does not provide; the
    /// text says what and why.
    #[error("{0}")]
    NotSupported(String),

    // ----- input pipeline (§1.1) -----
    /// JSON syntax error (parser message, with line and column).
    #[error("{0}")]
    JsonParse(String),
    /// TOML syntax error (parser message).
    #[error("{0}")]
    TomlParse(String),
    /// A TOML value with no JSON equivalent (dates and times).
    #[error("Invalid TOML value encountered")]
    InvalidTomlValue,
    /// Ours: TOML `nan` / `inf` have no JSON representation.
    #[error("Invalid TOML value encountered (non-finite float {0})")]
    NonFiniteTomlFloat(String),
    /// Ours: configurations written in Jx9.
    #[error("Jx9 configurations are not supported by this implementation; use JSON or TOML")]
    Jx9NotSupported,
    /// Ours: an `__if__` condition given as a (Jx9) expression.
    #[error("__if__ condition \"{0}\" is a Jx9 expression, which is not supported by this implementation; use true or false")]
    Jx9ConditionNotSupported(String),
    #[error("__if__ condition should be a string or a boolean")]
    InvalidIfCondition,
    #[error("Configuration resolved to an array but MPI is not enabled")]
    ArrayWithoutMpi,
    #[error("Ambiguous configuration did not resolve to a single possibility for the process")]
    AmbiguousConfiguration,
    /// Ours (upstream recurses without a bound): a dotted key whose
    /// expansion nests the document deeper than `limit` objects.
    #[error("Invalid configuration: key \"{key}\" nests the configuration deeper than {limit} levels")]
    KeyNestsTooDeep { key: String, limit: usize },
    /// Ours (upstream fails with a JSON-library iterator error).
    #[error("Invalid configuration: the root should be an object (found {0})")]
    InvalidRoot(&'static str),

    // ----- top-level sections (§1.2) -----
    /// The `margo` section (or one engine's entry) is invalid.
    #[error("Invalid Margo configuration: {0}")]
    Margo(#[from] ConfigError),
    /// Ours (upstream: "Addresses and configs vectors must not be empty").
    #[error("Invalid \"margo\" entry: an array of engine configurations must not be empty")]
    EmptyMargoArray,
    #[error("Could not infer protocol for engine {0}: no address provided and no valid mercury.address found in configuration")]
    ProtocolInference(usize),
    #[error("Engine index {index} out of range (have {count} engines)")]
    EngineIndexOutOfRange { index: usize, count: usize },
    #[error("Invalid entry type for \"bedrock\" (expected object)")]
    BedrockNotObject,
    #[error("Invalid type in Bedrock's \"pool\" entry")]
    BedrockPoolType,
    /// Ours (upstream truncates or throws a JSON-library type error).
    #[error("Invalid type in Bedrock's \"provider_id\" entry (expected an integer between 0 and 65535)")]
    BedrockProviderIdType,
    /// Ours (upstream throws a JSON-library type error).
    #[error("Invalid type in Bedrock's \"dependency_resolution_timeout\" entry (expected a number)")]
    BedrockTimeoutType,
    #[error("Could not find pool with name \"{name}\": {reason}")]
    PoolNotFound { name: String, reason: String },
    #[error("Could not find pool at index {index}: {reason}")]
    PoolIndexNotFound { index: u64, reason: String },
    #[error("Could not find xstream with name \"{name}\": {reason}")]
    XstreamNotFound { name: String, reason: String },
    #[error("Could not find xstream at index {index}: {reason}")]
    XstreamIndexNotFound { index: u64, reason: String },
    #[error("\"libraries\" field needs to be an array")]
    LibrariesNotArray,
    #[error("Module library should be a string")]
    LibraryNotString,
    #[error("Could not dlopen library {library}: {reason}")]
    Dlopen { library: String, reason: String },
    #[error("Invalid JSON configuration passed to ProviderManager::addProviderListFromJSON (should be an array)")]
    ProvidersNotArray,

    // ----- provider creation (§1.4) -----
    /// Schema violation; `message` is the validator's text.
    #[error("Error validating JSON ({context}): {message}")]
    Validation { context: String, message: String },
    /// A provider description that is not JSON text (runtime additions).
    #[error("Error parsing JSON ({context}): {message}")]
    JsonParseContext { context: String, message: String },
    #[error("Invalid engine index {index} (only {count} engines available)")]
    InvalidEngineIndex { index: u64, count: usize },
    #[error("Bedrock already uses provider ID {0}")]
    BedrockProviderIdInUse(u16),
    #[error("Could not find registration function for module \"{0}\"")]
    UnknownModule(String),
    #[error("Missing dependency \"{name}\" of type \"{type_name}\" in provider configuration")]
    MissingDependency { name: String, type_name: String },
    /// Wraps any failure while resolving one declared dependency.
    #[error("While resolving dependency \"{name}\" (type \"{type_name}\"): {source}")]
    WhileResolvingDependency { name: String, type_name: String, source: Box<BedrockError> },
    #[error("Dependency \"{0}\" should be an array")]
    DependencyShouldBeArray(String),
    /// Ours (upstream throws a JSON-library type error).
    #[error("Dependency \"{name}\" should be a string or an integer, or an array of exactly one of them (found an array of {len} elements)")]
    DependencyShouldBeSingle { name: String, len: usize },
    #[error("Name \"{0}\" already used by another provider")]
    NameInUse(String),
    #[error("Another provider already uses provider ID {0}")]
    ProviderIdInUse(u16),
    /// Ours (upstream would hand out provider ID 0 again).
    #[error("No provider ID available")]
    NoProviderIdAvailable,
    #[error("While creating provider \"{name}\" of type \"{type_name}\" (ModuleManager::createComponent): {cause}")]
    WhileCreatingProvider { name: String, type_name: String, cause: String },

    // ----- dependency specifications (§1.5) -----
    #[error("Ill-formated dependency specification \"{0}\"")]
    IllFormattedDependency(String),
    #[error("Invalid provider type in \"{spec}\" (expected {expected})")]
    InvalidProviderTypeInSpec { spec: String, expected: String },
    /// Ours (upstream truncates the id modulo 65536).
    #[error("Invalid provider ID in dependency specification \"{0}\" (expected at most 65535)")]
    InvalidProviderIdInSpec(String),
    #[error("Invalid margo instance specification \"{0}\" (expected integer index)")]
    InvalidMargoInstanceSpec(String),
    #[error("Could not find margo instance at index {0}")]
    MargoInstanceNotFound(u64),
    #[error("Only pools, xstreams, and margo instances can be referenced by index")]
    IndexNotAllowed,
    /// Ours (upstream converts a negative index to a huge unsigned one).
    #[error("Invalid index {0} in dependency specification (expected a non-negative integer)")]
    NegativeDependencyIndex(i64),
    #[error("Requesting address of an invalid rank ({0})")]
    InvalidRank(String),
    #[error("Could not find provider with spec \"{0}\"")]
    ProviderSpecNotFound(String),
    #[error("Invalid type {actual} for dependency \"{name}\" (expected {expected})")]
    InvalidDependencyType { actual: String, name: String, expected: String },
}

impl BedrockError {
    pub fn msg(m: impl Into<String>) -> BedrockError {
        BedrockError::Message(m.into())
    }

    /// Wraps `cause` the way upstream reports any failure while resolving
    /// the declared dependency `name` of type `type_name`.
    pub fn while_resolving(name: &str, type_name: &str, cause: BedrockError) -> BedrockError {
        BedrockError::WhileResolvingDependency {
            name: name.to_string(),
            type_name: type_name.to_string(),
            source: Box::new(cause),
        }
    }

    /// A schema violation in a provider description.
    pub fn provider_validation(message: impl Into<String>) -> BedrockError {
        BedrockError::Validation { context: "ProviderManager".to_string(), message: message.into() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_texts() {
        assert_eq!(BedrockError::LibrariesNotArray.to_string(), "\"libraries\" field needs to be an array");
        assert_eq!(BedrockError::LibraryNotString.to_string(), "Module library should be a string");
        assert_eq!(BedrockError::BedrockNotObject.to_string(), "Invalid entry type for \"bedrock\" (expected object)");
        assert_eq!(
            BedrockError::provider_validation("At /name of true - unexpected instance type").to_string(),
            "Error validating JSON (ProviderManager): At /name of true - unexpected instance type"
        );
        assert_eq!(BedrockError::NameInUse("x".into()).to_string(), "Name \"x\" already used by another provider");
        assert_eq!(BedrockError::ProviderIdInUse(42).to_string(), "Another provider already uses provider ID 42");
        assert_eq!(BedrockError::BedrockProviderIdInUse(0).to_string(), "Bedrock already uses provider ID 0");
        assert_eq!(
            BedrockError::InvalidEngineIndex { index: 3, count: 2 }.to_string(),
            "Invalid engine index 3 (only 2 engines available)"
        );
        assert_eq!(
            BedrockError::UnknownModule("module_invalid".into()).to_string(),
            "Could not find registration function for module \"module_invalid\""
        );
        assert_eq!(
            BedrockError::IllFormattedDependency("a b".into()).to_string(),
            "Ill-formated dependency specification \"a b\""
        );
        assert_eq!(
            BedrockError::ProvidersNotArray.to_string(),
            "Invalid JSON configuration passed to ProviderManager::addProviderListFromJSON (should be an array)"
        );
        assert_eq!(BedrockError::ArrayWithoutMpi.to_string(), "Configuration resolved to an array but MPI is not enabled");
        assert_eq!(
            BedrockError::AmbiguousConfiguration.to_string(),
            "Ambiguous configuration did not resolve to a single possibility for the process"
        );
        assert_eq!(BedrockError::InvalidTomlValue.to_string(), "Invalid TOML value encountered");
    }

    #[test]
    fn wrapped_missing_dependency() {
        let e = BedrockError::while_resolving(
            "dep",
            "module_a",
            BedrockError::MissingDependency { name: "dep".into(), type_name: "module_a".into() },
        );
        assert_eq!(
            e.to_string(),
            "While resolving dependency \"dep\" (type \"module_a\"): Missing dependency \"dep\" of type \"module_a\" in provider configuration"
        );
    }

    #[test]
    fn jx9_is_clearly_unsupported() {
        let t = BedrockError::Jx9NotSupported.to_string();
        assert!(t.contains("Jx9") && t.contains("not supported"), "{t}");
        let t = BedrockError::Jx9ConditionNotSupported("$x > 1".into()).to_string();
        assert!(t.contains("$x > 1") && t.contains("not supported"), "{t}");
    }
}
