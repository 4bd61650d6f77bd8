//! The string-valued settings of pools and xstreams, as Rust enums.

/// Declares an enum whose variants map one-to-one onto JSON strings.
macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident, default $def:ident, { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            /// Every variant, in the order used in error messages.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The JSON spelling of this variant.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// Parses the JSON spelling; `None` for anything else.
            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }

            pub(super) fn choices() -> String {
                Self::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")
            }
        }

        impl Default for $name {
            fn default() -> Self { $name::$def }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum!(
    /// Kind of an Argobots pool (`kind` field).
    PoolKind, default FifoWait, {
        Fifo => "fifo",
        FifoWait => "fifo_wait",
        PrioWait => "prio_wait",
        EarliestFirst => "earliest_first",
        External => "external",
    }
);

string_enum!(
    /// Access mode of an Argobots pool (`access` field).
    PoolAccess, default Mpmc, {
        Private => "private",
        Spsc => "spsc",
        Mpsc => "mpsc",
        Spmc => "spmc",
        Mpmc => "mpmc",
    }
);

string_enum!(
    /// Scheduler of an xstream (`scheduler.type` field).
    SchedulerType, default BasicWait, {
        Default => "default",
        Basic => "basic",
        Prio => "prio",
        RandWs => "randws",
        BasicWait => "basic_wait",
    }
);
