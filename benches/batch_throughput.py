#!/usr/bin/env python3
"""End-to-end batch throughput of `convoy run` against the kernels' speed.

    python3 benches/batch_throughput.py [--convoy target/release/convoy]
        [--images 2000,20000] [--rounds 3] [--threads N] [--dir /tmp/convoy-batch]

For each batch size N: writes N random seed images (u8[N, 16, 32, 64], the
standard library's `random` with a fixed seed; numpy is not needed), then
interleaves, `--rounds` times, `convoy bench examples/seed.cnn` (the
kernel's median time per image, on one thread by default) and
`convoy run examples/seed.cnn --stats`
on the batch (wall time measured here, peak RSS of that child from
`os.wait4`). Prints one line per batch size with medians and minima:

    end to end, compute (bench median x N), their ratio, the issue's bound
    1.5 x compute + 0.5 s, the run's CPU time (user + system, all threads:
    what the machine's other load does not inflate), peak RSS, input +
    output file sizes, and the bound 2 x files + 200 MB.

Only ratios within one run mean anything on a shared machine.
"""
import argparse
import json
import os
import random
import shutil
import statistics
import struct
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMAGE = (16, 32, 64)


def write_batch(path, n, seed=1):
    """A C-order uint8 .npy of shape (n, 16, 32, 64), written in pieces."""
    shape = (n,) + IMAGE
    header = "{'descr': '|u1', 'fortran_order': False, 'shape': (%s), }" % ", ".join(map(str, shape))
    total = 10 + len(header) + 1
    header += " " * ((64 - total % 64) % 64) + "\n"
    rng = random.Random(seed)
    per_image = IMAGE[0] * IMAGE[1] * IMAGE[2]
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1"))
        for _ in range(n):
            f.write(rng.randbytes(per_image))


def bench_median_us(convoy, threads):
    args = [convoy, "bench", "examples/seed.cnn", "--iters", "200", "--format", "json",
            "--threads", str(threads)]
    out = subprocess.run(args, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    return json.loads(out)["median_us"]


def run_batch(convoy, path, out_dir, threads):
    """(wall seconds, CPU seconds, peak RSS in MB, the --stats line)."""
    shutil.rmtree(out_dir, ignore_errors=True)
    args = [convoy, "run", "examples/seed.cnn", "-i", f"x={path}", "-o", out_dir, "--stats"]
    if threads:
        args += ["--threads", str(threads)]
    start = time.perf_counter()
    child = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    out = child.stdout.read().decode()
    err = child.stderr.read().decode()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"convoy run failed:\n{err}")
    stats = next((l for l in out.splitlines() if l.startswith("stats:")), "")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, stats


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--convoy", default=os.path.join(ROOT, "target/release/convoy"))
    p.add_argument("--images", default="2000,20000")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=int, default=0, help="convoy run --threads (0: every core)")
    p.add_argument("--bench-threads", type=int, default=1,
                   help="convoy bench --threads: one image's kernels on this many threads "
                        "(1: splitting a 20-us image's rows costs more than it gains)")
    p.add_argument("--dir", default="/tmp/convoy-batch")
    a = p.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    sizes = [int(s) for s in a.images.split(",")]
    paths = {}
    for n in sizes:
        paths[n] = os.path.join(a.dir, f"x{n}.npy")
        if not os.path.exists(paths[n]):
            write_batch(paths[n], n)
    bench, lines = [], {}
    walls, cpus, rss = ({n: [] for n in sizes} for _ in range(3))
    for _ in range(a.rounds):
        bench.append(bench_median_us(a.convoy, a.bench_threads))
        for n in sizes:
            out_dir = os.path.join(a.dir, f"out{n}")
            wall, cpu, mb, stats = run_batch(a.convoy, paths[n], out_dir, a.threads)
            walls[n].append(wall)
            cpus[n].append(cpu)
            rss[n].append(mb)
            lines[n] = stats
    us = statistics.median(bench)
    print(f"bench --threads {a.bench_threads}: seed median {us:.1f} us per image (medians of {len(bench)} runs: "
          + ", ".join(f"{b:.1f}" for b in bench) + ")")
    for n in sizes:
        compute = us * n / 1e6
        wall = statistics.median(walls[n])
        files = (os.path.getsize(paths[n]) + os.path.getsize(os.path.join(a.dir, f"out{n}", "pw.npy"))) / 1e6
        bound = 1.5 * compute + 0.5
        rss_bound = 2 * files + 200
        print(f"{n} images: end to end {wall:.3f} s (min {min(walls[n]):.3f}), compute {compute:.3f} s, "
              f"ratio {wall / compute:.1f}x; bound 1.5 x compute + 0.5 s = {bound:.3f} s "
              f"({'met' if wall <= bound else 'NOT met'}); CPU time {statistics.median(cpus[n]):.3f} s "
              f"(min {min(cpus[n]):.3f}); peak RSS {statistics.median(rss[n]):.0f} MB "
              f"(max {max(rss[n]):.0f}); files {files:.0f} MB, bound 2 x files + 200 MB = {rss_bound:.0f} MB")
        print(f"  last {lines[n]}")


if __name__ == "__main__":
    main()
