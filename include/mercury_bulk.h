/*
 * mercury_bulk.h — Mercury's bulk handles as libmochi provides them.
 * Hand-written for libmochi. The types (hg_bulk_t, hg_bulk_op_t), the
 * constants (HG_BULK_NULL, HG_BULK_READ_ONLY, HG_BULK_WRITE_ONLY,
 * HG_BULK_READWRITE, HG_BULK_PUSH, HG_BULK_PULL) and the functions
 * (HG_Bulk_free, HG_Bulk_ref_incr, HG_Bulk_get_size,
 * HG_Bulk_get_segment_count, HG_Bulk_access, HG_Bulk_get_serialize_size,
 * HG_Bulk_serialize, HG_Bulk_deserialize, and margo's margo_bulk_*) are
 * declared in margo.h. Transfers go over RPCs, not RMA (see README, "Margo
 * RPCs from C").
 */
#ifndef MOCHI_MERCURY_BULK_H
#define MOCHI_MERCURY_BULK_H

#include <margo.h>

#endif /* MOCHI_MERCURY_BULK_H */
