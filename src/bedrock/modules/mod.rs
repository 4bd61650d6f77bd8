//! Modules built into the library: `flock` and `yokan`.

mod args;
pub mod component;
pub mod flock;
pub mod yokan;

/// Library names that mean a built-in module in `libraries`
/// (`libflock-bedrock-module.so`, `libyokan-bedrock-module.so`, bare or
/// with a path).
pub fn is_builtin_library(path: &str) -> bool {
    let base = path.rsplit('/').next().unwrap_or(path);
    base.starts_with("libflock-bedrock-module") || base.starts_with("libyokan-bedrock-module")
}

pub fn register_builtins() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        super::module::register(std::sync::Arc::new(flock::FlockModule));
        super::module::register(std::sync::Arc::new(yokan::YokanModule));
    });
}
