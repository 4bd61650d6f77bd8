/*
 * margo-echo: the upstream-margo twin of `mochi-echo`, for a same-machine
 * latency comparison (benches/upstream-echo.sh).
 *
 *   margo-echo server PROTO ADDR_FILE   serve "echo" (no input, no output)
 *                                       until a "shutdown" RPC arrives
 *   margo-echo client ADDR COUNT        1000 warm-up calls, then COUNT timed
 *                                       calls; prints the same key=value
 *                                       line as `mochi-echo client`
 *   margo-echo shutdown ADDR            ask the server to exit
 *
 * A timed call is what one RPC costs a margo caller: margo_create +
 * margo_forward + margo_destroy, measured with CLOCK_MONOTONIC (what Rust's
 * Instant reads).  Percentiles use mochi-echo's rule: the sorted sample at
 * index floor((n - 1) * p).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <abt.h>
#include <margo.h>

#define WARMUP_CALLS 1000

/* Set by the "shutdown" handler; main() waits on it, then finalizes. */
static ABT_eventual shutdown_requested = ABT_EVENTUAL_NULL;

static void echo_ult(hg_handle_t handle)
{
    hg_return_t ret = margo_respond(handle, NULL);
    if (ret != HG_SUCCESS)
        fprintf(stderr, "margo-echo: echo respond: %s\n", HG_Error_to_string(ret));
    margo_destroy(handle);
}
DEFINE_MARGO_RPC_HANDLER(echo_ult)

static void shutdown_ult(hg_handle_t handle)
{
    hg_return_t ret = margo_respond(handle, NULL);
    if (ret != HG_SUCCESS)
        fprintf(stderr, "margo-echo: shutdown respond: %s\n", HG_Error_to_string(ret));
    margo_destroy(handle);
    ABT_eventual_set(shutdown_requested, NULL, 0);
}
DEFINE_MARGO_RPC_HANDLER(shutdown_ult)

static int fail(const char *what, hg_return_t ret)
{
    fprintf(stderr, "margo-echo: %s: %s\n", what, HG_Error_to_string(ret));
    return 1;
}

/* "ofi+tcp;ofi_rxm://1.2.3.4:5" -> "ofi+tcp;ofi_rxm" (caller frees). */
static char *protocol_of(const char *addr)
{
    const char *sep = strstr(addr, "://");
    size_t len = sep ? (size_t)(sep - addr) : strlen(addr);
    char *proto = malloc(len + 1);
    if (proto) {
        memcpy(proto, addr, len);
        proto[len] = '\0';
    }
    return proto;
}

static int write_addr_file(margo_instance_id mid, const char *path)
{
    hg_addr_t self;
    char buf[256];
    hg_size_t len = sizeof(buf);
    hg_return_t ret = margo_addr_self(mid, &self);
    if (ret != HG_SUCCESS)
        return fail("margo_addr_self", ret);
    ret = margo_addr_to_string(mid, buf, &len, self);
    margo_addr_free(mid, self);
    if (ret != HG_SUCCESS)
        return fail("margo_addr_to_string", ret);

    /* Write then rename, so a poller never sees half an address. */
    size_t tmplen = strlen(path) + 5;
    char *tmp = malloc(tmplen);
    if (!tmp)
        return 1;
    snprintf(tmp, tmplen, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f || fprintf(f, "%s\n", buf) < 0 || fclose(f) != 0) {
        fprintf(stderr, "margo-echo: %s: %s\n", tmp, strerror(errno));
        free(tmp);
        return 1;
    }
    if (rename(tmp, path) != 0) {
        fprintf(stderr, "margo-echo: %s: %s\n", path, strerror(errno));
        free(tmp);
        return 1;
    }
    free(tmp);
    printf("%s\n", buf);
    fflush(stdout);
    return 0;
}

static int run_server(const char *proto, const char *addr_file)
{
    margo_instance_id mid = margo_init(proto, MARGO_SERVER_MODE, 0, 0);
    if (mid == MARGO_INSTANCE_NULL) {
        fprintf(stderr, "margo-echo: margo_init(%s) failed\n", proto);
        return 1;
    }
    if (ABT_eventual_create(0, &shutdown_requested) != ABT_SUCCESS) {
        fprintf(stderr, "margo-echo: ABT_eventual_create failed\n");
        margo_finalize(mid);
        return 1;
    }
    MARGO_REGISTER(mid, "echo", void, void, echo_ult);
    MARGO_REGISTER(mid, "shutdown", void, void, shutdown_ult);
    if (write_addr_file(mid, addr_file) != 0) {
        margo_finalize(mid);
        return 1;
    }
    /* The primary ULT sleeps in Argobots while margo's progress loop runs. */
    ABT_eventual_wait(shutdown_requested, NULL);
    ABT_eventual_free(&shutdown_requested);
    margo_finalize(mid);
    return 0;
}

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* One empty RPC, as a margo caller issues it. */
static hg_return_t call_once(margo_instance_id mid, hg_addr_t server, hg_id_t id)
{
    hg_handle_t h;
    hg_return_t ret = margo_create(mid, server, id, &h);
    if (ret != HG_SUCCESS)
        return ret;
    ret = margo_forward(h, NULL);
    margo_destroy(h);
    return ret;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Client side: init, look up, register; COUNT == 0 sends "shutdown". */
static int run_client(const char *addr, long count)
{
    char *proto = protocol_of(addr);
    if (!proto)
        return 1;
    margo_instance_id mid = margo_init(proto, MARGO_CLIENT_MODE, 0, 0);
    if (mid == MARGO_INSTANCE_NULL) {
        fprintf(stderr, "margo-echo: margo_init(%s) failed\n", proto);
        free(proto);
        return 1;
    }
    free(proto);
    hg_id_t echo_id = MARGO_REGISTER(mid, "echo", void, void, NULL);
    hg_id_t shutdown_id = MARGO_REGISTER(mid, "shutdown", void, void, NULL);
    hg_addr_t server;
    hg_return_t ret = margo_addr_lookup(mid, addr, &server);
    if (ret != HG_SUCCESS) {
        margo_finalize(mid);
        return fail("margo_addr_lookup", ret);
    }

    int status = 0;
    if (count == 0) {
        ret = call_once(mid, server, shutdown_id);
        if (ret != HG_SUCCESS)
            status = fail("shutdown RPC", ret);
    } else {
        double *rtts = malloc(sizeof(double) * (size_t)count);
        if (!rtts) {
            fprintf(stderr, "margo-echo: out of memory\n");
            status = 1;
        }
        /* Warm-up: connection set-up and first-touch costs stay out. */
        for (int i = 0; status == 0 && i < WARMUP_CALLS; i++) {
            ret = call_once(mid, server, echo_id);
            if (ret != HG_SUCCESS)
                status = fail("echo RPC (warm-up)", ret);
        }
        double start = now_us();
        for (long i = 0; status == 0 && i < count; i++) {
            double t = now_us();
            ret = call_once(mid, server, echo_id);
            rtts[i] = now_us() - t;
            if (ret != HG_SUCCESS)
                status = fail("echo RPC", ret);
        }
        double elapsed_s = (now_us() - start) / 1e6;
        if (status == 0) {
            qsort(rtts, (size_t)count, sizeof(double), cmp_double);
#define PCT(p) rtts[(size_t)((double)(count - 1) * (p))]
            printf("calls=%ld size=0B threads=1 median_us=%.1f p99_us=%.1f max_us=%.1f calls_per_s=%.0f\n", count,
                   PCT(0.5), PCT(0.99), PCT(1.0), (double)count / elapsed_s);
#undef PCT
        }
        free(rtts);
    }
    margo_addr_free(mid, server);
    margo_finalize(mid);
    return status;
}

static int usage(void)
{
    fprintf(stderr,
            "usage: margo-echo server PROTO ADDR_FILE\n"
            "       margo-echo client ADDR COUNT\n"
            "       margo-echo shutdown ADDR\n");
    return 2;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "server") == 0)
        return run_server(argv[2], argv[3]);
    if (argc == 4 && strcmp(argv[1], "client") == 0) {
        char *end;
        errno = 0;
        long count = strtol(argv[3], &end, 10);
        if (errno != 0 || *end != '\0' || count < 1) {
            fprintf(stderr, "margo-echo: COUNT must be a positive integer, got '%s'\n", argv[3]);
            return 2;
        }
        return run_client(argv[2], count);
    }
    if (argc == 3 && strcmp(argv[1], "shutdown") == 0)
        return run_client(argv[2], 0);
    return usage();
}
