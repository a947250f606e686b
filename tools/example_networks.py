#!/usr/bin/env python3
"""Builds the example networks' weights and their onnxruntime goldens, offline.

For each network NAME of `examples/NAME.cnn` this script draws the integer
weights (fixed seeds, shaped like trained weights: Gaussian kernels scaled to
the layer's fan-in, small biases, PReLU slopes near 0.25), writes them to
`examples/NAME/*.npy` (the files the script `load()`s), builds the SAME
network as an ONNX model with `onnx.helper`, runs onnxruntime (CPU) on a test
image and writes the image and the outputs to `examples/NAME/golden/`. The
`test NAME_onnxruntime` block of the example compares Convoy's outputs with
those files value for value (`convoy test examples`).

Nothing here computes a golden with Convoy: the values are onnxruntime's.
The model is also written (`build/example_networks/NAME.onnx`, not
committed) for inspection with Netron or `convoy import`.

Exactness. onnxruntime computes requantizations in float32; each network is
designed so that float32 gives the exact result, and says how:

* integer convolutions are ConvInteger / QLinearConv (exact int32
  accumulators; every accumulator here is far below 2^31);
* float operations only ever see integers or dyadic rationals of at most
  24 significant bits, so Cast, Add, Mul by a power of two, Floor, Clip,
  MaxPool, MaxUnpool and a ConvTranspose with integer weights whose sums
  stay below 2^24 are exact (`Net.float_conv_bound` asserts the sums);
* a requantization `round_half_even(v * M)` (QLinearConv, QuantizeLinear)
  uses multipliers `M = n * 2^-k` that float32 holds exactly, with at most
  16 fraction bits in `v * M`: then `v * M` is a tie exactly when the
  float32 product is, and otherwise lies at least 2^-16 away from the
  nearest half while float32's rounding error is below 2^-17 for every
  |v * M| < 256 (larger values saturate), so no rounding goes the other
  way;
* a transcendental function (QLinearSigmoid, Tanh) is computed by
  onnxruntime in float32 and then rounded to 8 bits, while Convoy's table
  is correctly rounded. They can differ only where the exact value lies
  within float32's error of a rounding boundary: the script compares
  onnxruntime's table with a float64 evaluation on every code and reports
  the distance to the nearest boundary (no entry is closer than 1e-4, so
  they agree).

Every model also runs with onnxruntime's graph optimizations disabled; the
outputs must be identical (they are), so the goldens do not depend on a
fusion.

    build/venv/bin/python tools/example_networks.py [NAME ...]   (make example-goldens)
"""

import math
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
EXAMPLES = os.path.join(ROOT, "examples")
MODELS = os.path.join(ROOT, "build", "example_networks")
OPSET = 17

NP_TO_ONNX = {
    np.dtype(np.uint8): TensorProto.UINT8,
    np.dtype(np.int8): TensorProto.INT8,
    np.dtype(np.int32): TensorProto.INT32,
    np.dtype(np.int64): TensorProto.INT64,
    np.dtype(np.float32): TensorProto.FLOAT,
}


ort.set_default_logger_severity(3)


def image(rng, c, h, w):
    """A smooth, textured u8 test image: a few plane waves per channel, an
    offset and sensor noise (random u8 noise would be unlike any camera)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    out = np.empty((c, h, w))
    for ch in range(c):
        plane = 110 + rng.uniform(-30, 30) + rng.normal(0, 6, (h, w))
        for _ in range(3):
            fy, fx = rng.uniform(-0.5, 0.5, 2)
            plane += rng.uniform(15, 45) * np.sin(fy * yy + fx * xx + rng.uniform(0, 2 * np.pi))
        out[ch] = plane
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


class Net:
    """One network: its weights (written as .npy), its ONNX graph, its run."""

    def __init__(self, name, seed):
        self.name = name
        self.rng = np.random.default_rng(seed)
        self.nodes = []
        self.inits = []
        self.params = {}
        self.n = 0
        self.opsets = {"": OPSET}

    # -- data ---------------------------------------------------------------

    def param(self, name, array):
        """A weight the example `load()`s from `NAME/<name>.npy`, and the
        ONNX initializer of the same name."""
        self.params[name] = array
        self.inits.append(numpy_helper.from_array(array, name))
        return name

    def save(self, name, array):
        """A weight the example `load()`s that the ONNX graph uses in another
        form (a float copy, a derived scale)."""
        self.params[name] = array

    def const(self, value, dtype):
        self.n += 1
        name = f"k{self.n}"
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def kernel(self, shape, peak=100):
        """int8 weights like a trained layer's: N(0, 1/sqrt(fan_in)) scaled
        so the largest is `peak` (per-tensor symmetric quantization)."""
        fan_in = int(np.prod(shape[1:]))
        w = self.rng.normal(0, 1 / math.sqrt(fan_in), size=shape)
        w *= peak / np.abs(w).max()
        return np.clip(np.rint(w), -127, 127).astype(np.int8)

    def bias(self, n, std, dtype=np.int32):
        return np.rint(self.rng.normal(0, std, size=n)).astype(dtype)

    # -- graph --------------------------------------------------------------

    def op(self, op, ins, domain="", **attrs):
        self.n += 1
        out = f"{op.lower()}{self.n}"
        self.nodes.append(helper.make_node(op, ins, [out], domain=domain or None, **attrs))
        if domain:
            self.opsets[domain] = 1
        return out

    def ops(self, op, ins, n_out, **attrs):
        self.n += 1
        outs = [f"{op.lower()}{self.n}_{k}" for k in range(n_out)]
        self.nodes.append(helper.make_node(op, ins, outs, **attrs))
        return outs

    def conv_int(self, x, w, b, x_zp=None, **attrs):
        """ConvInteger (u8 or i8 input, i8 weights) plus an int32 bias."""
        ins = [x, w] if x_zp is None else [x, w, x_zp]
        acc = self.op("ConvInteger", ins, **attrs)
        return self.op("Add", [acc, self.op("Reshape", [b, self.const([-1, 1, 1], np.int64)])])

    def per_channel(self, v, dtype):
        """A [C] vector as [C, 1, 1] for broadcasting over a map."""
        return self.op("Reshape", [v, self.const([-1, 1, 1], np.int64)])

    def to_float(self, x):
        return self.op("Cast", [x], to=TensorProto.FLOAT)

    def floor_shift_sat(self, v, shift, lo, hi, to):
        """`(v >> shift) as T sat` on an integer value: floor(v / 2^shift)
        (exact in float32 below 2^24), clamped to [lo, hi], cast to `to`."""
        f = self.op("Floor", [self.op("Mul", [self.to_float(v), self.const(2.0 ** -shift, np.float32)])])
        f = self.op("Clip", [f, self.const(lo, np.float32), self.const(hi, np.float32)])
        return self.op("Cast", [f], to=to)

    def float_conv_bound(self, w, x_max):
        """Asserts that a float convolution with integer weights on integers
        of magnitude <= x_max keeps every partial sum below 2^24 (exact)."""
        bound = int(np.abs(w.astype(np.int64)).sum(axis=tuple(range(1, w.ndim))).max()) * x_max
        # A transposed convolution sums over input channels: bound by the whole kernel.
        bound = max(bound, int(np.abs(w.astype(np.int64)).sum()) * x_max)
        assert bound < 2**24, f"{self.name}: float convolution sums may reach {bound}"

    # -- run ----------------------------------------------------------------

    def run(self, inputs, outputs):
        """Runs the graph on one image per input (batch axis added here);
        returns the outputs without their batch axis."""
        g_in = [helper.make_tensor_value_info(n, NP_TO_ONNX[a.dtype], [1, *a.shape]) for n, a in inputs.items()]
        opsets = [helper.make_opsetid(d, v) for d, v in self.opsets.items()]
        # The outputs' types from shape inference (contrib ops infer too).
        probe = helper.make_model(helper.make_graph(self.nodes, self.name, g_in, [], self.inits), opset_imports=opsets)
        known = {v.name: v.type.tensor_type.elem_type for v in onnx.shape_inference.infer_shapes(probe).graph.value_info}
        for n in inputs:
            known[n] = NP_TO_ONNX[inputs[n].dtype]
        # Shape inference stops at contrib ops (QLinearSigmoid ...): those
        # keep their input's type, and so does what follows, but for these.
        fixed = {"MatMulInteger": TensorProto.INT32, "ConvInteger": TensorProto.INT32, "ArgMax": TensorProto.INT64}
        for node in self.nodes:
            for o in node.output:
                known.setdefault(o, fixed.get(node.op_type, known.get(node.input[0])))
        g_out = [helper.make_tensor_value_info(o, known[o], None) for o in outputs.values()]
        graph = helper.make_graph(self.nodes, self.name, g_in, g_out, self.inits)
        model = helper.make_model(graph, opset_imports=opsets)
        model.ir_version = 8
        os.makedirs(MODELS, exist_ok=True)
        onnx.save(model, os.path.join(MODELS, f"{self.name}.onnx"))
        feeds = {n: a[None] for n, a in inputs.items()}
        results = []
        for level in (ort.GraphOptimizationLevel.ORT_ENABLE_ALL, ort.GraphOptimizationLevel.ORT_DISABLE_ALL):
            so = ort.SessionOptions()
            so.graph_optimization_level = level
            so.intra_op_num_threads = 1
            sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
            results.append(sess.run(list(outputs.values()), feeds))
        for a, b in zip(*results):
            assert a.dtype == b.dtype and np.array_equal(a, b), f"{self.name}: optimizations change the result"
        return {k: r[0] for k, r in zip(outputs, results[0])}

    def write(self, inputs, goldens):
        folder = os.path.join(EXAMPLES, self.name)
        os.makedirs(os.path.join(folder, "golden"), exist_ok=True)
        for name, a in self.params.items():
            np.save(os.path.join(folder, f"{name}.npy"), a)
        for name, a in {**inputs, **goldens}.items():
            np.save(os.path.join(folder, "golden", f"{name}.npy"), a)
        total = sum(a.size for a in goldens.values())
        print(f"{self.name}: {total} golden values ({', '.join(f'{k} {list(v.shape)} {v.dtype}' for k, v in goldens.items())})")
        for k, v in goldens.items():
            flat = v.reshape(-1)
            print(f"    {k}: min {flat.min()} max {flat.max()} distinct {len(np.unique(flat))}")


def conv_ref(x, w, pad, stride=1, groups=1):
    """Integer convolution (square zero padding), for calibrating biases,
    shifts and scales only: the goldens come from onnxruntime."""
    xp = np.pad(x.astype(np.int64), ((0, 0), (pad, pad), (pad, pad)))
    o, i, kh, kw = w.shape
    h = (x.shape[1] + 2 * pad - kh) // stride + 1
    ww = (x.shape[2] + 2 * pad - kw) // stride + 1
    out = np.zeros((o, h, ww), np.int64)
    og = o // groups
    for g in range(groups):
        xg = xp[g * i:(g + 1) * i]
        wg = w[g * og:(g + 1) * og].astype(np.int64)
        for ky in range(kh):
            for kx in range(kw):
                win = xg[:, ky:ky + (h - 1) * stride + 1:stride, kx:kx + (ww - 1) * stride + 1:stride]
                out[g * og:(g + 1) * og] += np.einsum("oi,ihw->ohw", wg[:, :, ky, kx], win)
    return out


def floor_sat(v, shift, lo, hi):
    """`(v >> shift) as T sat` (calibration model)."""
    return np.clip(np.floor_divide(v, 2**shift), lo, hi)


def maxpool2_ref(x):
    """2x2 max-pooling with PyTorch's per-plane indices (first maximum)."""
    c, h, w = x.shape
    win = x.reshape(c, h // 2, 2, w // 2, 2).transpose(0, 1, 3, 2, 4).reshape(c, h // 2, w // 2, 4)
    k = win.argmax(axis=3)
    oy, ox = np.mgrid[0:h // 2, 0:w // 2]
    return win.max(axis=3), (2 * oy + k // 2) * w + 2 * ox + k % 2


def maxunpool2_ref(v, idx):
    c, h, w = v.shape
    out = np.zeros((c, 4 * h * w), np.int64)
    for ch in range(c):
        out[ch, idx[ch].reshape(-1)] = v[ch].reshape(-1)
    return out.reshape(c, 2 * h, 2 * w)


def centering_bias(rng, acc, spread):
    """A bias that centres each channel's accumulator on the image, plus
    `spread` standard deviations of noise (as batch norm folding leaves)."""
    c = acc.shape[0]
    sd = acc.reshape(c, -1).std(axis=1)
    return np.rint(-acc.reshape(c, -1).mean(axis=1) + rng.normal(0, spread, c) * sd).astype(np.int32)


def stats(label, v, lo, hi):
    v = np.asarray(v)
    print(f"    {label}: {np.mean(v <= lo) * 100:.1f}% at {lo}, {np.mean(v >= hi) * 100:.1f}% at {hi}")


# ---------------------------------------------------------------------------
# The networks
# ---------------------------------------------------------------------------


def requant():
    """Per-channel requantization, as QLinearConv with a per-channel weight
    scale: u8 x (scale 2^-8), i8 w (scale n_c * 2^-12), int32 bias, u8 y
    (scale 2^-4, zero point 0: the clamp at 0 is the relu); then a linear
    1x1 layer to u8 with zero point 128. The multiplier x_s * w_s[c] / y_s
    is n_c * 2^-16 exactly in float32 (`m1`, `m2`: ufixed<16, 0>)."""
    net = Net("requant", 1401)
    x = image(net.rng, 16, 16, 16)
    w1 = net.kernel((32, 16, 3, 3))
    w2 = net.kernel((16, 32, 1, 1))
    # Per-channel multipliers from the channel's accumulator spread on the
    # image (a calibration): the scale that maps 3 standard deviations to 255.
    def multipliers(acc, target):
        sd = acc.reshape(acc.shape[0], -1).std(axis=1) + 1
        return np.clip(np.rint(target / (3 * sd) * 2**16), 1, 2**16 - 1).astype(np.int64)

    acc1 = conv_ref(x, w1, 1)
    b1 = centering_bias(net.rng, acc1, 0.5)
    n1 = multipliers(acc1, 200)
    y1_est = np.clip(np.rint((acc1 + b1[:, None, None]) * n1[:, None, None] / 2**16), 0, 255)
    acc2 = conv_ref(y1_est, w2, 0)
    b2 = centering_bias(net.rng, acc2, 0.2)
    n2 = multipliers(acc2, 127)
    net.param("w1", w1)
    net.param("b1", b1)
    net.param("w2", w2)
    net.param("b2", b2)
    net.save("m1", (n1 / 2**16).astype(np.float64))
    net.save("m2", (n2 / 2**16).astype(np.float64))
    xs, ys = net.const(2.0**-8, np.float32), net.const(2.0**-4, np.float32)
    zu = net.const(0, np.uint8)
    w1s = net.const(n1 * 2.0**-12, np.float32)
    w2s = net.const(n2 * 2.0**-16, np.float32)  # layer 2: x and y scales both 2^-4
    zw = net.const(np.zeros(32, np.int8), np.int8)
    zw2 = net.const(np.zeros(16, np.int8), np.int8)
    y1 = net.op("QLinearConv", ["x", xs, zu, "w1", w1s, zw, ys, zu, "b1"], pads=[1, 1, 1, 1])
    y2 = net.op("QLinearConv", [y1, ys, zu, "w2", w2s, zw2, ys, net.const(128, np.uint8), "b2"])
    out = net.run({"x": x}, {"y1": y1, "y2": y2})
    stats("y1", out["y1"], 0, 255)
    stats("y2", out["y2"], 0, 255)
    net.write({"x": x}, out)


def check_rounding(label, x, codes, f, scale, zp):
    """onnxruntime's float32 `f` rounded to codes, against float64: equal on
    every value, and the exact value never near a rounding boundary (so the
    correctly rounded table, Convoy's, gives the same codes)."""
    v = np.vectorize(f)(x.astype(np.float64)) / scale + zp
    margin = np.abs(v - np.floor(v) - 0.5).min()
    expect = np.clip(np.rint(v), np.iinfo(codes.dtype).min, np.iinfo(codes.dtype).max)
    assert np.array_equal(expect, codes), f"{label}: onnxruntime differs from float64"
    assert margin > 1e-6, f"{label}: a value lies {margin} from a rounding boundary"
    print(f"    {label}: float64 agrees; nearest rounding boundary {margin:.2e} away")


def activations():
    """PReLU, sigmoid, tanh and hard-swish on one convolution. PReLU: the
    ConvInteger accumulator plus bias, PRelu (slopes k / 64), QuantizeLinear
    (scale 2^8, i8). The activations read p at scale 1/16: QLinearSigmoid
    (y scale 1/256, zero point -128), DequantizeLinear -> Tanh ->
    QuantizeLinear (scale 1/128), and hard-swish h * clip(h + 3, 0, 6) * k6
    with k6 = 171/1024 (1/6 to 10 bits) -> QuantizeLinear (scale 1/16): every
    float value there has at most 21 significant bits, so it is exact.
    Goldens of fixed-point outputs are real values (code - zp) * scale."""
    net = Net("activations", 1402)
    x = image(net.rng, 8, 12, 12)
    w = net.kernel((8, 8, 3, 3))
    acc = conv_ref(x, w, 1)
    b = centering_bias(net.rng, acc, 0.3)
    slope = np.rint(net.rng.uniform(0.1, 0.4, 8) * 64) / 64
    net.param("w", w)
    net.param("b", b)
    net.save("slope", slope)
    a = net.to_float(net.conv_int("x", "w", "b", pads=[1, 1, 1, 1]))
    pr = net.op("PRelu", [a, net.const(slope.reshape(8, 1, 1), np.float32)])
    z8 = net.const(0, np.int8)
    p = net.op("QuantizeLinear", [pr, net.const(256.0, np.float32), z8])
    s16 = net.const(1 / 16, np.float32)
    sg = net.op("QLinearSigmoid", [p, s16, z8, net.const(1 / 256, np.float32), net.const(-128, np.int8)],
                domain="com.microsoft")
    h = net.op("DequantizeLinear", [p, s16, z8])
    th = net.op("QuantizeLinear", [net.op("Tanh", [h]), net.const(1 / 128, np.float32), z8])
    r6 = net.op("Clip", [net.op("Add", [h, net.const(3.0, np.float32)]), net.const(0.0, np.float32),
                         net.const(6.0, np.float32)])
    hs_v = net.op("Mul", [net.op("Mul", [h, r6]), net.const(171 / 1024, np.float32)])
    hs = net.op("QuantizeLinear", [hs_v, s16, z8])
    out = net.run({"x": x}, {"p": p, "sg": sg, "th": th, "hs": hs})
    stats("p", out["p"], -128, 127)
    hv = out["p"].astype(np.float64) / 16
    check_rounding("sigmoid", hv, out["sg"], lambda t: 1 / (1 + math.exp(-t)), 1 / 256, -128)
    check_rounding("tanh", hv, out["th"], math.tanh, 1 / 128, 0)
    goldens = {
        "p": out["p"],
        "sg": (out["sg"].astype(np.float64) + 128) / 256,
        "th": out["th"].astype(np.float64) / 128,
        "hs": out["hs"].astype(np.float64) / 16,
    }
    net.write({"x": x}, goldens)


def deconv_ref(x, w, stride, pad, output_pad):
    """Integer transposed convolution (groups 1), for calibration only."""
    ci, h, ww = x.shape
    _, co, kh, kw = w.shape
    full = np.zeros((co, (h - 1) * stride + kh, (ww - 1) * stride + kw), np.int64)
    for ky in range(kh):
        for kx in range(kw):
            full[:, ky:ky + (h - 1) * stride + 1:stride, kx:kx + (ww - 1) * stride + 1:stride] += np.einsum(
                "io,ihw->ohw", w[:, :, ky, kx].astype(np.int64), x.astype(np.int64))
    ho = (h - 1) * stride - 2 * pad + kh + output_pad
    wo = (ww - 1) * stride - 2 * pad + kw + output_pad
    out = np.zeros((co, ho, wo), np.int64)
    part = full[:, pad:pad + ho, pad:pad + wo]
    out[:, :part.shape[1], :part.shape[2]] = part
    return out


def shift_for(v, target):
    """The power of two that brings the spread of `v` near `target`."""
    return max(0, round(math.log2(max(np.abs(v).std(), 1) / target)))


def fsrcnn():
    """FSRCNN x2 (Dong et al. 2016; d = 12, s = 6, m = 2) on a 16x16 luma
    patch: feature extraction 5x5, shrinking 1x1, two 3x3 mapping layers,
    expanding 1x1, each with a per-channel PReLU, then a 9x9 stride-2
    transposed convolution to 32x32. Each layer is ConvInteger + bias ->
    PRelu (slopes k / 64) -> QuantizeLinear (scale 2^k, i8): the float
    values have at most 6 + k <= 16 fraction bits and lie below 2^24 (see
    the module's note). The transposed convolution is a float ConvTranspose
    on the i8 codes and integer weights (sums below 2^24, asserted) ->
    QuantizeLinear (scale 2^k, u8)."""
    net = Net("fsrcnn", 1403)
    x = image(net.rng, 1, 16, 16)
    layers = [("f", 12, 1, 5), ("s", 6, 12, 1), ("m1", 6, 6, 3), ("m2", 6, 6, 3), ("e", 12, 6, 1)]
    cur_ref, cur = x, "x"
    shifts, lets = {}, {}
    for name, co, ci, k in layers:
        w = net.kernel((co, ci, k, k))
        acc = conv_ref(cur_ref, w, k // 2)
        b = centering_bias(net.rng, acc, 0.3)
        slope = np.rint(net.rng.uniform(0.1, 0.3, co) * 64) / 64
        v = acc + b[:, None, None]
        pr = np.where(v > 0, v, v * slope[:, None, None])
        k_shift = shift_for(pr, 40)
        shifts[name] = k_shift
        assert 6 + k_shift <= 16
        net.param(f"w_{name}", w)
        net.param(f"b_{name}", b)
        net.save(f"a_{name}", slope)
        a = net.to_float(net.conv_int(cur, f"w_{name}", f"b_{name}", pads=[k // 2] * 4))
        prl = net.op("PRelu", [a, net.const(slope.reshape(co, 1, 1), np.float32)])
        cur = net.op("QuantizeLinear", [prl, net.const(2.0**k_shift, np.float32), net.const(0, np.int8)])
        lets[name] = cur
        cur_ref = np.clip(np.rint(pr / 2**k_shift), -128, 127).astype(np.int64)  # calibration only
    w_d = net.kernel((12, 1, 9, 9))
    acc = deconv_ref(cur_ref, w_d, 2, 4, 1)
    b_d = centering_bias(net.rng, acc, 0.0) + 0  # the image's mean is added back below
    mean = int(np.rint(x.mean()))
    k_d = shift_for(acc, 40)
    b_d = (b_d + mean * 2**k_d).astype(np.int32)
    shifts["d"] = k_d
    net.float_conv_bound(w_d, 128)
    net.save("w_d", w_d)
    net.save("b_d", b_d)
    d = net.op("ConvTranspose", [net.to_float(cur), net.const(w_d, np.float32), net.const(b_d, np.float32)],
               strides=[2, 2], pads=[4, 4, 4, 4], output_padding=[1, 1])
    y = net.op("QuantizeLinear", [d, net.const(2.0**k_d, np.float32), net.const(0, np.uint8)])
    # The calibration's result, written in examples/fsrcnn.cnn.
    assert shifts == {"f": 7, "s": 6, "m1": 7, "m2": 7, "e": 5, "d": 8}, shifts
    out = net.run({"x": x}, {**lets, "y": y})
    stats("y", out["y"], 0, 255)
    # The i8 layers are `fixed<8, 8, rnd_conv, sat>` lets: float64 goldens.
    net.write({"x": x}, {k: v.astype(np.float64) if k in lets else v for k, v in out.items()})


class Floor:
    """The floor-shift requantization of the standard-library blocks,
    `(relu(conv(x, w) + b) >> shift) as u8 sat`, in ONNX: ConvInteger plus
    the int32 bias, Cast to float (exact: |v| < 2^24), Mul by 2^-shift
    (exact), Floor, Clip to the target's range (the clamp at 0 is the
    relu), Cast. Also the numpy model used to calibrate shifts."""

    def __init__(self, net):
        self.net = net

    def conv(self, x, w, b, shift, lo=0, hi=255, to=TensorProto.UINT8, **attrs):
        acc = self.net.op("ConvInteger", [x, w], **attrs)
        if b is not None:
            acc = self.net.op("Add", [acc, self.net.per_channel(b, np.int32)])
        return self.net.floor_shift_sat(acc, shift, lo, hi, to)


def layer(net, name, x_ref, shape, target=60, pad=0, stride=1, groups=1, spread=0.3, bias=True):
    """Draws a layer's weights (and bias) and the shift that brings its
    accumulator's spread near `target`; returns (w, b, shift, acc)."""
    w = net.kernel(shape)
    acc = conv_ref(x_ref, w, pad, stride, groups)
    b = centering_bias(net.rng, acc, spread) if bias else None
    if b is not None:
        acc = acc + b[:, None, None]
    return w, b, shift_for(np.maximum(acc, 0), target), acc


def mobilenet_v2():
    """Two MobileNetV2 inverted residuals (stride 1, expansion 4, the residual
    add) and the first block of the next stage (stride 2, 24 channels, no
    residual), as std::blocks::inverted_residual / inverted_residual_down
    compute them: floor shifts (`Floor`), u8 saturation (`Clip`), the
    projection to i8, `x + p` saturated to u8 (Add, Clip)."""
    net = Net("mobilenet_v2", 1404)
    fl = Floor(net)
    x = image(net.rng, 16, 16, 16)
    cur, cur_ref = "x", x.astype(np.int64)
    outs = {}
    shifts = {}
    for blk, co, stride in [("a", 16, 1), ("b", 16, 1), ("c", 24, 2)]:
        ci = cur_ref.shape[0]
        w_exp = net.kernel((64, ci, 1, 1))
        acc = conv_ref(cur_ref, w_exp, 0)
        b_exp = centering_bias(net.rng, acc, 0.5)
        shift = shift_for(acc, 50)
        e = floor_sat(acc + b_exp[:, None, None], shift, 0, 255)
        # Expansion and depthwise share the block's `shift`: the depthwise
        # kernel's peak is chosen so that its accumulator suits it.
        state = net.rng.bit_generator.state
        probe = conv_ref(e, net.kernel((64, 1, 3, 3)), 1, stride, 64)
        net.rng.bit_generator.state = state
        peak = int(np.clip(100 * 50 * 2**shift / (probe.std() + 1), 16, 127))
        w_dw = net.kernel((64, 1, 3, 3), peak)
        acc = conv_ref(e, w_dw, 1, stride, 64)
        b_dw = centering_bias(net.rng, acc, 0.5)
        d = floor_sat(acc + b_dw[:, None, None], shift, 0, 255)
        w_proj = net.kernel((co, 64, 1, 1))
        acc = conv_ref(d, w_proj, 0)
        b_proj = centering_bias(net.rng, acc, 0.2 if stride == 1 else 0.5)
        proj_shift = shift_for(acc, 25 if stride == 1 else 50)
        shifts[blk] = (shift, proj_shift)
        for n, a in [("exp", w_exp), ("eb", b_exp), ("dw", w_dw), ("db", b_dw), ("proj", w_proj), ("pb", b_proj)]:
            net.param(f"{blk}_{n}", a)
        e_o = fl.conv(cur, f"{blk}_exp", f"{blk}_eb", shift)
        d_o = fl.conv(e_o, f"{blk}_dw", f"{blk}_db", shift, pads=[1] * 4, strides=[stride] * 2, group=64)
        if stride == 1:
            p_ref = floor_sat(acc + b_proj[:, None, None], proj_shift, -128, 127)
            p_o = fl.conv(d_o, f"{blk}_proj", f"{blk}_pb", proj_shift, lo=-128, hi=127, to=TensorProto.INT8)
            s_o = net.op("Add", [net.to_float(cur), net.to_float(p_o)])
            s_o = net.op("Clip", [s_o, net.const(0.0, np.float32), net.const(255.0, np.float32)])
            cur = net.op("Cast", [s_o], to=TensorProto.UINT8)
            cur_ref = np.clip(cur_ref + p_ref, 0, 255)
            stats(f"{blk}.p", p_ref, -128, 127)
        else:
            cur = fl.conv(d_o, f"{blk}_proj", f"{blk}_pb", proj_shift)
            cur_ref = floor_sat(acc + b_proj[:, None, None], proj_shift, 0, 255)
        stats(f"{blk}.e", e, 0, 255)
        stats(f"{blk}.d", d, 0, 255)
        stats(f"{blk}", cur_ref, 0, 255)
        outs[{"a": "r1", "b": "r2", "c": "r3"}[blk]] = cur
    # The calibration's result, written in examples/mobilenet_v2.cnn.
    assert shifts == {"a": (7, 6), "b": (8, 5), "c": (8, 4)}, shifts
    out = net.run({"x": x}, outs)
    assert np.array_equal(out["r3"], cur_ref), "the calibration model differs from onnxruntime"
    net.write({"x": x}, out)


def dsconv_layer(net, prefix, x_ref, co, target=50):
    """std::blocks::dsconv's weights: depthwise 3x3 and pointwise 1x1 with
    one shift, the smaller of the two layers' own; the depthwise kernel's
    peak is lowered to suit it; returns (names, shift, output of the
    calibration model)."""
    ci = x_ref.shape[0]

    def draw_pair(dw_peak, shift):
        w_dw = net.kernel((ci, 1, 3, 3), dw_peak)
        acc = conv_ref(x_ref, w_dw, 1, 1, ci)
        b_dw = centering_bias(net.rng, acc, 0.5)
        dw = floor_sat(acc + b_dw[:, None, None], shift, 0, 255)
        w_pw = net.kernel((co, ci, 1, 1))
        acc = conv_ref(dw, w_pw, 0)
        b_pw = centering_bias(net.rng, acc, 0.5)
        return w_dw, b_dw, w_pw, b_pw, acc + b_pw[:, None, None]

    state = net.rng.bit_generator.state
    shift = shift_for(conv_ref(x_ref, net.kernel((ci, 1, 3, 3)), 1, 1, ci), target)
    *_, acc = draw_pair(100, shift)
    net.rng.bit_generator.state = state
    pw_shift = min(shift, shift_for(np.maximum(acc, 0), target))
    w_dw, b_dw, w_pw, b_pw, acc = draw_pair(100 / 2 ** (shift - pw_shift), pw_shift)
    names = [f"{prefix}_dw", f"{prefix}_db", f"{prefix}_pw", f"{prefix}_pb"]
    for n, a in zip(names, [w_dw, b_dw, w_pw, b_pw]):
        net.param(n, a)
    return names, pw_shift, floor_sat(acc, pw_shift, 0, 255)


def dsconv_onnx(fl, x, names, shift):
    c = fl.net.params[names[0]].shape[0]
    dw = fl.conv(x, names[0], names[1], shift, pads=[1] * 4, group=c)
    return fl.conv(dw, names[2], names[3], shift)


def unet():
    """One U-Net level from standard-library blocks: dsconv (the skip),
    2x2 max-pooling, ds_deconv (a depthwise 4x4 stride-2 transposed
    convolution, then a 1x1 conv) back up, concatenation with the skip, a
    3x3 head. ConvInteger / Floor / Clip as in mobilenet_v2; the transposed
    convolution is a float ConvTranspose (group 16) on u8 codes and integer
    weights, sums below 2^24 (asserted); MaxPool and Concat on u8."""
    net = Net("unet", 1405)
    fl = Floor(net)
    x = image(net.rng, 8, 32, 32)
    enc, s_enc, skip = dsconv_layer(net, "e", x, 16)
    down = maxpool2_ref(skip)[0]
    w_up = net.kernel((16, 1, 4, 4))
    up_acc = np.concatenate([deconv_ref(down[c:c + 1], w_up[c:c + 1], 2, 1, 0) for c in range(16)])
    s_up = shift_for(up_acc, 60)
    up = floor_sat(up_acc, s_up, 0, 255)
    w_pw, b_pw, s_pw, acc = layer(net, "d", up, (8, 16, 1, 1), spread=0.5)
    upc = floor_sat(acc, s_pw, 0, 255)
    cat = np.concatenate([upc, skip])
    w_h = net.kernel((4, 24, 3, 3))
    acc = conv_ref(cat, w_h, 1)
    s_h = shift_for(np.maximum(acc, 0), 60)
    shifts = {"enc": s_enc, "up": s_up, "pw": s_pw, "head": s_h}
    assert shifts == {"enc": 5, "up": 6, "pw": 6, "head": 7}, shifts
    net.float_conv_bound(w_up, 255)
    net.param("d_up", w_up)
    net.param("d_pw", w_pw)
    net.param("d_pb", b_pw)
    net.param("h_w", w_h)
    skip_o = dsconv_onnx(fl, "x", enc, s_enc)
    down_o = net.op("MaxPool", [skip_o], kernel_shape=[2, 2], strides=[2, 2])
    up_o = net.op("ConvTranspose", [net.to_float(down_o), net.const(w_up, np.float32)], group=16,
                  strides=[2, 2], pads=[1, 1, 1, 1])
    up_o = net.op("Floor", [net.op("Mul", [up_o, net.const(2.0**-s_up, np.float32)])])
    up_o = net.op("Clip", [up_o, net.const(0.0, np.float32), net.const(255.0, np.float32)])
    up_o = fl.conv(net.op("Cast", [up_o], to=TensorProto.UINT8), "d_pw", "d_pb", s_pw)
    cat_o = net.op("Concat", [up_o, skip_o], axis=1)
    head = fl.conv(cat_o, "h_w", None, s_h, pads=[1] * 4)
    out = net.run({"x": x}, {"skip": skip_o, "up": up_o, "head": head})
    assert np.array_equal(out["head"], floor_sat(acc, s_h, 0, 255)), "the calibration model differs"
    for k in out:
        stats(k, out[k], 0, 255)
    net.write({"x": x}, out)


def segnet():
    """A two-level SegNet: each encoder level is a dsconv and a 2x2
    max-pooling with indices; each decoder level (std::blocks::segnet_up)
    max-unpools to exactly those positions and densifies with a 3x3 conv.
    MaxPool on u8 returns ONNX's flat indices (first maximum in raster
    order, as Convoy and PyTorch), MaxUnpool runs on the codes as floats
    (it has no integer kernel; exact)."""
    net = Net("segnet", 1406)
    fl = Floor(net)
    x = image(net.rng, 8, 32, 32)
    e1, s1, enc1 = dsconv_layer(net, "e1", x, 16)
    p1, i1 = maxpool2_ref(enc1)
    e2, s2, enc2 = dsconv_layer(net, "e2", p1, 32)
    p2, i2 = maxpool2_ref(enc2)
    u2 = maxunpool2_ref(p2, i2)
    w2, b2, t2, acc = layer(net, "d2", u2, (16, 32, 3, 3), pad=1, spread=0.5)
    dec2 = floor_sat(acc, t2, 0, 255)
    u1 = maxunpool2_ref(dec2, i1)
    w1, b1, t1, acc = layer(net, "d1", u1, (8, 16, 3, 3), pad=1, spread=0.5)
    shifts = {"e1": s1, "e2": s2, "d2": t2, "d1": t1}
    assert shifts == {"e1": 4, "e2": 5, "d2": 8, "d1": 7}, shifts
    for n, a in [("d2_w", w2), ("d2_b", b2), ("d1_w", w1), ("d1_b", b1)]:
        net.param(n, a)
    enc1_o = dsconv_onnx(fl, "x", e1, s1)
    p1_o, i1_o = net.ops("MaxPool", [enc1_o], 2, kernel_shape=[2, 2], strides=[2, 2])
    enc2_o = dsconv_onnx(fl, p1_o, e2, s2)
    p2_o, i2_o = net.ops("MaxPool", [enc2_o], 2, kernel_shape=[2, 2], strides=[2, 2])

    def segnet_up(v, idx, w, b, shift):
        u = net.op("MaxUnpool", [net.to_float(v), idx], kernel_shape=[2, 2], strides=[2, 2])
        return fl.conv(net.op("Cast", [u], to=TensorProto.UINT8), w, b, shift, pads=[1] * 4)

    dec2_o = segnet_up(p2_o, i2_o, "d2_w", "d2_b", t2)
    dec1_o = segnet_up(dec2_o, i1_o, "d1_w", "d1_b", t1)
    out = net.run({"x": x}, {"enc1": enc1_o, "enc2": enc2_o, "dec2": dec2_o, "dec": dec1_o})
    assert np.array_equal(out["dec"], floor_sat(acc, t1, 0, 255)), "the calibration model differs"
    # Ties: windows whose maximum appears more than once (the first wins).
    for name, v in [("enc1", enc1), ("enc2", enc2)]:
        c, h, w = v.shape
        win = v.reshape(c, h // 2, 2, w // 2, 2).transpose(0, 1, 3, 2, 4).reshape(c, h // 2, w // 2, 4)
        ties = int(((win == win.max(axis=3, keepdims=True)).sum(axis=3) > 1).sum())
        print(f"    {name}: {ties} pooling windows with a tied maximum")
    for k in out:
        stats(k, out[k], 0, 255)
    net.write({"x": x}, out)


def qlinear_conv(net, x, w, b, x_scale_exp, n, y_scale_exp, y_zp=0, **attrs):
    """QLinearConv, per tensor: x scale 2^x_scale_exp, w scale chosen so that
    the multiplier x_s * w_s / y_s is n * 2^-16 exactly (float32 holds
    every factor and the product); u8 output with zero point `y_zp`."""
    w_s = n * 2.0 ** (-16 + y_scale_exp - x_scale_exp)
    assert float(np.float32(w_s)) == w_s
    zu = net.const(0, np.uint8)
    ins = [x, net.const(2.0**x_scale_exp, np.float32), zu, w, net.const(w_s, np.float32), net.const(0, np.int8),
           net.const(2.0**y_scale_exp, np.float32), net.const(y_zp, np.uint8), b]
    return net.op("QLinearConv", ins, **attrs)


def multiplier(acc, target):
    """A per-tensor multiplier n * 2^-16 mapping 3 standard deviations of the
    accumulator to `target` (a calibration)."""
    return int(np.clip(np.rint(target / (3 * acc.std() + 1) * 2**16), 1, 2**16 - 1))


def espcn():
    """ESPCN x2 (Shi et al. 2016) on a 16x16 luma patch: conv 5x5 1 -> 16,
    conv 3x3 16 -> 8, conv 3x3 8 -> 4 (each QLinearConv: per-tensor
    multiplier n * 2^-16, zero point 0, so the clamp at 0 is the relu), then
    DepthToSpace (blocksize 2; with one output channel DCR and CRD, PyTorch's
    pixel_shuffle, are the same) to 32x32."""
    net = Net("espcn", 1407)
    x = image(net.rng, 1, 16, 16)
    cur, cur_ref, mult = "x", x.astype(np.int64), {}
    for name, co, ci, k, target in [("c1", 16, 1, 5, 200), ("c2", 8, 16, 3, 200), ("c3", 4, 8, 3, 160)]:
        w = net.kernel((co, ci, k, k))
        acc = conv_ref(cur_ref, w, k // 2)
        b = centering_bias(net.rng, acc, 0.5 if name != "c3" else 0.0)
        if name == "c3":  # the residual luma's mean comes back in the bias
            b = b + int(np.rint(x.mean() * 3 * acc.std() / target))
        n = multiplier(acc, target)
        mult[name] = n
        net.param(f"w_{name}", w)
        net.param(f"b_{name}", b)
        cur = qlinear_conv(net, cur, f"w_{name}", f"b_{name}", -8, n, -8, pads=[k // 2] * 4)
        cur_ref = np.clip(np.rint((acc + b[:, None, None]) * n / 2**16), 0, 255)
    print(f"    multipliers (n / 2^16) {mult}")
    assert mult == ESPCN_MULTIPLIERS, mult
    y = net.op("DepthToSpace", [cur], blocksize=2, mode="DCR")
    out = net.run({"x": x}, {"c3": cur, "y": y})
    stats("c3", out["c3"], 0, 255)
    net.write({"x": x}, out)


ESPCN_MULTIPLIERS = {"c1": 334, "c2": 563, "c3": 336}  # written in examples/espcn.cnn


def classifier():
    """A classifier tail on a [32, 7, 7] feature map: a 1x1 conv to 64
    channels (QLinearConv, multiplier n * 2^-16, relu by the zero point),
    global average pooling (QLinearGlobalAveragePool with equal input and
    output scales and zero points: the exact average rounded to nearest
    even; 49 is odd, so no average is a tie), a dense layer to 10 logits
    (Flatten, MatMulInteger, + int32 bias) and ArgMax (first maximum)."""
    net = Net("classifier", 1408)
    x = image(net.rng, 32, 7, 7)
    w1 = net.kernel((64, 32, 1, 1))
    acc = conv_ref(x, w1, 0)
    b1 = centering_bias(net.rng, acc, 0.5)
    n1 = multiplier(acc, 200)
    f = np.clip(np.rint((acc + b1[:, None, None]) * n1 / 2**16), 0, 255)
    g = np.rint(f.mean(axis=(1, 2)))
    wd = net.kernel((10, 64))
    logits = wd.astype(np.int64) @ g.astype(np.int64)
    bd = np.rint(-(logits - logits.mean()) * 0.5 + net.rng.normal(0, logits.std(), 10)).astype(np.int32)
    print(f"    multiplier {n1} / 2^16")
    assert n1 == CLASSIFIER_MULTIPLIER, n1
    net.param("w1", w1)
    net.param("b1", b1)
    net.param("wd", wd)
    net.param("bd", bd)
    f_o = qlinear_conv(net, "x", "w1", "b1", -8, n1, -4)
    s4, zu = net.const(2.0**-4, np.float32), net.const(0, np.uint8)
    g_o = net.op("QLinearGlobalAveragePool", [f_o, s4, zu, s4, zu], domain="com.microsoft", channels_last=0)
    flat = net.op("Flatten", [g_o], axis=1)
    wt = net.const(wd.T.copy(), np.int8)
    mm = net.op("MatMulInteger", [flat, wt, net.const(0, np.uint8), net.const(0, np.int8)])
    lg = net.op("Add", [mm, "bd"])
    cls = net.op("ArgMax", [lg], axis=1, keepdims=1)
    out = net.run({"x": x}, {"f": f_o, "g": g_o, "logits": lg, "class": cls})
    assert np.array_equal(out["f"], f), "the calibration model differs"
    assert np.array_equal(out["g"].reshape(-1), g), "onnxruntime's average differs from the exact one"
    goldens = {
        "f": out["f"],
        "g": out["g"].reshape(64, 1, 1),
        "logits": out["logits"].reshape(10, 1, 1),
        "class": out["class"].reshape(1, 1, 1).astype(np.uint8),
    }
    print(f"    logits {out['logits'].reshape(-1).tolist()} class {int(out['class'].reshape(-1)[0])}")
    net.write({"x": x}, goldens)


CLASSIFIER_MULTIPLIER = 201  # written in examples/classifier.cnn


# ---------------------------------------------------------------------------
# Data of the workaround versions (tests/cases/workarounds/), written as users
# had to before tables, shared subexpressions, pixel shuffle, pooling and
# dense existed. They must compute the same values (their `test` blocks read
# the examples' goldens); `convoy estimate` compares their cost.
# ---------------------------------------------------------------------------

WORKAROUNDS = os.path.join(ROOT, "tests", "cases", "workarounds")


def table_codes(f, in_scale, out_scale, out_lo, out_hi):
    """The 256-entry table of an i8 input: f(k * in_scale) / out_scale
    rounded to nearest even, clamped; float64 with a margin check (no exact
    value within 1e-9 of a rounding boundary, so these are the correctly
    rounded codes)."""
    k = np.arange(-128, 128)
    v = np.array([f(float(t) * in_scale) for t in k]) / out_scale
    assert np.abs(v - np.floor(v) - 0.5).min() > 1e-9
    return np.clip(np.rint(v), out_lo, out_hi).astype(np.int64)


def workaround_activations():
    """Sigmoid and tanh of the i8 map p (scale 1/16) as an exact 256-entry
    table built from relu steps: each channel replicated 255 times by a
    grouped 1x1 conv of ones, `clip(rep - k, 0, 1)` is [p > k] for the
    thresholds k = -128 .. 126, and a grouped 1x1 conv with the table's
    differences T[k + 1] - T[k] sums the steps onto T[-128]."""
    folder = os.path.join(WORKAROUNDS, "activations")
    os.makedirs(folder, exist_ok=True)
    c = 8
    sg = table_codes(lambda t: 1 / (1 + math.exp(-t)), 1 / 16, 1 / 256, 0, 255)
    th = table_codes(math.tanh, 1 / 16, 1 / 128, -128, 127)
    np.save(os.path.join(folder, "ones.npy"), np.ones((c * 255, 1, 1, 1), np.uint8))
    np.save(os.path.join(folder, "thr.npy"), np.tile(np.arange(-128, 127), c).astype(np.int8))
    for name, t in [("sg", sg), ("th", th)]:
        d = np.diff(t)
        np.save(os.path.join(folder, f"d_{name}.npy"), np.tile(d, (c, 1)).reshape(c, 255, 1, 1).astype(np.int8))
        print(f"workaround activations: {name} table from {t[0]} with steps {d.min()} .. {d.max()}")


def workaround_espcn():
    """Pixel shuffle as a stride-2 2x2 transposed convolution by one-hot u1
    weights: input channel i * 2 + j lands at offset (i, j) of each 2x2
    block (DepthToSpace DCR with one output channel)."""
    folder = os.path.join(WORKAROUNDS, "espcn")
    os.makedirs(folder, exist_ok=True)
    w = np.zeros((4, 1, 2, 2), np.uint8)
    for ci in range(4):
        w[ci, 0, ci // 2, ci % 2] = 1
    np.save(os.path.join(folder, "shuffle.npy"), w)


def workaround_classifier():
    """Global average pooling as an all-ones 7x7 depthwise conv, the dense
    layer as a 1x1 conv of the weights seen as [10, 64, 1, 1], argmax as a
    one-hot transposed convolution that lays the logits out on a row, then
    a (1, 10) max-pooling with indices."""
    folder = os.path.join(WORKAROUNDS, "classifier")
    os.makedirs(folder, exist_ok=True)
    np.save(os.path.join(folder, "ones.npy"), np.ones((64, 1, 7, 7), np.uint8))
    wd = np.load(os.path.join(EXAMPLES, "classifier", "wd.npy"))
    np.save(os.path.join(folder, "wd4.npy"), wd.reshape(10, 64, 1, 1))
    onehot = np.zeros((10, 1, 1, 10), np.uint8)
    for c in range(10):
        onehot[c, 0, 0, c] = 1
    np.save(os.path.join(folder, "onehot.npy"), onehot)


NETWORKS = {
    "requant": requant,
    "activations": activations,
    "fsrcnn": fsrcnn,
    "mobilenet_v2": mobilenet_v2,
    "unet": unet,
    "segnet": segnet,
    "espcn": espcn,
    "classifier": classifier,
    "workaround_activations": workaround_activations,
    "workaround_espcn": workaround_espcn,
    "workaround_classifier": workaround_classifier,
}


def main():
    names = sys.argv[1:] or list(NETWORKS)
    for name in names:
        NETWORKS[name]()


if __name__ == "__main__":
    main()
