#!/usr/bin/env python3
"""Two builds of the Python package (and of `convoy`) in one interleaved run.

Each round starts one process per package folder, in random order, that
imports `convoy` from that folder (`PYTHONPATH`; an unpacked wheel:
`unzip convoy-*.whl -d DIR`) and measures on the seed design, one thread:
`p(x)` on 256 images, 7 calls (CPU time per image: their median and the
best call), `p.bench()` (median, min), the bench loop's CPU time per run,
and 16 images kept in cache called 16 times. Each `--convoy` binary runs
`convoy bench --format json` in the same rounds. Prints per build the
median over rounds and the minimum over rounds of each figure.

    python3 benches/python_wheels.py --rounds 16 /tmp/old/site /tmp/new/site \\
        --convoy /tmp/convoy-old --convoy target/release/convoy
"""

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SEED = str(ROOT / "examples" / "seed.cnn")

# Run in each child: one line of figures.
CHILD = r"""
import statistics, sys, time
import numpy as np, convoy
p = convoy.load(sys.argv[1])
x = np.random.default_rng(0).integers(0, 256, (256, 16, 32, 64), dtype=np.uint8)
p(x, threads=1)
calls = []
for _ in range(7):
    c = time.thread_time(); p(x, threads=1); calls.append((time.thread_time() - c) / 256 * 1e6)
hot, hots = x[:16].copy(), []
for _ in range(5):
    c = time.thread_time()
    for _ in range(16):
        p(hot, threads=1)
    hots.append((time.thread_time() - c) / 256 * 1e6)
c = time.thread_time(); b = p.bench(iters=256, threads=1); loop = (time.thread_time() - c) / b["runs"] * 1e6
print(statistics.median(calls), min(calls), b["median_us"], b["min_us"], loop, min(hots), convoy.__file__)
"""

FIGURES = ["p(x) CPU/image, median of 7 calls", "p(x) CPU/image, best call", "p.bench() median",
           "p.bench() min", "bench loop CPU/run", "16 images in cache, CPU/image"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("packages", nargs="+", help="folders holding an unpacked `convoy` package")
    ap.add_argument("--convoy", action="append", default=[], help="a convoy binary (repeatable)")
    ap.add_argument("--rounds", type=int, default=16)
    args = ap.parse_args()
    peers = [("py", p) for p in args.packages] + [("cli", c) for c in args.convoy]
    results = {peer: [] for peer in peers}
    for _ in range(args.rounds):
        order = peers[:]
        random.shuffle(order)
        for kind, where in order:
            if kind == "cli":
                out = subprocess.run([where, "bench", SEED, "--threads", "1", "--format", "json"],
                                     check=True, capture_output=True, text=True).stdout
                b = json.loads(out)
                results[(kind, where)].append((b["median_us"], b["min_us"]))
            else:
                env = dict(os.environ, PYTHONPATH=where)
                out = subprocess.run([sys.executable, "-c", CHILD, SEED], env=env,
                                     check=True, capture_output=True, text=True).stdout.split()
                if not out[-1].startswith(str(Path(where).resolve())):
                    sys.exit(f"{where}: imported {out[-1]} instead")
                results[(kind, where)].append(tuple(float(v) for v in out[:6]))
    med = statistics.median
    for (kind, where), rows in results.items():
        names = FIGURES if kind == "py" else ["convoy bench median", "convoy bench min"]
        print(where)
        for name, column in zip(names, zip(*rows)):
            print(f"  {name:32} median {med(column):7.2f} us, min {min(column):7.2f} us")


if __name__ == "__main__":
    main()
