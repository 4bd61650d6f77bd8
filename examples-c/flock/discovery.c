/*
 * discovery.c -- service discovery with Flock's C API (the C counterpart of
 * discovery.cpp, with the same arguments and the same output).
 *
 *   discovery-c ADDRESS PROVIDER_ID
 *
 * Steps: margo_init in client mode with the protocol of ADDRESS (the part
 * before "://"), flock_client_init, margo_addr_lookup,
 * flock_group_handle_create (mode 0), flock_group_get_view, print the
 * members, then release everything in reverse order.
 * Exits 0 on success, 1 on error, 2 on bad usage.
 */
#include <margo.h>
#include <flock/flock-client.h>
#include <flock/flock-group.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse_provider_id(const char* text, uint16_t* provider_id)
{
    char*         end   = NULL;
    unsigned long value = strtoul(text, &end, 10);
    if(end == text || *end != '\0' || value > 65535) return 0;
    *provider_id = (uint16_t)value;
    return 1;
}

int main(int argc, char** argv)
{
    uint16_t provider_id = 0;
    if(argc != 3 || !parse_provider_id(argv[2], &provider_id)) {
        fprintf(stderr, "usage: %s ADDRESS PROVIDER_ID\n", argv[0]);
        return 2;
    }
    const char* address = argv[1];
    const char* sep     = strstr(address, "://");
    if(sep == NULL || sep == address) {
        fprintf(stderr, "%s: not an address: %s\n", argv[0], address);
        return 2;
    }
    char protocol[64];
    size_t protocol_len = (size_t)(sep - address);
    if(protocol_len >= sizeof(protocol)) {
        fprintf(stderr, "%s: protocol too long in %s\n", argv[0], address);
        return 2;
    }
    memcpy(protocol, address, protocol_len);
    protocol[protocol_len] = '\0';

    int                  status = 1;
    flock_return_t       ret;
    flock_client_t       client = FLOCK_CLIENT_NULL;
    hg_addr_t            addr   = HG_ADDR_NULL;
    flock_group_handle_t group  = FLOCK_GROUP_HANDLE_NULL;
    flock_group_view_t   view   = FLOCK_GROUP_VIEW_INITIALIZER;

    margo_instance_id mid = margo_init(protocol, MARGO_CLIENT_MODE, 0, 0);
    if(mid == MARGO_INSTANCE_NULL) {
        fprintf(stderr, "%s: margo_init(\"%s\") failed\n", argv[0], protocol);
        return 1;
    }

    ret = flock_client_init(mid, ABT_POOL_NULL, &client);
    if(ret != FLOCK_SUCCESS) {
        fprintf(stderr, "%s: flock_client_init failed (%d)\n", argv[0], (int)ret);
        goto out;
    }

    if(margo_addr_lookup(mid, address, &addr) != HG_SUCCESS) {
        fprintf(stderr, "%s: could not look up %s\n", argv[0], address);
        goto out;
    }

    ret = flock_group_handle_create(client, addr, provider_id, 0, &group);
    if(ret != FLOCK_SUCCESS) {
        fprintf(stderr, "%s: flock_group_handle_create failed (%d)\n", argv[0], (int)ret);
        goto out;
    }

    ret = flock_group_get_view(group, &view);
    if(ret != FLOCK_SUCCESS) {
        fprintf(stderr, "%s: flock_group_get_view failed (%d)\n", argv[0], (int)ret);
        goto out;
    }

    printf("Group size: %zu members\n", flock_group_view_member_count(&view));
    for(size_t i = 0; i < flock_group_view_member_count(&view); i++) {
        const flock_member_t* member = flock_group_view_member_at(&view, i);
        printf("[%zu] %s provider_id=%u\n", i, member->address,
               (unsigned)member->provider_id);
    }
    status = 0;

out:
    flock_group_view_clear(&view);
    if(group != FLOCK_GROUP_HANDLE_NULL) flock_group_handle_release(group);
    if(client != FLOCK_CLIENT_NULL) flock_client_finalize(client);
    if(addr != HG_ADDR_NULL) margo_addr_free(mid, addr);
    margo_finalize(mid);
    return status;
}
