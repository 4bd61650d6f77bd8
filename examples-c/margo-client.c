/*
 * margo-client: looks up a server, checks the address functions, then shuts
 * the server down.
 *
 *   margo-client PROTOCOL SERVER_ADDRESS
 *
 * Checks: the looked-up address converts back to the same text;
 * margo_addr_cmp says equal for the address and its duplicate and different
 * for our own address; margo_addr_lookup rejects "", NULL and a garbage
 * address with an error code; margo_shutdown_remote_instance succeeds.
 * Prints one "ok:" or "FAIL:" line per check; exits with the number of
 * failed checks (0 = success).
 */
#include <margo.h>

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

/* The address text, or NULL; the caller frees it. */
static char* addr_text(margo_instance_id mid, hg_addr_t addr)
{
    hg_size_t size = 0;
    if (margo_addr_to_string(mid, NULL, &size, addr) != HG_SUCCESS || size == 0)
        return NULL;
    char* buf = malloc(size);
    if (!buf) return NULL;
    if (margo_addr_to_string(mid, buf, &size, addr) != HG_SUCCESS) {
        free(buf);
        return NULL;
    }
    return buf;
}

static void expect_lookup_error(margo_instance_id mid, const char* name, const char* label)
{
    hg_addr_t   addr = HG_ADDR_NULL;
    hg_return_t ret  = margo_addr_lookup(mid, name, &addr);
    char        what[256];
    snprintf(what, sizeof what, "lookup of %s is rejected (returned %d)", label, (int)ret);
    check(ret != HG_SUCCESS, what);
    if (ret == HG_SUCCESS && addr != HG_ADDR_NULL) margo_addr_free(mid, addr);
}

int main(int argc, char** argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s PROTOCOL SERVER_ADDRESS\n", argv[0]);
        return 2;
    }
    const char* protocol = argv[1];
    const char* target   = argv[2];

    margo_instance_id mid = margo_init(protocol, MARGO_CLIENT_MODE, 0, 0);
    if (mid == MARGO_INSTANCE_NULL) {
        fprintf(stderr, "margo-client: margo_init(\"%s\") failed\n", protocol);
        return 1;
    }

    hg_addr_t   server = HG_ADDR_NULL;
    hg_return_t hret   = margo_addr_lookup(mid, target, &server);
    check(hret == HG_SUCCESS && server != HG_ADDR_NULL, "lookup of the server address");
    if (hret != HG_SUCCESS || server == HG_ADDR_NULL) {
        margo_finalize(mid);
        printf("margo-client: %d check(s) failed\n", failures);
        return failures;
    }

    char* text = addr_text(mid, server);
    printf("server address: %s\n", text ? text : "(none)");
    check(text && strcmp(text, target) == 0, "margo_addr_to_string gives back the looked-up text");
    free(text);

    /* A too small buffer is reported, with the size needed. */
    {
        char      tiny[2];
        hg_size_t size = sizeof tiny;
        hret           = margo_addr_to_string(mid, tiny, &size, server);
        check(hret != HG_SUCCESS && size == strlen(target) + 1,
              "margo_addr_to_string reports a too small buffer and the size needed");
    }

    hg_addr_t copy = HG_ADDR_NULL;
    hret           = margo_addr_dup(mid, server, &copy);
    check(hret == HG_SUCCESS && copy != HG_ADDR_NULL, "margo_addr_dup");
    check(margo_addr_cmp(mid, server, server) == HG_TRUE, "margo_addr_cmp(server, server)");
    if (copy != HG_ADDR_NULL) {
        check(margo_addr_cmp(mid, server, copy) == HG_TRUE, "margo_addr_cmp(server, duplicate)");
        check(margo_addr_free(mid, copy) == HG_SUCCESS, "margo_addr_free(duplicate)");
    }

    hg_addr_t self = HG_ADDR_NULL;
    hret           = margo_addr_self(mid, &self);
    check(hret == HG_SUCCESS && self != HG_ADDR_NULL, "margo_addr_self");
    if (self != HG_ADDR_NULL) {
        check(margo_addr_cmp(mid, server, self) == HG_FALSE, "margo_addr_cmp(server, self) is false");
        margo_addr_free(mid, self);
    }

    /* Bad addresses must fail with an error code, not crash or hang. */
    expect_lookup_error(mid, "", "\"\"");
    expect_lookup_error(mid, NULL, "NULL");
    expect_lookup_error(mid, "na+sm://garbage", "\"na+sm://garbage\"");
    {
        char garbage[128];
        snprintf(garbage, sizeof garbage, "%s://garbage", protocol);
        if (strcmp(garbage, "na+sm://garbage") != 0) {
            char label[160];
            snprintf(label, sizeof label, "\"%s\"", garbage);
            expect_lookup_error(mid, garbage, label);
        }
    }

    /* Finally, shut the server down. */
    int ret = margo_shutdown_remote_instance(mid, server);
    check(ret == 0, "margo_shutdown_remote_instance");

    margo_addr_free(mid, server);
    margo_finalize(mid);

    if (failures)
        printf("margo-client: %d check(s) failed\n", failures);
    else
        printf("margo-client: all checks passed\n");
    return failures;
}
