/* The MPI constants libmochi's MPI bootstrap needs, read from the mpi.h of
 * the MPI it is built against. Data only: nothing here calls MPI, so
 * libmochi does not link an MPI library; the functions are looked up when
 * the bootstrap first runs (src/flock/mpi_lib.rs).
 *
 * Handles must be plain ints: the MPICH ABI (MPICH, Intel MPI, MVAPICH,
 * Cray MPICH), whose constants are fixed values. */
#include <mpi.h>

_Static_assert(sizeof(MPI_Comm) == sizeof(int), "libmochi's MPI bootstrap needs an MPICH-ABI MPI (MPI_Comm is an int)");
_Static_assert(sizeof(MPI_Datatype) == sizeof(int), "libmochi's MPI bootstrap needs an MPICH-ABI MPI");
_Static_assert(sizeof(MPI_Errhandler) == sizeof(int), "libmochi's MPI bootstrap needs an MPICH-ABI MPI");

const int mochi_mpi_comm_world = (int)MPI_COMM_WORLD;
const int mochi_mpi_comm_null = (int)MPI_COMM_NULL;
const int mochi_mpi_errors_return = (int)MPI_ERRORS_RETURN;
const int mochi_mpi_uint64_t = (int)MPI_UINT64_T;
const int mochi_mpi_uint8_t = (int)MPI_UINT8_T;
const int mochi_mpi_thread_multiple = MPI_THREAD_MULTIPLE;
const int mochi_mpi_max_error_string = MPI_MAX_ERROR_STRING;
