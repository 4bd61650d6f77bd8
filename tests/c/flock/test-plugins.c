/*
 * Backend and gateway plug-ins written in C (spec §7, §8): a tiny "fixed"
 * backend that keeps its initial view and reads its settings out of the
 * json-c config it is given, and a gateway whose addresses come from margo
 * (public = local, or a configured public alias). Both are selected by name
 * through the provider config after flock_register_backend /
 * flock_register_gateway, or passed directly in flock_provider_args.
 *
 * This file includes json-c's own header next to <flock/flock-backend.h> and
 * <flock/flock-gateway.h>, as a third-party plug-in does.
 */
#define _POSIX_C_SOURCE 200809L
#include <json-c/json.h>
#include "flocktest.h"

#include <flock/flock-backend.h>
#include <flock/flock-gateway.h>
#include <flock/flock-server.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* ---- what the plug-ins saw (one provider at a time) -------------------- */

static struct {
    pthread_mutex_t mtx;
    int             backend_inits, backend_destroys, backend_add_metadata;
    int             gateway_inits, gateway_destroys;
    /* backend init arguments */
    margo_instance_id mid;
    uint16_t          provider_id;
    bool              pool_set, join, callbacks_set, config_is_object;
    char              self_addr[256];
    uint64_t          initial_members;
    /* at destroy: the config reference kept since init was still intact */
    bool              kept_config_intact;
    /* gateway init arguments */
    margo_instance_id gw_mid;
    uint16_t          gw_provider_id;
    bool              gw_config_is_object;
} seen = {.mtx = PTHREAD_MUTEX_INITIALIZER};

/* ---- the "fixed" backend ----------------------------------------------- */

typedef struct {
    flock_group_view_t         view;
    char                       label[64];
    int64_t                    answer;
    struct json_object*        config; /* a reference kept with json_object_get */
    flock_membership_update_fn member_cb;
    flock_metadata_update_fn   metadata_cb;
    void*                      cb_ctx;
    bool                       broken_view; /* get_view fails (config "broken_view") */
} fixed_state;

static flock_return_t fixed_init(flock_backend_init_args_t* args, void** state)
{
    pthread_mutex_lock(&seen.mtx);
    seen.backend_inits++;
    seen.mid              = args->mid;
    seen.provider_id      = args->provider_id;
    seen.pool_set         = args->pool != ABT_POOL_NULL;
    seen.join             = args->join;
    seen.callbacks_set    = args->member_update_callback && args->metadata_update_callback;
    seen.config_is_object = args->config && json_object_is_type(args->config, json_type_object);
    snprintf(seen.self_addr, sizeof(seen.self_addr), "%s",
             args->self_addr_str ? args->self_addr_str : "(null)");
    seen.initial_members = args->initial_view.members.size;
    pthread_mutex_unlock(&seen.mtx);

    struct json_object* o = NULL;
    if (json_object_object_get_ex(args->config, "fail", &o) && json_object_get_boolean(o))
        return FLOCK_ERR_INVALID_BACKEND;
    if (args->join) return FLOCK_ERR_OP_FORBIDDEN; /* a fixed group cannot be joined */

    fixed_state* s = calloc(1, sizeof(*s));
    if (!s) return FLOCK_ERR_ALLOCATION;
    snprintf(s->label, sizeof(s->label), "none");
    if (json_object_object_get_ex(args->config, "label", &o)
        && json_object_is_type(o, json_type_string))
        snprintf(s->label, sizeof(s->label), "%s", json_object_get_string(o));
    if (json_object_object_get_ex(args->config, "answer", &o)
        && json_object_is_type(o, json_type_int))
        s->answer = json_object_get_int64(o);
    if (json_object_object_get_ex(args->config, "broken_view", &o))
        s->broken_view = json_object_get_boolean(o);
    s->config      = json_object_get(args->config);
    s->member_cb   = args->member_update_callback;
    s->metadata_cb = args->metadata_update_callback;
    s->cb_ctx      = args->callback_context;

    /* take the initial view (the macro leaves args->initial_view empty) */
    FLOCK_GROUP_VIEW_MOVE(&args->initial_view, &s->view);
    flock_group_view_add_metadata(&s->view, "__type__", "ctest_fixed");
    flock_group_view_add_metadata(&s->view, "label", s->label);
    *state = s;
    return FLOCK_SUCCESS;
}

static flock_return_t fixed_destroy(void* state)
{
    fixed_state* s = state;
    pthread_mutex_lock(&seen.mtx);
    seen.backend_destroys++;
    struct json_object* o = NULL;
    seen.kept_config_intact =
        json_object_is_type(s->config, json_type_object)
        && (!json_object_object_get_ex(s->config, "label", &o)
            || strcmp(json_object_get_string(o), s->label) == 0);
    pthread_mutex_unlock(&seen.mtx);
    json_object_put(s->config);
    flock_group_view_clear(&s->view);
    free(s);
    return FLOCK_SUCCESS;
}

/* {"label": ..., "answer": ...} (answer only when non-zero): the insertion
 * order is not alphabetical. */
static flock_return_t fixed_get_config(void* state, void (*fn)(void*, const struct json_object*),
                                       void* uargs)
{
    fixed_state*        s   = state;
    struct json_object* cfg = json_object_new_object();
    json_object_object_add(cfg, "label", json_object_new_string(s->label));
    if (s->answer) json_object_object_add(cfg, "answer", json_object_new_int64(s->answer));
    fn(uargs, cfg);
    json_object_put(cfg);
    return FLOCK_SUCCESS;
}

static flock_return_t fixed_get_view(void* state, void (*fn)(void*, const flock_group_view_t*),
                                     void* uargs)
{
    fixed_state* s = state;
    if (s->broken_view) return FLOCK_ERR_OTHER;
    fn(uargs, &s->view);
    return FLOCK_SUCCESS;
}

static flock_return_t fixed_add_metadata(void* state, const char* key, const char* value)
{
    fixed_state* s = state;
    if (!strcmp(key, "__type__") || !strcmp(key, "label")) return FLOCK_ERR_OP_FORBIDDEN;
    pthread_mutex_lock(&seen.mtx);
    seen.backend_add_metadata++;
    pthread_mutex_unlock(&seen.mtx);
    flock_group_view_add_metadata(&s->view, key, value);
    s->metadata_cb(s->cb_ctx, key, value);
    return FLOCK_SUCCESS;
}

static flock_return_t fixed_remove_metadata(void* state, const char* key)
{
    fixed_state* s = state;
    flock_group_view_remove_metadata(&s->view, key);
    s->metadata_cb(s->cb_ctx, key, "");
    return FLOCK_SUCCESS;
}

static flock_backend_impl fixed_backend = {
    "ctest_fixed",     fixed_init,     fixed_destroy,         fixed_get_config,
    fixed_get_view,    fixed_add_metadata, fixed_remove_metadata,
};
/* the same functions under a name nobody registers (for args.backend) */
static flock_backend_impl fixed_backend_unregistered = {
    "ctest_fixed_args", fixed_init,     fixed_destroy,         fixed_get_config,
    fixed_get_view,     fixed_add_metadata, fixed_remove_metadata,
};

/* ---- the gateway ------------------------------------------------------- */

typedef struct {
    char local[256];
    char public_addr[256];
    char tag[64];
} gw_state;

static flock_return_t gw_init(flock_gateway_init_args_t* args, void** state)
{
    pthread_mutex_lock(&seen.mtx);
    seen.gateway_inits++;
    seen.gw_mid              = args->mid;
    seen.gw_provider_id      = args->provider_id;
    seen.gw_config_is_object = args->config && json_object_is_type(args->config, json_type_object);
    pthread_mutex_unlock(&seen.mtx);

    struct json_object* o = NULL;
    if (json_object_object_get_ex(args->config, "fail", &o) && json_object_get_boolean(o))
        return FLOCK_ERR_FROM_MERCURY;

    gw_state* s = calloc(1, sizeof(*s));
    if (!s) return FLOCK_ERR_ALLOCATION;
    hg_addr_t self = HG_ADDR_NULL;
    hg_size_t size = sizeof(s->local);
    if (margo_addr_self(args->mid, &self) != HG_SUCCESS
        || margo_addr_to_string(args->mid, s->local, &size, self) != HG_SUCCESS) {
        free(s);
        return FLOCK_ERR_FROM_MERCURY;
    }
    margo_addr_free(args->mid, self);
    snprintf(s->public_addr, sizeof(s->public_addr), "%s", s->local);
    if (json_object_object_get_ex(args->config, "public", &o)
        && json_object_is_type(o, json_type_string))
        snprintf(s->public_addr, sizeof(s->public_addr), "%s", json_object_get_string(o));
    snprintf(s->tag, sizeof(s->tag), "untagged");
    if (json_object_object_get_ex(args->config, "tag", &o)
        && json_object_is_type(o, json_type_string))
        snprintf(s->tag, sizeof(s->tag), "%s", json_object_get_string(o));
    *state = s;
    return FLOCK_SUCCESS;
}

static flock_return_t gw_destroy(void* state)
{
    pthread_mutex_lock(&seen.mtx);
    seen.gateway_destroys++;
    pthread_mutex_unlock(&seen.mtx);
    free(state);
    return FLOCK_SUCCESS;
}

static flock_return_t gw_get_config(void* state, void (*fn)(void*, const struct json_object*),
                                    void* uargs)
{
    gw_state*           s   = state;
    struct json_object* cfg = json_object_new_object();
    json_object_object_add(cfg, "tag", json_object_new_string(s->tag));
    fn(uargs, cfg);
    json_object_put(cfg);
    return FLOCK_SUCCESS;
}

static const char* gw_public(void* state) { return ((gw_state*)state)->public_addr; }
static const char* gw_local(void* state) { return ((gw_state*)state)->local; }

static flock_gateway_impl test_gateway = {
    "ctest_gw", gw_init, gw_destroy, gw_get_config, gw_public, gw_local,
};
static flock_gateway_impl test_gateway_unregistered = {
    "ctest_gw_args", gw_init, gw_destroy, gw_get_config, gw_public, gw_local,
};

/* ---- helpers ----------------------------------------------------------- */

static void reset_seen(void)
{
    pthread_mutex_lock(&seen.mtx);
    seen.backend_inits = seen.backend_destroys = seen.backend_add_metadata = 0;
    seen.gateway_inits = seen.gateway_destroys = 0;
    seen.kept_config_intact                    = false;
    pthread_mutex_unlock(&seen.mtx);
}

static int register_with(margo_instance_id mid, uint16_t pid, const char* config,
                         flock_backend_impl* backend, flock_gateway_impl* gateway,
                         const char* view_address, flock_provider_t* p)
{
    flock_group_view_t view = FLOCK_GROUP_VIEW_INITIALIZER;
    if (view_address)
        flock_group_view_add_member(&view, view_address, pid);
    else
        ft_self_view(mid, pid, &view);
    struct flock_provider_args args = FLOCK_PROVIDER_ARGS_INIT;
    args.initial_view               = &view;
    args.backend                    = backend;
    args.gateway                    = gateway;
    int rc = flock_provider_register(mid, pid, config, &args, p);
    flock_group_view_clear(&view);
    return rc;
}

typedef struct {
    int  calls;
    char key[64], value[64];
} md_record;
static void md_cb(void* ctx, const char* k, const char* v)
{
    md_record* r = ctx;
    __atomic_add_fetch(&r->calls, 1, __ATOMIC_SEQ_CST);
    snprintf(r->key, sizeof(r->key), "%s", k);
    snprintf(r->value, sizeof(r->value), "%s", v);
}
static void member_cb(void* ctx, flock_update_t u, const char* a, uint16_t p)
{
    (void)ctx; (void)u; (void)a; (void)p;
}

/* ---- cases: backend ---------------------------------------------------- */

struct json_object* ft_include_order_probe(void);

static void backend_register(void)
{
    struct json_object* probe = ft_include_order_probe();
    struct json_object* o     = NULL;
    CHECK(probe && json_object_object_get_ex(probe, "order", &o));
    CHECK_STR(o ? json_object_get_string(o) : NULL, "flock first");
    json_object_put(probe);

    CHECK_OK(flock_register_backend(&fixed_backend));
    CHECK_OK(flock_register_backend(&fixed_backend)); /* again: no-op */
    CHECK_OK(flock_provider_register_backend(&fixed_backend));
    /* built-in names are taken */
    static flock_backend_impl shadow = {"static", fixed_init, fixed_destroy, fixed_get_config,
                                        fixed_get_view, NULL, NULL};
    CHECK_OK(flock_register_backend(&shadow)); /* no-op: the built-in stays */
    margo_instance_id mid = ft_margo_server();
    REQUIRE(mid);
    reset_seen();
    flock_provider_t p = NULL;
    CHECK_OK(register_with(mid, 1, "{\"group\":{\"type\":\"static\"}}", NULL, NULL, NULL, &p));
    CHECK_MSG(seen.backend_inits == 0, "registering \"static\" again replaced the built-in");
    if (p) CHECK_OK(flock_provider_destroy(p));
    margo_finalize(mid);
}

static void backend_selected(void)
{
    REQUIRE_OK(flock_register_backend(&fixed_backend));
    margo_instance_id mid = ft_margo_server();
    REQUIRE(mid);
    char self[256];
    ft_self_address(mid, self, sizeof(self));
    reset_seen();

    flock_provider_t p = NULL;
    REQUIRE_OK(register_with(mid, 7,
                             "{\"group\":{\"type\":\"ctest_fixed\",\"config\":{\"label\":\"hello\"}}}",
                             NULL, NULL, NULL, &p));
    CHECK_U64(seen.backend_inits, 1);
    CHECK(seen.mid == mid);
    CHECK_U64(seen.provider_id, 7);
    CHECK_MSG(seen.pool_set, "init_group got ABT_POOL_NULL (expected the handler pool)");
    CHECK(!seen.join);
    CHECK(seen.callbacks_set);
    CHECK(seen.config_is_object);
    CHECK_STR(seen.self_addr, self);
    CHECK_U64(seen.initial_members, 1);

    /* the provider's view is the backend's */
    flock_group_view_t v = FLOCK_GROUP_VIEW_INITIALIZER;
    CHECK_OK(ft_fetch_view(mid, self, 7, 0, &v));
    CHECK_U64(v.members.size, 1);
    CHECK(flock_group_view_find_member(&v, self, 7) != NULL);
    CHECK_U64(v.metadata.size, 2);
    CHECK_STR(flock_group_view_find_metadata(&v, "label"), "hello"); /* read with json-c */
    CHECK_STR(flock_group_view_find_metadata(&v, "__type__"), "ctest_fixed");
    CHECK(flock_group_view_find_metadata(&v, "__config__") == NULL);
    CHECK_U64(v.digest, ft_recompute_digest(&v));
    flock_group_view_clear(&v);

    /* get_config: the backend's own config object, under group.config */
    char* c = flock_provider_get_config(p);
    CHECK_STR(c, "{\"gateway\":{\"type\":\"default\",\"config\":{}},"
                 "\"group\":{\"type\":\"ctest_fixed\",\"config\":{\"label\":\"hello\"}}}");
    free(c);

    /* metadata_set goes through the backend's add_metadata, and the change
     * it reports through its callback reaches the provider's callbacks */
    md_record r = {0, "", ""};
    CHECK_OK(flock_provider_add_update_callbacks(p, member_cb, md_cb, &r));
    flock_client_t       client = NULL;
    flock_group_handle_t h      = NULL;
    hg_addr_t            a      = ft_lookup(mid, self);
    CHECK_OK(flock_client_init(mid, ABT_POOL_NULL, &client));
    CHECK_OK(flock_group_handle_create(client, a, 7, 0, &h));
    if (h) {
        CHECK_OK(flock_group_metadata_set(h, "k", "v"));
        CHECK_U64(seen.backend_add_metadata, 1);
        double end = ft_now_ms() + 5000;
        while (__atomic_load_n(&r.calls, __ATOMIC_SEQ_CST) < 1 && ft_now_ms() < end) ft_sleep_ms(10);
        CHECK_MSG(r.calls == 1, "provider callback fired %d times", r.calls);
        CHECK_STR(r.key, "k");
        CHECK_STR(r.value, "v");
        CHECK_OK(flock_group_update_view(h, NULL));
        CHECK_OK(flock_group_get_view(h, &v));
        CHECK_STR(flock_group_view_find_metadata(&v, "k"), "v");
        flock_group_view_clear(&v);
        /* the backend's refusal comes back as its code */
        CHECK_RC(flock_group_metadata_set(h, "label", "other"), FLOCK_ERR_OP_FORBIDDEN);
        CHECK_OK(flock_group_handle_release(h));
    }
    CHECK_OK(flock_client_finalize(client));
    margo_addr_free(mid, a);

    CHECK_OK(flock_provider_destroy(p));
    CHECK_U64(seen.backend_destroys, 1);
    CHECK_MSG(seen.kept_config_intact, "the config reference kept by init_group was not intact");
    margo_finalize(mid);
}

/* Upstream prints the backend's json-c object as is (its key order); ours
 * reports plug-in configs with keys sorted (a documented difference). */
static void backend_config_key_order(void)
{
    REQUIRE_OK(flock_register_backend(&fixed_backend));
    margo_instance_id mid = ft_margo_server();
    REQUIRE(mid);
    flock_provider_t p = NULL;
    REQUIRE_OK(register_with(
        mid, 7, "{\"group\":{\"type\":\"ctest_fixed\",\"config\":{\"label\":\"x\",\"answer\":42}}}",
        NULL, NULL, NULL, &p));
    char* c = flock_provider_get_config(p);
    CHECK_STR(c, "{\"gateway\":{\"type\":\"default\",\"config\":{}},"
                 "\"group\":{\"type\":\"ctest_fixed\",\"config\":{\"answer\":42,\"label\":\"x\"}}}");
    free(c);
    CHECK_OK(flock_provider_destroy(p));
    margo_finalize(mid);
}

static void backend_via_args(void)
{
    margo_instance_id mid = ft_margo_server();
    REQUIRE(mid);
    char self[256];
    ft_self_address(mid, self, sizeof(self));
    reset_seen();
    flock_provider_t p = NULL;
    /* not registered by name, no group.type: the impl in args decides */
    REQUIRE_OK(register_with(mid, 3, "{\"group\":{\"config\":{\"label\":\"viaargs\"}}}",
                             &fixed_backend_unregistered, NULL, NULL, &p));
    char* c = flock_provider_get_config(p);
    CHECK_STR(c, "{\"gateway\":{\"type\":\"default\",\"config\":{}},"
                 "\"group\":{\"type\":\"ctest_fixed_args\",\"config\":{\"label\":\"viaargs\"}}}");
    free(c);
    CHECK_OK(flock_provider_destroy(p));
    /* with no group section at all */
    REQUIRE_OK(register_with(mid, 3, "{}", &fixed_backend_unregistered, NULL, NULL, &p));
    flock_group_view_t v = FLOCK_GROUP_VIEW_INITIALIZER;
    CHECK_OK(ft_fetch_view(mid, self, 3, 0, &v));
    CHECK_STR(flock_group_view_find_metadata(&v, "label"), "none");
    flock_group_view_clear(&v);
    CHECK_OK(flock_provider_destroy(p));
    /* and it overrides a group.type given in the config (warning only) */
    REQUIRE_OK(register_with(mid, 3, "{\"group\":{\"type\":\"static\"}}",
                             &fixed_backend_unregistered, NULL, NULL, &p));
    CHECK_OK(ft_fetch_view(mid, self, 3, 0, &v));
    CHECK_STR(flock_group_view_find_metadata(&v, "__type__"), "ctest_fixed");
    flock_group_view_clear(&v);
    CHECK_OK(flock_provider_destroy(p));
    /* the name was not registered on the way */
    CHECK_RC(register_with(mid, 3, "{\"group\":{\"type\":\"ctest_fixed_args\"}}", NULL, NULL,
                           NULL, &p),
             FLOCK_ERR_INVALID_CONFIG);
    margo_finalize(mid);
}

static void backend_failures(void)
{
    REQUIRE_OK(flock_register_backend(&fixed_backend));
    margo_instance_id mid = ft_margo_server();
    REQUIRE(mid);
    reset_seen();
    flock_provider_t p = NULL;
    /* init_group's error code is returned as is */
    CHECK_RC(register_with(mid, 4, "{\"group\":{\"type\":\"ctest_fixed\",\"config\":{\"fail\":true}}}",
                           NULL, NULL, NULL, &p),
             FLOCK_ERR_INVALID_BACKEND);
    CHECK(p == NULL);
    CHECK_U64(seen.backend_inits, 1);
    CHECK_U64(seen.backend_destroys, 0);
    /* not in the view: join == true, which this backend refuses */
    CHECK_RC(register_with(mid, 4, "{\"group\":{\"type\":\"ctest_fixed\"}}", NULL, NULL,
                           "na+sm://elsewhere", &p),
             FLOCK_ERR_OP_FORBIDDEN);
    CHECK_MSG(seen.join, "init_group was not told to join");
    /* the id is free again */
    CHECK_OK(register_with(mid, 4, "{\"group\":{\"type\":\"ctest_fixed\"}}", NULL, NULL, NULL, &p));
    /* a provider left to margo_finalize is destroyed once */
    int destroys = seen.backend_destroys;
    margo_finalize(mid);
    CHECK_U64(seen.backend_destroys, destroys + 1);
}

/* A backend whose get_view fails: upstream's flock_get_view handler answers
 * FLOCK_ERR_OTHER, so clients get an error, not an (empty) view. */
static void backend_get_view_error(void)
{
    REQUIRE_OK(flock_register_backend(&fixed_backend));
    margo_instance_id mid = ft_margo_server();
    REQUIRE(mid);
    char self[256];
    ft_self_address(mid, self, sizeof(self));
    flock_provider_t p = NULL;
    REQUIRE_OK(register_with(
        mid, 2, "{\"group\":{\"type\":\"ctest_fixed\",\"config\":{\"broken_view\":true}}}", NULL,
        NULL, NULL, &p));
    flock_client_t client = NULL;
    CHECK_OK(flock_client_init(mid, ABT_POOL_NULL, &client));
    hg_addr_t            a = ft_lookup(mid, self);
    flock_group_handle_t h = NULL;
    CHECK_RC(flock_group_handle_create(client, a, 2, FLOCK_MODE_INIT_UPDATE, &h),
             FLOCK_ERR_OTHER);
    CHECK(h == NULL);
    if (h) {
        flock_group_handle_release(h);
        h = NULL;
    }
    /* mode 0: the creation may fail the same way (ours fetches the view) or
     * succeed (upstream); an update must then fail */
    int rc = flock_group_handle_create(client, a, 2, 0, &h);
    CHECK_MSG(rc == FLOCK_SUCCESS || rc == FLOCK_ERR_OTHER,
              "handle creation returned %d (%s)", rc, ft_code_name(rc));
    if (rc == FLOCK_SUCCESS && h) {
        CHECK_RC(flock_group_update_view(h, NULL), FLOCK_ERR_OTHER);
        flock_group_view_t v = FLOCK_GROUP_VIEW_INITIALIZER;
        CHECK_OK(flock_group_get_view(h, &v));
        CHECK_MSG(v.members.size >= 1, "the handle's view is empty (%llu members)",
                  (unsigned long long)v.members.size);
        flock_group_view_clear(&v);
        CHECK_OK(flock_group_handle_release(h));
    }
    margo_addr_free(mid, a);
    CHECK_OK(flock_client_finalize(client));
    CHECK_OK(flock_provider_destroy(p));
    margo_finalize(mid);
}

/* FLOCK_PROVIDER_IGNORE: the provider (and its backend) lives until
 * margo_finalize, which destroys it exactly once. */
static void backend_provider_ignore(void)
{
    REQUIRE_OK(flock_register_backend(&fixed_backend));
    REQUIRE_OK(flock_register_gateway(&test_gateway));
    margo_instance_id mid = ft_margo_server();
    REQUIRE(mid);
    char self[256];
    ft_self_address(mid, self, sizeof(self));
    reset_seen();
    REQUIRE_OK(register_with(mid, 8,
                             "{\"group\":{\"type\":\"ctest_fixed\",\"config\":{\"label\":\"kept\"}},"
                             "\"gateway\":{\"type\":\"ctest_gw\"}}",
                             NULL, NULL, NULL, FLOCK_PROVIDER_IGNORE));
    CHECK_U64(seen.backend_inits, 1);
    CHECK_MSG(seen.backend_destroys == 0, "backend destroyed right after registration");
    CHECK_MSG(seen.gateway_destroys == 0, "gateway destroyed right after registration");
    flock_group_view_t v = FLOCK_GROUP_VIEW_INITIALIZER;
    CHECK_OK(ft_fetch_view(mid, self, 8, 0, &v));
    CHECK_STR(flock_group_view_find_metadata(&v, "label"), "kept");
    flock_group_view_clear(&v);
    margo_finalize(mid);
    CHECK_MSG(seen.backend_destroys == 1, "backend destroyed %d times by margo_finalize",
              seen.backend_destroys);
    CHECK_MSG(seen.gateway_destroys == 1, "gateway destroyed %d times by margo_finalize",
              seen.gateway_destroys);
}

/* ---- cases: gateway ---------------------------------------------------- */

static void gateway_selected(void)
{
    CHECK_OK(flock_register_gateway(&test_gateway));
    CHECK_OK(flock_register_gateway(&test_gateway)); /* again: no-op */
    CHECK_OK(flock_provider_register_gateway(&test_gateway));
    margo_instance_id mid = ft_margo_server();
    REQUIRE(mid);
    char self[256];
    ft_self_address(mid, self, sizeof(self));
    reset_seen();
    flock_provider_t p = NULL;
    REQUIRE_OK(register_with(mid, 9,
                             "{\"gateway\":{\"type\":\"ctest_gw\",\"config\":{\"tag\":\"x\"}},"
                             "\"group\":{\"type\":\"static\"}}",
                             NULL, NULL, NULL, &p));
    CHECK_U64(seen.gateway_inits, 1);
    CHECK(seen.gw_mid == mid);
    CHECK_U64(seen.gw_provider_id, 9);
    CHECK(seen.gw_config_is_object);
    char* c = flock_provider_get_config(p);
    CHECK_STR(c, "{\"gateway\":{\"type\":\"ctest_gw\",\"config\":{\"tag\":\"x\"}},"
                 "\"group\":{\"type\":\"static\",\"config\":{}}}");
    free(c);
    flock_group_view_t v = FLOCK_GROUP_VIEW_INITIALIZER;
    CHECK_OK(ft_fetch_view(mid, self, 9, 0, &v));
    CHECK_U64(v.members.size, 1);
    CHECK(flock_group_view_find_member(&v, self, 9) != NULL);
    flock_group_view_clear(&v);
    CHECK_OK(flock_provider_destroy(p));
    CHECK_U64(seen.gateway_destroys, 1);

    /* the gateway's init error is returned as is */
    p = NULL;
    CHECK_RC(register_with(mid, 9,
                           "{\"gateway\":{\"type\":\"ctest_gw\",\"config\":{\"fail\":true}},"
                           "\"group\":{\"type\":\"static\"}}",
                           NULL, NULL, NULL, &p),
             FLOCK_ERR_FROM_MERCURY);
    CHECK(p == NULL);
    CHECK_OK(register_with(mid, 9, "{\"group\":{\"type\":\"static\"}}", NULL, NULL, NULL, &p));
    if (p) CHECK_OK(flock_provider_destroy(p));
    margo_finalize(mid);
}

static void gateway_public_address(void)
{
    REQUIRE_OK(flock_register_gateway(&test_gateway));
    REQUIRE_OK(flock_register_backend(&fixed_backend));
    margo_instance_id mid = ft_margo_server();
    REQUIRE(mid);
    char self[256];
    ft_self_address(mid, self, sizeof(self));
    const char* alias = "ofi+tcp://203.0.113.7:4242";
    char        cfg[1024];

    /* the view lists us under the local address: rewritten to the public one */
    snprintf(cfg, sizeof(cfg),
             "{\"gateway\":{\"type\":\"ctest_gw\",\"config\":{\"public\":\"%s\"}},"
             "\"group\":{\"type\":\"static\"}}",
             alias);
    flock_provider_t p = NULL;
    REQUIRE_OK(register_with(mid, 5, cfg, NULL, NULL, NULL, &p));
    flock_group_view_t v = FLOCK_GROUP_VIEW_INITIALIZER;
    CHECK_OK(ft_fetch_view(mid, self, 5, 0, &v));
    CHECK_U64(v.members.size, 1);
    CHECK_MSG(flock_group_view_find_member(&v, alias, 5) != NULL,
              "the view does not list the public address");
    CHECK_MSG(flock_group_view_find_member(&v, self, 5) == NULL,
              "the view still lists the local address");
    flock_group_view_clear(&v);
    CHECK_OK(flock_provider_destroy(p));

    /* the view lists us under the public address: not a join */
    CHECK_OK(register_with(mid, 5, cfg, NULL, NULL, alias, &p));
    if (p) CHECK_OK(flock_provider_destroy(p));

    /* the backend is told the public address as self_addr_str */
    snprintf(cfg, sizeof(cfg),
             "{\"gateway\":{\"type\":\"ctest_gw\",\"config\":{\"public\":\"%s\"}},"
             "\"group\":{\"type\":\"ctest_fixed\"}}",
             alias);
    reset_seen();
    CHECK_OK(register_with(mid, 5, cfg, NULL, NULL, NULL, &p));
    CHECK_STR(seen.self_addr, alias);
    CHECK(!seen.join);
    if (p) CHECK_OK(flock_provider_destroy(p));
    margo_finalize(mid);
}

static void gateway_via_args(void)
{
    margo_instance_id mid = ft_margo_server();
    REQUIRE(mid);
    reset_seen();
    flock_provider_t p = NULL;
    REQUIRE_OK(register_with(mid, 6, "{\"group\":{\"type\":\"static\"}}", NULL,
                             &test_gateway_unregistered, NULL, &p));
    char* c = flock_provider_get_config(p);
    CHECK_STR(c, "{\"gateway\":{\"type\":\"ctest_gw_args\",\"config\":{\"tag\":\"untagged\"}},"
                 "\"group\":{\"type\":\"static\",\"config\":{}}}");
    free(c);
    CHECK_OK(flock_provider_destroy(p));
    CHECK_U64(seen.gateway_destroys, 1);
    /* both plug-ins through args */
    REQUIRE_OK(register_with(mid, 6, "{\"gateway\":{\"config\":{\"tag\":\"t\"}}}",
                             &fixed_backend_unregistered, &test_gateway_unregistered, NULL, &p));
    c = flock_provider_get_config(p);
    CHECK_STR(c, "{\"gateway\":{\"type\":\"ctest_gw_args\",\"config\":{\"tag\":\"t\"}},"
                 "\"group\":{\"type\":\"ctest_fixed_args\",\"config\":{\"label\":\"none\"}}}");
    free(c);
    CHECK_OK(flock_provider_destroy(p));
    margo_finalize(mid);
}

static const ft_case cases[] = {
    {"backend_register", backend_register},
    {"backend_selected", backend_selected},
    {"backend_config_key_order", backend_config_key_order},
    {"backend_via_args", backend_via_args},
    {"backend_failures", backend_failures},
    {"backend_provider_ignore", backend_provider_ignore},
    {"backend_get_view_error", backend_get_view_error},
    {"gateway_selected", gateway_selected},
    {"gateway_public_address", gateway_public_address},
    {"gateway_via_args", gateway_via_args},
};

int main(int argc, char** argv)
{
    return ft_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
