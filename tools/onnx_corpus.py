"""Builds the `convoy import` test corpus (tests/fixtures/import/), offline.

Small float CNNs made with onnx.helper (real weights drawn at random, fixed
seeds), quantized with onnxruntime.quantization.quantize_static in QDQ and
QOperator formats, per tensor and per channel (calibration on random data);
QONNX models built with onnx.helper in the QONNX domain (Quant of 2-8 bits,
BipolarQuant). For each model: MODEL.onnx, MODEL.x.npy (the integer codes
the imported pipeline reads, batch of 2), MODEL.expected.npy (the codes the
exact reference computes, tools/onnx_corpus_ref.py), and corpus.json with
how often onnxruntime differs from the exact reference.

    build/venv/bin/python tools/onnx_corpus.py      (make import-corpus)
"""

import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(__file__))
import onnx_corpus_ref as ref  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "import")
OPSET = 17


class Builder:
    def __init__(self, seed, c, h, w):
        self.rng = np.random.default_rng(seed)
        self.nodes = []
        self.inits = []
        self.n = 0
        self.shape = (c, h, w)

    def name(self, p):
        self.n += 1
        return f"{p}{self.n}"

    def weight(self, shape, scale=None):
        name = self.name("w")
        fan_in = int(np.prod(shape[1:]))
        a = self.rng.normal(0, scale or 1.0 / np.sqrt(fan_in), size=shape).astype(np.float32)
        self.inits.append(numpy_helper.from_array(a, name))
        return name

    def const(self, a, prefix="k"):
        name = self.name(prefix)
        self.inits.append(numpy_helper.from_array(np.asarray(a), name))
        return name

    def op(self, op, ins, prefix=None, **attrs):
        name = self.name(prefix or op.lower())
        self.nodes.append(helper.make_node(op, ins, [name], name=name, **attrs))
        return name

    def conv(self, x, cin, cout, k, group=1, **attrs):
        w = self.weight([cout, cin // group, k, k])
        b = self.const(self.rng.normal(0, 0.1, size=cout).astype(np.float32), "b")
        return self.op("Conv", [x, w, b], "conv", group=group, kernel_shape=[k, k], **attrs)

    def model(self, out, name, nhwc=False, out_type=TensorProto.FLOAT):
        c, h, w = self.shape
        dims = ["N", h, w, c] if nhwc else ["N", c, h, w]
        g = helper.make_graph(
            self.nodes, name,
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, dims)],
            [helper.make_tensor_value_info(out, out_type, None)],
            self.inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)])
        m.ir_version = 8
        return m


def cnn_basic():
    b = Builder(1, 4, 12, 12)
    y = b.conv("x", 4, 8, 3, pads=[1, 1, 1, 1])
    y = b.op("Relu", [y])
    y = b.op("MaxPool", [y], kernel_shape=[2, 2], strides=[2, 2])
    y = b.conv(y, 8, 8, 3, pads=[2, 2, 2, 2], dilations=[2, 2])
    y = b.op("Relu", [y])
    y = b.conv(y, 8, 4, 1)
    return b.model(y, "cnn_basic")


def mobilenet_block():
    b = Builder(2, 4, 10, 10)
    y = b.conv("x", 4, 16, 1)
    y = b.op("Clip", [y, b.const(np.float32(0)), b.const(np.float32(6))])
    y = b.conv(y, 16, 16, 3, group=16, pads=[1, 1, 1, 1])
    y = b.op("Clip", [y, b.const(np.float32(0)), b.const(np.float32(6))])
    y = b.conv(y, 16, 4, 1)
    y = b.op("Add", ["x", y])
    return b.model(y, "mobilenet_block")


def resnet_block():
    b = Builder(3, 8, 8, 8)
    y = b.conv("x", 8, 8, 3, pads=[1, 1, 1, 1])
    y = b.op("Relu", [y])
    y = b.conv(y, 8, 8, 3, pads=[1, 1, 1, 1])
    y = b.op("Add", [y, "x"])
    y = b.op("Relu", [y])
    return b.model(y, "resnet_block")


def unet_level():
    b = Builder(4, 4, 8, 8)
    e = b.conv("x", 4, 8, 3, pads=[1, 1, 1, 1])
    e = b.op("Relu", [e])
    d = b.op("MaxPool", [e], kernel_shape=[2, 2], strides=[2, 2])
    d = b.conv(d, 8, 8, 3, pads=[1, 1, 1, 1])
    d = b.op("Relu", [d])
    empty = b.const(np.array([], np.float32), "roi")
    u = b.op("Resize", [d, empty, b.const(np.array([1, 1, 2, 2], np.float32), "scales")],
             mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    c = b.op("Concat", [u, e], axis=1)
    y = b.conv(c, 16, 4, 3, pads=[1, 1, 1, 1])
    return b.model(y, "unet_level")


def upsampling():
    b = Builder(5, 4, 6, 6)
    w = b.weight([4, 2, 4, 4])
    y = b.op("ConvTranspose", ["x", w], "deconv", group=2, kernel_shape=[4, 4], strides=[2, 2], pads=[1, 1, 1, 1])
    y = b.op("LeakyRelu", [y], alpha=0.125)
    y = b.conv(y, 4, 4, 3, group=2, pads=[2, 2, 2, 2], dilations=[2, 2], strides=[2, 2])
    empty = b.const(np.array([], np.float32), "roi")
    y = b.op("Resize", [y, empty, b.const(np.array([1, 1, 2, 2], np.float32), "scales")],
             mode="linear", coordinate_transformation_mode="half_pixel")
    return b.model(y, "upsampling")


def nhwc_net():
    """An NHWC model: transposes to NCHW after the input and back before the output."""
    b = Builder(6, 4, 8, 8)
    y = b.op("Transpose", ["x"], "to_nchw", perm=[0, 3, 1, 2])
    y = b.conv(y, 4, 8, 3, pads=[1, 1, 1, 1])
    y = b.op("Relu", [y])
    y = b.op("MaxPool", [y], kernel_shape=[2, 2], strides=[2, 2])
    y = b.conv(y, 8, 4, 1)
    y = b.op("Transpose", [y], "to_nhwc", perm=[0, 2, 3, 1])
    return b.model(y, "nhwc_net", nhwc=True)


def espcn():
    """ESPCN (Shi et al. 2016): tanh feature layers, a sub-pixel convolution
    (DepthToSpace, PyTorch's CRD order) and a sigmoid output."""
    b = Builder(8, 1, 6, 6)
    y = b.conv("x", 1, 8, 5, pads=[2, 2, 2, 2])
    y = b.op("Tanh", [y])
    y = b.conv(y, 8, 4, 3, pads=[1, 1, 1, 1])
    y = b.op("Tanh", [y])
    y = b.conv(y, 4, 4, 3, pads=[1, 1, 1, 1])
    y = b.op("DepthToSpace", [y], blocksize=2, mode="CRD")
    y = b.op("Sigmoid", [y])
    return b.model(y, "espcn")


def segnet_level():
    """A SegNet level: MaxPool with its indices, and MaxUnpool by them."""
    b = Builder(9, 4, 8, 8)
    e = b.conv("x", 4, 8, 3, pads=[1, 1, 1, 1])
    e = b.op("Relu", [e])
    pool = b.name("maxpool")
    b.nodes.append(helper.make_node("MaxPool", [e], [pool, pool + "_idx"], name=pool,
                                    kernel_shape=[2, 2], strides=[2, 2]))
    d = b.conv(pool, 8, 8, 3, pads=[1, 1, 1, 1])
    d = b.op("Relu", [d])
    u = b.op("MaxUnpool", [d, pool + "_idx"], kernel_shape=[2, 2], strides=[2, 2])
    y = b.conv(u, 8, 4, 3, pads=[1, 1, 1, 1])
    return b.model(y, "segnet_level")


def classifier():
    """Average pooling, HardSwish, global pooling, Flatten, Gemm, MatMul, ArgMax."""
    b = Builder(10, 3, 12, 12)
    y = b.conv("x", 3, 8, 3, pads=[1, 1, 1, 1])
    y = b.op("Relu", [y])
    y = b.op("AveragePool", [y], kernel_shape=[2, 2], strides=[2, 2])
    y = b.conv(y, 8, 16, 3, pads=[1, 1, 1, 1], strides=[2, 2])
    y = b.op("HardSwish", [y])
    y = b.op("GlobalAveragePool", [y])
    y = b.op("Flatten", [y], axis=1)
    w = b.weight([12, 16])
    bias = b.const(b.rng.normal(0, 0.1, size=12).astype(np.float32), "b")
    y = b.op("Gemm", [y, w, bias], transB=1)
    y = b.op("Relu", [y])
    y = b.op("MatMul", [y, b.weight([12, 10], scale=0.3)])
    y = b.op("ArgMax", [y], axis=1, keepdims=1)
    return b.model(y, "classifier", out_type=TensorProto.INT64)


def rearrange():
    """Pad, a padded AveragePool, SpaceToDepth, Slice, Reshape, DepthToSpace
    (DCR) and a channel mean."""
    b = Builder(11, 4, 8, 8)
    y = b.conv("x", 4, 4, 3)
    y = b.op("Relu", [y])
    y = b.op("Pad", [y, b.const(np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64), "pads")], mode="constant")
    # Edge windows divide by their pixels inside the map (ONNX's default).
    y = b.op("AveragePool", [y], kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1])
    y = b.op("SpaceToDepth", [y], blocksize=2)
    y = b.op("Slice", [y, b.const(np.array([0, 1], np.int64), "starts"),
                       b.const(np.array([12, 1 << 62], np.int64), "ends"),
                       b.const(np.array([1, 2], np.int64), "axes")])
    y = b.op("Reshape", [y, b.const(np.array([-1, 9, 4, 4], np.int64), "shape")])
    y = b.conv(y, 9, 8, 1)
    y = b.op("DepthToSpace", [y], blocksize=2)
    y = b.op("ReduceMean", [y], axes=[1], keepdims=1)
    y = b.conv(y, 1, 2, 1)
    return b.model(y, "rearrange")


FLOAT_MODELS = [cnn_basic, mobilenet_block, resnet_block, unet_level, upsampling]
# The models of the operators of issue 14 (built after the others, with
# their own input seed, so that the older fixtures stay as they were).
LAYER_MODELS = [espcn, segnet_level, classifier, rearrange]
# Images per model input (a classifier's output is one class per image).
BATCH = {"classifier": 16}


def base_channels(model):
    return {"nhwc_net": 4}.get(model.graph.name, -1)


def quantize(model, fmt, per_channel, seed, activation="u8"):
    from onnxruntime.quantization import (CalibrationDataReader, QuantFormat,
                                          QuantType, quantize_static)
    c, h, w = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim[1:]]
    rng = np.random.default_rng(seed)

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.items = iter([{"x": rng.normal(0, 1, size=(1, c, h, w)).astype(np.float32)}
                               for _ in range(8)])

        def get_next(self):
            return next(self.items, None)

    tmp_in = os.path.join(OUT, "_float.onnx")
    tmp_out = os.path.join(OUT, "_q.onnx")
    onnx.save(model, tmp_in)
    quantize_static(tmp_in, tmp_out, Reader(),
                    quant_format=QuantFormat.QDQ if fmt == "qdq" else QuantFormat.QOperator,
                    per_channel=per_channel,
                    activation_type=QuantType.QUInt8 if activation == "u8" else QuantType.QInt8,
                    weight_type=QuantType.QInt8,
                    extra_options={"ActivationSymmetric": activation == "s8sym"})
    q = onnx.load(tmp_out)
    os.remove(tmp_in)
    os.remove(tmp_out)
    return q


def qonnx_model(seed, bits_in, layers, name):
    """x -> Quant(in) -> [Conv(Quant(w)) -> act -> Quant]* ; QONNX domain."""
    rng = np.random.default_rng(seed)
    c, h, w = 4, 8, 8
    nodes, inits = [], []
    cnt = [0]

    def const(a, p):
        cnt[0] += 1
        n = f"{p}{cnt[0]}"
        inits.append(numpy_helper.from_array(np.asarray(a), n))
        return n

    def quant(x, scale, bits, signed, narrow=0, mode="ROUND", zp=0.0):
        cnt[0] += 1
        out = f"quant{cnt[0]}"
        nodes.append(helper.make_node(
            "Quant", [x, const(np.asarray(scale, np.float32), "s"), const(np.float32(zp), "z"),
                      const(np.float32(bits), "bits")], [out], name=out,
            domain="qonnx.custom_op.general", signed=signed, narrow=narrow, rounding_mode=mode))
        return out

    y = quant("x", 2.0 ** -4, bits_in, 0)
    cin = c
    for i, (cout, k, wbits, abits, mode, act, per_channel) in enumerate(layers):
        wf = rng.normal(0, 0.4, size=(cout, cin, k, k)).astype(np.float32)
        wname = const(wf, "wf")
        if per_channel:
            ws = (rng.uniform(0.05, 0.2, size=(cout, 1, 1, 1))).astype(np.float32)
        else:
            ws = np.float32(0.1)
        wq = quant(wname, ws, wbits, 1, narrow=1)
        bias = const(rng.normal(0, 0.2, size=cout).astype(np.float32), "bias")
        cnt[0] += 1
        conv = f"conv{cnt[0]}"
        nodes.append(helper.make_node("Conv", [y, wq, bias], [conv], name=conv,
                                      kernel_shape=[k, k], pads=[k // 2] * 4))
        y = conv
        if act == "relu":
            cnt[0] += 1
            nodes.append(helper.make_node("Relu", [y], [f"relu{cnt[0]}"], name=f"relu{cnt[0]}"))
            y = f"relu{cnt[0]}"
        if act == "bipolar":
            cnt[0] += 1
            out = f"bipolar{cnt[0]}"
            nodes.append(helper.make_node("BipolarQuant", [y, const(np.float32(0.5), "s")], [out],
                                          name=out, domain="qonnx.custom_op.general"))
            y = out
        else:
            scale = rng.uniform(0.02, 0.3)
            y = quant(y, np.float32(scale), abits, int(act != "relu"), mode=mode)
        if i == 0:
            cnt[0] += 1
            mp = f"maxpool{cnt[0]}"
            nodes.append(helper.make_node("MaxPool", [y], [mp], name=mp, kernel_shape=[2, 2], strides=[2, 2]))
            y = mp
        cin = cout
    g = helper.make_graph(nodes, name,
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", c, h, w])],
                          [helper.make_tensor_value_info(y, TensorProto.FLOAT, None)], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13),
                                            helper.make_opsetid("qonnx.custom_op.general", 1)])
    m.ir_version = 8
    return m


QONNX_MODELS = [
    ("qonnx_w4a4", 11, 8, [(8, 3, 4, 4, "ROUND", "relu", True), (4, 3, 4, 8, "ROUND", "none", False)]),
    ("qonnx_w2a3_floor", 12, 6, [(6, 3, 2, 3, "FLOOR", "relu", False), (4, 1, 3, 5, "CEIL", "none", True)]),
    ("qonnx_w8_bipolar", 13, 8, [(8, 3, 8, 8, "ROUND", "relu", True), (4, 3, 6, 2, "ROUND", "bipolar", False)]),
]


def qonnx_classifier():
    """QONNX: 3-8 bit Quant around a conv, average pooling (a FLOOR Quant of
    an exact average), Flatten and a Gemm with 3-bit per-row weights."""
    rng = np.random.default_rng(14)
    nodes, inits = [], []
    dom = "qonnx.custom_op.general"

    def const(a, n):
        inits.append(numpy_helper.from_array(np.asarray(a), n))
        return n

    def quant(x, out, scale, bits, signed, narrow=0, mode="ROUND"):
        nodes.append(helper.make_node(
            "Quant", [x, const(np.asarray(scale, np.float32), out + "_s"), const(np.float32(0), out + "_z"),
                      const(np.float32(bits), out + "_bits")], [out], name=out, domain=dom,
            signed=signed, narrow=narrow, rounding_mode=mode))
        return out

    y = quant("x", "quant_x", 2.0 ** -5, 6, 0)
    w = quant(const(rng.normal(0, 0.3, size=(8, 3, 3, 3)).astype(np.float32), "w1f"), "quant_w1",
              np.float32(0.0625), 4, 1, narrow=1)
    nodes.append(helper.make_node("Conv", [y, w, const(rng.normal(0, 0.2, 8).astype(np.float32), "b1")],
                                  ["conv1"], name="conv1", kernel_shape=[3, 3], pads=[1, 1, 1, 1]))
    nodes.append(helper.make_node("Relu", ["conv1"], ["relu1"], name="relu1"))
    y = quant("relu1", "quant_a1", np.float32(0.11), 4, 0)
    nodes.append(helper.make_node("AveragePool", [y], ["pool1"], name="pool1", kernel_shape=[3, 3],
                                  strides=[3, 3]))
    y = quant("pool1", "quant_p1", np.float32(0.0517), 5, 0, mode="FLOOR")
    nodes.append(helper.make_node("GlobalAveragePool", [y], ["gap"], name="gap"))
    nodes.append(helper.make_node("Flatten", ["gap"], ["flat"], name="flat", axis=1))
    y = quant("flat", "quant_f", np.float32(0.03), 8, 0)
    ws = rng.uniform(0.05, 0.2, size=(5, 1)).astype(np.float32)
    w = quant(const(rng.normal(0, 0.4, size=(5, 8)).astype(np.float32), "w2f"), "quant_w2", ws, 3, 1,
              narrow=1)
    nodes.append(helper.make_node("Gemm", [y, w, const(rng.normal(0, 0.1, 5).astype(np.float32), "b2")],
                                  ["gemm"], name="gemm", transB=1))
    y = quant("gemm", "quant_out", np.float32(0.02), 8, 1, mode="CEIL")
    g = helper.make_graph(nodes, "qonnx_classifier",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 9, 9])],
                          [helper.make_tensor_value_info(y, TensorProto.FLOAT, None)], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid(dom, 1)])
    m.ir_version = 8
    return m


def qonnx_trunc():
    """QONNX Trunc, as Brevitas exports it around average pooling: version 1
    (FLOOR after a ReLU, ROUND with a zero point after an AveragePool) and
    version 2 (CEIL, an output scale 4 times the input's, clamped to signed 4 bits)."""
    rng = np.random.default_rng(15)
    nodes, inits = [], []
    dom = "qonnx.custom_op.general"

    def const(a, n):
        inits.append(numpy_helper.from_array(np.asarray(a), n))
        return n

    def quant(x, out, scale, bits, signed, narrow=0):
        nodes.append(helper.make_node(
            "Quant", [x, const(np.asarray(scale, np.float32), out + "_s"), const(np.float32(0), out + "_z"),
                      const(np.float32(bits), out + "_bits")], [out], name=out, domain=dom,
            signed=signed, narrow=narrow, rounding_mode="ROUND"))
        return out

    def trunc(x, out, scale, zp, bits_in, bits_out, mode, v2=None):
        ins = [x, const(np.float32(scale), out + "_s"), const(np.float32(zp), out + "_z"),
               const(np.float32(bits_in), out + "_in")]
        attrs = {}
        if v2 is not None:
            out_scale, signed = v2
            ins += [const(np.float32(out_scale), out + "_os"), const(np.float32(0), out + "_oz")]
            attrs = {"signed": signed, "narrow": 0}
        ins.append(const(np.float32(bits_out), out + "_out"))
        nodes.append(helper.make_node("Trunc", ins, [out], name=out, domain=dom, rounding_mode=mode,
                                      **attrs))
        return out

    y = quant("x", "quant_x", 2.0 ** -5, 6, 0)
    w = quant(const(rng.normal(0, 0.3, size=(6, 3, 3, 3)).astype(np.float32), "w1f"), "quant_w1",
              np.float32(0.0625), 4, 1, narrow=1)
    nodes.append(helper.make_node("Conv", [y, w, const(rng.normal(0, 0.2, 6).astype(np.float32), "b1")],
                                  ["conv1"], name="conv1", kernel_shape=[3, 3], pads=[1, 1, 1, 1]))
    nodes.append(helper.make_node("Relu", ["conv1"], ["relu1"], name="relu1"))
    y = trunc("relu1", "trunc1", 0.0371, 0, 10, 9, "FLOOR")
    nodes.append(helper.make_node("AveragePool", [y], ["pool1"], name="pool1", kernel_shape=[2, 2],
                                  strides=[2, 2]))
    y = trunc("pool1", "trunc2", 0.0371 / 4, 3, 9, 8, "ROUND")
    y = trunc(y, "trunc3", 0.0371 / 4, 0, 8, 4, "CEIL", v2=(0.0371, 1))
    g = helper.make_graph(nodes, "qonnx_trunc",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 8, 8])],
                          [helper.make_tensor_value_info(y, TensorProto.FLOAT, None)], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid(dom, 1)])
    m.ir_version = 8
    return m


def batchnorm_qdq():
    """QDQ by hand (quantize_static folds BatchNormalization away): a
    Conv -> BatchNormalization -> ReLU -> QuantizeLinear, and a
    BatchNormalization between a DequantizeLinear and a Conv."""
    rng = np.random.default_rng(16)
    f32 = lambda v: np.asarray(v, np.float32)  # noqa: E731
    inits = []

    def const(a, n):
        inits.append(numpy_helper.from_array(np.asarray(a), n))
        return n

    def bn(x, out, c):
        ins = [x, const(f32(rng.uniform(0.5, 1.5, c) * rng.choice([-1, 1], c)), out + "_g"),
               const(f32(rng.normal(0, 0.3, c)), out + "_b"), const(f32(rng.normal(0, 0.5, c)), out + "_m"),
               const(f32(rng.uniform(0.2, 3.0, c)), out + "_v")]
        return helper.make_node("BatchNormalization", ins, [out], name=out, epsilon=1e-3)

    def weights(name, shape, per_channel):
        w = rng.integers(-127, 128, size=shape).astype(np.int8)
        sc = f32(rng.uniform(0.002, 0.01, shape[0])) if per_channel else f32(0.004)
        const(w, name + "_q")
        const(sc, name + "_s")
        const(np.zeros(shape[0], np.int8) if per_channel else np.int8(0), name + "_z")
        return helper.make_node("DequantizeLinear", [name + "_q", name + "_s", name + "_z"], [name],
                                name=name + "_dq", axis=0)

    const(f32(0.02), "x_s"), const(np.uint8(128), "x_z")
    const(f32(0.05), "r_s"), const(np.uint8(0), "r_z")
    const(f32(0.15), "o_s"), const(np.int8(0), "o_z")
    nodes = [helper.make_node("QuantizeLinear", ["x", "x_s", "x_z"], ["xq"], name="x_q"),
             helper.make_node("DequantizeLinear", ["xq", "x_s", "x_z"], ["xd"], name="x_dq"),
             weights("w1", (8, 4, 3, 3), True),
             helper.make_node("Conv", ["xd", "w1", const(f32(rng.normal(0, 0.2, 8)), "b1")], ["c1"],
                              name="conv1", pads=[1, 1, 1, 1]),
             bn("c1", "bn1", 8),
             helper.make_node("Relu", ["bn1"], ["r1"], name="relu1"),
             helper.make_node("QuantizeLinear", ["r1", "r_s", "r_z"], ["r1q"], name="relu1_q"),
             helper.make_node("DequantizeLinear", ["r1q", "r_s", "r_z"], ["r1d"], name="relu1_dq"),
             bn("r1d", "bn2", 8), weights("w2", (4, 8, 3, 3), False),
             helper.make_node("Conv", ["bn2", "w2"], ["c2"], name="conv2", strides=[2, 2],
                              pads=[1, 1, 1, 1]),
             helper.make_node("QuantizeLinear", ["c2", "o_s", "o_z"], ["oq"], name="out_q"),
             helper.make_node("DequantizeLinear", ["oq", "o_s", "o_z"], ["y"], name="out_dq")]
    g = helper.make_graph(nodes, "batchnorm_qdq",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4, 8, 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)])
    m.ir_version = 8
    return m


def integer_ops():
    """ConvInteger and MatMulInteger (integer-only products, as dynamic
    quantization writes them) between QuantizeLinear and DequantizeLinear,
    built by hand: x -> Q -> ConvInteger -> DQ(int32) -> Relu -> Q -> Flatten
    -> MatMulInteger -> DQ -> Q."""
    rng = np.random.default_rng(15)
    f32 = lambda v: np.asarray(v, np.float32)  # noqa: E731
    inits = [numpy_helper.from_array(f32(0.05), "x_s"), numpy_helper.from_array(np.uint8(128), "x_z"),
             numpy_helper.from_array(rng.integers(90, 160, size=(6, 4, 3, 3)).astype(np.uint8), "w1"),
             numpy_helper.from_array(np.uint8(125), "w1_z"),
             numpy_helper.from_array(f32(0.05 * 0.0071), "c_s"), numpy_helper.from_array(np.int32(0), "c_z"),
             numpy_helper.from_array(f32(0.37), "r_s"), numpy_helper.from_array(np.uint8(0), "r_z"),
             numpy_helper.from_array(rng.integers(-127, 128, size=(54, 5)).astype(np.int8), "w2"),
             numpy_helper.from_array(rng.integers(-3, 4, size=5).astype(np.int8), "w2_z"),
             numpy_helper.from_array(f32(0.37 * 0.0113), "m_s"),
             numpy_helper.from_array(f32(0.9), "o_s"), numpy_helper.from_array(np.uint8(100), "o_z")]
    nodes = [helper.make_node("QuantizeLinear", ["x", "x_s", "x_z"], ["xq"], name="x_q"),
             helper.make_node("ConvInteger", ["xq", "w1", "x_z", "w1_z"], ["c"], name="conv_int",
                              pads=[1, 1, 1, 1], strides=[2, 2]),
             helper.make_node("DequantizeLinear", ["c", "c_s", "c_z"], ["cd"], name="conv_dq"),
             helper.make_node("Relu", ["cd"], ["r"], name="relu1"),
             helper.make_node("QuantizeLinear", ["r", "r_s", "r_z"], ["rq"], name="relu1_q"),
             helper.make_node("Flatten", ["rq"], ["flat"], name="flat", axis=1),
             helper.make_node("MatMulInteger", ["flat", "w2", "r_z", "w2_z"], ["m"], name="matmul_int"),
             helper.make_node("DequantizeLinear", ["m", "m_s"], ["md"], name="matmul_dq"),
             helper.make_node("QuantizeLinear", ["md", "o_s", "o_z"], ["mq"], name="out_q"),
             helper.make_node("DequantizeLinear", ["mq", "o_s", "o_z"], ["y"], name="out_dq")]
    g = helper.make_graph(nodes, "integer_ops",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4, 6, 6])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)])
    m.ir_version = 8
    return m


def input_codes(model, rng, n=2):
    """Random integer codes for the model's input and the float input that
    quantizes exactly to them."""
    g = model.graph
    inits = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    c, h, w = [d.dim_value for d in g.input[0].type.tensor_type.shape.dim[1:]]
    q = [nd for nd in g.node if "x" in nd.input and nd.op_type in ("QuantizeLinear", "Quant")]
    if not q:  # NHWC: the quantizer reads the transpose
        t = [nd for nd in g.node if "x" in nd.input and nd.op_type == "Transpose"][0]
        q = [nd for nd in g.node if t.output[0] in nd.input and nd.op_type == "QuantizeLinear"]
    q = q[0]
    s = np.float32(inits[q.input[1]])
    if q.op_type == "QuantizeLinear":
        zp = inits[q.input[2]] if len(q.input) > 2 else np.uint8(0)
        lo, hi = ref.INT_RANGES[zp.dtype.type]
        zp = int(zp)
    else:
        bits = int(inits[q.input[3]])
        signed = [a.i for a in q.attribute if a.name == "signed"][0]
        lo, hi = ((-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1))
        zp = int(inits[q.input[2]])
    codes = rng.integers(lo, hi + 1, size=(n, c, h, w))
    x = ((codes - zp).astype(np.float64) * float(s)).astype(np.float32)
    # x is within half a step of each code, so every quantizer recovers it.
    assert np.all(np.rint(x.astype(np.float64) / float(s)) + zp == codes)
    dtype = np.uint8 if lo >= 0 and hi <= 255 else np.int8 if lo >= -128 and hi <= 127 else np.int16
    return codes.astype(dtype), x


def ort_codes(model, x, out_codes):
    """onnxruntime's output codes: the final DequantizeLinear inverted."""
    import onnxruntime as ort
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    y = sess.run(None, {"x": x})[0]
    g = model.graph
    inits = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    dq = [nd for nd in g.node if nd.output[0] == g.output[0].name][0]
    if dq.op_type == "ArgMax":  # integer classes, no quantizer
        return y.astype(np.int64)
    if dq.op_type == "Transpose":
        dq = [nd for nd in g.node if nd.output[0] == dq.input[0]][0]
    assert dq.op_type == "DequantizeLinear", dq.op_type
    s = float(np.float32(inits[dq.input[1]]))
    zp = int(inits[dq.input[2]]) if len(dq.input) > 2 else 0
    return np.rint(y.astype(np.float64) / s).astype(np.int64) + zp


def refusals():
    """Models `convoy import` must refuse, each for one reason (tests/it/import.rs)."""
    f32 = lambda v: np.asarray(v, np.float32)  # noqa: E731

    def save(name, nodes, inits, inp_shape, outs, opsets=(("", OPSET),), inp_type=TensorProto.FLOAT):
        g = helper.make_graph(nodes, name,
                              [helper.make_tensor_value_info("x", inp_type, inp_shape)],
                              [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outs],
                              inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets])
        m.ir_version = 8
        onnx.save(m, os.path.join(OUT, f"refuse_{name}.onnx"))

    def qdq_in(nodes, inits):
        inits += [numpy_helper.from_array(f32(0.05), "s"), numpy_helper.from_array(np.uint8(128), "z")]
        nodes += [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["xq"], name="x_q"),
                  helper.make_node("DequantizeLinear", ["xq", "s", "z"], ["xd"], name="x_dq")]

    # Two unsupported nodes in parallel branches: both are listed.
    nodes, inits = [], []
    qdq_in(nodes, inits)
    nodes += [helper.make_node("Softmax", ["xd"], ["sm"], name="softmax1"),
              helper.make_node("MaxPool", ["xd"], ["mp"], name="pool1", kernel_shape=[2, 2], ceil_mode=1),
              helper.make_node("QuantizeLinear", ["sm", "s", "z"], ["o1"], name="o1_q"),
              helper.make_node("QuantizeLinear", ["mp", "s", "z"], ["o2"], name="o2_q")]
    save("unknown_ops", nodes, inits, ["N", 4, 8, 8], ["o1", "o2"])
    # A symbolic height and width.
    nodes, inits = [], []
    qdq_in(nodes, inits)
    save("dynamic_shape", nodes, inits, ["N", 4, "H", "W"], ["xq"])
    # Rank-2 input.
    nodes, inits = [], []
    qdq_in(nodes, inits)
    save("layout", nodes, inits, ["N", 16], ["xq"])
    # QLinearConv with three weight scales for eight output channels.
    nodes, inits = [], []
    inits += [numpy_helper.from_array(f32(0.05), "s"), numpy_helper.from_array(np.uint8(128), "z"),
              numpy_helper.from_array(np.ones((8, 4, 3, 3), np.int8), "w"),
              numpy_helper.from_array(f32([0.01, 0.02, 0.03]), "ws"),
              numpy_helper.from_array(np.zeros(3, np.int8), "wz")]
    nodes += [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["xq"], name="x_q"),
              helper.make_node("QLinearConv", ["xq", "s", "z", "w", "ws", "wz", "s", "z"], ["y"],
                               name="conv1", pads=[1, 1, 1, 1])]
    save("scale_shape", nodes, inits, ["N", 4, 8, 8], ["y"])
    # Weights stored in an external file.
    nodes, inits = [], []
    qdq_in(nodes, inits)
    w = numpy_helper.from_array(np.ones((4, 4, 1, 1), np.int8), "w_external")
    w.ClearField("raw_data")
    w.data_location = TensorProto.EXTERNAL
    e = w.external_data.add()
    e.key, e.value = "location", "weights.bin"
    inits.append(w)
    save("external", nodes, inits, ["N", 4, 8, 8], ["xq"])
    # A float chain (conv, relu, pool) before the first quantizer: all three named.
    nodes, inits = [], []
    inits += [numpy_helper.from_array(np.full((4, 4, 3, 3), 0.1, np.float32), "wf"),
              numpy_helper.from_array(f32(0.05), "s"), numpy_helper.from_array(np.uint8(0), "z")]
    nodes += [helper.make_node("Conv", ["x", "wf"], ["c"], name="conv1", pads=[1, 1, 1, 1]),
              helper.make_node("Relu", ["c"], ["r"], name="relu1"),
              helper.make_node("MaxPool", ["r"], ["p"], name="pool1", kernel_shape=[2, 2], strides=[2, 2]),
              helper.make_node("QuantizeLinear", ["p", "s", "z"], ["pq"], name="pool1_q")]
    save("float_chain", nodes, inits, ["N", 4, 8, 8], ["pq"])
    # The operators of issue 14 beyond what the importer takes, in parallel
    # branches: all five listed in one error (the padded AveragePool is imported;
    # the BatchNormalization is refused for reading its unrounded average).
    nodes, inits = [], []
    qdq_in(nodes, inits)
    inits += [numpy_helper.from_array(np.array([0, 0], np.int64), "st"),
              numpy_helper.from_array(np.array([4, 8], np.int64), "en"),
              numpy_helper.from_array(np.array([1, 2], np.int64), "ax"),
              numpy_helper.from_array(np.array([1, 2], np.int64), "step")]
    nodes += [helper.make_node("Sigmoid", ["xd"], ["sg"], name="sigmoid1"),
              helper.make_node("Relu", ["sg"], ["sr"], name="relu_of_table"),
              helper.make_node("QuantizeLinear", ["sr", "s", "z"], ["o1"], name="o1_q"),
              helper.make_node("Slice", ["xd", "st", "en", "ax", "step"], ["sl"], name="slice_step2"),
              helper.make_node("QuantizeLinear", ["sl", "s", "z"], ["o2"], name="o2_q"),
              helper.make_node("ArgMax", ["xd"], ["am"], name="argmax_rows", axis=2),
              helper.make_node("AveragePool", ["xd"], ["ap"], name="avgpool_ceil", kernel_shape=[3, 3],
                               strides=[2, 2], ceil_mode=1),
              helper.make_node("QuantizeLinear", ["ap", "s", "z"], ["o4"], name="o4_q"),
              helper.make_node("AveragePool", ["xd"], ["ap2"], name="avgpool_padded", kernel_shape=[3, 3],
                               pads=[1, 1, 1, 1], strides=[1, 1]),
              helper.make_node("QuantizeLinear", ["ap2", "s2", "z"], ["o6"], name="o6_q"),
              helper.make_node("BatchNormalization", ["ap2", "bn_s", "bn_b", "bn_m", "bn_v"], ["bn"],
                               name="batchnorm1"),
              helper.make_node("QuantizeLinear", ["bn", "s", "z"], ["o5"], name="o5_q")]
    inits += [numpy_helper.from_array(np.full(4, v, np.float32), n)
              for n, v in (("bn_s", 1.0), ("bn_b", 0.0), ("bn_m", 0.0), ("bn_v", 1.0))]
    inits.append(numpy_helper.from_array(f32(0.07), "s2"))
    g = helper.make_graph(nodes, "layer_limits",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4, 8, 8])],
                          [helper.make_tensor_value_info(o, TensorProto.FLOAT, None)
                           for o in ("o1", "o2", "o4", "o5", "o6")]
                          + [helper.make_tensor_value_info("am", TensorProto.INT64, None)], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)])
    m.ir_version = 8
    onnx.save(m, os.path.join(OUT, "refuse_layer_limits.onnx"))
    # A requantization by 2^-120: more than Convoy's exact range.
    nodes, inits = [], []
    qdq_in(nodes, inits)
    inits.append(numpy_helper.from_array(f32(2.0 ** -120), "tiny"))
    nodes += [helper.make_node("Relu", ["xd"], ["r"], name="relu1"),
              helper.make_node("QuantizeLinear", ["r", "tiny", "z"], ["rq"], name="relu1_q")]
    save("too_wide", nodes, inits, ["N", 4, 8, 8], ["rq"])


def main():
    os.makedirs(OUT, exist_ok=True)
    refusals()
    summary = {}
    rng = np.random.default_rng(2026)
    variants = [(make, fmt, pc, "u8") for make in FLOAT_MODELS for fmt in ("qdq", "qop")
                for pc in (False, True)]
    # Signed activations, asymmetric and symmetric (zero point 0).
    variants += [(nhwc_net, "qdq", False, "u8"), (nhwc_net, "qop", True, "u8")]
    variants += [(cnn_basic, "qdq", True, "s8"), (resnet_block, "qop", False, "s8"),
                 (unet_level, "qdq", False, "s8sym")]

    def emit(make, fmt, per_channel, activation, rng):
        base = make()
        name = f"{base.graph.name}_{fmt}_{'pc' if per_channel else 'pt'}"
        if activation != "u8":
            name += f"_{activation}"
        q = quantize(base, fmt, per_channel, seed=7, activation=activation)
        quantized_in = {"x"} | {nd.output[0] for nd in q.graph.node
                                if nd.op_type == "Transpose" and "x" in nd.input}
        if not any(nd.op_type == "QuantizeLinear" and quantized_in & set(nd.input)
                   for nd in q.graph.node):
            # onnxruntime left the model float (no QOperator ConvTranspose):
            # `convoy import` must refuse it, naming the float nodes.
            onnx.save(q, os.path.join(OUT, f"refuse_{name}.onnx"))
            print(f"{name}: left float by onnxruntime; saved as refuse_{name}.onnx")
            return
        codes, x = input_codes(q, rng, BATCH.get(base.graph.name, 2))
        try:
            expected = ref.run(q, x)
        except NotImplementedError as e:
            print(f"{name}: the reference has no {e}; skipped")
            return
        exp = np.asarray(list(expected.values())[0]).astype(np.int64)
        got = ort_codes(q, x, exp)
        diff = int(np.sum(got != exp))
        if q.graph.input[0].type.tensor_type.shape.dim[3].dim_value == base_channels(base):
            # NHWC: Convoy reads and writes [C, H, W].
            codes = np.transpose(codes, (0, 3, 1, 2))
            exp = np.transpose(exp, (0, 3, 1, 2))
        onnx.save(q, os.path.join(OUT, f"{name}.onnx"))
        np.save(os.path.join(OUT, f"{name}.x.npy"), codes)
        np.save(os.path.join(OUT, f"{name}.expected.npy"), exp.astype(np.int16))
        summary[name] = {"values": int(exp.size), "onnxruntime_differs": diff,
                         "ops": sorted({nd.op_type for nd in q.graph.node})}
        print(f"{name}: {exp.size} values, onnxruntime differs on {diff}")
    for make, fmt, per_channel, activation in variants:
        emit(make, fmt, per_channel, activation, rng)
    for name, seed, bits, layers in QONNX_MODELS:
        m = qonnx_model(seed, bits, layers, name)
        codes, x = input_codes(m, rng)
        exp = np.asarray(list(ref.run(m, x).values())[0]).astype(np.int64)
        onnx.save(m, os.path.join(OUT, f"{name}.onnx"))
        np.save(os.path.join(OUT, f"{name}.x.npy"), codes)
        np.save(os.path.join(OUT, f"{name}.expected.npy"), exp.astype(np.int16))
        summary[name] = {"values": int(exp.size), "onnxruntime_differs": None,
                         "ops": sorted({nd.op_type for nd in m.graph.node})}
        print(f"{name}: {exp.size} values (QONNX: no onnxruntime run)")
    rng = np.random.default_rng(2027)
    for make in LAYER_MODELS:
        for fmt in ("qdq", "qop"):
            for per_channel in (False, True):
                emit(make, fmt, per_channel, "u8", rng)
    m = qonnx_classifier()
    codes, x = input_codes(m, rng, 4)
    exp = np.asarray(list(ref.run(m, x).values())[0]).astype(np.int64)
    onnx.save(m, os.path.join(OUT, "qonnx_classifier.onnx"))
    np.save(os.path.join(OUT, "qonnx_classifier.x.npy"), codes)
    np.save(os.path.join(OUT, "qonnx_classifier.expected.npy"), exp.astype(np.int16))
    summary["qonnx_classifier"] = {"values": int(exp.size), "onnxruntime_differs": None,
                                   "ops": sorted({nd.op_type for nd in m.graph.node})}
    print(f"qonnx_classifier: {exp.size} values (QONNX: no onnxruntime run)")
    m = qonnx_trunc()
    codes, x = input_codes(m, np.random.default_rng(1515), 4)  # its own: the others' inputs stay
    exp = np.asarray(list(ref.run(m, x).values())[0]).astype(np.int64)
    onnx.save(m, os.path.join(OUT, "qonnx_trunc.onnx"))
    np.save(os.path.join(OUT, "qonnx_trunc.x.npy"), codes)
    np.save(os.path.join(OUT, "qonnx_trunc.expected.npy"), exp.astype(np.int16))
    summary["qonnx_trunc"] = {"values": int(exp.size), "onnxruntime_differs": None,
                              "ops": sorted({nd.op_type for nd in m.graph.node})}
    print(f"qonnx_trunc: {exp.size} values (QONNX: no onnxruntime run)")
    m = integer_ops()
    codes, x = input_codes(m, rng, 4)
    exp = np.asarray(list(ref.run(m, x).values())[0]).astype(np.int64)
    diff = int(np.sum(ort_codes(m, x, exp) != exp))
    onnx.save(m, os.path.join(OUT, "integer_ops.onnx"))
    np.save(os.path.join(OUT, "integer_ops.x.npy"), codes)
    np.save(os.path.join(OUT, "integer_ops.expected.npy"), exp.astype(np.int16))
    summary["integer_ops"] = {"values": int(exp.size), "onnxruntime_differs": diff,
                              "ops": sorted({nd.op_type for nd in m.graph.node})}
    print(f"integer_ops: {exp.size} values, onnxruntime differs on {diff}")
    m = batchnorm_qdq()
    codes, x = input_codes(m, np.random.default_rng(1616), 4)
    exp = np.asarray(list(ref.run(m, x).values())[0]).astype(np.int64)
    diff = int(np.sum(ort_codes(m, x, exp) != exp))
    onnx.save(m, os.path.join(OUT, "batchnorm_qdq.onnx"))
    np.save(os.path.join(OUT, "batchnorm_qdq.x.npy"), codes)
    np.save(os.path.join(OUT, "batchnorm_qdq.expected.npy"), exp.astype(np.int16))
    summary["batchnorm_qdq"] = {"values": int(exp.size), "onnxruntime_differs": diff,
                                "ops": sorted({nd.op_type for nd in m.graph.node})}
    print(f"batchnorm_qdq: {exp.size} values, onnxruntime differs on {diff}")
    total = sum(v["values"] for v in summary.values() if v["onnxruntime_differs"] is not None)
    differs = sum(v["onnxruntime_differs"] or 0 for v in summary.values())
    summary["_total"] = {"values_compared_with_onnxruntime": total, "onnxruntime_differs": differs}
    with open(os.path.join(OUT, "corpus.json"), "w") as f:
        json.dump(summary, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"total: onnxruntime differs from the exact reference on {differs} of {total} values")


if __name__ == "__main__":
    main()
