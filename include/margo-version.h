/*
 * margo-version.h -- the version of margo's C API this library provides
 * (included by margo.h, as upstream's is). MARGO_VERSION_NUM is
 * major * 100000 + minor * 100 + patch, as upstream computes it, for
 * programs that test it with #if.
 */
#ifndef MOCHI_MARGO_VERSION_H
#define MOCHI_MARGO_VERSION_H
#define MARGO_VERSION_MAJOR 0
#define MARGO_VERSION_MINOR 23
#define MARGO_VERSION_PATCH 1
#define MARGO_VERSION "0.23.1"
#define MARGO_VERSION_NUM 2301
#endif
