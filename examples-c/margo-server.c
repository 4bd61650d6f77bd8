/*
 * margo-server: a bare margo server.
 *
 *   margo-server PROTOCOL ADDRESS_FILE
 *
 * Starts margo in server mode on PROTOCOL (e.g. na+sm, ofi+tcp), enables
 * remote shutdown, prints its own address on stdout and writes it to
 * ADDRESS_FILE (written to a temporary name, then renamed, so a reader never
 * sees a partial address), then waits until a client shuts it down
 * (margo_shutdown_remote_instance) and exits 0.
 */
#include <margo.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int write_address_file(const char* path, const char* address)
{
    size_t len = strlen(path) + 8;
    char*  tmp = malloc(len);
    if (!tmp) return -1;
    snprintf(tmp, len, "%s.tmp", path);
    FILE* f = fopen(tmp, "w");
    if (!f) {
        perror(tmp);
        free(tmp);
        return -1;
    }
    int ok = fprintf(f, "%s\n", address) >= 0;
    ok     = (fclose(f) == 0) && ok;
    if (ok && rename(tmp, path) != 0) {
        perror(path);
        ok = 0;
    }
    free(tmp);
    return ok ? 0 : -1;
}

int main(int argc, char** argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s PROTOCOL ADDRESS_FILE\n", argv[0]);
        return 2;
    }

    margo_instance_id mid = margo_init(argv[1], MARGO_SERVER_MODE, 0, 0);
    if (mid == MARGO_INSTANCE_NULL) {
        fprintf(stderr, "margo-server: margo_init(\"%s\") failed\n", argv[1]);
        return 1;
    }
    margo_enable_remote_shutdown(mid);

    if (!margo_is_listening(mid)) {
        fprintf(stderr, "margo-server: a server-mode instance is not listening\n");
        margo_finalize(mid);
        return 1;
    }

    /* The address: ask for the size first, then convert. */
    hg_addr_t   self = HG_ADDR_NULL;
    hg_return_t hret = margo_addr_self(mid, &self);
    if (hret != HG_SUCCESS) {
        fprintf(stderr, "margo-server: margo_addr_self failed (%d)\n", (int)hret);
        margo_finalize(mid);
        return 1;
    }
    hg_size_t size = 0;
    hret           = margo_addr_to_string(mid, NULL, &size, self);
    if (hret != HG_SUCCESS || size == 0) {
        fprintf(stderr, "margo-server: margo_addr_to_string(NULL) failed (%d)\n", (int)hret);
        margo_addr_free(mid, self);
        margo_finalize(mid);
        return 1;
    }
    char* address = malloc(size);
    if (!address) {
        margo_addr_free(mid, self);
        margo_finalize(mid);
        return 1;
    }
    hret = margo_addr_to_string(mid, address, &size, self);
    margo_addr_free(mid, self);
    if (hret != HG_SUCCESS) {
        fprintf(stderr, "margo-server: margo_addr_to_string failed (%d)\n", (int)hret);
        free(address);
        margo_finalize(mid);
        return 1;
    }

    /* The effective configuration must be a JSON object. */
    char* config = margo_get_config(mid);
    if (!config || config[0] != '{') {
        fprintf(stderr, "margo-server: margo_get_config returned %s\n",
                config ? config : "NULL");
        free(config);
        free(address);
        margo_finalize(mid);
        return 1;
    }
    free(config);

    ABT_pool pool = ABT_POOL_NULL;
    if (margo_get_handler_pool(mid, &pool) != 0 || pool == ABT_POOL_NULL) {
        fprintf(stderr, "margo-server: margo_get_handler_pool failed\n");
        free(address);
        margo_finalize(mid);
        return 1;
    }

    margo_info(mid, "margo-server listening at %s", address);

    printf("%s\n", address);
    fflush(stdout);
    if (write_address_file(argv[2], address) != 0) {
        free(address);
        margo_finalize(mid);
        return 1;
    }
    free(address);

    /* Returns once a client has called margo_shutdown_remote_instance. */
    margo_wait_for_finalize(mid);
    fprintf(stderr, "margo-server: finalized\n");
    return 0;
}
