//! Name → plug-in tables for backends and gateways, with upstream's rules:
//! 64 slots, lookup by exact name, registering a present name is a no-op.

use super::error::{FlockError, Result};
use parking_lot::RwLock;
use std::sync::Arc;

pub const CAPACITY: usize = 64;

pub trait Named: Send + Sync {
    fn name(&self) -> &str;
}

pub struct Registry<T: ?Sized + Named> {
    what: &'static str,
    items: RwLock<Vec<Arc<T>>>,
}

impl<T: ?Sized + Named> Registry<T> {
    pub const fn new(what: &'static str) -> Self {
        Registry { what, items: RwLock::new(Vec::new()) }
    }

    pub fn register(&self, item: Arc<T>) -> Result<()> {
        let mut items = self.items.write();
        if items.iter().any(|i| i.name() == item.name()) {
            return Ok(());
        }
        if items.len() >= CAPACITY {
            return Err(FlockError::Code {
                code: super::error::code::ALLOCATION,
                message: format!("the {} table is full ({CAPACITY} entries)", self.what),
            });
        }
        items.push(item);
        Ok(())
    }

    pub fn lookup(&self, name: &str) -> Option<Arc<T>> {
        self.items.read().iter().find(|i| i.name() == name).cloned()
    }

    pub fn names(&self) -> Vec<String> {
        self.items.read().iter().map(|i| i.name().to_string()).collect()
    }
}
