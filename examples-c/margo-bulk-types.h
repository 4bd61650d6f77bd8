/*
 * margo-bulk-types.h: the RPC types shared by margo-bulk-server.c and
 * margo-bulk-client.c, written as for upstream Margo / Mercury.
 */
#ifndef MARGO_BULK_TYPES_H
#define MARGO_BULK_TYPES_H

#include <margo.h>
#include <mercury_macros.h>
#include <mercury_proc_bulk.h>

/* The client's buffer: two segments of these sizes (6 MiB in all, so that
 * a transfer crosses both a segment boundary and the 4 MiB piece size). */
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

#endif
