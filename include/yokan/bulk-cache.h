/*
 * yokan/bulk-cache.h -- the bulk-buffer cache a Yokan provider may be given
 * (yk_provider_args.cache). Source-compatible with upstream mochi-yokan
 * 0.10; libmochi's provider transfers without intermediate buffers, so a
 * cache given to it is accepted and not used.
 */
#ifndef YOKAN_BULK_CACHE_H
#define YOKAN_BULK_CACHE_H

#include <margo.h>
#include <yokan/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A buffer of the cache: its memory and the bulk handle exposing it. */
typedef struct yk_buffer {
    size_t     size;
    hg_uint8_t mode; /* HG_BULK_READWRITE, HG_BULK_READ_ONLY or HG_BULK_WRITE_ONLY */
    char*      data;
    hg_bulk_t  bulk;
} *yk_buffer_t;

/* A cache implementation: a table of functions. */
typedef struct yk_bulk_cache {
    void* (*init)(margo_instance_id mid, const char* config);
    void (*finalize)(void* cache);
    yk_buffer_t (*get)(void* cache, size_t size, hg_uint8_t mode);
    void (*release)(void* cache, yk_buffer_t entry);
} *yk_bulk_cache_t;

#ifdef __cplusplus
}
#endif

#endif /* YOKAN_BULK_CACHE_H */
