/*
 * Bootstrap helpers (spec §10.1) without MPI: flock_group_view_init_from_self
 * and flock_group_view_init_from_file, and a provider started from each
 * (upstream's test-bootstrap.cpp, plus the error cases).
 */
#define _POSIX_C_SOURCE 200809L
#include "flocktest.h"

#include <flock/flock-bootstrap.h>

#include <stdlib.h>
#include <string.h>

static void from_self(void)
{
    margo_instance_id mid = ft_margo_server();
    REQUIRE(mid);
    char self[256];
    ft_self_address(mid, self, sizeof(self));

    flock_group_view_t v = FLOCK_GROUP_VIEW_INITIALIZER;
    CHECK_OK(flock_group_view_init_from_self(mid, 42, &v));
    REQUIRE(v.members.size == 1);
    CHECK_STR(v.members.data[0].address, self);
    CHECK_U64(v.members.data[0].provider_id, 42);
    CHECK_U64(v.metadata.size, 0);
    CHECK_U64(v.digest, flock_hash_member(42, self));
    CHECK(v.members.data[0].extra.data == NULL && v.members.data[0].extra.free == NULL);

    /* the view is cleared first */
    flock_group_view_add_member(&v, "zzz://other", 1);
    flock_group_view_add_metadata(&v, "k", "v");
    CHECK_OK(flock_group_view_init_from_self(mid, 7, &v));
    CHECK_U64(v.members.size, 1);
    CHECK_U64(v.metadata.size, 0);
    CHECK_U64(v.members.data[0].provider_id, 7);
    CHECK_U64(v.digest, flock_hash_member(7, self));
    flock_group_view_clear(&v);

    /* extreme provider ids */
    CHECK_OK(flock_group_view_init_from_self(mid, 0, &v));
    CHECK_U64(v.members.data[0].provider_id, 0);
    CHECK_OK(flock_group_view_init_from_self(mid, 65535, &v));
    CHECK_U64(v.members.data[0].provider_id, 65535);
    flock_group_view_clear(&v);

    /* a client-mode instance has an address too */
    margo_instance_id cmid = ft_margo_client();
    if (cmid) {
        CHECK_OK(flock_group_view_init_from_self(cmid, 1, &v));
        CHECK_U64(v.members.size, 1);
        flock_group_view_clear(&v);
        margo_finalize(cmid);
    }
    margo_finalize(mid);
}

static void self_file_round_trip(void)
{
    margo_instance_id mid = ft_margo_server();
    REQUIRE(mid);
    char file[512];
    snprintf(file, sizeof(file), "%s/self.flock", ft_tmpdir());
    flock_group_view_t v = FLOCK_GROUP_VIEW_INITIALIZER;
    REQUIRE_OK(flock_group_view_init_from_self(mid, 42, &v));
    CHECK_OK(flock_group_view_serialize_to_file(&v, file));
    flock_group_view_t back = FLOCK_GROUP_VIEW_INITIALIZER;
    flock_group_view_add_member(&back, "junk://", 3);
    CHECK_OK(flock_group_view_init_from_file(file, &back));
    CHECK_U64(back.digest, v.digest);
    REQUIRE(back.members.size == 1);
    CHECK_STR(back.members.data[0].address, v.members.data[0].address);
    CHECK_U64(back.members.data[0].provider_id, 42);

    /* errors as flock_group_view_from_file */
    char missing[600];
    snprintf(missing, sizeof(missing), "%s.missing", file);
    CHECK_RC(flock_group_view_init_from_file(missing, &back), FLOCK_ERR_INVALID_ARGS);
    CHECK(ft_write_file(missing, "{\"members\":[]}", 14));
    CHECK_RC(flock_group_view_init_from_file(missing, &back), FLOCK_ERR_INVALID_CONFIG);
    CHECK_U64(back.digest, v.digest);
    flock_group_view_clear(&v);
    flock_group_view_clear(&back);
    margo_finalize(mid);
}

/* A provider whose initial view comes from init_from_self, then a second
 * process-local provider started from the first one's group file. */
static void providers_from_bootstrap(void)
{
    margo_instance_id mid = ft_margo_server();
    REQUIRE(mid);
    char self[256];
    ft_self_address(mid, self, sizeof(self));
    char file[512], cfg[1024];
    snprintf(file, sizeof(file), "%s/group.flock", ft_tmpdir());
    snprintf(cfg, sizeof(cfg), "{\"group\":{\"type\":\"static\"},\"file\":\"%s\"}", file);

    flock_group_view_t v = FLOCK_GROUP_VIEW_INITIALIZER;
    REQUIRE_OK(flock_group_view_init_from_self(mid, 1, &v));
    struct flock_provider_args args = FLOCK_PROVIDER_ARGS_INIT;
    args.initial_view               = &v;
    flock_provider_t p1             = NULL;
    REQUIRE_OK(flock_provider_register(mid, 1, cfg, &args, &p1));
    CHECK_U64(v.members.size, 0);

    /* the file the provider wrote bootstraps another handle / view */
    flock_group_view_t fv = FLOCK_GROUP_VIEW_INITIALIZER;
    CHECK_OK(flock_group_view_init_from_file(file, &fv));
    CHECK_U64(fv.members.size, 1);
    CHECK_STR(flock_group_view_find_metadata(&fv, "__type__"), "static");

    /* a static provider started from a file that does not list it: forbidden */
    args.initial_view   = &fv;
    flock_provider_t p2 = NULL;
    CHECK_RC(flock_provider_register(mid, 2, "{\"group\":{\"type\":\"static\"}}", &args, &p2),
             FLOCK_ERR_OP_FORBIDDEN);
    flock_group_view_clear(&fv);

    flock_group_view_t got = FLOCK_GROUP_VIEW_INITIALIZER;
    CHECK_OK(ft_fetch_view(mid, self, 1, FLOCK_MODE_INIT_UPDATE, &got));
    CHECK_U64(got.members.size, 1);
    CHECK_U64(got.metadata.size, 2);
    flock_group_view_clear(&got);
    CHECK_OK(flock_provider_destroy(p1));
    margo_finalize(mid);
}

static const ft_case cases[] = {
    {"from_self", from_self},
    {"self_file_round_trip", self_file_round_trip},
    {"providers_from_bootstrap", providers_from_bootstrap},
};

int main(int argc, char** argv)
{
    return ft_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
