//! Which MPI launcher started this process, read from the environment the
//! launcher gives its processes (no MPI call, no library loaded): the MPI
//! bootstrap uses it to load an MPI of the launcher's family and to notice
//! an MPI that is not the launcher's (it sees a world of one process), and
//! Bedrock uses it for per-rank configs before any MPI is initialized.
//!
//! Recognised, first match wins:
//! - Open MPI's `mpirun`/`prterun`: `OMPI_COMM_WORLD_RANK` and
//!   `OMPI_COMM_WORLD_SIZE` (Open MPI family);
//! - a PMIx launcher (Open MPI's PRRTE, Slurm's `srun --mpi=pmix`):
//!   `PMIX_RANK`, the size from `SLURM_STEP_NUM_TASKS` when Slurm gives it
//!   (Open MPI family: Debian's MPICH has no PMIx client);
//! - a PMI-1/PMI-2 launcher (MPICH's Hydra `mpiexec`, Intel MPI, MVAPICH,
//!   Slurm's `srun --mpi=pmi2`): `PMI_RANK` and `PMI_SIZE` (MPICH ABI family);
//! - Slurm's `srun` without a PMI variable: `SLURM_PROCID` and
//!   `SLURM_STEP_NUM_TASKS` (family unknown: any MPI is tried).

/// The MPI family a launcher belongs to, which decides the library loaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// Open MPI's ABI (`libmpi.so.40`).
    OpenMpi,
    /// The MPICH ABI (`libmpich.so.12`, `libmpi.so.12`: MPICH, Intel MPI,
    /// MVAPICH, Cray MPICH).
    Mpich,
    /// Either.
    Unknown,
}

/// What the environment says about the launcher.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Launcher {
    /// Human-readable name with the variables that identified it, e.g.
    /// `Open MPI's mpirun (OMPI_COMM_WORLD_RANK=1, OMPI_COMM_WORLD_SIZE=4)`.
    pub description: String,
    pub family: Family,
    /// This process's rank, when the environment gives it.
    pub rank: Option<i32>,
    /// The number of processes started, when the environment gives it.
    pub size: Option<i32>,
}

/// The launcher of this process, if any.
pub fn detect() -> Option<Launcher> {
    detect_from(|k| std::env::var(k).ok())
}

/// (rank, size) when the launcher gives both.
pub fn rank_size() -> Option<(i32, i32)> {
    detect().and_then(|l| Some((l.rank?, l.size?)))
}

/// [`detect`] over any variable lookup (for tests).
pub fn detect_from(get: impl Fn(&str) -> Option<String>) -> Option<Launcher> {
    let num = |k: &str| get(k).and_then(|v| v.trim().parse::<i32>().ok()).filter(|&n| n >= 0);
    let shown = |keys: &[&str]| keys.iter().filter_map(|k| get(k).map(|v| format!("{k}={v}"))).collect::<Vec<_>>().join(", ");
    let under_slurm = get("SLURM_PROCID").is_some();
    if let (Some(rank), Some(size)) = (num("OMPI_COMM_WORLD_RANK"), num("OMPI_COMM_WORLD_SIZE")) {
        return Some(Launcher {
            description: format!("Open MPI's mpirun ({})", shown(&["OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"])),
            family: Family::OpenMpi,
            rank: Some(rank),
            size: Some(size),
        });
    }
    if let Some(rank) = num("PMIX_RANK") {
        let size = if under_slurm { num("SLURM_STEP_NUM_TASKS") } else { None };
        let who = if under_slurm { "Slurm's srun with PMIx" } else { "a PMIx launcher" };
        return Some(Launcher {
            description: format!("{who} ({})", shown(&["PMIX_RANK", "SLURM_STEP_NUM_TASKS"])),
            family: Family::OpenMpi,
            rank: Some(rank),
            size,
        });
    }
    if let (Some(rank), Some(size)) = (num("PMI_RANK"), num("PMI_SIZE")) {
        let who = if under_slurm { "Slurm's srun with PMI-2" } else { "a PMI launcher (MPICH's mpiexec/Hydra)" };
        return Some(Launcher {
            description: format!("{who} ({})", shown(&["PMI_RANK", "PMI_SIZE"])),
            family: Family::Mpich,
            rank: Some(rank),
            size: Some(size),
        });
    }
    if let (Some(rank), Some(size)) = (num("SLURM_PROCID"), num("SLURM_STEP_NUM_TASKS")) {
        return Some(Launcher {
            description: format!(
                "Slurm's srun without a PMI ({}; no PMI_RANK or PMIX_RANK)",
                shown(&["SLURM_PROCID", "SLURM_STEP_NUM_TASKS"])
            ),
            family: Family::Unknown,
            rank: Some(rank),
            size: Some(size),
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
    }

    #[test]
    fn no_launcher() {
        assert_eq!(detect_from(env(&[])), None);
        assert_eq!(detect_from(env(&[("SLURM_PROCID", "0")])), None, "a batch script is not a launcher");
        assert_eq!(detect_from(env(&[("PMI_RANK", "x"), ("PMI_SIZE", "4")])), None);
    }

    #[test]
    fn open_mpi() {
        let l = detect_from(env(&[("OMPI_COMM_WORLD_RANK", "2"), ("OMPI_COMM_WORLD_SIZE", "4"), ("PMIX_RANK", "2")]))
            .expect("launcher");
        assert_eq!((l.family, l.rank, l.size), (Family::OpenMpi, Some(2), Some(4)));
        assert!(l.description.contains("Open MPI") && l.description.contains("OMPI_COMM_WORLD_SIZE=4"), "{l:?}");
    }

    #[test]
    fn hydra_and_slurm() {
        let l = detect_from(env(&[("PMI_RANK", "1"), ("PMI_SIZE", "4"), ("PMI_FD", "6")])).expect("launcher");
        assert_eq!((l.family, l.rank, l.size), (Family::Mpich, Some(1), Some(4)));
        assert!(l.description.contains("PMI_SIZE=4"), "{l:?}");

        let l = detect_from(env(&[("SLURM_PROCID", "3"), ("SLURM_STEP_NUM_TASKS", "8"), ("PMIX_RANK", "3")])).expect("launcher");
        assert_eq!((l.family, l.rank, l.size), (Family::OpenMpi, Some(3), Some(8)));
        assert!(l.description.contains("srun with PMIx"), "{l:?}");

        let l = detect_from(env(&[("PMIX_RANK", "0")])).expect("launcher");
        assert_eq!((l.rank, l.size), (Some(0), None));

        let l = detect_from(env(&[("SLURM_PROCID", "0"), ("SLURM_STEP_NUM_TASKS", "2")])).expect("launcher");
        assert_eq!((l.family, l.size), (Family::Unknown, Some(2)));
        assert!(l.description.contains("without a PMI"), "{l:?}");
    }
}
