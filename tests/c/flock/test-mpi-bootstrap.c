/*
 * MPI bootstrap (spec §10.1, upstream's test-mpi-bootstrap.cpp), run as
 *
 *   mpiexec -n 4 test-mpi-bootstrap [PROTOCOL]
 *
 * Every rank: margo server on PROTOCOL (default na+sm),
 * flock_group_view_init_from_mpi(provider id 10 + rank) over MPI_COMM_WORLD,
 * over MPI_COMM_SELF and over a split communicator; then a static provider
 * from the world view. Rank 0 then makes a client handle on the last rank's
 * provider and checks that it lists every rank. Failures of all ranks are
 * summed; rank 0 prints the verdict; every rank exits non-zero on failure.
 */
#define _POSIX_C_SOURCE 200809L
#include <mpi.h>
#include "flocktest.h"

#include <flock/flock-bootstrap-mpi.h>
#include <flock/flock-bootstrap.h>

#include <stdlib.h>
#include <string.h>

static void check_view(const flock_group_view_t* v, int expected_members, const char* self,
                       uint16_t self_pid, const char* what)
{
    CHECK_MSG(v->members.size == (uint64_t)expected_members, "%s: %llu members, expected %d",
              what, (unsigned long long)v->members.size, expected_members);
    CHECK_MSG(flock_group_view_find_member((flock_group_view_t*)v, self, self_pid) != NULL,
              "%s: own member (%s, %u) missing", what, self, (unsigned)self_pid);
    for (uint64_t i = 1; i < v->members.size; ++i)
        CHECK_MSG(flock_member_cmp(&v->members.data[i - 1], &v->members.data[i]) < 0,
                  "%s: members not sorted/unique", what);
    CHECK_MSG(v->metadata.size == 0, "%s: unexpected metadata", what);
    CHECK_MSG(v->digest == ft_recompute_digest(v), "%s: digest does not match content", what);
}

int main(int argc, char** argv)
{
    MPI_Init(&argc, &argv);
    int rank = 0, size = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (argc > 1) ft_protocol = argv[1];
    char case_name[64];
    snprintf(case_name, sizeof(case_name), "mpi_bootstrap rank %d", rank);
    ft_set_case(case_name);

    uint16_t          pid = (uint16_t)(10 + rank);
    margo_instance_id mid = ft_margo_server();
    char              self[256] = "";
    flock_group_view_t world = FLOCK_GROUP_VIEW_INITIALIZER;
    flock_provider_t   provider = NULL;
    if (mid) ft_self_address(mid, self, sizeof(self));
    int ok_init = mid != MARGO_INSTANCE_NULL, all_init = 0;
    MPI_Allreduce(&ok_init, &all_init, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (!all_init) goto done;

    /* MPI_COMM_WORLD */
    CHECK_OK(flock_group_view_init_from_mpi(mid, pid, MPI_COMM_WORLD, &world));
    check_view(&world, size, self, pid, "world view");
    for (uint64_t i = 0; i < world.members.size; ++i) {
        uint16_t p = world.members.data[i].provider_id;
        CHECK_MSG(p >= 10 && p < 10 + size, "world view: unexpected provider id %u", (unsigned)p);
    }
    /* every rank built the same view */
    unsigned long long digest = world.digest, min_d = 0, max_d = 0;
    MPI_Allreduce(&digest, &min_d, 1, MPI_UNSIGNED_LONG_LONG, MPI_MIN, MPI_COMM_WORLD);
    MPI_Allreduce(&digest, &max_d, 1, MPI_UNSIGNED_LONG_LONG, MPI_MAX, MPI_COMM_WORLD);
    CHECK_MSG(min_d == max_d, "ranks built different world views");

    /* the view is cleared first */
    flock_group_view_t again = FLOCK_GROUP_VIEW_INITIALIZER;
    flock_group_view_add_member(&again, "junk://", 1);
    flock_group_view_add_metadata(&again, "junk", "1");
    CHECK_OK(flock_group_view_init_from_mpi(mid, pid, MPI_COMM_WORLD, &again));
    CHECK_U64(again.digest, world.digest);
    flock_group_view_clear(&again);

    /* MPI_COMM_SELF: just us */
    flock_group_view_t alone = FLOCK_GROUP_VIEW_INITIALIZER;
    CHECK_OK(flock_group_view_init_from_mpi(mid, pid, MPI_COMM_SELF, &alone));
    check_view(&alone, 1, self, pid, "MPI_COMM_SELF view");
    flock_group_view_clear(&alone);

    /* a split communicator: ranks of the same parity */
    MPI_Comm half;
    MPI_Comm_split(MPI_COMM_WORLD, rank % 2, rank, &half);
    int half_size = 0;
    MPI_Comm_size(half, &half_size);
    flock_group_view_t hv = FLOCK_GROUP_VIEW_INITIALIZER;
    CHECK_OK(flock_group_view_init_from_mpi(mid, pid, half, &hv));
    check_view(&hv, half_size, self, pid, "split view");
    for (uint64_t i = 0; i < hv.members.size; ++i)
        CHECK_MSG((hv.members.data[i].provider_id - 10) % 2 == rank % 2,
                  "split view: member of the other half (%u)", (unsigned)hv.members.data[i].provider_id);
    flock_group_view_clear(&hv);
    MPI_Comm_free(&half);

#if defined(MPICH_VERSION) || defined(MPICH)
    /* MPICH ABI: MPI_Comm is an int, and an int argument leaves the upper
     * half of its 64-bit register undefined. Make it garbage on purpose:
     * only the low 32 bits may be read. (Called through the pointer-sized
     * view of the argument that the library itself takes.) */
    {
        typedef flock_return_t (*wide_fn)(margo_instance_id, uint16_t, uint64_t, flock_group_view_t*);
        wide_fn wide = (wide_fn)(void (*)(void))flock_group_view_init_from_mpi;
        uint64_t dirty = 0xdeadbeef00000000ull | (uint32_t)MPI_COMM_WORLD;
        flock_group_view_t dv = FLOCK_GROUP_VIEW_INITIALIZER;
        CHECK_OK(wide(mid, pid, dirty, &dv));
        check_view(&dv, size, self, pid, "world view, garbage in the upper half of the int handle");
        CHECK_MSG(dv.digest == world.digest, "garbage upper half: digest differs from the world view");
        flock_group_view_clear(&dv);
    }
#endif

    /* MPI_COMM_NULL is refused (not collective) */
    {
        flock_group_view_t nv = FLOCK_GROUP_VIEW_INITIALIZER;
        CHECK_RC(flock_group_view_init_from_mpi(mid, pid, MPI_COMM_NULL, &nv), FLOCK_ERR_INVALID_ARGS);
    }

    /* bad arguments (not collective: refused before any MPI call) */
    CHECK_RC(flock_group_view_init_from_mpi(mid, pid, MPI_COMM_WORLD, NULL), FLOCK_ERR_INVALID_ARGS);
    CHECK_RC(flock_group_view_init_from_mpi(MARGO_INSTANCE_NULL, pid, MPI_COMM_WORLD, &alone),
             FLOCK_ERR_INVALID_ARGS);

    /* a static provider on every rank, from (a copy of) the world view */
    flock_group_view_t initial = FLOCK_GROUP_VIEW_INITIALIZER;
    CHECK(flock_group_view_copy(&world, &initial));
    struct flock_provider_args args = FLOCK_PROVIDER_ARGS_INIT;
    args.initial_view               = &initial;
    CHECK_OK(flock_provider_register(mid, pid, "{\"group\":{\"type\":\"static\"}}", &args, &provider));
    flock_group_view_clear(&initial);
    MPI_Barrier(MPI_COMM_WORLD);

    /* rank 0: a handle on the last rank's provider lists every rank */
    if (rank == 0) {
        uint16_t           target_pid = (uint16_t)(10 + size - 1);
        const char*        target     = NULL;
        for (uint64_t i = 0; i < world.members.size; ++i)
            if (world.members.data[i].provider_id == target_pid) target = world.members.data[i].address;
        CHECK(target != NULL);
        if (target) {
            flock_group_view_t got = FLOCK_GROUP_VIEW_INITIALIZER;
            CHECK_OK(ft_fetch_view(mid, target, target_pid, 0, &got));
            CHECK_U64(got.members.size, size);
            for (uint64_t i = 0; i < world.members.size; ++i)
                CHECK(flock_group_view_find_member(&got, world.members.data[i].address,
                                                   world.members.data[i].provider_id) != NULL);
            CHECK_STR(flock_group_view_find_metadata(&got, "__type__"), "static");
            CHECK_U64(got.metadata.size, 2);
            flock_group_view_clear(&got);
            /* also from a separate client-mode instance */
            margo_instance_id cmid = ft_margo_client();
            if (cmid) {
                CHECK_OK(ft_fetch_view(cmid, target, target_pid, FLOCK_MODE_INIT_UPDATE, &got));
                CHECK_U64(got.members.size, size);
                flock_group_view_clear(&got);
                margo_finalize(cmid);
            }
        }
    }
    MPI_Barrier(MPI_COMM_WORLD);

done:
    if (provider) CHECK_OK(flock_provider_destroy(provider));
    flock_group_view_clear(&world);
    if (mid) margo_finalize(mid);

    int failures = ft_failures + (all_init ? 0 : 1), total = 0;
    MPI_Allreduce(&failures, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (rank == 0) {
        if (total)
            printf("[ FAIL ] mpi_bootstrap on %d ranks (%s): %d check(s) failed\n", size,
                   ft_protocol, total);
        else
            printf("[  OK  ] mpi_bootstrap on %d ranks (%s)\n", size, ft_protocol);
        fflush(stdout);
    }
    MPI_Finalize();
    return total ? 1 : 0;
}
