/*
 * margo-bulk-util.h — margo_bulk_parallel_transfer, which upstream declares
 * here; libmochi declares it in margo.h (pieces of at most 4 MiB run
 * concurrently over RPCs, see README, "Margo RPCs from C").
 * Hand-written for libmochi.
 */
#ifndef MOCHI_MARGO_BULK_UTIL_H
#define MOCHI_MARGO_BULK_UTIL_H

#include <margo.h>

#endif /* MOCHI_MARGO_BULK_UTIL_H */
