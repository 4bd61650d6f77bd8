/*
 * mercury_proc_bulk.h — the proc of a bulk handle field (hg_proc_hg_bulk_t),
 * declared in margo.h, so that MERCURY_GEN_PROC structs can carry an
 * hg_bulk_t. Hand-written for libmochi.
 */
#ifndef MOCHI_MERCURY_PROC_BULK_H
#define MOCHI_MERCURY_PROC_BULK_H

#include <margo.h>
#include <mercury_proc.h>

#endif /* MOCHI_MERCURY_PROC_BULK_H */
