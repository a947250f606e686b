#!/usr/bin/env python3
"""The depthwise-separable block (dsconv) in Convoy and in its fastest CPU peers, interleaved.

Runs, round after round and for each thread count, `convoy bench examples/bench_dsconv_large.cnn`
(64 -> 64 channels on 64x128x256: depthwise 3x3, requant, pointwise, requant), then onnxruntime
(`../shared/peers/ort_dsconv.py --graphs qlinear_nhwc`) and Halide
(`../shared/peers/halide_dsconv.py --schedules vnni`) on the same size, and, with `--baseline`,
another Convoy binary. Prints medians of the rounds' medians, minima, and the ratios
peer time / Convoy time (> 1: Convoy is faster).

Usage (from the repository root, after `cargo build --release`; the peers' venv as in
`../shared/peers/README.md`):

    /tmp/peers/bin/python benches/dsconv_peers.py [--rounds 3] [--threads 1,2] [--baseline OLD]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEERS = os.path.join(os.path.dirname(ROOT), "shared", "peers")


def convoy(binary, script, threads, min_time):
    out = subprocess.run([binary, "bench", script, "--threads", str(threads), "--min-time", str(min_time),
                          "--format", "json"], check=True, capture_output=True, text=True).stdout
    r = json.loads(out)
    return r["median_us"] / 1e3, r["min_us"] / 1e3


def peer(script, args, threads, min_time):
    with tempfile.NamedTemporaryFile(suffix=".jsonl") as fh:
        subprocess.run([sys.executable, os.path.join(PEERS, script), "--threads", str(threads),
                        "--sizes", "64x128x256", "--min-time", str(min_time), "--json", fh.name] + args,
                       check=True, capture_output=True, text=True)
        r = json.loads(open(fh.name).read().splitlines()[-1])
    return r["median_ms"], r["min_ms"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--convoy", default=os.path.join(ROOT, "target", "release", "convoy"))
    ap.add_argument("--baseline", default="", help="another convoy binary timed in the same run")
    ap.add_argument("--script", default=os.path.join(ROOT, "examples", "bench_dsconv_large.cnn"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--min-time", type=float, default=1.0)
    args = ap.parse_args()

    systems = [("Convoy", lambda t: convoy(args.convoy, args.script, t, args.min_time))]
    if args.baseline:
        systems.append(("baseline", lambda t: convoy(args.baseline, args.script, t, args.min_time)))
    systems += [
        ("onnxruntime", lambda t: peer("ort_dsconv.py", ["--graphs", "qlinear_nhwc"], t, args.min_time)),
        ("Halide", lambda t: peer("halide_dsconv.py", ["--schedules", "vnni"], t, args.min_time)),
    ]
    threads = [int(t) for t in args.threads.split(",")]
    times = {}
    for rnd in range(args.rounds):
        for t in threads:
            for name, run in systems:
                med, mn = run(t)
                times.setdefault((name, t), []).append((med, mn))
        print(f"round {rnd + 1}/{args.rounds} done", flush=True)

    names = [n for n, _ in systems]
    print("\nmedian of the rounds' medians / minimum, ms; ratio = system's time / Convoy's (medians, minima)\n")
    print("| threads | " + " | ".join(names) + " | " + " | ".join(f"vs {n}" for n in names[1:]) + " |")
    print("|---|" + "---|" * (2 * len(names) - 1))
    for t in threads:
        cells, stats = [], {}
        for n in names:
            meds, mins = zip(*times[n, t])
            stats[n] = (float(np.median(meds)), min(mins))
            cells.append(f"{stats[n][0]:.3f} / {stats[n][1]:.3f}")
        c = stats["Convoy"]
        ratios = [f"{stats[n][0] / c[0]:.2f}x ({stats[n][1] / c[1]:.2f}x)" for n in names[1:]]
        print(f"| {t} | " + " | ".join(cells) + " | " + " | ".join(ratios) + " |")


if __name__ == "__main__":
    main()
