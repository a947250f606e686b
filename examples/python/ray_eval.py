#!/usr/bin/env python3
"""Evaluate a Convoy pipeline over a data set with Ray Data.

Each Ray worker holds one compiled pipeline (a callable class given the
pickled `convoy.Pipeline`: checked again and JIT-compiled once per worker,
never per batch) and runs `map_batches` over a synthetic data set of
seed-sized u8 images. For the seed design the script also computes two
numpy references and reports agreement with each:

- an integer numpy model of the same arithmetic (must agree bit for bit);
- the float model the quantized design approximates (factor 0.0123 as a
  float), whose agreement shows what the 32-bit fixed-point factor costs.

Throughput is images/s over the `map_batches` pass (worker start-up, data
generation and the references included; `--no-reference` leaves them out),
and inside `p(x)` alone per worker. `--compare-cli CONVOY` also writes the
images to a .npy file, runs `CONVOY run` on them and checks the Ray
results are bit-identical.

    python examples/python/ray_eval.py --images 10000 --workers 2
    python examples/python/ray_eval.py --address ray://head:10001 --workers 8

On a cluster every node needs the convoy wheel installed (`pip install
./python`); the pipeline itself travels pickled, with its `load()` files.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

import convoy

HERE = Path(__file__).resolve().parent
SEED = HERE.parent / "seed.cnn"


def synthetic_images(ids: np.ndarray, shape, seed: int) -> np.ndarray:
    """Image `i` of the data set: uniform u8 values drawn by numpy's PCG64
    seeded with (seed, i), the same whichever worker (or the driver) makes it."""
    out = np.empty((len(ids), *shape), np.uint8)
    for k, i in enumerate(ids):
        out[k] = np.random.default_rng([seed, int(i)]).integers(0, 256, shape, dtype=np.uint8)
    return out


class SeedReference:
    """numpy models of examples/seed.cnn: `exact` redoes its integer
    arithmetic, `float` is the float design it quantizes."""

    def __init__(self, pipeline: convoy.Pipeline, folder: Path):
        load = lambda name: np.load(folder / "seed" / f"{name}.npy").astype(np.int64)
        self.w_dw, self.b_dw = load("w_dw"), load("b_dw")
        self.w_pw, self.b_pw = load("w_pw"), load("b_pw")
        factor = next(r for r in pipeline.table() if r["stage"] == "factor")
        # The stored factor, exactly: code / 2**31.
        self.code = int(Fraction(factor["min"]) * 2**31)

    def _convs(self, x, requant):
        x = x.astype(np.int64)
        n, c, h, w = x.shape
        padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
        acc = np.zeros_like(x)
        for dy in range(3):
            for dx in range(3):
                acc += padded[:, :, dy:dy + h, dx:dx + w] * self.w_dw[None, :, 0, dy, dx, None, None]
        dw = np.maximum(self.b_dw[None, :, None, None] + requant(acc), 0) % 256
        acc = np.einsum("oc,nchw->nohw", self.w_pw[:, :, 0, 0], dw)
        return np.maximum(self.b_pw[None, :, None, None] + requant(acc), 0) % 256

    def exact(self, x):
        """trunc(acc * factor) toward zero, on the stored 32-bit factor."""
        code = self.code

        def requant(acc):
            q = np.abs(acc) * code >> 31
            return np.sign(acc) * q

        return self._convs(x, requant).astype(np.uint8)

    def float(self, x):
        return self._convs(x, lambda acc: np.trunc(acc * 0.0123).astype(np.int64)).astype(np.uint8)


class Evaluate:
    """The per-worker callable: the pipeline is checked and compiled here,
    once, and every batch reuses it."""

    def __init__(self, pipeline: convoy.Pipeline, shape, seed: int, threads: int, reference):
        self.p = pipeline
        self.shape = tuple(shape)
        self.seed = seed
        self.threads = threads
        self.reference = reference

    def __call__(self, batch):
        ids = batch["data"]
        x = synthetic_images(ids, self.shape, self.seed)
        start = time.perf_counter()
        y = self.p(x, threads=self.threads)
        seconds = time.perf_counter() - start
        # The batch's Convoy time, spread over its rows (summed back later).
        out = {"id": ids, "y": y.reshape(len(ids), -1), "convoy_s": np.full(len(ids), seconds / len(ids))}
        if self.reference is not None:
            exact = self.reference.exact(x).reshape(len(ids), -1)
            approx = self.reference.float(x).reshape(len(ids), -1)
            out["exact_equal"] = (out["y"] == exact).sum(axis=1)
            out["float_equal"] = (out["y"] == approx).sum(axis=1)
        return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pipeline", default=str(SEED), help="a .cnn file (default: the seed design)")
    ap.add_argument("--images", type=int, default=10_000)
    ap.add_argument("--batch", type=int, default=256, help="images per map_batches call")
    ap.add_argument("--workers", type=int, default=2, help="actors, one compiled pipeline each")
    ap.add_argument("--threads", type=int, default=1, help="JIT threads per worker")
    ap.add_argument("--seed", type=int, default=0, help="of the synthetic data set")
    ap.add_argument("--address", default=None, help="a Ray cluster (default: a local one, 2 CPUs)")
    ap.add_argument("--compare-cli", metavar="CONVOY", help="check against `CONVOY run` on the same images")
    ap.add_argument("--no-reference", action="store_true", help="skip the numpy models (throughput only)")
    ap.add_argument("--json", action="store_true", help="print the report as one JSON object")
    args = ap.parse_args(argv)

    import ray

    p = convoy.load(args.pipeline)
    if len(p.inputs) != 1 or len(p.outputs) != 1 or p.inputs[0].type != "u8":
        ap.error("the example feeds one u8 input and reads one output")
    shape = p.inputs[0].shape
    # Made here and shipped pickled: workers need no files of their own.
    is_seed = Path(args.pipeline).resolve() == SEED.resolve()
    reference = SeedReference(p, SEED.parent) if is_seed and not args.no_reference else None

    if args.address:
        ray.init(address=args.address, log_to_driver=False)
    else:
        ray.init(num_cpus=max(2, args.workers), log_to_driver=False, include_dashboard=False)
    ray.data.DataContext.get_current().execution_options.preserve_order = True
    ray.data.DataContext.get_current().enable_progress_bars = False

    # The ids only, in blocks made on the driver: every CPU is left to the
    # workers (a read task would wait for a CPU the actors hold).
    ids = [np.arange(i, min(i + args.batch, args.images)) for i in range(0, args.images, args.batch)]
    ds = ray.data.from_numpy(ids)
    results = ds.map_batches(
        Evaluate,
        fn_constructor_args=(p, shape, args.seed, args.threads, reference),
        batch_size=args.batch,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=args.workers),
        num_cpus=1,
    )
    start = time.perf_counter()
    rows = results.materialize()
    seconds = time.perf_counter() - start
    columns = {k: [] for k in ["id", "y", "convoy_s", "exact_equal", "float_equal"]}
    for batch in rows.iter_batches(batch_size=4096, batch_format="numpy"):
        for k in columns:
            if k in batch:
                columns[k].append(batch[k])
    ids = np.concatenate(columns["id"])
    order = np.argsort(ids)
    y = np.concatenate(columns["y"])[order]
    values = y.size
    report = {
        "pipeline": p.name,
        "images": int(ids.size),
        "workers": args.workers,
        "threads_per_worker": args.threads,
        "seconds": round(seconds, 3),
        "images_per_s": round(ids.size / seconds, 1),
        # Inside p(x) only, per worker: what the workers' other work leaves.
        "convoy_images_per_s_per_worker": round(ids.size / np.concatenate(columns["convoy_s"]).sum(), 1),
    }
    if reference is not None:
        exact = int(np.concatenate(columns["exact_equal"]).sum())
        approx = int(np.concatenate(columns["float_equal"]).sum())
        report["numpy_exact_agreement"] = exact / values
        report["float_agreement"] = approx / values
    if args.compare_cli:
        with tempfile.TemporaryDirectory() as tmp:
            x_path = os.path.join(tmp, "x.npy")
            np.save(x_path, synthetic_images(np.arange(args.images), shape, args.seed))
            out = os.path.join(tmp, "out")
            subprocess.run(
                [args.compare_cli, "run", args.pipeline, "--input", f"{p.inputs[0].name}={x_path}", "--out", out],
                check=True,
                stdout=subprocess.DEVNULL,
            )
            cli = np.load(os.path.join(out, f"{p.outputs[0].name}.npy"))
        report["cli_bit_identical"] = bool(
            cli.dtype == y.dtype and np.array_equal(cli.reshape(y.shape), y)
        )
    ray.shutdown()
    if args.json:
        print(json.dumps(report))
    else:
        for k, v in report.items():
            print(f"{k:>24}: {v}")
    ok = report.get("numpy_exact_agreement", 1.0) == 1.0 and report.get("cli_bit_identical", True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
