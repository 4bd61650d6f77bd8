//! Exercises the MPI bootstrap (`mochi::flock::bootstrap_mpi`) without an
//! engine: each rank uses a made-up address `na+sm://<pid>-0`.
//!
//! Run as `mpiexec -n 4 target/<profile>/examples/mpi_view [mode]` or
//! directly (MPI singleton). Modes:
//!   (none)              view_from_world, provider id 42 + rank
//!   --ranks 0,2         view_from_world_ranks with that list
//!   --mismatch          rank 0 passes [0,1], the others [0,2] (expects an error on every rank)
//!   --split             view_from_raw_comm on MPI_COMM_WORLD split in even/odd ranks
//!   --user-init         the program initializes MPI itself (the library must not finalize it)
//!   --threads N         calls ensure_initialized from N threads at once first
//!   --empty-address R   rank R passes an empty address (expects an error on every rank)
//!
//! Every rank prints one line `rank size digest member_count` on stdout
//! (digest `-` and count 0 on ranks that are not members), then all ranks
//! compare their results; any mismatch exits with status 1. A bootstrap
//! error prints `ERROR rank flock_code message` and exits with status 3.
//! Timing of the bootstrap call goes to stderr as `TIME rank microseconds`.

#[cfg(feature = "mpi")]
fn main() {
    std::process::exit(with_mpi::run());
}

#[cfg(not(feature = "mpi"))]
fn main() {
    match mochi::flock::bootstrap_mpi::view_from_world("na+sm://0-0", 0) {
        Err(e) => {
            eprintln!("mpi_view: built without the `mpi` feature: {e}");
            std::process::exit(4);
        }
        Ok(_) => {
            eprintln!("mpi_view: unexpected success without the `mpi` feature");
            std::process::exit(1);
        }
    }
}

#[cfg(feature = "mpi")]
mod with_mpi {
    use mochi::flock::bootstrap_mpi as bmpi;
    use mochi::flock::{FlockError, GroupView};
    use mpi::topology::{Color, Communicator, SimpleCommunicator};
    use mpi::traits::{AsRaw, CommunicatorCollectives};
    use std::time::Instant;

    struct Args {
        ranks: Option<Vec<i32>>,
        mismatch: bool,
        split: bool,
        user_init: bool,
        threads: usize,
        empty_address_rank: Option<i32>,
    }

    fn parse_args() -> Result<Args, String> {
        let mut args =
            Args { ranks: None, mismatch: false, split: false, user_init: false, threads: 0, empty_address_rank: None };
        let mut it = std::env::args().skip(1);
        while let Some(a) = it.next() {
            match a.as_str() {
                "--ranks" => {
                    let list = it.next().ok_or("--ranks needs a list such as 0,2")?;
                    let ranks = list
                        .split(',')
                        .filter(|s| !s.is_empty())
                        .map(|s| s.trim().parse::<i32>().map_err(|e| format!("bad rank {s:?}: {e}")))
                        .collect::<Result<Vec<_>, _>>()?;
                    args.ranks = Some(ranks);
                }
                "--mismatch" => args.mismatch = true,
                "--split" => args.split = true,
                "--user-init" => args.user_init = true,
                "--threads" => {
                    let n = it.next().ok_or("--threads needs a number")?;
                    args.threads = n.parse().map_err(|e| format!("bad thread count {n:?}: {e}"))?;
                }
                "--empty-address" => {
                    let r = it.next().ok_or("--empty-address needs a rank")?;
                    args.empty_address_rank = Some(r.parse().map_err(|e| format!("bad rank {r:?}: {e}"))?);
                }
                other => return Err(format!("unknown argument {other:?}")),
            }
        }
        Ok(args)
    }

    /// Writes one whole line with a single `write` call: under `mpiexec`
    /// the outputs of all ranks share one stream, and a line written piece
    /// by piece (as `eprintln!` does on unbuffered stderr) can be cut by
    /// another rank's output.
    fn line(to_stderr: bool, text: String) {
        use std::io::Write;
        let text = text + "\n";
        let _ = if to_stderr {
            std::io::stderr().lock().write_all(text.as_bytes())
        } else {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes()).and_then(|_| out.flush())
        };
    }

    /// `println!` / `eprintln!` through [`line`].
    macro_rules! out {
        ($($arg:tt)*) => { line(false, format!($($arg)*)) };
    }
    macro_rules! err {
        ($($arg:tt)*) => { line(true, format!($($arg)*)) };
    }

    fn fail(rank: i32, e: &FlockError) -> i32 {
        out!("ERROR {rank} {} {e}", e.code());
        3
    }

    pub fn run() -> i32 {
        let args = match parse_args() {
            Ok(a) => a,
            Err(e) => {
                err!("mpi_view: {e}");
                return 2;
            }
        };

        // The application's own MPI, kept alive until the end of `run`.
        let universe = if args.user_init {
            match mpi::initialize_with_threading(mpi::Threading::Multiple) {
                Some((u, _)) => Some(u),
                None => {
                    err!("mpi_view: MPI was already initialized");
                    return 2;
                }
            }
        } else {
            None
        };

        if args.threads > 0 {
            let handles: Vec<_> = (0..args.threads).map(|_| std::thread::spawn(bmpi::ensure_initialized)).collect();
            for h in handles {
                match h.join() {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => return fail(-1, &e),
                    Err(_) => {
                        err!("mpi_view: a thread panicked");
                        return 1;
                    }
                }
            }
        }

        let (rank, size) = match bmpi::world_rank_size() {
            Ok(rs) => rs,
            Err(e) => return fail(-1, &e),
        };
        if args.user_init == bmpi::finalizes_at_exit() {
            err!(
                "mpi_view: rank {rank}: finalizes_at_exit() = {} but the program {} MPI itself",
                bmpi::finalizes_at_exit(),
                if args.user_init { "initialized" } else { "did not initialize" }
            );
            return 1;
        }
        let address =
            if args.empty_address_rank == Some(rank) { String::new() } else { format!("na+sm://{}-0", std::process::id()) };
        let provider_id = 42 + rank as u16;
        let world = SimpleCommunicator::world();

        // The communicator the view is built over, and which ranks of the
        // world are expected in it.
        let split_comm = if args.split { world.split_by_color(Color::with_value(rank % 2)) } else { None };
        let ranks = if args.mismatch { Some(if rank == 0 { vec![0, 1] } else { vec![0, 2] }) } else { args.ranks.clone() };

        let start = Instant::now();
        let result: Result<Option<GroupView>, FlockError> = if let Some(comm) = &split_comm {
            // SAFETY: a live intracommunicator created just above.
            unsafe { bmpi::view_from_raw_comm(comm.as_raw().0, &address, provider_id) }.map(Some)
        } else if let Some(list) = &ranks {
            bmpi::view_from_world_ranks(&address, provider_id, list)
        } else {
            bmpi::view_from_world(&address, provider_id).map(Some)
        };
        let elapsed = start.elapsed();
        err!("TIME {rank} {}", elapsed.as_micros());
        let view = match result {
            Ok(v) => v,
            Err(e) => return fail(rank, &e),
        };

        match &view {
            Some(v) => out!("{rank} {size} {} {}", v.digest(), v.member_count()),
            None => out!("{rank} {size} - 0"),
        }

        // Local checks.
        let mut ok = true;
        let expected_members = if let Some(comm) = &split_comm {
            comm.size() as usize
        } else if let Some(list) = &ranks {
            if list.contains(&rank) {
                list.len()
            } else {
                0
            }
        } else {
            size as usize
        };
        match &view {
            Some(v) => {
                if !v.contains_member(&address, provider_id) {
                    err!("mpi_view: rank {rank}: own member missing from the view");
                    ok = false;
                }
                if v.member_count() != expected_members {
                    err!("mpi_view: rank {rank}: {} members, expected {expected_members}", v.member_count());
                    ok = false;
                }
                if v.compute_digest() != v.digest() {
                    err!("mpi_view: rank {rank}: digest inconsistent with content");
                    ok = false;
                }
            }
            None => {
                if expected_members != 0 {
                    err!("mpi_view: rank {rank}: not a member but should be");
                    ok = false;
                }
            }
        }

        // Global check: every member of the same group has the same digest
        // and count. Gathered over the world so every rank decides alike.
        let color = split_comm.as_ref().map_or(0, |_| (rank % 2) as u64);
        let mine: [u64; 5] = match &view {
            Some(v) => [1, color, v.digest(), v.member_count() as u64, ok as u64],
            None => [0, color, 0, 0, ok as u64],
        };
        let mut all = vec![0u64; 5 * size as usize];
        world.all_gather_into(&mine[..], &mut all[..]);
        let mut consistent = true;
        for r in 0..size as usize {
            let theirs = &all[5 * r..5 * r + 5];
            if theirs[4] == 0 {
                consistent = false;
            }
            if theirs[0] == 1 && mine[0] == 1 && theirs[1] == mine[1] && (theirs[2], theirs[3]) != (mine[2], mine[3]) {
                if rank == 0 || r == 0 {
                    err!(
                        "mpi_view: rank {rank} has digest {} / {} members, rank {r} has {} / {}",
                        mine[2],
                        mine[3],
                        theirs[2],
                        theirs[3]
                    );
                }
                consistent = false;
            }
        }

        // MPI must still be usable whoever initialized it.
        world.barrier();
        drop(split_comm);
        drop(universe);
        if consistent {
            0
        } else {
            1
        }
    }
}
