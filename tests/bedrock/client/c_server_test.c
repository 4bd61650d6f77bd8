/*
 * c_server_test.c -- bedrock/server.h management calls on an in-process
 * server: pools, xstreams, modules, providers (with a dependency between
 * two of them), the margo instance accessor, and NULL or malformed input.
 *
 * usage: bedrock-c-server-test MODULE_DIR   (holds libtest-c-module.so)
 * Prints one line per failed check and exits non-zero if any failed.
 */
#include <bedrock/server.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures = 0;

#define CHECK(cond, ...)                                     \
    do {                                                     \
        if(!(cond)) {                                        \
            failures++;                                      \
            fprintf(stderr, "FAILED line %d: ", __LINE__);   \
            fprintf(stderr, __VA_ARGS__);                    \
            fprintf(stderr, " [last error: %s]\n", bedrock_last_error()); \
        }                                                    \
    } while(0)

/* True if the server's effective config contains `needle`. */
static int config_has(bedrock_server_t s, const char* needle) {
    char* c = bedrock_server_get_config(s);
    int found = c && strstr(c, needle) != NULL;
    free(c);
    return found;
}

int main(int argc, char** argv) {
    if(argc != 2) {
        fprintf(stderr, "usage: %s MODULE_DIR\n", argv[0]);
        return 2;
    }
    char module[4096];
    snprintf(module, sizeof module, "%s/libtest-c-module.so", argv[1]);

    const char* config =
        "{\"providers\":[{\"name\":\"my_group\",\"type\":\"flock\",\"provider_id\":1,"
        "\"config\":{\"bootstrap\":\"self\",\"group\":{\"type\":\"static\"}}}]}";
    bedrock_server_t s = NULL;
    char* error = NULL;
    int rc = bedrock_server_init("na+sm", config, BEDROCK_CONFIG_JSON, &s, &error);
    if(rc != BEDROCK_SUCCESS || !s) {
        fprintf(stderr, "bedrock_server_init failed: %s\n", error ? error : "?");
        return 1;
    }

    /* NULL arguments: a dedicated code, never a crash. */
    CHECK(bedrock_server_add_pool(NULL, "{}") == BEDROCK_ERR_INVALID_ARGS, "add_pool(NULL server)");
    CHECK(bedrock_server_add_pool(s, NULL) == BEDROCK_ERR_INVALID_ARGS, "add_pool(NULL json)");
    CHECK(bedrock_server_remove_pool(s, NULL) == BEDROCK_ERR_INVALID_ARGS, "remove_pool(NULL)");
    CHECK(bedrock_server_add_xstream(NULL, "{}") == BEDROCK_ERR_INVALID_ARGS, "add_xstream(NULL server)");
    CHECK(bedrock_server_remove_xstream(s, NULL) == BEDROCK_ERR_INVALID_ARGS, "remove_xstream(NULL)");
    CHECK(bedrock_server_load_module(s, NULL) == BEDROCK_ERR_INVALID_ARGS, "load_module(NULL)");
    CHECK(bedrock_server_add_provider(s, NULL, NULL) == BEDROCK_ERR_INVALID_ARGS, "add_provider(NULL)");
    CHECK(bedrock_server_remove_provider(NULL, "x") == BEDROCK_ERR_INVALID_ARGS, "remove_provider(NULL server)");
    CHECK(bedrock_server_get_margo_instance(NULL, 0) == NULL, "get_margo_instance(NULL)");

    /* Margo instances. */
    CHECK(bedrock_server_get_margo_instance(s, 0) != NULL, "engine 0 has a margo instance");
    CHECK(bedrock_server_get_margo_instance(s, 1) == NULL, "no engine 1");

    /* Pools and xstreams. */
    CHECK(bedrock_server_add_pool(s, "{") != BEDROCK_SUCCESS && strlen(bedrock_last_error()) > 0,
          "malformed pool JSON refused with a message");
    CHECK(bedrock_server_add_pool(s, "{\"name\":\"extra\",\"kind\":\"fifo_wait\",\"access\":\"mpmc\"}") == BEDROCK_SUCCESS,
          "add pool extra");
    CHECK(config_has(s, "\"extra\""), "pool extra in the config");
    CHECK(bedrock_server_add_pool(s, "{\"name\":\"extra\"}") != BEDROCK_SUCCESS, "duplicate pool refused");
    CHECK(bedrock_server_add_xstream(s, "{\"name\":\"xs1\",\"scheduler\":{\"type\":\"basic_wait\",\"pools\":[\"extra\"]}}")
              == BEDROCK_SUCCESS,
          "add xstream xs1 on extra");
    CHECK(config_has(s, "\"xs1\""), "xstream xs1 in the config");
    CHECK(bedrock_server_remove_pool(s, "extra") != BEDROCK_SUCCESS, "a pool in use is not removed");
    CHECK(bedrock_server_remove_xstream(s, "xs1") == BEDROCK_SUCCESS, "remove xstream xs1");
    CHECK(bedrock_server_remove_pool(s, "extra") == BEDROCK_SUCCESS, "remove pool extra");
    CHECK(!config_has(s, "\"extra\"") && !config_has(s, "\"xs1\""), "both gone from the config");
    CHECK(bedrock_server_remove_pool(s, "no_such_pool") != BEDROCK_SUCCESS, "unknown pool");

    /* Modules. */
    CHECK(bedrock_server_load_module(s, "/no/such/libmodule.so") != BEDROCK_SUCCESS
              && strstr(bedrock_last_error(), "/no/such/libmodule.so") != NULL,
          "missing library refused, naming it");
    CHECK(bedrock_server_load_module(s, module) == BEDROCK_SUCCESS, "load %s", module);

    /* Providers: test_c depends on the flock group. */
    uint16_t id = 0;
    CHECK(bedrock_server_add_provider(s, "{\"name\":\"checker\",\"type\":\"test_c\",\"provider_id\":7,"
                                         "\"dependencies\":{\"flock_group\":\"my_group\"}}", &id) == BEDROCK_SUCCESS,
          "add provider checker");
    CHECK(id == 7, "checker has provider id 7 (got %u)", id);
    CHECK(config_has(s, "\"checker\"") && config_has(s, "\"flock_handle_ok\":true"), "checker in the config, with its group handle");
    CHECK(bedrock_server_add_provider(s, "{\"name\":\"other\",\"type\":\"no_such_module\"}", NULL) != BEDROCK_SUCCESS
              && strstr(bedrock_last_error(), "no_such_module") != NULL,
          "unknown provider type refused, naming it");
    CHECK(bedrock_server_add_provider(s, "[1]", NULL) != BEDROCK_SUCCESS, "a provider description must be an object");
    CHECK(bedrock_server_remove_provider(s, "my_group") != BEDROCK_SUCCESS
              && strstr(bedrock_last_error(), "checker") != NULL,
          "a provider another depends on is not removed; the message names the dependent");
    CHECK(bedrock_server_remove_provider(s, "test_c:7") == BEDROCK_SUCCESS, "remove checker by type:id");
    CHECK(!config_has(s, "\"checker\""), "checker gone from the config");
    CHECK(bedrock_server_remove_provider(s, "my_group") == BEDROCK_SUCCESS, "then the group can go");
    CHECK(bedrock_server_remove_provider(s, "my_group") != BEDROCK_SUCCESS, "removing twice fails");

    CHECK(bedrock_server_finalize(s) == BEDROCK_SUCCESS, "finalize");
    if(failures == 0) printf("c_server_test: all checks passed\n");
    return failures == 0 ? 0 : 1;
}
