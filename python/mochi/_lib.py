"""Loading of libmochi and the ctypes prototypes of the C functions we call.

Search order for the library (the first one that exists is loaded; a path
that exists but fails to load is an error, not a reason to try the next):

1. ``$MOCHI_LIBRARY`` (a path to the library) -- when set, it is the only
   candidate;
2. the library of the prefix this package is installed in: when the package
   lives in ``<prefix>/lib/python3.X/site-packages/mochi``,
   ``<prefix>/lib/libmochi.so.0`` (then ``libmochi.so``);
3. the build tree: ``<this package>/../../target/release/libmochi.so``
   (i.e. ``target/release`` of the repository holding ``python/``);
4. ``libmochi.so.0`` from the system's library path.

If none loads, ImportError names every place tried.

Every prototype here mirrors a declaration of the C headers in
``include/``. Functions that older builds of libmochi lack are bound as
*optional*: see :data:`UNDECLARED`, :data:`SERVER_MANAGEMENT`,
:data:`YOKAN` and :data:`YOKAN_COLLECTION`.
"""

import ctypes
import os
import sys
from ctypes import (CFUNCTYPE, POINTER, Structure, c_bool, c_char_p, c_double,
                    c_int, c_int32, c_size_t, c_uint8, c_uint16, c_uint32,
                    c_uint64, c_void_p)

__all__ = ["lib", "path", "require", "has", "take_string", "libc_free",
           "FlockGroupView", "FlockMember", "FlockMetadata",
           "FlockProviderArgs", "MargoInitInfo",
           "FLOCK_MEMBERSHIP_FN", "FLOCK_METADATA_FN", "FLOCK_SERIALIZER_FN",
           "FLOCK_ACCESS_FN", "MEMBER_FREE_FN",
           "YK_KEYVALUE_FN", "YkFetchOptions", "YkIterOptions", "YOKAN",
           "YK_DOCUMENT_FN", "YkDocFetchOptions", "YkDocIterOptions", "YOKAN_COLLECTION"]


# --------------------------------------------------------------------------
# Locating the library

def _candidates():
    """Yields (description, path-or-name, is_explicit_path)."""
    env = os.environ.get("MOCHI_LIBRARY")
    if env:
        yield ("$MOCHI_LIBRARY", env, True)
        return
    pkg_dir = os.path.dirname(os.path.abspath(__file__))        # .../mochi
    site_dir = os.path.dirname(pkg_dir)                          # site-packages?
    py_dir = os.path.dirname(site_dir)                           # python3.X?
    lib_dir = os.path.dirname(py_dir)                            # <prefix>/lib?
    if (os.path.basename(site_dir) in ("site-packages", "dist-packages")
            and os.path.basename(py_dir).startswith("python3")):
        for name in ("libmochi.so.0", "libmochi.so"):
            yield ("installation prefix", os.path.join(lib_dir, name), False)
    build = os.path.normpath(os.path.join(pkg_dir, "..", "..", "target",
                                          "release", "libmochi.so"))
    yield ("build tree", build, False)
    yield ("system library path", "libmochi.so.0", False)


def _load():
    tried = []
    for what, candidate, explicit in _candidates():
        is_path = os.sep in candidate
        if is_path and not os.path.exists(candidate):
            tried.append(f"{candidate} ({what}: no such file)")
            if explicit:
                break
            continue
        try:
            handle = ctypes.CDLL(candidate, mode=ctypes.RTLD_GLOBAL)
        except OSError as e:
            tried.append(f"{candidate} ({what}: {e})")
            if explicit or is_path:
                # An existing file that does not load is a real problem:
                # report it rather than silently picking another copy.
                break
            continue
        return handle, (os.path.abspath(candidate) if is_path else candidate)
    raise ImportError(
        "mochi: could not load libmochi; tried: " + "; ".join(tried) +
        ". Build it with `cargo build --release` in the repository, or set "
        "MOCHI_LIBRARY to the path of libmochi.so.")


lib, path = _load()

# The C library's free(): strings and views handed out by libmochi are
# malloc'd (the headers say "free with free()").
_libc = ctypes.CDLL(None)
libc_free = _libc.free
libc_free.argtypes = [c_void_p]
libc_free.restype = None
libc_malloc = _libc.malloc
libc_malloc.argtypes = [c_size_t]
libc_malloc.restype = c_void_p
libc_calloc = _libc.calloc
libc_calloc.argtypes = [c_size_t, c_size_t]
libc_calloc.restype = c_void_p


def take_string(ptr):
    """Copies a malloc'd NUL-terminated C string (as c_void_p / int) into a
    Python str and frees it. Returns None for NULL."""
    if not ptr:
        return None
    try:
        return ctypes.string_at(ptr).decode("utf-8")
    finally:
        libc_free(ptr)


def c_text(value, what="string"):
    """str/bytes -> bytes suitable for a `const char*` argument."""
    if isinstance(value, bytes):
        data = value
    elif isinstance(value, str):
        data = value.encode("utf-8")
    else:
        raise TypeError(f"{what} must be str or bytes, not {type(value).__name__}")
    if b"\0" in data:
        raise ValueError(f"{what} must not contain NUL characters")
    return data


# --------------------------------------------------------------------------
# C types

class MargoInitInfo(Structure):
    """struct margo_init_info (margo.h)."""
    _fields_ = [
        ("json_config", c_char_p),
        ("progress_pool", c_void_p),
        ("rpc_pool", c_void_p),
        ("hg_class", c_void_p),
        ("hg_context", c_void_p),
        ("hg_init_info", c_void_p),
        ("logger", c_void_p),
        ("monitor", c_void_p),
        ("parent_mid", c_void_p),
    ]


MEMBER_FREE_FN = CFUNCTYPE(None, c_void_p)

# margo_log_fn_t: void (*)(void* uargs, const char* message)
LOG_FN = CFUNCTYPE(None, c_void_p, c_char_p)


class MargoLogger(Structure):
    """struct margo_logger (margo.h)."""
    _fields_ = [("uargs", c_void_p), ("trace", LOG_FN), ("debug", LOG_FN), ("info", LOG_FN),
                ("warning", LOG_FN), ("error", LOG_FN), ("critical", LOG_FN)]


class _MemberExtra(Structure):
    _fields_ = [("data", c_void_p), ("free", c_void_p)]


class FlockMember(Structure):
    """flock_member_t (flock-group-view.h): 32 bytes on LP64."""
    _fields_ = [
        ("address", c_void_p),        # char*, owned, malloc'd
        ("provider_id", c_uint16),
        ("extra", _MemberExtra),
    ]


class FlockMetadata(Structure):
    """flock_metadata_t: 16 bytes."""
    _fields_ = [("key", c_void_p), ("value", c_void_p)]


class _MemberArray(Structure):
    _fields_ = [("size", c_uint64), ("capacity", c_uint64),
                ("data", POINTER(FlockMember))]


class _MetadataArray(Structure):
    _fields_ = [("size", c_uint64), ("capacity", c_uint64),
                ("data", POINTER(FlockMetadata))]


class FlockGroupView(Structure):
    """flock_group_view_t: 120 bytes (the lock is 64 opaque bytes; all-zero
    is an unlocked mutex, see the header)."""
    _fields_ = [
        ("members", _MemberArray),
        ("metadata", _MetadataArray),
        ("digest", c_uint64),
        ("mtx", c_int * 16),
    ]


assert ctypes.sizeof(FlockMember) == 32, "flock_member_t layout mismatch"
assert ctypes.sizeof(FlockMetadata) == 16, "flock_metadata_t layout mismatch"
assert ctypes.sizeof(FlockGroupView) == 120, "flock_group_view_t layout mismatch"


class FlockProviderArgs(Structure):
    """struct flock_provider_args (flock-server.h)."""
    _fields_ = [
        ("pool", c_void_p),
        ("initial_view", POINTER(FlockGroupView)),
        ("backend", c_void_p),
        ("gateway", c_void_p),
    ]


# flock-common.h callback types (context first).
FLOCK_MEMBERSHIP_FN = CFUNCTYPE(None, c_void_p, c_int, c_char_p, c_uint16)
FLOCK_METADATA_FN = CFUNCTYPE(None, c_void_p, c_char_p, c_char_p)
# flock_group_view_serialize's serializer(context, text, length)
FLOCK_SERIALIZER_FN = CFUNCTYPE(None, c_void_p, POINTER(ctypes.c_char), c_size_t)
# flock_group_access_view's access(uargs, view)
FLOCK_ACCESS_FN = CFUNCTYPE(None, c_void_p, POINTER(FlockGroupView))


# yokan/database.h: yk_keyvalue_callback_t(uargs, index, key, ksize, val, vsize)
YK_KEYVALUE_FN = CFUNCTYPE(c_int, c_void_p, c_size_t, c_void_p, c_size_t, c_void_p, c_size_t)


class YkFetchOptions(Structure):
    """yk_fetch_options_t (the pool comes first)."""
    _fields_ = [("pool", c_void_p), ("batch_size", ctypes.c_uint)]


class YkIterOptions(Structure):
    """yk_iter_options_t (the batch size comes first)."""
    _fields_ = [("batch_size", ctypes.c_uint), ("pool", c_void_p), ("ignore_values", c_bool)]


# yokan/collection.h: yk_document_callback_t(uargs, index, id, doc, size)
YK_DOCUMENT_FN = CFUNCTYPE(c_int, c_void_p, c_size_t, c_uint64, c_void_p, c_size_t)


class YkDocFetchOptions(Structure):
    """yk_doc_fetch_options_t (the pool comes first)."""
    _fields_ = [("pool", c_void_p), ("batch_size", ctypes.c_uint)]


class YkDocIterOptions(Structure):
    """yk_doc_iter_options_t (the batch size comes first)."""
    _fields_ = [("batch_size", ctypes.c_uint), ("pool", c_void_p)]


# --------------------------------------------------------------------------
# Prototypes

_missing = {}


def _bind(name, restype, argtypes, optional=False):
    try:
        fn = getattr(lib, name)
    except AttributeError:
        if not optional:
            raise ImportError(f"mochi: {path} does not export {name}; "
                              "is it an up-to-date libmochi?") from None
        _missing[name] = True
        return
    fn.restype = restype
    fn.argtypes = argtypes


def has(name):
    """Whether libmochi exports the (optionally bound) C function `name`."""
    return not _missing.get(name) and hasattr(lib, name)


def require(name):
    """The C function `name`, or NotImplementedError if libmochi lacks it."""
    if _missing.get(name):
        raise NotImplementedError(
            f"{name} is not exported by {path}: this operation is not "
            "available in this libmochi")
    return getattr(lib, name)


P = POINTER
vp = c_void_p

# margo.h
_bind("margo_init", vp, [c_char_p, c_int, c_int, c_int])
_bind("margo_init_ext", vp, [c_char_p, c_int, P(MargoInitInfo)])
_bind("margo_finalize", None, [vp])
_bind("margo_wait_for_finalize", None, [vp])
_bind("margo_finalize_and_wait", None, [vp])
_bind("margo_is_listening", c_uint8, [vp])
_bind("margo_addr_lookup", c_int, [vp, c_char_p, P(vp)])
_bind("margo_addr_self", c_int, [vp, P(vp)])
_bind("margo_addr_dup", c_int, [vp, vp, P(vp)])
_bind("margo_addr_cmp", c_uint8, [vp, vp, vp])
_bind("margo_addr_to_string", c_int, [vp, c_char_p, P(c_uint64), vp])
_bind("margo_addr_free", c_int, [vp, vp])
_bind("margo_enable_remote_shutdown", None, [vp])
_bind("margo_shutdown_remote_instance", c_int, [vp, vp])
_bind("margo_thread_sleep", None, [vp, c_double])
_bind("margo_log_message", None, [vp, c_int, c_char_p])
_bind("margo_set_log_level", c_int, [vp, c_int])
_bind("margo_set_global_log_level", c_int, [c_int])
_bind("margo_set_logger", c_int, [vp, P(MargoLogger)])
_bind("margo_set_global_logger", c_int, [P(MargoLogger)])
_bind("margo_get_config", vp, [vp])
_bind("margo_get_config_opt", vp, [vp, c_int])

# flock-client.h / flock-group.h
_bind("flock_client_init", c_int, [vp, vp, P(vp)])
_bind("flock_client_finalize", c_int, [vp])
_bind("flock_group_handle_create", c_int, [vp, vp, c_uint16, c_uint32, P(vp)])
_bind("flock_group_handle_create_from_file", c_int, [vp, c_char_p, c_uint32, P(vp)])
_bind("flock_group_handle_create_from_serialized", c_int,
      [vp, c_char_p, c_size_t, c_uint32, P(vp)])
_bind("flock_group_handle_ref_incr", c_int, [vp])
_bind("flock_group_handle_release", c_int, [vp])
_bind("flock_group_get_view", c_int, [vp, P(FlockGroupView)])
_bind("flock_group_access_view", c_int, [vp, FLOCK_ACCESS_FN, vp])
_bind("flock_group_metadata_set", c_int, [vp, c_char_p, c_char_p])
_bind("flock_group_update_view", c_int, [vp, P(vp)])
_bind("flock_request_wait", c_int, [vp])
_bind("flock_request_test", c_int, [vp, P(c_bool)])
_bind("flock_group_subscribe", c_int, [vp, FLOCK_MEMBERSHIP_FN, FLOCK_METADATA_FN, vp])
_bind("flock_group_unsubscribe", c_int, [vp])

# flock-group-view.h (non-inline part)
_bind("flock_group_view_serialize", c_int, [P(FlockGroupView), FLOCK_SERIALIZER_FN, vp])
_bind("flock_group_view_serialize_to_file", c_int, [P(FlockGroupView), c_char_p])
_bind("flock_group_view_from_string", c_int, [c_char_p, c_size_t, P(FlockGroupView)])
_bind("flock_group_view_from_file", c_int, [c_char_p, P(FlockGroupView)])

# flock-bootstrap.h
_bind("flock_group_view_init_from_self", c_int, [vp, c_uint16, P(FlockGroupView)])
_bind("flock_group_view_init_from_file", c_int, [c_char_p, P(FlockGroupView)])

# flock-server.h
_bind("flock_provider_register", c_int,
      [vp, c_uint16, c_char_p, P(FlockProviderArgs), P(vp)])
_bind("flock_provider_destroy", c_int, [vp])
_bind("flock_provider_get_config", vp, [vp])
_bind("flock_provider_add_update_callbacks", c_int,
      [vp, FLOCK_MEMBERSHIP_FN, FLOCK_METADATA_FN, vp])
_bind("flock_provider_remove_update_callbacks", c_int, [vp, vp])

# bedrock/client.h
_bind("bedrock_last_error", c_char_p, [])
_bind("bedrock_client_init", c_int, [vp, P(vp)])
_bind("bedrock_client_finalize", c_int, [vp])
_bind("bedrock_service_handle_create", c_int, [vp, c_char_p, c_uint16, P(vp)])
_bind("bedrock_service_handle_release", c_int, [vp])
_bind("bedrock_service_get_config", c_int, [vp, P(vp)])
_bind("bedrock_service_query_config", c_int, [vp, c_char_p, P(vp)])
_bind("bedrock_service_add_provider", c_int, [vp, c_char_p, P(c_uint16)])
_bind("bedrock_service_change_provider_pool", c_int, [vp, c_char_p, c_char_p])
_bind("bedrock_service_shutdown", c_int, [vp])
_bind("bedrock_service_group_create_from_file", c_int, [vp, c_char_p, c_uint16, P(vp)])
_bind("bedrock_service_group_create", c_int, [vp, P(c_char_p), c_size_t, c_uint16, P(vp)])
_bind("bedrock_service_group_release", c_int, [vp])
_bind("bedrock_service_group_size", c_size_t, [vp])
_bind("bedrock_service_group_get_config", c_int, [vp, P(vp)])
_bind("bedrock_service_group_shutdown", c_int, [vp])

#: bedrock/client.h functions that older builds of libmochi did not export.
#: Each is `bedrock_return_t f(bedrock_service_t, const char*)`. They are
#: bound optionally; without them the matching ServiceHandle methods raise
#: NotImplementedError.
UNDECLARED = ("bedrock_service_load_module", "bedrock_service_add_pool",
              "bedrock_service_remove_pool", "bedrock_service_add_xstream",
              "bedrock_service_remove_xstream")
for _name in UNDECLARED:
    _bind(_name, c_int, [vp, c_char_p], optional=True)

# bedrock/server.h
_bind("bedrock_server_init", c_int, [c_char_p, c_char_p, c_int, P(vp), P(vp)])
_bind("bedrock_server_get_config", vp, [vp])
_bind("bedrock_server_wait_for_finalize", c_int, [vp])
_bind("bedrock_server_finalize", c_int, [vp])

#: bedrock/server.h functions behind Server.margo / Server.providers /
#: Server.load_module. Newer than the rest of the header, so bound
#: optionally: with an older libmochi the package still imports and only
#: the operations needing them raise NotImplementedError (see require()).
SERVER_MANAGEMENT = ("bedrock_server_load_module", "bedrock_server_add_pool",
                     "bedrock_server_remove_pool", "bedrock_server_add_xstream",
                     "bedrock_server_remove_xstream", "bedrock_server_add_provider",
                     "bedrock_server_remove_provider", "bedrock_server_get_margo_instance")
_bind("bedrock_server_load_module", c_int, [vp, c_char_p], optional=True)
_bind("bedrock_server_add_pool", c_int, [vp, c_char_p], optional=True)
_bind("bedrock_server_remove_pool", c_int, [vp, c_char_p], optional=True)
_bind("bedrock_server_add_xstream", c_int, [vp, c_char_p], optional=True)
_bind("bedrock_server_remove_xstream", c_int, [vp, c_char_p], optional=True)
_bind("bedrock_server_add_provider", c_int, [vp, c_char_p, P(c_uint16)], optional=True)
_bind("bedrock_server_remove_provider", c_int, [vp, c_char_p], optional=True)
_bind("bedrock_server_get_margo_instance", vp, [vp, c_size_t], optional=True)

# yokan/client.h and the exported yk_*_timed functions behind the static
# inline variadic wrappers of yokan/database.h (the timeout in ms is the
# last argument; 0 = none). Bound optionally: the package still imports
# with a libmochi that has no Yokan client, and mochi.yokan.client then
# raises ImportError naming what is missing.
sz = c_size_t
psz = P(c_size_t)
pvp = P(vp)
YOKAN = {
    "yk_client_init": (c_int, [vp, pvp]),
    "yk_client_finalize": (c_int, [vp]),
    "yk_database_handle_create": (c_int, [vp, vp, c_uint16, c_bool, pvp]),
    "yk_database_handle_create_from_group": (c_int, [vp, vp, c_uint16, pvp]),
    "yk_database_handle_create_from_group_file": (c_int, [vp, c_char_p, c_uint16, pvp]),
    "yk_database_handle_get_info": (c_int, [vp, pvp, pvp, P(c_uint16)]),
    "yk_database_handle_release": (c_int, [vp]),
    "yk_return_message": (c_char_p, [c_int]),
    "yk_provider_register": (c_int, [vp, c_uint16, c_char_p, vp, pvp]),
    "yk_provider_destroy": (c_int, [vp]),
    "yk_provider_get_config": (vp, [vp]),
    "yk_count_timed": (c_int, [vp, c_int32, psz, c_double]),
    "yk_put_timed": (c_int, [vp, c_int32, vp, sz, vp, sz, c_double]),
    "yk_put_multi_timed": (c_int, [vp, c_int32, sz, pvp, psz, pvp, psz, c_double]),
    "yk_put_packed_timed": (c_int, [vp, c_int32, sz, vp, psz, vp, psz, c_double]),
    "yk_exists_timed": (c_int, [vp, c_int32, vp, sz, P(c_uint8), c_double]),
    "yk_exists_multi_timed": (c_int, [vp, c_int32, sz, pvp, psz, P(c_uint8), c_double]),
    "yk_exists_packed_timed": (c_int, [vp, c_int32, sz, vp, psz, P(c_uint8), c_double]),
    "yk_length_timed": (c_int, [vp, c_int32, vp, sz, psz, c_double]),
    "yk_length_multi_timed": (c_int, [vp, c_int32, sz, pvp, psz, psz, c_double]),
    "yk_length_packed_timed": (c_int, [vp, c_int32, sz, vp, psz, psz, c_double]),
    "yk_get_timed": (c_int, [vp, c_int32, vp, sz, vp, psz, c_double]),
    "yk_get_multi_timed": (c_int, [vp, c_int32, sz, pvp, psz, pvp, psz, c_double]),
    "yk_get_packed_timed": (c_int, [vp, c_int32, sz, vp, psz, sz, vp, psz, c_double]),
    "yk_fetch_timed": (c_int, [vp, c_int32, vp, sz, YK_KEYVALUE_FN, vp, c_double]),
    "yk_fetch_multi_timed": (c_int, [vp, c_int32, sz, pvp, psz, YK_KEYVALUE_FN, vp,
                                     P(YkFetchOptions), c_double]),
    "yk_fetch_packed_timed": (c_int, [vp, c_int32, sz, vp, psz, YK_KEYVALUE_FN, vp,
                                      P(YkFetchOptions), c_double]),
    "yk_erase_timed": (c_int, [vp, c_int32, vp, sz, c_double]),
    "yk_erase_multi_timed": (c_int, [vp, c_int32, sz, pvp, psz, c_double]),
    "yk_erase_packed_timed": (c_int, [vp, c_int32, sz, vp, psz, c_double]),
    "yk_erase_range_timed": (c_int, [vp, c_int32, vp, sz, c_double]),
    "yk_list_keys_timed": (c_int, [vp, c_int32, vp, sz, vp, sz, sz, pvp, psz, c_double]),
    "yk_list_keys_packed_timed": (c_int, [vp, c_int32, vp, sz, vp, sz, sz, vp, sz, psz,
                                          c_double]),
    "yk_list_keyvals_timed": (c_int, [vp, c_int32, vp, sz, vp, sz, sz, pvp, psz, pvp, psz,
                                      c_double]),
    "yk_list_keyvals_packed_timed": (c_int, [vp, c_int32, vp, sz, vp, sz, sz, vp, sz, psz,
                                             vp, sz, psz, c_double]),
    "yk_iter_timed": (c_int, [vp, c_int32, vp, sz, vp, sz, sz, YK_KEYVALUE_FN, vp,
                              P(YkIterOptions), c_double]),
    "yk_unsupported": (c_int, [c_char_p]),
}
for _name, (_restype, _argtypes) in YOKAN.items():
    _bind(_name, _restype, _argtypes, optional=True)

# yokan/collection.h's exported yk_*_timed functions. Kept apart from YOKAN:
# a libmochi without collections still gives a working key-value client,
# and only the collection calls fail (mochi.yokan.collection).
pid = P(c_uint64)
YOKAN_COLLECTION = {
    "yk_collection_create_timed": (c_int, [vp, c_char_p, c_int32, c_double]),
    "yk_collection_drop_timed": (c_int, [vp, c_char_p, c_int32, c_double]),
    "yk_collection_exists_timed": (c_int, [vp, c_char_p, c_int32, P(c_uint8), c_double]),
    "yk_collection_size_timed": (c_int, [vp, c_char_p, c_int32, psz, c_double]),
    "yk_collection_last_id_timed": (c_int, [vp, c_char_p, c_int32, pid, c_double]),
    "yk_doc_store_timed": (c_int, [vp, c_char_p, c_int32, vp, sz, pid, c_double]),
    "yk_doc_store_multi_timed": (c_int, [vp, c_char_p, c_int32, sz, pvp, psz, pid, c_double]),
    "yk_doc_store_packed_timed": (c_int, [vp, c_char_p, c_int32, sz, vp, psz, pid, c_double]),
    "yk_doc_load_timed": (c_int, [vp, c_char_p, c_int32, c_uint64, vp, psz, c_double]),
    "yk_doc_load_multi_timed": (c_int, [vp, c_char_p, c_int32, sz, pid, pvp, psz, c_double]),
    "yk_doc_load_packed_timed": (c_int, [vp, c_char_p, c_int32, sz, pid, sz, vp, psz,
                                         c_double]),
    "yk_doc_fetch_timed": (c_int, [vp, c_char_p, c_int32, c_uint64, YK_DOCUMENT_FN, vp,
                                   c_double]),
    "yk_doc_fetch_multi_timed": (c_int, [vp, c_char_p, c_int32, sz, pid, YK_DOCUMENT_FN, vp,
                                         P(YkDocFetchOptions), c_double]),
    "yk_doc_length_timed": (c_int, [vp, c_char_p, c_int32, c_uint64, psz, c_double]),
    "yk_doc_length_multi_timed": (c_int, [vp, c_char_p, c_int32, sz, pid, psz, c_double]),
    "yk_doc_update_timed": (c_int, [vp, c_char_p, c_int32, c_uint64, vp, sz, c_double]),
    "yk_doc_update_multi_timed": (c_int, [vp, c_char_p, c_int32, sz, pid, pvp, psz,
                                          c_double]),
    "yk_doc_update_packed_timed": (c_int, [vp, c_char_p, c_int32, sz, pid, vp, psz,
                                           c_double]),
    "yk_doc_erase_timed": (c_int, [vp, c_char_p, c_int32, c_uint64, c_double]),
    "yk_doc_erase_multi_timed": (c_int, [vp, c_char_p, c_int32, sz, pid, c_double]),
    "yk_doc_list_timed": (c_int, [vp, c_char_p, c_int32, c_uint64, vp, sz, sz, pid, pvp, psz,
                                  c_double]),
    "yk_doc_list_packed_timed": (c_int, [vp, c_char_p, c_int32, c_uint64, vp, sz, sz, pid, sz,
                                         vp, psz, c_double]),
    "yk_doc_iter_timed": (c_int, [vp, c_char_p, c_int32, c_uint64, vp, sz, sz, YK_DOCUMENT_FN,
                                  vp, P(YkDocIterOptions), c_double]),
}
for _name, (_restype, _argtypes) in YOKAN_COLLECTION.items():
    _bind(_name, _restype, _argtypes, optional=True)
del _restype, _argtypes, sz, psz, pvp, pid

del _name, P, vp

if sys.byteorder != "little" or ctypes.sizeof(c_void_p) != 8:
    # The view layout above is the LP64 one, the only one libmochi builds for.
    raise ImportError("mochi: only 64-bit little-endian platforms are supported")
