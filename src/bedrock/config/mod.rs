//! Bedrock's configuration front end: the input pipeline (JSON / TOML text
//! → one JSON object), the static validation of that object into a
//! [`ServerConfig`], pure helpers for the checks that happen while providers
//! are created, and the assembly of the effective configuration Bedrock
//! reports ([`output_config`]).
//!
//! Error texts are upstream Bedrock's (see [`BedrockError`]). Checks that
//! need run-time state — a module type exists, dependencies resolve, a
//! library can be loaded — are not done here.
//!
//! Where things are: `input` turns text into the document (with
//! `toml_input`, `dotted_keys` for simplified JSON and `if_conditions`);
//! `server_config` validates the whole document, with `sections` (the
//! `bedrock` and `libraries` sections), `providers` (one provider entry,
//! provider ids) and `provider_schema` (upstream's schema, checked by
//! hand); `report` assembles the effective configuration.

use super::error::BedrockError;

mod dotted_keys;
mod if_conditions;
mod input;
mod provider_schema;
mod providers;
mod report;
mod sections;
mod server_config;
#[cfg(test)]
mod tests;
mod toml_input;

pub use dotted_keys::{expand_simplified_json, MAX_EXPANDED_DEPTH};
pub use if_conditions::filter_if_conditions;
pub use input::{load, ConfigFormat};
pub use providers::{auto_provider_id, check_new_provider, ProviderSpec};
pub use report::{output_config, report_dependencies, ProviderReport};
pub use sections::{BedrockSection, Libraries, LibrariesForm, LibrarySpec};
pub use server_config::{engine_address, parse_margo_section, parse_server_config, ServerConfig};
pub use toml_input::toml_to_json;

type Result<T> = std::result::Result<T, BedrockError>;

/// Bedrock's own provider id when the `bedrock` section does not give one.
pub const DEFAULT_BEDROCK_PROVIDER_ID: u16 = 0;
/// Default `bedrock.dependency_resolution_timeout`, in seconds.
pub const DEFAULT_DEPENDENCY_RESOLUTION_TIMEOUT: f64 = 30.0;
/// A provider id of 65535 (or none) asks for an automatically chosen one.
pub const AUTO_PROVIDER_ID: u16 = u16::MAX;
/// The pattern provider names must match (reported in schema errors).
pub const PROVIDER_NAME_PATTERN: &str = "^[a-zA-Z_][a-zA-Z0-9_]*$";
