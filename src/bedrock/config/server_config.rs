//! Whole-document validation into a [`ServerConfig`].

use super::input::{parse_document, select, uses_rank_locators, ConfigFormat};
use super::providers::{check_new_provider, ProviderSpec};
use super::sections::{BedrockSection, Libraries};
use super::Result;
use crate::bedrock::error::BedrockError;
use crate::rpc::config::json_type;
use crate::rpc::config::{InitOverrides, MargoConfig};
use serde_json::{Map, Value};

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

/// Validates a loaded configuration ([`load`](super::load)'s output) in upstream's
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
    /// [`load`](super::load) then [`parse_server_config`].
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
