/*
 * yokan/database.h -- the key-value operations of Yokan (implemented by
 * libmochi; source-compatible with upstream mochi-yokan 0.10).
 *
 * As upstream, every operation takes a mode and may be followed, when the
 * mode has YOKAN_MODE_EXTRA, by (int tag, value) pairs ended by
 * YOKAN_EXTRA_END (YOKAN_EXTRA_TIMEOUT_MS takes a double). The variadic
 * functions are static inline here: they read the extras and call the
 * exported yk_*_timed functions with the timeout (0 = none). The _bulk
 * variants run on the client: they read their payload out of the bulk
 * handle (made here by margo_bulk_create, or another process's, named by
 * `origin` or received), and write their results back into it.
 * Collections of documents: yokan/collection.h.
 */
#ifndef YOKAN_DATABASE_H
#define YOKAN_DATABASE_H

#include <stdarg.h>
#include <margo.h>
#include <yokan/common.h>
#include <yokan/client.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef yk_return_t (*yk_keyvalue_callback_t)(void* uargs, size_t index, const void* key, size_t ksize,
                                              const void* val, size_t vsize);

/* Callbacks run on the calling thread; `pool` is accepted and not used. */
typedef struct yk_fetch_options {
    ABT_pool pool;
    unsigned batch_size;
} yk_fetch_options_t;

typedef struct yk_iter_options {
    unsigned batch_size;
    ABT_pool pool;
    bool ignore_values;
} yk_iter_options_t;

static inline bool yk_unpack_exists_flag(const uint8_t* flags, size_t i)
{
    return (flags[i / 8] >> (i % 8)) & 1;
}

/* Logs one line naming `what` and returns YOKAN_ERR_OP_UNSUPPORTED. */
yk_return_t yk_unsupported(const char* what);

/* Reads the extras after YOKAN_MODE_EXTRA: the timeout in ms (0 = none). */
static inline double yk_extra_timeout_ms_(int32_t mode, va_list ap)
{
    double timeout = 0.0;
    if (!(mode & YOKAN_MODE_EXTRA)) return timeout;
    for (;;) {
        int tag = va_arg(ap, int);
        if (tag == YOKAN_EXTRA_END) break;
        if (tag == YOKAN_EXTRA_TIMEOUT_MS) timeout = va_arg(ap, double);
        else (void)va_arg(ap, void*);
    }
    return timeout;
}

#define YK_READ_TIMEOUT_(last_)                    \
    double timeout_ms_;                            \
    {                                              \
        va_list ap_;                               \
        va_start(ap_, last_);                      \
        timeout_ms_ = yk_extra_timeout_ms_(mode, ap_); \
        va_end(ap_);                               \
    }

yk_return_t yk_count_timed(yk_database_handle_t dbh, int32_t mode, size_t* count, double timeout_ms);
static inline yk_return_t yk_count(yk_database_handle_t dbh, int32_t mode, size_t* count, ...)
{
    YK_READ_TIMEOUT_(count)
    return yk_count_timed(dbh, mode, count, timeout_ms_);
}

yk_return_t yk_put_timed(yk_database_handle_t dbh, int32_t mode, const void* key, size_t ksize, const void* value, size_t vsize, double timeout_ms);
static inline yk_return_t yk_put(yk_database_handle_t dbh, int32_t mode, const void* key, size_t ksize, const void* value, size_t vsize, ...)
{
    YK_READ_TIMEOUT_(vsize)
    return yk_put_timed(dbh, mode, key, ksize, value, vsize, timeout_ms_);
}

yk_return_t yk_put_multi_timed(yk_database_handle_t dbh, int32_t mode, size_t count, const void* const* keys, const size_t* ksizes, const void* const* values, const size_t* vsizes, double timeout_ms);
static inline yk_return_t yk_put_multi(yk_database_handle_t dbh, int32_t mode, size_t count, const void* const* keys, const size_t* ksizes, const void* const* values, const size_t* vsizes, ...)
{
    YK_READ_TIMEOUT_(vsizes)
    return yk_put_multi_timed(dbh, mode, count, keys, ksizes, values, vsizes, timeout_ms_);
}

yk_return_t yk_put_packed_timed(yk_database_handle_t dbh, int32_t mode, size_t count, const void* keys, const size_t* ksizes, const void* values, const size_t* vsizes, double timeout_ms);
static inline yk_return_t yk_put_packed(yk_database_handle_t dbh, int32_t mode, size_t count, const void* keys, const size_t* ksizes, const void* values, const size_t* vsizes, ...)
{
    YK_READ_TIMEOUT_(vsizes)
    return yk_put_packed_timed(dbh, mode, count, keys, ksizes, values, vsizes, timeout_ms_);
}

yk_return_t yk_exists_timed(yk_database_handle_t dbh, int32_t mode, const void* key, size_t ksize, uint8_t* exists, double timeout_ms);
static inline yk_return_t yk_exists(yk_database_handle_t dbh, int32_t mode, const void* key, size_t ksize, uint8_t* exists, ...)
{
    YK_READ_TIMEOUT_(exists)
    return yk_exists_timed(dbh, mode, key, ksize, exists, timeout_ms_);
}

yk_return_t yk_exists_multi_timed(yk_database_handle_t dbh, int32_t mode, size_t count, const void* const* keys, const size_t* ksizes, uint8_t* flags, double timeout_ms);
static inline yk_return_t yk_exists_multi(yk_database_handle_t dbh, int32_t mode, size_t count, const void* const* keys, const size_t* ksizes, uint8_t* flags, ...)
{
    YK_READ_TIMEOUT_(flags)
    return yk_exists_multi_timed(dbh, mode, count, keys, ksizes, flags, timeout_ms_);
}

yk_return_t yk_exists_packed_timed(yk_database_handle_t dbh, int32_t mode, size_t count, const void* keys, const size_t* ksizes, uint8_t* flags, double timeout_ms);
static inline yk_return_t yk_exists_packed(yk_database_handle_t dbh, int32_t mode, size_t count, const void* keys, const size_t* ksizes, uint8_t* flags, ...)
{
    YK_READ_TIMEOUT_(flags)
    return yk_exists_packed_timed(dbh, mode, count, keys, ksizes, flags, timeout_ms_);
}

yk_return_t yk_length_timed(yk_database_handle_t dbh, int32_t mode, const void* key, size_t ksize, size_t* vsize, double timeout_ms);
static inline yk_return_t yk_length(yk_database_handle_t dbh, int32_t mode, const void* key, size_t ksize, size_t* vsize, ...)
{
    YK_READ_TIMEOUT_(vsize)
    return yk_length_timed(dbh, mode, key, ksize, vsize, timeout_ms_);
}

yk_return_t yk_length_multi_timed(yk_database_handle_t dbh, int32_t mode, size_t count, const void* const* keys, const size_t* ksizes, size_t* vsizes, double timeout_ms);
static inline yk_return_t yk_length_multi(yk_database_handle_t dbh, int32_t mode, size_t count, const void* const* keys, const size_t* ksizes, size_t* vsizes, ...)
{
    YK_READ_TIMEOUT_(vsizes)
    return yk_length_multi_timed(dbh, mode, count, keys, ksizes, vsizes, timeout_ms_);
}

yk_return_t yk_length_packed_timed(yk_database_handle_t dbh, int32_t mode, size_t count, const void* keys, const size_t* ksizes, size_t* vsizes, double timeout_ms);
static inline yk_return_t yk_length_packed(yk_database_handle_t dbh, int32_t mode, size_t count, const void* keys, const size_t* ksizes, size_t* vsizes, ...)
{
    YK_READ_TIMEOUT_(vsizes)
    return yk_length_packed_timed(dbh, mode, count, keys, ksizes, vsizes, timeout_ms_);
}

yk_return_t yk_get_timed(yk_database_handle_t dbh, int32_t mode, const void* key, size_t ksize, void* value, size_t* vsize, double timeout_ms);
static inline yk_return_t yk_get(yk_database_handle_t dbh, int32_t mode, const void* key, size_t ksize, void* value, size_t* vsize, ...)
{
    YK_READ_TIMEOUT_(vsize)
    return yk_get_timed(dbh, mode, key, ksize, value, vsize, timeout_ms_);
}

yk_return_t yk_get_multi_timed(yk_database_handle_t dbh, int32_t mode, size_t count, const void* const* keys, const size_t* ksizes, void* const* values, size_t* vsizes, double timeout_ms);
static inline yk_return_t yk_get_multi(yk_database_handle_t dbh, int32_t mode, size_t count, const void* const* keys, const size_t* ksizes, void* const* values, size_t* vsizes, ...)
{
    YK_READ_TIMEOUT_(vsizes)
    return yk_get_multi_timed(dbh, mode, count, keys, ksizes, values, vsizes, timeout_ms_);
}

yk_return_t yk_get_packed_timed(yk_database_handle_t dbh, int32_t mode, size_t count, const void* keys, const size_t* ksizes, size_t vbufsize, void* values, size_t* vsizes, double timeout_ms);
static inline yk_return_t yk_get_packed(yk_database_handle_t dbh, int32_t mode, size_t count, const void* keys, const size_t* ksizes, size_t vbufsize, void* values, size_t* vsizes, ...)
{
    YK_READ_TIMEOUT_(vsizes)
    return yk_get_packed_timed(dbh, mode, count, keys, ksizes, vbufsize, values, vsizes, timeout_ms_);
}

yk_return_t yk_fetch_timed(yk_database_handle_t dbh, int32_t mode, const void* key, size_t ksize, yk_keyvalue_callback_t cb, void* uargs, double timeout_ms);
static inline yk_return_t yk_fetch(yk_database_handle_t dbh, int32_t mode, const void* key, size_t ksize, yk_keyvalue_callback_t cb, void* uargs, ...)
{
    YK_READ_TIMEOUT_(uargs)
    return yk_fetch_timed(dbh, mode, key, ksize, cb, uargs, timeout_ms_);
}

yk_return_t yk_fetch_multi_timed(yk_database_handle_t dbh, int32_t mode, size_t count, const void* const* keys, const size_t* ksizes, yk_keyvalue_callback_t cb, void* uargs, const yk_fetch_options_t* options, double timeout_ms);
static inline yk_return_t yk_fetch_multi(yk_database_handle_t dbh, int32_t mode, size_t count, const void* const* keys, const size_t* ksizes, yk_keyvalue_callback_t cb, void* uargs, const yk_fetch_options_t* options, ...)
{
    YK_READ_TIMEOUT_(options)
    return yk_fetch_multi_timed(dbh, mode, count, keys, ksizes, cb, uargs, options, timeout_ms_);
}

yk_return_t yk_fetch_packed_timed(yk_database_handle_t dbh, int32_t mode, size_t count, const void* keys, const size_t* ksizes, yk_keyvalue_callback_t cb, void* uargs, const yk_fetch_options_t* options, double timeout_ms);
static inline yk_return_t yk_fetch_packed(yk_database_handle_t dbh, int32_t mode, size_t count, const void* keys, const size_t* ksizes, yk_keyvalue_callback_t cb, void* uargs, const yk_fetch_options_t* options, ...)
{
    YK_READ_TIMEOUT_(options)
    return yk_fetch_packed_timed(dbh, mode, count, keys, ksizes, cb, uargs, options, timeout_ms_);
}

yk_return_t yk_erase_timed(yk_database_handle_t dbh, int32_t mode, const void* key, size_t ksize, double timeout_ms);
static inline yk_return_t yk_erase(yk_database_handle_t dbh, int32_t mode, const void* key, size_t ksize, ...)
{
    YK_READ_TIMEOUT_(ksize)
    return yk_erase_timed(dbh, mode, key, ksize, timeout_ms_);
}

yk_return_t yk_erase_multi_timed(yk_database_handle_t dbh, int32_t mode, size_t count, const void* const* keys, const size_t* ksizes, double timeout_ms);
static inline yk_return_t yk_erase_multi(yk_database_handle_t dbh, int32_t mode, size_t count, const void* const* keys, const size_t* ksizes, ...)
{
    YK_READ_TIMEOUT_(ksizes)
    return yk_erase_multi_timed(dbh, mode, count, keys, ksizes, timeout_ms_);
}

yk_return_t yk_erase_packed_timed(yk_database_handle_t dbh, int32_t mode, size_t count, const void* keys, const size_t* ksizes, double timeout_ms);
static inline yk_return_t yk_erase_packed(yk_database_handle_t dbh, int32_t mode, size_t count, const void* keys, const size_t* ksizes, ...)
{
    YK_READ_TIMEOUT_(ksizes)
    return yk_erase_packed_timed(dbh, mode, count, keys, ksizes, timeout_ms_);
}

yk_return_t yk_erase_range_timed(yk_database_handle_t dbh, int32_t mode, const void* prefix, size_t prefix_size, double timeout_ms);
static inline yk_return_t yk_erase_range(yk_database_handle_t dbh, int32_t mode, const void* prefix, size_t prefix_size, ...)
{
    YK_READ_TIMEOUT_(prefix_size)
    return yk_erase_range_timed(dbh, mode, prefix, prefix_size, timeout_ms_);
}

yk_return_t yk_list_keys_timed(yk_database_handle_t dbh, int32_t mode, const void* from_key, size_t from_ksize, const void* filter, size_t filter_size, size_t count, void* const* keys, size_t* ksizes, double timeout_ms);
static inline yk_return_t yk_list_keys(yk_database_handle_t dbh, int32_t mode, const void* from_key, size_t from_ksize, const void* filter, size_t filter_size, size_t count, void* const* keys, size_t* ksizes, ...)
{
    YK_READ_TIMEOUT_(ksizes)
    return yk_list_keys_timed(dbh, mode, from_key, from_ksize, filter, filter_size, count, keys, ksizes, timeout_ms_);
}

yk_return_t yk_list_keys_packed_timed(yk_database_handle_t dbh, int32_t mode, const void* from_key, size_t from_ksize, const void* filter, size_t filter_size, size_t count, void* keys, size_t keys_buf_size, size_t* ksizes, double timeout_ms);
static inline yk_return_t yk_list_keys_packed(yk_database_handle_t dbh, int32_t mode, const void* from_key, size_t from_ksize, const void* filter, size_t filter_size, size_t count, void* keys, size_t keys_buf_size, size_t* ksizes, ...)
{
    YK_READ_TIMEOUT_(ksizes)
    return yk_list_keys_packed_timed(dbh, mode, from_key, from_ksize, filter, filter_size, count, keys, keys_buf_size, ksizes, timeout_ms_);
}

yk_return_t yk_list_keyvals_timed(yk_database_handle_t dbh, int32_t mode, const void* from_key, size_t from_ksize, const void* filter, size_t filter_size, size_t count, void* const* keys, size_t* ksizes, void* const* values, size_t* vsizes, double timeout_ms);
static inline yk_return_t yk_list_keyvals(yk_database_handle_t dbh, int32_t mode, const void* from_key, size_t from_ksize, const void* filter, size_t filter_size, size_t count, void* const* keys, size_t* ksizes, void* const* values, size_t* vsizes, ...)
{
    YK_READ_TIMEOUT_(vsizes)
    return yk_list_keyvals_timed(dbh, mode, from_key, from_ksize, filter, filter_size, count, keys, ksizes, values, vsizes, timeout_ms_);
}

yk_return_t yk_list_keyvals_packed_timed(yk_database_handle_t dbh, int32_t mode, const void* from_key, size_t from_ksize, const void* filter, size_t filter_size, size_t count, void* keys, size_t keys_buf_size, size_t* ksizes, void* values, size_t vals_buf_size, size_t* vsizes, double timeout_ms);
static inline yk_return_t yk_list_keyvals_packed(yk_database_handle_t dbh, int32_t mode, const void* from_key, size_t from_ksize, const void* filter, size_t filter_size, size_t count, void* keys, size_t keys_buf_size, size_t* ksizes, void* values, size_t vals_buf_size, size_t* vsizes, ...)
{
    YK_READ_TIMEOUT_(vsizes)
    return yk_list_keyvals_packed_timed(dbh, mode, from_key, from_ksize, filter, filter_size, count, keys, keys_buf_size, ksizes, values, vals_buf_size, vsizes, timeout_ms_);
}

yk_return_t yk_iter_timed(yk_database_handle_t dbh, int32_t mode, const void* from_key, size_t from_ksize, const void* filter, size_t filter_size, size_t count, yk_keyvalue_callback_t cb, void* uargs, const yk_iter_options_t* options, double timeout_ms);
static inline yk_return_t yk_iter(yk_database_handle_t dbh, int32_t mode, const void* from_key, size_t from_ksize, const void* filter, size_t filter_size, size_t count, yk_keyvalue_callback_t cb, void* uargs, const yk_iter_options_t* options, ...)
{
    YK_READ_TIMEOUT_(options)
    return yk_iter_timed(dbh, mode, from_key, from_ksize, filter, filter_size, count, cb, uargs, options, timeout_ms_);
}

/* The _bulk variants: the payload is [offset, offset + size) of `data`, laid
 * out as upstream documents it; `origin` is the address of the process whose
 * memory `data` names (NULL: the one that made the handle). */
yk_return_t yk_put_bulk_timed(yk_database_handle_t dbh, int32_t mode, size_t count, const char* origin, hg_bulk_t data, size_t offset, size_t size, double timeout_ms);
static inline yk_return_t yk_put_bulk(yk_database_handle_t dbh, int32_t mode, size_t count, const char* origin, hg_bulk_t data, size_t offset, size_t size, ...)
{
    YK_READ_TIMEOUT_(size)
    return yk_put_bulk_timed(dbh, mode, count, origin, data, offset, size, timeout_ms_);
}

yk_return_t yk_exists_bulk_timed(yk_database_handle_t dbh, int32_t mode, size_t count, const char* origin, hg_bulk_t data, size_t offset, size_t size, double timeout_ms);
static inline yk_return_t yk_exists_bulk(yk_database_handle_t dbh, int32_t mode, size_t count, const char* origin, hg_bulk_t data, size_t offset, size_t size, ...)
{
    YK_READ_TIMEOUT_(size)
    return yk_exists_bulk_timed(dbh, mode, count, origin, data, offset, size, timeout_ms_);
}

yk_return_t yk_length_bulk_timed(yk_database_handle_t dbh, int32_t mode, size_t count, const char* origin, hg_bulk_t data, size_t offset, size_t size, double timeout_ms);
static inline yk_return_t yk_length_bulk(yk_database_handle_t dbh, int32_t mode, size_t count, const char* origin, hg_bulk_t data, size_t offset, size_t size, ...)
{
    YK_READ_TIMEOUT_(size)
    return yk_length_bulk_timed(dbh, mode, count, origin, data, offset, size, timeout_ms_);
}

yk_return_t yk_get_bulk_timed(yk_database_handle_t dbh, int32_t mode, size_t count, const char* origin, hg_bulk_t data, size_t offset, size_t size, bool packed, double timeout_ms);
/* Upstream's signature ends with a bool before the `...`: va_start on a
 * parameter that undergoes promotion is formally undefined (C before C23)
 * and clang warns about it; the GCC and clang builtins handle it. */
#if defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wvarargs"
#endif
static inline yk_return_t yk_get_bulk(yk_database_handle_t dbh, int32_t mode, size_t count, const char* origin, hg_bulk_t data, size_t offset, size_t size, bool packed, ...)
{
    YK_READ_TIMEOUT_(packed)
    return yk_get_bulk_timed(dbh, mode, count, origin, data, offset, size, packed, timeout_ms_);
}
#if defined(__clang__)
#pragma clang diagnostic pop
#endif

yk_return_t yk_fetch_bulk_timed(yk_database_handle_t dbh, int32_t mode, size_t count, const char* origin, hg_bulk_t data, size_t offset, size_t size, yk_keyvalue_callback_t cb, void* uargs, const yk_fetch_options_t* options, double timeout_ms);
static inline yk_return_t yk_fetch_bulk(yk_database_handle_t dbh, int32_t mode, size_t count, const char* origin, hg_bulk_t data, size_t offset, size_t size, yk_keyvalue_callback_t cb, void* uargs, const yk_fetch_options_t* options, ...)
{
    YK_READ_TIMEOUT_(options)
    return yk_fetch_bulk_timed(dbh, mode, count, origin, data, offset, size, cb, uargs, options, timeout_ms_);
}

yk_return_t yk_erase_bulk_timed(yk_database_handle_t dbh, int32_t mode, size_t count, const char* origin, hg_bulk_t data, size_t offset, size_t size, double timeout_ms);
static inline yk_return_t yk_erase_bulk(yk_database_handle_t dbh, int32_t mode, size_t count, const char* origin, hg_bulk_t data, size_t offset, size_t size, ...)
{
    YK_READ_TIMEOUT_(size)
    return yk_erase_bulk_timed(dbh, mode, count, origin, data, offset, size, timeout_ms_);
}

yk_return_t yk_list_keys_bulk_timed(yk_database_handle_t dbh, int32_t mode, size_t from_ksize, size_t filter_size, const char* origin, hg_bulk_t data, size_t offset, size_t keys_buf_size, bool packed, size_t count, double timeout_ms);
static inline yk_return_t yk_list_keys_bulk(yk_database_handle_t dbh, int32_t mode, size_t from_ksize, size_t filter_size, const char* origin, hg_bulk_t data, size_t offset, size_t keys_buf_size, bool packed, size_t count, ...)
{
    YK_READ_TIMEOUT_(count)
    return yk_list_keys_bulk_timed(dbh, mode, from_ksize, filter_size, origin, data, offset, keys_buf_size, packed, count, timeout_ms_);
}

yk_return_t yk_list_keyvals_bulk_timed(yk_database_handle_t dbh, int32_t mode, size_t from_ksize, size_t filter_size, const char* origin, hg_bulk_t data, size_t offset, size_t key_buf_size, size_t val_buf_size, bool packed, size_t count, double timeout_ms);
static inline yk_return_t yk_list_keyvals_bulk(yk_database_handle_t dbh, int32_t mode, size_t from_ksize, size_t filter_size, const char* origin, hg_bulk_t data, size_t offset, size_t key_buf_size, size_t val_buf_size, bool packed, size_t count, ...)
{
    YK_READ_TIMEOUT_(count)
    return yk_list_keyvals_bulk_timed(dbh, mode, from_ksize, filter_size, origin, data, offset, key_buf_size, val_buf_size, packed, count, timeout_ms_);
}


#ifdef __cplusplus
}
#endif

#endif /* YOKAN_DATABASE_H */
