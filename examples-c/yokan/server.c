/*
 * yokan-server-c: a program that registers Yokan providers itself
 * (yokan/server.h) and reaches them with the C client, one process.
 *
 *   yokan-server-c PROTOCOL LMDB_DIR
 *
 * A map provider with a pool of the program's own, an lmdb provider left
 * to live until finalize (YOKAN_PROVIDER_IGNORE), their configs, the
 * errors of a taken id, a bad config, an unknown backend, REMI handles and
 * migration, and a destroyed provider no longer answering. Prints one line
 * per check; exits with the number of failed checks.
 */
#include <margo.h>
#include <yokan/client.h>
#include <yokan/database.h>
#include <yokan/server.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures = 0;

static void check(int cond, const char* what)
{
    printf("%s: %s\n", cond ? "ok" : "FAIL", what);
    fflush(stdout);
    if (!cond) ++failures;
}

int main(int argc, char** argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s PROTOCOL LMDB_DIR\n", argv[0]);
        return 1;
    }
    margo_instance_id mid = margo_init(argv[1], MARGO_SERVER_MODE, 0, 0);
    if (mid == MARGO_INSTANCE_NULL) return 1;

    struct margo_pool_info pool;
    check(margo_add_pool_from_json(mid, "{\"name\":\"kv_pool\"}", &pool) == HG_SUCCESS
              && margo_add_xstream_from_json(mid, "{\"name\":\"kv_es\",\"scheduler\":{\"pools\":[\"kv_pool\"]}}", NULL)
                     == HG_SUCCESS,
          "a pool and a stream for the provider");
    struct yk_provider_args args = YOKAN_PROVIDER_ARGS_INIT;
    args.pool                    = pool.pool;
    yk_provider_t map            = YOKAN_PROVIDER_NULL;
    check(yk_provider_register(mid, 42, "{\"database\":{\"type\":\"map\"}}", &args, &map) == YOKAN_SUCCESS
              && map != YOKAN_PROVIDER_NULL,
          "yk_provider_register: a map database on the program's pool");
    char lmdb_config[512];
    snprintf(lmdb_config, sizeof lmdb_config, "{\"database\":{\"type\":\"lmdb\",\"config\":{\"path\":\"%s\"}}}", argv[2]);
    check(yk_provider_register(mid, 43, lmdb_config, NULL, YOKAN_PROVIDER_IGNORE) == YOKAN_SUCCESS,
          "an lmdb provider owned by the instance (YOKAN_PROVIDER_IGNORE)");

    yk_provider_t other = YOKAN_PROVIDER_NULL;
    check(yk_provider_register(mid, 42, "{\"database\":{\"type\":\"map\"}}", NULL, &other) == YOKAN_ERR_INVALID_PROVIDER,
          "a taken provider id: YOKAN_ERR_INVALID_PROVIDER");
    check(yk_provider_register(mid, 44, "{not json", NULL, &other) == YOKAN_ERR_INVALID_CONFIG,
          "a config that is not JSON: YOKAN_ERR_INVALID_CONFIG");
    check(yk_provider_register(mid, 44, "{\"database\":{\"type\":\"rocksdb\"}}", NULL, &other)
              == YOKAN_ERR_INVALID_BACKEND,
          "an unknown backend: YOKAN_ERR_INVALID_BACKEND");
    struct yk_provider_args remi = YOKAN_PROVIDER_ARGS_INIT;
    remi.remi.client             = (remi_client_t)&remi;
    check(yk_provider_register(mid, 44, NULL, &remi, &other) == YOKAN_ERR_OP_UNSUPPORTED,
          "REMI handles: YOKAN_ERR_OP_UNSUPPORTED");
    check(yk_provider_register(MARGO_INSTANCE_NULL, 44, NULL, NULL, &other) == YOKAN_ERR_INVALID_MID,
          "no margo instance: YOKAN_ERR_INVALID_MID");

    char* config = yk_provider_get_config(map);
    check(config != NULL && strstr(config, "\"map\"") != NULL, "yk_provider_get_config names the backend");
    free(config);
    check(yk_provider_migrate_database(map, "na+sm://1-0", 1, NULL) == YOKAN_ERR_OP_UNSUPPORTED,
          "migration: YOKAN_ERR_OP_UNSUPPORTED");

    yk_client_t client;
    hg_addr_t   self;
    margo_addr_self(mid, &self);
    check(yk_client_init(mid, &client) == YOKAN_SUCCESS, "yk_client_init");
    for (uint16_t id = 42; id <= 43; id++) {
        yk_database_handle_t db;
        char                 value[16];
        size_t               vsize = sizeof value;
        int ok = yk_database_handle_create(client, self, id, true, &db) == YOKAN_SUCCESS
              && yk_put(db, YOKAN_MODE_DEFAULT, "key", 3, "value", 5) == YOKAN_SUCCESS
              && yk_get(db, YOKAN_MODE_DEFAULT, "key", 3, value, &vsize) == YOKAN_SUCCESS && vsize == 5
              && memcmp(value, "value", 5) == 0;
        check(ok, id == 42 ? "put/get through the map provider" : "put/get through the lmdb provider");
        yk_database_handle_release(db);
    }

    check(yk_provider_destroy(map) == YOKAN_SUCCESS, "yk_provider_destroy");
    yk_database_handle_t gone;
    check(yk_database_handle_create(client, self, 42, true, &gone) == YOKAN_ERR_INVALID_PROVIDER,
          "a destroyed provider no longer answers");
    check(yk_provider_destroy(YOKAN_PROVIDER_NULL) == YOKAN_ERR_INVALID_PROVIDER, "destroying NULL: an error");

    yk_client_finalize(client);
    margo_addr_free(mid, self);
    margo_finalize(mid);
    printf("%d failure(s)\n", failures);
    return failures;
}
