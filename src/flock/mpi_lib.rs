//! The MPI library, found when the MPI bootstrap first runs rather than
//! linked: a process that never bootstraps through MPI (most daemons, every
//! client) does not load MPI and its dependencies (UCX, hwloc, ...), which
//! cost each process about 3.5 ms and several MiB at start-up, and
//! libmochi runs on machines without MPI installed.
//!
//! If the process already has MPI (an MPI program calling
//! `flock_group_view_init_from_mpi`), its symbols are used. Otherwise the
//! library named by `MOCHI_MPI_LIBRARY`, else `libmpich.so.12` then
//! `libmpi.so.12`, is loaded. The constants come from the mpi.h libmochi
//! was built against (`mpi_abi.c`): an MPICH-ABI MPI (MPICH, Intel MPI,
//! MVAPICH, Cray MPICH), whose handles are ints with fixed values.
#![allow(non_snake_case, non_camel_case_types)]

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::sync::OnceLock;

pub type MPI_Comm = c_int;
pub type MPI_Datatype = c_int;
pub type MPI_Errhandler = c_int;

extern "C" {
    static mochi_mpi_comm_world: c_int;
    static mochi_mpi_comm_null: c_int;
    static mochi_mpi_errors_return: c_int;
    static mochi_mpi_uint64_t: c_int;
    static mochi_mpi_uint8_t: c_int;
    static mochi_mpi_thread_multiple: c_int;
}

// SAFETY (all six): constant ints defined in mpi_abi.c, never written.
pub fn COMM_WORLD() -> MPI_Comm {
    unsafe { mochi_mpi_comm_world }
}
pub fn COMM_NULL() -> MPI_Comm {
    unsafe { mochi_mpi_comm_null }
}
pub fn ERRORS_RETURN() -> MPI_Errhandler {
    unsafe { mochi_mpi_errors_return }
}
pub fn UINT64_T() -> MPI_Datatype {
    unsafe { mochi_mpi_uint64_t }
}
pub fn UINT8_T() -> MPI_Datatype {
    unsafe { mochi_mpi_uint8_t }
}
pub fn THREAD_MULTIPLE() -> c_int {
    unsafe { mochi_mpi_thread_multiple }
}

/// The MPI functions the bootstrap calls.
pub struct Mpi {
    pub Initialized: unsafe extern "C" fn(*mut c_int) -> c_int,
    pub Finalized: unsafe extern "C" fn(*mut c_int) -> c_int,
    pub Init_thread: unsafe extern "C" fn(*mut c_int, *mut *mut *mut c_char, c_int, *mut c_int) -> c_int,
    pub Finalize: unsafe extern "C" fn() -> c_int,
    pub Query_thread: unsafe extern "C" fn(*mut c_int) -> c_int,
    pub Error_string: unsafe extern "C" fn(c_int, *mut c_char, *mut c_int) -> c_int,
    pub Comm_rank: unsafe extern "C" fn(MPI_Comm, *mut c_int) -> c_int,
    pub Comm_size: unsafe extern "C" fn(MPI_Comm, *mut c_int) -> c_int,
    pub Comm_dup: unsafe extern "C" fn(MPI_Comm, *mut MPI_Comm) -> c_int,
    pub Comm_free: unsafe extern "C" fn(*mut MPI_Comm) -> c_int,
    pub Comm_set_errhandler: unsafe extern "C" fn(MPI_Comm, MPI_Errhandler) -> c_int,
    pub Comm_test_inter: unsafe extern "C" fn(MPI_Comm, *mut c_int) -> c_int,
    #[allow(clippy::type_complexity)]
    pub Allgather: unsafe extern "C" fn(*const c_void, c_int, MPI_Datatype, *mut c_void, c_int, MPI_Datatype, MPI_Comm) -> c_int,
    #[allow(clippy::type_complexity)]
    pub Allgatherv: unsafe extern "C" fn(
        *const c_void,
        c_int,
        MPI_Datatype,
        *mut c_void,
        *const c_int,
        *const c_int,
        MPI_Datatype,
        MPI_Comm,
    ) -> c_int,
}

/// Library names tried, in order, when the process has no MPI yet.
const CANDIDATES: [&str; 2] = ["libmpich.so.12", "libmpi.so.12"];

fn dlerror() -> String {
    // SAFETY: dlerror returns NULL or a valid message.
    let e = unsafe { libc::dlerror() };
    if e.is_null() {
        "unknown error".into()
    } else {
        unsafe { CStr::from_ptr(e) }.to_string_lossy().into_owned()
    }
}

/// The handle whose symbols we use: the process itself if it has MPI, or
/// a library loaded now.
fn open() -> Result<*mut c_void, String> {
    // SAFETY: dlsym with a constant name.
    if !unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"MPI_Initialized".as_ptr()) }.is_null() {
        return Ok(libc::RTLD_DEFAULT);
    }
    let wanted: Vec<String> = match std::env::var("MOCHI_MPI_LIBRARY") {
        Ok(path) if !path.is_empty() => vec![path],
        _ => CANDIDATES.iter().map(|s| s.to_string()).collect(),
    };
    let mut tried = Vec::new();
    for name in &wanted {
        let Ok(c) = CString::new(name.as_str()) else { continue };
        // SAFETY: dlopen with a valid name; kept loaded for the process's
        // life (MPI cannot be unloaded). RTLD_GLOBAL: MPI's own plug-ins
        // expect its symbols to be visible.
        let h = unsafe { libc::dlopen(c.as_ptr(), libc::RTLD_NOW | libc::RTLD_GLOBAL) };
        if !h.is_null() {
            return Ok(h);
        }
        tried.push(format!("{name}: {}", dlerror()));
    }
    Err(format!(
        "no MPI library could be loaded (set MOCHI_MPI_LIBRARY to an MPICH-ABI libmpi); tried {}",
        tried.join("; ")
    ))
}

fn resolve(handle: *mut c_void) -> Result<Mpi, String> {
    fn sym<T: Copy>(handle: *mut c_void, name: &str) -> Result<T, String> {
        let c = CString::new(name).expect("static name");
        // SAFETY: dlsym on a valid handle.
        let p = unsafe { libc::dlsym(handle, c.as_ptr()) };
        if p.is_null() {
            return Err(format!("the MPI library has no {name}"));
        }
        debug_assert_eq!(std::mem::size_of::<T>(), std::mem::size_of::<*mut c_void>());
        // SAFETY: T is the function-pointer type of the MPI function named.
        Ok(unsafe { std::mem::transmute_copy::<*mut c_void, T>(&p) })
    }
    Ok(Mpi {
        Initialized: sym(handle, "MPI_Initialized")?,
        Finalized: sym(handle, "MPI_Finalized")?,
        Init_thread: sym(handle, "MPI_Init_thread")?,
        Finalize: sym(handle, "MPI_Finalize")?,
        Query_thread: sym(handle, "MPI_Query_thread")?,
        Error_string: sym(handle, "MPI_Error_string")?,
        Comm_rank: sym(handle, "MPI_Comm_rank")?,
        Comm_size: sym(handle, "MPI_Comm_size")?,
        Comm_dup: sym(handle, "MPI_Comm_dup")?,
        Comm_free: sym(handle, "MPI_Comm_free")?,
        Comm_set_errhandler: sym(handle, "MPI_Comm_set_errhandler")?,
        Comm_test_inter: sym(handle, "MPI_Comm_test_inter")?,
        Allgather: sym(handle, "MPI_Allgather")?,
        Allgatherv: sym(handle, "MPI_Allgatherv")?,
    })
}

/// The MPI functions, loading the library on first use.
pub fn get() -> Result<&'static Mpi, String> {
    static MPI: OnceLock<Result<Mpi, String>> = OnceLock::new();
    MPI.get_or_init(|| open().and_then(resolve)).as_ref().map_err(Clone::clone)
}
