#!/usr/bin/env python3
"""Whether onnxruntime's QLinearConv on uint8 x int8 is exact on this CPU.

Builds one 3x3 QLinearConv (32 -> 32 channels, 16x16, scales chosen so that the output keeps
the accumulator's magnitude: y = round(acc / 1024) + 128) and compares onnxruntime's output with
the exact sum computed in int64, for three kinds of weights (as `benches/layers.py --weights`):
uniformly random bytes, per-channel quantized normal values to +-127 (`trained`) and to +-63
(`reduced`, onnxruntime's `reduce_range`). On CPUs without VNNI, onnxruntime multiplies with
`vpmaddubsw`, whose pairs of products saturate at 16 bits: outputs differ unless the weights are
reduced. Convoy's results are the exact sums on every CPU (its tests compare them with the
interpreter bit for bit).

Usage: build/venv/bin/python benches/ort_exactness.py
"""
import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

C, OC, H, W = 32, 32, 16, 16


def weights(kind, rng):
    if kind == "uniform":
        return rng.integers(-128, 128, (OC, C, 3, 3), dtype=np.int8)
    top = 127 if kind == "trained" else 63
    z = rng.standard_normal((OC, C, 3, 3))
    scale = np.abs(z).reshape(OC, -1).max(axis=1).reshape(-1, 1, 1, 1) / top
    return np.clip(np.round(z / scale), -top, top).astype(np.int8)


def onnxruntime_output(w, x):
    f = lambda n, v: numpy_helper.from_array(np.array(v, np.float32), n)
    inits = [numpy_helper.from_array(w, "w"), f("xs", 1.0), numpy_helper.from_array(np.array(0, np.uint8), "xz"),
             f("ws", 1.0), numpy_helper.from_array(np.array(0, np.int8), "wz"), f("ys", 1024.0),
             numpy_helper.from_array(np.array(128, np.uint8), "yz")]
    node = helper.make_node("QLinearConv", ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz"], ["y"], pads=[1, 1, 1, 1])
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.UINT8, [1, C, H, W])],
                              [helper.make_tensor_value_info("y", TensorProto.UINT8, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {"x": x})[0][0].astype(np.int64)


def exact_output(w, x):
    xp = np.pad(x[0].astype(np.int64), ((0, 0), (1, 1), (1, 1)))
    acc = np.zeros((OC, H, W), np.int64)
    for ky in range(3):
        for kx in range(3):
            acc += np.einsum("oc,chw->ohw", w[:, :, ky, kx].astype(np.int64), xp[:, ky:ky + H, kx:kx + W])
    # round half to even, as onnxruntime's requantization
    return np.clip(np.round(acc / 1024.0) + 128, 0, 255)


def main():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (1, C, H, W), dtype=np.uint8)
    print(f"onnxruntime {ort.__version__}: QLinearConv 3x3 {C} -> {OC} on {H}x{W}, uint8 x int8")
    for kind in ["uniform", "trained", "reduced"]:
        w = weights(kind, rng)
        diff = np.abs(onnxruntime_output(w, x) - exact_output(w, x))
        # A difference of 1 can be the float requantization's rounding.
        wrong = int((diff > 1).sum())
        print(f"  {kind:8} weights: {wrong} of {diff.size} outputs off by more than 1 (max {int(diff.max())})")


if __name__ == "__main__":
    main()
