#!/usr/bin/env python3
"""Writes a reproducible random uint8 map as .npy, with the standard library only.

    python3 tools/random_input.py OUT.npy C H W [SEED]
"""
import os
import random
import struct
import sys


def main():
    out, dims = sys.argv[1], [int(d) for d in sys.argv[2:5]]
    seed = int(sys.argv[5]) if len(sys.argv) > 5 else 1
    rng = random.Random(seed)
    count = dims[0] * dims[1] * dims[2]
    header = "{'descr': '|u1', 'fortran_order': False, 'shape': (%d, %d, %d), }" % tuple(dims)
    # Pad so that the data starts at a multiple of 64 bytes, as numpy does.
    total = 10 + len(header) + 1
    header += " " * ((64 - total % 64) % 64) + "\n"
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1"))
        f.write(bytes(rng.randrange(256) for _ in range(count)))


if __name__ == "__main__":
    main()
