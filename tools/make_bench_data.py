#!/usr/bin/env python3
"""Writes the weight files of the benchmark pipelines
(examples/bench_dsconv_large/*.npy, examples/bench_ds_deconv_large/*.npy).

Deterministic: the same files every time.
    build/venv/bin/python tools/make_bench_data.py
"""
import os
import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples")


def save(folder, name, array):
    path = os.path.join(ROOT, folder)
    os.makedirs(path, exist_ok=True)
    np.save(os.path.join(path, name + ".npy"), array)


def main():
    rng = np.random.default_rng(20261128)
    # Depthwise 3x3 + pointwise 64 -> 64, requantized as in seed.cnn.
    save("bench_dsconv_large", "w_dw", rng.integers(-60, 61, size=(64, 1, 3, 3), dtype=np.int8))
    save("bench_dsconv_large", "b_dw", rng.integers(-40, 41, size=(64,), dtype=np.int16))
    save("bench_dsconv_large", "w_pw", rng.integers(-40, 41, size=(64, 64, 1, 1), dtype=np.int8))
    save("bench_dsconv_large", "b_pw", rng.integers(-40, 41, size=(64,), dtype=np.int16))
    # Depthwise 4x4 stride-2 transposed conv, then pointwise 64 -> 64.
    save("bench_ds_deconv_large", "w_up", rng.integers(-40, 41, size=(64, 1, 4, 4), dtype=np.int8))
    save("bench_ds_deconv_large", "w_pw", rng.integers(-64, 65, size=(64, 64, 1, 1), dtype=np.int8))
    save("bench_ds_deconv_large", "b_pw", rng.integers(-2000, 2001, size=(64,), dtype=np.int32))


if __name__ == "__main__":
    main()
