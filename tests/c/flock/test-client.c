/*
 * The client API (spec §4): flock_client_init / finalize, group handles made
 * from an address, from a serialized view and from a file, reference
 * counting, get_view / access_view, update_view with and without a request.
 *
 * In-process cases run a 4-member static group on 4 server-mode margo
 * instances of this process and a client on a client-mode instance. The
 * multiprocess case runs each member in its own process (flock-test-server,
 * forked and exec'ed).
 */
#define _POSIX_C_SOURCE 200809L
#include "flocktest.h"
#include "ftserver.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const uint16_t PIDS[4] = {1, 2, 3, 4};
static const char*    USER_METADATA[] = {"matthieu", "dorier", "shane", "snyder", NULL};

static char* prog_argv0 = NULL;

/* A client on its own client-mode instance. */
typedef struct {
    margo_instance_id mid;
    flock_client_t    client;
} client_env;

static bool client_start(client_env* c)
{
    c->client = FLOCK_CLIENT_NULL;
    c->mid    = ft_margo_client();
    if (!c->mid) return false;
    int rc = flock_client_init(c->mid, ABT_POOL_NULL, &c->client);
    CHECK_OK(rc);
    return rc == FLOCK_SUCCESS;
}

static void client_stop(client_env* c)
{
    if (c->client) CHECK_OK(flock_client_finalize(c->client));
    if (c->mid) margo_finalize(c->mid);
}

static int handle_on(client_env* c, const char* address, uint16_t pid, uint32_t mode,
                     flock_group_handle_t* h)
{
    hg_addr_t addr = ft_lookup(c->mid, address);
    if (!addr) return FLOCK_ERR_FROM_MERCURY;
    int rc = flock_group_handle_create(c->client, addr, pid, mode, h);
    margo_addr_free(c->mid, addr);
    return rc;
}

/* The members of g, as the view of the whole group must list them. */
static void check_full_view(const ft_group* g, const flock_group_view_t* v, const char* what)
{
    CHECK_MSG(v->members.size == (uint64_t)g->n, "%s: %llu members, expected %d", what,
              (unsigned long long)v->members.size, g->n);
    for (int i = 0; i < g->n; ++i)
        CHECK_MSG(flock_group_view_find_member((flock_group_view_t*)v, g->addrs[i], g->pids[i]),
                  "%s: member %s (%u) missing", what, g->addrs[i], (unsigned)g->pids[i]);
    for (uint64_t i = 1; i < v->members.size; ++i)
        CHECK_MSG(flock_member_cmp(&v->members.data[i - 1], &v->members.data[i]) < 0,
                  "%s: members not sorted", what);
    CHECK_MSG(v->metadata.size == 4, "%s: %llu metadata entries, expected 4", what,
              (unsigned long long)v->metadata.size);
    CHECK_STR(flock_group_view_find_metadata((flock_group_view_t*)v, "matthieu"), "dorier");
    CHECK_STR(flock_group_view_find_metadata((flock_group_view_t*)v, "shane"), "snyder");
    CHECK_STR(flock_group_view_find_metadata((flock_group_view_t*)v, "__type__"), "static");
    CHECK_STR(flock_group_view_find_metadata((flock_group_view_t*)v, "__config__"), "{}");
    CHECK_MSG(v->digest == ft_recompute_digest(v), "%s: digest does not match the content", what);
}

static bool start_group(ft_group* g, const char* file)
{
    char config[1024];
    if (file)
        snprintf(config, sizeof(config), "{\"group\":{\"type\":\"static\"},\"file\":\"%s\"}", file);
    else
        snprintf(config, sizeof(config), "{\"group\":{\"type\":\"static\"}}");
    return ft_group_start(g, 4, PIDS, config, USER_METADATA);
}

/* ---- cases ------------------------------------------------------------- */

static void client_init_args(void)
{
    margo_instance_id cmid = ft_margo_client();
    margo_instance_id smid = ft_margo_server();
    REQUIRE(cmid && smid);
    flock_client_t c = FLOCK_CLIENT_NULL;

    CHECK_RC(flock_client_init(MARGO_INSTANCE_NULL, ABT_POOL_NULL, &c), FLOCK_ERR_INVALID_ARGS);
    CHECK(c == FLOCK_CLIENT_NULL);
    CHECK_RC(flock_client_init(cmid, ABT_POOL_NULL, NULL), FLOCK_ERR_INVALID_ARGS);
    CHECK_RC(flock_client_finalize(FLOCK_CLIENT_NULL), FLOCK_ERR_INVALID_ARGS);

    /* client- and server-mode instances both work */
    CHECK_OK(flock_client_init(cmid, ABT_POOL_NULL, &c));
    CHECK(c != FLOCK_CLIENT_NULL);
    CHECK_OK(flock_client_finalize(c));
    c = FLOCK_CLIENT_NULL;
    CHECK_OK(flock_client_init(smid, ABT_POOL_NULL, &c));
    CHECK_OK(flock_client_finalize(c));

    /* an explicit pool of the same instance */
    ABT_pool pool = ABT_POOL_NULL;
    CHECK(margo_get_handler_pool(smid, &pool) == 0);
    c = FLOCK_CLIENT_NULL;
    CHECK_OK(flock_client_init(smid, pool, &c));
    if (c) CHECK_OK(flock_client_finalize(c));

    /* a pool of another instance is refused (ours: INVALID_ARGS) */
    c = FLOCK_CLIENT_NULL;
    CHECK_RC(flock_client_init(cmid, pool, &c), FLOCK_ERR_INVALID_ARGS);
    CHECK(c == FLOCK_CLIENT_NULL);

    /* several clients on one instance */
    flock_client_t c1 = NULL, c2 = NULL;
    CHECK_OK(flock_client_init(cmid, ABT_POOL_NULL, &c1));
    CHECK_OK(flock_client_init(cmid, ABT_POOL_NULL, &c2));
    CHECK(c1 != c2);
    if (c1) CHECK_OK(flock_client_finalize(c1));
    if (c2) CHECK_OK(flock_client_finalize(c2));

    margo_finalize(smid);
    margo_finalize(cmid);
}

static void handle_lists_all(void)
{
    ft_group   g;
    client_env c = {0};
    if (!start_group(&g, NULL) || !client_start(&c)) goto out;

    /* unknown mode bits are ignored, as upstream does */
    uint32_t modes[] = {0, FLOCK_MODE_INIT_UPDATE, FLOCK_MODE_SUBSCRIBE,
                        FLOCK_MODE_INIT_UPDATE | FLOCK_MODE_SUBSCRIBE, 0xF0};
    uint64_t digest = 0;
    for (int m = 0; m < 5; ++m) {
        for (int i = 0; i < 4; ++i) {
            flock_group_handle_t h  = FLOCK_GROUP_HANDLE_NULL;
            int                  rc = handle_on(&c, g.addrs[i], g.pids[i], modes[m], &h);
            CHECK_MSG(rc == FLOCK_SUCCESS, "handle on member %d mode %u: %d (%s)", i, modes[m],
                      rc, ft_code_name(rc));
            if (rc != FLOCK_SUCCESS) continue;
            flock_group_view_t v = FLOCK_GROUP_VIEW_INITIALIZER;
            CHECK_OK(flock_group_get_view(h, &v));
            char what[64];
            snprintf(what, sizeof(what), "handle on member %d, mode %u", i, modes[m]);
            check_full_view(&g, &v, what);
            if (digest == 0) digest = v.digest;
            CHECK_MSG(v.digest == digest, "%s: digest differs between members", what);
            for (uint64_t k = 0; k < v.members.size; ++k)
                CHECK(v.members.data[k].extra.data == NULL && v.members.data[k].extra.free == NULL);
            flock_group_view_clear(&v);
            CHECK_OK(flock_group_handle_release(h));
        }
    }
out:
    client_stop(&c);
    ft_group_stop(&g);
}

static void one_instance_four_providers(void)
{
    margo_instance_id smid = ft_margo_server();
    client_env        c    = {0};
    REQUIRE(smid);
    char self[256];
    ft_self_address(smid, self, sizeof(self));
    flock_provider_t p[4] = {0};
    for (int i = 0; i < 4; ++i) {
        flock_group_view_t view = FLOCK_GROUP_VIEW_INITIALIZER;
        for (int j = 0; j < 4; ++j) flock_group_view_add_member(&view, self, PIDS[j]);
        struct flock_provider_args args = FLOCK_PROVIDER_ARGS_INIT;
        args.initial_view               = &view;
        CHECK_OK(flock_provider_register(smid, PIDS[i], "{\"group\":{\"type\":\"static\"}}",
                                         &args, &p[i]));
        flock_group_view_clear(&view);
    }
    if (client_start(&c)) {
        flock_group_handle_t h = FLOCK_GROUP_HANDLE_NULL;
        CHECK_OK(handle_on(&c, self, 3, 0, &h));
        flock_group_view_t v = FLOCK_GROUP_VIEW_INITIALIZER;
        if (h) {
            CHECK_OK(flock_group_get_view(h, &v));
            CHECK_U64(v.members.size, 4);
            for (uint64_t i = 0; i < v.members.size && i < 4; ++i) {
                CHECK_STR(v.members.data[i].address, self);
                CHECK_U64(v.members.data[i].provider_id, i + 1); /* sorted by provider id */
            }
            CHECK_U64(v.metadata.size, 2);
            flock_group_view_clear(&v);
            CHECK_OK(flock_group_handle_release(h));
        }
        /* the same instance can also be the client's */
        flock_client_t sc = FLOCK_CLIENT_NULL;
        CHECK_OK(flock_client_init(smid, ABT_POOL_NULL, &sc));
        hg_addr_t self_addr = HG_ADDR_NULL;
        CHECK(margo_addr_self(smid, &self_addr) == HG_SUCCESS);
        h = FLOCK_GROUP_HANDLE_NULL;
        CHECK_OK(flock_group_handle_create(sc, self_addr, 1, FLOCK_MODE_INIT_UPDATE, &h));
        if (h) {
            CHECK_OK(flock_group_get_view(h, &v));
            CHECK_U64(v.members.size, 4);
            flock_group_view_clear(&v);
            CHECK_OK(flock_group_handle_release(h));
        }
        margo_addr_free(smid, self_addr);
        CHECK_OK(flock_client_finalize(sc));
    }
    client_stop(&c);
    for (int i = 0; i < 4; ++i)
        if (p[i]) CHECK_OK(flock_provider_destroy(p[i]));
    margo_finalize(smid);
}

static void wrong_provider(void)
{
    ft_group   g;
    client_env c = {0};
    if (!start_group(&g, NULL) || !client_start(&c)) goto out;
    flock_group_handle_t h = FLOCK_GROUP_HANDLE_NULL;
    /* upstream's test: provider id 123 */
    CHECK_RC(handle_on(&c, g.addrs[0], 123, 0, &h), FLOCK_ERR_INVALID_PROVIDER);
    CHECK(h == FLOCK_GROUP_HANDLE_NULL);
    CHECK_RC(handle_on(&c, g.addrs[0], 123, FLOCK_MODE_INIT_UPDATE, &h),
             FLOCK_ERR_INVALID_PROVIDER);
    /* the provider id of another member, on this member's address */
    int other = (0 + 1) % 4;
    CHECK_RC(handle_on(&c, g.addrs[0], g.pids[other], 0, &h), FLOCK_ERR_INVALID_PROVIDER);
    /* a margo instance with no Flock provider at all */
    margo_instance_id bare = ft_margo_server();
    if (bare) {
        char bare_addr[256];
        ft_self_address(bare, bare_addr, sizeof(bare_addr));
        CHECK_RC(handle_on(&c, bare_addr, 1, 0, &h), FLOCK_ERR_INVALID_PROVIDER);
        margo_finalize(bare);
    }
out:
    client_stop(&c);
    ft_group_stop(&g);
}

static void from_serialized(void)
{
    ft_group   g;
    client_env c = {0};
    if (!start_group(&g, NULL) || !client_start(&c)) goto out;

    /* the group's view, serialized, gives a handle with that exact view */
    flock_group_view_t full = FLOCK_GROUP_VIEW_INITIALIZER;
    REQUIRE_OK(ft_fetch_view(c.mid, g.addrs[2], g.pids[2], 0, &full));
    char* text = ft_serialize(&full, NULL);
    REQUIRE(text != NULL);
    flock_group_handle_t h = FLOCK_GROUP_HANDLE_NULL;
    CHECK_OK(flock_group_handle_create_from_serialized(c.client, text, strlen(text), 0, &h));
    if (h) {
        flock_group_view_t v = FLOCK_GROUP_VIEW_INITIALIZER;
        CHECK_OK(flock_group_get_view(h, &v));
        check_full_view(&g, &v, "handle from serialized view");
        CHECK_U64(v.digest, full.digest);
        flock_group_view_clear(&v);
        CHECK_OK(flock_group_update_view(h, NULL));
        CHECK_OK(flock_group_get_view(h, &v));
        CHECK_U64(v.digest, full.digest);
        flock_group_view_clear(&v);
        CHECK_OK(flock_group_handle_release(h));
    }
    h = FLOCK_GROUP_HANDLE_NULL;
    CHECK_OK(flock_group_handle_create_from_serialized(c.client, text, strlen(text),
                                                       FLOCK_MODE_INIT_UPDATE, &h));
    if (h) CHECK_OK(flock_group_handle_release(h));
    free(text);

    /* members[0] (in sorted order, not text order) is the contact:
     * prepend a member that sorts first but is no provider */
    int  first = ft_group_first(&g);
    char doc[2048];
    snprintf(doc, sizeof(doc),
             "{\"members\":[{\"address\":\"%s\",\"provider_id\":%u},"
             "{\"address\":\"%s\",\"provider_id\":0}],\"metadata\":{}}",
             g.addrs[first], (unsigned)g.pids[first], g.addrs[first]);
    h = FLOCK_GROUP_HANDLE_NULL;
    /* mode 0: no RPC, the handle holds the parsed view */
    CHECK_OK(flock_group_handle_create_from_serialized(c.client, doc, strlen(doc), 0, &h));
    if (h) {
        flock_group_view_t v = FLOCK_GROUP_VIEW_INITIALIZER;
        CHECK_OK(flock_group_get_view(h, &v));
        CHECK_U64(v.members.size, 2);
        CHECK_U64(v.metadata.size, 0);
        uint64_t before = v.digest;
        flock_group_view_clear(&v);
        /* update goes to (address, 0): no provider there */
        int rc = flock_group_update_view(h, NULL);
        CHECK_MSG(rc != FLOCK_SUCCESS, "update through a non-provider members[0] succeeded");
        CHECK_OK(flock_group_get_view(h, &v));
        CHECK_MSG(v.digest == before && v.members.size == 2,
                  "a failed update changed the cached view (%llu members)",
                  (unsigned long long)v.members.size);
        flock_group_view_clear(&v);
        CHECK_OK(flock_group_handle_release(h));
    }
    h  = FLOCK_GROUP_HANDLE_NULL;
    int rc = flock_group_handle_create_from_serialized(c.client, doc, strlen(doc),
                                                       FLOCK_MODE_INIT_UPDATE, &h);
    CHECK_MSG(rc != FLOCK_SUCCESS, "INIT_UPDATE through a non-provider members[0] succeeded");
    if (rc == FLOCK_SUCCESS && h) flock_group_handle_release(h);

    /* a text listing the real member last, but sorting it first: works */
    snprintf(doc, sizeof(doc),
             "{\"members\":[{\"address\":\"~~~~not-an-address\",\"provider_id\":1},"
             "{\"address\":\"%s\",\"provider_id\":%u}]}",
             g.addrs[first], (unsigned)g.pids[first]);
    h = FLOCK_GROUP_HANDLE_NULL;
    CHECK_OK(flock_group_handle_create_from_serialized(c.client, doc, strlen(doc),
                                                       FLOCK_MODE_INIT_UPDATE, &h));
    if (h) {
        flock_group_view_t v = FLOCK_GROUP_VIEW_INITIALIZER;
        CHECK_OK(flock_group_get_view(h, &v));
        check_full_view(&g, &v, "INIT_UPDATE handle from a 2-member text");
        flock_group_view_clear(&v);
        CHECK_OK(flock_group_handle_release(h));
    }

    /* bad texts */
    h = FLOCK_GROUP_HANDLE_NULL;
    CHECK_RC(flock_group_handle_create_from_serialized(c.client, "garbage", 7, 0, &h),
             FLOCK_ERR_INVALID_CONFIG);
    const char* empty = "{\"members\":[],\"metadata\":{}}";
    CHECK_RC(flock_group_handle_create_from_serialized(c.client, empty, strlen(empty), 0, &h),
             FLOCK_ERR_INVALID_CONFIG);
    CHECK_RC(flock_group_handle_create_from_serialized(c.client, "", 0, 0, &h),
             FLOCK_ERR_INVALID_CONFIG);
    CHECK(h == FLOCK_GROUP_HANDLE_NULL);
    /* members[0]'s address cannot be resolved: FROM_MERCURY upstream */
    const char* unresolvable =
        "{\"members\":[{\"address\":\"!!not an address\",\"provider_id\":1}],\"metadata\":{}}";
    CHECK_RC(flock_group_handle_create_from_serialized(c.client, unresolvable,
                                                       strlen(unresolvable), 0, &h),
             FLOCK_ERR_FROM_MERCURY);
    flock_group_view_clear(&full);
out:
    client_stop(&c);
    ft_group_stop(&g);
}

static void from_file(void)
{
    char file[512];
    snprintf(file, sizeof(file), "%s/group.flock", ft_tmpdir());
    ft_group   g;
    client_env c = {0};
    if (!start_group(&g, file) || !client_start(&c)) goto out;

    /* written by members[0] */
    struct stat st;
    CHECK_MSG(stat(file, &st) == 0, "group file %s not written", file);
    CHECK((st.st_mode & 07777) == 0600);

    flock_group_handle_t h = FLOCK_GROUP_HANDLE_NULL;
    CHECK_OK(flock_group_handle_create_from_file(c.client, file, 0, &h));
    if (h) {
        flock_group_view_t v = FLOCK_GROUP_VIEW_INITIALIZER;
        CHECK_OK(flock_group_get_view(h, &v));
        check_full_view(&g, &v, "handle from the group file");
        flock_group_view_clear(&v);
        CHECK_OK(flock_group_update_view(h, NULL));
        CHECK_OK(flock_group_handle_release(h));
    }
    h = FLOCK_GROUP_HANDLE_NULL;
    CHECK_OK(flock_group_handle_create_from_file(c.client, file, FLOCK_MODE_INIT_UPDATE, &h));
    if (h) CHECK_OK(flock_group_handle_release(h));

    char other[600];
    snprintf(other, sizeof(other), "%s.missing", file);
    h = FLOCK_GROUP_HANDLE_NULL;
    CHECK_RC(flock_group_handle_create_from_file(c.client, other, 0, &h), FLOCK_ERR_INVALID_ARGS);
    CHECK(ft_write_file(other, "{\"members\":", 11));
    CHECK_RC(flock_group_handle_create_from_file(c.client, other, 0, &h), FLOCK_ERR_INVALID_CONFIG);
    CHECK(h == FLOCK_GROUP_HANDLE_NULL);
out:
    client_stop(&c);
    ft_group_stop(&g);
}

static void ref_counting(void)
{
    ft_group   g;
    client_env c = {0};
    if (!start_group(&g, NULL) || !client_start(&c)) goto out;
    flock_group_handle_t h = FLOCK_GROUP_HANDLE_NULL;
    REQUIRE_OK(handle_on(&c, g.addrs[1], g.pids[1], 0, &h));
    CHECK_OK(flock_group_handle_ref_incr(h));
    CHECK_OK(flock_group_handle_ref_incr(h));
    CHECK_OK(flock_group_handle_release(h));
    CHECK_OK(flock_group_handle_release(h));
    /* one reference left: still fully usable */
    flock_group_view_t v = FLOCK_GROUP_VIEW_INITIALIZER;
    CHECK_OK(flock_group_get_view(h, &v));
    CHECK_U64(v.members.size, 4);
    flock_group_view_clear(&v);
    CHECK_OK(flock_group_update_view(h, NULL));
    CHECK_OK(flock_group_handle_release(h));
out:
    client_stop(&c);
    ft_group_stop(&g);
}

typedef struct {
    int      calls;
    uint64_t digest;
    uint64_t members;
    void*    seen_uargs;
} access_record;

static void access_fn(void* uargs, const flock_group_view_t* v)
{
    access_record* r = uargs;
    r->calls++;
    r->digest     = v->digest;
    r->members    = v->members.size;
    r->seen_uargs = uargs;
}

static void access_view(void)
{
    ft_group   g;
    client_env c = {0};
    if (!start_group(&g, NULL) || !client_start(&c)) goto out;
    flock_group_handle_t h = FLOCK_GROUP_HANDLE_NULL;
    REQUIRE_OK(handle_on(&c, g.addrs[3], g.pids[3], 0, &h));
    flock_group_view_t v = FLOCK_GROUP_VIEW_INITIALIZER;
    CHECK_OK(flock_group_get_view(h, &v));
    access_record r = {0, 0, 0, NULL};
    CHECK_OK(flock_group_access_view(h, access_fn, &r));
    CHECK_MSG(r.calls == 1, "access function called %d times", r.calls);
    CHECK(r.seen_uargs == &r);
    CHECK_U64(r.members, 4);
    CHECK_U64(r.digest, v.digest);
    CHECK_OK(flock_group_access_view(h, NULL, &r));
    CHECK(r.calls == 1);

    /* get_view clears its target first */
    flock_group_view_t junk = FLOCK_GROUP_VIEW_INITIALIZER;
    flock_group_view_add_member(&junk, "junk://", 1);
    flock_group_view_add_metadata(&junk, "junk", "yes");
    CHECK_OK(flock_group_get_view(h, &junk));
    CHECK_U64(junk.digest, v.digest);
    CHECK(flock_group_view_find_metadata(&junk, "junk") == NULL);
    CHECK(flock_group_view_find_member(&junk, "junk://", 1) == NULL);
    /* and gives an independent copy */
    flock_group_view_add_metadata(&junk, "local", "change");
    flock_group_view_t again = FLOCK_GROUP_VIEW_INITIALIZER;
    CHECK_OK(flock_group_get_view(h, &again));
    CHECK_U64(again.digest, v.digest);
    flock_group_view_clear(&again);
    flock_group_view_clear(&junk);
    flock_group_view_clear(&v);
    CHECK_OK(flock_group_handle_release(h));
out:
    client_stop(&c);
    ft_group_stop(&g);
}

/* A handle that knows only members[0] (no metadata), from a serialized text. */
static int partial_handle(client_env* c, const ft_group* g, flock_group_handle_t* h)
{
    int  first = ft_group_first(g);
    char doc[1024];
    snprintf(doc, sizeof(doc), "{\"members\":[{\"address\":\"%s\",\"provider_id\":%u}]}",
             g->addrs[first], (unsigned)g->pids[first]);
    return flock_group_handle_create_from_serialized(c->client, doc, strlen(doc), 0, h);
}

static void update_view(void)
{
    ft_group   g;
    client_env c = {0};
    if (!start_group(&g, NULL) || !client_start(&c)) goto out;
    flock_group_view_t v = FLOCK_GROUP_VIEW_INITIALIZER;

    /* synchronous */
    flock_group_handle_t h = FLOCK_GROUP_HANDLE_NULL;
    REQUIRE_OK(partial_handle(&c, &g, &h));
    CHECK_OK(flock_group_get_view(h, &v));
    CHECK_U64(v.members.size, 1);
    CHECK_OK(flock_group_update_view(h, NULL));
    CHECK_OK(flock_group_get_view(h, &v));
    check_full_view(&g, &v, "after a synchronous update");
    uint64_t digest = v.digest;
    /* again: nothing changed, still SUCCESS, same view */
    CHECK_OK(flock_group_update_view(h, NULL));
    CHECK_OK(flock_group_get_view(h, &v));
    CHECK_U64(v.digest, digest);
    CHECK_U64(v.members.size, 4);
    CHECK_OK(flock_group_handle_release(h));

    /* with a request: test until done, then wait */
    h = FLOCK_GROUP_HANDLE_NULL;
    REQUIRE_OK(partial_handle(&c, &g, &h));
    flock_request_t req = NULL;
    CHECK_OK(flock_group_update_view(h, &req));
    CHECK(req != NULL);
    if (req) {
        bool   done  = false;
        int    tests = 0;
        double end   = ft_now_ms() + 10000;
        while (!done && ft_now_ms() < end) {
            CHECK_OK(flock_request_test(req, &done));
            ++tests;
            if (!done) ft_sleep_ms(1);
        }
        CHECK_MSG(done, "request not completed after 10 s (%d tests)", tests);
        CHECK_OK(flock_request_wait(req));
    }
    CHECK_OK(flock_group_get_view(h, &v));
    check_full_view(&g, &v, "after an update with a request");
    CHECK_U64(v.digest, digest);

    /* with a request, waited for right away */
    CHECK_OK(flock_group_handle_release(h));
    h = FLOCK_GROUP_HANDLE_NULL;
    REQUIRE_OK(partial_handle(&c, &g, &h));
    req = NULL;
    CHECK_OK(flock_group_update_view(h, &req));
    if (req) CHECK_OK(flock_request_wait(req));
    CHECK_OK(flock_group_get_view(h, &v));
    CHECK_U64(v.digest, digest);

    /* several requests in flight on one handle */
    flock_request_t reqs[4] = {0};
    for (int i = 0; i < 4; ++i) CHECK_OK(flock_group_update_view(h, &reqs[i]));
    for (int i = 3; i >= 0; --i)
        if (reqs[i]) CHECK_OK(flock_request_wait(reqs[i]));
    CHECK_OK(flock_group_get_view(h, &v));
    CHECK_U64(v.digest, digest);
    CHECK_OK(flock_group_handle_release(h));
    flock_group_view_clear(&v);
out:
    client_stop(&c);
    ft_group_stop(&g);
}

static void update_after_provider_gone(void)
{
    ft_group   g;
    client_env c = {0};
    if (!start_group(&g, NULL) || !client_start(&c)) goto out;
    flock_group_handle_t h = FLOCK_GROUP_HANDLE_NULL;
    REQUIRE_OK(handle_on(&c, g.addrs[2], g.pids[2], 0, &h));
    flock_group_view_t v = FLOCK_GROUP_VIEW_INITIALIZER;
    CHECK_OK(flock_group_get_view(h, &v));
    uint64_t digest = v.digest;

    CHECK_OK(flock_provider_destroy(g.providers[2]));
    g.providers[2] = NULL;
    int rc = flock_group_update_view(h, NULL);
    CHECK_MSG(rc != FLOCK_SUCCESS, "update from a destroyed provider succeeded");
    CHECK_OK(flock_group_get_view(h, &v));
    CHECK_MSG(v.digest == digest && v.members.size == 4,
              "a failed update changed the cached view (%llu members)",
              (unsigned long long)v.members.size);
    /* same through a request */
    flock_request_t req = NULL;
    rc = flock_group_update_view(h, &req);
    if (rc == FLOCK_SUCCESS && req) rc = flock_request_wait(req);
    CHECK_MSG(rc != FLOCK_SUCCESS, "asynchronous update from a destroyed provider succeeded");
    CHECK_OK(flock_group_get_view(h, &v));
    CHECK_U64(v.digest, digest);
    flock_group_view_clear(&v);
    CHECK_OK(flock_group_handle_release(h));
out:
    client_stop(&c);
    ft_group_stop(&g);
}

static void finalize_with_live_handles(void)
{
    ft_group   g;
    client_env c = {0};
    if (!start_group(&g, NULL) || !client_start(&c)) goto out;
    flock_group_handle_t h = FLOCK_GROUP_HANDLE_NULL;
    REQUIRE_OK(handle_on(&c, g.addrs[0], g.pids[0], 0, &h));
    CHECK_OK(flock_client_finalize(c.client));
    c.client = FLOCK_CLIENT_NULL;
    /* our header: group handles made from it keep working */
    flock_group_view_t v = FLOCK_GROUP_VIEW_INITIALIZER;
    CHECK_OK(flock_group_update_view(h, NULL));
    CHECK_OK(flock_group_get_view(h, &v));
    CHECK_U64(v.members.size, 4);
    flock_group_view_clear(&v);
    CHECK_OK(flock_group_handle_release(h));
out:
    client_stop(&c);
    ft_group_stop(&g);
}

/* A view far larger than one network message: 2000 members and a 256 KiB
 * metadata value, through get_view, a serialized handle and a file. The
 * fake members sort after the real one ('~'), which stays members[0]. */
static void large_view(void)
{
    margo_instance_id smid = ft_margo_server();
    client_env        c    = {0};
    REQUIRE(smid);
    char self[256];
    ft_self_address(smid, self, sizeof(self));
    flock_group_view_t view = FLOCK_GROUP_VIEW_INITIALIZER;
    flock_group_view_add_member(&view, self, 1);
    char addr[64];
    for (int i = 0; i < 2000; ++i) {
        snprintf(addr, sizeof(addr), "~fake+tcp://10.%d.%d.%d:%d", i / 65536, (i / 256) % 256,
                 i % 256, 1000 + i);
        flock_group_view_add_member(&view, addr, (uint16_t)(i % 7));
    }
    size_t big_len = 256 * 1024;
    char*  big     = malloc(big_len + 1);
    for (size_t i = 0; i < big_len; ++i) big[i] = (char)('a' + i % 26);
    big[big_len] = '\0';
    flock_group_view_add_metadata(&view, "big", big);
    uint64_t digest_before = view.digest;
    struct flock_provider_args args = FLOCK_PROVIDER_ARGS_INIT;
    args.initial_view               = &view;
    flock_provider_t p              = NULL;
    CHECK_OK(flock_provider_register(smid, 1, "{\"group\":{\"type\":\"static\"}}", &args, &p));
    if (p && client_start(&c)) {
        flock_group_handle_t h = NULL;
        CHECK_OK(handle_on(&c, self, 1, 0, &h));
        if (h) {
            flock_group_view_t v = FLOCK_GROUP_VIEW_INITIALIZER;
            CHECK_OK(flock_group_get_view(h, &v));
            CHECK_U64(v.members.size, 2001);
            CHECK_U64(v.metadata.size, 3);
            CHECK_STR(flock_group_view_find_metadata(&v, "big"), big);
            CHECK_U64(v.digest, digest_before ^ flock_hash_metadata("__config__", "{}")
                                    ^ flock_hash_metadata("__type__", "static"));
            CHECK_U64(v.digest, ft_recompute_digest(&v));
            char* text = ft_serialize(&v, NULL);
            CHECK(text != NULL);
            flock_group_handle_t h2 = NULL;
            if (text)
                CHECK_OK(flock_group_handle_create_from_serialized(c.client, text, strlen(text),
                                                                   FLOCK_MODE_INIT_UPDATE, &h2));
            if (h2) CHECK_OK(flock_group_handle_release(h2));
            char file[512];
            snprintf(file, sizeof(file), "%s/large.flock", ft_tmpdir());
            CHECK_OK(flock_group_view_serialize_to_file(&v, file));
            flock_group_view_t fv = FLOCK_GROUP_VIEW_INITIALIZER;
            CHECK_OK(flock_group_view_from_file(file, &fv));
            CHECK_U64(fv.digest, v.digest);
            flock_group_view_clear(&fv);
            free(text);
            flock_group_view_clear(&v);
            CHECK_OK(flock_group_handle_release(h));
        }
    }
    free(big);
    client_stop(&c);
    if (p) CHECK_OK(flock_provider_destroy(p));
    margo_finalize(smid);
}

/* Several threads using one shared handle and their own handles at once. */
typedef struct {
    client_env*          c;
    const ft_group*      g;
    flock_group_handle_t shared;
    int                  index;
    int                  errors;
} worker_args;

static void* worker(void* arg)
{
    worker_args* w = arg;
    for (int k = 0; k < 25; ++k) {
        flock_group_view_t v = FLOCK_GROUP_VIEW_INITIALIZER;
        if (flock_group_update_view(w->shared, NULL) != FLOCK_SUCCESS) w->errors++;
        if (flock_group_get_view(w->shared, &v) != FLOCK_SUCCESS || v.members.size != 4) w->errors++;
        flock_group_view_clear(&v);
        flock_request_t req = NULL;
        if (flock_group_update_view(w->shared, &req) != FLOCK_SUCCESS || !req
            || flock_request_wait(req) != FLOCK_SUCCESS)
            w->errors++;
        int                  m = (w->index + k) % 4;
        flock_group_handle_t h = NULL;
        hg_addr_t            a = HG_ADDR_NULL;
        if (margo_addr_lookup(w->c->mid, w->g->addrs[m], &a) != HG_SUCCESS
            || flock_group_handle_create(w->c->client, a, w->g->pids[m], 0, &h) != FLOCK_SUCCESS) {
            w->errors++;
        } else {
            if (flock_group_handle_ref_incr(h) != FLOCK_SUCCESS) w->errors++;
            if (flock_group_get_view(h, &v) != FLOCK_SUCCESS || v.members.size != 4) w->errors++;
            flock_group_view_clear(&v);
            flock_group_handle_release(h);
            flock_group_handle_release(h);
        }
        margo_addr_free(w->c->mid, a);
    }
    return NULL;
}

static void concurrent_use(void)
{
    ft_group   g;
    client_env c = {0};
    if (!start_group(&g, NULL) || !client_start(&c)) goto out;
    flock_group_handle_t shared = NULL;
    REQUIRE_OK(handle_on(&c, g.addrs[0], g.pids[0], 0, &shared));
    pthread_t   t[8];
    worker_args w[8];
    for (int i = 0; i < 8; ++i) {
        w[i] = (worker_args){&c, &g, shared, i, 0};
        CHECK(pthread_create(&t[i], NULL, worker, &w[i]) == 0);
    }
    for (int i = 0; i < 8; ++i) {
        pthread_join(t[i], NULL);
        CHECK_MSG(w[i].errors == 0, "thread %d saw %d errors", i, w[i].errors);
    }
    CHECK_OK(flock_group_handle_release(shared));
out:
    client_stop(&c);
    ft_group_stop(&g);
}

/* ---- members in their own processes ------------------------------------ */

static void multiprocess(void)
{
    const char* dir = ft_tmpdir();
    char        view_file[512], group_file[512], cmd[1200], line[4096];
    snprintf(view_file, sizeof(view_file), "%s/initial.flock", dir);
    snprintf(group_file, sizeof(group_file), "%s/group.flock", dir);

    ft_server  s[4];
    int        started = 0;
    client_env c       = {0};
    for (int i = 0; i < 4; ++i) {
        if (!ft_server_spawn(&s[i], prog_argv0, PIDS[i])) goto out;
        started = i + 1;
    }
    /* the initial view, from the addresses the servers reported */
    flock_group_view_t init = FLOCK_GROUP_VIEW_INITIALIZER;
    for (int i = 0; i < 4; ++i) flock_group_view_add_member(&init, s[i].address, s[i].provider_id);
    flock_group_view_add_metadata(&init, "matthieu", "dorier");
    REQUIRE_OK(flock_group_view_serialize_to_file(&init, view_file));
    for (int i = 0; i < 4; ++i) {
        snprintf(cmd, sizeof(cmd), "REGISTER %s %s", view_file, group_file);
        CHECK(ft_server_send(&s[i], cmd));
    }
    for (int i = 0; i < 4; ++i) {
        CHECK_MSG(ft_server_wait_prefix(&s[i], "READY ", line, sizeof(line), 20000),
                  "server %d never became ready", i);
        CHECK_MSG(strcmp(line, "READY 0") == 0, "server %d: %s", i, line);
    }
    if (ft_failures) goto out;

    if (!client_start(&c)) goto out;
    /* a handle on the 4th process lists all 4, mode 0 */
    flock_group_handle_t h[4] = {0};
    for (int i = 0; i < 4; ++i) CHECK_OK(handle_on(&c, s[i].address, s[i].provider_id, 0, &h[i]));
    flock_group_view_t v = FLOCK_GROUP_VIEW_INITIALIZER;
    if (h[3]) {
        CHECK_OK(flock_group_get_view(h[3], &v));
        CHECK_U64(v.members.size, 4);
        for (int i = 0; i < 4; ++i)
            CHECK(flock_group_view_find_member(&v, s[i].address, s[i].provider_id) != NULL);
        CHECK_U64(v.metadata.size, 3);
        CHECK_STR(flock_group_view_find_metadata(&v, "matthieu"), "dorier");
    }

    /* the group file, written by members[0] (another process) */
    flock_group_view_t fv = FLOCK_GROUP_VIEW_INITIALIZER;
    CHECK_OK(flock_group_view_from_file(group_file, &fv));
    CHECK_U64(fv.digest, v.digest);
    flock_group_view_clear(&fv);
    flock_group_handle_t hf = FLOCK_GROUP_HANDLE_NULL;
    CHECK_OK(flock_group_handle_create_from_file(c.client, group_file, FLOCK_MODE_INIT_UPDATE, &hf));
    if (hf) CHECK_OK(flock_group_handle_release(hf));

    /* get_config as the server process sees it */
    CHECK(ft_server_send(&s[1], "CONFIG"));
    CHECK(ft_server_wait_prefix(&s[1], "CONFIG ", line, sizeof(line), 10000));
    char expected[1200];
    snprintf(expected, sizeof(expected),
             "CONFIG {\"gateway\":{\"type\":\"default\",\"config\":{}},"
             "\"group\":{\"type\":\"static\",\"config\":{}},\"file\":\"%s\"}",
             group_file);
    CHECK_STR(line, expected);

    /* metadata set through one process reaches every process */
    if (h[2]) {
        CHECK_OK(flock_group_metadata_set(h[2], "color", "blue"));
        for (int i = 0; i < 4; ++i)
            CHECK_MSG(ft_server_wait_line(&s[i], "META color=blue", 10000),
                      "server %d: metadata callback did not fire", i);
        for (int i = 0; i < 4; ++i) {
            if (!h[i]) continue;
            CHECK_OK(flock_group_update_view(h[i], NULL));
            CHECK_OK(flock_group_get_view(h[i], &v));
            CHECK_MSG(flock_group_view_find_metadata(&v, "color")
                          && strcmp(flock_group_view_find_metadata(&v, "color"), "blue") == 0,
                      "member %d's view lacks color=blue", i);
        }
        flock_group_view_t after = FLOCK_GROUP_VIEW_INITIALIZER;
        double             end   = ft_now_ms() + 5000;
        const char*        found = NULL;
        while (ft_now_ms() < end) {
            if (flock_group_view_from_file(group_file, &after) == FLOCK_SUCCESS
                && (found = flock_group_view_find_metadata(&after, "color")) != NULL)
                break;
            ft_sleep_ms(50);
        }
        CHECK_MSG(found && strcmp(found, "blue") == 0, "group file lacks color=blue");
        flock_group_view_clear(&after);
    }

    /* a member dies: its handle's updates fail, the others still answer */
    ft_server_kill(&s[3]);
    if (h[3]) {
        double t0 = ft_now_ms();
        int    rc = flock_group_update_view(h[3], NULL);
        CHECK_MSG(rc != FLOCK_SUCCESS, "update from a killed process succeeded");
        CHECK_MSG(ft_now_ms() - t0 < 30000, "update from a killed process took %.0f ms",
                  ft_now_ms() - t0);
    }
    if (h[0]) CHECK_OK(flock_group_update_view(h[0], NULL));
    for (int i = 0; i < 4; ++i)
        if (h[i]) CHECK_OK(flock_group_handle_release(h[i]));
    flock_group_view_clear(&v);
    flock_group_view_clear(&init);
out:
    client_stop(&c);
    for (int i = 0; i < started; ++i) {
        if (s[i].pid <= 0) continue;
        int status = ft_server_stop(&s[i]);
        CHECK_MSG(status == 0, "server %d exited with status %d", i, status);
    }
}

static const ft_case cases[] = {
    {"client_init_args", client_init_args},
    {"handle_lists_all", handle_lists_all},
    {"one_instance_four_providers", one_instance_four_providers},
    {"wrong_provider", wrong_provider},
    {"from_serialized", from_serialized},
    {"from_file", from_file},
    {"ref_counting", ref_counting},
    {"access_view", access_view},
    {"update_view", update_view},
    {"update_after_provider_gone", update_after_provider_gone},
    {"finalize_with_live_handles", finalize_with_live_handles},
    {"large_view", large_view},
    {"concurrent_use", concurrent_use},
    {"multiprocess", multiprocess},
};

int main(int argc, char** argv)
{
    prog_argv0 = argv[0];
    return ft_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
