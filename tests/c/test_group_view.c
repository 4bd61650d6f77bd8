/*
 * Tests of the inline group-view helpers in <flock/flock-group-view.h> and of
 * the definitions in <flock/flock-common.h>. Needs no library: only the
 * headers are exercised.
 *
 * Written in the common subset of C and C++ so that the same file checks the
 * headers in both languages:
 *   gcc -std=c11 -Wall -Wextra -Werror -Iinclude tests/c/test_group_view.c
 *   g++ -x c++ -std=c++17 -Wall -Wextra -Werror -Iinclude tests/c/test_group_view.c
 * Prints "N passed, N failed"; exits non-zero if anything failed.
 */
#include <flock/flock-group-view.h> /* first: the header must be self-contained */
#include <flock/flock-common.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int passed = 0;
static int failed = 0;

#define CHECK(cond) do {                                                  \
    if (cond) {                                                           \
        ++passed;                                                         \
    } else {                                                              \
        ++failed;                                                         \
        fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                     \
} while (0)

/* Digest rebuilt from scratch, to check the incrementally kept one. */
static uint64_t recomputed_digest(const flock_group_view_t* v)
{
    uint64_t d = 0;
    for (uint64_t i = 0; i < v->members.size; ++i)
        d ^= flock_hash_member(v->members.data[i].provider_id, v->members.data[i].address);
    for (uint64_t i = 0; i < v->metadata.size; ++i)
        d ^= flock_hash_metadata(v->metadata.data[i].key, v->metadata.data[i].value);
    return d;
}

/* Members strictly sorted (address, then provider id); duplicates allowed
 * only when allow_equal is set. */
static int members_sorted(flock_group_view_t* v, int allow_equal)
{
    for (uint64_t i = 1; i < v->members.size; ++i) {
        int c = flock_member_cmp(&v->members.data[i - 1], &v->members.data[i]);
        if (c > 0 || (c == 0 && !allow_equal)) return 0;
    }
    return 1;
}

static int metadata_sorted(const flock_group_view_t* v)
{
    for (uint64_t i = 1; i < v->metadata.size; ++i)
        if (strcmp(v->metadata.data[i - 1].key, v->metadata.data[i].key) >= 0) return 0;
    return 1;
}

static int is_zeroed(const flock_group_view_t* v)
{
    return v->members.size == 0 && v->members.capacity == 0 && v->members.data == NULL
        && v->metadata.size == 0 && v->metadata.capacity == 0 && v->metadata.data == NULL
        && v->digest == 0;
}

static int is_power_of_two(uint64_t x) { return x != 0 && (x & (x - 1)) == 0; }

/* extra.free used by the tests: counts calls and frees the int. */
static int extra_freed = 0;
static void count_free(void* p)
{
    ++extra_freed;
    free(p);
}

static void test_common(void)
{
    /* Values written out so that a renumbering is caught. */
    CHECK(FLOCK_SUCCESS == 0);
    CHECK(FLOCK_ERR_ALLOCATION == 1);
    CHECK(FLOCK_ERR_INVALID_ARGS == 2);
    CHECK(FLOCK_ERR_INVALID_PROVIDER == 3);
    CHECK(FLOCK_ERR_INVALID_GROUP == 4);
    CHECK(FLOCK_ERR_INVALID_BACKEND == 5);
    CHECK(FLOCK_ERR_INVALID_CONFIG == 6);
    CHECK(FLOCK_ERR_FROM_MERCURY == 7);
    CHECK(FLOCK_ERR_FROM_ARGOBOTS == 8);
    CHECK(FLOCK_ERR_FROM_MPI == 9);
    CHECK(FLOCK_ERR_OP_UNSUPPORTED == 10);
    CHECK(FLOCK_ERR_OP_FORBIDDEN == 11);
    CHECK(FLOCK_ERR_NO_MEMBER == 12);
    CHECK(FLOCK_ERR_NO_METADATA == 13);
    CHECK(FLOCK_ERR_NOT_A_MEMBER == 14);
    CHECK(FLOCK_ERR_OTHER == 15);

    /* The X-macro lists the codes in numeric order. */
    {
        int codes[] = {
#define X(code, msg) (int)code,
            FLOCK_RETURN_VALUES
#undef X
        };
        const char* msgs[] = {
#define X(code, msg) msg,
            FLOCK_RETURN_VALUES
#undef X
        };
        size_t n = sizeof(codes) / sizeof(codes[0]);
        CHECK(n == 16);
        for (size_t i = 0; i < n; ++i) CHECK(codes[i] == (int)i);
        CHECK(strcmp(msgs[FLOCK_SUCCESS], "Success") == 0);
        CHECK(strcmp(msgs[FLOCK_ERR_FROM_MERCURY], "Mercurt error") == 0);
        CHECK(strcmp(msgs[FLOCK_ERR_NOT_A_MEMBER], "Process is not member") == 0);
        CHECK(strcmp(msgs[FLOCK_ERR_OTHER], "Other error") == 0);
    }

    CHECK(FLOCK_MEMBER_JOINED == 0);
    CHECK(FLOCK_MEMBER_LEFT == 1);
    CHECK(FLOCK_MEMBER_DIED == 2);
    CHECK(FLOCK_MEMBER_MOVED == 3);
    CHECK(FLOCK_MODE_INIT_UPDATE == 0x1);
    CHECK(FLOCK_MODE_SUBSCRIBE == 0x2);

    /* Callback types have upstream's shapes (these assignments would not
     * compile otherwise). */
    {
        flock_membership_update_fn mfn = NULL;
        flock_metadata_update_fn dfn = NULL;
        CHECK(mfn == NULL && dfn == NULL);
    }
}

static void test_layout(void)
{
    flock_group_view_t v = FLOCK_GROUP_VIEW_INITIALIZER;
    CHECK(sizeof(v.mtx) == 64);
    if (sizeof(void*) != 8) return; /* offsets below are upstream's LP64 ones */
    CHECK(sizeof(flock_member_t) == 32);
    CHECK(offsetof(flock_member_t, address) == 0);
    CHECK(offsetof(flock_member_t, provider_id) == 8);
    CHECK(offsetof(flock_member_t, extra) == 16);
    CHECK(sizeof(flock_metadata_t) == 16);
    CHECK(offsetof(flock_metadata_t, value) == 8);
    CHECK(sizeof(flock_group_view_t) == 120);
    CHECK(offsetof(flock_group_view_t, members) == 0);
    CHECK(offsetof(flock_group_view_t, metadata) == 24);
    CHECK(offsetof(flock_group_view_t, digest) == 48);
    CHECK(offsetof(flock_group_view_t, mtx) == 56);
    CHECK((char*)&v.members.data - (char*)&v == 16);
    CHECK((char*)&v.metadata.data - (char*)&v == 40);
}

static void test_hash_vectors(void)
{
    CHECK(flock_djb2_hash("") == 5381u);
    CHECK(flock_djb2_hash("a") == 177670u);
    CHECK(flock_hash_member(42, "a") == 193484016u);
    CHECK(flock_hash_member(200, "a") == 193480782u); /* 0xC8 sign-extended */
    CHECK(flock_hash_member(1, "na+sm://1234-0") == 13680832206594748031ull);
    CHECK(flock_hash_metadata("key", "value") == 1686041148830ull);
    /* bytes >= 0x80 count as negative: "\xff" = 5381*33 - 1 */
    CHECK(flock_djb2_hash("\xff") == 5381u * 33u - 1u);
    /* provider id bytes: low byte first */
    CHECK(flock_hash_member(0x0100, "") == (5381ull * 33 + 0) * 33 + 1);
    /* the value's hash is rotated by 3 bits, so swapping differs */
    CHECK(flock_hash_metadata("key", "value") != flock_hash_metadata("value", "key"));
    CHECK(flock_hash_metadata("", "") == (5381ull ^ (5381ull << 3)));
}

static void test_spec_view_digest(void)
{
    flock_group_view_t v = FLOCK_GROUP_VIEW_INITIALIZER;
    CHECK(flock_group_view_add_member(&v, "na+sm://1234-0", 2) != NULL);
    CHECK(flock_group_view_add_member(&v, "na+sm://1234-0", 1) != NULL);
    CHECK(flock_group_view_add_metadata(&v, "__type__", "static") != NULL);
    CHECK(flock_group_view_add_metadata(&v, "__config__", "{}") != NULL);
    CHECK(flock_group_view_digest(&v) == 8247570235502796075ull);

    /* the content of shared/spec/data/upstream-written.flock */
    CHECK(flock_group_view_add_member(&v, "ofi+tcp://127.0.0.1:5000", 7) != NULL);
    CHECK(flock_group_view_add_metadata(&v, "zeta", "\xc3\xa9t\xc3\xa9") != NULL);
    CHECK(flock_group_view_digest(&v) == 5701955205164907602ull);
    CHECK(v.members.data[0].provider_id == 1);
    CHECK(v.members.data[1].provider_id == 2);
    CHECK(v.members.data[2].provider_id == 7);
    CHECK(strcmp(v.metadata.data[0].key, "__config__") == 0);
    CHECK(strcmp(v.metadata.data[1].key, "__type__") == 0);
    CHECK(strcmp(v.metadata.data[2].key, "zeta") == 0);
    flock_group_view_clear(&v);
}

static void test_initializer_and_lock(void)
{
    flock_group_view_t v = FLOCK_GROUP_VIEW_INITIALIZER;
    CHECK(is_zeroed(&v));
    CHECK(flock_group_view_digest(&v) == 0);
    CHECK(flock_group_view_member_count(&v) == 0);
    CHECK(flock_group_view_metadata_count(&v) == 0);
    CHECK(flock_group_view_member_at(&v, 0) == NULL);
    CHECK(flock_group_view_metadata_at(&v, 0) == NULL);
    CHECK(flock_group_view_find_member(&v, "x", 0) == NULL);
    CHECK(flock_group_view_find_metadata(&v, "x") == NULL);
    CHECK(flock_group_view_members_binary_search(&v, "x", 0) == -1);
    CHECK(flock_group_view_metadata_binary_search(&v, "x") == -1);

    FLOCK_GROUP_VIEW_LOCK(&v);
    CHECK(pthread_mutex_trylock(&v.mtx.mutex) == EBUSY);
    FLOCK_GROUP_VIEW_UNLOCK(&v);
    CHECK(pthread_mutex_trylock(&v.mtx.mutex) == 0);
    FLOCK_GROUP_VIEW_UNLOCK(&v);

    /* a zero-filled view (calloc / memset) is a valid, unlocked view */
    flock_group_view_t* z = (flock_group_view_t*)calloc(1, sizeof(*z));
    CHECK(z != NULL);
    if (z) {
        FLOCK_GROUP_VIEW_LOCK(z);
        CHECK(pthread_mutex_trylock(&z->mtx.mutex) == EBUSY);
        FLOCK_GROUP_VIEW_UNLOCK(z);
        CHECK(flock_group_view_add_member(z, "a", 1) != NULL);
        flock_group_view_clear(z);
        free(z);
    }
}

static void test_members(void)
{
    flock_group_view_t v = FLOCK_GROUP_VIEW_INITIALIZER;
    char address[64];

    /* 16 members added out of order; every addition changes the digest */
    uint64_t previous = v.digest;
    for (int i = 0; i < 16; ++i) {
        int k = (i * 7) % 16; /* a permutation of 0..15 */
        snprintf(address, sizeof(address), "address/%02d", k);
        flock_member_t* m = flock_group_view_add_member(&v, address, (uint16_t)(42 + k));
        CHECK(m != NULL);
        if (m) {
            CHECK(strcmp(m->address, address) == 0);
            CHECK(m->address != address); /* a copy */
            CHECK(m->provider_id == 42 + k);
            CHECK(m->extra.data == NULL && m->extra.free == NULL);
        }
        CHECK(v.digest != previous);
        CHECK(v.digest == recomputed_digest(&v));
        CHECK(is_power_of_two(v.members.capacity) && v.members.capacity >= v.members.size);
        previous = v.digest;
    }
    CHECK(flock_group_view_member_count(&v) == 16);
    CHECK(members_sorted(&v, 0));
    for (size_t i = 0; i < 16; ++i) {
        flock_member_t* m = flock_group_view_member_at(&v, i);
        snprintf(address, sizeof(address), "address/%02d", (int)i);
        CHECK(m != NULL && strcmp(m->address, address) == 0 && m->provider_id == 42 + i);
        CHECK(flock_group_view_members_binary_search(&v, address, (uint16_t)(42 + i)) == (ssize_t)i);
        CHECK(flock_group_view_find_member(&v, address, (uint16_t)(42 + i)) == m);
    }
    CHECK(flock_group_view_member_at(&v, 16) == NULL);
    CHECK(flock_group_view_find_member(&v, "address/03", 42) == NULL); /* wrong id */
    CHECK(flock_group_view_find_member(&v, "address/99", 42) == NULL);
    CHECK(flock_group_view_find_member(&v, NULL, 42) == NULL);
    CHECK(flock_group_view_add_member(&v, NULL, 1) == NULL);
    CHECK(flock_group_view_member_count(&v) == 16);

    /* invalid pointers are refused and change nothing */
    previous = v.digest;
    CHECK(!flock_group_view_remove_member(&v, (flock_member_t*)0x4));
    CHECK(!flock_group_view_remove_member(&v, NULL));
    CHECK(!flock_group_view_remove_member(&v, (flock_member_t*)((char*)v.members.data + 1)));
    CHECK(!flock_group_view_remove_member(&v, v.members.data + 16)); /* one past the end */
    flock_member_t outside = {NULL, 0, {NULL, NULL}};
    CHECK(!flock_group_view_remove_member(&v, &outside));
    CHECK(v.digest == previous && flock_group_view_member_count(&v) == 16);

    /* remove index 5 */
    CHECK(flock_group_view_remove_member(&v, flock_group_view_member_at(&v, 5)));
    CHECK(v.digest != previous);
    CHECK(v.digest == recomputed_digest(&v));
    CHECK(flock_group_view_member_count(&v) == 15);
    CHECK(flock_group_view_find_member(&v, "address/05", 47) == NULL);
    CHECK(strcmp(flock_group_view_member_at(&v, 5)->address, "address/06") == 0);
    CHECK(members_sorted(&v, 0));

    /* remove first and last */
    CHECK(flock_group_view_remove_member(&v, flock_group_view_find_member(&v, "address/00", 42)));
    CHECK(flock_group_view_remove_member(&v, flock_group_view_find_member(&v, "address/15", 57)));
    CHECK(flock_group_view_member_count(&v) == 13);
    CHECK(strcmp(flock_group_view_member_at(&v, 0)->address, "address/01") == 0);
    CHECK(strcmp(flock_group_view_member_at(&v, 12)->address, "address/14") == 0);
    CHECK(v.digest == recomputed_digest(&v));

    /* remove everything: digest back to 0 */
    while (flock_group_view_member_count(&v) > 0)
        CHECK(flock_group_view_remove_member(&v, flock_group_view_member_at(&v, 0)));
    CHECK(v.digest == 0);
    flock_group_view_clear(&v);
    CHECK(is_zeroed(&v));
}

static void test_member_order(void)
{
    flock_group_view_t v = FLOCK_GROUP_VIEW_INITIALIZER;
    /* address first, then provider id compared numerically */
    flock_group_view_add_member(&v, "b", 1);
    flock_group_view_add_member(&v, "a", 10);
    flock_group_view_add_member(&v, "a", 2);
    flock_group_view_add_member(&v, "a", 0xFFFF);
    flock_group_view_add_member(&v, "\xc3\xa9", 0); /* bytes compare unsigned */
    flock_group_view_add_member(&v, "B", 3);
    const char* expect_addr[] = {"B", "a", "a", "a", "b", "\xc3\xa9"};
    uint16_t expect_pid[] = {3, 2, 10, 0xFFFF, 1, 0};
    CHECK(flock_group_view_member_count(&v) == 6);
    for (size_t i = 0; i < 6; ++i) {
        flock_member_t* m = flock_group_view_member_at(&v, i);
        CHECK(m && strcmp(m->address, expect_addr[i]) == 0 && m->provider_id == expect_pid[i]);
    }

    /* flock_member_cmp: strcmp's value when addresses differ, else -1/0/1 */
    flock_member_t x = {(char*)"abc", 5, {NULL, NULL}};
    flock_member_t y = {(char*)"abd", 1, {NULL, NULL}};
    flock_member_t z = {(char*)"abc", 9, {NULL, NULL}};
    CHECK(flock_member_cmp(&x, &y) == strcmp("abc", "abd"));
    CHECK(flock_member_cmp(&y, &x) == strcmp("abd", "abc"));
    CHECK(flock_member_cmp(&x, &z) == -1);
    CHECK(flock_member_cmp(&z, &x) == 1);
    CHECK(flock_member_cmp(&x, &x) == 0);

    /* duplicates are inserted (before the equal one); their hashes cancel */
    uint64_t before = v.digest;
    flock_member_t* first = flock_group_view_add_member(&v, "dup", 7);
    flock_member_t* second = flock_group_view_add_member(&v, "dup", 7);
    CHECK(first != NULL && second != NULL);
    CHECK(flock_group_view_member_count(&v) == 8);
    CHECK(members_sorted(&v, 1));
    CHECK(v.digest == before);
    CHECK(flock_group_view_find_member(&v, "dup", 7) != NULL);
    CHECK(flock_group_view_remove_member(&v, flock_group_view_find_member(&v, "dup", 7)));
    CHECK(flock_group_view_find_member(&v, "dup", 7) != NULL);
    CHECK(v.digest == recomputed_digest(&v));
    flock_group_view_clear(&v);

    /* insertion order does not matter */
    flock_group_view_t a = FLOCK_GROUP_VIEW_INITIALIZER;
    flock_group_view_t b = FLOCK_GROUP_VIEW_INITIALIZER;
    char address[32];
    for (int i = 0; i < 10; ++i) {
        snprintf(address, sizeof(address), "m%d", i);
        flock_group_view_add_member(&a, address, (uint16_t)(i % 3));
        snprintf(address, sizeof(address), "m%d", 9 - i);
        flock_group_view_add_member(&b, address, (uint16_t)((9 - i) % 3));
    }
    CHECK(a.digest == b.digest);
    for (size_t i = 0; i < 10; ++i)
        CHECK(flock_member_cmp(flock_group_view_member_at(&a, i), flock_group_view_member_at(&b, i)) == 0);
    flock_group_view_clear(&a);
    flock_group_view_clear(&b);
}

static void test_metadata(void)
{
    flock_group_view_t v = FLOCK_GROUP_VIEW_INITIALIZER;
    char key[32], value[32];
    uint64_t previous = v.digest;

    for (int i = 0; i < 8; ++i) {
        snprintf(key, sizeof(key), "%c_key%d", 'A' + ((i * 3) % 8), i);
        snprintf(value, sizeof(value), "value_%d", i);
        flock_metadata_t* e = flock_group_view_add_metadata(&v, key, value);
        CHECK(e != NULL);
        if (e) CHECK(strcmp(e->key, key) == 0 && strcmp(e->value, value) == 0);
        CHECK(v.digest != previous);
        CHECK(v.digest == recomputed_digest(&v));
        CHECK(is_power_of_two(v.metadata.capacity) && v.metadata.capacity >= v.metadata.size);
        previous = v.digest;
    }
    CHECK(flock_group_view_metadata_count(&v) == 8);
    CHECK(metadata_sorted(&v));
    CHECK(strcmp(flock_group_view_metadata_at(&v, 0)->key, "A_key0") == 0);
    CHECK(flock_group_view_metadata_at(&v, 8) == NULL);
    for (int i = 0; i < 8; ++i) {
        snprintf(key, sizeof(key), "%c_key%d", 'A' + ((i * 3) % 8), i);
        snprintf(value, sizeof(value), "value_%d", i);
        const char* found = flock_group_view_find_metadata(&v, key);
        CHECK(found != NULL && strcmp(found, value) == 0);
        ssize_t idx = flock_group_view_metadata_binary_search(&v, key);
        CHECK(idx >= 0 && strcmp(flock_group_view_metadata_at(&v, (size_t)idx)->key, key) == 0);
    }
    CHECK(flock_group_view_find_metadata(&v, "abcd") == NULL);
    CHECK(flock_group_view_find_metadata(&v, NULL) == NULL);
    CHECK(flock_group_view_add_metadata(&v, NULL, "x") == NULL);
    CHECK(flock_group_view_add_metadata(&v, "x", NULL) == NULL);
    CHECK(flock_group_view_metadata_count(&v) == 8);

    /* replacing a value keeps the count and swaps the entry's hash */
    previous = v.digest;
    flock_metadata_t* e = flock_group_view_add_metadata(&v, "A_key0", "other");
    CHECK(e != NULL && strcmp(e->value, "other") == 0);
    CHECK(flock_group_view_metadata_count(&v) == 8);
    CHECK(v.digest == (previous ^ flock_hash_metadata("A_key0", "value_0")
                                ^ flock_hash_metadata("A_key0", "other")));
    CHECK(v.digest == recomputed_digest(&v));
    CHECK(flock_group_view_add_metadata(&v, "A_key0", "value_0") != NULL);
    CHECK(v.digest == previous);

    /* removing an absent key changes nothing */
    CHECK(!flock_group_view_remove_metadata(&v, "abcd"));
    CHECK(!flock_group_view_remove_metadata(&v, NULL));
    CHECK(v.digest == previous);

    /* removing an existing key */
    CHECK(flock_group_view_remove_metadata(&v, "D_key1"));
    CHECK(v.digest == (previous ^ flock_hash_metadata("D_key1", "value_1")));
    CHECK(flock_group_view_find_metadata(&v, "D_key1") == NULL);
    CHECK(flock_group_view_metadata_count(&v) == 7);
    CHECK(metadata_sorted(&v));
    CHECK(!flock_group_view_remove_metadata(&v, "D_key1"));

    /* keys compare as unsigned bytes */
    flock_group_view_add_metadata(&v, "\xc3\xa9", "e-acute");
    flock_group_view_add_metadata(&v, "a", "lower");
    CHECK(metadata_sorted(&v));
    CHECK(strcmp(flock_group_view_metadata_at(&v, v.metadata.size - 1)->key, "\xc3\xa9") == 0);
    CHECK(v.digest == recomputed_digest(&v));

    while (flock_group_view_metadata_count(&v) > 0)
        CHECK(flock_group_view_remove_metadata(&v, flock_group_view_metadata_at(&v, 0)->key));
    CHECK(v.digest == 0);
    flock_group_view_clear(&v);
    CHECK(is_zeroed(&v));
}

static void test_extra_clear_copy_move(void)
{
    flock_group_view_t v = FLOCK_GROUP_VIEW_INITIALIZER;
    char address[32];
    for (int i = 0; i < 5; ++i) {
        snprintf(address, sizeof(address), "na+sm://%d-0", i);
        flock_member_t* m = flock_group_view_add_member(&v, address, (uint16_t)i);
        if (m) {
            m->extra.data = malloc(sizeof(int));
            m->extra.free = count_free;
        }
    }
    flock_group_view_add_metadata(&v, "__type__", "static");
    flock_group_view_add_metadata(&v, "__config__", "{}");

    /* copy: deep, same digest, extras not copied */
    flock_group_view_t c = FLOCK_GROUP_VIEW_INITIALIZER;
    CHECK(flock_group_view_copy(&v, &c));
    CHECK(c.digest == v.digest);
    CHECK(flock_group_view_member_count(&c) == 5 && flock_group_view_metadata_count(&c) == 2);
    for (size_t i = 0; i < 5; ++i) {
        flock_member_t* a = flock_group_view_member_at(&v, i);
        flock_member_t* b = flock_group_view_member_at(&c, i);
        CHECK(flock_member_cmp(a, b) == 0 && a->address != b->address);
        CHECK(b->extra.data == NULL && b->extra.free == NULL);
    }
    CHECK(c.metadata.data[0].key != v.metadata.data[0].key);
    CHECK(strcmp(flock_group_view_find_metadata(&c, "__type__"), "static") == 0);
    flock_group_view_add_metadata(&c, "only-in-copy", "1");
    CHECK(flock_group_view_find_metadata(&v, "only-in-copy") == NULL);

    /* remove_member calls extra.free */
    extra_freed = 0;
    CHECK(flock_group_view_remove_member(&v, flock_group_view_member_at(&v, 0)));
    CHECK(extra_freed == 1);

    /* clear_extra calls extra.free and resets the fields */
    CHECK(flock_group_view_add_member(&v, "na+sm://0-0", 0) != NULL);
    extra_freed = 0;
    flock_group_view_clear_extra(&v);
    CHECK(extra_freed == 4);
    for (size_t i = 0; i < flock_group_view_member_count(&v); ++i) {
        flock_member_t* m = flock_group_view_member_at(&v, i);
        CHECK(m->extra.data == NULL && m->extra.free == NULL);
    }
    flock_group_view_clear_extra(&v); /* nothing left to free */
    CHECK(extra_freed == 4);

    /* clear calls extra.free */
    flock_group_view_member_at(&v, 2)->extra.data = malloc(sizeof(int));
    flock_group_view_member_at(&v, 2)->extra.free = count_free;
    extra_freed = 0;
    flock_group_view_clear(&v);
    CHECK(extra_freed == 1);
    CHECK(is_zeroed(&v));

    /* move: pointers, sizes and digest go over; the source is emptied */
    flock_member_t* members = c.members.data;
    flock_metadata_t* metadata = c.metadata.data;
    uint64_t digest = c.digest;
    uint64_t msize = c.members.size, mcap = c.members.capacity;
    uint64_t dsize = c.metadata.size, dcap = c.metadata.capacity;
    flock_group_view_t d = FLOCK_GROUP_VIEW_INITIALIZER;
    FLOCK_GROUP_VIEW_MOVE(&c, &d);
    CHECK(is_zeroed(&c));
    CHECK(d.members.data == members && d.members.size == msize && d.members.capacity == mcap);
    CHECK(d.metadata.data == metadata && d.metadata.size == dsize && d.metadata.capacity == dcap);
    CHECK(d.digest == digest && d.digest == recomputed_digest(&d));
    flock_group_view_clear(&d);
    CHECK(is_zeroed(&d));
    flock_group_view_clear(&c); /* clearing an empty view is fine */
    CHECK(is_zeroed(&c));

    /* copying an empty view */
    flock_group_view_t e = FLOCK_GROUP_VIEW_INITIALIZER;
    CHECK(flock_group_view_copy(&c, &e));
    CHECK(is_zeroed(&e));
}

#ifdef __cplusplus
/* The initializer must work as a C++ default member initializer, the way
 * upstream's C++ GroupView uses it. */
struct Holder {
    flock_group_view_t view = FLOCK_GROUP_VIEW_INITIALIZER;
};
static void test_cxx(void)
{
    Holder h;
    CHECK(is_zeroed(&h.view));
    CHECK(flock_group_view_add_member(&h.view, "x", 1) != nullptr);
    flock_group_view_clear(&h.view);
}
#endif

int main(void)
{
    test_common();
    test_layout();
    test_hash_vectors();
    test_spec_view_digest();
    test_initializer_and_lock();
    test_members();
    test_member_order();
    test_metadata();
    test_extra_clear_copy_move();
#ifdef __cplusplus
    test_cxx();
#endif
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
