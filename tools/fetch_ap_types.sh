#!/usr/bin/env bash
# Fetches the open-source Xilinx ap_types headers (ap_int.h, ap_fixed.h, ...)
# that the bit-exactness tests compile against (tests/it/reference_hls.rs,
# tests/it/ap_fixed_modes.rs, tests/it/hls_csim.rs).
#
# They come from the hls4ml 1.3.0 wheel on PyPI (hls4ml/templates/vivado/
# ap_types/) and are unpacked into build/ap_types/ at the repository root,
# which is gitignored: never commit them. Idempotent: does nothing when
# build/ap_types/ap_fixed.h already exists. Prints the headers' folder.
#
#     bash tools/fetch_ap_types.sh
#     AP_TYPES=/elsewhere/ap_types cargo test   # headers kept somewhere else
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="$ROOT/build/ap_types"
VERSION="1.3.0"
# sha256 of hls4ml-1.3.0-py3-none-any.whl, so that every checkout tests
# against the same headers.
SHA256="01bf1de2cd9bca56699b9fe3385cb1735026b022f9580fe1d73faf192dfb90f2"
PREFIX="hls4ml/templates/vivado/ap_types/"

if [ -f "$DEST/ap_fixed.h" ]; then
    echo "$DEST"
    exit 0
fi

PYTHON="${PYTHON:-python3}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/fetch_ap_types.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

"$PYTHON" -m pip download --quiet --disable-pip-version-check --no-deps \
    "hls4ml==$VERSION" -d "$WORK/wheel" >&2

WHEEL="$(ls "$WORK"/wheel/hls4ml-"$VERSION"-*.whl 2>/dev/null | head -n 1 || true)"
if [ -z "$WHEEL" ]; then
    echo "fetch_ap_types.sh: pip did not download an hls4ml $VERSION wheel" >&2
    exit 1
fi

# Python's zipfile (no unzip needed): extract only the ap_types folder, flat
# into a staging folder, then move it into place in one step so that an
# interrupted run never leaves a half-filled build/ap_types behind.
"$PYTHON" - "$WHEEL" "$PREFIX" "$WORK/ap_types" "$SHA256" <<'EOF'
import hashlib, os, sys, zipfile

wheel, prefix, out, sha256 = sys.argv[1:5]
with open(wheel, "rb") as f:
    digest = hashlib.sha256(f.read()).hexdigest()
if digest != sha256:
    sys.exit(f"fetch_ap_types.sh: {wheel} has sha256 {digest}, expected {sha256}")
count = 0
with zipfile.ZipFile(wheel) as z:
    for info in z.infolist():
        name = info.filename
        if not name.startswith(prefix) or name.endswith("/"):
            continue
        rel = name[len(prefix):]
        parts = rel.split("/")
        if any(p in ("", ".", "..") for p in parts):
            sys.exit(f"fetch_ap_types.sh: unsafe path in wheel: {name}")
        target = os.path.join(out, *parts)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with z.open(info) as src, open(target, "wb") as dst:
            dst.write(src.read())
        count += 1
if count == 0 or not os.path.isfile(os.path.join(out, "ap_fixed.h")):
    sys.exit(f"fetch_ap_types.sh: no {prefix}ap_fixed.h in {wheel}")
print(f"extracted {count} files", file=sys.stderr)
EOF

mkdir -p "$ROOT/build"
rm -rf "$DEST"
mv "$WORK/ap_types" "$DEST"
echo "$DEST"
