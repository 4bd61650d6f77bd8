//! The C face (the only `extern "C"` code).
