/*
 * flock-test-server -- one member of a static Flock group, in its own
 * process, driven by a test through its stdin / stdout (one line each):
 *
 *   flock-test-server PROTOCOL PROVIDER_ID
 *
 *   out: ADDR <address>                  margo is up (server mode on PROTOCOL)
 *   in:  REGISTER <view file> <group file or ->
 *                                        load the initial view from the file,
 *                                        register a static provider (with
 *                                        "file" unless "-"), add callbacks
 *   out: READY <flock_return_t>          the registration's result
 *   out: META <key>=<value>              the metadata callback fired
 *   out: MEMBER <update> <address> <pid> the membership callback fired
 *   in:  CONFIG                          out: CONFIG <flock_provider_get_config>
 *   in:  QUIT, or end of input           destroy the provider, finalize,
 *                                        exit 0 (1 if anything failed)
 */
#define _POSIX_C_SOURCE 200809L
#include <margo.h>
#include <flock/flock-server.h>
#include <flock/flock-group-view.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

static void say(const char* fmt, const char* a, const char* b)
{
    pthread_mutex_lock(&out_lock);
    fprintf(stdout, fmt, a, b);
    fflush(stdout);
    pthread_mutex_unlock(&out_lock);
}

static void on_member(void* ctx, flock_update_t update, const char* address, uint16_t pid)
{
    (void)ctx;
    pthread_mutex_lock(&out_lock);
    fprintf(stdout, "MEMBER %d %s %u\n", (int)update, address, (unsigned)pid);
    fflush(stdout);
    pthread_mutex_unlock(&out_lock);
}

static void on_metadata(void* ctx, const char* key, const char* value)
{
    (void)ctx;
    say("META %s=%s\n", key, value);
}

int main(int argc, char** argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s PROTOCOL PROVIDER_ID\n", argv[0]);
        return 2;
    }
    uint16_t provider_id = (uint16_t)atoi(argv[2]);
    margo_instance_id mid = margo_init(argv[1], MARGO_SERVER_MODE, 0, 0);
    if (mid == MARGO_INSTANCE_NULL) {
        fprintf(stderr, "%s: margo_init(%s) failed\n", argv[0], argv[1]);
        return 1;
    }
    char      address[256] = "";
    hg_addr_t self         = HG_ADDR_NULL;
    hg_size_t size         = sizeof(address);
    if (margo_addr_self(mid, &self) != HG_SUCCESS
        || margo_addr_to_string(mid, address, &size, self) != HG_SUCCESS) {
        fprintf(stderr, "%s: cannot get own address\n", argv[0]);
        margo_finalize(mid);
        return 1;
    }
    margo_addr_free(mid, self);
    say("ADDR %s%s\n", address, "");

    int              status   = 0;
    flock_provider_t provider = FLOCK_PROVIDER_NULL;
    char             line[4096];
    while (fgets(line, sizeof(line), stdin)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (strncmp(line, "REGISTER ", 9) == 0) {
            char view_file[2048], group_file[2048];
            if (sscanf(line + 9, "%2047s %2047s", view_file, group_file) != 2) {
                say("READY %s%s\n", "-1", "");
                status = 1;
                continue;
            }
            flock_group_view_t view = FLOCK_GROUP_VIEW_INITIALIZER;
            flock_return_t     rc   = flock_group_view_from_file(view_file, &view);
            if (rc == FLOCK_SUCCESS) {
                char config[4096];
                if (strcmp(group_file, "-") == 0)
                    snprintf(config, sizeof(config), "{\"group\":{\"type\":\"static\"}}");
                else
                    snprintf(config, sizeof(config),
                             "{\"group\":{\"type\":\"static\"},\"file\":\"%s\"}", group_file);
                struct flock_provider_args args = FLOCK_PROVIDER_ARGS_INIT;
                args.initial_view               = &view;
                rc = flock_provider_register(mid, provider_id, config, &args, &provider);
                if (rc == FLOCK_SUCCESS)
                    rc = flock_provider_add_update_callbacks(provider, on_member, on_metadata,
                                                             &provider);
            }
            flock_group_view_clear(&view);
            char code[16];
            snprintf(code, sizeof(code), "%d", (int)rc);
            say("READY %s%s\n", code, "");
            if (rc != FLOCK_SUCCESS) status = 1;
        } else if (strcmp(line, "CONFIG") == 0) {
            char* config = provider ? flock_provider_get_config(provider) : NULL;
            say("CONFIG %s%s\n", config ? config : "(null)", "");
            free(config);
        } else if (strcmp(line, "QUIT") == 0) {
            break;
        }
    }
    if (provider && flock_provider_destroy(provider) != FLOCK_SUCCESS) status = 1;
    margo_finalize(mid);
    return status;
}
