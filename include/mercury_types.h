/*
 * mercury_types.h — Mercury's types as libmochi provides them (hg_return_t,
 * hg_id_t, hg_size_t, hg_bool_t, hg_addr_t, hg_handle_t, hg_proc_t,
 * struct hg_info), all declared in margo.h. Hand-written for libmochi.
 */
#ifndef MOCHI_MERCURY_TYPES_H
#define MOCHI_MERCURY_TYPES_H

#include <margo.h>

#endif /* MOCHI_MERCURY_TYPES_H */
