/* A Yokan C client written against upstream's API: every operation and the
 * error codes a user meets. Usage: yokan-client-c PROTOCOL ADDRESS PROVIDER_ID */
#include <yokan/client.h>
#include <yokan/database.h>
#include <margo.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(expr, want)                                                                  \
    do {                                                                                   \
        yk_return_t r_ = (expr);                                                           \
        if (r_ != (want)) {                                                                \
            fprintf(stderr, "%s:%d: %s returned %d, expected %d\n", __FILE__, __LINE__, #expr, \
                    (int)r_, (int)(want));                                                 \
            exit(1);                                                                       \
        }                                                                                  \
    } while (0)

static int seen;
static yk_return_t count_cb(void* uargs, size_t i, const void* k, size_t ks, const void* v, size_t vs)
{
    (void)uargs; (void)k; (void)ks; (void)v; (void)vs;
    if (i != (size_t)seen) return YOKAN_ERR_OTHER;
    seen++;
    return YOKAN_SUCCESS;
}

int main(int argc, char** argv)
{
    if (argc != 4) { fprintf(stderr, "usage: %s PROTOCOL ADDRESS PROVIDER_ID\n", argv[0]); return 2; }
    margo_instance_id mid = margo_init(argv[1], MARGO_CLIENT_MODE, 0, 0);
    if (mid == MARGO_INSTANCE_NULL) { fprintf(stderr, "margo_init failed\n"); return 1; }
    hg_addr_t addr = HG_ADDR_NULL;
    if (margo_addr_lookup(mid, argv[2], &addr) != HG_SUCCESS) { fprintf(stderr, "lookup failed\n"); return 1; }
    uint16_t provider_id = (uint16_t)atoi(argv[3]);

    yk_client_t client = YOKAN_CLIENT_NULL;
    CHECK(yk_client_init(mid, &client), YOKAN_SUCCESS);
    yk_database_handle_t db = YOKAN_DATABASE_HANDLE_NULL;
    CHECK(yk_database_handle_create(client, addr, (uint16_t)(provider_id + 100), true, &db), YOKAN_ERR_INVALID_PROVIDER);
    CHECK(yk_database_handle_create(NULL, addr, provider_id, true, &db), YOKAN_ERR_INVALID_ARGS);
    CHECK(yk_database_handle_create(client, addr, provider_id, true, &db), YOKAN_SUCCESS);
    CHECK(yk_database_handle_ref_incr(db), YOKAN_SUCCESS);
    CHECK(yk_database_handle_release(db), YOKAN_SUCCESS);

    /* put / get / length / exists, with an explicit timeout extra */
    CHECK(yk_put(db, YOKAN_MODE_DEFAULT, "hello", 5, "world", 5), YOKAN_SUCCESS);
    CHECK(yk_put(db, YOKAN_MODE_EXTRA, "hello2", 6, "there", 5, YOKAN_EXTRA_TIMEOUT_MS, 5000.0, YOKAN_EXTRA_END), YOKAN_SUCCESS);
    char buf[16]; size_t vsize = sizeof buf;
    CHECK(yk_get(db, YOKAN_MODE_DEFAULT, "hello", 5, buf, &vsize), YOKAN_SUCCESS);
    if (vsize != 5 || memcmp(buf, "world", 5) != 0) { fprintf(stderr, "wrong value\n"); return 1; }
    vsize = 2;
    CHECK(yk_get(db, YOKAN_MODE_DEFAULT, "hello", 5, buf, &vsize), YOKAN_ERR_BUFFER_SIZE);
    if (vsize != YOKAN_SIZE_TOO_SMALL) { fprintf(stderr, "expected YOKAN_SIZE_TOO_SMALL\n"); return 1; }
    vsize = sizeof buf;
    CHECK(yk_get(db, YOKAN_MODE_DEFAULT, "absent", 6, buf, &vsize), YOKAN_ERR_KEY_NOT_FOUND);
    CHECK(yk_put(db, YOKAN_MODE_NEW_ONLY, "hello", 5, "x", 1), YOKAN_ERR_KEY_EXISTS);
    CHECK(yk_put(db, YOKAN_MODE_DEFAULT, "", 0, "x", 1), YOKAN_ERR_INVALID_ARGS);
    CHECK(yk_put(NULL, YOKAN_MODE_DEFAULT, "k", 1, "x", 1), YOKAN_ERR_INVALID_ARGS);
    CHECK(yk_put(db, YOKAN_MODE_DEFAULT, NULL, 3, "x", 1), YOKAN_ERR_INVALID_ARGS);
    CHECK(yk_put(db, YOKAN_MODE_LUA_FILTER, "k", 1, "x", 1), YOKAN_ERR_MODE);
    CHECK(yk_put_bulk(db, YOKAN_MODE_DEFAULT, 1, NULL, HG_BULK_NULL, 0, 8), YOKAN_ERR_INVALID_ARGS);
    size_t len = 0;
    CHECK(yk_length(db, YOKAN_MODE_DEFAULT, "hello2", 6, &len), YOKAN_SUCCESS);
    if (len != 5) return 1;

    /* _bulk forms: the payload is memory exposed with margo_bulk_create. */
    {
        /* put: key sizes, value sizes, keys, values (two segments) */
        size_t put_sizes[4] = {3, 3, 2, 4};
        char put_data[] = "b-1b-2v1v222";
        void* put_ptrs[2] = {put_sizes, put_data};
        hg_size_t put_lens[2] = {sizeof put_sizes, 12};
        hg_bulk_t bulk = HG_BULK_NULL;
        if (margo_bulk_create(mid, 2, put_ptrs, put_lens, HG_BULK_READ_ONLY, &bulk) != HG_SUCCESS) return 1;
        CHECK(yk_put_bulk(db, YOKAN_MODE_EXTRA, 2, NULL, bulk, 0, sizeof put_sizes + 12, YOKAN_EXTRA_TIMEOUT_MS, 5000.0,
                          YOKAN_EXTRA_END), YOKAN_SUCCESS);
        /* a read-only handle cannot take the results of a get */
        CHECK(yk_get_bulk(db, YOKAN_MODE_DEFAULT, 1, NULL, bulk, 0, sizeof put_sizes + 12, true), YOKAN_ERR_READONLY);
        margo_bulk_free(bulk);

        /* get, packed: key sizes, value sizes (set by the call), keys, then 8 bytes for the values */
        unsigned char get[4 * sizeof(size_t) + 6 + 8];
        size_t get_ksizes[2] = {3, 3}, got[2];
        memcpy(get, get_ksizes, sizeof get_ksizes);
        memcpy(get + 4 * sizeof(size_t), "b-1b-2", 6);
        void* get_ptr = get;
        hg_size_t get_len = sizeof get;
        if (margo_bulk_create(mid, 1, &get_ptr, &get_len, HG_BULK_READWRITE, &bulk) != HG_SUCCESS) return 1;
        CHECK(yk_get_bulk(db, YOKAN_MODE_DEFAULT, 2, NULL, bulk, 0, sizeof get, true), YOKAN_SUCCESS);
        margo_bulk_free(bulk);
        memcpy(got, get + 2 * sizeof(size_t), sizeof got);
        if (got[0] != 2 || got[1] != 4 || memcmp(get + 4 * sizeof(size_t) + 6, "v1v222", 6) != 0) {
            fprintf(stderr, "get_bulk: sizes %zu %zu\n", got[0], got[1]); return 1;
        }

        /* exists then erase: key sizes, keys, then the exists bitfield (1 byte) */
        unsigned char keys[2 * sizeof(size_t) + 6 + 1];
        memcpy(keys, get_ksizes, sizeof get_ksizes);
        memcpy(keys + 2 * sizeof(size_t), "b-1b-2", 6);
        void* keys_ptr = keys;
        hg_size_t keys_len = sizeof keys;
        if (margo_bulk_create(mid, 1, &keys_ptr, &keys_len, HG_BULK_READWRITE, &bulk) != HG_SUCCESS) return 1;
        CHECK(yk_exists_bulk(db, YOKAN_MODE_DEFAULT, 2, NULL, bulk, 0, sizeof keys), YOKAN_SUCCESS);
        if (keys[sizeof keys - 1] != 0x3) { fprintf(stderr, "exists_bulk 0x%x\n", keys[sizeof keys - 1]); return 1; }
        CHECK(yk_erase_bulk(db, YOKAN_MODE_DEFAULT, 2, NULL, bulk, 0, sizeof keys - 1), YOKAN_SUCCESS);
        CHECK(yk_exists_bulk(db, YOKAN_MODE_DEFAULT, 2, NULL, bulk, 0, sizeof keys), YOKAN_SUCCESS);
        if (keys[sizeof keys - 1] != 0) { fprintf(stderr, "erase_bulk left keys\n"); return 1; }
        /* a payload shorter than its sizes say */
        CHECK(yk_erase_bulk(db, YOKAN_MODE_DEFAULT, 2, NULL, bulk, 0, 2 * sizeof(size_t) + 5), YOKAN_ERR_INVALID_ARGS);
        margo_bulk_free(bulk);
    }

    /* multi and packed forms */
    const void* keys[3] = {"k1", "k2", "k3"};
    size_t ksizes[3] = {2, 2, 2};
    const void* vals[3] = {"v1", "vv2", ""};
    size_t vsizes[3] = {2, 3, 0};
    CHECK(yk_put_multi(db, YOKAN_MODE_DEFAULT, 3, keys, ksizes, vals, vsizes), YOKAN_SUCCESS);
    CHECK(yk_put_packed(db, YOKAN_MODE_DEFAULT, 2, "p1p2", ksizes, "ab", (size_t[]){1, 1}), YOKAN_SUCCESS);
    uint8_t flags[1] = {0};
    const void* ek[4] = {"k1", "zz", "k3", "p2"};
    size_t eks[4] = {2, 2, 2, 2};
    CHECK(yk_exists_multi(db, YOKAN_MODE_DEFAULT, 4, ek, eks, flags), YOKAN_SUCCESS);
    if (flags[0] != 0x0d) { fprintf(stderr, "exists flags 0x%x\n", flags[0]); return 1; }
    size_t lens[4];
    CHECK(yk_length_multi(db, YOKAN_MODE_DEFAULT, 4, ek, eks, lens), YOKAN_SUCCESS);
    if (lens[0] != 2 || lens[1] != YOKAN_KEY_NOT_FOUND || lens[2] != 0) return 1;
    char packed[8]; size_t psizes[3];
    CHECK(yk_get_packed(db, YOKAN_MODE_DEFAULT, 3, "k1k2k3", ksizes, 4, packed, psizes), YOKAN_SUCCESS);
    if (psizes[0] != 2 || psizes[1] != YOKAN_SIZE_TOO_SMALL || psizes[2] != YOKAN_SIZE_TOO_SMALL) {
        fprintf(stderr, "get_packed overflow rule\n"); return 1;
    }
    seen = 0;
    CHECK(yk_fetch_multi(db, YOKAN_MODE_DEFAULT, 3, keys, ksizes, count_cb, NULL, NULL), YOKAN_SUCCESS);
    if (seen != 3) return 1;

    /* listing */
    char kb[4][8]; void* kslots[4] = {kb[0], kb[1], kb[2], kb[3]};
    size_t kcap[4] = {8, 8, 8, 8};
    CHECK(yk_list_keys(db, YOKAN_MODE_DEFAULT, "", 0, "k", 1, 4, kslots, kcap), YOKAN_SUCCESS);
    if (kcap[0] != 2 || memcmp(kb[0], "k1", 2) || kcap[2] != 2 || kcap[3] != YOKAN_NO_MORE_KEYS) {
        fprintf(stderr, "list_keys\n"); return 1;
    }
    seen = 0;
    CHECK(yk_iter(db, YOKAN_MODE_DEFAULT, "", 0, "", 0, 0, count_cb, NULL, NULL), YOKAN_SUCCESS);
    size_t total = 0;
    CHECK(yk_count(db, YOKAN_MODE_DEFAULT, &total), YOKAN_SUCCESS);
    if ((size_t)seen != total || total != 7) { fprintf(stderr, "iter saw %d of %zu\n", seen, total); return 1; }

    CHECK(yk_erase_multi(db, YOKAN_MODE_DEFAULT, 3, keys, ksizes), YOKAN_SUCCESS);
    CHECK(yk_erase_range(db, YOKAN_MODE_DEFAULT, "p", 1), YOKAN_SUCCESS);
    CHECK(yk_erase(db, YOKAN_MODE_DEFAULT, "hello2", 6), YOKAN_SUCCESS);
    CHECK(yk_count(db, YOKAN_MODE_DEFAULT, &total), YOKAN_SUCCESS);
    if (total != 1) return 1;
    CHECK(yk_erase(db, YOKAN_MODE_DEFAULT, "hello", 5), YOKAN_SUCCESS);

    CHECK(yk_database_handle_release(db), YOKAN_SUCCESS);
    CHECK(yk_client_finalize(client), YOKAN_SUCCESS);
    margo_addr_free(mid, addr);
    margo_finalize(mid);
    printf("C client: all Yokan operations OK\n");
    return 0;
}
