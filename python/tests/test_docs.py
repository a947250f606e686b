"""docs/python.md stays true: its python blocks run, in order, in one
namespace, from the repository root."""

import os
import re

from conftest import ROOT


def test_walkthrough_runs(capsys):
    text = (ROOT / "docs" / "python.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) >= 7
    namespace = {"__name__": "docs_python"}
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        for i, block in enumerate(blocks):
            exec(compile(block, f"docs/python.md block {i + 1}", "exec"), namespace)
    finally:
        os.chdir(cwd)
    out = capsys.readouterr().out
    assert "<convoy.Pipeline seed(x: u8[16, 32, 64]) -> pw>" in out
    assert "dw wraps on" in out


def test_readme_snippet_runs():
    text = (ROOT / "README.md").read_text()
    [block] = re.findall(r"```python\n(.*?)```", text, re.S)
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        namespace = {}
        exec(compile(block, "README.md", "exec"), namespace)
    finally:
        os.chdir(cwd)
    assert namespace["y"].shape == (256, 16, 32, 64)
