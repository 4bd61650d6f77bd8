/* The group-aware Yokan handle from C: a database spread over a Flock group,
 * each key sent straight to its owner (yk_database_handle_create_from_group).
 * Usage: yokan-group PROTOCOL GROUP_FILE PROVIDER_ID PLAIN_PROVIDER_ID write|read KEYS
 *   write: makes the handle from a Flock group handle, checks the bad-input
 *          errors, writes KEYS keys (single, multi and packed puts) and
 *          checks every operation on them;
 *   read:  makes the handle from the group file and reads every key back
 *          (run after a member was killed: the handle falls over). */
#include <flock/flock-client.h>
#include <flock/flock-group.h>
#include <yokan/client.h>
#include <yokan/database.h>
#include <margo.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(expr, want)                                                                      \
    do {                                                                                       \
        yk_return_t r_ = (expr);                                                               \
        if (r_ != (want)) {                                                                    \
            fprintf(stderr, "%s:%d: %s returned %d, expected %d\n", __FILE__, __LINE__, #expr,   \
                    (int)r_, (int)(want));                                                     \
            exit(1);                                                                           \
        }                                                                                      \
    } while (0)
#define EXPECT(cond)                                                                           \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr, "%s:%d: %s does not hold\n", __FILE__, __LINE__, #cond);           \
            exit(1);                                                                           \
        }                                                                                      \
    } while (0)

static int key_of(char* buf, size_t n, int i) { return snprintf(buf, n, "gkey%06d", i); }
static int value_of(char* buf, size_t n, int i) { return snprintf(buf, n, "value of key %d", i); }

static int iterated;
static yk_return_t iter_cb(void* uargs, size_t i, const void* k, size_t ks, const void* v, size_t vs)
{
    (void)uargs; (void)i; (void)k; (void)ks; (void)v; (void)vs;
    iterated++;
    return YOKAN_SUCCESS;
}

/* Every key of [0, keys) reads back right, with one get_multi per 100. */
static int read_all(yk_database_handle_t db, int keys)
{
    int good = 0;
    for (int start = 0; start < keys; start += 100) {
        int n = keys - start < 100 ? keys - start : 100;
        char kbuf[100][32], vbuf[100][64];
        const void* kp[100];
        void* vp[100];
        size_t ks[100], vs[100];
        for (int j = 0; j < n; j++) {
            ks[j] = (size_t)key_of(kbuf[j], sizeof kbuf[j], start + j);
            kp[j] = kbuf[j];
            vp[j] = vbuf[j];
            vs[j] = sizeof vbuf[j];
        }
        if (yk_get_multi(db, YOKAN_MODE_DEFAULT, (size_t)n, kp, ks, vp, vs) != YOKAN_SUCCESS) continue;
        for (int j = 0; j < n; j++) {
            char want[64];
            int wl = value_of(want, sizeof want, start + j);
            if (vs[j] == (size_t)wl && memcmp(vbuf[j], want, (size_t)wl) == 0) good++;
        }
    }
    return good;
}

int main(int argc, char** argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: %s PROTOCOL GROUP_FILE PROVIDER_ID PLAIN_PROVIDER_ID write|read KEYS\n", argv[0]);
        return 2;
    }
    const char* file = argv[2];
    uint16_t provider_id = (uint16_t)atoi(argv[3]);
    uint16_t plain_id = (uint16_t)atoi(argv[4]);
    int writing = strcmp(argv[5], "write") == 0;
    int keys = atoi(argv[6]);
    margo_instance_id mid = margo_init(argv[1], MARGO_CLIENT_MODE, 0, 0);
    if (mid == MARGO_INSTANCE_NULL) { fprintf(stderr, "margo_init failed\n"); return 1; }
    yk_client_t client = YOKAN_CLIENT_NULL;
    CHECK(yk_client_init(mid, &client), YOKAN_SUCCESS);
    yk_database_handle_t db = YOKAN_DATABASE_HANDLE_NULL;

    if (!writing) {
        CHECK(yk_database_handle_create_from_group_file(client, file, provider_id, &db), YOKAN_SUCCESS);
        int good = read_all(db, keys);
        size_t count = 0;
        CHECK(yk_count(db, YOKAN_MODE_DEFAULT, &count), YOKAN_SUCCESS);
        printf("read %d of %d keys back through the group-aware handle; the group counts %zu\n", good, keys, count);
        CHECK(yk_database_handle_release(db), YOKAN_SUCCESS);
        CHECK(yk_client_finalize(client), YOKAN_SUCCESS);
        margo_finalize(mid);
        return good == keys && count == (size_t)keys ? 0 : 1;
    }

    flock_client_t fc = FLOCK_CLIENT_NULL;
    if (flock_client_init(mid, ABT_POOL_NULL, &fc) != FLOCK_SUCCESS) { fprintf(stderr, "flock_client_init\n"); return 1; }
    flock_group_handle_t gh = FLOCK_GROUP_HANDLE_NULL;
    if (flock_group_handle_create_from_file(fc, file, 0, &gh) != FLOCK_SUCCESS) {
        fprintf(stderr, "cannot open the group file %s\n", file);
        return 1;
    }

    /* Bad input: a clear code, no crash. */
    CHECK(yk_database_handle_create_from_group(NULL, gh, provider_id, &db), YOKAN_ERR_INVALID_ARGS);
    CHECK(yk_database_handle_create_from_group(client, NULL, provider_id, &db), YOKAN_ERR_INVALID_ARGS);
    CHECK(yk_database_handle_create_from_group(client, gh, provider_id, NULL), YOKAN_ERR_INVALID_ARGS);
    CHECK(yk_database_handle_create_from_group_file(client, NULL, provider_id, &db), YOKAN_ERR_INVALID_ARGS);
    CHECK(yk_database_handle_create_from_group_file(client, "/nonexistent/group.flock", provider_id, &db),
          YOKAN_ERR_INVALID_ARGS);
    CHECK(yk_database_handle_create_from_group(client, gh, 999, &db), YOKAN_ERR_INVALID_PROVIDER);
    CHECK(yk_database_handle_create_from_group(client, gh, plain_id, &db), YOKAN_ERR_INVALID_PROVIDER);
    EXPECT(db == YOKAN_DATABASE_HANDLE_NULL);

    CHECK(yk_database_handle_create_from_group(client, gh, provider_id, &db), YOKAN_SUCCESS);
    /* The handle keeps what it needs: the Flock handle may go. */
    flock_group_handle_release(gh);
    flock_client_finalize(fc);
    hg_addr_t member = HG_ADDR_NULL;
    uint16_t id = 0;
    CHECK(yk_database_handle_get_info(db, NULL, &member, &id), YOKAN_SUCCESS);
    EXPECT(member != HG_ADDR_NULL && id == provider_id);
    margo_addr_free(mid, member);
    CHECK(yk_database_handle_ref_incr(db), YOKAN_SUCCESS);
    CHECK(yk_database_handle_release(db), YOKAN_SUCCESS);

    /* Writes: a third single puts, a third in multi puts of 10, the rest packed. */
    char k[32], v[64];
    int i = 0;
    for (; i < keys / 3; i++) {
        int kl = key_of(k, sizeof k, i), vl = value_of(v, sizeof v, i);
        CHECK(yk_put(db, YOKAN_MODE_DEFAULT, k, (size_t)kl, v, (size_t)vl), YOKAN_SUCCESS);
    }
    for (; i + 10 <= 2 * keys / 3; i += 10) {
        char kb[10][32], vb[10][64];
        const void *kp[10], *vp[10];
        size_t ks[10], vs[10];
        for (int j = 0; j < 10; j++) {
            ks[j] = (size_t)key_of(kb[j], sizeof kb[j], i + j);
            vs[j] = (size_t)value_of(vb[j], sizeof vb[j], i + j);
            kp[j] = kb[j];
            vp[j] = vb[j];
        }
        CHECK(yk_put_multi(db, YOKAN_MODE_DEFAULT, 10, kp, ks, vp, vs), YOKAN_SUCCESS);
    }
    while (i < keys) {
        char kbuf[1024], vbuf[2048];
        size_t ks[16], vs[16], ko = 0, vo = 0;
        int n = 0;
        for (; n < 16 && i < keys; n++, i++) {
            ks[n] = (size_t)key_of(kbuf + ko, sizeof kbuf - ko, i);
            vs[n] = (size_t)value_of(vbuf + vo, sizeof vbuf - vo, i);
            ko += ks[n];
            vo += vs[n];
        }
        CHECK(yk_put_packed(db, YOKAN_MODE_DEFAULT, (size_t)n, kbuf, ks, vbuf, vs), YOKAN_SUCCESS);
    }

    /* Reads and the other operations. */
    EXPECT(read_all(db, keys) == keys);
    size_t count = 0;
    CHECK(yk_count(db, YOKAN_MODE_DEFAULT, &count), YOKAN_SUCCESS);
    EXPECT(count == (size_t)keys);
    uint8_t flags[2] = {0, 0};
    const void* ek[2] = {"gkey000000", "absent"};
    size_t eks[2] = {10, 6};
    CHECK(yk_exists_multi(db, YOKAN_MODE_DEFAULT, 2, ek, eks, flags), YOKAN_SUCCESS);
    EXPECT(flags[0] == 1);
    size_t len = 0;
    CHECK(yk_length(db, YOKAN_MODE_DEFAULT, "gkey000001", 10, &len), YOKAN_SUCCESS);
    EXPECT(len == (size_t)value_of(v, sizeof v, 1));
    CHECK(yk_put(db, YOKAN_MODE_NEW_ONLY, "gkey000001", 10, "x", 1), YOKAN_ERR_KEY_EXISTS);
    char lk[5][32];
    void* lkp[5] = {lk[0], lk[1], lk[2], lk[3], lk[4]};
    size_t lks[5] = {32, 32, 32, 32, 32};
    CHECK(yk_list_keys(db, YOKAN_MODE_DEFAULT, "gkey000010", 10, "gkey", 4, 5, lkp, lks), YOKAN_SUCCESS);
    EXPECT(lks[0] == 10 && memcmp(lk[0], "gkey000011", 10) == 0 && memcmp(lk[4], "gkey000015", 10) == 0);
    CHECK(yk_iter(db, YOKAN_MODE_DEFAULT, "", 0, "gkey", 4, 0, iter_cb, NULL, NULL), YOKAN_SUCCESS);
    EXPECT(iterated == keys);
    CHECK(yk_put(db, YOKAN_MODE_DEFAULT, "scratch/a", 9, "1", 1), YOKAN_SUCCESS);
    CHECK(yk_put(db, YOKAN_MODE_DEFAULT, "scratch/b", 9, "2", 1), YOKAN_SUCCESS);
    CHECK(yk_erase(db, YOKAN_MODE_DEFAULT, "scratch/a", 9), YOKAN_SUCCESS);
    CHECK(yk_erase_range(db, YOKAN_MODE_DEFAULT, "scratch/", 8), YOKAN_SUCCESS);
    CHECK(yk_count(db, YOKAN_MODE_DEFAULT, &count), YOKAN_SUCCESS);
    EXPECT(count == (size_t)keys);
    printf("wrote %d keys through the group-aware handle; every operation checked\n", keys);
    CHECK(yk_database_handle_release(db), YOKAN_SUCCESS);
    CHECK(yk_client_finalize(client), YOKAN_SUCCESS);
    margo_finalize(mid);
    return 0;
}
