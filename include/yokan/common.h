/*
 * yokan/common.h -- definitions shared by the Yokan API: return codes,
 * modes, size sentinels and the "extra arguments" of the operations.
 *
 * Source-compatible with upstream mochi-yokan 0.10: every name and numeric
 * value below is one upstream programs are written against (implemented by
 * libmochi).
 */
#ifndef YOKAN_COMMON_H
#define YOKAN_COMMON_H

#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>
#include <limits.h>

#ifdef __cplusplus
extern "C" {
#endif

/* All return codes in numeric order with their message (X-macro: define
 * X(code, message) before expanding; the C++ and Python layers use it). */
#define YOKAN_RETURN_VALUES                                              \
    X(YOKAN_SUCCESS, "Success")                                          \
    X(YOKAN_ERR_ALLOCATION, "Allocation error")                          \
    X(YOKAN_ERR_INVALID_MID, "Invalid margo instance")                   \
    X(YOKAN_ERR_INVALID_ARGS, "Invalid argument")                        \
    X(YOKAN_ERR_INVALID_PROVIDER, "Invalid provider")                    \
    X(YOKAN_ERR_INVALID_DATABASE, "Invalid database")                    \
    X(YOKAN_ERR_INVALID_BACKEND, "Invalid backend type")                 \
    X(YOKAN_ERR_INVALID_CONFIG, "Invalid configuration")                 \
    X(YOKAN_ERR_INVALID_ID, "Invalid document id")                       \
    X(YOKAN_ERR_INVALID_FILTER, "Invalid filter")                        \
    X(YOKAN_ERR_FROM_MERCURY, "Mercury error")                           \
    X(YOKAN_ERR_FROM_ARGOBOTS, "Argobots error")                         \
    X(YOKAN_ERR_FROM_REMI, "REMI error")                                 \
    X(YOKAN_ERR_OP_UNSUPPORTED, "Unsupported operation or mode")         \
    X(YOKAN_ERR_OP_FORBIDDEN, "Forbidden operation")                     \
    X(YOKAN_ERR_KEY_NOT_FOUND, "Key not found")                          \
    X(YOKAN_ERR_BUFFER_SIZE, "Buffer too small")                         \
    X(YOKAN_ERR_KEY_EXISTS, "Key exists")                                \
    X(YOKAN_ERR_CORRUPTION, "Data corruption")                           \
    X(YOKAN_ERR_IO, "IO error")                                          \
    X(YOKAN_ERR_INCOMPLETE, "Incomplete operation")                      \
    X(YOKAN_ERR_TIMEOUT, "Timeout")                                      \
    X(YOKAN_ERR_ABORTED, "Operation aborted")                            \
    X(YOKAN_ERR_BUSY, "Busy")                                            \
    X(YOKAN_ERR_EXPIRED, "Operation expired")                            \
    X(YOKAN_ERR_TRY_AGAIN, "Try again")                                  \
    X(YOKAN_ERR_SYSTEM, "System error")                                  \
    X(YOKAN_ERR_CANCELED, "Canceled")                                    \
    X(YOKAN_ERR_PERMISSION, "Permission error")                          \
    X(YOKAN_ERR_MODE, "Invalid mode")                                    \
    X(YOKAN_ERR_NONCONTIG, "Non-contiguous buffer")                      \
    X(YOKAN_ERR_READONLY, "Read-only buffer")                            \
    X(YOKAN_ERR_MIGRATED, "Database has migrated")                       \
    X(YOKAN_ERR_MID_NOT_LISTENING, "Margo instance not listening")       \
    X(YOKAN_STOP_ITERATION, "Stop iteration")                            \
    X(YOKAN_ERR_OTHER, "Other error")

#define X(__err__, __msg__) __err__,
typedef enum yk_return_t { YOKAN_RETURN_VALUES } yk_return_t;
#undef X

/* A document's id in its collection (yokan/collection.h). */
typedef uint64_t yk_id_t;

/* Size sentinels in output size arrays. */
#define YOKAN_KEY_NOT_FOUND    (ULLONG_MAX)
#define YOKAN_SIZE_TOO_SMALL   (ULLONG_MAX - 1)
#define YOKAN_NO_MORE_KEYS     (ULLONG_MAX - 2)
#define YOKAN_NO_MORE_DOCS     YOKAN_NO_MORE_KEYS
#define YOKAN_LAST_VALID_SIZE  (ULLONG_MAX - 3)

/* Modes (OR-able). WAIT and NOTIFY share a bit, as upstream. */
#define YOKAN_MODE_DEFAULT      0x0000
#define YOKAN_MODE_INCLUSIVE    0x0001
#define YOKAN_MODE_APPEND       0x0002
#define YOKAN_MODE_CONSUME      0x0004
#define YOKAN_MODE_WAIT         0x0008
#define YOKAN_MODE_NOTIFY       0x0008
#define YOKAN_MODE_NEW_ONLY     0x0010
#define YOKAN_MODE_EXIST_ONLY   0x0020
#define YOKAN_MODE_NO_PREFIX    0x0040
#define YOKAN_MODE_IGNORE_KEYS  0x0080
#define YOKAN_MODE_KEEP_LAST    0x0180
#define YOKAN_MODE_SUFFIX       0x0200
#define YOKAN_MODE_LUA_FILTER   0x0400 /* not provided: YOKAN_ERR_MODE */
#define YOKAN_MODE_IGNORE_DOCS  0x0800
#define YOKAN_MODE_FILTER_VALUE 0x1000
#define YOKAN_MODE_LIB_FILTER   0x2000 /* not provided: YOKAN_ERR_MODE */
#define YOKAN_MODE_NO_RDMA      0x4000
#define YOKAN_MODE_UPDATE_NEW   0x8000
#define YOKAN_MODE_EXTRA        0x10000

/* Extra arguments: with YOKAN_MODE_EXTRA in the mode, an operation reads
 * (int tag, value) pairs after its last argument, ended by YOKAN_EXTRA_END. */
#define YOKAN_EXTRA_END        0
#define YOKAN_EXTRA_TIMEOUT_MS 1 /* followed by a double (milliseconds, 0 = none) */

/* Options of the provider's migration, snapshot and restore calls
 * (yokan/server.h; those calls need REMI, which is not provided: they
 * return YOKAN_ERR_OP_UNSUPPORTED). */
struct yk_migration_options {
    const char* new_root;
    const char* extra_config;
    size_t      xfer_size;
};
struct yk_snapshot_options {
    const char* extra_config;
    size_t      xfer_size;
};
struct yk_restore_options {
    const char* new_root;
    const char* extra_config;
    size_t      xfer_size;
};

#ifdef __cplusplus
}
#endif

#endif /* YOKAN_COMMON_H */
