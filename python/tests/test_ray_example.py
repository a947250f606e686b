"""examples/python/ray_eval.py on a small data set: two workers, bit-identical
with `convoy run` and with the integer numpy model."""

import json
import subprocess
import sys

from conftest import ROOT


def test_ray_example_small(convoy_bin):
    script = ROOT / "examples" / "python" / "ray_eval.py"
    done = subprocess.run(
        [sys.executable, str(script), "--images", "300", "--batch", "64", "--workers", "2",
         "--compare-cli", convoy_bin, "--json"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-4000:] + done.stdout[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["images"] == 300
    assert report["cli_bit_identical"] is True
    assert report["numpy_exact_agreement"] == 1.0
    assert 0.9 < report["float_agreement"] < 1.0
    assert report["images_per_s"] > 0
