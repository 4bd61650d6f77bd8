//! Modules built into the library.

pub mod flock;

/// Library names that mean "the built-in Flock module" in `libraries`.
pub fn is_builtin_library(path: &str) -> bool {
    let base = path.rsplit('/').next().unwrap_or(path);
    base.starts_with("libflock-bedrock-module")
}

pub fn register_builtins() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        super::module::register(std::sync::Arc::new(flock::FlockModule));
    });
}
