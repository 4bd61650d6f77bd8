/*
 * mercury_proc.h — Mercury's serialization procs as libmochi provides them.
 * Hand-written for libmochi. The types (hg_proc_t, hg_proc_op_t,
 * hg_proc_cb_t) and the functions (hg_proc_get_op, hg_proc_int8_t ...
 * hg_proc_uint64_t, hg_proc_hg_bool_t, hg_proc_hg_size_t, hg_proc_hg_id_t,
 * hg_proc_bytes, hg_proc_raw) are declared in margo.h; the encoding is
 * libmochi's own (see README, "Margo RPCs from C").
 */
#ifndef MOCHI_MERCURY_PROC_H
#define MOCHI_MERCURY_PROC_H

#include <margo.h>

/* Mercury's other names for the same procs. */
#define hg_proc_memcpy hg_proc_bytes
#define hg_proc_hg_int8_t hg_proc_int8_t
#define hg_proc_hg_uint8_t hg_proc_uint8_t
#define hg_proc_hg_int16_t hg_proc_int16_t
#define hg_proc_hg_uint16_t hg_proc_uint16_t
#define hg_proc_hg_int32_t hg_proc_int32_t
#define hg_proc_hg_uint32_t hg_proc_uint32_t
#define hg_proc_hg_int64_t hg_proc_int64_t
#define hg_proc_hg_uint64_t hg_proc_uint64_t

#endif /* MOCHI_MERCURY_PROC_H */
