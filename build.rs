//! Generates the C headers from the `extern "C"` items in `src/ffi` and gives
//! the cdylib its SONAME.

use std::path::Path;

const MARGO_TRAILER: &str = r#"
/* cbindgen places the trailer after the include guard: keep our own. */
#ifndef MOCHI_MARGO_INLINES_H
#define MOCHI_MARGO_INLINES_H
#define MARGO_INSTANCE_NULL ((margo_instance_id)NULL)
#define HG_ADDR_NULL ((hg_addr_t)NULL)
#define HG_TRUE 1
#define HG_FALSE 0
#define MARGO_INIT_INFO_INITIALIZER {0}
#define HG_NO_MATCH HG_NOENTRY
#define HG_INVALID_PARAM HG_INVALID_ARG
#define HG_SIZE_ERROR HG_MSGSIZE
#define HG_NOMEM_ERROR HG_NOMEM
#define HG_HANDLE_NULL ((hg_handle_t)NULL)
#define HG_PROC_NULL ((hg_proc_t)NULL)
#define MARGO_REQUEST_NULL ((margo_request)NULL)
#define HG_BULK_NULL ((hg_bulk_t)NULL)
#define HG_BULK_READ_ONLY (1 << 0)
#define HG_BULK_WRITE_ONLY (1 << 1)
#define HG_BULK_READWRITE (HG_BULK_READ_ONLY | HG_BULK_WRITE_ONLY)
/* Mercury's fixed-width names (mercury_config.h), as upstream margo.h's
 * declarations use them (margo_bulk_access: hg_uint8_t, hg_uint32_t). */
typedef int8_t hg_int8_t;
typedef int16_t hg_int16_t;
typedef int32_t hg_int32_t;
typedef int64_t hg_int64_t;
typedef uint8_t hg_uint8_t;
typedef uint16_t hg_uint16_t;
typedef uint32_t hg_uint32_t;
typedef uint64_t hg_uint64_t;
typedef hg_uint64_t hg_ptr_t;

/* RPC registration as Margo programs write it: MARGO_REGISTER(mid, "name",
 * in_type, out_type, handler) where each type names its proc (hg_proc_<type>,
 * `void` for none) and handler is a DEFINE_MARGO_RPC_HANDLER name or NULL. */
#define MOCHI_PP_CAT(a, b) MOCHI_PP_CAT_I(a, b)
#define MOCHI_PP_CAT_I(a, b) a##b
#define _handler_for_NULL ((hg_rpc_cb_t)NULL)
#define MARGO_REGISTER(mid_, name_, in_t_, out_t_, handler_)                         \
    margo_provider_register_name((mid_), (name_), MOCHI_PP_CAT(hg_proc_, in_t_),      \
                                 MOCHI_PP_CAT(hg_proc_, out_t_), _handler_for_##handler_, \
                                 MARGO_DEFAULT_PROVIDER_ID, ABT_POOL_NULL);
#define MARGO_REGISTER_PROVIDER(mid_, name_, in_t_, out_t_, handler_, provider_id_, pool_) \
    margo_provider_register_name((mid_), (name_), MOCHI_PP_CAT(hg_proc_, in_t_),            \
                                 MOCHI_PP_CAT(hg_proc_, out_t_), _handler_for_##handler_,   \
                                 (provider_id_), (pool_));
/* The handler runs on its pool's execution stream already: the glue calls
 * the user's function there directly. */
#define DECLARE_MARGO_RPC_HANDLER(name_) hg_return_t _handler_for_##name_(hg_handle_t handle);
#define DEFINE_MARGO_RPC_HANDLER(name_)                    \
    hg_return_t _handler_for_##name_(hg_handle_t handle)   \
    {                                                      \
        name_(handle);                                     \
        return HG_SUCCESS;                                 \
    }

/* Margo's printf-style logging calls. Stable Rust cannot define C variadic
 * functions, so these format here and hand the text to margo_log_message. */
static inline void margo_logv_(margo_instance_id mid, margo_log_level level, const char *fmt, va_list ap)
{
    char small[512];
    va_list copy;
    va_copy(copy, ap);
    int n = vsnprintf(small, sizeof small, fmt, copy);
    va_end(copy);
    if (n < 0) return;
    if ((size_t)n < sizeof small) {
        margo_log_message(mid, level, small);
        return;
    }
    char *big = (char *)malloc((size_t)n + 1);
    if (!big) return;
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    margo_log_message(mid, level, big);
    free(big);
}

#define MARGO_LOG_FN_(name_, level_)                                               \
    static inline void name_(margo_instance_id mid, const char *fmt, ...)         \
    {                                                                              \
        va_list ap;                                                                \
        va_start(ap, fmt);                                                         \
        margo_logv_(mid, level_, fmt, ap);                                         \
        va_end(ap);                                                                \
    }
MARGO_LOG_FN_(margo_trace, MARGO_LOG_TRACE)
MARGO_LOG_FN_(margo_debug, MARGO_LOG_DEBUG)
MARGO_LOG_FN_(margo_info, MARGO_LOG_INFO)
MARGO_LOG_FN_(margo_warning, MARGO_LOG_WARNING)
MARGO_LOG_FN_(margo_error, MARGO_LOG_ERROR)
MARGO_LOG_FN_(margo_critical, MARGO_LOG_CRITICAL)
#undef MARGO_LOG_FN_
#endif /* MOCHI_MARGO_INLINES_H */

/* Every hg_return_t in numeric order, as Mercury's X-macro: define X(name)
 * before expanding it (Bedrock's error strings are built this way). */
#define HG_RETURN_VALUES \
    X(HG_SUCCESS)\
    X(HG_PERMISSION)\
    X(HG_NOENTRY)\
    X(HG_INTERRUPT)\
    X(HG_AGAIN)\
    X(HG_NOMEM)\
    X(HG_ACCESS)\
    X(HG_FAULT)\
    X(HG_BUSY)\
    X(HG_EXIST)\
    X(HG_NODEV)\
    X(HG_INVALID_ARG)\
    X(HG_PROTOCOL_ERROR)\
    X(HG_OVERFLOW)\
    X(HG_MSGSIZE)\
    X(HG_PROTONOSUPPORT)\
    X(HG_OPNOTSUPPORTED)\
    X(HG_ADDRINUSE)\
    X(HG_ADDRNOTAVAIL)\
    X(HG_HOSTUNREACH)\
    X(HG_TIMEOUT)\
    X(HG_CANCELED)\
    X(HG_IO_ERROR)\
    X(HG_CHECKSUM_ERROR)\
    X(HG_NA_ERROR)\
    X(HG_OTHER_ERROR)\
    X(HG_RETURN_MAX)

/* Upstream's C11 shorthands that pick the function by argument type. */
#if !defined(__cplusplus) && defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define margo_find_pool(mid, args, info) \
    _Generic((args), ABT_pool: margo_find_pool_by_handle, const char*: margo_find_pool_by_name, \
             char*: margo_find_pool_by_name, default: margo_find_pool_by_index)(mid, args, info)
#define margo_remove_pool(mid, args) \
    _Generic((args), ABT_pool: margo_remove_pool_by_handle, const char*: margo_remove_pool_by_name, \
             char*: margo_remove_pool_by_name, default: margo_remove_pool_by_index)(mid, args)
#define margo_find_xstream(mid, args, info) \
    _Generic((args), ABT_xstream: margo_find_xstream_by_handle, const char*: margo_find_xstream_by_name, \
             char*: margo_find_xstream_by_name, default: margo_find_xstream_by_index)(mid, args, info)
#define margo_remove_xstream(mid, args) \
    _Generic((args), ABT_xstream: margo_remove_xstream_by_handle, const char*: margo_remove_xstream_by_name, \
             char*: margo_remove_xstream_by_name, default: margo_remove_xstream_by_index)(mid, args)
#define MARGO_BY_KEY_(handle_t_, prefix_, args) \
    _Generic((args), handle_t_: prefix_##_by_handle, const char*: prefix_##_by_name, \
             char*: prefix_##_by_name, default: prefix_##_by_index)
#define margo_pool_ref_incr(mid, args) MARGO_BY_KEY_(ABT_pool, margo_pool_ref_incr, args)(mid, args)
#define margo_pool_release(mid, args) MARGO_BY_KEY_(ABT_pool, margo_pool_release, args)(mid, args)
#define margo_pool_ref_count(mid, args, refcount) MARGO_BY_KEY_(ABT_pool, margo_pool_ref_count, args)(mid, args, refcount)
#define margo_xstream_ref_incr(mid, args) MARGO_BY_KEY_(ABT_xstream, margo_xstream_ref_incr, args)(mid, args)
#define margo_xstream_release(mid, args) MARGO_BY_KEY_(ABT_xstream, margo_xstream_release, args)(mid, args)
#define margo_xstream_ref_count(mid, args, refcount) \
    MARGO_BY_KEY_(ABT_xstream, margo_xstream_ref_count, args)(mid, args, refcount)
#endif

/* MERCURY_GEN_PROC and the proc aliases, as upstream's margo.h brings them. */
#include <mercury_macros.h>
"#;

/// A cbindgen config: C with C++ guards, `struct X` usable with and without
/// `struct`, our includes, types defined in other headers left out.
fn config_with(guard: &str, trailer: &str, extra_types: &[&str], includes: &[&str], exclude: &[&str]) -> cbindgen::Config {
    let trailer = if trailer.trim().is_empty() {
        String::new()
    } else {
        // cbindgen places the trailer after the include guard: keep our own.
        format!("\n#ifndef {guard}_EXTRAS\n#define {guard}_EXTRAS\n{trailer}\n#endif\n")
    };
    let mut c = cbindgen::Config {
        language: cbindgen::Language::C,
        cpp_compat: true,
        include_guard: Some(guard.to_string()),
        usize_is_size_t: true,
        style: cbindgen::Style::Both,
        documentation: true,
        autogen_warning: Some("/* Generated by cbindgen from src/ffi (build.rs). Do not edit by hand. */".to_string()),
        // string.h: upstream margo.h brings it (through mercury_proc.h), and
        // programs rely on that.
        sys_includes: ["stdint.h", "stddef.h", "stdbool.h", "stdlib.h", "stdio.h", "stdarg.h", "string.h"]
            .map(String::from)
            .to_vec(),
        includes: includes.iter().map(|s| s.to_string()).collect(),
        no_includes: true,
        trailer: Some(trailer),
        ..Default::default()
    };
    c.export.include = extra_types.iter().map(|s| s.to_string()).collect();
    c.export.exclude = exclude.iter().map(|s| s.to_string()).collect();
    c.enumeration.prefix_with_name = false;
    c
}

/// Types the hand-written and margo headers define.
const SHARED_TYPES: &[&str] = &[
    "flock_return_t",
    "flock_group_view_t",
    "flock_member_t",
    "flock_metadata_t",
    "flock_membership_update_fn",
    "flock_metadata_update_fn",
    "margo_instance_id",
    "hg_addr_t",
    "ABT_pool",
    "flock_member_extra",
    "flock_member_array",
    "flock_metadata_array",
];

fn flock_header(name: &str, srcs: &[&str], includes: &[&str], exclude: &[&str], extra_types: &[&str], trailer: &str) {
    let guard = format!("MOCHI_FLOCK_{}_H", name.to_uppercase().replace('-', "_"));
    let mut excl: Vec<&str> = SHARED_TYPES.to_vec();
    excl.extend_from_slice(exclude);
    let mut b = cbindgen::Builder::new().with_config(config_with(&guard, trailer, extra_types, includes, &excl));
    for s in srcs {
        b = b.with_src(format!("src/ffi/flock/{s}"));
    }
    let bindings = b.generate().unwrap_or_else(|e| panic!("cbindgen could not generate flock-{name}.h: {e}"));
    write_if_changed(Path::new(&format!("include/flock/flock-{name}.h")), bindings);
}

fn bedrock_header(name: &str, srcs: &[&str], includes: &[&str], exclude: &[&str], trailer: &str) {
    let guard = format!("MOCHI_BEDROCK_{}_H", name.to_uppercase());
    let mut excl: Vec<&str> = vec!["margo_instance_id", "ABT_pool", "hg_addr_t"];
    excl.extend_from_slice(exclude);
    let mut b = cbindgen::Builder::new().with_config(config_with(&guard, trailer, &[], includes, &excl));
    for s in srcs {
        b = b.with_src(format!("src/ffi/bedrock/{s}"));
    }
    let bindings = b.generate().unwrap_or_else(|e| panic!("cbindgen could not generate bedrock/{name}.h: {e}"));
    std::fs::create_dir_all("include/bedrock").expect("create include/bedrock");
    write_if_changed(Path::new(&format!("include/bedrock/{name}.h")), bindings);
}

/// Argobots' handles' NULL values and booleans, as `abt.h` defines them.
const ABT_TRAILER: &str = "#define ABT_TRUE 1
#define ABT_FALSE 0
#define ABT_POOL_NULL ((ABT_pool)NULL)
#define ABT_XSTREAM_NULL ((ABT_xstream)NULL)
#define ABT_MUTEX_NULL ((ABT_mutex)NULL)
#define ABT_MUTEX_ATTR_NULL ((ABT_mutex_attr)NULL)
#define ABT_COND_NULL ((ABT_cond)NULL)
#define ABT_RWLOCK_NULL ((ABT_rwlock)NULL)
#define ABT_EVENTUAL_NULL ((ABT_eventual)NULL)
#define ABT_BARRIER_NULL ((ABT_barrier)NULL)
#define ABT_THREAD_NULL ((ABT_thread)NULL)
#define ABT_TASK_NULL ((ABT_task)NULL)
#define ABT_KEY_NULL ((ABT_key)NULL)
#define ABT_FUTURE_NULL ((ABT_future)NULL)
#define ABT_SCHED_NULL ((ABT_sched)NULL)
#define ABT_SCHED_CONFIG_NULL ((ABT_sched_config)NULL)
#define ABT_THREAD_ATTR_NULL ((ABT_thread_attr)NULL)
#define ABT_TIMER_NULL ((ABT_timer)NULL)
/* A mutex or condition variable in the program's own memory (static or in
 * a struct), usable without ABT_*_create and never passed to ABT_*_free. */
typedef struct { int opaque[16]; } ABT_mutex_memory;
typedef struct { int opaque[16]; } ABT_cond_memory;
#define ABT_MUTEX_INITIALIZER { { 0 } }
#define ABT_RECURSIVE_MUTEX_INITIALIZER { { 1 } }
#define ABT_MUTEX_MEMORY_GET_HANDLE(p_mutex_memory) ((ABT_mutex)(p_mutex_memory))
#define ABT_COND_INITIALIZER { { 0 } }
#define ABT_COND_MEMORY_GET_HANDLE(p_cond_memory) ((ABT_cond)(p_cond_memory))";

/// `abt.h`: the Argobots subset (`src/ffi/abt.rs`), included by `margo.h`
/// as upstream's is.
fn abt_header() {
    let mut config = config_with("MOCHI_ABT_H", ABT_TRAILER, &["ABT_bool", "ABT_xstream"], &[], &[]);
    config.sys_includes.push("time.h".into());
    // `libc::timespec` is C's `struct timespec`.
    config.export.rename.insert("timespec".into(), "struct timespec".into());
    let abt = cbindgen::Builder::new()
        .with_config(config)
        .with_src("src/ffi/abt.rs")
        .with_src("src/ffi/abt_xstream.rs")
        .with_src("src/ffi/abt_key.rs")
        .generate()
        .expect("cbindgen could not generate include/abt.h");
    write_if_changed(Path::new("include/abt.h"), abt);
}

/// A header of margo's beside `margo.h` (which it includes), generated
/// from one file of `src/ffi`: `margo-timer.h`, `margo-bulk-pool.h`.
fn margo_side_header(name: &str, src: &str, trailer: &str, exclude: &[&str]) {
    let guard = format!("MOCHI_{}_H", name.to_uppercase().replace('-', "_"));
    let config = config_with(&guard, trailer, &[], &["margo.h"], exclude);
    let header = cbindgen::Builder::new()
        .with_config(config)
        .with_src(format!("src/ffi/{src}"))
        .generate()
        .unwrap_or_else(|e| panic!("cbindgen could not generate include/{name}.h: {e}"));
    write_if_changed(Path::new(&format!("include/{name}.h")), header);
}

/// Prefixes a macro of our public headers may have: the C namespace of
/// the library it stands in for (and our include guards). A `pub const` of
/// the ffi layer that cbindgen would export as, say, `#define READ_ONLY`
/// would break user code that uses that name; it belongs in the header's
/// exclude list (or should not be `pub`).
const MACRO_PREFIXES: &[&str] =
    &["MOCHI_", "MARGO_", "margo_", "HG_", "ABT_", "DECLARE_MARGO_", "DEFINE_MARGO_", "_handler_for_", "FLOCK_", "BEDROCK_"];

fn write_if_changed(path: &Path, bindings: cbindgen::Bindings) {
    let mut out = Vec::new();
    bindings.write(&mut out);
    let text = String::from_utf8_lossy(&out);
    for line in text.lines() {
        if let Some(name) =
            line.strip_prefix("#define ").and_then(|r| r.split(|c: char| !(c.is_alphanumeric() || c == '_')).next())
        {
            assert!(
                MACRO_PREFIXES.iter().any(|p| name.starts_with(p)),
                "{}: `#define {name}` would leak an unprefixed name into users' code; exclude it in build.rs",
                path.display()
            );
        }
    }
    if std::fs::read(path).ok().as_deref() != Some(&out[..]) {
        std::fs::write(path, out).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    }
}

fn main() {
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libmochi.so.0");
    // Our executables interpose fopen during libfabric's start-up (see
    // src/bin/common/fabric_start.rs); it must be in their dynamic symbol
    // table for libfabric's call to reach it.
    println!("cargo:rustc-link-arg-bins=-Wl,--export-dynamic-symbol=fopen");
    // json-c: C Flock backends and gateways receive their configs as json-c objects.
    pkg_config::Config::new()
        .atleast_version("0.13")
        .probe("json-c")
        .unwrap_or_else(|e| panic!("json-c not found through pkg-config (install libjson-c-dev): {e}"));
    println!("cargo:rerun-if-changed=src/ffi");
    println!("cargo:rerun-if-changed=build.rs");

    let mut margo_config = config_with(
        "MOCHI_MARGO_H",
        MARGO_TRAILER,
        &[
            "hg_return_t",
            "hg_id_t",
            "hg_size_t",
            "hg_bool_t",
            "margo_log_level",
            "margo_logger",
            "margo_init_info",
            "hg_string_t",
            "hg_const_string_t",
        ],
        &[],
        // Received as an int in Rust (see src/ffi/hg.rs), declared as Mercury's enum.
        &["hg_bulk_op_t", "hg_mem_type_t"],
    );
    // The bulk layer's own constants (flags and sizes of its wire format):
    // not part of margo's C API.
    margo_config
        .export
        .exclude
        .extend(["READ_ONLY", "WRITE_ONLY", "READWRITE", "PUSH", "PULL", "CHUNK", "MAX_SERVED", "BULK_RPC"].map(String::from));
    margo_config.after_includes = Some(
        "\n/* Mercury's bulk transfer direction. */\ntypedef enum hg_bulk_op { HG_BULK_PUSH, HG_BULK_PULL } hg_bulk_op_t;\n\
         /* Mercury's memory types (margo_bulk_create_attr): host memory only here. */\n\
         typedef enum hg_mem_type { HG_MEM_TYPE_HOST, HG_MEM_TYPE_CUDA, HG_MEM_TYPE_ROCM, HG_MEM_TYPE_ZE, HG_MEM_TYPE_MAX, \
         HG_MEM_TYPE_UNKNOWN = HG_MEM_TYPE_MAX } hg_mem_type_t;\n"
            .into(),
    );
    margo_config.includes.push("abt.h".into());
    margo_config.includes.push("margo-version.h".into());
    let margo = cbindgen::Builder::new()
        .with_config(margo_config)
        .with_src("src/ffi/hg.rs")
        .with_src("src/ffi/handles.rs")
        .with_src("src/ffi/margo.rs")
        .with_src("src/ffi/identity.rs")
        .with_src("src/ffi/layout.rs")
        .with_src("src/ffi/hg_proc.rs")
        .with_src("src/ffi/rpc.rs")
        .with_src("src/ffi/cforward.rs")
        // (with its submodules: cbindgen follows `mod` items)
        .with_src("src/ffi/bulk/mod.rs")
        .with_src("src/ffi/log.rs")
        .generate()
        .expect("cbindgen could not generate include/margo.h");
    write_if_changed(Path::new("include/margo.h"), margo);

    abt_header();
    margo_side_header(
        "margo-timer",
        "timer.rs",
        "#define MARGO_TIMER_NULL ((margo_timer_t)NULL)",
        &["margo_instance_id", "ABT_pool"],
    );
    margo_side_header(
        "margo-bulk-pool",
        "bulk_pool.rs",
        "#define MARGO_BULK_POOL_NULL ((margo_bulk_pool_t)NULL)\n#define MARGO_BULK_POOLSET_NULL ((margo_bulk_poolset_t)NULL)",
        &["margo_instance_id", "hg_bulk_t", "hg_return_t", "hg_size_t", "hg_bool_t"],
    );

    let client_types = &["flock_client_t"][..];
    flock_header(
        "client",
        &["client.rs"],
        &["margo.h", "flock/flock-common.h"],
        &[],
        &[],
        "#define FLOCK_CLIENT_NULL ((flock_client_t)NULL)",
    );
    flock_header(
        "group",
        &["group.rs"],
        &["margo.h", "flock/flock-common.h", "flock/flock-client.h", "flock/flock-group-view.h"],
        client_types,
        &[],
        "#define FLOCK_GROUP_HANDLE_NULL ((flock_group_handle_t)NULL)\n#define FLOCK_REQUEST_NULL ((flock_request_t)NULL)",
    );
    flock_header(
        "backend",
        &["backend.rs", "jsonc.rs"],
        &["margo.h", "flock/flock-common.h", "flock/flock-group-view.h"],
        &[],
        &["flock_backend_init_args_t"],
        "",
    );
    flock_header(
        "gateway",
        &["gateway.rs", "jsonc.rs"],
        &["margo.h", "flock/flock-common.h"],
        &[],
        &["flock_gateway_init_args_t"],
        "",
    );
    flock_header(
        "server",
        &["provider.rs"],
        &["margo.h", "flock/flock-common.h", "flock/flock-group-view.h", "flock/flock-backend.h", "flock/flock-gateway.h", "flock/flock-group.h"],
        &["flock_backend_impl", "flock_gateway_impl"],
        &[],
        "#define FLOCK_ABT_POOL_DEFAULT ABT_POOL_NULL\n#define FLOCK_PROVIDER_NULL ((flock_provider_t)NULL)\n#define FLOCK_PROVIDER_IGNORE ((flock_provider_t*)NULL)\n#define FLOCK_PROVIDER_ARGS_INIT { ABT_POOL_NULL, NULL, NULL, NULL }",
    );
    flock_header("bootstrap", &["bootstrap.rs"], &["margo.h", "flock/flock-common.h", "flock/flock-group-view.h"], &[], &[], "");
    bedrock_header("client", &["client.rs"], &["margo.h"], &[], "");
    bedrock_header("module", &["module.rs"], &["margo.h"], &[], "");
    bedrock_header("server", &["server.rs"], &["margo.h", "bedrock/client.h"], &["bedrock_return_t"], "");
    flock_header(
        "bootstrap-mpi",
        &["bootstrap_mpi.rs"],
        &["mpi.h", "margo.h", "flock/flock-common.h", "flock/flock-group-view.h"],
        &["MPI_Comm"],
        &[],
        "",
    );
}
