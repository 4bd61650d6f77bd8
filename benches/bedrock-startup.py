#!/usr/bin/env python3
"""Bedrock start-up benchmark (issue: daemon launch -> group file written;
mpiexec.mpich -n 4 -> complete group file; RSS of an idle daemon).

Any program linked with Debian's libfabric 1.17 pays ~200 ms before main()
(libpsm2/libinfinipath load-time timer calibration), so times are also
reported as overhead above a floor measured in the same run: an empty C
program linked with -lfabric for the single daemon, and for mpiexec -n 4 a C
program linked with -lfabric that does what the mpi bootstrap cannot avoid
(MPI_Init, one MPI_Allgather, MPI_Finalize).

Usage: python3 benches/bedrock-startup.py [PREFIX_OR_TARGET_DIR] (default target/release)
"""
import json, os, subprocess, sys, tempfile, time, statistics

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
bindir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "target", "release")
if os.path.isdir(os.path.join(bindir, "bin")):
    bindir = os.path.join(bindir, "bin")
bedrock = os.path.join(bindir, "bedrock")
shutdown = os.path.join(bindir, "bedrock-shutdown")
RUNS = int(os.environ.get("RUNS", "10"))
work = tempfile.mkdtemp(prefix="bedrock-bench-")

def wait_file(path, members, timeout=30.0):
    end = time.perf_counter() + timeout
    while time.perf_counter() < end:
        try:
            with open(path) as f:
                v = json.load(f)
            if len(v.get("members", [])) >= members:
                return time.perf_counter()
        except (OSError, ValueError):
            pass
        time.sleep(0.0005)
    raise SystemExit(f"timed out waiting for {path}")

# The floors write a marker file at the point where the daemon would write
# its group file, and are timed to that file like the daemon.
FLOOR_C = {
    False: ("#include <stdio.h>\n"
            "int main(int c,char**v){FILE*f=fopen(v[1],\"w\");fputs(\"{\\\"members\\\":[1]}\",f);fclose(f);return 0;}\n"),
    # What the mpi bootstrap cannot avoid: MPI start-up and one allgather of
    # addresses; rank 0 then writes the marker.
    True: ("#include <mpi.h>\n#include <stdio.h>\n"
           "int main(int c,char**v){char a[64]={0},b[64*64];int r;MPI_Init(&c,&v);"
           "MPI_Allgather(a,64,MPI_CHAR,b,64,MPI_CHAR,MPI_COMM_WORLD);MPI_Comm_rank(MPI_COMM_WORLD,&r);"
           "if(!r){FILE*f=fopen(v[1],\"w\");fputs(\"{\\\"members\\\":[1,2,3,4]}\",f);fclose(f);}"
           "MPI_Finalize();return 0;}\n"),
}

def floor(mpi):
    name = "floor-mpi" if mpi else "floor"
    src = os.path.join(work, name + ".c")
    exe = os.path.join(work, name)
    if not os.path.exists(exe):
        open(src, "w").write(FLOOR_C[mpi])
        subprocess.run(["mpicc.mpich" if mpi else "cc", src, "-o", exe, "-Wl,--no-as-needed", "-lfabric"], check=True)
    marker = os.path.join(tempfile.mkdtemp(dir=work), "marker")
    cmd = (["mpiexec.mpich", "-n", "4"] if mpi else []) + [exe, marker]
    t = time.perf_counter()
    p = subprocess.Popen(cmd)
    t1 = wait_file(marker, 4 if mpi else 1)
    if p.wait(timeout=30) != 0:
        raise SystemExit(f"{name} failed")
    return t1 - t

def launch(mpi):
    d = tempfile.mkdtemp(dir=work)
    cfg = {"providers": [{"name": "g", "type": "flock", "provider_id": 1,
           "config": {"bootstrap": "mpi" if mpi else "self", "group": {"type": "static"},
                      "file": os.path.join(d, "g.flock")}}]}
    path = os.path.join(d, "c.json")
    json.dump(cfg, open(path, "w"))
    cmd = (["mpiexec.mpich", "-n", "4"] if mpi else []) + [bedrock, "na+sm", "-c", path, "-v", "error"]
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd)
    t1 = wait_file(os.path.join(d, "g.flock"), 4 if mpi else 1)
    rss = None
    if not mpi:
        time.sleep(0.5)
        for line in open(f"/proc/{p.pid}/status"):
            if line.startswith("VmRSS"):
                rss = int(line.split()[1])
    subprocess.run([shutdown, "na+sm", "-f", os.path.join(d, "g.flock")], check=True)
    p.wait(timeout=30)
    return t1 - t0, rss

def ms(x):
    return f"{x * 1000:.0f} ms"

print(f"machine: {os.cpu_count()} cores; runs: {RUNS}")
for mpi in (False, True):
    floors = [floor(mpi) for _ in range(RUNS)]
    runs = [launch(mpi) for _ in range(RUNS)]
    times = [t for t, _ in runs]
    over = [t - statistics.median(floors) for t in times]
    label = "mpiexec -n 4 -> complete group file" if mpi else "daemon launch -> group file written"
    print(f"{label}: median {ms(statistics.median(times))} (floor {ms(statistics.median(floors))}, "
          f"overhead above floor {ms(statistics.median(over))})")
    if not mpi:
        rss = [r for _, r in runs if r]
        print(f"idle daemon RSS: median {statistics.median(rss) / 1024:.1f} MiB")
