/*
 * margo-abt: Argobots' synchronization objects and threads in a margo
 * service, one engine calling itself.
 *
 *   margo-abt PROTOCOL
 *
 * The handlers run on a pool with a single execution stream. A "wait"
 * handler blocks on an ABT_eventual that a later "set" request on the same
 * pool sets (under Argobots the blocked handler yields its stream; here it
 * lends it). Concurrent "add" requests update a counter under an ABT_mutex;
 * a handler starts ABT_threads on its own pool and joins them; a condition
 * variable, a barrier of two threads, a readers-writer lock, an eventual
 * carrying bytes, and the error codes of NULL handles and misuse; the
 * "set" handler answers with margo_irespond; HG_Cancel of a forward whose
 * handler blocks.
 * Prints one line per check; exits with the number of failed checks.
 */
#include <margo.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

static int failures = 0;

static void check(int cond, const char* what)
{
    printf("%s: %s\n", cond ? "ok" : "FAIL", what);
    fflush(stdout);
    if (!cond) ++failures;
}

static ABT_eventual g_event;
/* A mutex in the program's own memory, as Mochi components declare them. */
static ABT_mutex_memory g_mutex_mem = ABT_MUTEX_INITIALIZER;
static int              g_counter;

static void wait_ult(hg_handle_t h)
{
    /* Blocks the only stream of the handler pool until "set" runs. */
    ABT_eventual_wait(g_event, NULL);
    margo_respond(h, NULL);
    margo_destroy(h);
}
DEFINE_MARGO_RPC_HANDLER(wait_ult)

static void set_ult(hg_handle_t h)
{
    ABT_eventual_set(g_event, NULL, 0);
    margo_request req;
    if (margo_irespond(h, NULL, &req) == HG_SUCCESS) margo_wait(req);
    margo_destroy(h);
}
DEFINE_MARGO_RPC_HANDLER(set_ult)

static void add_ult(hg_handle_t h)
{
    for (int i = 0; i < 1000; i++) {
        ABT_mutex m = ABT_MUTEX_MEMORY_GET_HANDLE(&g_mutex_mem);
        ABT_mutex_lock(m);
        int v = g_counter;
        if (i % 100 == 0) ABT_thread_yield();
        g_counter = v + 1;
        ABT_mutex_unlock(m);
    }
    margo_respond(h, NULL);
    margo_destroy(h);
}
DEFINE_MARGO_RPC_HANDLER(add_ult)

struct work {
    ABT_mutex mutex;
    int*      total;
    int       value;
};

static void add_value(void* arg)
{
    struct work* w = (struct work*)arg;
    ABT_mutex_lock(w->mutex);
    *w->total += w->value;
    ABT_mutex_unlock(w->mutex);
}

/* Starts four threads on its own (one-stream) pool and joins them. */
static void spawn_ult(hg_handle_t h)
{
    margo_instance_id mid = margo_hg_handle_get_instance(h);
    ABT_pool          pool;
    margo_get_handler_pool(mid, &pool);
    int          total = 0;
    ABT_mutex    m;
    ABT_thread   threads[4];
    struct work  work[4];
    ABT_mutex_create(&m);
    int created = 0;
    for (int i = 0; i < 4; i++) {
        work[i].mutex = m;
        work[i].total = &total;
        work[i].value = i + 1;
        if (ABT_thread_create(pool, add_value, &work[i], ABT_THREAD_ATTR_NULL, &threads[i]) == ABT_SUCCESS)
            created++;
    }
    if (created == 4) ABT_thread_free_many(4, threads);
    ABT_mutex_free(&m);
    int32_t out = created == 4 ? total : -1;
    margo_respond(h, &out);
    margo_destroy(h);
}
DEFINE_MARGO_RPC_HANDLER(spawn_ult)

static hg_return_t hg_proc_int32(hg_proc_t proc, void* data) { return hg_proc_int32_t(proc, data); }

/* Condition variable: a thread waits until another sets a flag. */
struct cond_state {
    ABT_mutex mutex;
    ABT_cond  cond;
    int       flag;
    int       seen;
};

static void cond_waiter(void* arg)
{
    struct cond_state* s = (struct cond_state*)arg;
    ABT_mutex_lock(s->mutex);
    while (!s->flag) ABT_cond_wait(s->cond, s->mutex);
    s->seen = 1;
    ABT_mutex_unlock(s->mutex);
}

static void cond_setter(void* arg)
{
    struct cond_state* s = (struct cond_state*)arg;
    ABT_mutex_lock(s->mutex);
    s->flag = 1;
    ABT_cond_signal(s->cond);
    ABT_mutex_unlock(s->mutex);
}

static ABT_barrier g_barrier;
static int         g_before[2];
static int         g_after_ok[2];

static void barrier_thread(void* arg)
{
    int i = (int)(intptr_t)arg;
    g_before[i] = 1;
    ABT_barrier_wait(g_barrier);
    g_after_ok[i] = g_before[0] && g_before[1];
}

static hg_return_t call(margo_instance_id mid, hg_addr_t self, hg_id_t id, void* out)
{
    hg_handle_t h;
    hg_return_t ret = margo_create(mid, self, id, &h);
    if (ret != HG_SUCCESS) return ret;
    ret = margo_forward_timed(h, NULL, 10000.0);
    if (ret == HG_SUCCESS && out) ret = margo_get_output(h, out);
    if (ret == HG_SUCCESS && out) margo_free_output(h, out);
    margo_destroy(h);
    return ret;
}

int main(int argc, char** argv)
{
    const char* protocol = argc > 1 ? argv[1] : "na+sm";
    /* One handler execution stream: the waits below would deadlock it if a
     * blocked handler kept its stream. */
    margo_instance_id mid = margo_init(protocol, MARGO_SERVER_MODE, 0, 1);
    if (mid == MARGO_INSTANCE_NULL) {
        fprintf(stderr, "margo_init failed\n");
        return 1;
    }
    check(ABT_initialized() == ABT_SUCCESS, "ABT_initialized while a margo instance lives");
#if MARGO_VERSION_NUM >= 2300
    check(1, "MARGO_VERSION_NUM (margo-version.h through margo.h) names margo " MARGO_VERSION);
#else
    check(0, "MARGO_VERSION_NUM below 2300");
#endif

    ABT_eventual_create(0, &g_event);
    double t0 = ABT_get_wtime();
    hg_id_t wait_id  = MARGO_REGISTER(mid, "abt_wait", void, void, wait_ult);
    hg_id_t set_id   = MARGO_REGISTER(mid, "abt_set", void, void, set_ult);
    hg_id_t add_id   = MARGO_REGISTER(mid, "abt_add", void, void, add_ult);
    hg_id_t spawn_id = MARGO_REGISTER(mid, "abt_spawn", void, int32, spawn_ult);
    hg_addr_t self;
    margo_addr_self(mid, &self);

    /* A handler waiting on an eventual that a later request on the same
     * one-stream pool sets. */
    hg_handle_t    wh;
    margo_request  wreq;
    margo_create(mid, self, wait_id, &wh);
    check(margo_iforward(wh, NULL, &wreq) == HG_SUCCESS, "wait request sent");
    check(call(mid, self, set_id, NULL) == HG_SUCCESS, "set request served while the wait handler blocks");
    check(margo_wait(wreq) == HG_SUCCESS, "wait handler woken by the set request");
    margo_destroy(wh);

    /* HG_Cancel: the same wait, canceled while its handler blocks; then the
     * set request releases the handler (its late answer is dropped). */
    ABT_eventual_reset(g_event);
    margo_create(mid, self, wait_id, &wh);
    margo_iforward(wh, NULL, &wreq);
    check(HG_Cancel(wh) == HG_SUCCESS && margo_wait(wreq) == HG_CANCELED, "HG_Cancel: the forward completes with HG_CANCELED");
    check(call(mid, self, set_id, NULL) == HG_SUCCESS, "the canceled call's handler is released");
    check(HG_Cancel(wh) == HG_SUCCESS, "HG_Cancel with nothing in flight: HG_SUCCESS");
    margo_destroy(wh);

    /* Eight concurrent adders under one mutex. */
    hg_handle_t   ah[8];
    margo_request areq[8];
    int           sent = 0;
    for (int i = 0; i < 8; i++) {
        margo_create(mid, self, add_id, &ah[i]);
        if (margo_iforward(ah[i], NULL, &areq[i]) == HG_SUCCESS) sent++;
    }
    int ok = sent == 8;
    for (int i = 0; i < 8; i++) {
        if (margo_wait(areq[i]) != HG_SUCCESS) ok = 0;
        margo_destroy(ah[i]);
    }
    check(ok && g_counter == 8000,
          "8 handlers x 1000 increments under an ABT_mutex from ABT_MUTEX_INITIALIZER (with yields) = 8000");

    int32_t total = 0;
    check(call(mid, self, spawn_id, &total) == HG_SUCCESS && total == 10,
          "a handler's 4 ABT_threads on its own one-stream pool ran and were joined (sum 10)");

    /* Threads started from main on the handler pool. */
    ABT_pool pool;
    margo_get_handler_pool(mid, &pool);
    struct cond_state cs = {0};
    ABT_mutex_create(&cs.mutex);
    ABT_cond_create(&cs.cond);
    ABT_thread waiter, setter;
    ABT_thread_create(pool, cond_waiter, &cs, ABT_THREAD_ATTR_NULL, &waiter);
    ABT_thread_create(pool, cond_setter, &cs, ABT_THREAD_ATTR_NULL, &setter);
    ABT_thread_free(&waiter);
    ABT_thread_free(&setter);
    check(cs.seen == 1 && waiter == ABT_THREAD_NULL, "ABT_cond: the waiter saw the flag; ABT_thread_free cleared the handle");

    /* The same with a mutex and a condition variable in a struct of ours. */
    struct {
        ABT_mutex_memory mutex;
        ABT_cond_memory  cond;
    } mem = {ABT_MUTEX_INITIALIZER, ABT_COND_INITIALIZER};
    struct cond_state cs2 = {ABT_MUTEX_MEMORY_GET_HANDLE(&mem.mutex), ABT_COND_MEMORY_GET_HANDLE(&mem.cond), 0, 0};
    ABT_thread pair[2];
    ABT_thread_create(pool, cond_waiter, &cs2, ABT_THREAD_ATTR_NULL, &pair[0]);
    ABT_thread_create(pool, cond_setter, &cs2, ABT_THREAD_ATTR_NULL, &pair[1]);
    check(ABT_thread_join_many(2, pair) == ABT_SUCCESS && ABT_thread_free_many(2, pair) == ABT_SUCCESS && cs2.seen == 1,
          "ABT_COND_INITIALIZER / ABT_MUTEX_INITIALIZER in a struct; ABT_thread_join_many, _free_many");

    static ABT_mutex_memory rec_mem = ABT_RECURSIVE_MUTEX_INITIALIZER;
    ABT_mutex               rec     = ABT_MUTEX_MEMORY_GET_HANDLE(&rec_mem);
    check(ABT_mutex_lock(rec) == ABT_SUCCESS && ABT_mutex_lock(rec) == ABT_SUCCESS && ABT_mutex_unlock(rec) == ABT_SUCCESS
              && ABT_mutex_unlock(rec) == ABT_SUCCESS && ABT_mutex_unlock(rec) == ABT_ERR_MUTEX,
          "ABT_RECURSIVE_MUTEX_INITIALIZER: locked twice by its holder, unlocked twice");

    /* A timed wait that times out, holding the mutex again. */
    struct timeval  now;
    struct timespec deadline;
    gettimeofday(&now, NULL);
    deadline.tv_sec  = now.tv_sec;
    deadline.tv_nsec = now.tv_usec * 1000L + 20L * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec += 1;
        deadline.tv_nsec -= 1000000000L;
    }
    ABT_mutex_lock(cs.mutex);
    check(ABT_cond_timedwait(cs.cond, cs.mutex, &deadline) == ABT_ERR_COND_TIMEDOUT, "ABT_cond_timedwait times out");
    check(ABT_mutex_unlock(cs.mutex) == ABT_SUCCESS, "the mutex is held again after the timeout");
    check(ABT_mutex_unlock(cs.mutex) == ABT_ERR_MUTEX, "unlocking an unlocked mutex: ABT_ERR_MUTEX");
    ABT_cond_free(&cs.cond);
    ABT_mutex_free(&cs.mutex);

    /* A barrier of two threads on the one-stream pool. */
    ABT_barrier_create(2, &g_barrier);
    ABT_thread b[2];
    for (int i = 0; i < 2; i++) ABT_thread_create(pool, barrier_thread, (void*)(intptr_t)i, ABT_THREAD_ATTR_NULL, &b[i]);
    for (int i = 0; i < 2; i++) ABT_thread_free(&b[i]);
    uint32_t n = 0;
    ABT_barrier_get_num_waiters(g_barrier, &n);
    check(g_after_ok[0] && g_after_ok[1] && n == 2, "ABT_barrier: neither thread passed before both arrived");
    ABT_barrier_free(&g_barrier);

    /* Readers-writer lock. */
    ABT_rwlock rw;
    ABT_rwlock_create(&rw);
    ABT_rwlock_rdlock(rw);
    ABT_rwlock_rdlock(rw);
    check(ABT_rwlock_unlock(rw) == ABT_SUCCESS && ABT_rwlock_unlock(rw) == ABT_SUCCESS, "two readers at once");
    ABT_rwlock_wrlock(rw);
    check(ABT_rwlock_unlock(rw) == ABT_SUCCESS && ABT_rwlock_unlock(rw) == ABT_ERR_RWLOCK,
          "a writer; unlocking a free lock: ABT_ERR_RWLOCK");
    ABT_rwlock_free(&rw);

    /* An eventual carrying bytes. */
    ABT_eventual ev;
    ABT_eventual_create((int)sizeof(int64_t), &ev);
    int64_t  v = 42;
    ABT_bool ready = ABT_TRUE;
    ABT_eventual_test(ev, NULL, &ready);
    check(ready == ABT_FALSE, "a new eventual is not ready");
    ABT_eventual_set(ev, &v, (int)sizeof v);
    void* got = NULL;
    ABT_eventual_wait(ev, &got);
    check(got && *(int64_t*)got == 42, "ABT_eventual_wait hands out the value set");
    check(ABT_eventual_set(ev, &v, (int)sizeof v) == ABT_ERR_EVENTUAL, "setting it twice: ABT_ERR_EVENTUAL");
    ABT_eventual_reset(ev);
    check(ABT_eventual_set(ev, &v, 64) == ABT_ERR_INV_ARG, "more bytes than its size: ABT_ERR_INV_ARG");
    ABT_eventual_free(&ev);
    check(ev == ABT_EVENTUAL_NULL, "ABT_eventual_free clears the handle");

    /* NULL handles and arguments. */
    check(ABT_mutex_lock(ABT_MUTEX_NULL) == ABT_ERR_INV_MUTEX, "ABT_mutex_lock(NULL): ABT_ERR_INV_MUTEX");
    check(ABT_cond_signal(ABT_COND_NULL) == ABT_ERR_INV_COND, "ABT_cond_signal(NULL): ABT_ERR_INV_COND");
    check(ABT_eventual_wait(ABT_EVENTUAL_NULL, NULL) == ABT_ERR_INV_EVENTUAL, "ABT_eventual_wait(NULL)");
    check(ABT_thread_join(ABT_THREAD_NULL) == ABT_ERR_INV_THREAD, "ABT_thread_join(NULL)");
    check(ABT_thread_create(ABT_POOL_NULL, add_value, NULL, ABT_THREAD_ATTR_NULL, NULL) == ABT_ERR_INV_POOL,
          "ABT_thread_create on ABT_POOL_NULL: ABT_ERR_INV_POOL");
    check(ABT_mutex_create(NULL) == ABT_ERR_INV_ARG, "ABT_mutex_create(NULL): ABT_ERR_INV_ARG");
    check(ABT_barrier_create(0, &g_barrier) == ABT_ERR_INV_ARG, "a barrier of 0 waiters: ABT_ERR_INV_ARG");
    size_t len = 0;
    char   name[64];
    ABT_error_get_str(ABT_ERR_INV_MUTEX, NULL, &len);
    ABT_error_get_str(ABT_ERR_INV_MUTEX, name, &len);
    check(len < sizeof name && strcmp(name, "ABT_ERR_INV_MUTEX") == 0, "ABT_error_get_str names the code");

    double t1 = ABT_get_wtime();
    check(t1 > t0 && t1 - t0 < 600.0, "ABT_get_wtime moves forward");
    ABT_timer sw, copy;
    double    secs = -1.0, accumulated = 1.0;
    ABT_timer_create(&sw);
    ABT_timer_start(sw);
    margo_thread_sleep(mid, 5.0);
    check(ABT_timer_stop_and_read(sw, &secs) == ABT_SUCCESS && secs >= 0.004 && secs < 60.0,
          "ABT_timer: start, stop_and_read around a 5 ms sleep");
    check(ABT_timer_dup(sw, &copy) == ABT_SUCCESS && ABT_timer_stop_and_add(copy, &accumulated) == ABT_SUCCESS && accumulated > 1.0,
          "ABT_timer_dup, ABT_timer_stop_and_add");
    ABT_timer_free(&copy);
    ABT_timer_free(&sw);
    check(sw == ABT_TIMER_NULL && ABT_timer_start(ABT_TIMER_NULL) == ABT_ERR_INV_TIMER, "ABT_timer_free; a NULL timer: ABT_ERR_INV_TIMER");
    ABT_eventual_free(&g_event);
    margo_addr_free(mid, self);
    margo_finalize(mid);
    printf("%d failure(s)\n", failures);
    return failures;
}
