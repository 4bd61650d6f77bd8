/*
 * margo-bulk-server: a Margo service moving data with bulk handles, written
 * against upstream's API.
 *
 *   margo-bulk-server PROTOCOL ADDRESS_FILE
 *
 * Serves, until a client shuts it down (margo_shutdown_remote_instance):
 *   "xform"  pulls the client's read-only buffer (in_bulk) into two local
 *            segments, checks its bytes, pushes the transformed bytes into
 *            the client's write-only buffer (out_bulk) in one local segment,
 *            and answers the codes of the transfers that must fail: a pull
 *            past the end, a pull at an offset past the end, a push into
 *            the read-only handle, a pull from the write-only one;
 *   "stash"  keeps a reference to the handle it is given (margo_bulk_ref_incr);
 *   "late"   pulls one byte from the stashed handle and answers the code
 *            (the client freed it meanwhile: HG_NOENTRY expected), then
 *            releases it;
 *   "serial" makes a handle from bytes margo_bulk_serialize wrote
 *            (margo_bulk_deserialize), pulls through it into two local
 *            segments with margo_bulk_itransfer (margo_test, then
 *            margo_wait), checks the bytes, reads the local segments back
 *            with margo_bulk_access, pulls again with
 *            margo_bulk_parallel_transfer in 1 MiB chunks, and once more with
 *            margo_bulk_ctransfer (the callback sets an eventual), and answers the
 *            codes, with that of deserializing the bytes cut short.
 * Prints its address on stdout and writes it to ADDRESS_FILE.
 */
#include "margo-bulk-types.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static hg_bulk_t stashed      = HG_BULK_NULL;
static hg_addr_t stashed_addr = HG_ADDR_NULL;

static void xform_ult(hg_handle_t handle);
DECLARE_MARGO_RPC_HANDLER(xform_ult)

/* What margo_bulk_ctransfer's callback hands over: its code, then the
 * eventual set. */
struct ctransfer_done {
    ABT_eventual eventual;
    hg_return_t  ret;
};

static void ctransfer_cb(void* uargs, hg_return_t ret)
{
    struct ctransfer_done* done = uargs;
    done->ret                   = ret;
    ABT_eventual_set(done->eventual, NULL, 0);
}
static void stash_ult(hg_handle_t handle);
DECLARE_MARGO_RPC_HANDLER(stash_ult)
static void late_ult(hg_handle_t handle);
DECLARE_MARGO_RPC_HANDLER(late_ult)
static void serial_ult(hg_handle_t handle);
DECLARE_MARGO_RPC_HANDLER(serial_ult)

static void xform_ult(hg_handle_t handle)
{
    margo_instance_id     mid  = margo_hg_handle_get_instance(handle);
    const struct hg_info* info = margo_get_info(handle);
    xform_in_t            in;
    xform_out_t           out;
    memset(&out, 0, sizeof out);
    if (margo_get_input(handle, &in) != HG_SUCCESS) {
        margo_error(mid, "xform: margo_get_input failed");
        margo_destroy(handle);
        return;
    }
    hg_size_t size = margo_bulk_get_size(in.in_bulk);
    out.seen_size  = size;

    hg_size_t      half     = size / 3;
    unsigned char* a        = malloc(half);
    unsigned char* b        = malloc(size - half);
    unsigned char* back     = malloc(size);
    void*          ptrs[2]  = {a, b};
    hg_size_t      sizes[2] = {half, size - half};
    hg_bulk_t      local = HG_BULK_NULL, local_out = HG_BULK_NULL;
    hg_return_t    hret  = HG_SUCCESS;
    if (!a || !b || !back || size != in.size
        || margo_bulk_create(mid, 2, ptrs, sizes, HG_BULK_READWRITE, &local) != HG_SUCCESS) {
        margo_error(mid, "xform: bad size or cannot make the local handle");
    } else {
        /* Pull into two local segments of unequal sizes. */
        hret = margo_bulk_transfer(mid, HG_BULK_PULL, info->addr, in.in_bulk, 0, local, 0, size);
        if (hret == HG_SUCCESS) {
            int ok = 1;
            for (hg_size_t i = 0; i < size && ok; i++) {
                unsigned char c = i < half ? a[i] : b[i - half];
                ok              = c == bulk_pattern(i, in.seed);
            }
            out.pulled_ok = ok;
            for (hg_size_t i = 0; i < size; i++) back[i] = bulk_transform(i < half ? a[i] : b[i - half]);
        } else {
            margo_error(mid, "xform: pull failed: %s", HG_Error_to_string(hret));
        }

        /* Push back, from one segment, in two transfers (the second at an offset). */
        void*     one[1]      = {back};
        hg_size_t one_size[1] = {size};
        out.pushed            = HG_OTHER_ERROR;
        if (margo_bulk_create(mid, 1, one, one_size, HG_BULK_READ_ONLY, &local_out) == HG_SUCCESS) {
            hg_size_t first = size / 2 + 12345;
            out.pushed = margo_bulk_transfer(mid, HG_BULK_PUSH, info->addr, in.out_bulk, 0, local_out, 0, first);
            if (out.pushed == HG_SUCCESS)
                out.pushed = margo_bulk_transfer(mid, HG_BULK_PUSH, info->addr, in.out_bulk, first, local_out, first,
                                                 size - first);
        }

        /* What must fail. */
        out.oob_pull   = margo_bulk_transfer(mid, HG_BULK_PULL, info->addr, in.in_bulk, 0, local, 0, size + 1);
        out.oob_offset = margo_bulk_transfer(mid, HG_BULK_PULL, info->addr, in.in_bulk, size - 10, local, 0, 20);
        out.push_into_read_only  = margo_bulk_transfer(mid, HG_BULK_PUSH, info->addr, in.in_bulk, 0, local_out, 0, 1);
        out.pull_from_write_only = margo_bulk_transfer(mid, HG_BULK_PULL, info->addr, in.out_bulk, 0, local, 0, 1);
    }

    margo_bulk_free(local);
    margo_bulk_free(local_out);
    free(a);
    free(b);
    free(back);
    hret = margo_respond(handle, &out);
    if (hret != HG_SUCCESS) margo_error(mid, "xform: margo_respond failed: %s", HG_Error_to_string(hret));
    margo_free_input(handle, &in);
    margo_destroy(handle);
}
DEFINE_MARGO_RPC_HANDLER(xform_ult)

static void stash_ult(hg_handle_t handle)
{
    margo_instance_id mid = margo_hg_handle_get_instance(handle);
    stash_in_t        in;
    if (margo_get_input(handle, &in) == HG_SUCCESS) {
        /* Keep the handle past margo_free_input, and the caller's address. */
        if (in.bulk != HG_BULK_NULL && margo_bulk_ref_incr(in.bulk) == HG_SUCCESS) {
            stashed = in.bulk;
            margo_addr_dup(mid, margo_get_info(handle)->addr, &stashed_addr);
        }
        margo_free_input(handle, &in);
    }
    margo_respond(handle, NULL);
    margo_destroy(handle);
}
DEFINE_MARGO_RPC_HANDLER(stash_ult)

static void late_ult(hg_handle_t handle)
{
    margo_instance_id mid = margo_hg_handle_get_instance(handle);
    late_out_t        out = {HG_OTHER_ERROR};
    unsigned char     byte;
    void*             ptrs[1]  = {&byte};
    hg_size_t         sizes[1] = {1};
    hg_bulk_t         local    = HG_BULK_NULL;
    if (stashed != HG_BULK_NULL && margo_bulk_create(mid, 1, ptrs, sizes, HG_BULK_WRITE_ONLY, &local) == HG_SUCCESS) {
        out.ret = margo_bulk_transfer(mid, HG_BULK_PULL, stashed_addr, stashed, 0, local, 0, 1);
        margo_bulk_free(local);
    }
    margo_bulk_free(stashed);
    margo_addr_free(mid, stashed_addr);
    stashed      = HG_BULK_NULL;
    stashed_addr = HG_ADDR_NULL;
    margo_respond(handle, &out);
    margo_destroy(handle);
}
DEFINE_MARGO_RPC_HANDLER(late_ult)

/* 1 if the two segments hold bulk_pattern(i, seed) for i in [0, size). */
static int holds_pattern(const unsigned char* a, hg_size_t na, const unsigned char* b, hg_size_t size, uint32_t seed)
{
    for (hg_size_t i = 0; i < size; i++)
        if ((i < na ? a[i] : b[i - na]) != bulk_pattern(i, seed)) return 0;
    return 1;
}

static void serial_ult(hg_handle_t handle)
{
    margo_instance_id     mid  = margo_hg_handle_get_instance(handle);
    const struct hg_info* info = margo_get_info(handle);
    serial_in_t           in;
    serial_out_t          out;
    memset(&out, 0, sizeof out);
    out.deserialized = out.tested = out.itransfer = out.parallel = out.ctransfer = out.truncated = HG_OTHER_ERROR;
    if (margo_get_input(handle, &in) != HG_SUCCESS) {
        margo_error(mid, "serial: margo_get_input failed");
        margo_destroy(handle);
        return;
    }
    hg_bulk_t remote = HG_BULK_NULL, local = HG_BULK_NULL;
    out.deserialized = margo_bulk_deserialize(mid, &remote, in.bytes, in.len);
    hg_size_t      size     = margo_bulk_get_size(remote);
    hg_size_t      half     = size / 2 + 3;
    unsigned char* a        = malloc(half);
    unsigned char* b        = malloc(size > half ? size - half : 1);
    void*          ptrs[2]  = {a, b};
    hg_size_t      sizes[2] = {half, size - half};
    out.seen_size           = size;
    if (out.deserialized == HG_SUCCESS && size > half && a && b
        && margo_bulk_create(mid, 2, ptrs, sizes, HG_BULK_WRITE_ONLY, &local) == HG_SUCCESS) {
        /* A non-blocking pull through the deserialized handle. */
        margo_request req = MARGO_REQUEST_NULL;
        out.itransfer     = margo_bulk_itransfer(mid, HG_BULK_PULL, info->addr, remote, 0, local, 0, size, &req);
        if (out.itransfer == HG_SUCCESS) {
            int flag   = -1;
            out.tested = margo_test(req, &flag) == 0 && (flag == 0 || flag == 1) ? HG_SUCCESS : HG_OTHER_ERROR;
            out.itransfer = margo_wait(req);
        }
        out.pulled_ok = out.itransfer == HG_SUCCESS && holds_pattern(a, half, b, size, in.seed);

        /* The local segments, as margo_bulk_access gives them. */
        void*     got_ptrs[4];
        hg_size_t got_sizes[4];
        uint32_t  count = 0;
        if (margo_bulk_access(local, 0, size, HG_BULK_READWRITE, 4, got_ptrs, got_sizes, &count) == HG_SUCCESS
            && count == 2 && got_ptrs[0] == (void*)a && got_ptrs[1] == (void*)b) {
            out.access_count = count;
            out.access_bytes = got_sizes[0] + got_sizes[1];
        }

        /* Again, in 1 MiB chunks run concurrently. */
        memset(a, 0, half);
        memset(b, 0, size - half);
        out.parallel    = margo_bulk_parallel_transfer(mid, HG_BULK_PULL, info->addr, remote, 0, local, 0, size, 1u << 20);
        out.parallel_ok = out.parallel == HG_SUCCESS && holds_pattern(a, half, b, size, in.seed);

        /* Once more, ending in a callback that hands its code over. */
        memset(a, 0, half);
        memset(b, 0, size - half);
        struct ctransfer_done done = {ABT_EVENTUAL_NULL, HG_OTHER_ERROR};
        ABT_eventual_create(0, &done.eventual);
        out.ctransfer = margo_bulk_ctransfer(mid, HG_BULK_PULL, info->addr, remote, 0, local, 0, size, ctransfer_cb, &done);
        if (out.ctransfer == HG_SUCCESS) {
            ABT_eventual_wait(done.eventual, NULL);
            out.ctransfer = done.ret;
        }
        ABT_eventual_free(&done.eventual);
        out.ctransfer_ok = out.ctransfer == HG_SUCCESS && holds_pattern(a, half, b, size, in.seed);
    }
    /* The same bytes, cut short, make no handle. */
    hg_bulk_t cut = HG_BULK_NULL;
    out.truncated = margo_bulk_deserialize(mid, &cut, in.bytes, in.len > 0 ? in.len - 1 : 0);
    if (cut != HG_BULK_NULL) margo_bulk_free(cut);

    margo_bulk_free(local);
    margo_bulk_free(remote);
    free(a);
    free(b);
    hg_return_t hret = margo_respond(handle, &out);
    if (hret != HG_SUCCESS) margo_error(mid, "serial: margo_respond failed: %s", HG_Error_to_string(hret));
    margo_free_input(handle, &in);
    margo_destroy(handle);
}
DEFINE_MARGO_RPC_HANDLER(serial_ult)

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
        fprintf(stderr, "margo-bulk-server: margo_init(\"%s\") failed\n", argv[1]);
        return 1;
    }
    margo_enable_remote_shutdown(mid);
    hg_id_t xform_id = MARGO_REGISTER(mid, "xform", xform_in_t, xform_out_t, xform_ult);
    hg_id_t stash_id = MARGO_REGISTER(mid, "stash", stash_in_t, void, stash_ult);
    hg_id_t late_id   = MARGO_REGISTER(mid, "late", void, late_out_t, late_ult);
    hg_id_t serial_id = MARGO_REGISTER(mid, "serial", serial_in_t, serial_out_t, serial_ult);
    if (!xform_id || !stash_id || !late_id || !serial_id) {
        fprintf(stderr, "margo-bulk-server: registration failed\n");
        margo_finalize(mid);
        return 1;
    }

    hg_addr_t self = HG_ADDR_NULL;
    char      address[256];
    hg_size_t size = sizeof address;
    if (margo_addr_self(mid, &self) != HG_SUCCESS || margo_addr_to_string(mid, address, &size, self) != HG_SUCCESS) {
        fprintf(stderr, "margo-bulk-server: cannot get its own address\n");
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
    printf("margo-bulk-server: finalized\n");
    return 0;
}
