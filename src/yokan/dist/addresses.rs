//! The group's members' addresses, parsed once. Requests name members by
//! the text the view lists, and every call needs the parsed form: parsing
//! it again for each call (several allocations, a canonical re-format)
//! was a visible part of what a single-key call costs beyond the RPC.

use crate::rpc::{Address, Engine, RpcError};
use parking_lot::RwLock;
use std::collections::HashMap;

/// Most addresses kept; past it the book starts over (a group that big
/// churns rarely, and a miss costs one parse).
const MOST: usize = 4096;

#[derive(Default)]
pub(crate) struct AddressBook {
    parsed: RwLock<HashMap<String, Address>>,
}

impl AddressBook {
    /// `member`'s address, parsed by `engine` the first time it is asked.
    pub fn get(&self, engine: &Engine, member: &str) -> Result<Address, RpcError> {
        if let Some(addr) = self.parsed.read().get(member) {
            return Ok(addr.clone());
        }
        let addr = engine.lookup(member)?;
        let mut parsed = self.parsed.write();
        if parsed.len() >= MOST {
            parsed.clear();
        }
        parsed.insert(member.to_string(), addr.clone());
        Ok(addr)
    }
}
