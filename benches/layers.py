#!/usr/bin/env python3
"""Single layers in Convoy and in onnxruntime, interleaved in one run; prints the ratios.

Every layer is u8 activations (x i8 weights for convolutions) with the requantization tail that
real quantized networks end each layer with. Convoy runs `convoy bench` on a generated `.cnn`
script; onnxruntime runs the same layer as a QLinearConv / MaxPool / Resize graph on uint8,
both as an NCHW graph and as an NHWC graph (Transposes at the boundary, which onnxruntime's
layout optimizer cancels against its own NHWC kernels); the faster of the two (by minimum) is the
peer. Both systems time runs for `--min-time` seconds per measurement (Convoy: `convoy bench
--min-time`), so that a median covers the same stretch of a shared machine's slow and fast phases.

Transposed convolutions (`--layer NAME:deconv:cin=..,cout=..,h=..,w=..,k=..,stride=..,pad=..[,groups=..]`)
have no quantized operator in onnxruntime: the peer is the QDQ graph a quantized model gives it
(DequantizeLinear, float ConvTranspose, QuantizeLinear), NCHW. A conv layer's `dil=` sets its
dilation (QLinearConv's `dilations`).

The requantizations differ in detail (Convoy: `round((acc + b) * s) as u8 sat` with an exact
fixed-point factor; onnxruntime: float scale, round half to even, saturate) but cost the same.

Usage (from the repository root, after `cargo build --release`):

    python3 -m venv build/bench && build/bench/bin/pip install numpy onnx onnxruntime
    build/bench/bin/python benches/layers.py [--rounds 3] [--threads 1,2] [--only conv3x3,maxpool2]
        [--json results.jsonl] [--convoy-args "--isa avx2"] [--examples]
        [--isas avx2,avx2-vnni] [--weights uniform|trained|reduced]

Weights: `uniform` (the default) draws every byte uniformly; `trained` quantizes normal values per
output channel to +-127, `reduced` to +-63 (onnxruntime's `reduce_range`). On CPUs without VNNI
onnxruntime's u8 x i8 kernels multiply with `vpmaddubsw`, which saturates pairs of products, so only
`reduced` weights give exact results there (`benches/ort_exactness.py` counts the differences);
Convoy is exact with all three.

Each round runs every layer once in each system for each thread count (Convoy first, then the
peer, layer after layer), so slow and fast phases of a shared machine hit both alike. The table
gives the median over rounds of each median, the minimum over all runs, and the ratio
peer time / Convoy time (> 1: Convoy is faster), with the geometric mean per thread count.
"""
import argparse
import json
import math
import os
import subprocess
import sys
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WEIGHTS = "uniform"  # --weights

# name -> (kind, parameters). Shapes are the benchmark's own choice; the kernels are not tuned
# to them (`--shape` runs any other).
LAYERS = {
    "conv3x3": ("conv", dict(cin=32, cout=32, h=64, w=64, k=3, stride=1, pad=1)),
    "conv5x5": ("conv", dict(cin=32, cout=32, h=64, w=64, k=5, stride=1, pad=2)),
    "conv3x3_s2": ("conv", dict(cin=32, cout=64, h=128, w=128, k=3, stride=2, pad=1)),
    "conv3x3_s2_56": ("conv", dict(cin=64, cout=128, h=56, w=56, k=3, stride=2, pad=1)),
    "first_layer": ("conv", dict(cin=3, cout=32, h=128, w=128, k=3, stride=1, pad=1)),
    "pw_expand": ("conv", dict(cin=32, cout=192, h=56, w=56, k=1, stride=1, pad=0)),
    "pw_dsconv": ("conv", dict(cin=64, cout=128, h=128, w=256, k=1, stride=1, pad=0)),
    "pw_project": ("conv", dict(cin=96, cout=24, h=28, w=28, k=1, stride=1, pad=0)),
    "dw3x3_s2": ("conv", dict(cin=96, cout=96, h=112, w=112, k=3, stride=2, pad=1, groups=96)),
    "maxpool2": ("maxpool", dict(c=64, h=128, w=128, k=2)),
    "upsample2": ("nearest", dict(c=64, h=64, w=64, f=2)),
    "bilinear2": ("bilinear", dict(c=64, h=64, w=64, f=2)),
    "concat": ("concat", dict(c=32, h=64, w=64)),
    "depth_to_space2": ("depth_to_space", dict(c=256, h=64, w=64, r=2)),
    "pad1": ("pad", dict(c=64, h=64, w=64, p=1)),
    "residual_add": ("add", dict(c=64, h=64, w=64)),
    "avgpool2": ("avgpool", dict(c=64, h=64, w=64, k=2, stride=1, pad=1)),
    "avgpool3": ("avgpool", dict(c=64, h=64, w=64, k=3, stride=1, pad=1)),
    "global_avgpool": ("global_avgpool", dict(c=64, h=64, w=64)),
}

# The examples, in Convoy alone (no onnxruntime graph of them): time, GMAC/s and the share of the
# core's `vpdpbusd` peak that `convoy bench` measures.
EXAMPLES = ["seed", "bench_dsconv_large", "bench_ds_deconv_large", "block", "mobilenet_v2", "strided",
            "unet", "segnet", "encoder_decoder", "unpool", "resize_conv", "bilinear", "ds_deconv", "fixed_act"]


def out_size(n, k, stride, pad, dil=1):
    return (n + 2 * pad - dil * (k - 1) - 1) // stride + 1


def deconv_size(n, k, stride, pad):
    return (n - 1) * stride - 2 * pad + k


def layer_macs(kind, p):
    if kind == "deconv":
        return p["cin"] * p["h"] * p["w"] * (p["cout"] // p.get("groups", 1)) * p["k"] * p["k"]
    if kind not in ("conv", "conv_int"):
        return 0
    groups = p.get("groups", 1)
    d = p.get("dil", 1)
    oh, ow = out_size(p["h"], p["k"], p["stride"], p["pad"], d), out_size(p["w"], p["k"], p["stride"], p["pad"], d)
    return p["cout"] * oh * ow * (p["cin"] // groups) * p["k"] * p["k"]


def convoy_script(name, kind, p):
    """The layer as a Convoy pipeline with random weights (seeded)."""
    if kind == "conv":
        g = p.get("groups", 1)
        k = p["k"]
        dil = f", dilation: {p['dil']}" if p.get("dil", 1) > 1 else ""
        return f"""// benches/layers.py: {name}
pipeline {name} {{
  input x: u8[{p['cin']}, {p['h']}, {p['w']}]
  param w: i8[{p['cout']}, {p['cin'] // g}, {k}, {k}] = random(seed: 1)
  param b: i16[{p['cout']}] = random(seed: 2)
  const s: fixed<32, 1> = 0.00097

  let y = round((conv(x, w, stride: {p['stride']}, pad: {p['pad']}, groups: {g}{dil}) + b) * s) as u8 sat
  output y
}}
"""
    if kind == "deconv":
        # Transposed convolution: weights [in, out / groups, k, k] (ONNX ConvTranspose).
        g = p.get("groups", 1)
        k = p["k"]
        return f"""// benches/layers.py: {name}
pipeline {name} {{
  input x: u8[{p['cin']}, {p['h']}, {p['w']}]
  param w: i8[{p['cin']}, {p['cout'] // g}, {k}, {k}] = random(seed: 1)
  param b: i16[{p['cout']}] = random(seed: 2)
  const s: fixed<32, 1> = 0.00097

  let y = round((deconv(x, w, stride: {p['stride']}, pad: {p['pad']}, groups: {g}) + b) * s) as u8 sat
  output y
}}
"""
    if kind == "conv_int":
        # No requantization: the 32-bit accumulators stored (ConvInteger).
        g = p.get("groups", 1)
        k = p["k"]
        return f"""// benches/layers.py: {name}
pipeline {name} {{
  input x: u8[{p['cin']}, {p['h']}, {p['w']}]
  param w: i8[{p['cout']}, {p['cin'] // g}, {k}, {k}] = random(seed: 1)

  let y = conv(x, w, stride: {p['stride']}, pad: {p['pad']}, groups: {g})
  output y
}}
"""
    if kind == "maxpool":
        return f"""pipeline {name} {{
  input x: u8[{p['c']}, {p['h']}, {p['w']}]
  let y = maxpool(x, {p['k']}, stride: {p.get('stride', p['k'])}, pad: {p.get('pad', 0)})
  output y
}}
"""
    if kind == "avgpool":
        return f"""pipeline {name} {{
  input x: u8[{p['c']}, {p['h']}, {p['w']}]
  let y = avgpool(x, {p['k']}, stride: {p['stride']}, pad: {p['pad']})
  output y
}}
"""
    if kind == "global_avgpool":
        return f"""pipeline {name} {{
  input x: u8[{p['c']}, {p['h']}, {p['w']}]
  let y = global_avgpool(x)
  output y
}}
"""
    if kind == "nearest":
        return f"""pipeline {name} {{
  input x: u8[{p['c']}, {p['h']}, {p['w']}]
  let y = upsample(x, {p['f']}, nearest)
  output y
}}
"""
    if kind == "bilinear":
        return f"""pipeline {name} {{
  input x: u8[{p['c']}, {p['h']}, {p['w']}]
  let y = round(upsample(x, {p['f']}, bilinear)) as u8
  output y
}}
"""
    if kind == "depth_to_space":
        return f"""pipeline {name} {{
  input x: u8[{p['c']}, {p['h']}, {p['w']}]
  let y = depth_to_space(x, {p['r']})
  output y
}}
"""
    if kind == "pad":
        return f"""pipeline {name} {{
  input x: u8[{p['c']}, {p['h']}, {p['w']}]
  let y = pad(x, {p['p']}, value: 7)
  output y
}}
"""
    if kind == "concat":
        return f"""pipeline {name} {{
  input x: u8[{p['c']}, {p['h']}, {p['w']}]
  input z: u8[{p['c']}, {p['h']}, {p['w']}]
  let y = concat(x, z)
  output y
}}
"""
    if kind == "add":
        return f"""pipeline {name} {{
  input x: u8[{p['c']}, {p['h']}, {p['w']}]
  input z: u8[{p['c']}, {p['h']}, {p['w']}]
  let y = ((x + z) >> 1) as u8
  output y
}}
"""
    raise ValueError(kind)


def trained_weights(p):
    """i8 weights shaped like a trained network's: normal values per output channel, quantized
    symmetrically per channel (the largest magnitude of each channel is 127; 63 with
    `--weights reduced`, onnxruntime's `reduce_range`, which its AVX2 kernels need to be exact)."""
    g = p.get("groups", 1)
    top = 63 if WEIGHTS == "reduced" else 127
    rng = np.random.default_rng(3)
    w = rng.standard_normal((p["cout"], p["cin"] // g, p["k"], p["k"]))
    scale = np.abs(w).reshape(p["cout"], -1).max(axis=1).reshape(-1, 1, 1, 1) / top
    return np.clip(np.round(w / scale), -top, top).astype(np.int8)


def deconv_weights(p):
    """`trained_weights` for a transposed convolution's [in, out / groups, k, k] weights."""
    g = p.get("groups", 1)
    return trained_weights(dict(cout=p["cin"], cin=p["cout"], groups=g, k=p["k"]))


def onnx_model(kind, p, nhwc):
    """The same layer as an onnxruntime graph on uint8 (NCHW, or NHWC at the boundary)."""
    rng = np.random.default_rng(0)
    inits = []
    if kind == "conv":
        g = p.get("groups", 1)
        c, h, w = p["cin"], p["h"], p["w"]
        oc = p["cout"]
        d = p.get("dil", 1)
        oh, ow = out_size(h, p["k"], p["stride"], p["pad"], d), out_size(w, p["k"], p["stride"], p["pad"], d)
        wt = rng.integers(-128, 128, (oc, c // g, p["k"], p["k"]), dtype=np.int8)
        if WEIGHTS in ("trained", "reduced"):
            wt = trained_weights(p)
        bias = rng.integers(-30000, 30001, (oc,), dtype=np.int32)
        f = lambda n, v: numpy_helper.from_array(np.array(v, np.float32), n)
        inits = [numpy_helper.from_array(wt, "w"), numpy_helper.from_array(bias, "b"),
                 f("xs", 1.0), numpy_helper.from_array(np.array(0, np.uint8), "xz"),
                 f("ws", 0.00097), numpy_helper.from_array(np.array(0, np.int8), "wz"),
                 f("ys", 1.0), numpy_helper.from_array(np.array(0, np.uint8), "yz")]
        core = helper.make_node("QLinearConv", ["xc", "xs", "xz", "w", "ws", "wz", "ys", "yz", "b"], ["yc"],
                                group=g, kernel_shape=[p["k"], p["k"]], pads=[p["pad"]] * 4,
                                strides=[p["stride"]] * 2, dilations=[d, d])
        out_chw = (oc, oh, ow)
    elif kind == "deconv":
        # onnxruntime has no quantized ConvTranspose operator: the QDQ form (dequantize, float
        # ConvTranspose, quantize), which is what a quantized model gives it.
        g = p.get("groups", 1)
        c, h, w, oc, k = p["cin"], p["h"], p["w"], p["cout"], p["k"]
        wt = rng.integers(-128, 128, (c, oc // g, k, k), dtype=np.int8)
        if WEIGHTS in ("trained", "reduced"):
            wt = deconv_weights(p)
        bias = rng.integers(-30000, 30001, (oc,), dtype=np.int32)
        f = lambda n, v: numpy_helper.from_array(np.array(v, np.float32), n)
        inits = [numpy_helper.from_array(wt, "w"), numpy_helper.from_array(bias, "b"),
                 f("xs", 1.0), numpy_helper.from_array(np.array(0, np.uint8), "xz"),
                 f("ws", 0.00097), numpy_helper.from_array(np.array(0, np.int8), "wz"),
                 numpy_helper.from_array(np.array(0, np.int32), "bz"),
                 f("ys", 1.0), numpy_helper.from_array(np.array(0, np.uint8), "yz")]
        nodes = [helper.make_node("DequantizeLinear", ["x", "xs", "xz"], ["xf"]),
                 helper.make_node("DequantizeLinear", ["w", "ws", "wz"], ["wf"]),
                 helper.make_node("DequantizeLinear", ["b", "ws", "bz"], ["bf"]),
                 helper.make_node("ConvTranspose", ["xf", "wf", "bf"], ["yf"], group=g,
                                  kernel_shape=[k, k], pads=[p["pad"]] * 4, strides=[p["stride"]] * 2),
                 helper.make_node("QuantizeLinear", ["yf", "ys", "yz"], ["y"])]
        oh, ow = deconv_size(h, k, p["stride"], p["pad"]), deconv_size(w, k, p["stride"], p["pad"])
        graph = helper.make_graph(
            nodes, "layer", [helper.make_tensor_value_info("x", TensorProto.UINT8, [1, c, h, w])],
            [helper.make_tensor_value_info("y", TensorProto.UINT8, [1, oc, oh, ow])], inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
        onnx.checker.check_model(model)
        return model, [1, c, h, w]
    elif kind == "conv_int":
        g = p.get("groups", 1)
        c, h, w = p["cin"], p["h"], p["w"]
        oc = p["cout"]
        oh, ow = out_size(h, p["k"], p["stride"], p["pad"]), out_size(w, p["k"], p["stride"], p["pad"])
        wt = rng.integers(-128, 128, (oc, c // g, p["k"], p["k"]), dtype=np.int8)
        inits = [numpy_helper.from_array(wt, "w"), numpy_helper.from_array(np.array(0, np.uint8), "xz"),
                 numpy_helper.from_array(np.array(0, np.int8), "wz")]
        core = helper.make_node("ConvInteger", ["xc", "w", "xz", "wz"], ["yc"],
                                group=g, kernel_shape=[p["k"], p["k"]], pads=[p["pad"]] * 4,
                                strides=[p["stride"]] * 2)
        out_chw = (oc, oh, ow)
    elif kind == "maxpool":
        c, h, w = p["c"], p["h"], p["w"]
        k, st, q = p["k"], p.get("stride", p["k"]), p.get("pad", 0)
        core = helper.make_node("MaxPool", ["xc"], ["yc"], kernel_shape=[k, k], strides=[st, st], pads=[q] * 4)
        out_chw = (c, out_size(h, k, st, q), out_size(w, k, st, q))
    elif kind in ("avgpool", "global_avgpool"):
        # onnxruntime's quantized average pooling (com.microsoft), scale 1 and zero point 0 in
        # and out: the average of the codes, count_include_pad 0 as in Convoy's default.
        c, h, w = p["c"], p["h"], p["w"]
        f = lambda n, v: numpy_helper.from_array(np.array(v, np.float32), n)
        inits = [f("s", 1.0), numpy_helper.from_array(np.array(0, np.uint8), "zp")]
        if kind == "avgpool":
            k, st, q = p["k"], p["stride"], p["pad"]
            core = helper.make_node("QLinearAveragePool", ["xc", "s", "zp", "s", "zp"], ["yc"],
                                    domain="com.microsoft", kernel_shape=[k, k], strides=[st, st],
                                    pads=[q] * 4, count_include_pad=0)
            out_chw = (c, out_size(h, k, st, q), out_size(w, k, st, q))
        else:
            core = helper.make_node("QLinearGlobalAveragePool", ["xc", "s", "zp", "s", "zp"], ["yc"],
                                    domain="com.microsoft")
            out_chw = (c, 1, 1)
    elif kind == "nearest":
        c, h, w = p["c"], p["h"], p["w"]
        inits = [numpy_helper.from_array(np.array([1, 1, p["f"], p["f"]], np.float32), "scales")]
        core = helper.make_node("Resize", ["xc", "", "scales"], ["yc"], mode="nearest",
                                coordinate_transformation_mode="asymmetric", nearest_mode="floor")
        out_chw = (c, h * p["f"], w * p["f"])
    elif kind == "bilinear":
        c, h, w = p["c"], p["h"], p["w"]
        inits = [numpy_helper.from_array(np.array([1, 1, p["f"], p["f"]], np.float32), "scales")]
        core = helper.make_node("Resize", ["xc", "", "scales"], ["yc"], mode="linear",
                                coordinate_transformation_mode="half_pixel")
        out_chw = (c, h * p["f"], w * p["f"])
    elif kind == "depth_to_space":
        c, h, w, r = p["c"], p["h"], p["w"], p["r"]
        core = helper.make_node("DepthToSpace", ["xc"], ["yc"], blocksize=r, mode="DCR")
        out_chw = (c // (r * r), h * r, w * r)
    elif kind == "pad":
        c, h, w, q = p["c"], p["h"], p["w"], p["p"]
        inits = [numpy_helper.from_array(np.array([0, 0, q, q, 0, 0, q, q], np.int64), "pads"),
                 numpy_helper.from_array(np.array(7, np.uint8), "value")]
        core = helper.make_node("Pad", ["xc", "pads", "value"], ["yc"], mode="constant")
        out_chw = (c, h + 2 * q, w + 2 * q)
    elif kind in ("concat", "add"):
        # Two inputs: NCHW only (the layout does not change what they do).
        c, h, w = p["c"], p["h"], p["w"]
        f = lambda n, v: numpy_helper.from_array(np.array(v, np.float32), n)
        zp = numpy_helper.from_array(np.array(0, np.uint8), "zp")
        if kind == "concat":
            core = helper.make_node("Concat", ["x", "z"], ["y"], axis=1)
            out_c = 2 * c
        else:
            inits = [f("s", 1.0), zp, f("s2", 2.0)]
            core = helper.make_node("QLinearAdd", ["x", "s", "zp", "z", "s", "zp", "s2", "zp"], ["y"],
                                    domain="com.microsoft")
            out_c = c
        shape = [1, c, h, w]
        graph = helper.make_graph(
            [core], "layer",
            [helper.make_tensor_value_info(n, TensorProto.UINT8, shape) for n in ("x", "z")],
            [helper.make_tensor_value_info("y", TensorProto.UINT8, [1, out_c, h, w])], inits)
        opsets = [helper.make_opsetid("", 13), helper.make_opsetid("com.microsoft", 1)]
        model = helper.make_model(graph, opset_imports=opsets)
        return model, shape
    else:
        raise ValueError(kind)
    nodes = [core]
    y_type = TensorProto.INT32 if kind == "conv_int" else TensorProto.UINT8
    if nhwc:
        nodes.insert(0, helper.make_node("Transpose", ["x"], ["xc"], perm=[0, 3, 1, 2]))
        nodes.append(helper.make_node("Transpose", ["yc"], ["y"], perm=[0, 2, 3, 1]))
        x_shape, y_shape = [1, h, w, c], [1, out_chw[1], out_chw[2], out_chw[0]]
    else:
        core.input[0], core.output[0] = "x", "y"
        x_shape, y_shape = [1, c, h, w], [1, *out_chw]
    graph = helper.make_graph(nodes, "layer", [helper.make_tensor_value_info("x", TensorProto.UINT8, x_shape)],
                              [helper.make_tensor_value_info("y", y_type, y_shape)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13),
                                                    helper.make_opsetid("com.microsoft", 1)])
    onnx.checker.check_model(model)
    return model, x_shape


class Peer:
    """onnxruntime sessions of one layer (NCHW and NHWC graphs) for one thread count."""

    def __init__(self, kind, p, threads):
        self.sessions = []
        rng = np.random.default_rng(1)
        for nhwc in ((False,) if kind in ("concat", "add", "deconv") else (False, True)):
            model, x_shape = onnx_model(kind, p, nhwc)
            so = ort.SessionOptions()
            so.intra_op_num_threads = threads
            so.inter_op_num_threads = 1
            so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
            feeds = {i.name: rng.integers(0, 256, x_shape, dtype=np.uint8) for i in sess.get_inputs()}
            self.sessions.append((("nhwc" if nhwc else "nchw"), sess, feeds))

    def run(self, min_time):
        """(median_us, min_us, layout) of the faster graph: the one with the smaller minimum (a
        median picked as the smaller of two would give the peer two draws of a noisy machine's
        slow and fast phases against Convoy's one)."""
        best = None
        for layout, sess, feeds in self.sessions:
            for _ in range(3):
                sess.run(None, feeds)
            times = []
            end = time.perf_counter() + min_time
            while len(times) < 20 or (time.perf_counter() < end and len(times) < 5000):
                t = time.perf_counter()
                sess.run(None, feeds)
                times.append(time.perf_counter() - t)
            r = (float(np.median(times)) * 1e6, min(times) * 1e6, layout)
            if best is None or r[1] < best[1]:
                best = r
        return best


def run_convoy(binary, script, threads, iters, min_time, extra):
    cmd = [binary, "bench", script, "--threads", str(threads), "--iters", str(iters),
           "--min-time", str(min_time), "--format", "json"]
    cmd += extra
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"convoy bench failed on {script}:\n{out.stderr}")
    r = json.loads(out.stdout)
    return r["median_us"], r["min_us"], r


def geomean(xs):
    xs = [x for x in xs if x > 0]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--convoy", default=os.path.join(ROOT, "target", "release", "convoy"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--only", default="", help="comma-separated layer names")
    ap.add_argument("--shape", action="append", default=[],
                    help="an extra conv layer NAME:cin,cout,h,w,k,stride,pad[,groups]")
    ap.add_argument("--layer", action="append", default=[],
                    help="an extra layer of any kind NAME:KIND:key=value,... with the keys of LAYERS "
                         "(e.g. mp3:maxpool:c=64,h=112,w=112,k=3,stride=2,pad=1)")
    ap.add_argument("--iters", type=int, default=50)
    ap.add_argument("--min-time", type=float, default=0.3,
                    help="seconds of timed runs per measurement, in both systems (Convoy: `--min-time`)")
    ap.add_argument("--convoy-args", default="", help="extra arguments for `convoy bench`")
    ap.add_argument("--baseline", default="",
                    help="a second (older) convoy binary, timed after the first in every round: old vs new")
    ap.add_argument("--isas", default="",
                    help="comma-separated forced instruction sets (e.g. avx2,avx2-vnni) also timed in the same "
                         "run; prints default time / forced time per layer")
    ap.add_argument("--weights", choices=["uniform", "trained", "reduced"], default="uniform",
                    help="convolution weights: uniformly random bytes, or normal values quantized per "
                         "channel like a trained network's to 8 bits (trained) or 7 (reduced: "
                         "onnxruntime's reduce_range); both systems get the same")
    ap.add_argument("--json", default="")
    ap.add_argument("--examples", action="store_true", help="also time every example in Convoy")
    ap.add_argument("--workdir", default=os.path.join(ROOT, "build", "bench_layers"))
    args = ap.parse_args()
    global WEIGHTS
    WEIGHTS = args.weights

    layers = dict(LAYERS)
    for spec in args.shape:
        name, nums = spec.split(":")
        v = [int(t) for t in nums.split(",")]
        keys = ["cin", "cout", "h", "w", "k", "stride", "pad", "groups"]
        layers[name] = ("conv", dict(zip(keys, v)))
    for spec in args.layer:
        name, kind, params = spec.split(":")
        layers[name] = (kind, {k: int(v) for k, v in (t.split("=") for t in params.split(","))})
    if args.only:
        wanted = args.only.split(",")
        unknown = [k for k in wanted if k not in layers]
        if unknown:
            sys.exit(f"layers.py: no layer named {', '.join(unknown)}; the layers: {', '.join(layers)}")
        layers = {k: layers[k] for k in wanted}
    threads = [int(t) for t in args.threads.split(",")]
    extra = args.convoy_args.split()
    os.makedirs(args.workdir, exist_ok=True)
    print(f"onnxruntime {ort.__version__}; convoy {args.convoy} {' '.join(extra)}", flush=True)

    scripts, peers = {}, {}
    for name, (kind, p) in layers.items():
        path = os.path.join(args.workdir, f"{name}.cnn")
        script = convoy_script(name, kind, p)
        if WEIGHTS in ("trained", "reduced") and kind in ("conv", "deconv"):
            wt = trained_weights(p) if kind == "conv" else deconv_weights(p)
            np.save(os.path.join(args.workdir, f"{name}_w.npy"), wt)
            script = script.replace("] = random(seed: 1)", f'] = load("{name}_w.npy")', 1)
        with open(path, "w") as fh:
            fh.write(script)
        scripts[name] = path
        for t in threads:
            peers[name, t] = Peer(kind, p, t)

    results = {}  # (name, threads) -> lists
    for rnd in range(args.rounds):
        for name, (kind, p) in layers.items():
            for t in threads:
                c_med, c_min, detail = run_convoy(args.convoy, scripts[name], t, args.iters, args.min_time, extra)
                o_med, o_min, layout = peers[name, t].run(args.min_time)
                r = results.setdefault((name, t), dict(c_med=[], c_min=[], o_med=[], o_min=[], layout=[], paths=set()))
                r["c_med"].append(c_med)
                r["c_min"].append(c_min)
                r["o_med"].append(o_med)
                r["o_min"].append(o_min)
                r["layout"].append(layout)
                if args.baseline:
                    b_med, b_min, _ = run_convoy(args.baseline, scripts[name], t, args.iters, args.min_time, extra)
                    r.setdefault("b_med", []).append(b_med)
                    r.setdefault("b_min", []).append(b_min)
                for isa in filter(None, args.isas.split(",")):
                    i_med, i_min, _ = run_convoy(args.convoy, scripts[name], t, args.iters, args.min_time,
                                                 extra + ["--isa", isa])
                    r.setdefault("isa", {}).setdefault(isa, dict(med=[], mn=[]))
                    r["isa"][isa]["med"].append(i_med)
                    r["isa"][isa]["mn"].append(i_min)
                r["paths"].update("kernel" if s.get("native") else ("vector" if s.get("vector") else "scalar")
                                  for s in detail["stages"])
                if args.json:
                    with open(args.json, "a") as fh:
                        fh.write(json.dumps(dict(round=rnd, layer=name, threads=t, convoy_median_us=c_med,
                                                 convoy_min_us=c_min, ort_median_us=o_med, ort_min_us=o_min,
                                                 ort_layout=layout)) + "\n")
        print(f"round {rnd + 1}/{args.rounds} done", flush=True)

    if args.examples:
        ex = {}
        for rnd in range(args.rounds):
            for name in EXAMPLES:
                for t in threads:
                    path = os.path.join(ROOT, "examples", f"{name}.cnn")
                    med, mn, detail = run_convoy(args.convoy, path, t, args.iters, args.min_time, extra)
                    r = ex.setdefault((name, t), dict(med=[], mn=[], detail=detail))
                    r["med"].append(med)
                    r["mn"].append(mn)
        print("\nExamples (Convoy alone): median of medians (minimum)\n")
        print("| example | threads | Convoy | GMAC/s | share of the threads' vpdpbusd peak | kernels / vector / scalar stages |")
        print("|---|---|---|---|---|---|")
        for name in EXAMPLES:
            for t in threads:
                r = ex[name, t]
                med, mn, d = float(np.median(r["med"])), min(r["mn"]), r["detail"]
                gm = d["macs"] / med / 1e3
                peak = d.get("vpdpbusd_peak_gmacs")
                share = f"{100 * gm / (peak * t):.1f}%" if peak else "-"
                kinds = [("kernel" if s.get("native") else ("vector" if s.get("vector") else "scalar"))
                         for s in d["stages"]]
                counts = "/".join(str(kinds.count(k)) for k in ("kernel", "vector", "scalar"))
                print(f"| {name} | {t} | {med:.1f} us ({mn:.1f}) | {gm:.1f} | {share} | {counts} |")

    for t in threads:
        print(f"\n{t} thread{'s' if t > 1 else ''}: median of {args.rounds} medians (minimum over all runs)\n")
        print("| layer | shape | Convoy | GMAC/s | onnxruntime | ratio (medians) | ratio (minima) | Convoy code |")
        print("|---|---|---|---|---|---|---|---|")
        ratios, ratios_min = [], []
        for name, (kind, p) in layers.items():
            r = results[name, t]
            c, o = float(np.median(r["c_med"])), float(np.median(r["o_med"]))
            cm, om = min(r["c_min"]), min(r["o_min"])
            macs = layer_macs(kind, p)
            gm = f"{macs / c / 1e3:.1f}" if macs else "-"
            shape = ",".join(f"{k}={v}" for k, v in p.items())
            ratios.append(o / c)
            ratios_min.append(om / cm)
            layout = max(set(r["layout"]), key=r["layout"].count)
            print(f"| {name} | {shape} | {c:.1f} us ({cm:.1f}) | {gm} | {o:.1f} us ({om:.1f}, {layout}) | "
                  f"{o / c:.2f}x | {om / cm:.2f}x | {'/'.join(sorted(r['paths']))} |")
        print(f"\ngeometric mean of the ratios: {geomean(ratios):.2f}x (medians), {geomean(ratios_min):.2f}x (minima)")
        if args.baseline:
            print(f"\nbaseline {args.baseline}: baseline time / Convoy time, medians (minima)\n")
            for name in layers:
                r = results[name, t]
                b, c = float(np.median(r["b_med"])), float(np.median(r["c_med"]))
                print(f"| {name} | {b:.1f} us | {c:.1f} us | {b / c:.2f}x ({min(r['b_min']) / min(r['c_min']):.2f}x) |")
        isas = list(filter(None, args.isas.split(",")))
        if isas:
            print(f"\nforced instruction sets: Convoy's default time / forced time, medians (minima)\n")
            print("| layer | default | " + " | ".join(isas) + " |")
            print("|---|---|" + "---|" * len(isas))
            for name in layers:
                r = results[name, t]
                c, cm = float(np.median(r["c_med"])), min(r["c_min"])
                cells = []
                for isa in isas:
                    i, im = float(np.median(r["isa"][isa]["med"])), min(r["isa"][isa]["mn"])
                    cells.append(f"{i:.1f} us: {c / i:.2f}x ({cm / im:.2f}x)")
                print(f"| {name} | {c:.1f} us | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
