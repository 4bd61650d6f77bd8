// Finds the system libfabric and compiles the shim that turns libfabric's
// static-inline calls (fi_send, fi_cq_read, ...) into real symbols.
fn main() {
    let lib = pkg_config::Config::new()
        .atleast_version("1.11")
        .probe("libfabric")
        .unwrap_or_else(|e| panic!("libfabric >= 1.11 not found through pkg-config (install libfabric-dev): {e}"));
    let mut build = cc::Build::new();
    build.file("shim/shim.c").warnings(true).extra_warnings(true);
    for path in &lib.include_paths {
        build.include(path);
    }
    build.compile("fabric_shim");
    println!("cargo:rerun-if-changed=shim/shim.c");
    println!("cargo:rerun-if-changed=shim/shim.h");
}
