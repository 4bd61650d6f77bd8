/*
 * flock_group_metadata_set and flock_group_subscribe / unsubscribe, which
 * upstream stubs out (FLOCK_ERR_OP_UNSUPPORTED) and which work in ours
 * (project decision, spec README):
 *   - a key set through a handle on one member reaches every member: each
 *     provider's update callbacks, each member's view, the group file;
 *   - backend-owned keys ("__type__", "__config__") are refused with
 *     FLOCK_ERR_OP_FORBIDDEN;
 *   - a subscribed handle's metadata callback fires with (key, value) and its
 *     cached view follows; after unsubscribe nothing fires.
 * In-process: a 4-member static group on 4 server-mode margo instances.
 */
#define _POSIX_C_SOURCE 200809L
#include "flocktest.h"

#include <dirent.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const uint16_t PIDS[4] = {10, 20, 30, 40};

/* ---- a thread-safe record of callback calls ---------------------------- */

typedef struct {
    pthread_mutex_t mtx;
    int             metadata_calls;
    int             member_calls;
    char            keys[32][64];
    char            values[32][64];
} record;

static void record_init(record* r)
{
    memset(r, 0, sizeof(*r));
    pthread_mutex_init(&r->mtx, NULL);
}

static void on_metadata(void* ctx, const char* key, const char* value)
{
    record* r = ctx;
    pthread_mutex_lock(&r->mtx);
    if (r->metadata_calls < 32) {
        snprintf(r->keys[r->metadata_calls], 64, "%s", key ? key : "(null)");
        snprintf(r->values[r->metadata_calls], 64, "%s", value ? value : "(null)");
    }
    r->metadata_calls++;
    pthread_mutex_unlock(&r->mtx);
}

static void on_member(void* ctx, flock_update_t u, const char* a, uint16_t p)
{
    (void)u; (void)a; (void)p;
    record* r = ctx;
    pthread_mutex_lock(&r->mtx);
    r->member_calls++;
    pthread_mutex_unlock(&r->mtx);
}

static int calls_of(record* r)
{
    pthread_mutex_lock(&r->mtx);
    int n = r->metadata_calls;
    pthread_mutex_unlock(&r->mtx);
    return n;
}

/* Whether (key, value) was among the calls. */
static bool saw(record* r, const char* key, const char* value)
{
    bool found = false;
    pthread_mutex_lock(&r->mtx);
    for (int i = 0; i < r->metadata_calls && i < 32; ++i)
        if (!strcmp(r->keys[i], key) && !strcmp(r->values[i], value)) found = true;
    pthread_mutex_unlock(&r->mtx);
    return found;
}

static bool wait_saw(record* r, const char* key, const char* value, int ms)
{
    double end = ft_now_ms() + ms;
    while (!saw(r, key, value)) {
        if (ft_now_ms() > end) return false;
        ft_sleep_ms(10);
    }
    return true;
}

/* ---- fixture ----------------------------------------------------------- */

typedef struct {
    ft_group             g;
    record               rec[4];
    margo_instance_id    cmid;
    flock_client_t       client;
    flock_group_handle_t h[4];
    char                 file[512];
} fixture;

static bool setup(fixture* f, int client_mode)
{
    memset(f, 0, sizeof(*f));
    snprintf(f->file, sizeof(f->file), "%s/group.flock", ft_tmpdir());
    char config[1024];
    snprintf(config, sizeof(config), "{\"group\":{\"type\":\"static\"},\"file\":\"%s\"}", f->file);
    const char* md[] = {"initial", "value", NULL};
    if (!ft_group_start(&f->g, 4, PIDS, config, md)) return false;
    for (int i = 0; i < 4; ++i) {
        record_init(&f->rec[i]);
        int rc = flock_provider_add_update_callbacks(f->g.providers[i], on_member, on_metadata,
                                                     &f->rec[i]);
        CHECK_OK(rc);
        if (rc) return false;
    }
    f->cmid = client_mode ? ft_margo_client() : ft_margo_server();
    if (!f->cmid) return false;
    if (flock_client_init(f->cmid, ABT_POOL_NULL, &f->client) != FLOCK_SUCCESS) {
        ft_fail(__FILE__, __LINE__, "flock_client_init failed");
        return false;
    }
    for (int i = 0; i < 4; ++i) {
        hg_addr_t a = ft_lookup(f->cmid, f->g.addrs[i]);
        if (!a) return false;
        int rc = flock_group_handle_create(f->client, a, f->g.pids[i], 0, &f->h[i]);
        margo_addr_free(f->cmid, a);
        CHECK_OK(rc);
        if (rc) return false;
    }
    return true;
}

static void teardown(fixture* f)
{
    for (int i = 0; i < 4; ++i)
        if (f->h[i]) CHECK_OK(flock_group_handle_release(f->h[i]));
    if (f->client) CHECK_OK(flock_client_finalize(f->client));
    if (f->cmid) margo_finalize(f->cmid);
    ft_group_stop(&f->g);
}

static const char* handle_value(flock_group_handle_t h, const char* key, char* buf, size_t size)
{
    flock_group_view_t v = FLOCK_GROUP_VIEW_INITIALIZER;
    if (flock_group_get_view(h, &v) != FLOCK_SUCCESS) return NULL;
    const char* val = flock_group_view_find_metadata(&v, key);
    const char* out = NULL;
    if (val) {
        snprintf(buf, size, "%s", val);
        out = buf;
    }
    flock_group_view_clear(&v);
    return out;
}

static bool file_has(const char* file, const char* key, const char* value, int ms)
{
    double end = ft_now_ms() + ms;
    for (;;) {
        flock_group_view_t v  = FLOCK_GROUP_VIEW_INITIALIZER;
        bool               ok = false;
        if (flock_group_view_from_file(file, &v) == FLOCK_SUCCESS) {
            const char* got = flock_group_view_find_metadata(&v, key);
            ok              = got && !strcmp(got, value);
        }
        flock_group_view_clear(&v);
        if (ok) return true;
        if (ft_now_ms() > end) return false;
        ft_sleep_ms(20);
    }
}

/* ---- cases ------------------------------------------------------------- */

static void set_propagates(void)
{
    fixture f;
    if (!setup(&f, 1)) goto out;
    CHECK_OK(flock_group_metadata_set(f.h[1], "color", "blue"));
    for (int i = 0; i < 4; ++i)
        CHECK_MSG(wait_saw(&f.rec[i], "color", "blue", 5000),
                  "provider %d: metadata callback never saw color=blue", i);
    char buf[128];
    for (int i = 0; i < 4; ++i) {
        CHECK_OK(flock_group_update_view(f.h[i], NULL));
        const char* v = handle_value(f.h[i], "color", buf, sizeof(buf));
        CHECK_MSG(v && !strcmp(v, "blue"), "view of member %d: color=%s", i, v ? v : "(absent)");
        v = handle_value(f.h[i], "initial", buf, sizeof(buf));
        CHECK_MSG(v && !strcmp(v, "value"), "member %d lost the initial metadata", i);
    }
    CHECK_MSG(file_has(f.file, "color", "blue", 5000), "group file lacks color=blue");

    /* every member agrees on the digest */
    flock_group_view_t v0 = FLOCK_GROUP_VIEW_INITIALIZER, vi = FLOCK_GROUP_VIEW_INITIALIZER;
    CHECK_OK(flock_group_get_view(f.h[0], &v0));
    for (int i = 1; i < 4; ++i) {
        CHECK_OK(flock_group_get_view(f.h[i], &vi));
        CHECK_MSG(vi.digest == v0.digest, "member %d's digest differs from member 0's", i);
    }
    CHECK_U64(v0.metadata.size, 4); /* initial, color, __config__, __type__ */
    CHECK_U64(v0.digest, ft_recompute_digest(&v0));

    /* overwrite through another member */
    CHECK_OK(flock_group_metadata_set(f.h[3], "color", "red"));
    for (int i = 0; i < 4; ++i)
        CHECK_MSG(wait_saw(&f.rec[i], "color", "red", 5000),
                  "provider %d: metadata callback never saw color=red", i);
    for (int i = 0; i < 4; ++i) {
        CHECK_OK(flock_group_update_view(f.h[i], NULL));
        const char* v = handle_value(f.h[i], "color", buf, sizeof(buf));
        CHECK_MSG(v && !strcmp(v, "red"), "view of member %d: color=%s", i, v ? v : "(absent)");
    }
    CHECK_MSG(file_has(f.file, "color", "red", 5000), "group file lacks color=red");

    /* a second key, with awkward characters */
    CHECK_OK(flock_group_metadata_set(f.h[0], "path/with \"quotes\"", "\xc3\xa9t\xc3\xa9 / 1"));
    for (int i = 0; i < 4; ++i)
        CHECK(wait_saw(&f.rec[i], "path/with \"quotes\"", "\xc3\xa9t\xc3\xa9 / 1", 5000));
    CHECK(file_has(f.file, "path/with \"quotes\"", "\xc3\xa9t\xc3\xa9 / 1", 5000));
    for (int i = 0; i < 4; ++i)
        CHECK_MSG(f.rec[i].member_calls == 0, "provider %d: membership callback fired", i);

    /* the rewritten group file is still 0600, and alone in its directory */
    struct stat st;
    CHECK(stat(f.file, &st) == 0 && (st.st_mode & 07777) == 0600);
    char dir[512];
    snprintf(dir, sizeof(dir), "%s", f.file);
    *strrchr(dir, '/') = '\0';
    DIR* d = opendir(dir);
    int  entries = 0;
    for (struct dirent* e; d && (e = readdir(d)) != NULL;)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            ++entries;
            CHECK_MSG(!strcmp(e->d_name, "group.flock"), "left behind in the group file's directory: %s",
                      e->d_name);
        }
    if (d) closedir(d);
    CHECK_U64(entries, 1);
    flock_group_view_clear(&v0);
    flock_group_view_clear(&vi);
out:
    teardown(&f);
}

static void reserved_keys(void)
{
    fixture f;
    if (!setup(&f, 1)) goto out;
    flock_group_view_t before = FLOCK_GROUP_VIEW_INITIALIZER;
    CHECK_OK(flock_group_get_view(f.h[2], &before));
    CHECK_RC(flock_group_metadata_set(f.h[2], "__type__", "centralized"), FLOCK_ERR_OP_FORBIDDEN);
    CHECK_RC(flock_group_metadata_set(f.h[0], "__config__", "{\"x\":1}"), FLOCK_ERR_OP_FORBIDDEN);
    ft_sleep_ms(200);
    for (int i = 0; i < 4; ++i)
        CHECK_MSG(calls_of(&f.rec[i]) == 0, "provider %d: callback fired for a refused key", i);
    for (int i = 0; i < 4; ++i) {
        flock_group_view_t v = FLOCK_GROUP_VIEW_INITIALIZER;
        CHECK_OK(flock_group_update_view(f.h[i], NULL));
        CHECK_OK(flock_group_get_view(f.h[i], &v));
        CHECK_U64(v.digest, before.digest);
        CHECK_STR(flock_group_view_find_metadata(&v, "__type__"), "static");
        CHECK_STR(flock_group_view_find_metadata(&v, "__config__"), "{}");
        flock_group_view_clear(&v);
    }
    CHECK(file_has(f.file, "__type__", "static", 100));
    flock_group_view_clear(&before);

    CHECK_RC(flock_group_metadata_set(f.h[0], NULL, "x"), FLOCK_ERR_INVALID_ARGS);
    CHECK_RC(flock_group_metadata_set(f.h[0], "x", NULL), FLOCK_ERR_INVALID_ARGS);
    CHECK_RC(flock_group_metadata_set(NULL, "x", "y"), FLOCK_ERR_INVALID_ARGS);
out:
    teardown(&f);
}

/* Subscriber callbacks record into this. */
static void subscribe_case(int client_mode)
{
    fixture f;
    record  sub;
    record_init(&sub);
    if (!setup(&f, client_mode)) goto out;

    CHECK_OK(flock_group_subscribe(f.h[0], on_member, on_metadata, &sub));
    CHECK_OK(flock_group_metadata_set(f.h[3], "weather", "sunny"));
    CHECK_MSG(wait_saw(&sub, "weather", "sunny", 5000),
              "subscriber's metadata callback did not fire for weather=sunny");
    /* the subscribed handle's cached view followed (no update_view) */
    char        buf[128];
    const char* v = handle_value(f.h[0], "weather", buf, sizeof(buf));
    CHECK_MSG(v && !strcmp(v, "sunny"), "subscribed handle's view: weather=%s",
              v ? v : "(absent)");

    /* a change made through the subscribed handle itself is reported too */
    CHECK_OK(flock_group_metadata_set(f.h[0], "weather", "rainy"));
    CHECK(wait_saw(&sub, "weather", "rainy", 5000));
    int before = calls_of(&sub);
    CHECK_MSG(before >= 2, "subscriber saw %d changes, expected at least 2", before);

    CHECK_OK(flock_group_unsubscribe(f.h[0]));
    CHECK_OK(flock_group_metadata_set(f.h[2], "weather", "snowy"));
    for (int i = 0; i < 4; ++i) CHECK(wait_saw(&f.rec[i], "weather", "snowy", 5000));
    ft_sleep_ms(500);
    CHECK_MSG(calls_of(&sub) == before, "callback fired after unsubscribe (%d calls, %d before)",
              calls_of(&sub), before);
    CHECK(!saw(&sub, "weather", "snowy"));
    /* unsubscribing again is harmless */
    CHECK_OK(flock_group_unsubscribe(f.h[0]));

    /* subscribe again, with only a metadata callback */
    record again;
    record_init(&again);
    CHECK_OK(flock_group_subscribe(f.h[1], NULL, on_metadata, &again));
    CHECK_OK(flock_group_metadata_set(f.h[2], "weather", "foggy"));
    CHECK(wait_saw(&again, "weather", "foggy", 5000));
    /* release without unsubscribing: must not crash, nor later changes */
    CHECK_OK(flock_group_handle_release(f.h[1]));
    f.h[1] = FLOCK_GROUP_HANDLE_NULL;
    CHECK_OK(flock_group_metadata_set(f.h[2], "weather", "windy"));
    for (int i = 0; i < 4; ++i) CHECK(wait_saw(&f.rec[i], "weather", "windy", 5000));
    ft_sleep_ms(300);
    CHECK(!saw(&again, "weather", "windy"));
out:
    teardown(&f);
}

/* A value may be the empty string: every view (providers', subscribed
 * handles', the group file) must hold key = "" afterwards. */
static void empty_value(void)
{
    fixture f;
    record  sub;
    record_init(&sub);
    if (!setup(&f, 1)) goto out;
    CHECK_OK(flock_group_subscribe(f.h[0], on_member, on_metadata, &sub));
    CHECK_OK(flock_group_metadata_set(f.h[2], "empty", ""));
    for (int i = 0; i < 4; ++i)
        CHECK_MSG(wait_saw(&f.rec[i], "empty", "", 5000), "provider %d: no callback for empty=\"\"", i);
    CHECK(wait_saw(&sub, "empty", "", 5000));
    ft_sleep_ms(100);
    char buf[64];
    for (int i = 1; i < 4; ++i) {
        CHECK_OK(flock_group_update_view(f.h[i], NULL));
        const char* v = handle_value(f.h[i], "empty", buf, sizeof(buf));
        CHECK_MSG(v && !strcmp(v, ""), "member %d's view: empty=%s", i, v ? v : "(absent)");
    }
    CHECK(file_has(f.file, "empty", "", 5000));
    /* the subscribed handle's cached view (no update_view) matches the group's */
    const char* v = handle_value(f.h[0], "empty", buf, sizeof(buf));
    CHECK_MSG(v && !strcmp(v, ""),
              "subscribed handle's cached view: empty=%s (the group's views hold \"\")",
              v ? v : "(absent)");
    flock_group_view_t cached = FLOCK_GROUP_VIEW_INITIALIZER, fresh = FLOCK_GROUP_VIEW_INITIALIZER;
    CHECK_OK(flock_group_get_view(f.h[0], &cached));
    CHECK_OK(flock_group_get_view(f.h[1], &fresh));
    CHECK_MSG(cached.digest == fresh.digest,
              "subscribed handle's cached digest %llu differs from the group's %llu",
              (unsigned long long)cached.digest, (unsigned long long)fresh.digest);
    flock_group_view_clear(&cached);
    flock_group_view_clear(&fresh);
out:
    teardown(&f);
}

/* The provider a handle is subscribed to goes away: nothing crashes or
 * hangs, and calls through that handle fail. */
static void subscribe_provider_gone(void)
{
    fixture f;
    record  sub;
    record_init(&sub);
    if (!setup(&f, 1)) goto out;
    CHECK_OK(flock_group_subscribe(f.h[1], on_member, on_metadata, &sub));
    CHECK_OK(flock_provider_destroy(f.g.providers[1]));
    f.g.providers[1] = NULL;
    CHECK_OK(flock_group_metadata_set(f.h[2], "after", "destroy"));
    ft_sleep_ms(300);
    CHECK(!saw(&sub, "after", "destroy"));
    int rc = flock_group_metadata_set(f.h[1], "through", "gone");
    CHECK_MSG(rc != FLOCK_SUCCESS, "metadata_set through a destroyed provider succeeded");
    double t0 = ft_now_ms();
    CHECK_OK(flock_group_unsubscribe(f.h[1]));
    CHECK_OK(flock_group_handle_release(f.h[1]));
    f.h[1] = NULL;
    CHECK_MSG(ft_now_ms() - t0 < 15000, "unsubscribe + release took %.0f ms", ft_now_ms() - t0);
out:
    teardown(&f);
}

static void subscribe_client_mode(void) { subscribe_case(1); }
static void subscribe_server_mode(void) { subscribe_case(0); }

static const ft_case cases[] = {
    {"set_propagates", set_propagates},
    {"reserved_keys", reserved_keys},
    {"empty_value", empty_value},
    {"subscribe_provider_gone", subscribe_provider_gone},
    {"subscribe_client_mode", subscribe_client_mode},
    {"subscribe_server_mode", subscribe_server_mode},
};

int main(int argc, char** argv)
{
    return ft_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
