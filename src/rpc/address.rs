//! A peer's address as the RPC layer hands it around: protocol, libfabric
//! name and the text users see. Cheap to clone.

use crate::fabric::{parse_peer, Protocol};
use std::sync::Arc;

#[derive(Clone)]
pub struct Address {
    protocol: Protocol,
    name: Arc<[u8]>,
    text: Arc<str>,
}

impl Address {
    pub(crate) fn new(protocol: Protocol, name: Arc<[u8]>, text: &str) -> Address {
        Address { protocol, name, text: Arc::from(text) }
    }

    /// Parses an address string (`na+sm://<pid>-<n>`, `ofi+tcp://ip:port`, …).
    pub fn parse(text: &str) -> Result<Address, crate::fabric::AddressError> {
        let (protocol, name) = parse_peer(text)?;
        let canonical = crate::fabric::address::format_name(protocol, &name).unwrap_or_else(|| text.to_string());
        Ok(Address { protocol, name: Arc::from(name), text: Arc::from(canonical.as_str()) })
    }

    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    pub(crate) fn name(&self) -> &Arc<[u8]> {
        &self.name
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl PartialEq for Address {
    fn eq(&self, other: &Self) -> bool {
        self.protocol == other.protocol && self.name == other.name
    }
}
impl Eq for Address {}

impl std::hash::Hash for Address {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl std::fmt::Display for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::fmt::Debug for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Address({})", self.text)
    }
}
