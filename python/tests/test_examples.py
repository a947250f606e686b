"""Every example through the package equals `convoy run` on the same data,
byte for byte (dtype, shape and values), batched and one image."""

import subprocess

import numpy as np
import pytest

import convoy
from conftest import EXAMPLES

CASES = sorted(p.stem for p in EXAMPLES.glob("*.cnn") if not p.stem.startswith("bench_"))


def random_input(port, images, rng):
    """Random values over the input's range, in the dtype convoy writes for it."""
    scale = 2 ** port.frac
    lo = int(round(float(__import__("fractions").Fraction(port.min) * scale)))
    hi = int(round(float(__import__("fractions").Fraction(port.max) * scale)))
    codes = rng.integers(lo, hi + 1, (images, *port.shape), dtype=np.int64)
    if port.dtype == "float64":
        return codes / scale
    return codes.astype(port.dtype)


@pytest.mark.parametrize("name", CASES)
def test_example_matches_cli(name, convoy_bin, tmp_path):
    path = EXAMPLES / f"{name}.cnn"
    p = convoy.load(path)
    rng = np.random.default_rng(len(name))
    inputs = {port.name: random_input(port, 2, rng) for port in p.inputs}
    args = []
    for k, v in inputs.items():
        np.save(tmp_path / f"{k}.npy", v)
        args += ["--input", f"{k}={tmp_path / (k + '.npy')}"]
    subprocess.run(
        [convoy_bin, "run", str(path), *args, "--out", str(tmp_path / "out")],
        check=True,
        capture_output=True,
    )
    got = p.run(**inputs, threads=2)
    assert list(got) == [o.name for o in p.outputs]
    for o in p.outputs:
        cli = np.load(tmp_path / "out" / f"{o.name}.npy")
        assert got[o.name].dtype == cli.dtype, o.name
        assert got[o.name].shape == cli.shape, o.name
        assert np.array_equal(got[o.name], cli), f"{name}: output {o.name} differs from convoy run"
        assert got[o.name].dtype.name == o.dtype
    one = p.run(**{k: v[1] for k, v in inputs.items()}, threads=1)
    for o in p.outputs:
        assert np.array_equal(one[o.name], got[o.name][1])
