/*
 * margo-sum-types.h: the RPC types shared by margo-sum-server.c and
 * margo-sum-client.c, written as for upstream Margo / Mercury.
 */
#ifndef MARGO_SUM_TYPES_H
#define MARGO_SUM_TYPES_H

#include <margo.h>
#include <mercury_macros.h>
#include <mercury_proc_string.h>

/* The provider id the server registers "sum" under. */
#define SUM_PROVIDER_ID 42

MERCURY_GEN_PROC(sum_in_t, ((int32_t)(x))((int32_t)(y))((hg_string_t)(label)))
MERCURY_GEN_PROC(sum_out_t,
                 ((int32_t)(ret))((hg_bool_t)(saw_caller))((uint64_t)(calls))((hg_string_t)(message)))
MERCURY_GEN_PROC(wait_in_t, ((uint32_t)(ms)))

#endif
