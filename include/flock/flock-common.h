/*
 * flock-common.h -- definitions shared by every part of the Flock API:
 * return codes, membership update kinds, handle-creation mode flags and
 * the update callback types.
 *
 * Source-compatible with upstream mochi-flock: every name and numeric value
 * below is the one upstream programs are written against.
 */
#ifndef FLOCK_COMMON_H
#define FLOCK_COMMON_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Kind of membership change reported to a flock_membership_update_fn. */
typedef enum flock_update_t {
    FLOCK_MEMBER_JOINED = 0, /* a member was added to the group          */
    FLOCK_MEMBER_LEFT   = 1, /* a member left the group gracefully        */
    FLOCK_MEMBER_DIED   = 2, /* a member was declared dead and removed    */
    FLOCK_MEMBER_MOVED  = 3  /* a member changed address or provider id   */
} flock_update_t;

/* Flags for the "mode" argument of the flock_group_handle_create* calls. */
#define FLOCK_MODE_INIT_UPDATE 0x1 /* fetch the current view when the handle is made */
#define FLOCK_MODE_SUBSCRIBE   0x2 /* subscribe to updates when the handle is made   */

/*
 * All return codes, in numeric order, with their human-readable message.
 * This is an X-macro: define X(code, message) before expanding it. The C++
 * flock::Exception::what() and the Python bindings build their tables from
 * it, so the message strings are part of the observable interface (the
 * "Mercurt" spelling included, kept for compatibility).
 */
#define FLOCK_RETURN_VALUES                              \
    X(FLOCK_SUCCESS, "Success")                          \
    X(FLOCK_ERR_ALLOCATION, "Allocation error")          \
    X(FLOCK_ERR_INVALID_ARGS, "Invalid argument")        \
    X(FLOCK_ERR_INVALID_PROVIDER, "Invalid provider id") \
    X(FLOCK_ERR_INVALID_GROUP, "Invalid group id")       \
    X(FLOCK_ERR_INVALID_BACKEND, "Invalid backend type") \
    X(FLOCK_ERR_INVALID_CONFIG, "Invalid configuration") \
    X(FLOCK_ERR_FROM_MERCURY, "Mercurt error")           \
    X(FLOCK_ERR_FROM_ARGOBOTS, "Argobots error")         \
    X(FLOCK_ERR_FROM_MPI, "MPI error")                   \
    X(FLOCK_ERR_OP_UNSUPPORTED, "Unsupported operation") \
    X(FLOCK_ERR_OP_FORBIDDEN, "Forbidden operation")     \
    X(FLOCK_ERR_NO_MEMBER, "No member at this index")    \
    X(FLOCK_ERR_NO_METADATA, "Invalid metadata key")     \
    X(FLOCK_ERR_NOT_A_MEMBER, "Process is not member")   \
    X(FLOCK_ERR_OTHER, "Other error")

/*
 * Return codes of the Flock API. The values are spelled out (rather than
 * generated from FLOCK_RETURN_VALUES) so that they can be checked at a
 * glance against upstream; they must stay in the X-macro's order.
 *   0 SUCCESS            1 ERR_ALLOCATION      2 ERR_INVALID_ARGS
 *   3 ERR_INVALID_PROVIDER 4 ERR_INVALID_GROUP 5 ERR_INVALID_BACKEND
 *   6 ERR_INVALID_CONFIG 7 ERR_FROM_MERCURY    8 ERR_FROM_ARGOBOTS
 *   9 ERR_FROM_MPI      10 ERR_OP_UNSUPPORTED 11 ERR_OP_FORBIDDEN
 *  12 ERR_NO_MEMBER     13 ERR_NO_METADATA    14 ERR_NOT_A_MEMBER
 *  15 ERR_OTHER
 */
typedef enum flock_return_t {
    FLOCK_SUCCESS              = 0,
    FLOCK_ERR_ALLOCATION       = 1,
    FLOCK_ERR_INVALID_ARGS     = 2,
    FLOCK_ERR_INVALID_PROVIDER = 3,
    FLOCK_ERR_INVALID_GROUP    = 4,
    FLOCK_ERR_INVALID_BACKEND  = 5,
    FLOCK_ERR_INVALID_CONFIG   = 6,
    FLOCK_ERR_FROM_MERCURY     = 7,
    FLOCK_ERR_FROM_ARGOBOTS    = 8,
    FLOCK_ERR_FROM_MPI         = 9,
    FLOCK_ERR_OP_UNSUPPORTED   = 10,
    FLOCK_ERR_OP_FORBIDDEN     = 11,
    FLOCK_ERR_NO_MEMBER        = 12,
    FLOCK_ERR_NO_METADATA      = 13,
    FLOCK_ERR_NOT_A_MEMBER     = 14,
    FLOCK_ERR_OTHER            = 15
} flock_return_t;

/*
 * Called when the membership changes.
 * Arguments: user context, kind of change, member address, member provider id.
 */
typedef void (*flock_membership_update_fn)(void* context, flock_update_t update,
                                           const char* address, uint16_t provider_id);

/*
 * Called when a metadata entry is added or changed.
 * Arguments: user context, key, new value (both NUL-terminated; no lengths).
 */
typedef void (*flock_metadata_update_fn)(void* context, const char* key, const char* value);

#ifdef __cplusplus
}
#endif

#endif /* FLOCK_COMMON_H */
