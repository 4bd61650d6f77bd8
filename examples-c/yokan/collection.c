/* Document collections from C (yokan/collection.h): the one, _multi and
 * _packed calls a C user starts with, and the callback forms whose
 * callback receives a bulk handle (yk_doc_fetch_bulk, yk_doc_iter_bulk):
 * the callback pulls each batch with margo_bulk_transfer and checks it.
 * Usage: yokan-collection-c PROTOCOL ADDRESS PROVIDER_ID */
#include <yokan/client.h>
#include <yokan/collection.h>
#include <margo.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(expr, want)                                                                      \
    do {                                                                                       \
        yk_return_t r_ = (expr);                                                               \
        if (r_ != (want)) {                                                                    \
            fprintf(stderr, "%s:%d: %s returned %d, expected %d\n", __FILE__, __LINE__, #expr, \
                    (int)r_, (int)(want));                                                     \
            exit(1);                                                                           \
        }                                                                                      \
    } while (0)

#define EXPECT(cond)                                                                  \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "%s:%d: expected %s\n", __FILE__, __LINE__, #cond);       \
            exit(1);                                                                  \
        }                                                                             \
    } while (0)

static const char* const DOCS[] = {"zero", "one", "", "three", "four!"};
#define NDOCS 5

/* What a bulk callback checks: the instance to pull with, the ids it
 * expects in order, and how many documents it has seen. */
struct seen {
    margo_instance_id mid;
    const yk_id_t* ids;
    size_t count;
    int with_ids; /* iter_bulk: the ids come first in the bulk */
};

/* Pulls the whole batch into local memory, then walks it: (ids), sizes,
 * documents. */
static yk_return_t check_batch(void* uargs, size_t start, size_t n, hg_bulk_t bulk, hg_addr_t addr, size_t size)
{
    struct seen* s = uargs;
    if (start != s->count) return YOKAN_ERR_OTHER;
    char* buf = malloc(size);
    void* ptr = buf;
    hg_size_t len = size;
    hg_bulk_t local = HG_BULK_NULL;
    if (margo_bulk_create(s->mid, 1, &ptr, &len, HG_BULK_WRITE_ONLY, &local) != HG_SUCCESS
        || margo_bulk_transfer(s->mid, HG_BULK_PULL, addr, bulk, 0, local, 0, size) != HG_SUCCESS) {
        free(buf);
        return YOKAN_ERR_FROM_MERCURY;
    }
    margo_bulk_free(local);
    const char* at = buf;
    yk_id_t ids[NDOCS + 1];
    size_t sizes[NDOCS + 1];
    if (s->with_ids) {
        memcpy(ids, at, n * sizeof(yk_id_t));
        at += n * sizeof(yk_id_t);
    }
    memcpy(sizes, at, n * sizeof(size_t));
    at += n * sizeof(size_t);
    yk_return_t ret = YOKAN_SUCCESS;
    for (size_t i = 0; i < n; i++) {
        yk_id_t id = s->ids[start + i];
        if (s->with_ids && ids[i] != id) ret = YOKAN_ERR_OTHER;
        if (id >= NDOCS) { /* an id never stored */
            if (sizes[i] != YOKAN_KEY_NOT_FOUND) ret = YOKAN_ERR_OTHER;
            continue;
        }
        if (sizes[i] != strlen(DOCS[id]) || memcmp(at, DOCS[id], sizes[i]) != 0) ret = YOKAN_ERR_OTHER;
        at += sizes[i];
    }
    free(buf);
    s->count += n;
    return ret;
}

int main(int argc, char** argv)
{
    if (argc != 4) { fprintf(stderr, "usage: %s PROTOCOL ADDRESS PROVIDER_ID\n", argv[0]); return 2; }
    margo_instance_id mid = margo_init(argv[1], MARGO_CLIENT_MODE, 0, 0);
    if (mid == MARGO_INSTANCE_NULL) { fprintf(stderr, "margo_init failed\n"); return 1; }
    hg_addr_t addr = HG_ADDR_NULL;
    if (margo_addr_lookup(mid, argv[2], &addr) != HG_SUCCESS) { fprintf(stderr, "lookup failed\n"); return 1; }
    yk_client_t client = YOKAN_CLIENT_NULL;
    CHECK(yk_client_init(mid, &client), YOKAN_SUCCESS);
    yk_database_handle_t db = YOKAN_DATABASE_HANDLE_NULL;
    CHECK(yk_database_handle_create(client, addr, (uint16_t)atoi(argv[3]), true, &db), YOKAN_SUCCESS);

    const char* coll = "c-example";
    CHECK(yk_collection_create(db, coll, 0), YOKAN_SUCCESS);
    CHECK(yk_collection_create(db, coll, 0), YOKAN_ERR_KEY_EXISTS);
    const void* ptrs[NDOCS];
    size_t sizes[NDOCS];
    for (int i = 0; i < NDOCS; i++) { ptrs[i] = DOCS[i]; sizes[i] = strlen(DOCS[i]); }
    yk_id_t ids[NDOCS];
    CHECK(yk_doc_store_multi(db, coll, 0, NDOCS, ptrs, sizes, ids), YOKAN_SUCCESS);
    for (yk_id_t i = 0; i < NDOCS; i++) EXPECT(ids[i] == i);
    /* A count of 0 is nothing to do: no array is read. */
    CHECK(yk_doc_store_multi(db, coll, 0, 0, NULL, NULL, NULL), YOKAN_SUCCESS);
    CHECK(yk_doc_load_multi(db, coll, 0, 0, NULL, NULL, NULL), YOKAN_SUCCESS);
    CHECK(yk_doc_erase_multi(db, coll, 0, 0, NULL), YOKAN_SUCCESS);
    CHECK(yk_doc_store_multi(db, coll, 0, 1, NULL, sizes, ids), YOKAN_ERR_INVALID_ARGS);

    char buf[16];
    size_t size = sizeof buf;
    CHECK(yk_doc_load(db, coll, 0, 3, buf, &size), YOKAN_SUCCESS);
    EXPECT(size == 5 && memcmp(buf, "three", 5) == 0);
    size = 2;
    CHECK(yk_doc_load(db, coll, 0, 3, buf, &size), YOKAN_ERR_BUFFER_SIZE);
    size = sizeof buf;
    CHECK(yk_doc_load(db, coll, 0, 99, buf, &size), YOKAN_ERR_KEY_NOT_FOUND);
    yk_id_t last = 0;
    size_t count = 0;
    CHECK(yk_collection_last_id(db, coll, 0, &last), YOKAN_SUCCESS);
    CHECK(yk_collection_size(db, coll, 0, &count), YOKAN_SUCCESS);
    EXPECT(last == NDOCS - 1 && count == NDOCS);

    /* A listing page, packed: ids and sizes, then one past the end. */
    yk_id_t lids[NDOCS + 1];
    size_t lsizes[NDOCS + 1];
    char packed[64];
    CHECK(yk_doc_list_packed(db, coll, 0, 3, NULL, 0, 3, lids, sizeof packed, packed, lsizes), YOKAN_SUCCESS);
    EXPECT(lids[0] == 3 && lids[1] == 4 && lids[2] == YOKAN_NO_MORE_DOCS);
    EXPECT(lsizes[0] == 5 && lsizes[1] == 5 && lsizes[2] == YOKAN_NO_MORE_DOCS && memcmp(packed, "threefour!", 10) == 0);

    /* fetch_bulk in batches of 2, with an id never stored in the middle. */
    const yk_id_t want[] = {4, 0, 42, 2, 1};
    struct seen s = {mid, want, 0, 0};
    yk_doc_fetch_options_t fopts = {ABT_POOL_NULL, 2};
    CHECK(yk_doc_fetch_bulk(db, coll, 0, 5, want, check_batch, &s, &fopts), YOKAN_SUCCESS);
    EXPECT(s.count == 5);

    /* iter_bulk from id 1, batches of 3: ids 1..4 in two batches. */
    const yk_id_t from_one[] = {1, 2, 3, 4};
    struct seen t = {mid, from_one, 0, 1};
    yk_doc_iter_options_t iopts = {3, ABT_POOL_NULL};
    CHECK(yk_doc_iter_bulk(db, coll, 0, 1, NULL, 0, 0, check_batch, &t, &iopts), YOKAN_SUCCESS);
    EXPECT(t.count == 4);
    CHECK(yk_doc_iter_bulk(db, coll, 0, 1, NULL, 0, 0, NULL, NULL, NULL), YOKAN_ERR_INVALID_ARGS);
    CHECK(yk_doc_fetch_bulk(db, "no-such-collection", 0, 1, want, check_batch, &s, NULL), YOKAN_ERR_KEY_NOT_FOUND);

    CHECK(yk_doc_erase(db, coll, 0, 1), YOKAN_SUCCESS);
    CHECK(yk_collection_size(db, coll, 0, &count), YOKAN_SUCCESS);
    EXPECT(count == NDOCS - 1);
    CHECK(yk_collection_drop(db, coll, 0), YOKAN_SUCCESS);
    uint8_t flag = 1;
    CHECK(yk_collection_exists(db, coll, 0, &flag), YOKAN_SUCCESS);
    EXPECT(flag == 0);

    yk_database_handle_release(db);
    yk_client_finalize(client);
    margo_addr_free(mid, addr);
    margo_finalize(mid);
    printf("C collections: every check passed\n");
    return 0;
}
