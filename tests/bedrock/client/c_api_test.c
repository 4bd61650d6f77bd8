/*
 * c_api_test.c -- NULL and garbage arguments on the C client API
 * (bedrock/client.h) must return error codes with a message in
 * bedrock_last_error(), never crash; the daemon must survive garbage
 * requests.
 *
 *   bedrock-c-api-test ADDRESS
 *
 * ADDRESS: a running daemon (Bedrock provider id 0); it is not shut down.
 * Garbage here means anything the header's contract allows: NULL
 * pointers, unknown margo instances, malformed addresses, JSON, file
 * names, unknown names. (Handles that were never returned by the library
 * are undefined behaviour by contract and are not tried.)
 *
 * Prints "ok: ..." / "FAIL: ..." per check; exits with the failure count.
 */
#include <bedrock/client.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures = 0;

static void check(int ok, const char* what) {
    printf("%s: %s\n", ok ? "ok" : "FAIL", what);
    if(!ok) failures++;
}

/* rc must be an error (not BEDROCK_SUCCESS) with a non-empty message. */
static void expect_error(bedrock_return_t rc, const char* what) {
    const char* msg = bedrock_last_error();
    char        line[512];
    snprintf(line, sizeof(line), "%s -> %d (%s)", what, rc, msg ? msg : "(null message)");
    check(rc != BEDROCK_SUCCESS && msg != NULL && msg[0] != '\0', line);
}

int main(int argc, char** argv) {
    const char*             address;
    char                    protocol[64];
    const char*             sep;
    margo_instance_id       mid;
    bedrock_client_t        client = NULL, bad_client = NULL;
    bedrock_service_t       handle = NULL, bad_handle = NULL;
    bedrock_service_group_t group  = NULL;
    char*                   text   = NULL;
    uint16_t                id     = 0;
    bedrock_return_t        rc;
    const char*             addrs_with_null[2];
    const char*             one_addr[1];
    FILE*                   f;
    char                    garbage_file[] = "/tmp/bedrock-c-api-test-XXXXXX.flock";
    int                     fd;

    if(argc != 2) {
        fprintf(stderr, "usage: %s ADDRESS\n", argv[0]);
        return 100;
    }
    address = argv[1];
    sep     = strstr(address, "://");
    if(!sep || (size_t)(sep - address) >= sizeof(protocol)) return 100;
    memcpy(protocol, address, (size_t)(sep - address));
    protocol[sep - address] = '\0';

    check(bedrock_last_error() != NULL, "bedrock_last_error() is never NULL");

    /* ---- client ---------------------------------------------------- */
    expect_error(bedrock_client_init(MARGO_INSTANCE_NULL, &bad_client),
                 "bedrock_client_init(NULL mid)");
    expect_error(bedrock_client_init((margo_instance_id)(void*)&failures, &bad_client),
                 "bedrock_client_init(unknown mid)");
    check(bad_client == NULL, "failed bedrock_client_init leaves the output alone");
    mid = margo_init(protocol, MARGO_CLIENT_MODE, 0, 0);
    if(mid == MARGO_INSTANCE_NULL) {
        printf("FAIL: margo_init(%s)\n", protocol);
        return 100;
    }
    expect_error(bedrock_client_init(mid, NULL), "bedrock_client_init(mid, NULL)");
    rc = bedrock_client_init(mid, &client);
    check(rc == BEDROCK_SUCCESS && client != NULL, "bedrock_client_init");
    expect_error(bedrock_client_finalize(NULL), "bedrock_client_finalize(NULL)");

    /* ---- service handle -------------------------------------------- */
    expect_error(bedrock_service_handle_create(NULL, address, 0, &bad_handle),
                 "service_handle_create(NULL client)");
    expect_error(bedrock_service_handle_create(client, NULL, 0, &bad_handle),
                 "service_handle_create(NULL address)");
    expect_error(bedrock_service_handle_create(client, address, 0, NULL),
                 "service_handle_create(NULL output)");
    expect_error(bedrock_service_handle_create(client, "garbage", 0, &bad_handle),
                 "service_handle_create(\"garbage\")");
    expect_error(bedrock_service_handle_create(client, "", 0, &bad_handle),
                 "service_handle_create(\"\")");
    expect_error(bedrock_service_handle_create(client, "na+sm://", 0, &bad_handle),
                 "service_handle_create(\"na+sm://\")");
    check(bad_handle == NULL, "failed handle creation leaves the output alone");
    expect_error(bedrock_service_handle_release(NULL), "service_handle_release(NULL)");

    rc = bedrock_service_handle_create(client, address, 0, &handle);
    check(rc == BEDROCK_SUCCESS && handle != NULL, "service_handle_create(daemon)");
    if(!handle) return 100;

    expect_error(bedrock_service_get_config(NULL, &text), "get_config(NULL handle)");
    expect_error(bedrock_service_get_config(handle, NULL), "get_config(NULL output)");
    expect_error(bedrock_service_query_config(NULL, "x", &text), "query_config(NULL handle)");
    expect_error(bedrock_service_query_config(handle, NULL, &text), "query_config(NULL script)");
    rc = bedrock_service_query_config(handle, "return 1;", &text);
    expect_error(rc, "query_config(script)");
    check(rc == BEDROCK_ERR_NOT_SUPPORTED, "query_config returns BEDROCK_ERR_NOT_SUPPORTED");
    check(strstr(bedrock_last_error(), "not supported") != NULL,
          "query_config's message says \"not supported\"");
    expect_error(bedrock_service_query_config(handle, "return 1;", NULL),
                 "query_config(NULL output)");

    expect_error(bedrock_service_add_provider(NULL, "{}", &id), "add_provider(NULL handle)");
    expect_error(bedrock_service_add_provider(handle, NULL, &id), "add_provider(NULL description)");
    expect_error(bedrock_service_add_provider(handle, "{not json", &id), "add_provider(bad JSON)");
    expect_error(bedrock_service_add_provider(handle, "[1,2,3]", &id), "add_provider(array)");
    expect_error(bedrock_service_add_provider(handle, "\xff\xfe\x01", NULL),
                 "add_provider(non-UTF-8 bytes)");
    expect_error(bedrock_service_add_provider(handle, "{\"name\":\"x\",\"type\":\"nope\"}", NULL),
                 "add_provider(unknown type)");
    expect_error(bedrock_service_add_provider(handle,
                                              "{\"name\":\"x\",\"type\":\"flock\",\"provider_id\":70000}",
                                              NULL),
                 "add_provider(provider_id 70000)");
    expect_error(bedrock_service_change_provider_pool(NULL, "a", "b"),
                 "change_provider_pool(NULL handle)");
    expect_error(bedrock_service_change_provider_pool(handle, NULL, "b"),
                 "change_provider_pool(NULL provider)");
    expect_error(bedrock_service_change_provider_pool(handle, "a", NULL),
                 "change_provider_pool(NULL pool)");
    expect_error(bedrock_service_change_provider_pool(handle, "no_such_provider", "__primary__"),
                 "change_provider_pool(unknown provider)");
    expect_error(bedrock_service_shutdown(NULL), "service_shutdown(NULL)");

    expect_error(bedrock_service_load_module(NULL, "x.so"), "load_module(NULL handle)");
    expect_error(bedrock_service_load_module(handle, NULL), "load_module(NULL path)");
    expect_error(bedrock_service_load_module(handle, "/nonexistent/libnothing.so"),
                 "load_module(missing library)");
    expect_error(bedrock_service_add_pool(handle, NULL), "add_pool(NULL)");
    expect_error(bedrock_service_add_pool(handle, "{garbage"), "add_pool(bad JSON)");
    expect_error(bedrock_service_add_pool(handle, "1234"), "add_pool(\"1234\")");
    expect_error(bedrock_service_add_pool(handle, "{\"name\":\"p\",\"kind\":\"nope\"}"),
                 "add_pool(bad kind)");
    expect_error(bedrock_service_remove_pool(handle, NULL), "remove_pool(NULL)");
    expect_error(bedrock_service_remove_pool(handle, "no_such_pool"), "remove_pool(unknown)");
    expect_error(bedrock_service_remove_pool(handle, "__primary__"), "remove_pool(__primary__, in use)");
    expect_error(bedrock_service_add_xstream(NULL, "{}"), "add_xstream(NULL handle)");
    expect_error(bedrock_service_add_xstream(handle, "[]"), "add_xstream(array)");
    expect_error(bedrock_service_add_xstream(handle,
                                             "{\"name\":\"x\",\"scheduler\":{\"pools\":[\"no_such_pool\"]}}"),
                 "add_xstream(unknown pool)");
    expect_error(bedrock_service_remove_xstream(handle, NULL), "remove_xstream(NULL)");
    expect_error(bedrock_service_remove_xstream(handle, "no_such_es"), "remove_xstream(unknown)");

    /* ---- groups ---------------------------------------------------- */
    addrs_with_null[0] = address;
    addrs_with_null[1] = NULL;
    expect_error(bedrock_service_group_create(NULL, addrs_with_null, 1, 0, &group),
                 "group_create(NULL client)");
    expect_error(bedrock_service_group_create(client, NULL, 2, 0, &group),
                 "group_create(NULL list, count 2)");
    expect_error(bedrock_service_group_create(client, addrs_with_null, 2, 0, &group),
                 "group_create(NULL element)");
    one_addr[0] = "garbage";
    expect_error(bedrock_service_group_create(client, one_addr, 1, 0, &group),
                 "group_create(garbage address)");
    expect_error(bedrock_service_group_create(client, addrs_with_null, 1, 0, NULL),
                 "group_create(NULL output)");
    check(bedrock_service_group_size(NULL) == 0, "group_size(NULL) == 0");
    expect_error(bedrock_service_group_get_config(NULL, &text), "group_get_config(NULL)");
    expect_error(bedrock_service_group_release(NULL), "group_release(NULL)");
    expect_error(bedrock_service_group_shutdown(NULL), "group_shutdown(NULL)");
    expect_error(bedrock_service_group_create_from_file(client, NULL, 0, &group),
                 "group_create_from_file(NULL name)");
    expect_error(bedrock_service_group_create_from_file(NULL, "x.flock", 0, &group),
                 "group_create_from_file(NULL client)");
    expect_error(bedrock_service_group_create_from_file(client, "/nonexistent.flock", 0, &group),
                 "group_create_from_file(missing file)");
    fd = mkstemps(garbage_file, 6);
    if(fd >= 0 && (f = fdopen(fd, "w")) != NULL) {
        fputs("garbage{\"members\":", f);
        fclose(f);
        expect_error(bedrock_service_group_create_from_file(client, garbage_file, 0, &group),
                     "group_create_from_file(garbage file)");
        f = fopen(garbage_file, "w");
        if(f) {
            fputs("{\"members\":[{\"address\":42}],\"metadata\":{}}", f);
            fclose(f);
            expect_error(bedrock_service_group_create_from_file(client, garbage_file, 0, &group),
                         "group_create_from_file(member address is a number)");
        }
        remove(garbage_file);
    }
    check(group == NULL, "failed group creation leaves the output alone");

    rc = bedrock_service_group_create(client, NULL, 0, 0, &group);
    check(rc == BEDROCK_SUCCESS && group != NULL, "group_create(empty list)");
    if(group) {
        check(bedrock_service_group_size(group) == 0, "empty group has size 0");
        expect_error(bedrock_service_group_get_config(group, NULL),
                     "group_get_config(NULL output)");
        rc = bedrock_service_group_get_config(group, &text);
        check(rc == BEDROCK_SUCCESS && text && strcmp(text, "{}") == 0,
              "empty group's config is {}");
        free(text);
        text = NULL;
        bedrock_service_group_release(group);
        group = NULL;
    }

    /* ---- the daemon survived ------------------------------------- */
    rc = bedrock_service_get_config(handle, &text);
    check(rc == BEDROCK_SUCCESS && text && strstr(text, "\"providers\"") != NULL,
          "the daemon still answers get_config");
    free(text);

    check(bedrock_service_handle_release(handle) == BEDROCK_SUCCESS, "service_handle_release");
    check(bedrock_client_finalize(client) == BEDROCK_SUCCESS, "client_finalize");
    margo_finalize(mid);
    printf("%s\n", failures ? "C API test FAILED" : "C API test passed");
    return failures > 100 ? 100 : failures;
}
