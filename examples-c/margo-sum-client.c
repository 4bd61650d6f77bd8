/*
 * margo-sum-client: calls margo-sum-server's RPCs through upstream Margo's
 * RPC API, then shuts the server down.
 *
 *   margo-sum-client PROTOCOL SERVER_ADDRESS
 *
 * Checks: "sum" at provider SUM_PROVIDER_ID with margo_provider_forward_timed
 * (integers, a string each way, the server's registered data and its view
 * of the caller), twice on one handle; margo_provider_iforward + margo_wait;
 * handle info and reference counts; HG_NO_MATCH for an unknown provider, for
 * the default provider and for an RPC the server does not serve; HG_TIMEOUT;
 * an error for a request the handler drops and for input bytes the server
 * cannot decode; fire-and-forget calls (response disabled) counted by the
 * server. Prints one "ok:" or "FAIL:" line per check; exits with the number
 * of failed checks.
 */
#include "margo-sum-types.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures = 0;

static void check(int cond, const char* what)
{
    printf("%s: %s\n", cond ? "ok" : "FAIL", what);
    fflush(stdout);
    if (!cond) failures++;
}

static void check_ret(hg_return_t got, hg_return_t want, const char* what)
{
    char line[256];
    snprintf(line, sizeof line, "%s (%s, expected %s)", what, HG_Error_to_string(got), HG_Error_to_string(want));
    check(got == want, line);
}

/* One "sum" call at `provider` through `h`; checks the output if it succeeds. */
static hg_return_t call_sum(hg_handle_t h, uint16_t provider, int32_t x, int32_t y, uint64_t expected_calls)
{
    char      label[] = "hello";
    sum_in_t  in      = {x, y, label};
    hg_return_t hret  = margo_provider_forward_timed(provider, h, &in, 5000.0);
    if (hret != HG_SUCCESS) return hret;
    sum_out_t out;
    hret = margo_get_output(h, &out);
    check_ret(hret, HG_SUCCESS, "margo_get_output of \"sum\"");
    if (hret != HG_SUCCESS) return hret;
    char expected[64];
    snprintf(expected, sizeof expected, "hello: %d+%d=%d", x, y, x + y);
    check(out.ret == x + y, "sum: the integers");
    check(out.message && strcmp(out.message, expected) == 0, "sum: the string built from the input's string");
    check(out.saw_caller == HG_TRUE, "sum: the handler duplicated and printed margo_get_info(handle)->addr");
    char what[96];
    snprintf(what, sizeof what, "sum: the registered data counted %llu call(s)", (unsigned long long)expected_calls);
    check(out.calls == expected_calls, what);
    check_ret(margo_free_output(h, &out), HG_SUCCESS, "margo_free_output");
    check(out.message == NULL, "margo_free_output released the string");
    return HG_SUCCESS;
}

int main(int argc, char** argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s PROTOCOL SERVER_ADDRESS\n", argv[0]);
        return 2;
    }
    margo_instance_id mid = margo_init(argv[1], MARGO_CLIENT_MODE, 0, 0);
    if (mid == MARGO_INSTANCE_NULL) {
        fprintf(stderr, "margo-sum-client: margo_init(\"%s\") failed\n", argv[1]);
        return 1;
    }
    hg_addr_t server = HG_ADDR_NULL;
    check_ret(margo_addr_lookup(mid, argv[2], &server), HG_SUCCESS, "lookup of the server");
    if (server == HG_ADDR_NULL) {
        margo_finalize(mid);
        return 1;
    }
    printf("server address: %s\n", argv[2]);

    /* A caller registers with no handler. */
    hg_id_t sum_id     = MARGO_REGISTER(mid, "sum", sum_in_t, sum_out_t, NULL);
    hg_id_t wait_id    = MARGO_REGISTER(mid, "wait", wait_in_t, void, NULL);
    hg_id_t nr_id      = MARGO_REGISTER(mid, "noreply", void, void, NULL);
    hg_id_t bump_id    = MARGO_REGISTER(mid, "bump", int32_t, void, NULL);
    hg_id_t count_id   = MARGO_REGISTER(mid, "count", void, uint64_t, NULL);
    hg_id_t absent_id  = MARGO_REGISTER(mid, "not_served", void, void, NULL);
    /* "sum" at the server's provider, with another input type: bytes the server cannot decode. */
    hg_id_t bad_sum_id = MARGO_REGISTER_PROVIDER(mid, "sum", wait_in_t, void, NULL, SUM_PROVIDER_ID, ABT_POOL_NULL);
    check(sum_id && wait_id && nr_id && bump_id && count_id && absent_id && bad_sum_id, "MARGO_REGISTER gives ids");
    /* Like upstream's, the macro ends with its own semicolon: a statement, not an expression. */
    hg_id_t again = MARGO_REGISTER(mid, "sum", sum_in_t, sum_out_t, NULL);
    check(again == sum_id, "registering again gives the same id");

    hg_id_t   id   = 0;
    hg_bool_t flag = HG_FALSE;
    check(margo_registered_name(mid, "sum", &id, &flag) == HG_SUCCESS && flag == HG_TRUE && id == sum_id,
          "margo_registered_name finds \"sum\"");
    check(margo_registered_name(mid, "nothing", &id, &flag) == HG_SUCCESS && flag == HG_FALSE,
          "margo_registered_name does not find \"nothing\"");

    hg_handle_t h = HG_HANDLE_NULL;
    check_ret(margo_create(mid, server, sum_id, &h), HG_SUCCESS, "margo_create for \"sum\"");
    if (h == HG_HANDLE_NULL) {
        margo_addr_free(mid, server);
        margo_finalize(mid);
        return 1;
    }
    const struct hg_info* info = margo_get_info(h);
    check(info && info->id == sum_id && margo_addr_cmp(mid, info->addr, server) == HG_TRUE,
          "margo_get_info: the target address and the RPC id");
    check(margo_hg_handle_get_instance(h) == mid, "margo_hg_handle_get_instance");
    check(strcmp(margo_handle_get_name(h), "sum") == 0, "margo_handle_get_name");

    check_ret(call_sum(h, SUM_PROVIDER_ID, 40, 2, 1), HG_SUCCESS, "margo_provider_forward_timed(\"sum\", provider 42)");
    check_ret(call_sum(h, SUM_PROVIDER_ID, -7, 3, 2), HG_SUCCESS, "the same handle forwards again");

    /* Non-blocking. */
    {
        char          label[] = "hello";
        sum_in_t      in      = {20, 22, label};
        margo_request req     = MARGO_REQUEST_NULL;
        check_ret(margo_provider_iforward(SUM_PROVIDER_ID, h, &in, &req), HG_SUCCESS, "margo_provider_iforward");
        check_ret(margo_wait(req), HG_SUCCESS, "margo_wait");
        sum_out_t out;
        check_ret(margo_get_output(h, &out), HG_SUCCESS, "margo_get_output after margo_wait");
        check(out.ret == 42 && out.calls == 3, "iforward: the answer");
        margo_free_output(h, &out);
    }

    /* Errors. */
    check_ret(call_sum(h, 7, 1, 1, 0), HG_NO_MATCH, "an unknown provider id is HG_NO_MATCH");
    {
        char     label[] = "x";
        sum_in_t in      = {1, 1, label};
        check_ret(margo_forward(h, &in), HG_NO_MATCH, "margo_forward to the default provider (not served) is HG_NO_MATCH");
    }
    check(margo_ref_incr(h) == HG_SUCCESS && margo_destroy(h) == HG_SUCCESS, "margo_ref_incr, then one margo_destroy");
    check(margo_get_info(h) != NULL, "the handle survives while referenced");
    check_ret(margo_destroy(h), HG_SUCCESS, "the last margo_destroy");

    hg_handle_t other = HG_HANDLE_NULL;
    check_ret(margo_create(mid, server, absent_id, &other), HG_SUCCESS, "margo_create for \"not_served\"");
    check_ret(margo_forward_timed(other, NULL, 5000.0), HG_NO_MATCH, "an RPC the server does not serve is HG_NO_MATCH");
    margo_destroy(other);

    check_ret(margo_create(mid, server, 0x1234, &other), HG_NO_MATCH, "margo_create with an unregistered id");
    check_ret(margo_create(mid, HG_ADDR_NULL, sum_id, &other), HG_INVALID_ARG, "margo_create with a NULL address");
    check_ret(margo_forward(HG_HANDLE_NULL, NULL), HG_INVALID_ARG, "margo_forward with a NULL handle");

    check_ret(margo_create(mid, server, wait_id, &other), HG_SUCCESS, "margo_create for \"wait\"");
    {
        wait_in_t in = {1000};
        check_ret(margo_forward_timed(other, &in, 100.0), HG_TIMEOUT, "a 100 ms call to a 1 s handler times out");
    }
    margo_destroy(other);

    check_ret(margo_create(mid, server, nr_id, &other), HG_SUCCESS, "margo_create for \"noreply\"");
    check(margo_forward_timed(other, NULL, 5000.0) != HG_SUCCESS, "a request the handler drops unanswered fails");
    margo_destroy(other);

    check_ret(margo_create(mid, server, bad_sum_id, &other), HG_SUCCESS, "margo_create for the mismatched \"sum\"");
    {
        wait_in_t in = {7};
        hg_return_t hret = margo_provider_forward_timed(SUM_PROVIDER_ID, other, &in, 5000.0);
        check(hret != HG_SUCCESS && hret != HG_TIMEOUT, "input the server cannot decode fails the call, quickly");
    }
    margo_destroy(other);

    /* Fire and forget: the caller does not wait; the server counts. */
    check_ret(margo_registered_disable_response(mid, bump_id, 1), HG_SUCCESS, "margo_registered_disable_response");
    check_ret(margo_create(mid, server, bump_id, &other), HG_SUCCESS, "margo_create for \"bump\"");
    for (int32_t i = 1; i <= 3; i++) {
        int32_t by = 5;
        check_ret(margo_forward(other, &by), HG_SUCCESS, "a \"bump\" with its response disabled");
    }
    margo_destroy(other);
    check_ret(margo_create(mid, server, count_id, &other), HG_SUCCESS, "margo_create for \"count\"");
    uint64_t seen = 0;
    /* The bumps are served in their own time: look a few times. */
    for (int tries = 0; tries < 200 && seen != 15; tries++) {
        if (tries) margo_thread_sleep(mid, 10.0);
        if (margo_forward_timed(other, NULL, 5000.0) != HG_SUCCESS) break;
        if (margo_get_output(other, &seen) != HG_SUCCESS) break;
    }
    check(seen == 15, "the server counted three fire-and-forget bumps of 5");
    margo_destroy(other);

    check_ret(margo_deregister(mid, absent_id), HG_SUCCESS, "margo_deregister");
    check_ret(margo_create(mid, server, absent_id, &other), HG_NO_MATCH, "a deregistered id no longer creates handles");

    check(margo_shutdown_remote_instance(mid, server) == 0, "margo_shutdown_remote_instance");
    margo_addr_free(mid, server);
    margo_finalize(mid);
    if (failures)
        printf("margo-sum-client: %d check(s) failed\n", failures);
    else
        printf("margo-sum-client: all checks passed\n");
    return failures;
}
