/*
 * mercury_proc_string.h — string fields (hg_string_t, hg_const_string_t)
 * for MERCURY_GEN_PROC. Hand-written for libmochi: hg_proc_hg_string_t and
 * hg_proc_hg_const_string_t are declared in margo.h. Decoding allocates
 * the string; margo_free_input / margo_free_output release it.
 */
#ifndef MOCHI_MERCURY_PROC_STRING_H
#define MOCHI_MERCURY_PROC_STRING_H

#include <mercury_proc.h>

#endif /* MOCHI_MERCURY_PROC_STRING_H */
