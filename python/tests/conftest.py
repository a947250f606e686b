"""Shared fixtures: the repository root, the `convoy` CLI to compare with."""

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


@pytest.fixture(scope="session")
def convoy_bin() -> str:
    """The CLI built by `cargo build` (or $CONVOY_BIN); the comparisons need it."""
    path = os.environ.get("CONVOY_BIN") or str(ROOT / "target" / "debug" / "convoy")
    if not os.path.exists(path):
        pytest.fail(f"{path} not found: run `cargo build` first or set CONVOY_BIN")
    return path


@pytest.fixture(scope="session")
def seed():
    import convoy

    return convoy.load(EXAMPLES / "seed.cnn")
