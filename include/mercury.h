/*
 * mercury.h — for programs that include Mercury's main header next to
 * margo.h. libmochi has no Mercury: its types, procs and HG_Error_to_string
 * come from margo.h. Hand-written for libmochi.
 */
#ifndef MOCHI_MERCURY_H
#define MOCHI_MERCURY_H

#include <margo.h>
#include <mercury_macros.h>

#endif /* MOCHI_MERCURY_H */
