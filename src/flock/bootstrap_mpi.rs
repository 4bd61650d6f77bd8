//! The "mpi" bootstrap method: building an initial group view from the
//! processes of an MPI communicator (`flock_group_view_init_from_mpi`,
//! Bedrock's `"bootstrap": "mpi"` with optional `"mpi_ranks"`).
//!
//! Every participating process contributes its own (address, provider id);
//! all of them obtain the same [`GroupView`] holding every contribution.
//! Rank order does not matter: the view sorts its members.
//!
//! Exchange: one `MPI_Allgather` of a small fixed-size header per rank
//! (address length, provider id, fingerprint of the rank selection, local
//! status), then one `MPI_Allgatherv` of the address bytes. Unlike upstream
//! (fixed 256-byte buffers) addresses of any length work. Because every rank
//! always takes part in the header exchange, a rank that rejects its own
//! arguments (bad `mpi_ranks`, empty address) does not leave the others
//! blocked in a collective: every rank learns about it and every rank
//! returns an error.
//!
//! The collectives run on a private duplicate of the communicator whose
//! error handler is `MPI_ERRORS_RETURN`, so MPI failures come back as
//! [`FlockError::Mpi`] carrying `MPI_Error_string`'s text instead of
//! aborting, our messages can never match the caller's own traffic, and the
//! caller's communicator (and its error handler) is left untouched.
//!
//! Like every MPI collective, these functions must be called by all the
//! processes of the communicator, and concurrent calls on the same
//! communicator from several threads of one process must be ordered by the
//! caller.
//!
//! Without the `mpi` cargo feature the same functions exist and return
//! [`FlockError::Unsupported`], so callers need no `cfg`.

use super::{FlockError, GroupView};

/// A communicator handle of the loaded MPI, of either ABI, as a
/// pointer-sized integer: an MPICH-ABI `int` (only its low 32 bits count)
/// or the address Open MPI uses. Which one is decided at run time from the
/// library in the process (see `mpi_lib`).
pub type RawComm = usize;

/// Text of the error every function returns when the crate is built without
/// the `mpi` feature.
pub const UNSUPPORTED_MESSAGE: &str =
    "MPI bootstrap needs the `mpi` cargo feature; this build of libmochi was made without MPI support";

/// Whether this build supports the MPI bootstrap at all.
pub const fn is_supported() -> bool {
    cfg!(feature = "mpi")
}

/// Initializes MPI if nobody has yet (requesting `MPI_THREAD_MULTIPLE` and
/// accepting whatever level the library grants). Works under `mpiexec` and
/// in a plain process (MPI singleton).
///
/// If MPI was already initialized (by the application or another library)
/// nothing is done, and MPI is never finalized by us. If this call is the
/// one that initializes MPI, `MPI_Finalize` is registered to run once at
/// process exit (see the comment in the implementation for why `atexit`).
///
/// Safe to call any number of times, from any thread. Fails if MPI was
/// already finalized (it cannot be initialized twice) or if `MPI_Init_thread`
/// fails.
pub fn ensure_initialized() -> Result<(), FlockError> {
    imp::ensure_initialized()
}

/// Whether this library initialized MPI (and so will finalize it at process
/// exit). False when the application or another library initialized it.
pub fn finalizes_at_exit() -> bool {
    imp::finalizes_at_exit()
}

/// `(rank, size)` in `MPI_COMM_WORLD`, initializing MPI first if needed.
pub fn world_rank_size() -> Result<(i32, i32), FlockError> {
    imp::world_rank_size()
}

/// Collective over `MPI_COMM_WORLD` (initializing MPI first if needed):
/// every rank contributes `(self_address, provider_id)` and every rank gets
/// the same view holding all of them.
///
/// Errors: [`FlockError::InvalidArgs`] for an empty address (on every rank:
/// the others learn that one rank refused), [`FlockError::InvalidConfig`]
/// if two ranks contribute the same (address, provider id),
/// [`FlockError::Mpi`] for MPI failures.
pub fn view_from_world(self_address: &str, provider_id: u16) -> Result<GroupView, FlockError> {
    imp::view_from_world(self_address, provider_id)
}

/// Like [`view_from_world`] but over the caller's communicator (the C entry
/// point `flock_group_view_init_from_mpi(mid, provider_id, comm, view)`):
/// collective over `comm`. MPI must already be initialized (the caller owns
/// the communicator); `MPI_COMM_NULL` and intercommunicators are rejected
/// with [`FlockError::InvalidArgs`].
///
/// # Safety
///
/// `comm` must be `MPI_COMM_NULL` or a communicator handle of the MPI
/// library in the process (the one that initialized MPI) that stays valid
/// (not freed) for the duration of the call. MPICH validates handles, but
/// with libraries whose handles are pointers (Open MPI) a dangling or
/// made-up handle is undefined behaviour.
pub unsafe fn view_from_raw_comm(comm: RawComm, self_address: &str, provider_id: u16) -> Result<GroupView, FlockError> {
    // SAFETY: the same contract.
    unsafe { imp::view_from_raw_comm(comm, self_address, provider_id) }
}

/// Bedrock's `mpi_ranks`: collective over `MPI_COMM_WORLD` (every rank must
/// call it, listed or not, with the same list), initializing MPI first if
/// needed. Only the listed world ranks become members.
///
/// Listed ranks get `Ok(Some(view))`; ranks that are not listed get
/// `Ok(None)`: they are not part of the group, and handing them a view they
/// are absent from would make a provider treat them as joiners. (Upstream's
/// Bedrock module builds a sub-communicator with `MPI_Comm_create_group`,
/// which leaves non-listed ranks with `MPI_COMM_NULL` and then fails on them;
/// `None` lets the caller report a clear error or try another method.)
///
/// The list is validated on every rank before anything is exchanged: a
/// negative rank, a rank `>= size` or a rank listed twice gives
/// [`FlockError::InvalidConfig`] naming the value; an empty list is also
/// rejected. The order of the list does not matter, but all ranks must pass
/// the same set: if they do not, every rank gets
/// [`FlockError::InvalidConfig`]. Whatever a rank's local verdict, all
/// ranks still take part in the first exchange, so a rejection on some ranks
/// never leaves the others blocked.
pub fn view_from_world_ranks(self_address: &str, provider_id: u16, ranks: &[i32]) -> Result<Option<GroupView>, FlockError> {
    imp::view_from_world_ranks(self_address, provider_id, ranks)
}

/// Collective over `MPI_COMM_WORLD` (initializing MPI first if needed):
/// every rank's `self_address`, indexed by rank (what Bedrock's `name@RANK`
/// dependency locators resolve through). Same error handling as
/// [`view_from_world`].
pub fn world_addresses(self_address: &str) -> Result<Vec<String>, FlockError> {
    imp::world_addresses(self_address)
}

/// Checks an `mpi_ranks` list against a world of `size` processes: no
/// negative rank, none `>= size`, no duplicate, not empty. Does not touch
/// MPI (usable without the feature, e.g. to validate a configuration).
pub fn validate_ranks(ranks: &[i32], size: i32) -> Result<(), FlockError> {
    if ranks.is_empty() {
        return Err(FlockError::InvalidConfig("\"mpi_ranks\" is empty: at least one rank must be listed".to_owned()));
    }
    let mut seen = std::collections::HashSet::with_capacity(ranks.len());
    for &rank in ranks {
        if rank < 0 || rank >= size {
            return Err(FlockError::InvalidConfig(format!(
                "Invalid rank {rank} in \"mpi_ranks\" list (the MPI world has {size} process{}, ranks 0..{})",
                if size == 1 { "" } else { "es" },
                size.max(1) - 1
            )));
        }
        if !seen.insert(rank) {
            return Err(FlockError::InvalidConfig(format!("Rank {rank} is listed more than once in \"mpi_ranks\"")));
        }
    }
    Ok(())
}

#[cfg(feature = "mpi")]
mod imp {
    use super::{validate_ranks, RawComm};
    use crate::flock::mpi_lib::{self as ffi, Handle, Mpi};
    use crate::flock::{FlockError, GroupView};
    use std::os::raw::{c_char, c_int, c_void};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Mutex, MutexGuard, OnceLock};

    /// Order-independent fingerprint of a rank selection (`None` = everyone),
    /// compared between ranks to detect that they were given different lists.
    fn selection_fingerprint(ranks: Option<&[i32]>) -> u64 {
        match ranks {
            None => u64::MAX,
            Some(ranks) => {
                let mut sorted = ranks.to_vec();
                sorted.sort_unstable();
                // FNV-1a over the sorted values and the count.
                let values = sorted.iter().map(|&r| r as u32 as u64).chain([ranks.len() as u64]);
                let h = crate::fnv::fnv1a64(values.flat_map(u64::to_le_bytes));
                // Never equal to the `None` sentinel.
                h & !(1u64 << 63)
            }
        }
    }

    /// `MPI_SUCCESS` is 0 in every implementation (the standard requires it).
    const MPI_SUCCESS: c_int = 0;

    /// Serializes initialization between threads.
    static INIT_LOCK: Mutex<()> = Mutex::new(());
    /// Serializes our collectives when the library granted less than
    /// `MPI_THREAD_MULTIPLE` (see [`serialize_if_needed`]).
    static CALL_LOCK: Mutex<()> = Mutex::new(());
    /// Set once this module has called `MPI_Init_thread` (and registered the
    /// exit-time finalization).
    static WE_INITIALIZED: AtomicBool = AtomicBool::new(false);

    fn lock(m: &'static Mutex<()>) -> MutexGuard<'static, ()> {
        // The guarded data is `()`: a poisoned lock carries no broken state.
        m.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `MPI_Error_string` of a return code.
    fn error_string(code: c_int) -> String {
        let Ok(m) = ffi::get() else {
            return format!("MPI error code {code}");
        };
        // MPI_MAX_ERROR_STRING is 512 in MPICH and 256 in Open MPI.
        let mut buf = vec![0u8; 1024];
        let mut len: c_int = 0;
        // SAFETY: MPI_Error_string may be called at any time; the buffer is
        // larger than MPI_MAX_ERROR_STRING of both ABIs.
        let rc = unsafe { (m.Error_string)(code, buf.as_mut_ptr() as *mut c_char, &mut len) };
        if rc != MPI_SUCCESS || len <= 0 {
            return format!("MPI error code {code}");
        }
        buf.truncate((len as usize).min(buf.len()));
        let text = String::from_utf8_lossy(&buf);
        text.trim_end_matches('\0').trim_end().to_owned()
    }

    /// Maps an MPI return code to `FlockError::Mpi`.
    fn check(rc: c_int, what: &str) -> Result<(), FlockError> {
        if rc == MPI_SUCCESS {
            Ok(())
        } else {
            Err(FlockError::Mpi(format!("{what} failed: {}", error_string(rc))))
        }
    }

    fn is_initialized(m: &Mpi) -> bool {
        let mut flag: c_int = 0;
        // SAFETY: MPI_Initialized may be called at any time, from any thread.
        unsafe { (m.Initialized)(&mut flag) };
        flag != 0
    }

    fn is_finalized(m: &Mpi) -> bool {
        let mut flag: c_int = 0;
        // SAFETY: MPI_Finalized may be called at any time, from any thread.
        unsafe { (m.Finalized)(&mut flag) };
        flag != 0
    }

    /// Registered with `atexit` by the call that initialized MPI.
    ///
    /// Why `atexit` rather than a Rust value whose `Drop` finalizes (such as
    /// the `mpi` crate's `Universe`): Rust never drops `static`s, so a
    /// `Universe` kept in a static would never finalize; one kept in a
    /// thread-local is dropped when *that* thread exits (or never, for the
    /// main thread of a C or Python host), i.e. possibly while MPI is still
    /// in use elsewhere. `atexit` runs exactly once, on a normal exit
    /// (return from `main`, `exit()`, Python interpreter shutdown), before
    /// the ELF destructors of the shared libraries that were loaded before
    /// MPI was initialized (libmpi, libfabric), so MPI still has everything
    /// it needs. glibc's `atexit` is tied to the calling object
    /// (`__cxa_atexit` with this library's `__dso_handle`), so if this
    /// library were ever unloaded with `dlclose`, the handler would run then
    /// instead of jumping into unmapped code at exit.
    ///
    /// The handler finalizes only if nobody did already (an application may
    /// call `MPI_Finalize` itself even though we initialized), so MPI is
    /// finalized exactly once. It must not panic (it is `extern "C"`): it
    /// only makes two FFI calls. The MPI standard wants `MPI_Finalize` on the
    /// thread that initialized MPI; if a program initializes through us from
    /// a worker thread and exits from another, MPICH and Open MPI accept it.
    /// On `_exit`, fatal signals or `abort` nothing runs, as for any
    /// program that did not reach its own `MPI_Finalize`.
    extern "C" fn finalize_at_exit() {
        let Ok(m) = ffi::get() else { return };
        // SAFETY: MPI_Finalized may be called at any time; MPI_Finalize is
        // called only when MPI is initialized (we did it) and not finalized.
        unsafe {
            let mut finalized: c_int = 0;
            (m.Finalized)(&mut finalized);
            if finalized == 0 {
                (m.Finalize)();
            }
        }
    }

    /// The MPI library's functions (loaded on first use).
    fn mpi() -> Result<&'static Mpi, FlockError> {
        ffi::get().map_err(|e| FlockError::Mpi(format!("MPI bootstrap: {e}")))
    }

    pub(super) fn ensure_initialized() -> Result<(), FlockError> {
        let m = mpi()?;
        if is_initialized(m) {
            return if is_finalized(m) { Err(already_finalized()) } else { Ok(()) };
        }
        let _guard = lock(&INIT_LOCK);
        // Re-check under the lock: another thread (or the application) may
        // have initialized MPI meanwhile.
        if is_finalized(m) {
            return Err(already_finalized());
        }
        if is_initialized(m) {
            return Ok(());
        }
        let mut provided: c_int = 0;
        // SAFETY: MPI is neither initialized nor finalized (checked under
        // INIT_LOCK, which every initialization by this module takes); NULL
        // argc/argv are allowed by the standard.
        let rc = unsafe { (m.Init_thread)(std::ptr::null_mut(), std::ptr::null_mut(), ffi::THREAD_MULTIPLE, &mut provided) };
        check(rc, "MPI_Init_thread").map_err(|e| {
            FlockError::Mpi(format!("{e} (library {}; {})", m.describe(), ffi::environment_summary(ffi::launcher())))
        })?;
        WE_INITIALIZED.store(true, Ordering::Release);
        // SAFETY: registers a function of this library that takes no
        // argument and cannot unwind.
        if unsafe { libc::atexit(finalize_at_exit) } != 0 {
            crate::warning!("[flock] could not register MPI_Finalize to run at exit; MPI will not be finalized");
        }
        if provided != ffi::THREAD_MULTIPLE {
            crate::debug!(
                "[flock] MPI initialized with thread level {provided} (MPI_THREAD_MULTIPLE not granted); \
                 MPI bootstrap calls will be serialized"
            );
        }
        crate::debug!("[flock] MPI initialized: {}, chosen by {}", m.describe(), m.chosen_by);
        Ok(())
    }

    fn already_finalized() -> FlockError {
        FlockError::Mpi("MPI has already been finalized and cannot be initialized again".to_owned())
    }

    pub(super) fn finalizes_at_exit() -> bool {
        WE_INITIALIZED.load(Ordering::Acquire)
    }

    /// With less than `MPI_THREAD_MULTIPLE`, MPI calls from several threads
    /// must not overlap: hold a process-wide lock around ours. With
    /// `MPI_THREAD_MULTIPLE` no lock is taken, as one could deadlock: two
    /// threads running collectives on different communicators, entered in a
    /// different order on different processes.
    fn serialize_if_needed() -> Option<MutexGuard<'static, ()>> {
        let Ok(m) = ffi::get() else {
            return Some(lock(&CALL_LOCK));
        };
        let mut level: c_int = 0;
        // SAFETY: MPI is initialized (callers hold an initialized MPI);
        // MPI_Query_thread only writes `level`.
        let rc = unsafe { (m.Query_thread)(&mut level) };
        if rc == MPI_SUCCESS && level == ffi::THREAD_MULTIPLE {
            None
        } else {
            Some(lock(&CALL_LOCK))
        }
    }

    fn rank_size(m: &Mpi, comm: Handle) -> Result<(i32, i32), FlockError> {
        let (mut rank, mut size): (c_int, c_int) = (0, 0);
        // SAFETY: MPI is initialized and `comm` a live communicator of the
        // loaded library (its world, or a duplicate we own); the outputs are
        // local ints.
        check(unsafe { m.calls.comm_rank(comm, &mut rank) }, "MPI_Comm_rank")?;
        // SAFETY: as above.
        check(unsafe { m.calls.comm_size(comm, &mut size) }, "MPI_Comm_size")?;
        Ok((rank, size))
    }

    /// `MPI_COMM_WORLD`, after initializing MPI and checking that the MPI
    /// loaded is the launcher's: a launcher that started N > 1 processes
    /// and a world of another size means each process runs a different MPI
    /// than the launcher's (a world of one each), which would silently make
    /// N one-member groups.
    fn world() -> Result<(&'static Mpi, Handle), FlockError> {
        ensure_initialized()?;
        let m = mpi()?;
        static CHECKED: OnceLock<Result<(), String>> = OnceLock::new();
        let verdict = CHECKED.get_or_init(|| {
            let Some(launcher) = ffi::launcher() else { return Ok(()) };
            let Some(expected) = launcher.size else { return Ok(()) };
            let (_, size) = rank_size(m, m.comm_world).map_err(|e| e.to_string())?;
            if size == expected {
                return Ok(());
            }
            let advice = if m.chosen_by.starts_with("the MPI already loaded") {
                "Start the program with the launcher of the MPI it is linked with"
            } else {
                "Start the job with the launcher of that MPI, or set MOCHI_MPI_LIBRARY to the launcher's libmpi"
            };
            Err(format!(
                "MPI bootstrap: the launcher started {expected} processes but the MPI library loaded here sees an \
                 MPI world of {size}: it is not the launcher's MPI, or it could not reach the launcher (PMI). \
                 Library: {}, chosen by {}; {}. {advice}",
                m.describe(),
                m.chosen_by,
                ffi::environment_summary(Some(launcher))
            ))
        });
        match verdict {
            Ok(()) => Ok((m, m.comm_world)),
            Err(e) => Err(FlockError::Mpi(e.clone())),
        }
    }

    pub(super) fn world_rank_size() -> Result<(i32, i32), FlockError> {
        let (m, world) = world()?;
        rank_size(m, world)
    }

    pub(super) fn view_from_world(self_address: &str, provider_id: u16) -> Result<GroupView, FlockError> {
        let (_, world) = world()?;
        let comm = PrivateComm::dup(world)?;
        let selected = gather(&comm, self_address, provider_id, None)?;
        selected.ok_or_else(|| FlockError::Other("MPI bootstrap: calling process missing from the world view".to_owned()))
    }

    pub(super) unsafe fn view_from_raw_comm(
        comm: RawComm,
        self_address: &str,
        provider_id: u16,
    ) -> Result<GroupView, FlockError> {
        let m = mpi()?;
        if !is_initialized(m) {
            return Err(FlockError::Mpi(format!(
                "MPI is not initialized: initialize MPI before passing a communicator (the MPI in use is {})",
                m.describe()
            )));
        }
        if is_finalized(m) {
            return Err(FlockError::Mpi("MPI has already been finalized".to_owned()));
        }
        let comm = m.handle_from_raw(comm);
        if comm == m.comm_null {
            return Err(FlockError::InvalidArgs("the MPI communicator is MPI_COMM_NULL".to_owned()));
        }
        if comm.0 == 0 {
            return Err(FlockError::InvalidArgs(format!(
                "the MPI communicator is 0, which is not a communicator of {}",
                m.describe()
            )));
        }
        let mut inter: c_int = 0;
        // SAFETY: the caller guarantees `comm` is a live communicator of the
        // MPI in the process, which `m` is (already loaded wins).
        check(unsafe { m.calls.comm_test_inter(comm, &mut inter) }, "MPI_Comm_test_inter")?;
        if inter != 0 {
            return Err(FlockError::InvalidArgs(
                "an intercommunicator cannot bootstrap a group; pass an intracommunicator".to_owned(),
            ));
        }
        let private = PrivateComm::dup(comm)?;
        let selected = gather(&private, self_address, provider_id, None)?;
        selected.ok_or_else(|| FlockError::Other("MPI bootstrap: calling process missing from the view".to_owned()))
    }

    pub(super) fn view_from_world_ranks(
        self_address: &str,
        provider_id: u16,
        ranks: &[i32],
    ) -> Result<Option<GroupView>, FlockError> {
        let (_, world) = world()?;
        let comm = PrivateComm::dup(world)?;
        gather(&comm, self_address, provider_id, Some(ranks))
    }

    /// A duplicate of a communicator, with `MPI_ERRORS_RETURN`, freed on
    /// drop. Duplicating is collective over the communicator.
    struct PrivateComm {
        m: &'static Mpi,
        comm: Handle,
        _serial: Option<MutexGuard<'static, ()>>,
    }

    impl PrivateComm {
        /// `parent` must be a live communicator of the loaded MPI.
        fn dup(parent: Handle) -> Result<PrivateComm, FlockError> {
            let m = mpi()?;
            let serial = serialize_if_needed();
            let mut comm = m.comm_null;
            // SAFETY: MPI is initialized, `parent` is live (callers pass the
            // world or a communicator the C caller vouched for), `comm` is
            // written by MPI_Comm_dup.
            check(unsafe { m.calls.comm_dup(parent, &mut comm) }, "MPI_Comm_dup")?;
            let private = PrivateComm { m, comm, _serial: serial };
            check(
                // SAFETY: `private.comm` was just created by MPI_Comm_dup;
                // MPI_ERRORS_RETURN is a predefined error handler.
                unsafe { m.calls.comm_set_errhandler(private.comm, m.errors_return) },
                "MPI_Comm_set_errhandler",
            )?;
            Ok(private)
        }
    }

    impl Drop for PrivateComm {
        fn drop(&mut self) {
            // Local operation; nothing useful to do on failure.
            // SAFETY: `comm` is our own duplicate, freed exactly once here.
            unsafe { self.m.calls.comm_free(&mut self.comm) };
        }
    }

    /// Per-rank header, exchanged first.
    const HEADER_WORDS: usize = 4;
    const H_ADDR_LEN: usize = 0;
    const H_PROVIDER: usize = 1;
    const H_SELECTION: usize = 2;
    const H_STATUS: usize = 3;
    const STATUS_OK: u64 = 0;
    const STATUS_REFUSED: u64 = 1;

    /// The exchange. `ranks`: `None` = every rank is a member; `Some` = only
    /// those ranks of `comm`. Returns, on members, every member's (rank,
    /// address, provider id) in rank order, and `Ok(None)` on ranks that are
    /// not members.
    #[allow(clippy::type_complexity)]
    fn exchange(
        comm: &PrivateComm,
        self_address: &str,
        provider_id: u16,
        ranks: Option<&[i32]>,
    ) -> Result<Option<Vec<(usize, String, u16)>>, FlockError> {
        let m = comm.m;
        let comm = comm.comm;
        let (rank, size) = rank_size(m, comm)?;
        let nprocs = size as usize;

        // Local verdict on our own arguments; shared with everybody below
        // instead of returning early (which would leave the others blocked).
        let address = self_address.split('\0').next().unwrap_or("");
        let ranks_error = ranks.and_then(|list| validate_ranks(list, size).err());
        let local_error = ranks_error.or_else(|| {
            if address.is_empty() {
                Some(FlockError::InvalidArgs("the address of the calling process is empty".to_owned()))
            } else if address.len() > c_int::MAX as usize {
                Some(FlockError::InvalidArgs("the address of the calling process is too long".to_owned()))
            } else {
                None
            }
        });
        let is_member = |r: usize| ranks.is_none_or(|list| list.contains(&(r as i32)));
        let me_member = is_member(rank as usize);

        let mut header = [0u64; HEADER_WORDS];
        header[H_ADDR_LEN] = if local_error.is_none() && me_member { address.len() as u64 } else { 0 };
        header[H_PROVIDER] = provider_id as u64;
        header[H_SELECTION] = selection_fingerprint(ranks);
        header[H_STATUS] = if local_error.is_some() { STATUS_REFUSED } else { STATUS_OK };

        let mut headers = vec![0u64; HEADER_WORDS * nprocs];
        check(
            // SAFETY: `comm` is our live duplicate; the send buffer holds
            // HEADER_WORDS u64 and the receive buffer HEADER_WORDS per rank.
            unsafe {
                m.calls.allgather(
                    header.as_ptr() as *const c_void,
                    HEADER_WORDS as c_int,
                    m.uint64_t,
                    headers.as_mut_ptr() as *mut c_void,
                    HEADER_WORDS as c_int,
                    m.uint64_t,
                    comm,
                )
            },
            "MPI_Allgather",
        )?;
        let header_of = |r: usize| &headers[r * HEADER_WORDS..(r + 1) * HEADER_WORDS];

        // Same decision on every rank from here on.
        if let Some(err) = local_error {
            return Err(err);
        }
        let refused: Vec<usize> = (0..nprocs).filter(|&r| header_of(r)[H_STATUS] != STATUS_OK).collect();
        if !refused.is_empty() {
            return Err(FlockError::InvalidConfig(format!(
                "MPI bootstrap refused by rank{} {} (see the error reported there)",
                if refused.len() == 1 { "" } else { "s" },
                join(&refused)
            )));
        }
        let mine = header[H_SELECTION];
        if let Some(other) = (0..nprocs).find(|&r| header_of(r)[H_SELECTION] != mine) {
            return Err(FlockError::InvalidConfig(format!(
                "MPI bootstrap: ranks {rank} and {other} were given different \"mpi_ranks\" selections \
                 (every rank must pass the same list, or all none)"
            )));
        }

        // Variable-size exchange of the addresses (non-members send nothing).
        let mut counts = Vec::with_capacity(nprocs);
        let mut displs = Vec::with_capacity(nprocs);
        let mut total: u64 = 0;
        for r in 0..nprocs {
            let len = header_of(r)[H_ADDR_LEN];
            if total + len > c_int::MAX as u64 {
                return Err(FlockError::InvalidArgs(format!(
                    "MPI bootstrap: the addresses of the {nprocs} ranks add up to more than {} bytes",
                    c_int::MAX
                )));
            }
            displs.push(total as c_int);
            counts.push(len as c_int);
            total += len;
        }
        let mut bytes = vec![0u8; total as usize];
        let send: &[u8] = if me_member { address.as_bytes() } else { &[] };
        check(
            // SAFETY: `comm` is our live duplicate; `counts`/`displs` have
            // one entry per rank, describe disjoint ranges of `bytes` (sized
            // to their sum), and every rank sends the length it announced.
            unsafe {
                m.calls.allgatherv(
                    send.as_ptr() as *const c_void,
                    send.len() as c_int,
                    m.uint8_t,
                    bytes.as_mut_ptr() as *mut c_void,
                    counts.as_ptr(),
                    displs.as_ptr(),
                    m.uint8_t,
                    comm,
                )
            },
            "MPI_Allgatherv",
        )?;

        if !me_member {
            return Ok(None);
        }
        let mut members = Vec::new();
        for r in (0..nprocs).filter(|&r| is_member(r)) {
            let start = displs[r] as usize;
            let end = start + counts[r] as usize;
            let addr = std::str::from_utf8(&bytes[start..end])
                .map_err(|_| FlockError::Mpi(format!("MPI bootstrap: rank {r} sent an address that is not valid UTF-8")))?;
            members.push((r, addr.to_owned(), header_of(r)[H_PROVIDER] as u16));
        }
        Ok(Some(members))
    }

    /// The bootstrap: the exchange, then one view of every contribution.
    fn gather(
        comm: &PrivateComm,
        self_address: &str,
        provider_id: u16,
        ranks: Option<&[i32]>,
    ) -> Result<Option<GroupView>, FlockError> {
        let Some(members) = exchange(comm, self_address, provider_id, ranks)? else {
            return Ok(None);
        };
        let mut view = GroupView::new();
        let mut owner: std::collections::HashMap<(&str, u16), usize> = std::collections::HashMap::new();
        for (r, addr, pid) in &members {
            if let Some(first) = owner.insert((addr.as_str(), *pid), *r) {
                return Err(FlockError::InvalidConfig(format!(
                    "MPI bootstrap: ranks {first} and {r} both contribute member {addr} with provider id {pid}"
                )));
            }
            view.add_member(addr, *pid);
        }
        Ok(Some(view))
    }

    pub(super) fn world_addresses(self_address: &str) -> Result<Vec<String>, FlockError> {
        let (_, world) = world()?;
        let comm = PrivateComm::dup(world)?;
        let members = exchange(&comm, self_address, 0, None)?.unwrap_or_default();
        Ok(members.into_iter().map(|(_, addr, _)| addr).collect())
    }

    fn join(ranks: &[usize]) -> String {
        ranks.iter().map(|r| r.to_string()).collect::<Vec<_>>().join(", ")
    }
}

#[cfg(not(feature = "mpi"))]
mod imp {
    use super::{RawComm, UNSUPPORTED_MESSAGE};
    use crate::flock::{FlockError, GroupView};

    fn unsupported() -> FlockError {
        FlockError::Unsupported(UNSUPPORTED_MESSAGE.to_owned())
    }

    pub(super) fn ensure_initialized() -> Result<(), FlockError> {
        Err(unsupported())
    }

    pub(super) fn finalizes_at_exit() -> bool {
        false
    }

    pub(super) fn world_rank_size() -> Result<(i32, i32), FlockError> {
        Err(unsupported())
    }

    pub(super) fn view_from_world(_: &str, _: u16) -> Result<GroupView, FlockError> {
        Err(unsupported())
    }

    pub(super) unsafe fn view_from_raw_comm(_: RawComm, _: &str, _: u16) -> Result<GroupView, FlockError> {
        Err(unsupported())
    }

    pub(super) fn view_from_world_ranks(_: &str, _: u16, _: &[i32]) -> Result<Option<GroupView>, FlockError> {
        Err(unsupported())
    }

    pub(super) fn world_addresses(_: &str) -> Result<Vec<String>, FlockError> {
        Err(unsupported())
    }
}
