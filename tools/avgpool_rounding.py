"""How onnxruntime's QLinearAveragePool / QLinearGlobalAveragePool round the
division of an average, against Convoy's rule (round half to even of the
exact sum / count, docs/semantics.md "avgpool").

Input and output share one scale and zero point, so the integer result is
exactly the rounded average of the codes (minus the zero point). Prints, per
case, how many outputs differ from the exact rule, and how many of the
exact averages were ties. Run: build/venv/bin/python tools/avgpool_rounding.py
"""

from fractions import Fraction

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper


def exact(x, k, s, pads, include, zp):
    n, c, h, w = x.shape
    t, b, l, r = pads
    oh = (h + t + b - k[0]) // s[0] + 1
    ow = (w + l + r - k[1]) // s[1] + 1
    out = np.zeros((n, c, oh, ow), dtype=np.int64)
    ties = np.zeros((n, c, oh, ow), dtype=bool)
    v = x.astype(np.int64) - zp
    for i in range(oh):
        for j in range(ow):
            y0, x0 = i * s[0] - t, j * s[1] - l
            ys, xs = slice(max(y0, 0), min(y0 + k[0], h)), slice(max(x0, 0), min(x0 + k[1], w))
            real = (ys.stop - ys.start) * (xs.stop - xs.start)
            count = k[0] * k[1] if include else real
            sums = v[:, :, ys, xs].sum(axis=(2, 3))
            for a in range(n):
                for ch in range(c):
                    f = Fraction(int(sums[a, ch]), count)
                    ties[a, ch, i, j] = f.denominator == 2
                    out[a, ch, i, j] = round(f) + zp  # half to even
    return out, ties


def report(title, got, want, ties, totals):
    bad = got != np.clip(want, 0, 255)
    diff, off_tie = int(bad.sum()), int((bad & ~ties).sum())
    totals[0] += got.size
    totals[1] += diff
    totals[2] += int(ties.sum())
    totals[3] += off_tie
    print(f"{title}: {diff} of {got.size} differ, {off_tie} off a tie ({int(ties.sum())} ties)")


def run(model, x):
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {"x": x})[0].astype(np.int64)


def scalars(scale, zp):
    return [
        helper.make_tensor("s", TensorProto.FLOAT, [], [scale]),
        helper.make_tensor("z", TensorProto.UINT8, [], [zp]),
    ]


def avgpool_model(shape, k, s, pads, include, scale, zp):
    node = helper.make_node(
        "QLinearAveragePool", ["x", "s", "z", "s", "z"], ["y"], domain="com.microsoft",
        kernel_shape=list(k), strides=list(s), pads=[pads[0], pads[2], pads[1], pads[3]],
        count_include_pad=int(include))
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.UINT8, shape)],
                          [helper.make_tensor_value_info("y", TensorProto.UINT8, None)],
                          initializer=scalars(scale, zp))
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("com.microsoft", 1)])


def global_model(shape, scale, zp):
    node = helper.make_node("QLinearGlobalAveragePool", ["x", "s", "z", "s", "z"], ["y"],
                            domain="com.microsoft", channels_last=0)
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.UINT8, shape)],
                          [helper.make_tensor_value_info("y", TensorProto.UINT8, None)],
                          initializer=scalars(scale, zp))
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("com.microsoft", 1)])


def main():
    rng = np.random.default_rng(14)
    totals = [0, 0, 0, 0]  # outputs, differing, ties, differing off a tie
    cases = [
        ((3, 3), (1, 1), (1, 1, 1, 1), False), ((3, 3), (1, 1), (1, 1, 1, 1), True),
        ((3, 3), (2, 2), (1, 1, 1, 1), False), ((2, 2), (2, 2), (0, 0, 0, 0), False),
        ((3, 3), (2, 2), (0, 1, 0, 1), True), ((5, 5), (1, 1), (2, 2, 2, 2), False),
        ((2, 3), (1, 2), (1, 0, 2, 1), False), ((7, 7), (1, 1), (0, 0, 0, 0), False),
    ]
    for scale, zp in [(1.0, 0), (0.05, 128), (0.0235, 3)]:
        for k, s, pads, include in cases:
            shape = [2, 8, 9, 10]
            x = rng.integers(0, 256, shape, dtype=np.uint8)
            # Low-variance inputs make ties frequent.
            x[1] = rng.integers(100, 104, shape[1:], dtype=np.uint8)
            want, ties = exact(x, k, s, pads, include, zp)
            got = run(avgpool_model(shape, k, s, pads, include, scale, zp), x)
            report(f"AveragePool k={k} s={s} pads={pads} include={int(include)} scale={scale} zp={zp}",
                   got, want, ties, totals)
        for hw in [(7, 7), (6, 6), (3, 5), (14, 14)]:
            shape = [4, 16, *hw]
            x = rng.integers(0, 256, shape, dtype=np.uint8)
            x[2:] = rng.integers(50, 53, [2, 16, *hw], dtype=np.uint8)
            want, ties = exact(x, hw, (1, 1), (0, 0, 0, 0), False, zp)
            got = run(global_model(shape, scale, zp), x)
            report(f"GlobalAveragePool {hw} scale={scale} zp={zp}", got, want, ties, totals)
        print(f"scale {scale}, zero point {zp}: {totals[1]} of {totals[0]} outputs differ from "
              f"round-half-even, {totals[3]} of them off a tie ({totals[2]} ties); onnxruntime {ort.__version__}")
        totals[:] = [0, 0, 0, 0]


if __name__ == "__main__":
    main()
