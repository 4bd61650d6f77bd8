/*
 * margo-bulk-types.h: the RPC types shared by margo-bulk-server.c and
 * margo-bulk-client.c, written as for upstream Margo / Mercury.
 */
#ifndef MARGO_BULK_TYPES_H
#define MARGO_BULK_TYPES_H

#include <margo.h>
#include <margo-bulk-util.h>
#include <mercury_macros.h>
#include <mercury_proc_bulk.h>

/* The client's buffer: two segments of these sizes (6 MiB in all, so that
 * a transfer crosses a segment boundary and is cut into several pieces). */
#define BULK_SEG0 (1u << 20)
#define BULK_SEG1 (5u << 20)
#define BULK_SIZE ((hg_size_t)BULK_SEG0 + BULK_SEG1)

/* The bytes the client exposes, and what the server pushes back. */
static inline unsigned char bulk_pattern(hg_size_t i, uint32_t seed)
{
    return (unsigned char)((i * 7u + (i >> 12) + seed) & 0xffu);
}
static inline unsigned char bulk_transform(unsigned char c)
{
    return (unsigned char)(255u - c);
}

/* "xform": pull `in_bulk` (read-only), check it, push the transformed bytes
 * into `out_bulk` (write-only); also tries the transfers that must fail. */
MERCURY_GEN_PROC(xform_in_t, ((hg_bulk_t)(in_bulk))((hg_bulk_t)(out_bulk))((uint64_t)(size))((uint32_t)(seed)))
MERCURY_GEN_PROC(xform_out_t,
                 ((int32_t)(pulled_ok))((int32_t)(pushed))((int32_t)(oob_pull))((int32_t)(oob_offset))
                 ((int32_t)(push_into_read_only))((int32_t)(pull_from_write_only))((uint64_t)(seen_size)))

/* "stash": the server keeps a reference to `bulk`; "late": it then pulls
 * from it and answers the result (the client freed the handle meanwhile). */
MERCURY_GEN_PROC(stash_in_t, ((hg_bulk_t)(bulk)))
MERCURY_GEN_PROC(late_out_t, ((int32_t)(ret)))

/* "serial": a handle sent as the bytes margo_bulk_serialize wrote, not as
 * an hg_bulk_t field; the server deserializes it, pulls through it with
 * margo_bulk_itransfer (margo_test, margo_wait), reads its local segments
 * with margo_bulk_access, pulls again with margo_bulk_parallel_transfer
 * and with margo_bulk_ctransfer (its callback's code),
 * and tries to deserialize the bytes cut short. A proc of our own: the
 * length, then that many bytes. */
#define SERIAL_MAX 256
typedef struct {
    hg_size_t     len;
    unsigned char bytes[SERIAL_MAX];
    uint32_t      seed;
} serial_in_t;

static inline hg_return_t hg_proc_serial_in_t(hg_proc_t proc, void* data)
{
    serial_in_t* in  = (serial_in_t*)data;
    hg_return_t  ret = hg_proc_hg_size_t(proc, &in->len);
    if (ret != HG_SUCCESS) return ret;
    if (in->len > SERIAL_MAX) return HG_PROTOCOL_ERROR;
    ret = hg_proc_bytes(proc, in->bytes, in->len);
    if (ret != HG_SUCCESS) return ret;
    return hg_proc_uint32_t(proc, &in->seed);
}

MERCURY_GEN_PROC(serial_out_t,
                 ((int32_t)(deserialized))((uint64_t)(seen_size))((int32_t)(tested))((int32_t)(itransfer))
                 ((int32_t)(pulled_ok))((uint32_t)(access_count))((uint64_t)(access_bytes))((int32_t)(parallel))
                 ((int32_t)(parallel_ok))((int32_t)(ctransfer))((int32_t)(ctransfer_ok))((int32_t)(truncated)))

#endif
