#!/usr/bin/env python3
"""The Python package's `p(x)` on a batch against `convoy bench`, interleaved.

Each round times `p(x)` on a batch of seed-sized images (one call, the
per-image time is the call's time / N) and runs `convoy bench --format json`
on the same pipeline (its median and minimum of one image), then `p.bench()`
(the same measurement in process). Prints the median over rounds of each
figure and the minimum over rounds, and the ratio of per-image times.

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
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()

    p = convoy.load(args.pipeline)
    port = p.inputs[0]
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (args.images, *port.shape), dtype=np.uint8)
    p(x, threads=args.threads)  # compile and warm up
    threads = [] if args.threads is None else ["--threads", str(args.threads)]
    call_us, cpu_us, one_us, cli_median, cli_min, in_median = [], [], [], [], [], []
    for _ in range(args.rounds):
        t, c = time.perf_counter(), time.thread_time()
        p(x, threads=args.threads)
        call_us.append((time.perf_counter() - t) / args.images * 1e6)
        # With one thread the images run on this thread: its CPU time leaves
        # out the time the OS gave to other processes (a shared machine).
        cpu_us.append((time.thread_time() - c) / args.images * 1e6)
        # One image per call, 50 calls: what a call costs beyond the image.
        t = time.perf_counter()
        for i in range(50):
            p(x[i], threads=args.threads)
        one_us.append((time.perf_counter() - t) / 50 * 1e6)
        out = subprocess.run(
            [args.convoy, "bench", args.pipeline, "--format", "json", *threads],
            check=True, capture_output=True, text=True,
        ).stdout
        b = json.loads(out)
        cli_median.append(b["median_us"])
        cli_min.append(b["min_us"])
        in_median.append(p.bench(threads=args.threads)["median_us"])
    med = statistics.median
    print(f"p(x), {args.images} images: per image median {med(call_us):.1f} us, min {min(call_us):.1f} us")
    if args.threads == 1:
        print(f"p(x), {args.images} images: CPU time per image median {med(cpu_us):.1f} us, min {min(cpu_us):.1f} us")
        print(f"ratio p(x) CPU time / convoy bench: median {med(cpu_us) / med(cli_median):.3f}, "
              f"min {min(cpu_us) / min(cli_min):.3f}")
    print(f"p(x), one image/call: median {med(one_us):.1f} us, min {min(one_us):.1f} us")
    print(f"convoy bench:         median of medians {med(cli_median):.1f} us, min {min(cli_min):.1f} us")
    print(f"p.bench():            median of medians {med(in_median):.1f} us")
    print(f"ratio p(x) / convoy bench: median {med(call_us) / med(cli_median):.3f}, "
          f"min {min(call_us) / min(cli_min):.3f}")


if __name__ == "__main__":
    main()
