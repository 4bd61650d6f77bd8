/*
 * margo-sum-server: a Margo service written against upstream's RPC API.
 *
 *   margo-sum-server PROTOCOL ADDRESS_FILE
 *
 * Serves, until a client shuts it down (margo_shutdown_remote_instance):
 *   "sum"      at provider SUM_PROVIDER_ID on the handler pool: x + y, a
 *              message built from the input's label, whether the caller's
 *              address (margo_get_info) could be duplicated and printed, and
 *              how many calls the registration's data has counted;
 *   "wait"     sleeps the requested time, then answers (for timeouts);
 *   "noreply"  drops its request without answering;
 *   "bump"     adds its int32_t input to a total (response disabled);
 *   "count"    answers that total (void input, uint64_t output).
 * Prints its address on stdout and writes it to ADDRESS_FILE (as
 * margo-server does). Exits 0 once finalized if the data registered for
 * "sum" was released by its free callback.
 */
#include "margo-sum-types.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sum_state {
    atomic_ulong calls;
};

static atomic_int  released = 0;
static atomic_long total    = 0;

static void release_state(void* data)
{
    free(data);
    atomic_store(&released, 1);
}

static void sum_ult(hg_handle_t handle);
DECLARE_MARGO_RPC_HANDLER(sum_ult)
static void wait_ult(hg_handle_t handle);
DECLARE_MARGO_RPC_HANDLER(wait_ult)
static void noreply_ult(hg_handle_t handle);
DECLARE_MARGO_RPC_HANDLER(noreply_ult)
static void bump_ult(hg_handle_t handle);
DECLARE_MARGO_RPC_HANDLER(bump_ult)
static void count_ult(hg_handle_t handle);
DECLARE_MARGO_RPC_HANDLER(count_ult)

static void sum_ult(hg_handle_t handle)
{
    margo_instance_id mid = margo_hg_handle_get_instance(handle);
    sum_in_t          in;
    hg_return_t       hret = margo_get_input(handle, &in);
    if (hret != HG_SUCCESS) {
        /* Bytes that do not decode: drop the request (the caller gets an error). */
        margo_error(mid, "sum: margo_get_input failed: %s", HG_Error_to_string(hret));
        margo_destroy(handle);
        return;
    }

    const struct hg_info* info  = margo_get_info(handle);
    struct sum_state*     state = (struct sum_state*)margo_registered_data(mid, info->id);

    sum_out_t out;
    memset(&out, 0, sizeof out);
    out.ret   = in.x + in.y;
    out.calls = state ? atomic_fetch_add(&state->calls, 1) + 1 : 0;

    hg_addr_t caller = HG_ADDR_NULL;
    if (margo_addr_dup(mid, info->addr, &caller) == HG_SUCCESS) {
        char      text[256];
        hg_size_t size  = sizeof text;
        out.saw_caller = margo_addr_to_string(mid, text, &size, caller) == HG_SUCCESS && size > 1;
        margo_addr_free(mid, caller);
    }

    char message[256];
    snprintf(message, sizeof message, "%s: %d+%d=%d", in.label ? in.label : "(null)", in.x, in.y, out.ret);
    out.message = message;

    hret = margo_respond(handle, &out);
    if (hret != HG_SUCCESS) margo_error(mid, "sum: margo_respond failed: %s", HG_Error_to_string(hret));
    margo_free_input(handle, &in);
    margo_destroy(handle);
}
DEFINE_MARGO_RPC_HANDLER(sum_ult)

static void wait_ult(hg_handle_t handle)
{
    margo_instance_id mid = margo_hg_handle_get_instance(handle);
    wait_in_t         in;
    if (margo_get_input(handle, &in) == HG_SUCCESS) {
        margo_thread_sleep(mid, (double)in.ms);
        margo_respond(handle, NULL);
        margo_free_input(handle, &in);
    }
    margo_destroy(handle);
}
DEFINE_MARGO_RPC_HANDLER(wait_ult)

static void noreply_ult(hg_handle_t handle)
{
    margo_destroy(handle);
}
DEFINE_MARGO_RPC_HANDLER(noreply_ult)

static void bump_ult(hg_handle_t handle)
{
    int32_t by = 0;
    if (margo_get_input(handle, &by) == HG_SUCCESS) {
        atomic_fetch_add(&total, by);
        margo_free_input(handle, &by);
    }
    margo_destroy(handle);
}
DEFINE_MARGO_RPC_HANDLER(bump_ult)

static void count_ult(hg_handle_t handle)
{
    uint64_t value = (uint64_t)atomic_load(&total);
    margo_respond(handle, &value);
    margo_destroy(handle);
}
DEFINE_MARGO_RPC_HANDLER(count_ult)

static int write_address_file(const char* path, const char* address)
{
    size_t len = strlen(path) + 8;
    char*  tmp = malloc(len);
    if (!tmp) return -1;
    snprintf(tmp, len, "%s.tmp", path);
    FILE* f = fopen(tmp, "w");
    if (!f) {
        perror(tmp);
        free(tmp);
        return -1;
    }
    int ok = fprintf(f, "%s\n", address) >= 0;
    ok     = (fclose(f) == 0) && ok;
    if (ok && rename(tmp, path) != 0) {
        perror(path);
        ok = 0;
    }
    free(tmp);
    return ok ? 0 : -1;
}

int main(int argc, char** argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s PROTOCOL ADDRESS_FILE\n", argv[0]);
        return 2;
    }
    margo_instance_id mid = margo_init(argv[1], MARGO_SERVER_MODE, 0, 0);
    if (mid == MARGO_INSTANCE_NULL) {
        fprintf(stderr, "margo-sum-server: margo_init(\"%s\") failed\n", argv[1]);
        return 1;
    }
    margo_enable_remote_shutdown(mid);

    ABT_pool pool = ABT_POOL_NULL;
    if (margo_get_handler_pool(mid, &pool) != 0) {
        fprintf(stderr, "margo-sum-server: margo_get_handler_pool failed\n");
        margo_finalize(mid);
        return 1;
    }
    hg_id_t sum_id   = MARGO_REGISTER_PROVIDER(mid, "sum", sum_in_t, sum_out_t, sum_ult, SUM_PROVIDER_ID, pool);
    hg_id_t wait_id  = MARGO_REGISTER(mid, "wait", wait_in_t, void, wait_ult);
    hg_id_t nr_id    = MARGO_REGISTER(mid, "noreply", void, void, noreply_ult);
    hg_id_t bump_id  = MARGO_REGISTER(mid, "bump", int32_t, void, bump_ult);
    hg_id_t count_id = MARGO_REGISTER(mid, "count", void, uint64_t, count_ult);
    if (!sum_id || !wait_id || !nr_id || !bump_id || !count_id) {
        fprintf(stderr, "margo-sum-server: registration failed\n");
        margo_finalize(mid);
        return 1;
    }
    margo_registered_disable_response(mid, bump_id, 1);

    struct sum_state* state = calloc(1, sizeof *state);
    if (!state || margo_register_data(mid, sum_id, state, release_state) != HG_SUCCESS) {
        fprintf(stderr, "margo-sum-server: margo_register_data failed\n");
        free(state);
        margo_finalize(mid);
        return 1;
    }

    hg_addr_t self = HG_ADDR_NULL;
    char      address[256];
    hg_size_t size = sizeof address;
    if (margo_addr_self(mid, &self) != HG_SUCCESS || margo_addr_to_string(mid, address, &size, self) != HG_SUCCESS) {
        fprintf(stderr, "margo-sum-server: cannot get its own address\n");
        margo_finalize(mid);
        return 1;
    }
    margo_addr_free(mid, self);
    printf("%s\n", address);
    fflush(stdout);
    if (write_address_file(argv[2], address) != 0) {
        margo_finalize(mid);
        return 1;
    }

    margo_wait_for_finalize(mid);
    if (!atomic_load(&released)) {
        fprintf(stderr, "margo-sum-server: the data registered for \"sum\" was not released at finalize\n");
        return 1;
    }
    printf("margo-sum-server: finalized, registered data released\n");
    return 0;
}
