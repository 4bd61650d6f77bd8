//! Bedrock: the service bootstrapper (configuration front end, modules,
//! providers, management RPCs, client side).

pub mod client;
pub mod config;
pub mod daemon;
pub mod dependency_spec;
pub mod error;
pub mod loader;
pub mod module;
pub mod modules;
pub mod protocol;
pub mod server;

pub use error::BedrockError;
