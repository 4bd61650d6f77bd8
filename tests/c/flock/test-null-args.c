/*
 * NULL everywhere: every Flock entry point, given a NULL handle or a NULL
 * pointer where it needs one, returns FLOCK_ERR_INVALID_ARGS (or NULL for
 * flock_provider_get_config) and does not crash. Each pointer argument is
 * tried NULL on its own, the others being valid, so that a missing check on
 * any one of them shows up.
 */
#define _POSIX_C_SOURCE 200809L
#include "flocktest.h"

#include <flock/flock-backend.h>
#include <flock/flock-bootstrap.h>
#include <flock/flock-gateway.h>

#include <stdlib.h>
#include <string.h>

static void serializer(void* u, const char* s, size_t n)
{
    (void)u; (void)s; (void)n;
}
static void access_fn(void* u, const flock_group_view_t* v)
{
    (void)u; (void)v;
}
static void member_fn(void* c, flock_update_t u, const char* a, uint16_t p)
{
    (void)c; (void)u; (void)a; (void)p;
}
static void metadata_fn(void* c, const char* k, const char* v)
{
    (void)c; (void)k; (void)v;
}

#define INVALID FLOCK_ERR_INVALID_ARGS

static void views_and_files(void)
{
    flock_group_view_t v = FLOCK_GROUP_VIEW_INITIALIZER;
    flock_group_view_add_member(&v, "a", 1);
    char file[512];
    snprintf(file, sizeof(file), "%s/v.flock", ft_tmpdir());
    REQUIRE_OK(flock_group_view_serialize_to_file(&v, file));
    const char* text = "{\"members\":[{\"address\":\"a\",\"provider_id\":1}]}";

    CHECK_RC(flock_group_view_serialize(NULL, serializer, NULL), INVALID);
    CHECK_RC(flock_group_view_serialize(&v, NULL, NULL), INVALID);
    CHECK_RC(flock_group_view_serialize(NULL, NULL, NULL), INVALID);
    CHECK_OK(flock_group_view_serialize(&v, serializer, NULL)); /* NULL context is fine */
    CHECK_RC(flock_group_view_serialize_to_file(NULL, file), INVALID);
    CHECK_RC(flock_group_view_serialize_to_file(&v, NULL), INVALID);
    CHECK_RC(flock_group_view_from_string(NULL, 10, &v), INVALID);
    CHECK_RC(flock_group_view_from_string(text, strlen(text), NULL), INVALID);
    CHECK_RC(flock_group_view_from_file(NULL, &v), INVALID);
    CHECK_RC(flock_group_view_from_file(file, NULL), INVALID);
    CHECK_RC(flock_group_view_init_from_file(NULL, &v), INVALID);
    CHECK_RC(flock_group_view_init_from_file(file, NULL), INVALID);
    /* NULL text with length 0 */
    CHECK_RC(flock_group_view_from_string(NULL, 0, &v), INVALID);
    CHECK_U64(v.members.size, 1); /* untouched by all of the above */
    flock_group_view_clear(&v);
}

static void bootstrap(void)
{
    margo_instance_id mid = ft_margo_server();
    REQUIRE(mid);
    flock_group_view_t v = FLOCK_GROUP_VIEW_INITIALIZER;
    CHECK_RC(flock_group_view_init_from_self(MARGO_INSTANCE_NULL, 1, &v), INVALID);
    CHECK_RC(flock_group_view_init_from_self(mid, 1, NULL), INVALID);
    CHECK_U64(v.members.size, 0);
    margo_finalize(mid);
}

static void client(void)
{
    margo_instance_id mid = ft_margo_client();
    REQUIRE(mid);
    flock_client_t c = FLOCK_CLIENT_NULL;
    CHECK_RC(flock_client_init(MARGO_INSTANCE_NULL, ABT_POOL_NULL, &c), INVALID);
    CHECK_RC(flock_client_init(mid, ABT_POOL_NULL, NULL), INVALID);
    CHECK_RC(flock_client_init(MARGO_INSTANCE_NULL, ABT_POOL_NULL, NULL), INVALID);
    CHECK_RC(flock_client_finalize(NULL), INVALID);
    margo_finalize(mid);
}

static void group_handles(void)
{
    margo_instance_id mid = ft_margo_server();
    REQUIRE(mid);
    char self[256];
    ft_self_address(mid, self, sizeof(self));
    flock_group_view_t view = FLOCK_GROUP_VIEW_INITIALIZER;
    ft_self_view(mid, 1, &view);
    struct flock_provider_args args = FLOCK_PROVIDER_ARGS_INIT;
    args.initial_view               = &view;
    flock_provider_t p              = NULL;
    REQUIRE_OK(flock_provider_register(mid, 1, "{\"group\":{\"type\":\"static\"}}", &args, &p));
    flock_client_t c = NULL;
    REQUIRE_OK(flock_client_init(mid, ABT_POOL_NULL, &c));
    hg_addr_t addr = ft_lookup(mid, self);
    char      file[512];
    snprintf(file, sizeof(file), "%s/v.flock", ft_tmpdir());
    ft_self_view(mid, 1, &view);
    REQUIRE_OK(flock_group_view_serialize_to_file(&view, file));
    char* text = ft_serialize(&view, NULL);
    REQUIRE(text != NULL);
    size_t len = strlen(text);

    flock_group_handle_t h = NULL;
    CHECK_RC(flock_group_handle_create(NULL, addr, 1, 0, &h), INVALID);
    CHECK_RC(flock_group_handle_create(c, HG_ADDR_NULL, 1, 0, &h), INVALID);
    CHECK_RC(flock_group_handle_create(c, addr, 1, 0, NULL), INVALID);
    CHECK_RC(flock_group_handle_create_from_file(NULL, file, 0, &h), INVALID);
    CHECK_RC(flock_group_handle_create_from_file(c, NULL, 0, &h), INVALID);
    CHECK_RC(flock_group_handle_create_from_file(c, file, 0, NULL), INVALID);
    CHECK_RC(flock_group_handle_create_from_serialized(NULL, text, len, 0, &h), INVALID);
    CHECK_RC(flock_group_handle_create_from_serialized(c, NULL, len, 0, &h), INVALID);
    CHECK_RC(flock_group_handle_create_from_serialized(c, text, len, 0, NULL), INVALID);
    CHECK(h == NULL);

    CHECK_RC(flock_group_handle_ref_incr(NULL), INVALID);
    CHECK_RC(flock_group_handle_release(NULL), INVALID);
    flock_group_view_t v = FLOCK_GROUP_VIEW_INITIALIZER;
    CHECK_RC(flock_group_get_view(NULL, &v), INVALID);
    CHECK_RC(flock_group_access_view(NULL, access_fn, NULL), INVALID);
    CHECK_RC(flock_group_metadata_set(NULL, "k", "v"), INVALID);
    CHECK_RC(flock_group_update_view(NULL, NULL), INVALID);
    flock_request_t req = NULL;
    CHECK_RC(flock_group_update_view(NULL, &req), INVALID);
    CHECK(req == NULL);
    CHECK_RC(flock_request_wait(NULL), INVALID);
    bool done = false;
    CHECK_RC(flock_request_test(NULL, &done), INVALID);
    CHECK_RC(flock_group_subscribe(NULL, member_fn, metadata_fn, NULL), INVALID);
    CHECK_RC(flock_group_unsubscribe(NULL), INVALID);

    /* with a live handle, the other pointers */
    REQUIRE_OK(flock_group_handle_create(c, addr, 1, 0, &h));
    CHECK_RC(flock_group_get_view(h, NULL), INVALID);
    CHECK_RC(flock_group_metadata_set(h, NULL, "v"), INVALID);
    CHECK_RC(flock_group_metadata_set(h, "k", NULL), INVALID);
    CHECK_RC(flock_group_metadata_set(h, NULL, NULL), INVALID);
    CHECK_OK(flock_group_access_view(h, NULL, NULL));
    CHECK_OK(flock_group_update_view(h, &req));
    if (req) {
        CHECK_RC(flock_request_test(req, NULL), INVALID);
        CHECK_OK(flock_request_wait(req));
    }
    CHECK_OK(flock_group_handle_release(h));

    free(text);
    flock_group_view_clear(&view);
    margo_addr_free(mid, addr);
    CHECK_OK(flock_client_finalize(c));
    CHECK_OK(flock_provider_destroy(p));
    margo_finalize(mid);
}

static void provider(void)
{
    margo_instance_id mid = ft_margo_server();
    REQUIRE(mid);
    flock_provider_t p = NULL;
    CHECK_RC(flock_provider_register(MARGO_INSTANCE_NULL, 1, "{\"group\":{\"type\":\"static\"}}",
                                     NULL, &p),
             INVALID);
    CHECK_RC(flock_provider_destroy(NULL), INVALID);
    CHECK(flock_provider_get_config(NULL) == NULL);
    int ctx = 0;
    CHECK_RC(flock_provider_add_update_callbacks(NULL, member_fn, metadata_fn, &ctx), INVALID);
    CHECK_RC(flock_provider_remove_update_callbacks(NULL, &ctx), INVALID);

    /* a view with NULL pointers inside (size > 0, data NULL) is refused */
    flock_group_view_t broken = FLOCK_GROUP_VIEW_INITIALIZER;
    broken.members.size       = 1;
    struct flock_provider_args args = FLOCK_PROVIDER_ARGS_INIT;
    args.initial_view               = &broken;
    CHECK_RC(flock_provider_register(mid, 1, "{\"group\":{\"type\":\"static\"}}", &args, &p),
             INVALID);
    CHECK(p == NULL);
    margo_finalize(mid);
}

static void registries(void)
{
    CHECK_RC(flock_register_backend(NULL), INVALID);
    CHECK_RC(flock_provider_register_backend(NULL), INVALID);
    CHECK_RC(flock_register_gateway(NULL), INVALID);
    CHECK_RC(flock_provider_register_gateway(NULL), INVALID);
    static flock_backend_impl nameless_backend = {NULL, NULL, NULL, NULL, NULL, NULL, NULL};
    CHECK_RC(flock_register_backend(&nameless_backend), INVALID);
    static flock_gateway_impl nameless_gateway = {NULL, NULL, NULL, NULL, NULL, NULL};
    CHECK_RC(flock_register_gateway(&nameless_gateway), INVALID);
}

/* Tables with NULL functions: registering may succeed, but using them must
 * fail cleanly rather than call through NULL. */
static void incomplete_plugins(void)
{
    static flock_backend_impl empty_backend = {"ctest_null_backend", NULL, NULL, NULL,
                                               NULL, NULL, NULL};
    static flock_gateway_impl empty_gateway = {"ctest_null_gateway", NULL, NULL, NULL, NULL, NULL};
    flock_register_backend(&empty_backend);
    flock_register_gateway(&empty_gateway);
    margo_instance_id mid = ft_margo_server();
    REQUIRE(mid);
    flock_group_view_t view = FLOCK_GROUP_VIEW_INITIALIZER;
    ft_self_view(mid, 1, &view);
    struct flock_provider_args args = FLOCK_PROVIDER_ARGS_INIT;
    args.initial_view               = &view;
    flock_provider_t p              = NULL;
    int rc = flock_provider_register(mid, 1, "{\"group\":{\"type\":\"ctest_null_backend\"}}", &args, &p);
    CHECK_MSG(rc != FLOCK_SUCCESS, "a backend without init_group was accepted");
    if (rc == FLOCK_SUCCESS && p) flock_provider_destroy(p);
    ft_self_view(mid, 1, &view);
    p  = NULL;
    rc = flock_provider_register(mid, 1,
                                 "{\"group\":{\"type\":\"static\"},\"gateway\":{\"type\":\"ctest_null_gateway\"}}",
                                 &args, &p);
    CHECK_MSG(rc != FLOCK_SUCCESS, "a gateway without init/address functions was accepted");
    if (rc == FLOCK_SUCCESS && p) flock_provider_destroy(p);
    flock_group_view_clear(&view);
    margo_finalize(mid);
}

/* The margo calls the tests lean on: NULL arguments fail, never crash. */
static void margo_calls(void)
{
    margo_instance_id mid = ft_margo_server();
    REQUIRE(mid);
    hg_addr_t a = HG_ADDR_NULL;
    CHECK(margo_addr_self(MARGO_INSTANCE_NULL, &a) != HG_SUCCESS);
    CHECK(margo_addr_self(mid, NULL) != HG_SUCCESS);
    CHECK(margo_addr_lookup(mid, NULL, &a) != HG_SUCCESS);
    CHECK(margo_addr_lookup(MARGO_INSTANCE_NULL, "na+sm://1-0", &a) != HG_SUCCESS);
    CHECK(margo_addr_lookup(mid, "na+sm://1-0", NULL) != HG_SUCCESS);
    CHECK(a == HG_ADDR_NULL);
    hg_size_t size = 16;
    char      buf[16];
    CHECK(margo_addr_to_string(mid, buf, &size, HG_ADDR_NULL) != HG_SUCCESS);
    CHECK(margo_addr_to_string(mid, buf, NULL, HG_ADDR_NULL) != HG_SUCCESS);
    CHECK(margo_addr_free(mid, HG_ADDR_NULL) == HG_SUCCESS); /* documented no-op */
    ABT_pool pool = ABT_POOL_NULL;
    CHECK(margo_get_handler_pool(MARGO_INSTANCE_NULL, &pool) != 0);
    CHECK(margo_get_handler_pool(mid, NULL) != 0);
    CHECK(!margo_is_listening(MARGO_INSTANCE_NULL));
    margo_finalize(mid);
    margo_finalize(MARGO_INSTANCE_NULL);
}

static const ft_case cases[] = {
    {"margo_calls", margo_calls},
    {"views_and_files", views_and_files},
    {"bootstrap", bootstrap},
    {"client", client},
    {"group_handles", group_handles},
    {"provider", provider},
    {"registries", registries},
    {"incomplete_plugins", incomplete_plugins},
};

int main(int argc, char** argv)
{
    return ft_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
