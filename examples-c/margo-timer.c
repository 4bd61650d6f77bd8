/*
 * margo-timer: Margo's timers (margo-timer.h), one engine.
 *
 *   margo-timer PROTOCOL
 *
 * A timer fires once per start, on the handler pool; a second start while
 * it is pending is refused; a cancelled timer does not fire and can start
 * again; a callback that restarts its own timer makes it periodic (and may
 * cancel it); cancel_many; a pending timer fires when the engine
 * finalizes; NULL arguments are refused. Prints one line per check; exits
 * with the number of failed checks.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <margo.h>
#include <margo-timer.h>
#include <margo-logging.h>

#include <stdio.h>

static int failures = 0;

static void check(int cond, const char* what)
{
    printf("%s: %s\n", cond ? "ok" : "FAIL", what);
    fflush(stdout);
    if (!cond) ++failures;
}

struct counter {
    ABT_mutex_memory mutex;
    ABT_cond_memory  cond;
    int              count;
};

static void bump(void* arg)
{
    struct counter* c = (struct counter*)arg;
    ABT_mutex_lock(ABT_MUTEX_MEMORY_GET_HANDLE(&c->mutex));
    c->count++;
    ABT_cond_broadcast(ABT_COND_MEMORY_GET_HANDLE(&c->cond));
    ABT_mutex_unlock(ABT_MUTEX_MEMORY_GET_HANDLE(&c->mutex));
}

/* Waits up to 10 s for the count to reach n. */
static int wait_count(struct counter* c, int n)
{
    double deadline = ABT_get_wtime() + 10.0;
    ABT_mutex_lock(ABT_MUTEX_MEMORY_GET_HANDLE(&c->mutex));
    while (c->count < n && ABT_get_wtime() < deadline) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 50 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        ABT_cond_timedwait(ABT_COND_MEMORY_GET_HANDLE(&c->cond), ABT_MUTEX_MEMORY_GET_HANDLE(&c->mutex), &ts);
    }
    int got = c->count;
    ABT_mutex_unlock(ABT_MUTEX_MEMORY_GET_HANDLE(&c->mutex));
    return got;
}

/* A periodic timer: the callback restarts it until it fired 5 times. */
struct periodic {
    struct counter counter;
    margo_timer_t  timer;
};

static void tick(void* arg)
{
    struct periodic* p = (struct periodic*)arg;
    bump(&p->counter);
    if (p->counter.count < 5) margo_timer_start(p->timer, 2.0);
}

int main(int argc, char** argv)
{
    const char*       protocol = argc > 1 ? argv[1] : "na+sm";
    margo_instance_id mid      = margo_init(protocol, MARGO_SERVER_MODE, 0, 1);
    if (mid == MARGO_INSTANCE_NULL) {
        fprintf(stderr, "margo_init failed\n");
        return 1;
    }

    struct counter once = {ABT_MUTEX_INITIALIZER, ABT_COND_INITIALIZER, 0};
    margo_timer_t  t    = MARGO_TIMER_NULL;
    check(margo_timer_create(mid, bump, &once, &t) == 0 && t != MARGO_TIMER_NULL, "margo_timer_create");
    check(margo_timer_start(t, 20.0) == 0, "start (20 ms)");
    check(margo_timer_start(t, 20.0) == -1, "a second start while pending is refused");
    check(wait_count(&once, 1) == 1, "it fired");
    margo_thread_sleep(mid, 30.0);
    check(once.count == 1, "once per start");
    check(margo_timer_start(t, 1000.0) == 0, "started again after firing");
    check(margo_timer_cancel(t) == 0, "cancel");
    margo_thread_sleep(mid, 50.0);
    check(once.count == 1, "a cancelled timer does not fire");
    check(margo_timer_start(t, 1.0) == 0 && wait_count(&once, 2) == 2, "started again after a cancel, fired");

    struct periodic p = {{ABT_MUTEX_INITIALIZER, ABT_COND_INITIALIZER, 0}, MARGO_TIMER_NULL};
    ABT_pool        pool;
    margo_get_handler_pool(mid, &pool);
    check(margo_timer_create_with_pool(mid, tick, &p, pool, &p.timer) == 0, "margo_timer_create_with_pool");
    margo_timer_start(p.timer, 2.0);
    check(wait_count(&p.counter, 5) == 5, "a callback restarting its own timer: periodic, 5 firings");

    margo_timer_t many[2];
    struct counter c2 = {ABT_MUTEX_INITIALIZER, ABT_COND_INITIALIZER, 0};
    margo_timer_create(mid, bump, &c2, &many[0]);
    margo_timer_create(mid, bump, &c2, &many[1]);
    margo_timer_start(many[0], 30.0);
    margo_timer_start(many[1], 30.0);
    check(margo_timer_cancel_many(2, many) == 0, "margo_timer_cancel_many");
    margo_thread_sleep(mid, 60.0);
    check(c2.count == 0, "neither fired");

    check(margo_timer_start(MARGO_TIMER_NULL, 1.0) == -1, "start(NULL) refused");
    check(margo_timer_create(mid, NULL, NULL, &many[0]) == -1, "a NULL callback refused");
    check(margo_timer_start(t, -1.0) == -1, "a negative timeout refused");
    check(margo_timer_destroy(many[0]) == 0 && margo_timer_destroy(many[1]) == 0 && margo_timer_destroy(p.timer) == 0,
          "margo_timer_destroy");

    /* Pending at finalize: it fires then. */
    struct counter last = {ABT_MUTEX_INITIALIZER, ABT_COND_INITIALIZER, 0};
    margo_timer_t  late;
    margo_timer_create(mid, bump, &last, &late);
    margo_timer_start(late, 3600.0 * 1000.0);
    margo_timer_destroy(t);
    struct counter pre = {ABT_MUTEX_INITIALIZER, ABT_COND_INITIALIZER, 0};
    margo_push_prefinalize_callback(mid, bump, &pre);
    margo_finalize(mid);
    check(last.count == 1, "a timer pending at finalize fired then");
    check(pre.count == 1, "margo_push_prefinalize_callback: ran at finalize");
    check(margo_timer_start(late, 1.0) == -1, "no start after finalize");
    margo_timer_destroy(late);
    printf("%d failure(s)\n", failures);
    return failures;
}
