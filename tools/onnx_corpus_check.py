"""Re-derives the committed `convoy import` corpus expectations.

For every model of tests/fixtures/import/ (except refuse_*): runs the exact
reference (onnx_corpus_ref.py) on the committed input and compares with the
committed expected codes; then runs onnxruntime on the same input and counts
the values where it differs from the exact reference. Prints one line per
model and a total; exits 1 if the reference disagrees with a committed file.
Run by tests/it/import.rs (needs numpy, onnx and onnxruntime).
"""

import glob
import os
import sys

import numpy as np
import onnx
from onnx import numpy_helper

sys.path.insert(0, os.path.dirname(__file__))
import onnx_corpus_ref as ref  # noqa: E402
from onnx_corpus import ort_codes  # noqa: E402

DIR = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "import")


def float_input(model, codes):
    g = model.graph
    inits = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    q = [nd for nd in g.node if "x" in nd.input and nd.op_type in ("QuantizeLinear", "Quant")]
    if not q:  # NHWC: the quantizer reads the transpose
        t = [nd for nd in g.node if "x" in nd.input and nd.op_type == "Transpose"][0]
        q = [nd for nd in g.node if t.output[0] in nd.input and nd.op_type == "QuantizeLinear"]
    q = q[0]
    s = float(np.float32(inits[q.input[1]]))
    zp = int(inits[q.input[2]]) if len(q.input) > 2 else 0
    return ((codes.astype(np.int64) - zp).astype(np.float64) * s).astype(np.float32)


def main():
    bad = 0
    total = differs = 0
    for path in sorted(glob.glob(os.path.join(DIR, "*.onnx"))):
        name = os.path.basename(path)[:-5]
        if name.startswith("refuse_"):
            continue
        model = onnx.load(path)
        codes = np.load(os.path.join(DIR, f"{name}.x.npy"))
        expected = np.load(os.path.join(DIR, f"{name}.expected.npy")).astype(np.int64)
        nhwc = name.startswith("nhwc")
        if nhwc:  # committed in Convoy's [C, H, W]; the model reads NHWC
            codes = np.transpose(codes, (0, 2, 3, 1))
        x = float_input(model, codes)
        exact_model = np.asarray(list(ref.run(model, x).values())[0]).astype(np.int64)
        exact = np.transpose(exact_model, (0, 3, 1, 2)) if nhwc else exact_model
        if exact.shape != expected.shape or np.any(exact != expected):
            print(f"{name}: the exact reference disagrees with {name}.expected.npy")
            bad += 1
            continue
        if any(nd.domain.startswith("qonnx") for nd in model.graph.node):
            print(f"{name}: reference reproduced ({exact.size} values; QONNX, no onnxruntime run)")
            continue
        got = ort_codes(model, x, exact_model)
        d = int(np.sum(got != exact_model))
        total += exact.size
        differs += d
        print(f"{name}: reference reproduced; onnxruntime differs on {d} of {exact.size}")
    print(f"onnxruntime differs from the exact reference on {differs} of {total} values")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
