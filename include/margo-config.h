/*
 * margo-config.h -- kept for programs written against upstream margo,
 * which declares its configuration API (margo_get_config, pools and
 * execution streams at run time) here: ours is in <margo.h>.
 */
#include <margo.h>
