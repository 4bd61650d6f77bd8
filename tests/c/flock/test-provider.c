/*
 * Provider registration (spec §6.2, upstream's order of checks and error
 * codes), flock_provider_get_config (§6.3), the group file a provider writes
 * (§6.4) and the update callbacks.
 */
#define _POSIX_C_SOURCE 200809L
#include "flocktest.h"

#include <flock/flock-server.h>
#include <flock/flock-client.h>
#include <flock/flock-group.h>

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char* STATIC_CONFIG = "{\"group\":{\"type\":\"static\"}}";
static const char* STATIC_GET_CONFIG =
    "{\"gateway\":{\"type\":\"default\",\"config\":{}},\"group\":{\"type\":\"static\",\"config\":{}}}";

/* Registers on (mid, pid) with a self view; returns the code. */
static int register_self(margo_instance_id mid, uint16_t pid, const char* config,
                         flock_provider_t* provider)
{
    flock_group_view_t view = FLOCK_GROUP_VIEW_INITIALIZER;
    ft_self_view(mid, pid, &view);
    struct flock_provider_args args = FLOCK_PROVIDER_ARGS_INIT;
    args.initial_view               = &view;
    int rc = flock_provider_register(mid, pid, config, &args, provider);
    flock_group_view_clear(&view);
    return rc;
}

static void client_mode_margo(void)
{
    margo_instance_id mid = ft_margo_client();
    REQUIRE(mid != MARGO_INSTANCE_NULL);
    flock_provider_t p = FLOCK_PROVIDER_NULL;
    CHECK_RC(register_self(mid, 1, STATIC_CONFIG, &p), FLOCK_ERR_INVALID_ARGS);
    CHECK(p == FLOCK_PROVIDER_NULL);
    /* the margo check comes before the config checks */
    CHECK_RC(register_self(mid, 1, "not json", &p), FLOCK_ERR_INVALID_ARGS);
    CHECK_RC(register_self(mid, 1, "{}", &p), FLOCK_ERR_INVALID_ARGS);
    margo_finalize(mid);

    CHECK_RC(flock_provider_register(MARGO_INSTANCE_NULL, 1, STATIC_CONFIG, NULL, &p),
             FLOCK_ERR_INVALID_ARGS);
}

static void duplicate_provider_id(void)
{
    margo_instance_id mid = ft_margo_server();
    REQUIRE(mid != MARGO_INSTANCE_NULL);
    flock_provider_t p1 = FLOCK_PROVIDER_NULL, p2 = FLOCK_PROVIDER_NULL;
    REQUIRE_OK(register_self(mid, 5, STATIC_CONFIG, &p1));
    CHECK(p1 != FLOCK_PROVIDER_NULL);
    CHECK_RC(register_self(mid, 5, STATIC_CONFIG, &p2), FLOCK_ERR_INVALID_PROVIDER);
    CHECK(p2 == FLOCK_PROVIDER_NULL);
    /* the provider-id check comes before the config checks */
    CHECK_RC(register_self(mid, 5, "{\"group\":", &p2), FLOCK_ERR_INVALID_PROVIDER);
    CHECK_RC(register_self(mid, 5, "{}", &p2), FLOCK_ERR_INVALID_PROVIDER);
    /* another id on the same instance is fine */
    CHECK_OK(register_self(mid, 6, STATIC_CONFIG, &p2));
    CHECK_OK(flock_provider_destroy(p2));
    /* once destroyed, the id is free again */
    CHECK_OK(flock_provider_destroy(p1));
    p1 = FLOCK_PROVIDER_NULL;
    CHECK_OK(register_self(mid, 5, STATIC_CONFIG, &p1));
    if (p1) CHECK_OK(flock_provider_destroy(p1));
    margo_finalize(mid);
}

static void invalid_configs(void)
{
    static const char* bad[] = {
        "{",
        "not json",
        "[]",
        "[{\"group\":{\"type\":\"static\"}}]",
        "42",
        "\"static\"",
        "true",
        "{}",
        "{\"file\":\"x.flock\"}",
        "{\"group\":42}",
        "{\"group\":\"static\"}",
        "{\"group\":[\"static\"]}",
        "{\"group\":{}}",
        "{\"group\":{\"config\":{}}}",
        "{\"group\":{\"type\":42}}",
        "{\"group\":{\"type\":null}}",
        "{\"group\":{\"type\":\"no-such-backend\"}}",
        "{\"group\":{\"type\":\"Static\"}}",
        "{\"group\":{\"type\":\"static\"},\"gateway\":42}",
        "{\"group\":{\"type\":\"static\"},\"gateway\":\"default\"}",
        "{\"group\":{\"type\":\"static\"},\"gateway\":{}}",
        "{\"group\":{\"type\":\"static\"},\"gateway\":{\"type\":7}}",
        "{\"group\":{\"type\":\"static\"},\"gateway\":{\"type\":\"no-such-gateway\"}}",
        "{\"gateway\":{\"type\":\"default\"}}",
    };
    margo_instance_id mid = ft_margo_server();
    REQUIRE(mid != MARGO_INSTANCE_NULL);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
        flock_provider_t p  = FLOCK_PROVIDER_NULL;
        int              rc = register_self(mid, 3, bad[i], &p);
        CHECK_MSG(rc == FLOCK_ERR_INVALID_CONFIG, "config %s: returned %d (%s), expected %d (%s)",
                  bad[i], rc, ft_code_name(rc), FLOCK_ERR_INVALID_CONFIG,
                  ft_code_name(FLOCK_ERR_INVALID_CONFIG));
        CHECK(p == FLOCK_PROVIDER_NULL);
        if (rc == FLOCK_SUCCESS && p) flock_provider_destroy(p);
    }
    /* NULL and empty configs are "{}": no group, so no backend */
    flock_provider_t p = FLOCK_PROVIDER_NULL;
    CHECK_RC(register_self(mid, 3, NULL, &p), FLOCK_ERR_INVALID_CONFIG);
    CHECK_RC(register_self(mid, 3, "", &p), FLOCK_ERR_INVALID_CONFIG);

    /* a config error is reported before the static backend's join check */
    flock_group_view_t other = FLOCK_GROUP_VIEW_INITIALIZER;
    flock_group_view_add_member(&other, "na+sm://1-0", 3);
    struct flock_provider_args args = FLOCK_PROVIDER_ARGS_INIT;
    args.initial_view               = &other;
    CHECK_RC(flock_provider_register(mid, 3, "{\"group\":{\"type\":\"nope\"}}", &args, &p),
             FLOCK_ERR_INVALID_CONFIG);
    flock_group_view_clear(&other);

    /* after all these failures, the id is still free */
    CHECK_OK(register_self(mid, 3, STATIC_CONFIG, &p));
    if (p) CHECK_OK(flock_provider_destroy(p));
    margo_finalize(mid);
}

static void static_not_in_view(void)
{
    margo_instance_id mid = ft_margo_server();
    REQUIRE(mid != MARGO_INSTANCE_NULL);
    char self[256];
    ft_self_address(mid, self, sizeof(self));
    flock_provider_t p = FLOCK_PROVIDER_NULL;

    /* our address, another provider id */
    flock_group_view_t view = FLOCK_GROUP_VIEW_INITIALIZER;
    flock_group_view_add_member(&view, self, 8);
    struct flock_provider_args args = FLOCK_PROVIDER_ARGS_INIT;
    args.initial_view               = &view;
    CHECK_RC(flock_provider_register(mid, 7, STATIC_CONFIG, &args, &p), FLOCK_ERR_OP_FORBIDDEN);
    CHECK(p == FLOCK_PROVIDER_NULL);
    flock_group_view_clear(&view);

    /* another address, our provider id */
    flock_group_view_add_member(&view, "na+sm://1-0", 7);
    flock_group_view_add_member(&view, "ofi+tcp://127.0.0.1:1", 7);
    CHECK_RC(flock_provider_register(mid, 7, STATIC_CONFIG, &args, &p), FLOCK_ERR_OP_FORBIDDEN);
    flock_group_view_clear(&view);

    /* no initial view at all (args NULL, or initial_view NULL): empty view */
    CHECK_RC(flock_provider_register(mid, 7, STATIC_CONFIG, NULL, &p), FLOCK_ERR_OP_FORBIDDEN);
    args.initial_view = NULL;
    CHECK_RC(flock_provider_register(mid, 7, STATIC_CONFIG, &args, &p), FLOCK_ERR_OP_FORBIDDEN);

    /* the failed registrations left nothing behind */
    CHECK_OK(register_self(mid, 7, STATIC_CONFIG, &p));
    if (p) CHECK_OK(flock_provider_destroy(p));
    margo_finalize(mid);
}

static void initial_view_moved(void)
{
    margo_instance_id mid = ft_margo_server();
    REQUIRE(mid != MARGO_INSTANCE_NULL);
    char self[256];
    ft_self_address(mid, self, sizeof(self));

    flock_group_view_t view = FLOCK_GROUP_VIEW_INITIALIZER;
    flock_group_view_add_member(&view, self, 9);
    flock_group_view_add_member(&view, "na+sm://999999-0", 1); /* never contacted */
    flock_group_view_add_metadata(&view, "user", "data");
    flock_group_view_add_metadata(&view, "other", "thing");
    struct flock_provider_args args = FLOCK_PROVIDER_ARGS_INIT;
    args.initial_view               = &view;
    flock_provider_t p              = FLOCK_PROVIDER_NULL;
    REQUIRE_OK(flock_provider_register(mid, 9, STATIC_CONFIG, &args, &p));
    CHECK_U64(view.members.size, 0);
    CHECK(view.members.data == NULL);
    CHECK_U64(view.metadata.size, 0);
    CHECK(view.metadata.data == NULL);
    CHECK_U64(view.digest, 0);
    flock_group_view_clear(&view); /* harmless on the emptied view */

    /* the provider's view: the initial one plus the backend's two keys */
    flock_group_view_t got = FLOCK_GROUP_VIEW_INITIALIZER;
    CHECK_OK(ft_fetch_view(mid, self, 9, 0, &got));
    CHECK_U64(got.members.size, 2);
    CHECK_U64(got.metadata.size, 4);
    CHECK_STR(flock_group_view_find_metadata(&got, "user"), "data");
    CHECK_STR(flock_group_view_find_metadata(&got, "other"), "thing");
    CHECK_STR(flock_group_view_find_metadata(&got, "__type__"), "static");
    CHECK_STR(flock_group_view_find_metadata(&got, "__config__"), "{}");
    CHECK(flock_group_view_find_member(&got, self, 9) != NULL);
    CHECK(flock_group_view_find_member(&got, "na+sm://999999-0", 1) != NULL);
    CHECK_U64(got.digest, ft_recompute_digest(&got));
    flock_group_view_clear(&got);
    CHECK_OK(flock_provider_destroy(p));

    /* upstream moves the view out first, so a failed registration empties
     * it too */
    flock_group_view_add_member(&view, self, 9);
    CHECK_RC(flock_provider_register(mid, 9, "{}", &args, &p), FLOCK_ERR_INVALID_CONFIG);
    CHECK_U64(view.members.size, 0);
    flock_group_view_clear(&view);
    margo_finalize(mid);
}

/* Views travel as JSON (UTF-8): UTF-8 bytes come back exactly, with the
 * digest computed in C; a non-UTF-8 initial view is refused with
 * FLOCK_ERR_INVALID_ARGS (a documented difference: upstream copies bytes). */
static void initial_view_bytes(void)
{
    margo_instance_id mid = ft_margo_server();
    REQUIRE(mid);
    char self[256];
    ft_self_address(mid, self, sizeof(self));
    flock_group_view_t view = FLOCK_GROUP_VIEW_INITIALIZER;
    flock_group_view_add_member(&view, self, 1);
    flock_group_view_add_metadata(&view, "utf8", "\xc3\xa9t\xc3\xa9");
    flock_group_view_add_metadata(&view, "__config__", "{}");
    flock_group_view_add_metadata(&view, "__type__", "static");
    uint64_t expected = view.digest;
    struct flock_provider_args args = FLOCK_PROVIDER_ARGS_INIT;
    args.initial_view               = &view;
    flock_provider_t p              = NULL;
    REQUIRE_OK(flock_provider_register(mid, 1, STATIC_CONFIG, &args, &p));
    flock_group_view_t got = FLOCK_GROUP_VIEW_INITIALIZER;
    CHECK_OK(ft_fetch_view(mid, self, 1, 0, &got));
    CHECK_STR(flock_group_view_find_metadata(&got, "utf8"), "\xc3\xa9t\xc3\xa9");
    CHECK_U64(got.digest, expected);
    flock_group_view_clear(&got);
    CHECK_OK(flock_provider_destroy(p));

    flock_group_view_t latin1 = FLOCK_GROUP_VIEW_INITIALIZER;
    flock_group_view_add_member(&latin1, self, 2);
    flock_group_view_add_metadata(&latin1, "latin1", "\xe9t\xe9");
    args.initial_view = &latin1;
    CHECK_RC(flock_provider_register(mid, 2, STATIC_CONFIG, &args, &p), FLOCK_ERR_INVALID_ARGS);
    flock_group_view_clear(&latin1);
    flock_group_view_clear(&view);
    margo_finalize(mid);
}

static void get_config_static(void)
{
    margo_instance_id mid = ft_margo_server();
    REQUIRE(mid != MARGO_INSTANCE_NULL);
    flock_provider_t p = FLOCK_PROVIDER_NULL;

    REQUIRE_OK(register_self(mid, 1, STATIC_CONFIG, &p));
    char* c = flock_provider_get_config(p);
    CHECK_STR(c, STATIC_GET_CONFIG);
    free(c);
    CHECK_OK(flock_provider_destroy(p));

    /* group.config is ignored by static; the default gateway ignores its config */
    REQUIRE_OK(register_self(mid, 1,
                             "{\"group\":{\"type\":\"static\",\"config\":{\"x\":1,\"y\":[1,2]}},"
                             "\"gateway\":{\"type\":\"default\",\"config\":{\"a\":\"b\"}},"
                             "\"bootstrap\":\"self\",\"mpi_ranks\":[0]}",
                             &p));
    c = flock_provider_get_config(p);
    CHECK_STR(c, STATIC_GET_CONFIG);
    free(c);
    CHECK_OK(flock_provider_destroy(p));

    /* with "file" */
    char file[512], cfg[1024], expected[1024];
    snprintf(file, sizeof(file), "%s/group.flock", ft_tmpdir());
    snprintf(cfg, sizeof(cfg), "{\"file\":\"%s\",\"group\":{\"type\":\"static\"}}", file);
    snprintf(expected, sizeof(expected),
             "{\"gateway\":{\"type\":\"default\",\"config\":{}},"
             "\"group\":{\"type\":\"static\",\"config\":{}},\"file\":\"%s\"}",
             file);
    REQUIRE_OK(register_self(mid, 2, cfg, &p));
    c = flock_provider_get_config(p);
    CHECK_STR(c, expected);
    free(c);
    /* two calls give two independent strings */
    char* c1 = flock_provider_get_config(p);
    char* c2 = flock_provider_get_config(p);
    CHECK(c1 && c2 && c1 != c2);
    free(c1);
    free(c2);
    CHECK_OK(flock_provider_destroy(p));

    CHECK(flock_provider_get_config(FLOCK_PROVIDER_NULL) == NULL);
    margo_finalize(mid);
}

static void group_file(void)
{
    margo_instance_id mid = ft_margo_server();
    REQUIRE(mid != MARGO_INSTANCE_NULL);
    char self[256];
    ft_self_address(mid, self, sizeof(self));
    const char* dir = ft_tmpdir();
    char        file[512], cfg[1024];
    snprintf(file, sizeof(file), "%s/group.flock", dir);
    snprintf(cfg, sizeof(cfg), "{\"group\":{\"type\":\"static\"},\"file\":\"%s\"}", file);

    /* we sort first: we write the file */
    flock_group_view_t view = FLOCK_GROUP_VIEW_INITIALIZER;
    flock_group_view_add_member(&view, self, 4);
    flock_group_view_add_member(&view, "zzz://never-contacted", 4);
    flock_group_view_add_metadata(&view, "k", "v");
    struct flock_provider_args args = FLOCK_PROVIDER_ARGS_INIT;
    args.initial_view               = &view;
    flock_provider_t p              = FLOCK_PROVIDER_NULL;
    REQUIRE_OK(flock_provider_register(mid, 4, cfg, &args, &p));

    struct stat st;
    CHECK_MSG(stat(file, &st) == 0, "the provider did not write its group file %s", file);
    CHECK_MSG((st.st_mode & 07777) == 0600, "group file mode %04o, expected 0600",
              (unsigned)(st.st_mode & 07777));
    flock_group_view_t fromfile = FLOCK_GROUP_VIEW_INITIALIZER;
    CHECK_OK(flock_group_view_from_file(file, &fromfile));
    CHECK_U64(fromfile.members.size, 2);
    CHECK_STR(flock_group_view_find_metadata(&fromfile, "k"), "v");
    CHECK_STR(flock_group_view_find_metadata(&fromfile, "__type__"), "static");
    CHECK_STR(flock_group_view_find_metadata(&fromfile, "__config__"), "{}");
    flock_group_view_t got = FLOCK_GROUP_VIEW_INITIALIZER;
    CHECK_OK(ft_fetch_view(mid, self, 4, 0, &got));
    CHECK_U64(fromfile.digest, got.digest);
    char* expected_text = ft_serialize(&got, NULL);
    char* file_text     = ft_read_file(file, NULL);
    CHECK_STR(file_text, expected_text);
    free(expected_text);
    free(file_text);
    flock_group_view_clear(&fromfile);
    flock_group_view_clear(&got);
    CHECK_OK(flock_provider_destroy(p));
    /* the file is not deleted on destroy */
    CHECK(access(file, F_OK) == 0);
    unlink(file);

    /* a group file that cannot be written is only a warning */
    char bad_cfg[1024];
    snprintf(bad_cfg, sizeof(bad_cfg),
             "{\"group\":{\"type\":\"static\"},\"file\":\"%s/no/such/dir/g.flock\"}", dir);
    flock_group_view_add_member(&view, self, 4);
    CHECK_OK(flock_provider_register(mid, 4, bad_cfg, &args, &p));
    if (p) CHECK_OK(flock_provider_destroy(p));

    /* someone else sorts first: we do not write it */
    flock_group_view_add_member(&view, self, 4);
    flock_group_view_add_member(&view, "aaa://never-contacted", 4);
    REQUIRE_OK(flock_provider_register(mid, 4, cfg, &args, &p));
    CHECK_MSG(access(file, F_OK) != 0, "a provider that is not members[0] wrote the group file");
    CHECK_OK(flock_provider_destroy(p));
    margo_finalize(mid);
}

/* ---- callbacks --------------------------------------------------------- */

typedef struct {
    int  member_calls;
    int  metadata_calls;
    char last_key[64];
    char last_value[64];
} cb_record;

static void on_member_a(void* ctx, flock_update_t u, const char* a, uint16_t p)
{
    (void)u; (void)a; (void)p;
    ((cb_record*)ctx)->member_calls++;
}
static void on_metadata_a(void* ctx, const char* k, const char* v)
{
    cb_record* r = ctx;
    r->metadata_calls++;
    snprintf(r->last_key, sizeof(r->last_key), "%s", k);
    snprintf(r->last_value, sizeof(r->last_value), "%s", v);
}
/* the replacement for A: counts in the second half of the record */
static cb_record replaced;
static void      on_metadata_a2(void* ctx, const char* k, const char* v)
{
    (void)ctx;
    on_metadata_a(&replaced, k, v);
}

static void wait_calls(const int* counter, int target, int ms)
{
    double end = ft_now_ms() + ms;
    while (__atomic_load_n(counter, __ATOMIC_SEQ_CST) < target && ft_now_ms() < end)
        ft_sleep_ms(10);
}

static void update_callbacks(void)
{
    margo_instance_id mid = ft_margo_server();
    REQUIRE(mid != MARGO_INSTANCE_NULL);
    char self[256];
    ft_self_address(mid, self, sizeof(self));
    flock_provider_t p = FLOCK_PROVIDER_NULL;
    REQUIRE_OK(register_self(mid, 1, STATIC_CONFIG, &p));

    cb_record a = {0}, b = {0};
    CHECK_OK(flock_provider_add_update_callbacks(p, on_member_a, on_metadata_a, &a));
    CHECK_OK(flock_provider_add_update_callbacks(p, on_member_a, on_metadata_a, &b));
    /* same context again: replaces A's functions */
    CHECK_OK(flock_provider_add_update_callbacks(p, on_member_a, on_metadata_a2, &a));

    /* removing an unknown context must not crash (upstream does); ours
     * documents FLOCK_ERR_INVALID_ARGS */
    int unknown = 0;
    CHECK_RC(flock_provider_remove_update_callbacks(p, &unknown), FLOCK_ERR_INVALID_ARGS);
    CHECK_RC(flock_provider_remove_update_callbacks(p, NULL), FLOCK_ERR_INVALID_ARGS);

    /* a change fires the callbacks: B's and A's replacement, not A's old one */
    flock_client_t       client = FLOCK_CLIENT_NULL;
    flock_group_handle_t h      = FLOCK_GROUP_HANDLE_NULL;
    hg_addr_t            addr   = ft_lookup(mid, self);
    REQUIRE_OK(flock_client_init(mid, ABT_POOL_NULL, &client));
    REQUIRE_OK(flock_group_handle_create(client, addr, 1, 0, &h));
    CHECK_OK(flock_group_metadata_set(h, "color", "blue"));
    wait_calls(&b.metadata_calls, 1, 5000);
    wait_calls(&replaced.metadata_calls, 1, 5000);
    CHECK_MSG(b.metadata_calls == 1, "B's metadata callback fired %d times", b.metadata_calls);
    CHECK_STR(b.last_key, "color");
    CHECK_STR(b.last_value, "blue");
    CHECK_MSG(replaced.metadata_calls == 1, "A's replacement fired %d times",
              replaced.metadata_calls);
    CHECK_MSG(a.metadata_calls == 0, "A's replaced callback still fired (%d)", a.metadata_calls);
    CHECK_MSG(a.member_calls == 0 && b.member_calls == 0,
              "membership callbacks fired in a static group");

    /* remove B: only A's replacement fires */
    CHECK_OK(flock_provider_remove_update_callbacks(p, &b));
    CHECK_RC(flock_provider_remove_update_callbacks(p, &b), FLOCK_ERR_INVALID_ARGS);
    CHECK_OK(flock_group_metadata_set(h, "color", "red"));
    wait_calls(&replaced.metadata_calls, 2, 5000);
    ft_sleep_ms(200);
    CHECK_MSG(replaced.metadata_calls == 2, "A's replacement fired %d times in all",
              replaced.metadata_calls);
    CHECK_STR(replaced.last_value, "red");
    CHECK_MSG(b.metadata_calls == 1, "removed callback fired (%d calls)", b.metadata_calls);

    /* remove A too: nothing fires, nothing crashes */
    CHECK_OK(flock_provider_remove_update_callbacks(p, &a));
    CHECK_OK(flock_group_metadata_set(h, "color", "green"));
    ft_sleep_ms(200);
    CHECK(replaced.metadata_calls == 2);

    CHECK_OK(flock_group_handle_release(h));
    CHECK_OK(flock_client_finalize(client));
    margo_addr_free(mid, addr);
    CHECK_OK(flock_provider_destroy(p));
    margo_finalize(mid);
}

static void provider_ignore(void)
{
    margo_instance_id mid = ft_margo_server();
    REQUIRE(mid != MARGO_INSTANCE_NULL);
    char self[256];
    ft_self_address(mid, self, sizeof(self));
    /* no handle wanted: lives until margo_finalize */
    CHECK_OK(register_self(mid, 11, STATIC_CONFIG, FLOCK_PROVIDER_IGNORE));
    flock_provider_t p = FLOCK_PROVIDER_NULL;
    CHECK_RC(register_self(mid, 11, STATIC_CONFIG, &p), FLOCK_ERR_INVALID_PROVIDER);
    flock_group_view_t got = FLOCK_GROUP_VIEW_INITIALIZER;
    CHECK_OK(ft_fetch_view(mid, self, 11, 0, &got));
    CHECK_U64(got.members.size, 1);
    flock_group_view_clear(&got);
    /* a provider still registered at finalize is destroyed by margo */
    CHECK_OK(register_self(mid, 12, STATIC_CONFIG, &p));
    margo_finalize(mid);
}

static void pools(void)
{
    margo_instance_id mid   = ft_margo_server();
    margo_instance_id other = ft_margo_server();
    REQUIRE(mid != MARGO_INSTANCE_NULL && other != MARGO_INSTANCE_NULL);
    char self[256];
    ft_self_address(mid, self, sizeof(self));

    ABT_pool pool = ABT_POOL_NULL;
    CHECK(margo_get_handler_pool(mid, &pool) == 0);
    flock_group_view_t view = FLOCK_GROUP_VIEW_INITIALIZER;
    ft_self_view(mid, 1, &view);
    struct flock_provider_args args = FLOCK_PROVIDER_ARGS_INIT;
    args.pool                       = pool;
    args.initial_view               = &view;
    flock_provider_t p              = FLOCK_PROVIDER_NULL;
    CHECK_OK(flock_provider_register(mid, 1, STATIC_CONFIG, &args, &p));
    flock_group_view_t got = FLOCK_GROUP_VIEW_INITIALIZER;
    CHECK_OK(ft_fetch_view(mid, self, 1, 0, &got));
    CHECK_U64(got.members.size, 1);
    flock_group_view_clear(&got);
    if (p) CHECK_OK(flock_provider_destroy(p));

    /* a pool of another instance is refused (ours: INVALID_ARGS) */
    ABT_pool foreign = ABT_POOL_NULL;
    CHECK(margo_get_handler_pool(other, &foreign) == 0);
    ft_self_view(mid, 2, &view);
    args.pool = foreign;
    p         = FLOCK_PROVIDER_NULL;
    CHECK_RC(flock_provider_register(mid, 2, STATIC_CONFIG, &args, &p), FLOCK_ERR_INVALID_ARGS);
    flock_group_view_clear(&view);
    margo_finalize(other);
    margo_finalize(mid);
}

static void destroy_and_reregister(void)
{
    margo_instance_id mid = ft_margo_server();
    REQUIRE(mid != MARGO_INSTANCE_NULL);
    char self[256];
    ft_self_address(mid, self, sizeof(self));
    flock_provider_t p = FLOCK_PROVIDER_NULL;
    REQUIRE_OK(register_self(mid, 21, STATIC_CONFIG, &p));
    CHECK_OK(flock_provider_destroy(p));
    /* nobody answers as a Flock provider there any more */
    flock_group_view_t got = FLOCK_GROUP_VIEW_INITIALIZER;
    CHECK_RC(ft_fetch_view(mid, self, 21, 0, &got), FLOCK_ERR_INVALID_PROVIDER);
    flock_group_view_clear(&got);
    for (int i = 0; i < 3; ++i) {
        REQUIRE_OK(register_self(mid, 21, STATIC_CONFIG, &p));
        CHECK_OK(ft_fetch_view(mid, self, 21, 0, &got));
        CHECK_U64(got.members.size, 1);
        flock_group_view_clear(&got);
        CHECK_OK(flock_provider_destroy(p));
    }
    margo_finalize(mid);
}

static const ft_case cases[] = {
    {"client_mode_margo", client_mode_margo},
    {"duplicate_provider_id", duplicate_provider_id},
    {"invalid_configs", invalid_configs},
    {"static_not_in_view", static_not_in_view},
    {"initial_view_moved", initial_view_moved},
    {"initial_view_bytes", initial_view_bytes},
    {"get_config_static", get_config_static},
    {"group_file", group_file},
    {"update_callbacks", update_callbacks},
    {"provider_ignore", provider_ignore},
    {"pools", pools},
    {"destroy_and_reregister", destroy_and_reregister},
};

int main(int argc, char** argv)
{
    return ft_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
