/*
 * margo-requests: waiting for whichever of several calls answers first
 * (margo_wait_any), forwards and a response that end in a callback
 * (margo_cforward, margo_cforward_timed, margo_crespond), a handler finding its instance from the handle's info
 * (margo_hg_info_get_instance), reading back finalize callbacks
 * (margo_top_finalize_callback, margo_provider_top_finalize_callback,
 * margo_pop_finalize_callback), the instance's state
 * (margo_instance_ref_count, margo_instance_is_finalized) and Mercury's
 * HG_RETURN_VALUES X-macro; what a request tells (margo_request_get_type,
 * _get_handle, _get_instance), data attached to a handle (margo_set_data,
 * margo_get_data, freed when replaced and with the handle) and the current
 * RPC id (margo_get_current_rpc_id in a handler and outside, set with
 * margo_set_current_rpc_id); one engine calling itself.
 *
 *   margo-requests PROTOCOL
 *
 * Prints one line per check; exits with the number of failed checks.
 */
#include <margo.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static int failures = 0;

static void check(int cond, const char* what)
{
    printf("%s: %s\n", cond ? "ok" : "FAIL", what);
    fflush(stdout);
    if (!cond) ++failures;
}

MERCURY_GEN_PROC(nap_in_t, ((uint32_t)(ms)))
MERCURY_GEN_PROC(nap_out_t, ((uint32_t)(ms))((int32_t)(same_instance))((int32_t)(handler_saw)))

static margo_instance_id the_mid = MARGO_INSTANCE_NULL;

/* How many attached data the handles' free callbacks freed. */
static int freed = 0;
static ABT_mutex freed_lock = ABT_MUTEX_NULL;

static void free_attached(void* data)
{
    ABT_mutex_lock(freed_lock);
    freed += *(int*)data;
    ABT_mutex_unlock(freed_lock);
}

static int attached_one = 1, attached_ten = 10;

/* In a handler: the current RPC id is the handle's, and data attached to
 * the handle reads back; replacing it frees the first (1), the handle's
 * end frees the second (10). Returns 1 if all held. */
static int handler_checks(margo_instance_id mid, hg_handle_t h)
{
    hg_id_t current = 0;
    int     ok      = margo_get_current_rpc_id(mid, &current) == HG_SUCCESS && current == margo_get_info(h)->id;
    ok &= margo_get_data(h) == NULL;
    ok &= margo_set_data(h, &attached_one, free_attached) == HG_SUCCESS && margo_get_data(h) == &attached_one;
    ok &= margo_set_data(h, &attached_ten, free_attached) == HG_SUCCESS && margo_get_data(h) == &attached_ten;
    return ok;
}

/* Sleeps the asked time (lending its stream), then answers it back with
 * whether the handle's info names this instance. */
static void nap_ult(hg_handle_t h)
{
    nap_in_t  in;
    nap_out_t out = {0, 0, 0};
    if (margo_get_input(h, &in) == HG_SUCCESS) {
        margo_instance_id mid = margo_hg_info_get_instance(margo_get_info(h));
        margo_thread_sleep(mid, (double)in.ms);
        out.ms            = in.ms;
        out.same_instance = (mid == the_mid);
        out.handler_saw   = handler_checks(mid, h);
        margo_free_input(h, &in);
    }
    margo_respond(h, &out);
    margo_destroy(h);
}
DEFINE_MARGO_RPC_HANDLER(nap_ult)

/* Answers with margo_crespond: the callback sets `responded` (and is
 * given HG_SUCCESS). */
static ABT_eventual responded = ABT_EVENTUAL_NULL;

static void response_sent(void* arg, hg_return_t ret)
{
    int ok = (ret == HG_SUCCESS);
    (void)arg;
    ABT_eventual_set(responded, &ok, sizeof ok);
}

static void echo_c_ult(hg_handle_t h)
{
    nap_in_t  in;
    nap_out_t out = {0, 1, 1};
    if (margo_get_input(h, &in) == HG_SUCCESS) {
        out.ms = in.ms;
        margo_free_input(h, &in);
    }
    margo_crespond(h, &out, response_sent, NULL);
    margo_destroy(h);
}
DEFINE_MARGO_RPC_HANDLER(echo_c_ult)

/* What a callback forward's completion saw; `done` is set by it. */
struct completion {
    hg_handle_t  handle;
    hg_return_t  ret;
    uint32_t     ms;
    ABT_eventual done;
};

static void on_complete(void* arg, hg_return_t ret)
{
    struct completion* c = (struct completion*)arg;
    c->ret               = ret;
    nap_out_t out        = {0, 0, 0};
    if (ret == HG_SUCCESS && margo_get_output(c->handle, &out) == HG_SUCCESS) {
        c->ms = out.ms;
        margo_free_output(c->handle, &out);
    }
    ABT_eventual_set(c->done, NULL, 0);
}

static void farewell(void* arg) { ++*(int*)arg; }
static void other_farewell(void* arg) { *(int*)arg += 10; }

int main(int argc, char** argv)
{
    const char*       protocol = argc > 1 ? argv[1] : "na+sm";
    margo_instance_id mid      = margo_init(protocol, MARGO_SERVER_MODE, 0, 0);
    if (mid == MARGO_INSTANCE_NULL) {
        fprintf(stderr, "margo_init failed\n");
        return 1;
    }
    the_mid    = mid;
    ABT_mutex_create(&freed_lock);
    hg_id_t id = MARGO_REGISTER(mid, "nap", nap_in_t, nap_out_t, nap_ult);
    hg_addr_t self;
    margo_addr_self(mid, &self);

    /* Three calls sleeping 400, 20 and 200 ms: they answer in the order
     * 20, 200, 400, whatever their order in the array. */
    const uint32_t naps[3] = {400, 20, 200};
    hg_handle_t    handles[3];
    margo_request  reqs[3];
    int            started = 1;
    for (int i = 0; i < 3; i++) {
        nap_in_t in = {naps[i]};
        started &= margo_create(mid, self, id, &handles[i]) == HG_SUCCESS
                && margo_iforward(handles[i], &in, &reqs[i]) == HG_SUCCESS;
    }
    check(started, "three calls started");
    check(started && margo_request_get_type(reqs[0]) == MARGO_FORWARD_REQUEST && margo_request_get_handle(reqs[0]) == handles[0]
              && margo_request_get_instance(reqs[0]) == mid,
          "margo_request_get_type / _get_handle / _get_instance of a forward");
    check(margo_request_get_type(MARGO_REQUEST_NULL) == MARGO_INVALID_REQUEST
              && margo_request_get_handle(MARGO_REQUEST_NULL) == HG_HANDLE_NULL,
          "a NULL request: MARGO_INVALID_REQUEST, no handle");
    const size_t expected[3] = {1, 2, 0};
    for (int round = 0; round < 3 && started; round++) {
        size_t      index = 99;
        hg_return_t ret   = margo_wait_any(3, reqs, &index);
        nap_out_t   out   = {0, 0, 0};
        int         good  = ret == HG_SUCCESS && index == expected[round]
                  && margo_get_output(handles[index], &out) == HG_SUCCESS && out.ms == naps[index];
        char what[96];
        snprintf(what, sizeof what, "margo_wait_any #%d: the %u ms call (index %zu)", round + 1,
                 (unsigned)naps[expected[round]], index);
        check(good, what);
        if (round == 0) check(out.same_instance == 1, "margo_hg_info_get_instance in the handler");
        if (round == 0)
            check(out.handler_saw == 1, "in the handler: margo_get_current_rpc_id is its RPC, margo_set_data/get_data");
        if (index < 3) {
            margo_free_output(handles[index], &out);
            reqs[index] = MARGO_REQUEST_NULL; /* waited on: freed */
        }
    }
    size_t index = 99;
    check(margo_wait_any(3, reqs, &index) == HG_SUCCESS && index == 3,
          "margo_wait_any over NULL requests: index == count");
    check(margo_wait_any(3, NULL, &index) == HG_INVALID_ARG, "margo_wait_any with a NULL array: HG_INVALID_ARG");
    for (int i = 0; i < 3; i++) margo_destroy(handles[i]);

    /* Callback forwards: the answer, and a deadline that comes first. */
    struct completion c[2] = {{HG_HANDLE_NULL, HG_OTHER_ERROR, 0, ABT_EVENTUAL_NULL},
                              {HG_HANDLE_NULL, HG_OTHER_ERROR, 0, ABT_EVENTUAL_NULL}};
    nap_in_t          quick = {30}, slow = {500};
    int               sent  = 1;
    for (int i = 0; i < 2; i++)
        sent &= ABT_eventual_create(0, &c[i].done) == ABT_SUCCESS
             && margo_create(mid, self, id, &c[i].handle) == HG_SUCCESS;
    sent &= margo_cforward(c[0].handle, &quick, on_complete, &c[0]) == HG_SUCCESS;
    sent &= margo_cforward_timed(c[1].handle, &slow, 50.0, on_complete, &c[1]) == HG_SUCCESS;
    check(sent, "two callback forwards started");
    if (sent) {
        ABT_eventual_wait(c[0].done, NULL);
        ABT_eventual_wait(c[1].done, NULL);
    }
    check(c[0].ret == HG_SUCCESS && c[0].ms == 30, "margo_cforward: the callback read the answer");
    check(c[1].ret == HG_TIMEOUT, "margo_cforward_timed: the callback got HG_TIMEOUT at the deadline");
    check(margo_cforward(c[0].handle, &quick, NULL, NULL) == HG_INVALID_ARG, "a NULL callback: HG_INVALID_ARG");

    /* margo_crespond: the caller gets the answer, the handler's callback runs. */
    hg_id_t     echo_id = MARGO_REGISTER(mid, "echo_c", nap_in_t, nap_out_t, echo_c_ult);
    hg_handle_t eh;
    nap_in_t    seven = {7};
    nap_out_t   eout  = {0, 0, 0};
    int*        ok    = NULL;
    check(ABT_eventual_create(sizeof(int), &responded) == ABT_SUCCESS && margo_create(mid, self, echo_id, &eh) == HG_SUCCESS
              && margo_forward(eh, &seven) == HG_SUCCESS && margo_get_output(eh, &eout) == HG_SUCCESS && eout.ms == 7
              && ABT_eventual_wait(responded, (void**)&ok) == ABT_SUCCESS && ok && *ok == 1,
          "margo_crespond: answered, then the completion callback ran with HG_SUCCESS");
    margo_free_output(eh, &eout);
    margo_destroy(eh);
    ABT_eventual_free(&responded);
    for (int i = 0; i < 2; i++) {
        ABT_eventual_free(&c[i].done);
        margo_destroy(c[i].handle);
    }
    check(margo_hg_info_get_instance(NULL) == MARGO_INSTANCE_NULL, "margo_hg_info_get_instance(NULL) is NULL");

    /* Finalize callbacks: the newest one (of an owner) can be read back. */
    int  owner = 0, ran = 0;
    margo_push_finalize_callback(mid, farewell, &ran);
    margo_provider_push_finalize_callback(mid, &owner, other_farewell, &ran);
    margo_finalize_callback_t cb    = NULL;
    void*                     uargs = NULL;
    check(margo_top_finalize_callback(mid, &cb, &uargs) == 1 && cb == farewell && uargs == &ran,
          "margo_top_finalize_callback: the owner-less one");
    check(margo_provider_top_finalize_callback(mid, &owner, &cb, &uargs) == 1 && cb == other_farewell,
          "margo_provider_top_finalize_callback: the owner's");
    int stranger = 0;
    check(margo_provider_top_finalize_callback(mid, &stranger, &cb, &uargs) == 0, "nothing for another owner");
    check(margo_pop_finalize_callback(mid) == 1 && margo_top_finalize_callback(mid, &cb, &uargs) == 0,
          "margo_pop_finalize_callback removes it");

    /* The instance's state. */
    unsigned refs = 0;
    bool     fin  = true;
    check(margo_instance_ref_count(mid, &refs) == HG_SUCCESS && refs == 1, "margo_instance_ref_count: 1 after init");
    check(margo_instance_ref_incr(mid) == HG_SUCCESS && margo_instance_ref_count(mid, &refs) == HG_SUCCESS
              && refs == 2,
          "2 after margo_instance_ref_incr");
    check(margo_instance_is_finalized(mid, &fin) == HG_SUCCESS && !fin, "not finalized yet");

    /* HG_RETURN_VALUES lists every code in numeric order. */
#define X(name) {name, #name},
    static const struct {
        hg_return_t code;
        const char* name;
    } codes[] = {HG_RETURN_VALUES};
#undef X
    int in_order = sizeof codes / sizeof codes[0] == (size_t)HG_RETURN_MAX + 1;
    for (size_t i = 0; in_order && i < sizeof codes / sizeof codes[0]; i++)
        in_order = (size_t)codes[i].code == i;
    check(in_order && strcmp(codes[HG_TIMEOUT].name, "HG_TIMEOUT") == 0, "HG_RETURN_VALUES: every code, in order");

    /* Outside any handler: MARGO_DEFAULT_PROVIDER_ID, until set. */
    hg_id_t current = 0;
    check(margo_get_current_rpc_id(mid, &current) == HG_SUCCESS && current == MARGO_DEFAULT_PROVIDER_ID,
          "margo_get_current_rpc_id outside a handler: MARGO_DEFAULT_PROVIDER_ID");
    check(margo_set_current_rpc_id(mid, id) == HG_SUCCESS && margo_get_current_rpc_id(mid, &current) == HG_SUCCESS
              && current == id,
          "margo_set_current_rpc_id, read back");

    /* A bulk transfer's request. */
    char      from[8] = "bulkdata", to[8] = {0};
    void*     fp = from;
    void*     tp = to;
    hg_size_t n  = sizeof from;
    hg_bulk_t fb = HG_BULK_NULL, tb = HG_BULK_NULL;
    margo_request breq = MARGO_REQUEST_NULL;
    int bulk_ok = margo_bulk_create(mid, 1, &fp, &n, HG_BULK_READ_ONLY, &fb) == HG_SUCCESS
               && margo_bulk_create(mid, 1, &tp, &n, HG_BULK_WRITE_ONLY, &tb) == HG_SUCCESS
               && margo_bulk_itransfer(mid, HG_BULK_PULL, self, fb, 0, tb, 0, n, &breq) == HG_SUCCESS;
    check(bulk_ok && margo_request_get_type(breq) == MARGO_BULK_REQUEST && margo_request_get_handle(breq) == HG_HANDLE_NULL
              && margo_request_get_instance(breq) == mid,
          "a bulk transfer's request: MARGO_BULK_REQUEST, no handle, its instance");
    check(bulk_ok && margo_wait(breq) == HG_SUCCESS && memcmp(from, to, sizeof to) == 0, "and the transfer done");
    margo_bulk_free(fb);
    margo_bulk_free(tb);

    margo_addr_free(mid, self);
    margo_finalize(mid);
    check(freed > 0 && freed % 11 == 0, "every handle's attached data freed: replaced, then with the handle");
    check(ran == 10, "the remaining finalize callback ran at finalize");
    check(margo_instance_is_finalized(mid, &fin) == HG_SUCCESS && fin, "finalized, still referenced");
    margo_instance_release(mid);

    printf("%d failure(s)\n", failures);
    return failures;
}
