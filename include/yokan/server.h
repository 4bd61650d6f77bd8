/*
 * yokan/server.h -- a Yokan provider registered by the program itself
 * (Bedrock's "yokan" module makes the same provider from its config).
 * Source-compatible with upstream mochi-yokan 0.10 (implemented by
 * libmochi, src/ffi/yokan/provider.rs).
 */
#ifndef YOKAN_SERVER_H
#define YOKAN_SERVER_H

#include <margo.h>
#include <stdbool.h>
#include <yokan/bulk-cache.h>
#include <yokan/common.h>

#ifdef __cplusplus
extern "C" {
#endif

#define YOKAN_ABT_POOL_DEFAULT ABT_POOL_NULL

typedef struct yk_provider* yk_provider_t;
#define YOKAN_PROVIDER_NULL   ((yk_provider_t)NULL)
#define YOKAN_PROVIDER_IGNORE ((yk_provider_t*)NULL)

/* REMI's handles, declared without REMI's headers: database migration is
 * not provided, so they must be NULL. */
typedef struct remi_client*   remi_client_t;
typedef struct remi_provider* remi_provider_t;

struct yk_provider_args {
    ABT_pool        pool;  /* pool of the handlers (ABT_POOL_NULL: the handler pool) */
    yk_bulk_cache_t cache; /* accepted, not used */
    struct {
        remi_client_t   client;
        remi_provider_t provider;
    } remi;
};

#define YOKAN_PROVIDER_ARGS_INIT { ABT_POOL_NULL, NULL, { NULL, NULL } }

/*
 * Registers a provider at provider_id. config is JSON, as under Bedrock:
 * {"database": {"type": "map" | "unordered_map" | "lmdb", "config": {...}}}.
 * provider may be YOKAN_PROVIDER_IGNORE: it then lives until the margo
 * instance is finalized. Errors: YOKAN_ERR_INVALID_MID, _INVALID_CONFIG,
 * _INVALID_BACKEND, _INVALID_PROVIDER (the id is taken), _INVALID_ARGS (a
 * pool of no live instance), _OP_UNSUPPORTED (REMI handles given).
 */
yk_return_t yk_provider_register(margo_instance_id mid, uint16_t provider_id, const char* config,
                                 const struct yk_provider_args* args, yk_provider_t* provider);

/* Stops the provider (its RPCs are deregistered) and frees it. */
yk_return_t yk_provider_destroy(yk_provider_t provider);

/* Need REMI: return YOKAN_ERR_OP_UNSUPPORTED. */
yk_return_t yk_provider_migrate_database(yk_provider_t provider, const char* dest_addr, uint16_t dest_provider_id,
                                         const struct yk_migration_options* options);
yk_return_t yk_provider_snapshot_database(yk_provider_t provider, const char* dest_path, bool remove_source,
                                          const struct yk_snapshot_options* options);
yk_return_t yk_provider_restore_database(yk_provider_t provider, const char* src_path,
                                         const struct yk_restore_options* options);

/* The effective config as JSON; free it with free(). */
char* yk_provider_get_config(yk_provider_t provider);

#ifdef __cplusplus
}
#endif

#endif /* YOKAN_SERVER_H */
