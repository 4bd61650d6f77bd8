/*
 * bulk-bench: margo bulk throughput between two processes (see
 * benches/bulk-throughput.sh).
 *
 *   bulk-bench server PROTOCOL ADDRESS_FILE
 *   bulk-bench client PROTOCOL SERVER_ADDRESS MODE CHUNK [REPS]
 *
 * The client exposes 64 MiB (read-write) and sends the handle in an RPC
 * input; the server pulls it REPS times (default 4) into its own 64 MiB,
 * then pushes it back REPS times, and answers the times. MODE: 0
 * margo_bulk_transfer, 1 margo_bulk_itransfer + margo_wait, 2
 * margo_bulk_parallel_transfer in CHUNK-byte chunks. Prints one line:
 * "pull N MiB/s push N MiB/s". Then the client shuts the server down.
 */
#include <margo.h>
#include <margo-bulk-util.h>
#include <mercury_macros.h>
#include <mercury_proc_bulk.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SIZE ((size_t)64 << 20)

MERCURY_GEN_PROC(bench_in_t, ((hg_bulk_t)(bulk))((uint32_t)(reps))((uint32_t)(mode))((uint64_t)(chunk)))
MERCURY_GEN_PROC(bench_out_t, ((uint64_t)(pull_ns))((uint64_t)(push_ns))((int32_t)(ret)))

static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static hg_return_t move(margo_instance_id mid, hg_bulk_op_t op, hg_addr_t addr, hg_bulk_t remote, hg_bulk_t local,
                        uint32_t mode, size_t chunk)
{
    if (mode == 1) {
        margo_request req = MARGO_REQUEST_NULL;
        hg_return_t   ret = margo_bulk_itransfer(mid, op, addr, remote, 0, local, 0, SIZE, &req);
        return ret != HG_SUCCESS ? ret : margo_wait(req);
    }
    if (mode == 2) return margo_bulk_parallel_transfer(mid, op, addr, remote, 0, local, 0, SIZE, chunk);
    return margo_bulk_transfer(mid, op, addr, remote, 0, local, 0, SIZE);
}

static void bench_ult(hg_handle_t handle)
{
    margo_instance_id     mid  = margo_hg_handle_get_instance(handle);
    const struct hg_info* info = margo_get_info(handle);
    bench_in_t            in;
    bench_out_t           out = {0, 0, HG_OTHER_ERROR};
    if (margo_get_input(handle, &in) == HG_SUCCESS) {
        void*     buf  = malloc(SIZE);
        hg_size_t size = SIZE;
        hg_bulk_t local = HG_BULK_NULL;
        if (buf && margo_bulk_create(mid, 1, &buf, &size, HG_BULK_READWRITE, &local) == HG_SUCCESS) {
            memset(buf, 1, SIZE);
            out.ret     = HG_SUCCESS;
            uint64_t t0 = now_ns();
            for (uint32_t i = 0; i < in.reps && out.ret == HG_SUCCESS; i++)
                out.ret = move(mid, HG_BULK_PULL, info->addr, in.bulk, local, in.mode, in.chunk);
            uint64_t t1 = now_ns();
            for (uint32_t i = 0; i < in.reps && out.ret == HG_SUCCESS; i++)
                out.ret = move(mid, HG_BULK_PUSH, info->addr, in.bulk, local, in.mode, in.chunk);
            out.pull_ns = t1 - t0;
            out.push_ns = now_ns() - t1;
            margo_bulk_free(local);
        }
        free(buf);
        margo_free_input(handle, &in);
    }
    margo_respond(handle, &out);
    margo_destroy(handle);
}
DEFINE_MARGO_RPC_HANDLER(bench_ult)

int main(int argc, char** argv)
{
    if (argc == 4 && strcmp(argv[1], "server") == 0) {
        margo_instance_id mid = margo_init(argv[2], MARGO_SERVER_MODE, 0, 0);
        if (mid == MARGO_INSTANCE_NULL) return 1;
        margo_enable_remote_shutdown(mid);
        MARGO_REGISTER(mid, "bulk_bench", bench_in_t, bench_out_t, bench_ult);
        hg_addr_t self = HG_ADDR_NULL;
        char      address[256];
        hg_size_t n = sizeof address;
        if (margo_addr_self(mid, &self) != HG_SUCCESS || margo_addr_to_string(mid, address, &n, self) != HG_SUCCESS) return 1;
        margo_addr_free(mid, self);
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s.tmp", argv[3]);
        FILE* f = fopen(tmp, "w");
        if (!f || fprintf(f, "%s\n", address) < 0 || fclose(f) != 0 || rename(tmp, argv[3]) != 0) return 1;
        margo_wait_for_finalize(mid);
        return 0;
    }
    if (argc < 6 || strcmp(argv[1], "client") != 0) {
        fprintf(stderr, "usage: %s server PROTOCOL ADDRESS_FILE | client PROTOCOL SERVER_ADDRESS MODE CHUNK [REPS]\n", argv[0]);
        return 2;
    }
    margo_instance_id mid = margo_init(argv[2], MARGO_CLIENT_MODE, 0, 0);
    if (mid == MARGO_INSTANCE_NULL) return 1;
    hg_id_t   id     = MARGO_REGISTER(mid, "bulk_bench", bench_in_t, bench_out_t, NULL);
    hg_addr_t server = HG_ADDR_NULL;
    void*     buf    = malloc(SIZE);
    hg_size_t size   = SIZE;
    hg_bulk_t bulk   = HG_BULK_NULL;
    if (!buf || margo_addr_lookup(mid, argv[3], &server) != HG_SUCCESS
        || margo_bulk_create(mid, 1, &buf, &size, HG_BULK_READWRITE, &bulk) != HG_SUCCESS)
        return 1;
    memset(buf, 2, SIZE);
    uint32_t    reps = argc > 6 ? (uint32_t)atoi(argv[6]) : 4;
    bench_in_t  in   = {bulk, reps, (uint32_t)atoi(argv[4]), (uint64_t)strtoull(argv[5], NULL, 10)};
    bench_out_t out  = {0, 0, HG_OTHER_ERROR};
    hg_handle_t h    = HG_HANDLE_NULL;
    int         rc   = 1;
    if (margo_create(mid, server, id, &h) == HG_SUCCESS && margo_forward(h, &in) == HG_SUCCESS
        && margo_get_output(h, &out) == HG_SUCCESS) {
        double mib = (double)reps * (double)(SIZE >> 20);
        if (out.ret == HG_SUCCESS && out.pull_ns && out.push_ns) {
            printf("pull %.0f MiB/s push %.0f MiB/s\n", mib / (out.pull_ns / 1e9), mib / (out.push_ns / 1e9));
            rc = 0;
        } else {
            printf("failed: %s\n", HG_Error_to_string(out.ret));
        }
        margo_free_output(h, &out);
    }
    margo_destroy(h);
    margo_shutdown_remote_instance(mid, server);
    margo_addr_free(mid, server);
    margo_bulk_free(bulk);
    margo_finalize(mid);
    free(buf);
    return rc;
}
