/*
 * margo-bulk-pool: margo's bulk buffer pools (margo-bulk-pool.h), one engine.
 *
 *   margo-bulk-pool PROTOCOL
 *
 * A poolset of 3 pools (1 KiB, 4 KiB, 16 KiB; 2 buffers each): get picks
 * the smallest pool that fits, tryget reports exhaustion, any_flag falls
 * back to larger pools, a pooled buffer is written and pulled through a
 * bulk transfer, releases of foreign or repeated handles are refused, and a
 * thread waiting in get is woken by a release. Prints one line per check;
 * exits with the number of failed checks.
 */
#include <margo.h>
#include <margo-bulk-pool.h>

#include <stdio.h>
#include <string.h>

static int failures = 0;

static void check(int cond, const char* what)
{
    printf("%s: %s\n", cond ? "ok" : "FAIL", what);
    fflush(stdout);
    if (!cond) ++failures;
}

struct waiter {
    margo_bulk_pool_t pool;
    hg_bulk_t         got;
};

static void wait_for_buffer(void* arg)
{
    struct waiter* w = (struct waiter*)arg;
    margo_bulk_pool_get(w->pool, &w->got);
}

int main(int argc, char** argv)
{
    const char*       protocol = argc > 1 ? argv[1] : "na+sm";
    margo_instance_id mid      = margo_init(protocol, MARGO_SERVER_MODE, 0, 1);
    if (mid == MARGO_INSTANCE_NULL) {
        fprintf(stderr, "margo_init failed\n");
        return 1;
    }

    margo_bulk_poolset_t set = MARGO_BULK_POOLSET_NULL;
    check(margo_bulk_poolset_create(mid, 3, 2, 1024, 4, HG_BULK_READWRITE, &set) == HG_SUCCESS, "poolset of 3 x 2");
    hg_size_t max = 0;
    margo_bulk_poolset_get_max(set, &max);
    check(max == 16384, "largest buffers: 16 KiB");

    hg_bulk_t a = HG_BULK_NULL, b = HG_BULK_NULL, c = HG_BULK_NULL;
    check(margo_bulk_poolset_get(set, 1000, &a) == 0 && margo_bulk_get_size(a) == 1024, "1000 bytes: a 1 KiB buffer");
    check(margo_bulk_poolset_get(set, 1025, &b) == 0 && margo_bulk_get_size(b) == 4096, "1025 bytes: a 4 KiB buffer");
    check(margo_bulk_poolset_get(set, 20000, &c) == -1, "more than the largest: -1");
    hg_bulk_t a2 = HG_BULK_NULL, none = (hg_bulk_t)1;
    margo_bulk_poolset_tryget(set, 10, HG_FALSE, &a2);
    margo_bulk_poolset_tryget(set, 10, HG_FALSE, &none);
    check(a2 != HG_BULK_NULL && none == HG_BULK_NULL, "tryget: the 1 KiB pool runs out after two");
    margo_bulk_poolset_tryget(set, 10, HG_TRUE, &c);
    check(c != HG_BULK_NULL && margo_bulk_get_size(c) == 4096, "tryget with any_flag: falls back to a larger pool");

    /* Write into a pooled buffer and pull it into a plain bulk. */
    void*       ptr   = NULL;
    hg_size_t   len   = 0;
    uint32_t    count = 0;
    margo_bulk_access(a, 0, 1024, HG_BULK_READWRITE, 1, &ptr, &len, &count);
    memset(ptr, 0x5a, 1024);
    char      local[1024] = {0};
    void*     lp          = local;
    hg_size_t ls          = sizeof local;
    hg_bulk_t lb;
    margo_bulk_create(mid, 1, &lp, &ls, HG_BULK_WRITE_ONLY, &lb);
    hg_addr_t self;
    margo_addr_self(mid, &self);
    check(margo_bulk_transfer(mid, HG_BULK_PULL, self, a, 0, lb, 0, 1024) == HG_SUCCESS && local[0] == 0x5a
              && local[1023] == 0x5a,
          "a pooled buffer's bytes pulled through a bulk transfer");
    margo_bulk_free(lb);
    margo_addr_free(mid, self);

    check(margo_bulk_poolset_release(set, a) == 0, "release");
    check(margo_bulk_poolset_release(set, a) == -1, "a second release of the same handle: -1");
    hg_bulk_t foreign;
    margo_bulk_create(mid, 1, &lp, &ls, HG_BULK_READ_ONLY, &foreign);
    check(margo_bulk_poolset_release(set, foreign) == -1, "a handle from elsewhere: -1");
    margo_bulk_free(foreign);
    margo_bulk_poolset_release(set, a2);
    margo_bulk_poolset_release(set, b);
    margo_bulk_poolset_release(set, c);
    check(margo_bulk_poolset_destroy(set) == 0, "poolset destroyed with every buffer back");

    /* A thread waiting for the only buffer of a pool. */
    margo_bulk_pool_t pool;
    check(margo_bulk_pool_create(mid, 1, 64, HG_BULK_READ_ONLY, &pool) == HG_SUCCESS, "a pool of one buffer");
    hg_bulk_t only;
    margo_bulk_pool_get(pool, &only);
    struct waiter w = {pool, HG_BULK_NULL};
    ABT_pool      hp;
    margo_get_handler_pool(mid, &hp);
    ABT_thread t;
    ABT_thread_create(hp, wait_for_buffer, &w, ABT_THREAD_ATTR_NULL, &t);
    margo_thread_sleep(mid, 20.0);
    check(w.got == HG_BULK_NULL, "the thread waits while the buffer is out");
    margo_bulk_pool_release(pool, only);
    ABT_thread_free(&t);
    check(w.got == only, "a release wakes it with the buffer");
    margo_bulk_pool_release(pool, w.got);
    check(margo_bulk_pool_destroy(pool) == 0, "pool destroyed");
    margo_bulk_pool_t bad;
    check(margo_bulk_pool_create(mid, 0, 64, HG_BULK_READ_ONLY, &bad) == HG_INVALID_ARG && bad == MARGO_BULK_POOL_NULL,
          "a pool of 0 buffers: HG_INVALID_ARG");
    check(margo_bulk_pool_get(MARGO_BULK_POOL_NULL, &only) == -1, "get from a NULL pool: -1");

    margo_finalize(mid);
    printf("%d failure(s)\n", failures);
    return failures;
}
