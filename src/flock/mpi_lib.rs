//! The MPI library, found when the MPI bootstrap first runs rather than
//! linked: a process that never bootstraps through MPI (most daemons, every
//! client) does not load MPI and its dependencies (UCX, hwloc, ...), which
//! cost each process about 3.5 ms and several MiB at start-up, and
//! libmochi runs on machines without MPI installed.
//!
//! Which library, first match wins:
//! 1. the MPI already in the process (an MPI program calling
//!    `flock_group_view_init_from_mpi`): its symbols are used;
//! 2. the library `MOCHI_MPI_LIBRARY` names (a file name or a path);
//! 3. the MPI of the launcher's family ([`super::mpi_launcher`]): Open MPI
//!    (`libmpi.so.40`) under Open MPI's `mpirun` or a PMIx launcher, the
//!    MPICH ABI (`libmpich.so.12`, then `libmpi.so.12`) under Hydra or
//!    another PMI-1/2 launcher, any of them otherwise.
//!
//! Both ABIs are supported, told apart at run time from the library loaded:
//! - Open MPI: handles are addresses of the library's predefined objects
//!   (`MPI_COMM_WORLD` is `&ompi_mpi_comm_world`, `MPI_UINT64_T` is
//!   `&ompi_mpi_uint64_t`, ...), found by symbol lookup;
//! - the MPICH ABI (MPICH, Intel MPI, MVAPICH, Cray MPICH): handles are
//!   `int`s with fixed values (those of MPICH's `mpi.h`).
//!
//! Handles travel as [`Handle`], wide enough for both; [`Calls`] converts
//! them to the library's own type at each call.
#![allow(non_snake_case)]

use super::mpi_launcher::{self, Family, Launcher};
use std::ffi::{c_char, c_int, c_void, CStr};
use std::sync::OnceLock;

/// An MPI handle (communicator, datatype, error handler) of either ABI:
/// the `int` of the MPICH ABI (zero-extended from 32 bits) or the address
/// Open MPI uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(transparent)]
pub struct Handle(pub usize);

/// The two ABIs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Abi {
    /// `int` handles with fixed values.
    Mpich,
    /// Handles are addresses of the library's predefined objects.
    OpenMpi,
}

impl Abi {
    pub fn name(self) -> &'static str {
        match self {
            Abi::Mpich => "MPICH ABI",
            Abi::OpenMpi => "Open MPI ABI",
        }
    }
}

/// A predefined handle as each ABI gives it: the MPICH ABI fixes its value
/// (MPICH's `mpi.h`, shared by Intel MPI, MVAPICH and Cray MPICH); Open MPI
/// makes it the address of one of its objects.
struct Predefined {
    mpich: u32,
    open_mpi: &'static str,
}

const COMM_WORLD: Predefined = Predefined { mpich: 0x4400_0000, open_mpi: "ompi_mpi_comm_world" };
const COMM_NULL: Predefined = Predefined { mpich: 0x0400_0000, open_mpi: "ompi_mpi_comm_null" };
const ERRORS_RETURN: Predefined = Predefined { mpich: 0x5400_0001, open_mpi: "ompi_mpi_errors_return" };
const UINT64_T: Predefined = Predefined { mpich: 0x4c00_083e, open_mpi: "ompi_mpi_uint64_t" };
const UINT8_T: Predefined = Predefined { mpich: 0x4c00_013b, open_mpi: "ompi_mpi_uint8_t" };

/// `MPI_THREAD_MULTIPLE` (3 in both ABIs).
pub const THREAD_MULTIPLE: c_int = 3;

/// The handle type of one ABI.
trait RawHandle: Copy + Send + Sync + 'static {
    fn from_handle(h: Handle) -> Self;
    fn into_handle(self) -> Handle;
    /// The ABI's value of a predefined handle, looked up in `lib` if need be.
    fn predefined(lib: &Lib, p: &Predefined) -> Result<Handle, String>;
    /// The ABI's function table as [`Calls`].
    fn calls(fns: Fns<Self>) -> Calls;
}

/// MPICH ABI: an `int`. Only the low 32 bits of a [`Handle`] count (a C
/// caller's `int` argument arrives with whatever was in the upper half of
/// its register).
impl RawHandle for c_int {
    fn from_handle(h: Handle) -> Self {
        h.0 as u32 as c_int
    }
    fn into_handle(self) -> Handle {
        Handle(self as u32 as usize)
    }
    fn predefined(_: &Lib, p: &Predefined) -> Result<Handle, String> {
        Ok(Handle(p.mpich as usize))
    }
    fn calls(fns: Fns<Self>) -> Calls {
        Calls(Table::Mpich(fns))
    }
}

/// Open MPI ABI: an address, carried as an integer (never dereferenced by
/// us). An integer type rather than a pointer keeps the function table
/// `Send + Sync`; both travel in the same register.
#[derive(Clone, Copy)]
#[repr(transparent)]
struct Address(usize);

impl RawHandle for Address {
    fn from_handle(h: Handle) -> Self {
        Address(h.0)
    }
    fn into_handle(self) -> Handle {
        Handle(self.0)
    }
    fn predefined(lib: &Lib, p: &Predefined) -> Result<Handle, String> {
        object(lib, p.open_mpi)
    }
    fn calls(fns: Fns<Self>) -> Calls {
        Calls(Table::OpenMpi(fns))
    }
}

/// The functions of one ABI, `H` being its handle type.
#[allow(clippy::type_complexity)]
struct Fns<H> {
    Comm_rank: unsafe extern "C" fn(H, *mut c_int) -> c_int,
    Comm_size: unsafe extern "C" fn(H, *mut c_int) -> c_int,
    Comm_dup: unsafe extern "C" fn(H, *mut H) -> c_int,
    Comm_free: unsafe extern "C" fn(*mut H) -> c_int,
    Comm_set_errhandler: unsafe extern "C" fn(H, H) -> c_int,
    Comm_test_inter: unsafe extern "C" fn(H, *mut c_int) -> c_int,
    Allgather: unsafe extern "C" fn(*const c_void, c_int, H, *mut c_void, c_int, H, H) -> c_int,
    Allgatherv: unsafe extern "C" fn(*const c_void, c_int, H, *mut c_void, *const c_int, *const c_int, H, H) -> c_int,
}

/// The MPI functions that take handles, with handles of either ABI: each
/// method converts them to the loaded library's own handle type.
///
/// # Safety (every method)
/// Same contract as the MPI function named: MPI initialized (and not
/// finalized), valid handles of the loaded library, buffers as large as
/// the counts say.
pub struct Calls(Table);

/// The function table of the ABI loaded.
enum Table {
    Mpich(Fns<c_int>),
    OpenMpi(Fns<Address>),
}

/// Runs `$body` with `$f` the function table of the loaded ABI and `$H`
/// its handle type.
macro_rules! with_abi {
    ($calls:expr, $f:ident, $H:ident => $body:expr) => {
        match &$calls.0 {
            Table::Mpich($f) => {
                type $H = c_int;
                $body
            }
            Table::OpenMpi($f) => {
                type $H = Address;
                $body
            }
        }
    };
}

// Every method forwards to the MPI function of the same name under the
// caller's contract (see [`Calls`]); the handles are converted to the
// library's own handle type, which is what its functions take.
#[allow(clippy::missing_safety_doc)]
impl Calls {
    pub unsafe fn comm_rank(&self, comm: Handle, rank: &mut c_int) -> c_int {
        // SAFETY: the MPI function under the caller's contract, with handles of its own type.
        with_abi!(self, f, H => unsafe { (f.Comm_rank)(H::from_handle(comm), rank) })
    }
    pub unsafe fn comm_size(&self, comm: Handle, size: &mut c_int) -> c_int {
        // SAFETY: as above.
        with_abi!(self, f, H => unsafe { (f.Comm_size)(H::from_handle(comm), size) })
    }
    pub unsafe fn comm_dup(&self, comm: Handle, out: &mut Handle) -> c_int {
        with_abi!(self, f, H => {
            let mut raw = H::from_handle(*out);
            // SAFETY: as above.
            let rc = unsafe { (f.Comm_dup)(H::from_handle(comm), &mut raw) };
            *out = raw.into_handle();
            rc
        })
    }
    pub unsafe fn comm_free(&self, comm: &mut Handle) -> c_int {
        with_abi!(self, f, H => {
            let mut raw = H::from_handle(*comm);
            // SAFETY: as above.
            let rc = unsafe { (f.Comm_free)(&mut raw) };
            *comm = raw.into_handle();
            rc
        })
    }
    pub unsafe fn comm_set_errhandler(&self, comm: Handle, errhandler: Handle) -> c_int {
        // SAFETY: as above.
        with_abi!(self, f, H => unsafe { (f.Comm_set_errhandler)(H::from_handle(comm), H::from_handle(errhandler)) })
    }
    pub unsafe fn comm_test_inter(&self, comm: Handle, flag: &mut c_int) -> c_int {
        // SAFETY: as above.
        with_abi!(self, f, H => unsafe { (f.Comm_test_inter)(H::from_handle(comm), flag) })
    }
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn allgather(
        &self,
        send: *const c_void,
        send_count: c_int,
        send_type: Handle,
        recv: *mut c_void,
        recv_count: c_int,
        recv_type: Handle,
        comm: Handle,
    ) -> c_int {
        with_abi!(self, f, H => {
            let (send_type, recv_type, comm) = (H::from_handle(send_type), H::from_handle(recv_type), H::from_handle(comm));
            // SAFETY: as above.
            unsafe { (f.Allgather)(send, send_count, send_type, recv, recv_count, recv_type, comm) }
        })
    }
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn allgatherv(
        &self,
        send: *const c_void,
        send_count: c_int,
        send_type: Handle,
        recv: *mut c_void,
        recv_counts: *const c_int,
        displs: *const c_int,
        recv_type: Handle,
        comm: Handle,
    ) -> c_int {
        with_abi!(self, f, H => {
            let (send_type, recv_type, comm) = (H::from_handle(send_type), H::from_handle(recv_type), H::from_handle(comm));
            // SAFETY: as above.
            unsafe { (f.Allgatherv)(send, send_count, send_type, recv, recv_counts, displs, recv_type, comm) }
        })
    }
}

/// The loaded MPI: its functions, predefined handles, and what it is.
pub struct Mpi {
    pub abi: Abi,
    /// The file the functions come from (as the dynamic loader reports it).
    pub library: String,
    /// First line of `MPI_Get_library_version` (e.g. `MPICH Version: 4.0.2`).
    pub version: String,
    /// How the library was chosen (already in the process, MOCHI_MPI_LIBRARY,
    /// the launcher's family, the default list).
    pub chosen_by: String,
    pub comm_world: Handle,
    pub comm_null: Handle,
    pub errors_return: Handle,
    pub uint64_t: Handle,
    pub uint8_t: Handle,
    pub Initialized: unsafe extern "C" fn(*mut c_int) -> c_int,
    pub Finalized: unsafe extern "C" fn(*mut c_int) -> c_int,
    pub Init_thread: unsafe extern "C" fn(*mut c_int, *mut *mut *mut c_char, c_int, *mut c_int) -> c_int,
    pub Finalize: unsafe extern "C" fn() -> c_int,
    pub Query_thread: unsafe extern "C" fn(*mut c_int) -> c_int,
    pub Error_string: unsafe extern "C" fn(c_int, *mut c_char, *mut c_int) -> c_int,
    pub calls: Calls,
    /// The library the functions above come from, kept loaded (never
    /// dropped: `Mpi` lives in a static).
    _lib: Lib,
}

impl Mpi {
    /// A communicator handed over by a C caller as a pointer-sized value:
    /// with the MPICH ABI only its low 32 bits are the `int` handle.
    pub fn handle_from_raw(&self, raw: usize) -> Handle {
        match self.abi {
            Abi::Mpich => Handle(raw as u32 as usize),
            Abi::OpenMpi => Handle(raw),
        }
    }

    /// `library (version, ABI)`, for messages.
    pub fn describe(&self) -> String {
        format!("{} ({}, {})", self.library, self.version, self.abi.name())
    }
}

/// What the environment says about the choice of library, for messages:
/// the launcher and `MOCHI_MPI_LIBRARY`.
pub fn environment_summary(launcher: Option<&Launcher>) -> String {
    let launcher = match launcher {
        Some(l) => format!("launcher: {}", l.description),
        None => "no MPI launcher detected (no OMPI_COMM_WORLD_*, PMIX_RANK, PMI_RANK/PMI_SIZE or SLURM_PROCID)".to_owned(),
    };
    let variable = match std::env::var("MOCHI_MPI_LIBRARY") {
        Ok(v) if !v.is_empty() => format!("MOCHI_MPI_LIBRARY={v}"),
        _ => "MOCHI_MPI_LIBRARY is not set".to_owned(),
    };
    format!("{launcher}; {variable}")
}

/// Library file names of a family, in the order tried.
pub fn candidates(family: Option<Family>) -> &'static [&'static str] {
    match family {
        Some(Family::OpenMpi) => &["libmpi.so.40"],
        Some(Family::Mpich) => &["libmpich.so.12", "libmpi.so.12"],
        Some(Family::Unknown) | None => &["libmpich.so.12", "libmpi.so.12", "libmpi.so.40"],
    }
}

/// A library handle whose symbols we read: the process's global scope or a
/// library we loaded. Either is kept for the process's life (inside the
/// static [`Mpi`]): MPI cannot be unloaded.
type Lib = libloading::os::unix::Library;

/// True if the library exports `name`.
fn has(lib: &Lib, name: &str) -> bool {
    // SAFETY: only the symbol's address is looked up (as an untyped data
    // pointer that we never read through).
    unsafe { lib.get::<*mut c_void>(name.as_bytes()) }.is_ok()
}

/// The address of a symbol (a function or a data object), NULL if absent.
fn address(lib: &Lib, name: &str) -> *mut c_void {
    // SAFETY: as in `has`: the address only, never read through here.
    unsafe { lib.get::<*mut c_void>(name.as_bytes()) }.map_or(std::ptr::null_mut(), |s| s.into_raw())
}

/// The file a symbol comes from.
fn file_of(symbol: *mut c_void) -> Option<String> {
    // SAFETY: Dl_info is plain data; all-zero is a valid value to overwrite.
    let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
    // SAFETY: dladdr only reads the address and fills `info`.
    if symbol.is_null() || unsafe { libc::dladdr(symbol, &mut info) } == 0 || info.dli_fname.is_null() {
        return None;
    }
    // SAFETY: dli_fname is a NUL-terminated path owned by the loader, valid
    // while the object stays loaded (MPI never is unloaded).
    Some(unsafe { CStr::from_ptr(info.dli_fname) }.to_string_lossy().into_owned())
}

/// The library whose symbols we use and how it was chosen: the process
/// itself if it has MPI, or a library loaded now.
fn open(launcher: Option<&Launcher>) -> Result<(Lib, String), String> {
    // The process's global scope: the program, what it was linked with, and
    // libraries loaded with RTLD_GLOBAL (as dlsym(RTLD_DEFAULT) searches).
    let this = Lib::this();
    if has(&this, "MPI_Initialized") {
        return Ok((this, "the MPI already loaded in the process".to_owned()));
    }
    let (wanted, chosen_by): (Vec<String>, String) = match std::env::var("MOCHI_MPI_LIBRARY") {
        Ok(path) if !path.is_empty() => (vec![path], "MOCHI_MPI_LIBRARY".to_owned()),
        _ => {
            let family = launcher.map(|l| l.family);
            let why = match family {
                Some(Family::OpenMpi) => "the launcher's family (Open MPI)",
                Some(Family::Mpich) => "the launcher's family (MPICH ABI)",
                Some(Family::Unknown) | None => "the default list",
            };
            (candidates(family).iter().map(|s| s.to_string()).collect(), why.to_owned())
        }
    };
    let mut tried = Vec::new();
    for name in &wanted {
        if name.contains('\0') {
            tried.push(format!("{name:?}: contains a NUL byte"));
            continue;
        }
        // SAFETY: loading a library runs its initializers: that is what
        // loading MPI means, and the user or the launcher chose it.
        // RTLD_GLOBAL: MPI's own plug-ins expect its symbols to be visible.
        let lib = match unsafe { Lib::open(Some(name.as_str()), libc::RTLD_NOW | libc::RTLD_GLOBAL) } {
            Ok(lib) => lib,
            Err(e) => {
                tried.push(format!("{name}: {e}"));
                continue;
            }
        };
        if !has(&lib, "MPI_Init_thread") {
            tried.push(format!("{name}: loaded, but it is not an MPI library (no MPI_Init_thread)"));
            continue;
        }
        return Ok((lib, format!("{chosen_by} ({name})")));
    }
    Err(format!(
        "no MPI library could be loaded; tried {} ({}). Set MOCHI_MPI_LIBRARY to the libmpi of the MPI \
         that launched the job",
        tried.join("; "),
        environment_summary(launcher)
    ))
}

/// A function of the library, typed.
///
/// # Safety
/// `T` must be the function-pointer type of the MPI function `name` (the MPI
/// standard's C binding with the library's handle type).
unsafe fn sym<T: Copy>(lib: &Lib, name: &str) -> Result<T, String> {
    // SAFETY: the caller's contract: T is the symbol's type.
    match unsafe { lib.get::<T>(name.as_bytes()) } {
        Ok(f) => Ok(*f),
        Err(_) => Err(format!("the MPI library has no {name}: it is not a complete MPI library")),
    }
}

/// # Safety
/// `lib` must be an MPI library of the ABI whose handle type is `H`.
unsafe fn functions<H: RawHandle>(lib: &Lib) -> Result<Fns<H>, String> {
    // SAFETY: each type in Fns is the C binding of the function named, with
    // the ABI's handle type (the caller's contract).
    unsafe {
        Ok(Fns {
            Comm_rank: sym(lib, "MPI_Comm_rank")?,
            Comm_size: sym(lib, "MPI_Comm_size")?,
            Comm_dup: sym(lib, "MPI_Comm_dup")?,
            Comm_free: sym(lib, "MPI_Comm_free")?,
            Comm_set_errhandler: sym(lib, "MPI_Comm_set_errhandler")?,
            Comm_test_inter: sym(lib, "MPI_Comm_test_inter")?,
            Allgather: sym(lib, "MPI_Allgather")?,
            Allgatherv: sym(lib, "MPI_Allgatherv")?,
        })
    }
}

/// What differs between the ABIs: the functions that take handles, and the
/// predefined handles.
struct AbiParts {
    calls: Calls,
    comm_world: Handle,
    comm_null: Handle,
    errors_return: Handle,
    uint64_t: Handle,
    uint8_t: Handle,
}

/// # Safety
/// `lib` must be an MPI library of the ABI whose handle type is `H`.
unsafe fn abi_parts<H: RawHandle>(lib: &Lib) -> Result<AbiParts, String> {
    // SAFETY: `lib` is of the ABI of `H` (this function's contract).
    let calls = H::calls(unsafe { functions::<H>(lib) }?);
    Ok(AbiParts {
        calls,
        comm_world: H::predefined(lib, &COMM_WORLD)?,
        comm_null: H::predefined(lib, &COMM_NULL)?,
        errors_return: H::predefined(lib, &ERRORS_RETURN)?,
        uint64_t: H::predefined(lib, &UINT64_T)?,
        uint8_t: H::predefined(lib, &UINT8_T)?,
    })
}

/// Address of one of Open MPI's predefined objects (the handle itself).
fn object(lib: &Lib, name: &str) -> Result<Handle, String> {
    let p = address(lib, name);
    if p.is_null() {
        return Err(format!("the Open MPI library has no {name}"));
    }
    Ok(Handle(p as usize))
}

fn library_version(lib: &Lib) -> String {
    type GetVersion = unsafe extern "C" fn(*mut c_char, *mut c_int) -> c_int;
    // SAFETY: MPI_Get_library_version's C binding (MPI 3.0 §8.1.1).
    let Ok(get) = (unsafe { sym::<GetVersion>(lib, "MPI_Get_library_version") }) else {
        return "version unknown".into();
    };
    // MPI_MAX_LIBRARY_VERSION_STRING: 8192 in MPICH, 256 in Open MPI.
    let mut buf = vec![0u8; 8193];
    let mut len: c_int = 0;
    // SAFETY: callable before MPI_Init (MPI 3.1 §8.1.1); the buffer holds
    // MPICH's maximum and more.
    let rc = unsafe { get(buf.as_mut_ptr() as *mut c_char, &mut len) };
    if rc != 0 {
        return "version unknown".into();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    let text = String::from_utf8_lossy(&buf[..end]);
    // The first line, up to the first comma ("Open MPI v4.1.4, package: ..."),
    // with its tabs ("MPICH Version:\t4.0.2") made spaces.
    let first = text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("version unknown");
    let first = first.split(", ").next().unwrap_or(first);
    first.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn resolve(lib: Lib, chosen_by: String) -> Result<Mpi, String> {
    let library = file_of(address(&lib, "MPI_Initialized")).unwrap_or_else(|| "the MPI library".to_owned());
    let abi = if has(&lib, COMM_WORLD.open_mpi) { Abi::OpenMpi } else { Abi::Mpich };
    let AbiParts { calls, comm_world, comm_null, errors_return, uint64_t, uint8_t } = match abi {
        // SAFETY: no Open MPI objects, so an MPICH-ABI library: int handles.
        Abi::Mpich => unsafe { abi_parts::<c_int>(&lib) }?,
        // SAFETY: Open MPI, whose handles are object addresses.
        Abi::OpenMpi => unsafe { abi_parts::<Address>(&lib) }?,
    };
    // SAFETY: the types of these fields are the C bindings of the functions
    // named, which take no handles (MPI standard).
    let (initialized, finalized, init_thread, finalize, query_thread, error_string) = unsafe {
        (
            sym(&lib, "MPI_Initialized")?,
            sym(&lib, "MPI_Finalized")?,
            sym(&lib, "MPI_Init_thread")?,
            sym(&lib, "MPI_Finalize")?,
            sym(&lib, "MPI_Query_thread")?,
            sym(&lib, "MPI_Error_string")?,
        )
    };
    Ok(Mpi {
        abi,
        version: library_version(&lib),
        library,
        chosen_by,
        comm_world,
        comm_null,
        errors_return,
        uint64_t,
        uint8_t,
        Initialized: initialized,
        Finalized: finalized,
        Init_thread: init_thread,
        Finalize: finalize,
        Query_thread: query_thread,
        Error_string: error_string,
        calls,
        _lib: lib,
    })
}

/// The launcher of this process, read once.
pub fn launcher() -> Option<&'static Launcher> {
    static LAUNCHER: OnceLock<Option<Launcher>> = OnceLock::new();
    LAUNCHER.get_or_init(mpi_launcher::detect).as_ref()
}

/// The MPI library, loaded on first use.
pub fn get() -> Result<&'static Mpi, String> {
    static MPI: OnceLock<Result<Mpi, String>> = OnceLock::new();
    MPI.get_or_init(|| {
        let launcher = launcher();
        let (lib, chosen_by) = open(launcher)?;
        resolve(lib, chosen_by).map_err(|e| format!("{e} ({})", environment_summary(launcher)))
    })
    .as_ref()
    .map_err(Clone::clone)
}
