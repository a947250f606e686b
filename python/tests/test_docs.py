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
