#!/usr/bin/env python3
"""Where the slow calls of a mochi-echo run spent their time, thread by thread.

Record a run with the scheduler's events and the client's per-call times:

    perf sched record -k CLOCK_MONOTONIC -o sched.data -- \\
        mochi-echo client ADDR --count 5000 --rtt-file rtts.txt
    perf sched timehist -i sched.data --state > timehist.txt
    python3 benches/sched-slow-calls.py timehist.txt rtts.txt TID... [--over-us 1000]

For each call slower than the bound, and in total, prints how long each
given thread (the client's calling thread, the server's stream...) was
running, runnable after a wake-up (rq-woken), runnable after being
preempted (rq-preempted) or asleep during the call.
"""
import argparse
import collections
import re

STATES = ("run", "rq-woken", "rq-preempted", "sleep")


def intervals(path):
    """Per thread id: [(start_s, end_s, state)] from `perf sched timehist --state`."""
    rows = collections.defaultdict(list)
    names = {}
    for line in open(path):
        f = line.split()
        if len(f) < 7 or not re.match(r"^\d+\.\d+$", f[0]):
            continue
        m = re.search(r"\[(\d+)(?:/\d+)?\]$", f[2])
        if not m:
            continue
        tid = int(m.group(1))
        names[tid] = f[2]
        end = float(f[0])
        wait, delay, run = (float(x) / 1e3 for x in f[3:6])
        rows[tid].append((end - run, end, f[6], wait, delay))
    out = collections.defaultdict(list)
    for tid, runs in rows.items():
        previous = None
        for start, end, state_out, wait, delay in runs:
            if previous == "R":
                out[tid].append((start - wait, start, "rq-preempted"))
            else:
                out[tid].append((start - wait, start - delay, "sleep"))
                out[tid].append((start - delay, start, "rq-woken"))
            out[tid].append((start, end, "run"))
            previous = state_out
    return out, names


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("timehist")
    ap.add_argument("rtts")
    ap.add_argument("tids", nargs="+", type=int)
    ap.add_argument("--over-us", type=float, default=1000.0)
    args = ap.parse_args()
    spans, names = intervals(args.timehist)
    calls = [tuple(map(int, line.split())) for line in open(args.rtts) if line.strip()]
    slow = [(s / 1e9, (s + d) / 1e9, d / 1e3) for s, d in calls if d / 1e3 > args.over_us]
    total = collections.Counter()
    for a, b, us in slow:
        cells = []
        for tid in args.tids:
            spent = collections.Counter()
            for x, y, state in spans.get(tid, []):
                overlap = min(b, y) - max(a, x)
                if overlap > 0:
                    spent[state] += overlap * 1e3
            total.update({(tid, k): v for k, v in spent.items()})
            cells.append(f"{tid}: " + " ".join(f"{k}={spent[k]:.2f}" for k in STATES))
        print(f"{a:.6f} {us:8.0f} us | " + " | ".join(cells))
    print(f"{len(slow)} of {len(calls)} calls over {args.over_us:.0f} us; time in them (ms):")
    for tid in args.tids:
        print(f"  {names.get(tid, tid)}: " + " ".join(f"{k}={total[(tid, k)]:.1f}" for k in STATES))


if __name__ == "__main__":
    main()
