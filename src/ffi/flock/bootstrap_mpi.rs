//! `flock-bootstrap-mpi.h`: a view of every rank of a communicator.
#![allow(non_camel_case_types)]

use super::common::{flock_return_t, ret, ret_err};
use super::view::{fill_c, flock_group_view_t};
use crate::ffi::handles::{self, margo_instance_id};
use crate::ffi::panic::guard;
use crate::flock::error::code;
use crate::flock::{bootstrap_mpi, FlockError};

/// The MPI implementation's communicator handle (declared by `<mpi.h>`): an
/// `int` with the MPICH ABI, a pointer with Open MPI. Received here as a
/// pointer-sized integer (one argument register either way); which ABI it
/// is follows from the MPI in the process, and with the MPICH ABI only the
/// low 32 bits are read (an `int` does not clear the upper half of its
/// register).
pub type MPI_Comm = bootstrap_mpi::RawComm;

/// Collective over `comm`: clears `view` and adds every rank's (address,
/// provider id). Works with MPICH-ABI MPIs (MPICH, Intel MPI, MVAPICH, Cray
/// MPICH) and Open MPI: the communicator is read with the ABI of the MPI
/// the calling program uses. Fails with `FLOCK_ERR_OP_UNSUPPORTED` in builds
/// without MPI.
///
/// # Safety
/// `comm` must be a valid communicator of the MPI the program initialized;
/// `view` NULL or a valid view.
#[no_mangle]
pub unsafe extern "C" fn flock_group_view_init_from_mpi(
    mid: margo_instance_id,
    provider_id: u16,
    comm: MPI_Comm,
    view: *mut flock_group_view_t,
) -> flock_return_t {
    guard("flock_group_view_init_from_mpi", code::OTHER, || {
        let entry = "flock_group_view_init_from_mpi";
        let engine = match handles::engine(mid) {
            Ok(e) => e,
            Err(e) => return ret_err(entry, FlockError::InvalidArgs(e.to_string())),
        };
        // SAFETY: by the contract NULL or a valid view.
        let Some(v) = (unsafe { view.as_mut() }) else { return ret_err(entry, FlockError::InvalidArgs("NULL view".into())) };
        let address = engine.self_address().to_string();
        // SAFETY: `comm` is a valid communicator of the program's MPI (the
        // contract), and `v` a valid view whose memory came from malloc.
        ret(
            entry,
            unsafe { bootstrap_mpi::view_from_raw_comm(comm, &address, provider_id) }.and_then(|g| unsafe { fill_c(&g, v) }),
        )
    })
}
