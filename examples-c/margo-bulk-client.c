/*
 * margo-bulk-client: exposes memory to margo-bulk-server through bulk
 * handles sent in RPC inputs, then shuts the server down.
 *
 *   margo-bulk-client PROTOCOL SERVER_ADDRESS
 *
 * Checks: margo_bulk_create over two segments (read-only) and one
 * (write-only), margo_bulk_get_size / HG_Bulk_get_size; "xform": the server
 * pulls the read-only buffer, finds the expected bytes, pushes the
 * transformed bytes into the write-only one (checked here), and gets
 * HG_INVALID_ARG for transfers past the end and HG_PERMISSION for a push
 * into the read-only handle and a pull from the write-only one;
 * margo_bulk_access on the two-segment handle; margo_bulk_serialize (and
 * HG_OVERFLOW into too small a buffer) then "serial": the server
 * deserializes the bytes and pulls through them with margo_bulk_itransfer,
 * margo_bulk_parallel_transfer and margo_bulk_ctransfer, and refuses the
 * bytes cut short;
 * "stash" + margo_bulk_free + "late": a transfer naming a freed handle
 * fails with HG_NOENTRY at its owner; a transfer between two local handles,
 * blocking and with margo_bulk_itransfer; the errors of margo_bulk_create
 * (and margo_bulk_create_attr: host memory only),
 * margo_bulk_transfer and margo_bulk_itransfer for bad arguments.
 * Prints one "ok:" or "FAIL:" line per check; exits with the number of
 * failed checks.
 */
#include "margo-bulk-types.h"

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

int main(int argc, char** argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s PROTOCOL SERVER_ADDRESS\n", argv[0]);
        return 2;
    }
    margo_instance_id mid = margo_init(argv[1], MARGO_CLIENT_MODE, 0, 0);
    if (mid == MARGO_INSTANCE_NULL) {
        fprintf(stderr, "margo-bulk-client: margo_init(\"%s\") failed\n", argv[1]);
        return 1;
    }
    hg_addr_t server = HG_ADDR_NULL;
    check_ret(margo_addr_lookup(mid, argv[2], &server), HG_SUCCESS, "lookup of the server");
    if (server == HG_ADDR_NULL) {
        margo_finalize(mid);
        return 1;
    }
    printf("server address: %s\n", argv[2]);

    hg_id_t xform_id = MARGO_REGISTER(mid, "xform", xform_in_t, xform_out_t, NULL);
    hg_id_t stash_id = MARGO_REGISTER(mid, "stash", stash_in_t, void, NULL);
    hg_id_t late_id   = MARGO_REGISTER(mid, "late", void, late_out_t, NULL);
    hg_id_t serial_id = MARGO_REGISTER(mid, "serial", serial_in_t, serial_out_t, NULL);
    check(xform_id && stash_id && late_id && serial_id, "MARGO_REGISTER gives ids");

    /* The buffer the server pulls: two segments; the one it pushes into: one. */
    const uint32_t seed = 11;
    unsigned char* seg0 = malloc(BULK_SEG0);
    unsigned char* seg1 = malloc(BULK_SEG1);
    unsigned char* dest = calloc(1, BULK_SIZE);
    if (!seg0 || !seg1 || !dest) {
        fprintf(stderr, "margo-bulk-client: out of memory\n");
        return 1;
    }
    for (hg_size_t i = 0; i < BULK_SIZE; i++) {
        unsigned char c = bulk_pattern(i, seed);
        if (i < BULK_SEG0)
            seg0[i] = c;
        else
            seg1[i - BULK_SEG0] = c;
    }
    void*     ptrs[2]  = {seg0, seg1};
    hg_size_t sizes[2] = {BULK_SEG0, BULK_SEG1};
    hg_bulk_t in_bulk = HG_BULK_NULL, out_bulk = HG_BULK_NULL;
    check_ret(margo_bulk_create(mid, 2, ptrs, sizes, HG_BULK_READ_ONLY, &in_bulk), HG_SUCCESS,
              "margo_bulk_create: 2 segments, read-only");
    void*     dptr[1]  = {dest};
    hg_size_t dsize[1] = {BULK_SIZE};
    check_ret(margo_bulk_create(mid, 1, dptr, dsize, HG_BULK_WRITE_ONLY, &out_bulk), HG_SUCCESS,
              "margo_bulk_create: 1 segment, write-only");
    check(margo_bulk_get_size(in_bulk) == BULK_SIZE && HG_Bulk_get_size(out_bulk) == BULK_SIZE,
          "margo_bulk_get_size / HG_Bulk_get_size");

    /* The server pulls, checks, pushes back, and tries what must fail. */
    hg_handle_t h = HG_HANDLE_NULL;
    check_ret(margo_create(mid, server, xform_id, &h), HG_SUCCESS, "margo_create for \"xform\"");
    xform_in_t in = {in_bulk, out_bulk, BULK_SIZE, seed};
    check_ret(margo_forward_timed(h, &in, 30000.0), HG_SUCCESS, "\"xform\" with two bulk handles in its input");
    xform_out_t out;
    memset(&out, 0, sizeof out);
    check_ret(margo_get_output(h, &out), HG_SUCCESS, "margo_get_output of \"xform\"");
    check(out.seen_size == BULK_SIZE, "the server saw the handle's size");
    check(out.pulled_ok == 1, "the server pulled 6 MiB from 2 segments and found the expected bytes");
    check_ret((hg_return_t)out.pushed, HG_SUCCESS, "the server pushed into the write-only handle");
    int same = 1;
    for (hg_size_t i = 0; i < BULK_SIZE && same; i++) same = dest[i] == bulk_transform(bulk_pattern(i, seed));
    check(same, "the pushed bytes are the transformed ones, all 6 MiB");
    check_ret((hg_return_t)out.oob_pull, HG_INVALID_ARG, "a pull of size + 1 bytes");
    check_ret((hg_return_t)out.oob_offset, HG_INVALID_ARG, "a pull of 20 bytes at size - 10");
    check_ret((hg_return_t)out.push_into_read_only, HG_PERMISSION, "a push into the read-only handle");
    check_ret((hg_return_t)out.pull_from_write_only, HG_PERMISSION, "a pull from the write-only handle");
    margo_free_output(h, &out);
    margo_destroy(h);

    /* The read-only handle's segments, as margo_bulk_access gives them. */
    {
        void*        got_ptrs[3]  = {NULL, NULL, NULL};
        hg_size_t    got_sizes[3] = {0, 0, 0};
        hg_uint32_t  count        = 0;
        check_ret(margo_bulk_access(in_bulk, 0, BULK_SIZE, HG_BULK_READ_ONLY, 3, got_ptrs, got_sizes, &count), HG_SUCCESS,
                  "margo_bulk_access over the whole read-only handle");
        check(count == 2 && got_ptrs[0] == (void*)seg0 && got_sizes[0] == BULK_SEG0 && got_ptrs[1] == (void*)seg1
                  && got_sizes[1] == BULK_SEG1,
              "it gives the two segments' pointers and sizes");
        count = 0;
        check_ret(margo_bulk_access(in_bulk, BULK_SEG0 - 10, 20, HG_BULK_READ_ONLY, 3, got_ptrs, got_sizes, &count),
                  HG_SUCCESS, "margo_bulk_access over 20 bytes across the segment boundary");
        check(count == 2 && got_ptrs[0] == (void*)(seg0 + BULK_SEG0 - 10) && got_sizes[0] == 10
                  && got_ptrs[1] == (void*)seg1 && got_sizes[1] == 10,
              "it gives the end of the first segment and the start of the second");
        check_ret(margo_bulk_access(in_bulk, BULK_SIZE - 1, 2, HG_BULK_READ_ONLY, 3, got_ptrs, got_sizes, &count),
                  HG_INVALID_ARG, "margo_bulk_access past the end");
    }

    /* The read-only handle as bytes, deserialized and pulled from by the server. */
    {
        serial_in_t sin;
        memset(&sin, 0, sizeof sin);
        sin.seed          = seed;
        hg_size_t need    = margo_bulk_get_serialize_size(in_bulk, 0);
        check(need > 0 && need <= SERIAL_MAX, "margo_bulk_get_serialize_size");
        check_ret(margo_bulk_serialize(sin.bytes, need - 1, 0, in_bulk), HG_OVERFLOW,
                  "margo_bulk_serialize into a buffer one byte short");
        check_ret(margo_bulk_serialize(sin.bytes, sizeof sin.bytes, 0, in_bulk), HG_SUCCESS, "margo_bulk_serialize");
        sin.len = need;
        check_ret(margo_create(mid, server, serial_id, &h), HG_SUCCESS, "margo_create for \"serial\"");
        check_ret(margo_forward_timed(h, &sin, 30000.0), HG_SUCCESS, "\"serial\" with the serialized handle");
        serial_out_t sout;
        memset(&sout, 0, sizeof sout);
        check_ret(margo_get_output(h, &sout), HG_SUCCESS, "margo_get_output of \"serial\"");
        check_ret((hg_return_t)sout.deserialized, HG_SUCCESS, "the server's margo_bulk_deserialize");
        check(sout.seen_size == BULK_SIZE, "the deserialized handle has the size");
        check_ret((hg_return_t)sout.tested, HG_SUCCESS, "the server's margo_test on the itransfer");
        check_ret((hg_return_t)sout.itransfer, HG_SUCCESS, "the server's margo_bulk_itransfer + margo_wait");
        check(sout.pulled_ok == 1, "it pulled the expected 6 MiB through the deserialized handle");
        check(sout.access_count == 2 && sout.access_bytes == BULK_SIZE,
              "the server's margo_bulk_access gave its two local segments");
        check_ret((hg_return_t)sout.parallel, HG_SUCCESS, "the server's margo_bulk_parallel_transfer in 1 MiB chunks");
        check(sout.parallel_ok == 1, "it pulled the expected bytes again");
        check_ret((hg_return_t)sout.ctransfer, HG_SUCCESS, "the server's margo_bulk_ctransfer (its callback's code)");
        check(sout.ctransfer_ok == 1, "it pulled the expected bytes once more");
        check_ret((hg_return_t)sout.truncated, HG_OVERFLOW, "the server's margo_bulk_deserialize of the bytes cut short");
        margo_free_output(h, &sout);
        margo_destroy(h);
    }

    /* A handle freed after the server got it: its transfer fails at the owner. */
    check_ret(margo_create(mid, server, stash_id, &h), HG_SUCCESS, "margo_create for \"stash\"");
    stash_in_t sin = {in_bulk};
    check_ret(margo_forward_timed(h, &sin, 30000.0), HG_SUCCESS, "\"stash\" the read-only handle at the server");
    margo_destroy(h);
    check_ret(margo_bulk_free(in_bulk), HG_SUCCESS, "margo_bulk_free of the stashed handle");
    check_ret(margo_create(mid, server, late_id, &h), HG_SUCCESS, "margo_create for \"late\"");
    check_ret(margo_forward_timed(h, NULL, 30000.0), HG_SUCCESS, "\"late\"");
    late_out_t late = {HG_SUCCESS};
    check_ret(margo_get_output(h, &late), HG_SUCCESS, "margo_get_output of \"late\"");
    check_ret((hg_return_t)late.ret, HG_NOENTRY, "the server's pull from the freed handle");
    margo_free_output(h, &late);
    margo_destroy(h);

    /* Between two local handles, and memory the library allocates. */
    {
        hg_bulk_t mine = HG_BULK_NULL;
        hg_size_t n[2] = {100, 200};
        check_ret(margo_bulk_create(mid, 2, NULL, n, HG_BULK_READWRITE, &mine), HG_SUCCESS,
                  "margo_bulk_create with NULL pointers (allocated by the library)");
        check_ret(margo_bulk_transfer(mid, HG_BULK_PUSH, HG_ADDR_NULL, mine, 60, out_bulk, 0, 250), HG_INVALID_ARG,
                  "a local push past the end of the origin handle");
        /* out_bulk is write-only: pushing its bytes into `mine` is refused. */
        check_ret(margo_bulk_transfer(mid, HG_BULK_PUSH, HG_ADDR_NULL, mine, 0, out_bulk, 0, 10), HG_PERMISSION,
                  "a push from a write-only local handle");
        check_ret(margo_bulk_transfer(mid, HG_BULK_PULL, HG_ADDR_NULL, mine, 0, out_bulk, 0, 300), HG_SUCCESS,
                  "a pull between two handles of this process (origin address from the handle)");
        check(dest[0] == 0 && dest[299] == 0 && dest[300] == bulk_transform(bulk_pattern(300, seed)),
              "it copied the library's zeroed memory, 300 bytes");
        /* The library's memory, reached through margo_bulk_access, then
         * copied with a non-blocking transfer. */
        void*       seg[2]   = {NULL, NULL};
        hg_size_t   len[2]   = {0, 0};
        hg_uint32_t count    = 0;
        check_ret(margo_bulk_access(mine, 0, 300, HG_BULK_READWRITE, 2, seg, len, &count), HG_SUCCESS,
                  "margo_bulk_access on the library's memory");
        check(count == 2 && len[0] == 100 && len[1] == 200 && seg[0] && seg[1], "it gives both allocated segments");
        if (count == 2 && seg[0] && seg[1]) {
            memset(seg[0], 0x5a, 100);
            memset(seg[1], 0xa5, 200);
        }
        margo_request req = MARGO_REQUEST_NULL;
        check_ret(margo_bulk_itransfer(mid, HG_BULK_PULL, HG_ADDR_NULL, mine, 0, out_bulk, 0, 300, &req), HG_SUCCESS,
                  "margo_bulk_itransfer between two handles of this process");
        int flag = 0;
        check(margo_test(req, &flag) == 0 && flag == 1, "margo_test: a local copy is done when itransfer returns");
        check_ret(margo_wait(req), HG_SUCCESS, "margo_wait on the itransfer");
        check(dest[0] == 0x5a && dest[99] == 0x5a && dest[100] == 0xa5 && dest[299] == 0xa5,
              "it copied what was written through margo_bulk_access");
        req = MARGO_REQUEST_NULL;
        check_ret(margo_bulk_itransfer(mid, HG_BULK_PUSH, HG_ADDR_NULL, mine, 0, out_bulk, 0, 10, &req), HG_PERMISSION,
                  "margo_bulk_itransfer pushing from a write-only local handle");
        check(req == MARGO_REQUEST_NULL, "a refused itransfer makes no request");
        check_ret(margo_bulk_free(mine), HG_SUCCESS, "margo_bulk_free");
    }

    /* Bad arguments. */
    {
        hg_bulk_t bad = HG_BULK_NULL;
        hg_size_t one = 1;
        check_ret(margo_bulk_create(mid, 1, NULL, &one, 0, &bad), HG_INVALID_ARG, "margo_bulk_create with flags 0");
        check_ret(margo_bulk_create(mid, 0, NULL, &one, HG_BULK_READWRITE, &bad), HG_INVALID_ARG,
                  "margo_bulk_create with no segment");
        struct hg_bulk_attr host = {HG_MEM_TYPE_HOST, 0}, cuda = {HG_MEM_TYPE_CUDA, 0};
        check_ret(margo_bulk_create_attr(mid, 1, NULL, &one, HG_BULK_READWRITE, &host, &bad), HG_SUCCESS,
                  "margo_bulk_create_attr with host memory");
        margo_bulk_free(bad);
        bad = HG_BULK_NULL;
        check_ret(margo_bulk_create_attr(mid, 1, NULL, &one, HG_BULK_READWRITE, &cuda, &bad), HG_INVALID_ARG,
                  "margo_bulk_create_attr with CUDA memory (not provided)");
        check_ret(margo_bulk_transfer(mid, HG_BULK_PULL, server, HG_BULK_NULL, 0, out_bulk, 0, 1), HG_INVALID_ARG,
                  "margo_bulk_transfer with a NULL origin handle");
        check_ret(margo_bulk_ref_incr(HG_BULK_NULL), HG_INVALID_ARG, "margo_bulk_ref_incr(HG_BULK_NULL)");
        unsigned char junk[64];
        memset(junk, 0x7f, sizeof junk);
        check_ret(margo_bulk_deserialize(mid, &bad, junk, sizeof junk), HG_PROTOCOL_ERROR,
                  "margo_bulk_deserialize of bytes that are no handle");
        check(bad == HG_BULK_NULL, "it makes no handle");
        check_ret(margo_bulk_parallel_transfer(mid, HG_BULK_PULL, server, out_bulk, 0, out_bulk, 0, 1, 0), HG_INVALID_ARG,
                  "margo_bulk_parallel_transfer with a chunk size of 0");
        check_ret(margo_bulk_free(HG_BULK_NULL), HG_SUCCESS, "margo_bulk_free(HG_BULK_NULL) is a no-op");
    }
    check_ret(margo_bulk_free(out_bulk), HG_SUCCESS, "margo_bulk_free of the write-only handle");

    check(margo_shutdown_remote_instance(mid, server) == 0, "margo_shutdown_remote_instance");
    margo_addr_free(mid, server);
    margo_finalize(mid);
    free(seg0);
    free(seg1);
    free(dest);
    if (failures)
        printf("margo-bulk-client: %d check(s) failed\n", failures);
    else
        printf("margo-bulk-client: all checks passed\n");
    return failures;
}
