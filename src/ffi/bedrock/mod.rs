//! Bedrock's C face: the client (`bedrock/client.h`), the module ABI
//! (`bedrock/module.h`) and the embedded server (`bedrock/server.h`).

pub mod client;
pub mod module;
pub mod server;
