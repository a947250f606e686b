#!/usr/bin/env python3
"""The Python package's `p(x)` on a batch against `convoy bench`, interleaved.

Each round times `p(x)` on a batch of seed-sized images (one call, the
per-image time is the call's time / N) and runs `convoy bench --format json`
on the same pipeline (its median and minimum of one image), then `p.bench()`
(the same measurement in process). Prints the median over rounds of each
figure and the minimum over rounds, and the ratio of per-image times.

With one thread it also compares CPU times measured the same way: the
batch's CPU time per image against the CPU time of `p.bench()`'s whole
loop per run (warm-up included, `runs` in its result). A bench median
keeps the runs nothing disturbed; a batch's total cannot, and on a shared
machine the two differ by far more than the batch's own costs.

A third peer separates what streaming costs: `p(x)` on a batch of
`--hot-images` images (16: inputs and outputs, 1 MB, stay in the core's
L2) called repeatedly, so each image is copied in and out as in the big
batch but from and to cache, as `convoy bench`'s one image is.

    build/pyvenv/bin/python benches/python_batch.py --convoy target/release/convoy
"""

import argparse
import json
import statistics
import subprocess
import time
from pathlib import Path

import numpy as np

import convoy

ROOT = Path(__file__).resolve().parents[1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--convoy", default=str(ROOT / "target" / "release" / "convoy"))
    ap.add_argument("--pipeline", default=str(ROOT / "examples" / "seed.cnn"))
    ap.add_argument("--images", type=int, default=256)
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--hot-images", type=int, default=16)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()

    p = convoy.load(args.pipeline)
    port = p.inputs[0]
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (args.images, *port.shape), dtype=np.uint8)
    p(x, threads=args.threads)  # compile and warm up
    threads = [] if args.threads is None else ["--threads", str(args.threads)]
    hot = x[: args.hot_images].copy()
    call_us, cpu_us, one_us, cli_median, cli_min, cli_mean, in_median = [], [], [], [], [], [], []
    hot_cpu_us, loop_cpu_us = [], []
    for _ in range(args.rounds):
        t, c = time.perf_counter(), time.thread_time()
        p(x, threads=args.threads)
        call_us.append((time.perf_counter() - t) / args.images * 1e6)
        # With one thread the images run on this thread: its CPU time leaves
        # out the time the OS gave to other processes (a shared machine).
        cpu_us.append((time.thread_time() - c) / args.images * 1e6)
        # A small batch again and again: the same copies, from and to cache.
        c = time.thread_time()
        for _ in range(16):
            p(hot, threads=args.threads)
        hot_cpu_us.append((time.thread_time() - c) / (16 * args.hot_images) * 1e6)
        # One image per call, 50 calls: what a call costs beyond the image.
        t = time.perf_counter()
        for i in range(50):
            p(x[i], threads=args.threads)
        one_us.append((time.perf_counter() - t) / 50 * 1e6)
        out = subprocess.run(
            [args.convoy, "bench", args.pipeline, "--format", "json", "--iters", str(args.images), *threads],
            check=True, capture_output=True, text=True,
        ).stdout
        b = json.loads(out)
        cli_median.append(b["median_us"])
        cli_min.append(b["min_us"])
        cli_mean.append(b["mean_us"])
        # The bench's loop measured as the batch is: its CPU time over all
        # its runs (a median keeps only the runs nothing disturbed).
        c = time.thread_time()
        b = p.bench(iters=args.images, threads=args.threads)
        loop_cpu_us.append((time.thread_time() - c) / b["runs"] * 1e6)
        in_median.append(b["median_us"])
    med = statistics.median
    print(f"p(x), {args.images} images: per image median {med(call_us):.1f} us, min {min(call_us):.1f} us")
    if args.threads == 1:
        print(f"p(x), {args.images} images: CPU time per image median {med(cpu_us):.1f} us, min {min(cpu_us):.1f} us")
        print(f"ratio p(x) CPU time / convoy bench: median {med(cpu_us) / med(cli_median):.3f}, "
              f"min {min(cpu_us) / min(cli_min):.3f}")
        print(f"p.bench() loop, CPU time per run (warm-up included): median {med(loop_cpu_us):.1f} us, "
              f"min {min(loop_cpu_us):.1f} us")
        print(f"ratio p(x) CPU time / p.bench() loop CPU time: median {med(cpu_us) / med(loop_cpu_us):.3f}, "
              f"min {min(cpu_us) / min(loop_cpu_us):.3f}")
        print(f"p(x), {args.hot_images} images in cache, repeated: CPU time per image median "
              f"{med(hot_cpu_us):.1f} us, min {min(hot_cpu_us):.1f} us; ratio to convoy bench: median "
              f"{med(hot_cpu_us) / med(cli_median):.3f}, min {min(hot_cpu_us) / min(cli_min):.3f}")
    print(f"p(x), one image/call: median {med(one_us):.1f} us, min {min(one_us):.1f} us")
    print(f"convoy bench:         median of medians {med(cli_median):.1f} us, min {min(cli_min):.1f} us")
    print(f"p.bench():            median of medians {med(in_median):.1f} us")
    print(f"ratio p(x) / convoy bench: median {med(call_us) / med(cli_median):.3f}, "
          f"min {min(call_us) / min(cli_min):.3f}")
    # Throughput against throughput: the batch's time per image against the
    # bench window's length over its runs (both keep every stall).
    print(f"convoy bench mean (throughput): median {med(cli_mean):.1f} us, min {min(cli_mean):.1f} us")
    print(f"ratio p(x) / convoy bench mean: median {med(call_us) / med(cli_mean):.3f}, "
          f"min {min(call_us) / min(cli_mean):.3f}")


if __name__ == "__main__":
    main()
