/*
 * margo-logging.h -- kept for programs written against upstream margo,
 * which declares its logging API here: ours is in <margo.h>.
 */
#include <margo.h>
