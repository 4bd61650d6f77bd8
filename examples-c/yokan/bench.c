#define _POSIX_C_SOURCE 200809L
/* Yokan latency: put and get of 16-byte keys / 64-byte values from one
 * thread, median and p99 in microseconds, plus the same for 1 MiB values;
 * a document store and load of 64 bytes (yokan/collection.h); then
 * throughput with 8 calls in flight (8 threads sharing the handle).
 * Usage: yokan-bench PROTOCOL ADDRESS PROVIDER_ID [COUNT] */
#include <yokan/client.h>
#include <yokan/database.h>
#include <yokan/collection.h>
#include <margo.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <time.h>

static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static int cmp(const void* a, const void* b)
{
    double x = *(const double*)a, y = *(const double*)b;
    return (x > y) - (x < y);
}

static void report(const char* what, double* t, int n)
{
    qsort(t, (size_t)n, sizeof *t, cmp);
    printf("%s: n=%d median_us=%.1f p99_us=%.1f\n", what, n, t[n / 2], t[(int)((n - 1) * 0.99)]);
}

#define IN_FLIGHT 8

struct worker {
    yk_database_handle_t db;
    int id, n, get, failed;
};

static void* work(void* arg)
{
    struct worker* w = arg;
    char key[48], value[65], buf[65];
    memset(value, 'w', 64);
    for (int i = 0; i < w->n; i++) {
        /* 16 bytes for the thread ids and counts used here. */
        int klen = snprintf(key, sizeof key, "t%d-key-%09d", w->id % 10, i % 1000000000);
        size_t vs = sizeof buf;
        int rc = w->get ? yk_get(w->db, YOKAN_MODE_DEFAULT, key, (size_t)klen, buf, &vs)
                        : yk_put(w->db, YOKAN_MODE_DEFAULT, key, (size_t)klen, value, 64);
        if (rc != YOKAN_SUCCESS) w->failed++;
    }
    return NULL;
}

/* Operations per second with IN_FLIGHT threads each making n calls. */
static int throughput(yk_database_handle_t db, int n, int get)
{
    pthread_t th[IN_FLIGHT];
    struct worker w[IN_FLIGHT];
    double s = now_us();
    for (int i = 0; i < IN_FLIGHT; i++) {
        w[i] = (struct worker){ db, i, n, get, 0 };
        pthread_create(&th[i], NULL, work, &w[i]);
    }
    int failed = 0;
    for (int i = 0; i < IN_FLIGHT; i++) {
        pthread_join(th[i], NULL);
        failed += w[i].failed;
    }
    double secs = (now_us() - s) / 1e6;
    printf("%s, %d in flight: %.0f ops/s (%d calls, %d failed)\n", get ? "get 16 B / 64 B" : "put 16 B / 64 B", IN_FLIGHT,
           IN_FLIGHT * n / secs, IN_FLIGHT * n, failed);
    return failed;
}

int main(int argc, char** argv)
{
    if (argc < 4) { fprintf(stderr, "usage: %s PROTOCOL ADDRESS PROVIDER_ID [COUNT]\n", argv[0]); return 2; }
    int n = argc > 4 ? atoi(argv[4]) : 10000;
    if (n < 10) n = 10;
    margo_instance_id mid = margo_init(argv[1], MARGO_CLIENT_MODE, 0, 0);
    if (mid == MARGO_INSTANCE_NULL) { fprintf(stderr, "margo_init failed\n"); return 1; }
    hg_addr_t addr = HG_ADDR_NULL;
    if (margo_addr_lookup(mid, argv[2], &addr) != HG_SUCCESS) { fprintf(stderr, "lookup failed\n"); return 1; }
    yk_client_t client = YOKAN_CLIENT_NULL;
    yk_database_handle_t db = YOKAN_DATABASE_HANDLE_NULL;
    if (yk_client_init(mid, &client) != YOKAN_SUCCESS
        || yk_database_handle_create(client, addr, (uint16_t)atoi(argv[3]), true, &db) != YOKAN_SUCCESS) {
        fprintf(stderr, "no yokan provider there\n");
        return 1;
    }
    double* t = malloc(sizeof(double) * (size_t)n);
    char key[17], value[65], buf[65];
    memset(value, 'v', 64);
    for (int phase = 0; phase < 2; phase++) {
        for (int i = -100; i < n; i++) { /* 100 warm-up calls */
            snprintf(key, sizeof key, "key-%011d", i < 0 ? -i : i);
            double s = now_us();
            if (phase == 0) {
                if (yk_put(db, YOKAN_MODE_DEFAULT, key, 16, value, 64) != YOKAN_SUCCESS) { fprintf(stderr, "put failed\n"); return 1; }
            } else {
                size_t vs = sizeof buf;
                if (yk_get(db, YOKAN_MODE_DEFAULT, key, 16, buf, &vs) != YOKAN_SUCCESS || vs != 64) { fprintf(stderr, "get failed\n"); return 1; }
            }
            if (i >= 0) t[i] = now_us() - s;
        }
        report(phase == 0 ? "put 16 B key / 64 B value" : "get 16 B key / 64 B value", t, n);
    }
    size_t big = 1 << 20;
    char* bv = malloc(big);
    char* bb = malloc(big);
    memset(bv, 'b', big);
    int m = n / 50 < 20 ? 20 : n / 50;
    for (int i = 0; i < m; i++) {
        double s = now_us();
        if (yk_put(db, YOKAN_MODE_DEFAULT, "big-value-key-00", 16, bv, big) != YOKAN_SUCCESS) { fprintf(stderr, "big put failed\n"); return 1; }
        t[i] = now_us() - s;
    }
    report("put 1 MiB value", t, m);
    for (int i = 0; i < m; i++) {
        size_t vs = big;
        double s = now_us();
        if (yk_get(db, YOKAN_MODE_DEFAULT, "big-value-key-00", 16, bb, &vs) != YOKAN_SUCCESS || vs != big) { fprintf(stderr, "big get failed\n"); return 1; }
        t[i] = now_us() - s;
    }
    report("get 1 MiB value", t, m);
    /* Documents of 64 B: stored (the provider hands out each id), then
     * loaded by id. */
    const char* coll = "bench-docs";
    yk_collection_drop(db, coll, YOKAN_MODE_DEFAULT);
    if (yk_collection_create(db, coll, YOKAN_MODE_DEFAULT) != YOKAN_SUCCESS) { fprintf(stderr, "collection failed\n"); return 1; }
    for (int phase = 0; phase < 2; phase++) {
        for (int i = -100; i < n; i++) {
            yk_id_t id = (yk_id_t)(i < 0 ? -i : i);
            double s = now_us();
            if (phase == 0) { /* the warm-up stores take the first 100 ids */
                if (yk_doc_store(db, coll, YOKAN_MODE_DEFAULT, value, 64, &id) != YOKAN_SUCCESS) { fprintf(stderr, "store failed\n"); return 1; }
            } else {
                size_t vs = sizeof buf;
                if (yk_doc_load(db, coll, YOKAN_MODE_DEFAULT, id, buf, &vs) != YOKAN_SUCCESS || vs != 64) { fprintf(stderr, "load failed\n"); return 1; }
            }
            if (i >= 0) t[i] = now_us() - s;
        }
        report(phase == 0 ? "doc store 64 B" : "doc load 64 B", t, n);
    }
    yk_collection_drop(db, coll, YOKAN_MODE_DEFAULT);
    if (throughput(db, n / IN_FLIGHT + 1, 0) || throughput(db, n / IN_FLIGHT + 1, 1)) { fprintf(stderr, "in-flight calls failed\n"); return 1; }
    yk_database_handle_release(db);
    yk_client_finalize(client);
    margo_addr_free(mid, addr);
    margo_finalize(mid);
    free(t); free(bv); free(bb);
    return 0;
}
