//! MPI bootstrap of Flock views (`mochi::flock::bootstrap_mpi`).
//!
//! MPI programs cannot be exercised inside the test harness (one MPI
//! initialization per process, collectives need several processes), so
//! these tests run the example `mpi_view` — under `mpiexec -n 4` and alone
//! (MPI singleton) — and check what every rank printed. They build nothing:
//! the example must already be in `target/<profile>/examples/` (plain
//! `cargo test` builds examples; with `--test mpi_bootstrap` run
//! `cargo build --example mpi_view` first).
//!
//! The example links the MPI the `mpi` crate was built against (whatever
//! `mpicc` is: MPICH or Open MPI), so each job uses that MPI's own launcher,
//! by its explicit name: `mpiexec.mpich`, or `mpirun.openmpi
//! --allow-run-as-root --oversubscribe` (the plain `mpiexec` is whichever
//! MPI was installed last). MPIEXEC overrides the launcher. One test starts
//! the example under the *other* MPI's launcher and expects the mismatch
//! error. CI installs both MPIs; a missing launcher is a test failure, not a
//! skip.

use mochi::flock::bootstrap_mpi::validate_ranks;
use mochi::flock::FlockError;

#[test]
fn rank_lists_are_validated_without_mpi() {
    assert!(validate_ranks(&[0, 2], 4).is_ok());
    assert!(validate_ranks(&[3, 0, 1, 2], 4).is_ok());
    let message = |r: Result<(), FlockError>| match r {
        Err(e @ FlockError::InvalidConfig(_)) => {
            assert_eq!(e.code(), 6, "FLOCK_ERR_INVALID_CONFIG");
            e.to_string()
        }
        other => panic!("expected InvalidConfig, got {other:?}"),
    };
    assert!(message(validate_ranks(&[0, 4], 4)).contains("Invalid rank 4"));
    assert!(message(validate_ranks(&[-1, 0], 4)).contains("Invalid rank -1"));
    assert!(message(validate_ranks(&[2, 1, 2], 4)).contains("Rank 2 is listed more than once"));
    assert!(message(validate_ranks(&[], 4)).contains("empty"));
}

#[cfg(not(feature = "mpi"))]
#[test]
fn without_the_feature_every_entry_point_is_unsupported() {
    use mochi::flock::bootstrap_mpi as bmpi;
    let check = |e: FlockError| {
        assert_eq!(e.code(), 10, "FLOCK_ERR_OP_UNSUPPORTED: {e}");
        assert!(e.to_string().contains("`mpi`"), "{e}");
    };
    check(bmpi::ensure_initialized().unwrap_err());
    check(bmpi::world_rank_size().unwrap_err());
    check(bmpi::view_from_world("na+sm://1-0", 1).unwrap_err());
    check(bmpi::view_from_world_ranks("na+sm://1-0", 1, &[0]).unwrap_err());
    // SAFETY: 0 is MPI_COMM_NULL for MPICH's ABI; without MPI nothing is read.
    check(unsafe { bmpi::view_from_raw_comm(0, "na+sm://1-0", 1) }.unwrap_err());
    assert!(!bmpi::finalizes_at_exit());
}

#[cfg(feature = "mpi")]
mod with_mpi {
    use mochi::flock::view::hash_member;
    use std::io::Read;
    use std::path::PathBuf;
    use std::process::{Command, Stdio};
    use std::sync::Mutex;
    use std::time::{Duration, Instant};

    /// MPI jobs spin while waiting; on a small machine running several at
    /// once only slows them all down. One at a time.
    static ONE_JOB_AT_A_TIME: Mutex<()> = Mutex::new(());

    const TIMEOUT: Duration = Duration::from_secs(120);

    /// `target/<profile>/examples/mpi_view`, found from this test binary
    /// (`target/<profile>/deps/mpi_bootstrap-<hash>`).
    fn example() -> PathBuf {
        let exe = std::env::current_exe().expect("current_exe");
        let deps = exe.parent().expect("test binary has a directory");
        let profile_dir =
            if deps.file_name().is_some_and(|n| n == "deps") { deps.parent().expect("deps has a parent") } else { deps };
        let path = profile_dir.join("examples").join("mpi_view");
        assert!(
            path.is_file(),
            "{} does not exist: build the example first (`cargo build --example mpi_view` with the same \
             profile and target dir; plain `cargo test` builds it, `cargo test --test mpi_bootstrap` does not)",
            path.display()
        );
        path
    }

    /// The two MPI families, each with its launcher.
    #[derive(Clone, Copy, Debug, PartialEq)]
    enum Family {
        Mpich,
        OpenMpi,
    }

    impl Family {
        fn other(self) -> Family {
            match self {
                Family::Mpich => Family::OpenMpi,
                Family::OpenMpi => Family::Mpich,
            }
        }

        /// The launcher by its explicit name, with the options it needs here.
        fn launcher(self) -> Command {
            match self {
                Family::Mpich => Command::new("mpiexec.mpich"),
                Family::OpenMpi => {
                    let mut cmd = Command::new("mpirun.openmpi");
                    // Refuses root and more processes than cores otherwise.
                    cmd.args(["--allow-run-as-root", "--oversubscribe"]);
                    cmd
                }
            }
        }
    }

    /// The MPI the example is linked with, from the NEEDED entries of its
    /// dynamic section (`libmpi.so.40` is Open MPI's; anything else the
    /// MPICH ABI). Not a search of the whole file: libmochi's code holds
    /// both names.
    fn linked_family() -> Family {
        let out = Command::new("readelf")
            .arg("-d")
            .arg(example())
            .output()
            .expect("readelf (binutils) must be installed to read the example's NEEDED entries");
        assert!(out.status.success(), "readelf -d failed: {}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8_lossy(&out.stdout);
        if text.lines().any(|l| l.contains("(NEEDED)") && l.contains("[libmpi.so.40]")) {
            Family::OpenMpi
        } else {
            Family::Mpich
        }
    }

    /// The launcher of `family`, or the one MPIEXEC names.
    fn launcher_for(family: Family) -> Command {
        match std::env::var("MPIEXEC") {
            Ok(custom) if !custom.is_empty() => {
                let mut cmd = Command::new(&custom);
                let banner = Command::new(&custom)
                    .arg("--version")
                    .output()
                    .map(|o| String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr))
                    .unwrap_or_default();
                if banner.contains("Open MPI") || banner.contains("OpenRTE") {
                    cmd.arg("--oversubscribe").env("OMPI_ALLOW_RUN_AS_ROOT", "1").env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1");
                }
                cmd
            }
            _ => family.launcher(),
        }
    }

    struct Run {
        status: std::process::ExitStatus,
        pid: u32,
        stdout: String,
        stderr: String,
    }

    impl Run {
        fn describe(&self) -> String {
            format!("status {:?}\n--- stdout ---\n{}--- stderr ---\n{}", self.status, self.stdout, self.stderr)
        }
    }

    /// Runs a command with a deadline, capturing its output.
    fn run(mut cmd: Command) -> Run {
        let _one = ONE_JOB_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        // A singleton must not believe it was started by a launcher.
        for var in [
            "PMI_RANK",
            "PMI_SIZE",
            "PMI_FD",
            "PMI_PORT",
            "PMI_ID",
            "PMIX_RANK",
            "MPI_LOCALNRANKS",
            "OMPI_COMM_WORLD_RANK",
            "OMPI_COMM_WORLD_SIZE",
            "SLURM_PROCID",
            "MOCHI_MPI_LIBRARY",
        ] {
            cmd.env_remove(var);
        }
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let program = format!("{:?}", cmd.get_program());
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
                "{program} not found: the MPI bootstrap tests need both MPIs' launchers on PATH \
                 (Debian/Ubuntu: apt-get install mpich libmpich-dev openmpi-bin libopenmpi-dev, as \
                 scripts/install-deps.sh does; or set MPIEXEC)"
            ),
            Err(e) => panic!("could not start {program}: {e}"),
        };
        let pid = child.id();
        let mut out_pipe = child.stdout.take().expect("stdout piped");
        let mut err_pipe = child.stderr.take().expect("stderr piped");
        let out = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = out_pipe.read_to_string(&mut s);
            s
        });
        let err = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = err_pipe.read_to_string(&mut s);
            s
        });
        let deadline = Instant::now() + TIMEOUT;
        let status = loop {
            match child.try_wait().expect("wait for child") {
                Some(status) => break status,
                None if Instant::now() >= deadline => {
                    // SIGTERM first: mpiexec forwards it to its processes.
                    // SAFETY: kill has no memory-safety preconditions; pid is
                    // our own child, not yet reaped.
                    unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
                    std::thread::sleep(Duration::from_secs(2));
                    let _ = child.kill();
                    let status = child.wait().expect("wait for killed child");
                    let stdout = out.join().unwrap_or_default();
                    let stderr = err.join().unwrap_or_default();
                    panic!(
                        "{program} did not finish within {TIMEOUT:?} (deadlock?); killed.\n{}",
                        Run { status, pid, stdout, stderr }.describe()
                    );
                }
                None => std::thread::sleep(Duration::from_millis(20)),
            }
        };
        Run { status, pid, stdout: out.join().unwrap_or_default(), stderr: err.join().unwrap_or_default() }
    }

    fn launch(n: usize, args: &[&str]) -> Run {
        launch_with(launcher_for(linked_family()), n, args)
    }

    /// Open MPI processes started without their own launcher each start as
    /// a singleton, and two starting at once race to create Open MPI's
    /// per-user session directory (`<tmp>/ompi.<host>.<uid>`): one may fail
    /// with "mkdir ... File exists" (Open MPI 4.1) before our code runs.
    /// Made beforehand, neither creates it.
    fn precreate_openmpi_session_dir() {
        use std::os::unix::fs::DirBuilderExt;
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
        let host = host.trim().split('.').next().unwrap_or_default().to_string();
        // SAFETY: getuid has no preconditions and cannot fail.
        let uid = unsafe { libc::getuid() };
        let dir = std::env::temp_dir().join(format!("ompi.{host}.{uid}"));
        let _ = std::fs::DirBuilder::new().mode(0o700).create(dir);
    }

    fn launch_with(mut cmd: Command, n: usize, args: &[&str]) -> Run {
        cmd.arg("-n").arg(n.to_string()).arg(example()).args(args);
        run(cmd)
    }

    fn singleton(args: &[&str]) -> Run {
        let mut cmd = Command::new(example());
        cmd.args(args);
        run(cmd)
    }

    /// One `rank size digest member_count` line per rank, sorted by rank.
    /// `digest` is None on ranks that are not members.
    fn view_lines(r: &Run, n: usize) -> Vec<(i32, i32, Option<u64>, usize)> {
        let mut lines: Vec<_> = r
            .stdout
            .lines()
            .map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                assert_eq!(f.len(), 4, "unexpected line {l:?}\n{}", r.describe());
                (
                    f[0].parse::<i32>().unwrap_or_else(|_| panic!("bad rank in {l:?}")),
                    f[1].parse::<i32>().unwrap_or_else(|_| panic!("bad size in {l:?}")),
                    if f[2] == "-" { None } else { Some(f[2].parse::<u64>().unwrap_or_else(|_| panic!("bad digest in {l:?}"))) },
                    f[3].parse::<usize>().unwrap_or_else(|_| panic!("bad count in {l:?}")),
                )
            })
            .collect();
        lines.sort();
        let ranks: Vec<i32> = lines.iter().map(|l| l.0).collect();
        assert_eq!(ranks, (0..n as i32).collect::<Vec<_>>(), "one line per rank\n{}", r.describe());
        for l in &lines {
            assert_eq!(l.1, n as i32, "world size\n{}", r.describe());
        }
        lines
    }

    /// `ERROR rank code message` lines, sorted by rank.
    fn error_lines(r: &Run, n: usize) -> Vec<(i32, i32, String)> {
        let mut lines: Vec<_> = r
            .stdout
            .lines()
            .filter_map(|l| l.strip_prefix("ERROR "))
            .map(|l| {
                let mut f = l.splitn(3, ' ');
                let rank = f.next().and_then(|s| s.parse().ok()).expect("rank");
                let code = f.next().and_then(|s| s.parse().ok()).expect("code");
                (rank, code, f.next().unwrap_or("").to_owned())
            })
            .collect();
        lines.sort();
        assert_eq!(lines.len(), n, "one ERROR line per rank\n{}", r.describe());
        lines
    }

    fn times(r: &Run) -> Vec<u64> {
        r.stderr.lines().filter_map(|l| l.strip_prefix("TIME ")?.split(' ').nth(1)?.parse().ok()).collect()
    }

    #[test]
    fn world_of_four_ranks_agrees_on_one_view() {
        let r = launch(4, &[]);
        assert!(r.status.success(), "{}", r.describe());
        let lines = view_lines(&r, 4);
        let digest = lines[0].2.expect("rank 0 is a member");
        for l in &lines {
            assert_eq!(l.2, Some(digest), "digests differ\n{}", r.describe());
            assert_eq!(l.3, 4, "member count\n{}", r.describe());
        }
        eprintln!("{:?} launcher, 4 ranks: bootstrap times (µs) {:?}", linked_family(), times(&r));
    }

    #[test]
    fn singleton_gets_a_view_of_itself() {
        let r = singleton(&[]);
        assert!(r.status.success(), "{}", r.describe());
        let lines = view_lines(&r, 1);
        assert_eq!(lines[0].3, 1, "one member\n{}", r.describe());
        // The example's address is na+sm://<pid>-0 and its provider id 42 + rank.
        let expected = hash_member(42, &format!("na+sm://{}-0", r.pid));
        assert_eq!(lines[0].2, Some(expected), "digest of the single member\n{}", r.describe());
    }

    #[test]
    fn singleton_with_a_rank_list() {
        let r = singleton(&["--ranks", "0"]);
        assert!(r.status.success(), "{}", r.describe());
        assert_eq!(view_lines(&r, 1)[0].3, 1);

        let r = singleton(&["--ranks", "1"]);
        assert_eq!(r.status.code(), Some(3), "{}", r.describe());
        let e = error_lines(&r, 1);
        assert_eq!(e[0].1, 6, "FLOCK_ERR_INVALID_CONFIG\n{}", r.describe());
        assert!(e[0].2.contains("Invalid rank 1"), "{}", r.describe());
    }

    #[test]
    fn mpi_ranks_0_and_2_of_four() {
        let r = launch(4, &["--ranks", "0,2"]);
        assert!(r.status.success(), "{}", r.describe());
        let lines = view_lines(&r, 4);
        let digest = lines[0].2.expect("rank 0 is listed");
        assert_eq!(lines[0].3, 2);
        assert_eq!((lines[2].2, lines[2].3), (Some(digest), 2), "rank 2\n{}", r.describe());
        for rank in [1, 3] {
            assert_eq!((lines[rank].2, lines[rank].3), (None, 0), "rank {rank} is not listed\n{}", r.describe());
        }
    }

    #[test]
    fn bad_mpi_ranks_fail_on_every_rank() {
        for (list, needle) in
            [("0,4", "Invalid rank 4"), ("-1,2", "Invalid rank -1"), ("1,3,1", "Rank 1 is listed more than once")]
        {
            let r = launch(4, &["--ranks", list]);
            assert_eq!(r.status.code(), Some(3), "list {list}\n{}", r.describe());
            for (rank, code, message) in error_lines(&r, 4) {
                assert_eq!(code, 6, "rank {rank}, list {list}: FLOCK_ERR_INVALID_CONFIG\n{}", r.describe());
                assert!(message.contains(needle), "rank {rank}, list {list}: {message}");
            }
        }
    }

    #[test]
    fn different_lists_on_different_ranks_fail_everywhere_without_hanging() {
        let r = launch(4, &["--mismatch"]);
        assert_eq!(r.status.code(), Some(3), "{}", r.describe());
        for (rank, code, message) in error_lines(&r, 4) {
            assert_eq!(code, 6, "rank {rank}\n{}", r.describe());
            assert!(message.contains("different \"mpi_ranks\""), "rank {rank}: {message}");
        }
    }

    #[test]
    fn a_rank_refusing_its_arguments_fails_the_others_without_hanging() {
        let r = launch(4, &["--empty-address", "1"]);
        assert_eq!(r.status.code(), Some(3), "{}", r.describe());
        for (rank, code, message) in error_lines(&r, 4) {
            if rank == 1 {
                assert_eq!(code, 2, "FLOCK_ERR_INVALID_ARGS on the refusing rank\n{}", r.describe());
                assert!(message.contains("address"), "rank 1: {message}");
            } else {
                assert_eq!(code, 6, "rank {rank}\n{}", r.describe());
                assert!(message.contains("refused by rank 1"), "rank {rank}: {message}");
            }
        }
    }

    #[test]
    fn user_communicator_split_even_odd() {
        let r = launch(4, &["--split"]);
        assert!(r.status.success(), "{}", r.describe());
        let lines = view_lines(&r, 4);
        for l in &lines {
            assert_eq!(l.3, 2, "half of the world\n{}", r.describe());
        }
        assert_eq!(lines[0].2, lines[2].2, "even ranks\n{}", r.describe());
        assert_eq!(lines[1].2, lines[3].2, "odd ranks\n{}", r.describe());
        assert_ne!(lines[0].2, lines[1].2, "the two halves are different groups\n{}", r.describe());
    }

    #[test]
    fn application_initialized_mpi_is_left_to_the_application() {
        // The example checks finalizes_at_exit() is false, uses MPI after the
        // bootstrap and finalizes it itself; a second MPI_Finalize (ours)
        // would make MPICH complain or crash.
        let r = launch(4, &["--user-init"]);
        assert!(r.status.success(), "{}", r.describe());
        let lines = view_lines(&r, 4);
        assert!(lines.iter().all(|l| l.2 == lines[0].2 && l.3 == 4), "{}", r.describe());

        let r = launch(4, &["--user-init", "--split"]);
        assert!(r.status.success(), "{}", r.describe());
        view_lines(&r, 4);

        let r = singleton(&["--user-init"]);
        assert!(r.status.success(), "{}", r.describe());
        assert_eq!(view_lines(&r, 1)[0].3, 1);
    }

    #[test]
    fn concurrent_initialization_from_threads() {
        let r = launch(4, &["--threads", "8"]);
        assert!(r.status.success(), "{}", r.describe());
        let lines = view_lines(&r, 4);
        assert!(lines.iter().all(|l| l.2 == lines[0].2 && l.3 == 4), "{}", r.describe());

        let r = singleton(&["--threads", "8"]);
        assert!(r.status.success(), "{}", r.describe());
        assert_eq!(view_lines(&r, 1)[0].3, 1);
    }

    #[test]
    fn the_other_mpis_launcher_is_an_error_on_every_rank() {
        // The example has its MPI linked in (the library uses the MPI in the
        // process); the other family's launcher cannot give it a world of 2:
        // every rank sees a world of 1, which must be an error naming the
        // launcher, the library and MOCHI_MPI_LIBRARY, not two 1-member views.
        let family = linked_family();
        let other = family.other();
        if family == Family::OpenMpi {
            precreate_openmpi_session_dir();
        }
        let r = launch_with(other.launcher(), 2, &[]);
        assert!(!r.status.success(), "{}", r.describe());
        let errors = error_lines(&r, 2);
        let (size_var, library) = match other {
            Family::OpenMpi => ("OMPI_COMM_WORLD_SIZE=2", "libmpich.so.12"),
            Family::Mpich => ("PMI_SIZE=2", "libmpi.so.40"),
        };
        for (rank, code, message) in errors {
            assert_eq!(code, 9, "FLOCK_ERR_FROM_MPI on rank {rank}\n{}", r.describe());
            for needle in ["launcher started 2 processes", "world of 1", size_var, library, "MOCHI_MPI_LIBRARY"] {
                assert!(message.contains(needle), "{needle:?} missing from {message:?}");
            }
        }
    }
}
