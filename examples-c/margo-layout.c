/*
 * margo-layout: an instance's pools and execution streams at run time
 * (margo_get_num_pools, margo_find_pool_by_*, margo_add_pool_from_json,
 * margo_remove_pool_by_*, and the same for xstreams), one engine.
 *
 *   margo-layout PROTOCOL
 *
 * Adds a pool and a stream serving it, runs a thread on the new pool,
 * finds both by handle, name and index (also through the C11 shorthands
 * margo_find_pool / margo_find_xstream), refuses to remove a pool in use,
 * takes and releases references on them (a referenced stream cannot be
 * removed), removes the stream then the pool. Prints one line per check; exits with
 * the number of failed checks.
 */
#include <margo.h>

#include <stdio.h>
#include <string.h>

static int failures = 0;

static void check(int cond, const char* what)
{
    printf("%s: %s\n", cond ? "ok" : "FAIL", what);
    fflush(stdout);
    if (!cond) ++failures;
}

static void mark(void* arg) { *(int*)arg = 1; }

int main(int argc, char** argv)
{
    const char*       protocol = argc > 1 ? argv[1] : "na+sm";
    margo_instance_id mid      = margo_init(protocol, MARGO_SERVER_MODE, 0, 0);
    if (mid == MARGO_INSTANCE_NULL) {
        fprintf(stderr, "margo_init failed\n");
        return 1;
    }
    size_t pools = margo_get_num_pools(mid), xstreams = margo_get_num_xstreams(mid);
    check(pools >= 1 && xstreams >= 1, "an instance has pools and xstreams");

    struct margo_pool_info primary;
    check(margo_find_pool_by_name(mid, "__primary__", &primary) == HG_SUCCESS && primary.pool != ABT_POOL_NULL
              && strcmp(primary.name, "__primary__") == 0,
          "find the __primary__ pool by name");
    struct margo_pool_info again;
    check(margo_find_pool_by_handle(mid, primary.pool, &again) == HG_SUCCESS && again.index == primary.index,
          "find it again by handle");
    check(margo_find_pool_by_name(mid, "nope", &again) == HG_NOENTRY, "an unknown pool: HG_NOENTRY");
    check(margo_find_pool_by_index(mid, (uint32_t)pools, &again) == HG_NOENTRY, "an index past the end: HG_NOENTRY");

    struct margo_pool_info added;
    check(margo_add_pool_from_json(mid, "{\"name\":\"extra\",\"kind\":\"fifo_wait\",\"access\":\"mpmc\"}", &added)
                  == HG_SUCCESS
              && strcmp(added.name, "extra") == 0 && margo_get_num_pools(mid) == pools + 1,
          "margo_add_pool_from_json");
    check(margo_add_pool_from_json(mid, "{not json", NULL) == HG_INVALID_ARG, "invalid JSON: HG_INVALID_ARG");
    struct margo_xstream_info xs;
    check(margo_add_xstream_from_json(mid, "{\"name\":\"extra_es\",\"scheduler\":{\"pools\":[\"extra\"]}}", &xs)
                  == HG_SUCCESS
              && xs.xstream != ABT_XSTREAM_NULL && strcmp(xs.name, "extra_es") == 0,
          "margo_add_xstream_from_json serving it");

    int        ran = 0;
    ABT_thread t;
    check(ABT_thread_create(added.pool, mark, &ran, ABT_THREAD_ATTR_NULL, &t) == ABT_SUCCESS
              && ABT_thread_free(&t) == ABT_SUCCESS && ran == 1,
          "a thread ran on the new pool");

#if defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
    struct margo_pool_info    g1, g2;
    struct margo_xstream_info g3;
    check(margo_find_pool(mid, "extra", &g1) == HG_SUCCESS && margo_find_pool(mid, added.pool, &g2) == HG_SUCCESS
              && g1.index == g2.index && margo_find_xstream(mid, xs.xstream, &g3) == HG_SUCCESS
              && g3.index == xs.index,
          "the C11 shorthands margo_find_pool / margo_find_xstream");
#endif

    check(margo_remove_pool_by_name(mid, "extra") != HG_SUCCESS, "a pool an xstream serves cannot be removed");

    /* References users take (a Bedrock provider on a pool): a referenced
     * stream cannot be removed until every reference is released. */
    unsigned refs = 99;
    check(margo_xstream_ref_incr_by_name(mid, "extra_es") == HG_SUCCESS
              && margo_xstream_ref_incr_by_handle(mid, xs.xstream) == HG_SUCCESS
              && margo_xstream_ref_count_by_index(mid, xs.index, &refs) == HG_SUCCESS && refs == 2,
          "two references on the stream (by name, by handle; counted by index)");
    check(margo_remove_xstream_by_name(mid, "extra_es") == HG_PERMISSION, "a referenced stream: HG_PERMISSION");
    check(margo_xstream_release_by_name(mid, "extra_es") == HG_SUCCESS
              && margo_xstream_release_by_index(mid, xs.index) == HG_SUCCESS
              && margo_xstream_release_by_handle(mid, xs.xstream) == HG_PERMISSION,
          "released twice; a third release: HG_PERMISSION");
    check(margo_pool_ref_incr_by_index(mid, (uint32_t)margo_get_num_pools(mid)) == HG_INVALID_ARG
              && margo_pool_ref_count_by_name(mid, "nope", &refs) == HG_NOENTRY,
          "pool references: an index past the end HG_INVALID_ARG, an unknown name HG_NOENTRY");
#if defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
    check(margo_pool_ref_incr(mid, "extra") == HG_SUCCESS && margo_pool_ref_count(mid, added.pool, &refs) == HG_SUCCESS
              && refs == 1 && margo_pool_release(mid, added.index) == HG_SUCCESS,
          "the C11 shorthands margo_pool_ref_incr / _ref_count / _release");
#endif
    check(margo_remove_xstream_by_name(mid, "extra_es") == HG_SUCCESS
              && margo_find_xstream_by_name(mid, "extra_es", NULL) == HG_NOENTRY,
          "margo_remove_xstream_by_name");
    check(margo_remove_pool_by_handle(mid, added.pool) == HG_SUCCESS && margo_get_num_pools(mid) == pools,
          "then the pool is removed");
    check(margo_find_pool_by_name(mid, NULL, NULL) == HG_INVALID_ARG, "a NULL name: HG_INVALID_ARG");

    margo_finalize(mid);
    printf("%d failure(s)\n", failures);
    return failures;
}
