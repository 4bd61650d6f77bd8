//! Names of pools and xstreams: the checks of given names and the
//! generation of missing ones.

use super::error::ConfigError;
use super::json::{field, item};
use std::collections::HashSet;

/// Names must be usable as C identifiers.
pub(super) fn check_name(name: &str, path: &str) -> Result<(), ConfigError> {
    let reason = if name.is_empty() {
        Some("names must not be empty".to_string())
    } else if name.as_bytes()[0].is_ascii_digit() {
        Some("names must not start with a digit".to_string())
    } else {
        name.chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '_'))
            .map(|c| format!("invalid character {c:?} (names must be C identifiers)"))
    };
    match reason {
        None => Ok(()),
        Some(reason) => Err(ConfigError::InvalidName { path: path.to_string(), name: name.to_string(), reason }),
    }
}

/// Rejects repeated explicit names; `array_path` is e.g. `margo.argobots.pools`.
pub(super) fn check_unique<'a>(names: impl Iterator<Item = Option<&'a str>>, array_path: &str) -> Result<(), ConfigError> {
    let mut seen: HashSet<&str> = HashSet::new();
    for (i, name) in names.enumerate() {
        if let Some(n) = name {
            if !seen.insert(n) {
                return Err(ConfigError::DuplicateName { path: field(&item(array_path, i), "name"), name: n.to_string() });
            }
        }
    }
    Ok(())
}

/// Upstream's name generator: the element at index `i` is named
/// `__<prefix>_<n>__`, n starting at `i` and increasing until the name is
/// free. It remembers what is taken (the names given, and those it handed
/// out) in a set, and where its last search ended: indices only grow within
/// one generator, and a taken name stays taken, so names below that point
/// need no second look. Naming n elements is therefore linear (a scan of
/// all names per candidate made 65 536 generated xstreams take seconds).
pub(super) struct NameGenerator {
    prefix: &'static str,
    taken: HashSet<String>,
    searched_below: usize,
}

impl NameGenerator {
    pub(super) fn new<'a>(prefix: &'static str, taken: impl IntoIterator<Item = &'a str>) -> Self {
        NameGenerator { prefix, taken: taken.into_iter().map(str::to_string).collect(), searched_below: 0 }
    }

    /// The name of the element at `index`; it counts as taken from now on.
    pub(super) fn name_for(&mut self, index: usize) -> String {
        let mut n = index.max(self.searched_below);
        loop {
            let candidate = format!("__{}_{n}__", self.prefix);
            n += 1;
            if !self.taken.contains(&candidate) {
                self.searched_below = n;
                self.taken.insert(candidate.clone());
                return candidate;
            }
        }
    }
}
