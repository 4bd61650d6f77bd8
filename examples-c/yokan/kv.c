/* Stores keys in the yokan providers of a group's members and reads them
 * back: what a user of the tutorial's distributed deployment does.
 * Usage: yokan-kv PROTOCOL PROVIDER_ID KEYS_PER_MEMBER ADDRESS...
 * Each member's provider gets its own keys (upstream's providers are
 * independent databases: see the README's "Yokan" section). */
#include <yokan/client.h>
#include <yokan/database.h>
#include <margo.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char** argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: %s PROTOCOL PROVIDER_ID KEYS_PER_MEMBER ADDRESS...\n", argv[0]);
        return 2;
    }
    uint16_t provider_id = (uint16_t)atoi(argv[2]);
    int per_member = atoi(argv[3]);
    int members = argc - 4;
    margo_instance_id mid = margo_init(argv[1], MARGO_CLIENT_MODE, 0, 0);
    if (mid == MARGO_INSTANCE_NULL) { fprintf(stderr, "margo_init failed\n"); return 1; }
    yk_client_t client = YOKAN_CLIENT_NULL;
    if (yk_client_init(mid, &client) != YOKAN_SUCCESS) { fprintf(stderr, "yk_client_init failed\n"); return 1; }
    int stored = 0, read_back = 0;
    for (int m = 0; m < members; m++) {
        hg_addr_t addr = HG_ADDR_NULL;
        if (margo_addr_lookup(mid, argv[4 + m], &addr) != HG_SUCCESS) {
            fprintf(stderr, "cannot look up %s\n", argv[4 + m]);
            return 1;
        }
        yk_database_handle_t db = YOKAN_DATABASE_HANDLE_NULL;
        yk_return_t ret = yk_database_handle_create(client, addr, provider_id, true, &db);
        if (ret != YOKAN_SUCCESS) {
            fprintf(stderr, "no yokan provider %u at %s (%d)\n", (unsigned)provider_id, argv[4 + m], (int)ret);
            return 1;
        }
        char key[64], value[64], buf[64];
        for (int k = 0; k < per_member; k++) {
            int klen = snprintf(key, sizeof key, "member%d/key%d", m, k);
            int vlen = snprintf(value, sizeof value, "value %d of member %d", k, m);
            if (yk_put(db, YOKAN_MODE_DEFAULT, key, (size_t)klen, value, (size_t)vlen) == YOKAN_SUCCESS) stored++;
        }
        for (int k = 0; k < per_member; k++) {
            int klen = snprintf(key, sizeof key, "member%d/key%d", m, k);
            int vlen = snprintf(value, sizeof value, "value %d of member %d", k, m);
            size_t vsize = sizeof buf;
            if (yk_get(db, YOKAN_MODE_DEFAULT, key, (size_t)klen, buf, &vsize) == YOKAN_SUCCESS && vsize == (size_t)vlen
                && memcmp(buf, value, vsize) == 0)
                read_back++;
        }
        size_t count = 0;
        yk_count(db, YOKAN_MODE_DEFAULT, &count);
        printf("member %d (%s): stored %d keys, database holds %zu\n", m, argv[4 + m], per_member, count);
        yk_database_handle_release(db);
        margo_addr_free(mid, addr);
    }
    printf("stored %d keys in %d members' yokan providers, read back %d correctly\n", stored, members, read_back);
    yk_client_finalize(client);
    margo_finalize(mid);
    return (stored == per_member * members && read_back == stored) ? 0 : 1;
}
