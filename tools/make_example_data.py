#!/usr/bin/env python3
"""Writes the weight files of the examples (examples/<name>/*.npy).

Run once; the files are committed. Deterministic: the same files every time.
    python3 tools/make_example_data.py
"""
import os
import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples")


def save(folder, name, array):
    path = os.path.join(ROOT, folder)
    os.makedirs(path, exist_ok=True)
    np.save(os.path.join(path, name + ".npy"), array)


def main():
    rng = np.random.default_rng(20231209)
    # seed.cnn: the reference design's shapes. Small weights, so that most
    # outputs stay in u8 and the ones that wrap are the interesting few.
    save("seed", "w_dw", rng.integers(-60, 61, size=(16, 1, 3, 3), dtype=np.int8))
    save("seed", "b_dw", rng.integers(-40, 41, size=(16,), dtype=np.int16))
    save("seed", "w_pw", rng.integers(-40, 41, size=(16, 16, 1, 1), dtype=np.int8))
    save("seed", "b_pw", rng.integers(-40, 41, size=(16,), dtype=np.int16))

    # ds_deconv.cnn: 4x4 stride-2 depthwise transposed conv, then 1x1 conv.
    save("ds_deconv", "w_up", rng.integers(-40, 41, size=(32, 1, 4, 4), dtype=np.int8))
    save("ds_deconv", "w_pw", rng.integers(-64, 65, size=(16, 32, 1, 1), dtype=np.int8))
    save("ds_deconv", "b_pw", rng.integers(-2000, 2001, size=(16,), dtype=np.int32))


if __name__ == "__main__":
    main()
