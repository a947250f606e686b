#!/usr/bin/env python3
"""The cost of each example network against its workaround version.

For every `tests/cases/workarounds/NAME.cnn`, runs `convoy estimate
--format json` on it and on `examples/NAME.cnn`, in both HLS styles, and
prints the markdown table of examples/README.md ("What the new operations
save"): HLS stages (one kernel each), multipliers, BRAM18K and the
interval in cycles.

    python3 tools/workaround_costs.py [path/to/convoy]    (default target/debug/convoy)
"""

import json
import os
import subprocess
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def estimate(convoy, path, style):
    out = subprocess.run([convoy, "estimate", "--style", style, "--format", "json", path],
                         check=True, capture_output=True, text=True).stdout
    e = json.loads(out)
    return len(e["stages"]), e["multipliers"], e["bram18k"], e["interval_cycles"]


def main():
    convoy = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "target", "debug", "convoy")
    folder = os.path.join(ROOT, "tests", "cases", "workarounds")
    names = sorted(f[:-4] for f in os.listdir(folder) if f.endswith(".cnn"))
    print("| network | style | stages | multipliers | BRAM18K | interval (cycles) |")
    print("|---|---|---|---|---|---|")
    for name in names:
        example = os.path.join(ROOT, "examples", f"{name}.cnn")
        for style in ("array", "stream"):
            old = estimate(convoy, os.path.join(folder, f"{name}.cnn"), style)
            new = estimate(convoy, example, style)
            cells = " | ".join(f"{o:,} -> {n:,}" for o, n in zip(old, new))
            print(f"| {name} | {style} | {cells} |")


if __name__ == "__main__":
    main()
