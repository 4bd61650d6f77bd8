/*
 * yokan/client.h -- Yokan clients and database handles (implemented by
 * libmochi; source-compatible with upstream mochi-yokan 0.10).
 */
#ifndef YOKAN_CLIENT_H
#define YOKAN_CLIENT_H

#include <margo.h>
#include <yokan/common.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct yk_client* yk_client_t;
#define YOKAN_CLIENT_NULL ((yk_client_t)NULL)

typedef struct yk_database_handle* yk_database_handle_t;
#define YOKAN_DATABASE_HANDLE_NULL ((yk_database_handle_t)NULL)

/* Creates a client on a margo instance. */
yk_return_t yk_client_init(margo_instance_id mid, yk_client_t* client);

/* Frees a client (handles made from it keep working). */
yk_return_t yk_client_finalize(yk_client_t client);

/* A handle on the database of the provider `provider_id` at `addr`. With
 * `check`, the provider is asked first (YOKAN_ERR_INVALID_PROVIDER if no
 * Yokan provider has that id there). */
yk_return_t yk_database_handle_create(yk_client_t client, hg_addr_t addr, uint16_t provider_id, bool check,
                                      yk_database_handle_t* handle);

/* Extension (libmochi): a group-aware handle on the distributed database
 * whose shards are the Yokan providers `provider_id` of the members of a
 * Flock group (providers that depend on the group, see the README). Every
 * yk_* operation works on it: each key goes straight to its primary owner
 * (the servers' own placement), multi-key operations are split by primary,
 * a primary that does not answer is replaced by the next owner, and count,
 * listings, iter and erase_range go to one live member (which covers the
 * group). The handle follows the group's view (it subscribes to a member's
 * Flock provider and fetches the view again when a member does not answer).
 * `group` is a flock_group_handle_t (flock/flock-group.h); the caller keeps
 * its reference. Errors: YOKAN_ERR_INVALID_ARGS (NULL argument, unreadable
 * group file, empty view, members of another protocol), YOKAN_ERR_INVALID_PROVIDER (no Yokan provider
 * with that id, or one that is not a shard of a distributed database),
 * YOKAN_ERR_FROM_MERCURY (no member answers). */
struct flock_group_handle;
yk_return_t yk_database_handle_create_from_group(yk_client_t client, struct flock_group_handle* group,
                                                 uint16_t provider_id, yk_database_handle_t* handle);

/* Extension (libmochi): the same, from a Flock group file. */
yk_return_t yk_database_handle_create_from_group_file(yk_client_t client, const char* filename, uint16_t provider_id,
                                                      yk_database_handle_t* handle);

/* Fills the non-NULL outputs; *addr is a copy (free it with margo_addr_free).
 * For a group-aware handle, *addr is one live member of its view. */
yk_return_t yk_database_handle_get_info(yk_database_handle_t handle, yk_client_t* client, hg_addr_t* addr,
                                        uint16_t* provider_id);

yk_return_t yk_database_handle_ref_incr(yk_database_handle_t handle);
yk_return_t yk_database_handle_release(yk_database_handle_t handle);

/* Extension: the message of a return code ("" for unknown codes). */
const char* yk_return_message(yk_return_t code);

#ifdef __cplusplus
}
#endif

#endif /* YOKAN_CLIENT_H */
