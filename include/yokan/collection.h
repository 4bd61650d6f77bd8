/*
 * yokan/collection.h -- Yokan's document collections (implemented by
 * libmochi; source-compatible with upstream mochi-yokan 0.10).
 *
 * A collection is a named sequence of documents in a database; each stored
 * document gets the next id of its collection (0, 1, 2, ...). The provider
 * keeps them in the database's key space as upstream does: the collection's
 * record under its name, each document under the name, a zero byte and the
 * id in big-endian order (so a sorted database lists them by id). Ids are
 * given out by the provider, so concurrent writers never share one.
 *
 * As in yokan/database.h, every operation is a static inline function that
 * reads the extras after YOKAN_MODE_EXTRA (the timeout) and calls the
 * exported yk_*_timed function. Document filters (YOKAN_MODE_LUA_FILTER,
 * YOKAN_MODE_LIB_FILTER) are not provided (YOKAN_ERR_MODE); without them a
 * filter accepts every document, as upstream's default filter does.
 * Callbacks run on the calling thread; `pool` in the options is accepted
 * and not used. The _bulk forms of store, update and load read (and write)
 * their payload through the bulk handle as upstream lays it out, and so
 * does yk_doc_list_bulk; yk_doc_fetch_bulk and yk_doc_iter_bulk hand each
 * batch to the callback as a read-only bulk handle over this process's
 * memory, valid while the callback runs, with this process's address. In
 * a database spread over a Flock group (a provider with a group
 * dependency), a collection lives whole at the owners of its name, whose
 * primary hands out its ids (see docs/distributed-yokan.md).
 */
#ifndef YOKAN_COLLECTION_H
#define YOKAN_COLLECTION_H

#include <stdbool.h>
#include <margo.h>
#include <yokan/common.h>
#include <yokan/database.h>
#include <yokan/client.h>

#ifdef __cplusplus
extern "C" {
#endif

/* (user args, index in the call, document id, document, its size); the
 * size is YOKAN_KEY_NOT_FOUND (and the document NULL) for an absent one. */
typedef yk_return_t (*yk_document_callback_t)(void*, size_t, yk_id_t, const void*, size_t);

/* (user args, index of the first document, number of documents, bulk
 * handle, address it comes from, its size). For fetch_bulk the bulk holds
 * the document sizes (size_t each) then the documents; for iter_bulk the
 * ids (yk_id_t each), then the sizes, then the documents. */
typedef yk_return_t (*yk_document_bulk_callback_t)(void*, size_t, size_t, hg_bulk_t, hg_addr_t, size_t);

typedef struct yk_doc_fetch_options {
    ABT_pool pool;       /* accepted, not used: callbacks run on the caller */
    unsigned batch_size; /* documents read per round trip (0: all at once) */
} yk_doc_fetch_options_t;

typedef struct yk_doc_iter_options {
    unsigned batch_size; /* documents read per round trip (0: a default) */
    ABT_pool pool;       /* accepted, not used */
} yk_doc_iter_options_t;

yk_return_t yk_collection_create_timed(yk_database_handle_t dbh, const char* name, int32_t mode, double timeout_ms);
static inline yk_return_t yk_collection_create(yk_database_handle_t dbh, const char* name, int32_t mode, ...)
{
    YK_READ_TIMEOUT_(mode)
    return yk_collection_create_timed(dbh, name, mode, timeout_ms_);
}

yk_return_t yk_collection_drop_timed(yk_database_handle_t dbh, const char* collection, int32_t mode, double timeout_ms);
static inline yk_return_t yk_collection_drop(yk_database_handle_t dbh, const char* collection, int32_t mode, ...)
{
    YK_READ_TIMEOUT_(mode)
    return yk_collection_drop_timed(dbh, collection, mode, timeout_ms_);
}

yk_return_t yk_collection_exists_timed(yk_database_handle_t dbh, const char* collection, int32_t mode, uint8_t* flag, double timeout_ms);
static inline yk_return_t yk_collection_exists(yk_database_handle_t dbh, const char* collection, int32_t mode, uint8_t* flag, ...)
{
    YK_READ_TIMEOUT_(flag)
    return yk_collection_exists_timed(dbh, collection, mode, flag, timeout_ms_);
}

yk_return_t yk_collection_size_timed(yk_database_handle_t dbh, const char* collection, int32_t mode, size_t* count, double timeout_ms);
static inline yk_return_t yk_collection_size(yk_database_handle_t dbh, const char* collection, int32_t mode, size_t* count, ...)
{
    YK_READ_TIMEOUT_(count)
    return yk_collection_size_timed(dbh, collection, mode, count, timeout_ms_);
}

yk_return_t yk_collection_last_id_timed(yk_database_handle_t dbh, const char* collection, int32_t mode, yk_id_t* id, double timeout_ms);
static inline yk_return_t yk_collection_last_id(yk_database_handle_t dbh, const char* collection, int32_t mode, yk_id_t* id, ...)
{
    YK_READ_TIMEOUT_(id)
    return yk_collection_last_id_timed(dbh, collection, mode, id, timeout_ms_);
}

yk_return_t yk_doc_store_timed(yk_database_handle_t dbh, const char* collection, int32_t mode, const void* document, size_t size, yk_id_t* id, double timeout_ms);
static inline yk_return_t yk_doc_store(yk_database_handle_t dbh, const char* collection, int32_t mode, const void* document, size_t size, yk_id_t* id, ...)
{
    YK_READ_TIMEOUT_(id)
    return yk_doc_store_timed(dbh, collection, mode, document, size, id, timeout_ms_);
}

yk_return_t yk_doc_store_multi_timed(yk_database_handle_t dbh, const char* collection, int32_t mode, size_t count, const void* const* documents, const size_t* rsizes, yk_id_t* ids, double timeout_ms);
static inline yk_return_t yk_doc_store_multi(yk_database_handle_t dbh, const char* collection, int32_t mode, size_t count, const void* const* documents, const size_t* rsizes, yk_id_t* ids, ...)
{
    YK_READ_TIMEOUT_(ids)
    return yk_doc_store_multi_timed(dbh, collection, mode, count, documents, rsizes, ids, timeout_ms_);
}

yk_return_t yk_doc_store_packed_timed(yk_database_handle_t dbh, const char* collection, int32_t mode, size_t count, const void* documents, const size_t* rsizes, yk_id_t* ids, double timeout_ms);
static inline yk_return_t yk_doc_store_packed(yk_database_handle_t dbh, const char* collection, int32_t mode, size_t count, const void* documents, const size_t* rsizes, yk_id_t* ids, ...)
{
    YK_READ_TIMEOUT_(ids)
    return yk_doc_store_packed_timed(dbh, collection, mode, count, documents, rsizes, ids, timeout_ms_);
}

yk_return_t yk_doc_store_bulk_timed(yk_database_handle_t dbh, const char* collection, int32_t mode, size_t count, const char* origin, hg_bulk_t data, size_t offset, size_t size, yk_id_t* ids, double timeout_ms);
static inline yk_return_t yk_doc_store_bulk(yk_database_handle_t dbh, const char* collection, int32_t mode, size_t count, const char* origin, hg_bulk_t data, size_t offset, size_t size, yk_id_t* ids, ...)
{
    YK_READ_TIMEOUT_(ids)
    return yk_doc_store_bulk_timed(dbh, collection, mode, count, origin, data, offset, size, ids, timeout_ms_);
}

yk_return_t yk_doc_load_timed(yk_database_handle_t dbh, const char* collection, int32_t mode, yk_id_t id, void* data, size_t* size, double timeout_ms);
static inline yk_return_t yk_doc_load(yk_database_handle_t dbh, const char* collection, int32_t mode, yk_id_t id, void* data, size_t* size, ...)
{
    YK_READ_TIMEOUT_(size)
    return yk_doc_load_timed(dbh, collection, mode, id, data, size, timeout_ms_);
}

yk_return_t yk_doc_load_multi_timed(yk_database_handle_t dbh, const char* collection, int32_t mode, size_t count, const yk_id_t* ids, void* const* documents, size_t* rsizes, double timeout_ms);
static inline yk_return_t yk_doc_load_multi(yk_database_handle_t dbh, const char* collection, int32_t mode, size_t count, const yk_id_t* ids, void* const* documents, size_t* rsizes, ...)
{
    YK_READ_TIMEOUT_(rsizes)
    return yk_doc_load_multi_timed(dbh, collection, mode, count, ids, documents, rsizes, timeout_ms_);
}

yk_return_t yk_doc_load_packed_timed(yk_database_handle_t dbh, const char* collection, int32_t mode, size_t count, const yk_id_t* ids, size_t rbufsize, void* documents, size_t* rsizes, double timeout_ms);
static inline yk_return_t yk_doc_load_packed(yk_database_handle_t dbh, const char* collection, int32_t mode, size_t count, const yk_id_t* ids, size_t rbufsize, void* documents, size_t* rsizes, ...)
{
    YK_READ_TIMEOUT_(rsizes)
    return yk_doc_load_packed_timed(dbh, collection, mode, count, ids, rbufsize, documents, rsizes, timeout_ms_);
}

yk_return_t yk_doc_load_bulk_timed(yk_database_handle_t dbh, const char* collection, int32_t mode, size_t count, const yk_id_t* ids, const char* origin, hg_bulk_t data, size_t offset, size_t size, bool packed, double timeout_ms);
/* Its last named parameter is a bool, which va_start may not name (it is
 * promoted): the extras after YOKAN_MODE_EXTRA are not read (no timeout). */
static inline yk_return_t yk_doc_load_bulk(yk_database_handle_t dbh, const char* collection, int32_t mode, size_t count, const yk_id_t* ids, const char* origin, hg_bulk_t data, size_t offset, size_t size, bool packed, ...)
{
    double timeout_ms_ = 0.0;
    return yk_doc_load_bulk_timed(dbh, collection, mode, count, ids, origin, data, offset, size, packed, timeout_ms_);
}

yk_return_t yk_doc_fetch_timed(yk_database_handle_t dbh, const char* collection, int32_t mode, yk_id_t id, yk_document_callback_t cb, void* uargs, double timeout_ms);
static inline yk_return_t yk_doc_fetch(yk_database_handle_t dbh, const char* collection, int32_t mode, yk_id_t id, yk_document_callback_t cb, void* uargs, ...)
{
    YK_READ_TIMEOUT_(uargs)
    return yk_doc_fetch_timed(dbh, collection, mode, id, cb, uargs, timeout_ms_);
}

yk_return_t yk_doc_fetch_multi_timed(yk_database_handle_t dbh, const char* collection, int32_t mode, size_t count, const yk_id_t* ids, yk_document_callback_t cb, void* uargs, const yk_doc_fetch_options_t* options, double timeout_ms);
static inline yk_return_t yk_doc_fetch_multi(yk_database_handle_t dbh, const char* collection, int32_t mode, size_t count, const yk_id_t* ids, yk_document_callback_t cb, void* uargs, const yk_doc_fetch_options_t* options, ...)
{
    YK_READ_TIMEOUT_(options)
    return yk_doc_fetch_multi_timed(dbh, collection, mode, count, ids, cb, uargs, options, timeout_ms_);
}

yk_return_t yk_doc_fetch_bulk_timed(yk_database_handle_t dbh, const char* collection, int32_t mode, size_t count, const yk_id_t* ids, yk_document_bulk_callback_t cb, void* uargs, const yk_doc_fetch_options_t* options, double timeout_ms);
static inline yk_return_t yk_doc_fetch_bulk(yk_database_handle_t dbh, const char* collection, int32_t mode, size_t count, const yk_id_t* ids, yk_document_bulk_callback_t cb, void* uargs, const yk_doc_fetch_options_t* options, ...)
{
    YK_READ_TIMEOUT_(options)
    return yk_doc_fetch_bulk_timed(dbh, collection, mode, count, ids, cb, uargs, options, timeout_ms_);
}

yk_return_t yk_doc_length_timed(yk_database_handle_t dbh, const char* collection, int32_t mode, yk_id_t id, size_t* size, double timeout_ms);
static inline yk_return_t yk_doc_length(yk_database_handle_t dbh, const char* collection, int32_t mode, yk_id_t id, size_t* size, ...)
{
    YK_READ_TIMEOUT_(size)
    return yk_doc_length_timed(dbh, collection, mode, id, size, timeout_ms_);
}

yk_return_t yk_doc_length_multi_timed(yk_database_handle_t dbh, const char* collection, int32_t mode, size_t count, const yk_id_t* ids, size_t* rsizes, double timeout_ms);
static inline yk_return_t yk_doc_length_multi(yk_database_handle_t dbh, const char* collection, int32_t mode, size_t count, const yk_id_t* ids, size_t* rsizes, ...)
{
    YK_READ_TIMEOUT_(rsizes)
    return yk_doc_length_multi_timed(dbh, collection, mode, count, ids, rsizes, timeout_ms_);
}

yk_return_t yk_doc_update_timed(yk_database_handle_t dbh, const char* collection, int32_t mode, yk_id_t id, const void* document, size_t size, double timeout_ms);
static inline yk_return_t yk_doc_update(yk_database_handle_t dbh, const char* collection, int32_t mode, yk_id_t id, const void* document, size_t size, ...)
{
    YK_READ_TIMEOUT_(size)
    return yk_doc_update_timed(dbh, collection, mode, id, document, size, timeout_ms_);
}

yk_return_t yk_doc_update_multi_timed(yk_database_handle_t dbh, const char* collection, int32_t mode, size_t count, const yk_id_t* ids, const void* const* documents, const size_t* rsizes, double timeout_ms);
static inline yk_return_t yk_doc_update_multi(yk_database_handle_t dbh, const char* collection, int32_t mode, size_t count, const yk_id_t* ids, const void* const* documents, const size_t* rsizes, ...)
{
    YK_READ_TIMEOUT_(rsizes)
    return yk_doc_update_multi_timed(dbh, collection, mode, count, ids, documents, rsizes, timeout_ms_);
}

yk_return_t yk_doc_update_packed_timed(yk_database_handle_t dbh, const char* collection, int32_t mode, size_t count, const yk_id_t* ids, const void* documents, const size_t* rsizes, double timeout_ms);
static inline yk_return_t yk_doc_update_packed(yk_database_handle_t dbh, const char* collection, int32_t mode, size_t count, const yk_id_t* ids, const void* documents, const size_t* rsizes, ...)
{
    YK_READ_TIMEOUT_(rsizes)
    return yk_doc_update_packed_timed(dbh, collection, mode, count, ids, documents, rsizes, timeout_ms_);
}

yk_return_t yk_doc_update_bulk_timed(yk_database_handle_t dbh, const char* collection, int32_t mode, size_t count, const yk_id_t* ids, const char* origin, hg_bulk_t data, size_t offset, size_t size, double timeout_ms);
static inline yk_return_t yk_doc_update_bulk(yk_database_handle_t dbh, const char* collection, int32_t mode, size_t count, const yk_id_t* ids, const char* origin, hg_bulk_t data, size_t offset, size_t size, ...)
{
    YK_READ_TIMEOUT_(size)
    return yk_doc_update_bulk_timed(dbh, collection, mode, count, ids, origin, data, offset, size, timeout_ms_);
}

yk_return_t yk_doc_erase_timed(yk_database_handle_t dbh, const char* collection, int32_t mode, yk_id_t id, double timeout_ms);
static inline yk_return_t yk_doc_erase(yk_database_handle_t dbh, const char* collection, int32_t mode, yk_id_t id, ...)
{
    YK_READ_TIMEOUT_(id)
    return yk_doc_erase_timed(dbh, collection, mode, id, timeout_ms_);
}

yk_return_t yk_doc_erase_multi_timed(yk_database_handle_t dbh, const char* collection, int32_t mode, size_t count, const yk_id_t* ids, double timeout_ms);
static inline yk_return_t yk_doc_erase_multi(yk_database_handle_t dbh, const char* collection, int32_t mode, size_t count, const yk_id_t* ids, ...)
{
    YK_READ_TIMEOUT_(ids)
    return yk_doc_erase_multi_timed(dbh, collection, mode, count, ids, timeout_ms_);
}

yk_return_t yk_doc_list_timed(yk_database_handle_t dbh, const char* collection, int32_t mode, yk_id_t start_id, const void* filter, size_t filter_size, size_t max, yk_id_t* ids, void* const* docs, size_t* doc_sizes, double timeout_ms);
static inline yk_return_t yk_doc_list(yk_database_handle_t dbh, const char* collection, int32_t mode, yk_id_t start_id, const void* filter, size_t filter_size, size_t max, yk_id_t* ids, void* const* docs, size_t* doc_sizes, ...)
{
    YK_READ_TIMEOUT_(doc_sizes)
    return yk_doc_list_timed(dbh, collection, mode, start_id, filter, filter_size, max, ids, docs, doc_sizes, timeout_ms_);
}

yk_return_t yk_doc_list_packed_timed(yk_database_handle_t dbh, const char* collection, int32_t mode, yk_id_t start_id, const void* filter, size_t filter_size, size_t max, yk_id_t* ids, size_t bufsize, void* docs, size_t* doc_sizes, double timeout_ms);
static inline yk_return_t yk_doc_list_packed(yk_database_handle_t dbh, const char* collection, int32_t mode, yk_id_t start_id, const void* filter, size_t filter_size, size_t max, yk_id_t* ids, size_t bufsize, void* docs, size_t* doc_sizes, ...)
{
    YK_READ_TIMEOUT_(doc_sizes)
    return yk_doc_list_packed_timed(dbh, collection, mode, start_id, filter, filter_size, max, ids, bufsize, docs, doc_sizes, timeout_ms_);
}

yk_return_t yk_doc_list_bulk_timed(yk_database_handle_t dbh, const char* collection, int32_t mode, yk_id_t from_id, size_t filter_size, const char* origin, hg_bulk_t data, size_t offset, size_t docs_buf_size, bool packed, size_t count, double timeout_ms);
static inline yk_return_t yk_doc_list_bulk(yk_database_handle_t dbh, const char* collection, int32_t mode, yk_id_t from_id, size_t filter_size, const char* origin, hg_bulk_t data, size_t offset, size_t docs_buf_size, bool packed, size_t count, ...)
{
    YK_READ_TIMEOUT_(count)
    return yk_doc_list_bulk_timed(dbh, collection, mode, from_id, filter_size, origin, data, offset, docs_buf_size, packed, count, timeout_ms_);
}

yk_return_t yk_doc_iter_timed(yk_database_handle_t dbh, const char* collection, int32_t mode, yk_id_t start_id, const void* filter, size_t filter_size, size_t max, yk_document_callback_t cb, void* uargs, const yk_doc_iter_options_t* options, double timeout_ms);
static inline yk_return_t yk_doc_iter(yk_database_handle_t dbh, const char* collection, int32_t mode, yk_id_t start_id, const void* filter, size_t filter_size, size_t max, yk_document_callback_t cb, void* uargs, const yk_doc_iter_options_t* options, ...)
{
    YK_READ_TIMEOUT_(options)
    return yk_doc_iter_timed(dbh, collection, mode, start_id, filter, filter_size, max, cb, uargs, options, timeout_ms_);
}

yk_return_t yk_doc_iter_bulk_timed(yk_database_handle_t dbh, const char* collection, int32_t mode, yk_id_t start_id, const void* filter, size_t filter_size, size_t max, yk_document_bulk_callback_t cb, void* uargs, const yk_doc_iter_options_t* options, double timeout_ms);
static inline yk_return_t yk_doc_iter_bulk(yk_database_handle_t dbh, const char* collection, int32_t mode, yk_id_t start_id, const void* filter, size_t filter_size, size_t max, yk_document_bulk_callback_t cb, void* uargs, const yk_doc_iter_options_t* options, ...)
{
    YK_READ_TIMEOUT_(options)
    return yk_doc_iter_bulk_timed(dbh, collection, mode, start_id, filter, filter_size, max, cb, uargs, options, timeout_ms_);
}

#ifdef __cplusplus
}
#endif

#endif /* YOKAN_COLLECTION_H */
