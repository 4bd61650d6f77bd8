/*
 * abt-streams: execution streams, pools, schedulers and tasklets a program
 * makes itself with Argobots' C API, and a margo RPC served on such a pool.
 *
 *   abt-streams PROTOCOL
 *
 * Makes a pool and two streams serving it, runs threads and a tasklet on
 * them (each reports its stream's rank, its own id and its value of an
 * ABT_key it then sets), checks the ranks, the keys' destructor,
 * main pools and the primary stream, refuses to free a pool a running
 * stream serves and to join the primary stream, registers a margo RPC on
 * the pool and calls it, then joins and frees everything. Prints one line
 * per check; exits with the number of failed checks.
 */
#include <margo.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static int failures = 0;

static void check(int cond, const char* what)
{
    printf("%s: %s\n", cond ? "ok" : "FAIL", what);
    fflush(stdout);
    if (!cond) ++failures;
}

struct report {
    int         rank;
    ABT_unit_id id;
    void*       key_before; /* the thread's value of `key` when it started */
};

/* A work-unit-specific value: each thread sets its own; the destructor
 * counts the values dropped when their threads end. */
static ABT_key          key;
static ABT_mutex_memory destroyed_lock = ABT_MUTEX_INITIALIZER;
static int              destroyed      = 0;

static void count_destroyed(void* value)
{
    ABT_mutex m = ABT_MUTEX_MEMORY_GET_HANDLE(&destroyed_lock);
    ABT_mutex_lock(m);
    destroyed += (int)(intptr_t)value;
    ABT_mutex_unlock(m);
}

static void where_am_i(void* arg)
{
    struct report* r = (struct report*)arg;
    ABT_xstream_self_rank(&r->rank);
    ABT_thread_self_id(&r->id);
    ABT_key_get(key, &r->key_before);
    ABT_key_set(key, (void*)(intptr_t)1);
}

static void double_ult(hg_handle_t h)
{
    int32_t in = 0;
    margo_get_input(h, &in);
    int32_t out = 2 * in;
    margo_respond(h, &out);
    margo_free_input(h, &in);
    margo_destroy(h);
}
DEFINE_MARGO_RPC_HANDLER(double_ult)

static hg_return_t proc_int32(hg_proc_t proc, void* data) { return hg_proc_int32_t(proc, (int32_t*)data); }

int main(int argc, char** argv)
{
    const char* protocol = argc > 1 ? argv[1] : "na+sm";
    check(ABT_init(0, NULL) == ABT_SUCCESS && ABT_initialized() == ABT_SUCCESS, "ABT_init");

    ABT_pool pool = ABT_POOL_NULL;
    check(ABT_pool_create_basic(ABT_POOL_FIFO_WAIT, ABT_POOL_ACCESS_MPMC, ABT_TRUE, &pool) == ABT_SUCCESS
              && pool != ABT_POOL_NULL,
          "ABT_pool_create_basic");
    check(ABT_pool_create_basic(42, ABT_POOL_ACCESS_MPMC, ABT_TRUE, &pool) == ABT_ERR_INV_POOL_KIND,
          "an unknown pool kind: ABT_ERR_INV_POOL_KIND");

    ABT_xstream es[2];
    check(ABT_xstream_create_basic(ABT_SCHED_BASIC_WAIT, 1, &pool, ABT_SCHED_CONFIG_NULL, &es[0]) == ABT_SUCCESS,
          "ABT_xstream_create_basic over the pool");
    ABT_sched sched;
    check(ABT_sched_create_basic(ABT_SCHED_DEFAULT, 1, &pool, ABT_SCHED_CONFIG_NULL, &sched) == ABT_SUCCESS
              && ABT_xstream_create(sched, &es[1]) == ABT_SUCCESS,
          "ABT_sched_create_basic, then ABT_xstream_create with it");
    int r0 = -1, r1 = -1;
    check(ABT_xstream_get_rank(es[0], &r0) == ABT_SUCCESS && ABT_xstream_get_rank(es[1], &r1) == ABT_SUCCESS
              && r0 > 0 && r1 > 0 && r0 != r1,
          "the two streams have distinct ranks above 0");
    ABT_pool main_pool = ABT_POOL_NULL;
    check(ABT_xstream_get_main_pools(es[1], 1, &main_pool) == ABT_SUCCESS && main_pool == pool,
          "ABT_xstream_get_main_pools: the shared pool");

    check(ABT_key_create(count_destroyed, &key) == ABT_SUCCESS, "ABT_key_create");
    ABT_key_set(key, (void*)(intptr_t)100);

    /* Eight threads and a tasklet on the shared pool. */
    struct report reports[9];
    ABT_thread    threads[8];
    int           made = 1;
    for (int i = 0; i < 8; i++) made &= ABT_thread_create(pool, where_am_i, &reports[i], ABT_THREAD_ATTR_NULL, &threads[i]) == ABT_SUCCESS;
    ABT_task task;
    made &= ABT_task_create(pool, where_am_i, &reports[8], &task) == ABT_SUCCESS;
    check(made && ABT_thread_free_many(8, threads) == ABT_SUCCESS && ABT_task_free(&task) == ABT_SUCCESS
              && task == ABT_TASK_NULL,
          "8 threads and a tasklet ran and were joined");
    int ranks_ok = 1, ids_ok = 1;
    for (int i = 0; i < 9; i++) {
        ranks_ok &= reports[i].rank == r0 || reports[i].rank == r1;
        for (int j = 0; j < i; j++) ids_ok &= reports[i].id != reports[j].id;
    }
    check(ranks_ok, "each ran on one of the two streams (ABT_xstream_self_rank)");
    check(ids_ok, "each had its own id (ABT_thread_self_id)");
    int fresh = 1;
    for (int i = 0; i < 9; i++) fresh &= reports[i].key_before == NULL;
    void* mine = NULL;
    check(fresh && destroyed == 9 && ABT_key_get(key, &mine) == ABT_SUCCESS && mine == (void*)(intptr_t)100,
          "ABT_key: each thread starts without a value, its value is destroyed when it ends, main keeps its own");
    check(ABT_key_free(&key) == ABT_SUCCESS && key == ABT_KEY_NULL && ABT_key_get(key, &mine) == ABT_ERR_INV_KEY,
          "ABT_key_free; a freed key: ABT_ERR_INV_KEY");

    /* The caller is on the primary stream. */
    ABT_xstream self;
    ABT_bool    primary = ABT_FALSE;
    int         rank    = -1;
    check(ABT_xstream_self(&self) == ABT_SUCCESS && ABT_xstream_is_primary(self, &primary) == ABT_SUCCESS
              && primary == ABT_TRUE && ABT_xstream_self_rank(&rank) == ABT_SUCCESS && rank == 0,
          "main is on the primary stream, rank 0");
    check(ABT_xstream_join(self) == ABT_ERR_INV_XSTREAM, "the primary stream cannot be joined");
    ABT_pool freed = pool;
    check(ABT_pool_free(&freed) == ABT_ERR_POOL && freed == pool, "a pool running streams serve cannot be freed");

    /* A margo RPC whose handler runs on the program's own pool. */
    margo_instance_id mid = margo_init(protocol, MARGO_SERVER_MODE, 0, 0);
    check(mid != MARGO_INSTANCE_NULL, "margo_init");
    if (mid != MARGO_INSTANCE_NULL) {
        hg_id_t id = margo_provider_register_name(mid, "double", proc_int32, proc_int32, _handler_for_double_ult, 3, pool);
        hg_addr_t   self_addr;
        hg_handle_t h;
        int32_t     in = 21, out = 0;
        check(id != 0 && margo_addr_self(mid, &self_addr) == HG_SUCCESS && margo_create(mid, self_addr, id, &h) == HG_SUCCESS
                  && margo_provider_forward(3, h, &in) == HG_SUCCESS && margo_get_output(h, &out) == HG_SUCCESS
                  && out == 42,
              "a margo RPC served on the program's pool");
        margo_free_output(h, &out);
        margo_destroy(h);
        margo_addr_free(mid, self_addr);
        margo_finalize(mid);
    }

    check(ABT_xstream_join(es[0]) == ABT_SUCCESS && ABT_xstream_free(&es[0]) == ABT_SUCCESS && es[0] == ABT_XSTREAM_NULL,
          "ABT_xstream_join then ABT_xstream_free");
    check(ABT_xstream_free(&es[1]) == ABT_SUCCESS && ABT_sched_free(&sched) == ABT_SUCCESS, "ABT_xstream_free joins");
    check(ABT_pool_free(&pool) == ABT_SUCCESS && pool == ABT_POOL_NULL, "then the pool is freed");
    check(ABT_finalize() == ABT_SUCCESS, "ABT_finalize");

    printf("%d failure(s)\n", failures);
    return failures;
}
