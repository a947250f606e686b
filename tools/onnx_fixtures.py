#!/usr/bin/env python3
"""Generates the ONNX cross-check fixtures: tests/fixtures/onnx/<case>/.

Each case folder holds a Convoy script `case.cnn`, its input(s) `<name>.npy`
(in the input's integer dtype, or float64 for a fixed-point input), the
weights it `load()`s, and `expected_<output>.npy` for every output. The
expected values are NOT computed with Convoy:

* convolutions, transposed convolutions, pooling (with indices), unpooling,
  resizing, concatenation and the elementwise operations that ONNX has with
  the same meaning (Add, Sub, Mul, Neg, Max, Min, Relu, Floor, Div by 2^n)
  are run through the ONNX reference evaluator (`onnx.reference`) on small
  one-node graphs in float64. Every value involved is a small dyadic
  rational (an integer, or an integer over a power of two), so float64 is
  exact; `exact_array` asserts it.
* the ap_fixed conversions (`as T` with its quantization and overflow
  modes, integer targets, `round`, `trunc`), which ONNX does not have, are
  computed with `fractions.Fraction` by the small reference functions
  `quantize`, `overflow`, `cast_fixed` and `cast_int` below, written from
  the Vivado ap_fixed documentation.
* as a guard against reference-evaluator bugs, every ONNX geometry result is
  also compared with a direct loop implementation of the operator's
  definition (`*_loops`); generation aborts if they ever disagree.

Where the reference evaluator (checked with onnx 1.23.2) is wrong, the graph is
rewritten into an equivalent one it handles (see `maxpool` and `deconv`):

* MaxPool with all strides 1 takes a generic path that returns wrong Indices
  (the flat position inside the window is unravelled with the output shape);
  such pools are run as a 3-D MaxPool with a dummy depth axis of kernel 1
  and dilation 2 (a no-op), which takes the explicit loop path.
* ConvTranspose with group > 1 only works when every group has one input
  and one output channel; other grouped cases are split per group and
  concatenated. ConvTranspose with an output_padding >= stride (legal when
  it is < dilation) fails; it is computed without output padding and end
  pad, and the result cropped / zero-extended to the size ONNX defines.

MaxPool ties: the reference evaluator scans a window in raster order and
replaces the running maximum only on a strictly greater value, so the first
maximum wins, as in PyTorch and Convoy. The loop cross-check asserts this.

Deterministic: the same files every time (one seeded generator per case).

    python3 -m venv build/venv && build/venv/bin/pip install numpy onnx
    build/venv/bin/python tools/onnx_fixtures.py            # write the fixtures
    build/venv/bin/python tools/onnx_fixtures.py --check target/debug/convoy
                                                           # ... and `convoy check` each
"""
from __future__ import annotations

import argparse
import itertools
import math
import os
import shutil
import subprocess
import sys
import zlib
from decimal import Decimal
from fractions import Fraction

import numpy as np
from onnx import TensorProto
from onnx import helper as oh
from onnx.reference import ReferenceEvaluator

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "tests", "fixtures", "onnx"))
OPSET = 18

QUANT_MODES = ["trn", "trn_zero", "rnd", "rnd_zero", "rnd_inf", "rnd_min_inf", "rnd_conv"]
OVERFLOW_MODES = ["wrap", "sat", "sat_zero", "sat_sym"]


# ---------------------------------------------------------------------------
# Exact arithmetic: ap_fixed semantics with Fractions
# ---------------------------------------------------------------------------


def quantize(v: Fraction, frac_bits: int, mode: str) -> int:
    """The integer code for `v` at a least significant bit of 2^-frac_bits,
    rounded as ap_fixed's quantization mode `mode` does."""
    t = v * Fraction(2) ** frac_bits  # v in units of the LSB
    lo = math.floor(t)
    rem = t - lo  # 0 <= rem < 1
    if rem == 0:
        return lo  # exact: every mode agrees
    if mode == "trn":  # AP_TRN: toward minus infinity
        return lo
    if mode == "trn_zero":  # AP_TRN_ZERO: toward zero
        return lo if t > 0 else lo + 1
    half = Fraction(1, 2)
    if rem < half:
        return lo  # every rounding mode: nearest is lo
    if rem > half:
        return lo + 1  # nearest is lo + 1
    # An exact tie between lo and lo + 1.
    if mode == "rnd":  # AP_RND: ties toward plus infinity
        return lo + 1
    if mode == "rnd_zero":  # AP_RND_ZERO: ties toward zero
        return lo if t > 0 else lo + 1
    if mode == "rnd_inf":  # AP_RND_INF: ties away from zero
        return lo + 1 if t > 0 else lo
    if mode == "rnd_min_inf":  # AP_RND_MIN_INF: ties toward minus infinity
        return lo
    if mode == "rnd_conv":  # AP_RND_CONV: ties to the even code
        return lo if lo % 2 == 0 else lo + 1
    raise ValueError(mode)


def overflow(code: int, width: int, signed: bool, mode: str) -> int:
    """`code` stored in a `width`-bit register with ap_fixed's overflow mode."""
    if signed:
        lo, hi = -(2 ** (width - 1)), 2 ** (width - 1) - 1
    else:
        lo, hi = 0, 2**width - 1
    if mode == "sat_sym" and signed:
        # AP_SAT_SYM: the register never holds its minimum code, even when
        # the value is exactly that minimum: the range is [-max, max].
        return min(max(code, -hi), hi)
    if lo <= code <= hi:
        return code
    if mode == "wrap":  # AP_WRAP: keep the low `width` bits
        low = code % 2**width
        return low - 2**width if signed and low > hi else low
    if mode in ("sat", "sat_sym"):  # AP_SAT (and AP_SAT_SYM when unsigned)
        return min(max(code, lo), hi)
    if mode == "sat_zero":  # AP_SAT_ZERO
        return 0
    raise ValueError(mode)


def cast_fixed(v: Fraction, width: int, integer: int, signed: bool, q: str, o: str) -> Fraction:
    """`v` assigned to ap_(u)fixed<width, integer, q, o>."""
    frac_bits = width - integer
    code = overflow(quantize(v, frac_bits, q), width, signed, o)
    return code * Fraction(2) ** -frac_bits


def cast_int(v: Fraction, width: int, signed: bool, o: str) -> int:
    """`v` assigned to ap_(u)int<width>: the fraction is truncated toward zero
    first, then the overflow mode applies (`wrap`: keep the low bits)."""
    return overflow(quantize(v, 0, "trn_zero"), width, signed, o)


def round_half_away(v: Fraction) -> int:
    """Convoy's `round`: nearest integer, halves away from zero."""
    return quantize(v, 0, "rnd_inf")


def trunc(v: Fraction) -> int:
    """Convoy's `trunc`: toward zero."""
    return quantize(v, 0, "trn_zero")


def fractions_of(a: np.ndarray) -> list[Fraction]:
    return [Fraction(float(v)) for v in np.asarray(a, dtype=np.float64).ravel()]


def exact_array(vals, shape) -> np.ndarray:
    """float64 array of exact rationals (asserting float64 holds them exactly)."""
    out = np.array([float(v) for v in vals], dtype=np.float64).reshape(shape)
    for f, v in zip(out.ravel(), vals):
        assert Fraction(float(f)) == Fraction(v), (f, v)
    return out


def apply_exact(fn, a: np.ndarray) -> np.ndarray:
    """Applies an exact scalar function elementwise."""
    return exact_array([fn(v) for v in fractions_of(a)], np.shape(a))


def check_exact(a: np.ndarray) -> np.ndarray:
    """Asserts that every value is far from float64's precision limit."""
    assert np.all(np.isfinite(a)) and np.max(np.abs(a), initial=0) < 2.0**50, "values too large"
    return a


# ---------------------------------------------------------------------------
# ONNX reference evaluator helpers
# ---------------------------------------------------------------------------

_ELEM = {np.dtype(np.float64): TensorProto.DOUBLE, np.dtype(np.float32): TensorProto.FLOAT,
         np.dtype(np.int64): TensorProto.INT64}


def onnx_graph(nodes, inputs: dict, outputs: list, opset: int = OPSET) -> list[np.ndarray]:
    """Runs a graph of `nodes` on named numpy `inputs`; `outputs` are
    (name, TensorProto type) pairs. Returns the outputs' arrays."""
    graph = oh.make_graph(
        nodes,
        "g",
        [oh.make_tensor_value_info(n, _ELEM[a.dtype], list(a.shape)) for n, a in inputs.items()],
        [oh.make_tensor_value_info(n, t, None) for n, t in outputs],
    )
    model = oh.make_model(graph, opset_imports=[oh.make_opsetid("", opset)])
    model.ir_version = 8
    return ReferenceEvaluator(model).run(None, inputs)


def onnx_op(op_type: str, inputs: list, n_out: int = 1, out_types=None, **attrs) -> list[np.ndarray]:
    """One ONNX node on positional inputs (None = an omitted optional input)."""
    names, feeds = [], {}
    for i, a in enumerate(inputs):
        if a is None:
            names.append("")
        else:
            names.append(f"in{i}")
            feeds[f"in{i}"] = a
    outs = [f"out{i}" for i in range(n_out)]
    out_types = out_types or [TensorProto.DOUBLE] * n_out
    node = oh.make_node(op_type, names, outs, **attrs)
    return onnx_graph([node], feeds, list(zip(outs, out_types)))


def f64(a) -> np.ndarray:
    return np.asarray(a, dtype=np.float64)


def batch(x: np.ndarray) -> np.ndarray:
    """A Convoy map [C, H, W] as an ONNX NCHW tensor with N = 1."""
    return f64(x)[None]


def onnx_pads(p):
    """Convoy pads (top, bottom, left, right) -> ONNX pads [top, left, bottom, right]."""
    t, b, l, r = p
    return [t, l, b, r]


# ---- the stages, on Convoy-shaped float64 arrays ----


def conv(x, w, stride=(1, 1), pads=(0, 0, 0, 0), dilation=(1, 1), groups=1):
    (y,) = onnx_op("Conv", [batch(x), f64(w)], strides=list(stride), pads=onnx_pads(pads),
                   dilations=list(dilation), group=groups, kernel_shape=list(np.shape(w)[2:]))
    y = check_exact(y[0])
    assert np.array_equal(y, conv_loops(x, w, stride, pads, dilation, groups)), "Conv cross-check"
    return y


def _conv_transpose(x, w, stride, pads, output_pad, dilation, groups):
    (y,) = onnx_op("ConvTranspose", [batch(x), f64(w)], strides=list(stride), pads=onnx_pads(pads),
                   output_padding=list(output_pad), dilations=list(dilation), group=groups,
                   kernel_shape=list(np.shape(w)[2:]))
    return y[0]


def deconv(x, w, stride=(1, 1), pads=(0, 0, 0, 0), output_pad=(0, 0), dilation=(1, 1), groups=1):
    cin, og = np.shape(w)[0], np.shape(w)[1]
    if groups > 1 and not (cin // groups == 1 and og == 1):
        # The reference evaluator's grouped ConvTranspose is only right with one
        # input and one output channel per group: split by group, concatenate.
        step = cin // groups
        y = np.concatenate([
            deconv(x[g * step:(g + 1) * step], w[g * step:(g + 1) * step], stride, pads, output_pad, dilation, 1)
            for g in range(groups)
        ])
    elif any(op >= s for op, s in zip(output_pad, stride)):
        # output_padding >= stride (allowed when < dilation) breaks the
        # reference's col2im. An output position's value depends only on the
        # begin pads; the end pad and output_padding only set the length. So
        # compute with no end pad and no output padding, then cut or
        # zero-extend to the ONNX length (H-1)*s - pb - pe + d*(K-1) + op + 1.
        t, b, l, r = pads
        full = _conv_transpose(x, w, stride, (t, 0, l, 0), (0, 0), dilation, groups)
        kh, kw = np.shape(w)[2:]
        h, wd = np.shape(x)[1:]
        ho = (h - 1) * stride[0] - t - b + dilation[0] * (kh - 1) + output_pad[0] + 1
        wo = (wd - 1) * stride[1] - l - r + dilation[1] * (kw - 1) + output_pad[1] + 1
        y = np.zeros((full.shape[0], ho, wo))
        hh, ww = min(ho, full.shape[1]), min(wo, full.shape[2])
        y[:, :hh, :ww] = full[:, :hh, :ww]
    else:
        y = _conv_transpose(x, w, stride, pads, output_pad, dilation, groups)
    y = check_exact(y)
    assert np.array_equal(y, deconv_loops(x, w, stride, pads, output_pad, dilation, groups)), "ConvTranspose cross-check"
    return y


def maxpool(x, kernel, stride, pads=(0, 0, 0, 0)):
    """Values and per-plane indices (h * W + w) of ONNX MaxPool."""
    c, h, w = np.shape(x)
    if tuple(stride) == (1, 1):
        # See the module docstring: a no-op depth axis (kernel 1, dilation 2)
        # keeps the reference evaluator on its explicit-loop path.
        t, b, l, r = pads
        v, i = onnx_op("MaxPool", [batch(x)[:, :, None]], n_out=2,
                       out_types=[TensorProto.DOUBLE, TensorProto.INT64],
                       kernel_shape=[1, *kernel], strides=[1, 1, 1], dilations=[2, 1, 1], storage_order=0,
                       pads=[0, t, l, 0, b, r])
        v, i = v[0, :, 0], i[0, :, 0]
    else:
        v, i = onnx_op("MaxPool", [batch(x)], n_out=2, out_types=[TensorProto.DOUBLE, TensorProto.INT64],
                       kernel_shape=list(kernel), strides=list(stride), pads=onnx_pads(pads),
                       storage_order=0)
        v, i = v[0], i[0]
    # ONNX Indices are flat over the whole NCHW tensor; Convoy's are per plane.
    i = i - np.arange(c)[:, None, None] * (h * w)
    lv, li = maxpool_loops(x, kernel, stride, pads)
    assert np.array_equal(v, lv) and np.array_equal(i, li), "MaxPool cross-check"
    return check_exact(v), i


def maxunpool(v, idx, kernel, stride, pads=(0, 0, 0, 0)):
    c, h, w = np.shape(v)
    ho = (h - 1) * stride[0] - pads[0] - pads[1] + kernel[0]
    wo = (w - 1) * stride[1] - pads[2] - pads[3] + kernel[1]
    flat = np.asarray(idx, dtype=np.int64) + np.arange(c, dtype=np.int64)[:, None, None] * (ho * wo)
    (y,) = onnx_op("MaxUnpool", [batch(v), flat[None]], kernel_shape=list(kernel), strides=list(stride),
                   pads=onnx_pads(pads))
    y = check_exact(y[0])
    assert y.shape == (c, ho, wo)
    assert np.array_equal(y, maxunpool_loops(v, idx, ho, wo)), "MaxUnpool cross-check"
    return y


def upsample(x, factor, mode):
    scales = np.array([1, 1, factor[0], factor[1]], dtype=np.float32)
    if mode == "nearest":
        attrs = dict(mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    else:
        attrs = dict(mode="linear", coordinate_transformation_mode="half_pixel")
    (y,) = onnx_op("Resize", [batch(x), None, scales], **attrs)
    y = check_exact(y[0])
    ref = nearest_loops(x, factor) if mode == "nearest" else bilinear_loops(x, factor)
    assert np.array_equal(y, ref), "Resize cross-check"
    return y


def _ew_operand(a, like):
    a = f64(a)
    if a.ndim == 1 and like is not None and np.ndim(like) == 3:
        return a[:, None, None]  # a [C] vector broadcasts over a map's channels
    return a


def ew(op_type: str, a, b=None):
    """An ONNX elementwise op with Convoy's broadcasting (scalar, [C] vector)."""
    if b is None:
        (y,) = onnx_op(op_type, [f64(a)])
    else:
        big = a if np.ndim(a) >= np.ndim(b) else b
        (y,) = onnx_op(op_type, [_ew_operand(a, big), _ew_operand(b, big)])
    return check_exact(y)


def add(a, b): return ew("Add", a, b)
def sub(a, b): return ew("Sub", a, b)
def mul(a, b): return ew("Mul", a, b)
def emax(a, b): return ew("Max", a, b)
def emin(a, b): return ew("Min", a, b)
def relu(a): return ew("Relu", a)
def neg(a): return ew("Neg", a)
def floor(a): return ew("Floor", a)
def shr(a, n): return floor(ew("Div", a, np.float64(2**n)))  # arithmetic shift: floor(x / 2^n)
def shl(a, n): return mul(a, np.float64(2**n))
def clip(a, lo, hi): return emin(emax(a, lo), hi)


def concat(*xs):
    (y,) = onnx_op("Concat", [batch(x) for x in xs], axis=1)
    return y[0]


# ---- direct loop implementations (cross-checks of the ONNX results) ----


def conv_loops(x, w, stride, pads, dilation, groups):
    cin, h, wd = np.shape(x)
    cout, ig, kh, kw = np.shape(w)
    t, b, l, r = pads
    ho = (h + t + b - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    wo = (wd + l + r - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    out = np.zeros((cout, ho, wo))
    for o, oy, ox in itertools.product(range(cout), range(ho), range(wo)):
        grp = o // (cout // groups)
        acc = 0.0
        for i, ky, kx in itertools.product(range(ig), range(kh), range(kw)):
            y, xx = oy * stride[0] - t + ky * dilation[0], ox * stride[1] - l + kx * dilation[1]
            if 0 <= y < h and 0 <= xx < wd:
                acc += w[o][i][ky][kx] * x[grp * ig + i][y][xx]
        out[o, oy, ox] = acc
    return out


def deconv_loops(x, w, stride, pads, output_pad, dilation, groups):
    cin, h, wd = np.shape(x)
    _, og, kh, kw = np.shape(w)
    t, b, l, r = pads
    ho = (h - 1) * stride[0] - t - b + dilation[0] * (kh - 1) + output_pad[0] + 1
    wo = (wd - 1) * stride[1] - l - r + dilation[1] * (kw - 1) + output_pad[1] + 1
    out = np.zeros((og * groups, ho, wo))
    for ci, o, iy, ix, ky, kx in itertools.product(range(cin), range(og), range(h), range(wd), range(kh), range(kw)):
        grp = ci // (cin // groups)
        oy, ox = iy * stride[0] - t + ky * dilation[0], ix * stride[1] - l + kx * dilation[1]
        if 0 <= oy < ho and 0 <= ox < wo:
            out[grp * og + o, oy, ox] += x[ci][iy][ix] * w[ci][o][ky][kx]
    return out


def maxpool_loops(x, kernel, stride, pads):
    c, h, w = np.shape(x)
    t, b, l, r = pads
    ho = (h + t + b - kernel[0]) // stride[0] + 1
    wo = (w + l + r - kernel[1]) // stride[1] + 1
    vals, idx = np.zeros((c, ho, wo)), np.zeros((c, ho, wo), dtype=np.int64)
    for ch, oy, ox in itertools.product(range(c), range(ho), range(wo)):
        best = None
        for ky, kx in itertools.product(range(kernel[0]), range(kernel[1])):
            y, xx = oy * stride[0] - t + ky, ox * stride[1] - l + kx
            if 0 <= y < h and 0 <= xx < w and (best is None or x[ch][y][xx] > best):
                best, where = x[ch][y][xx], y * w + xx  # first maximum wins
        vals[ch, oy, ox], idx[ch, oy, ox] = best, where
    return vals, idx


def maxunpool_loops(v, idx, ho, wo):
    c = np.shape(v)[0]
    out = np.zeros((c, ho * wo))
    for ch in range(c):
        for val, i in zip(np.ravel(v[ch]), np.ravel(idx[ch])):
            out[ch, i] = val  # a later duplicate wins
    return out.reshape(c, ho, wo)


def nearest_loops(x, factor):
    c, h, w = np.shape(x)
    out = np.zeros((c, h * factor[0], w * factor[1]))
    for ch, oy, ox in itertools.product(range(c), range(h * factor[0]), range(w * factor[1])):
        out[ch, oy, ox] = x[ch][oy // factor[0]][ox // factor[1]]
    return out


def _bilinear_taps(o, f, size):
    if f == 1:
        return [(o, Fraction(1))]
    src = max(Fraction(2 * o + 1, 2 * f) - Fraction(1, 2), Fraction(0))  # half_pixel, clamped at 0
    i0 = math.floor(src)
    lam = src - i0
    return [(min(i0, size - 1), 1 - lam), (min(i0 + 1, size - 1), lam)]


def bilinear_loops(x, factor):
    c, h, w = np.shape(x)
    out = np.zeros((c, h * factor[0], w * factor[1]))
    for ch, oy, ox in itertools.product(range(c), range(h * factor[0]), range(w * factor[1])):
        acc = Fraction(0)
        for (y, wy), (xx, wx) in itertools.product(_bilinear_taps(oy, factor[0], h), _bilinear_taps(ox, factor[1], w)):
            acc += wy * wx * Fraction(float(x[ch][y][xx]))
        out[ch, oy, ox] = float(acc)
        assert Fraction(out[ch, oy, ox]) == acc
    return out


# ---------------------------------------------------------------------------
# Types, values and source text
# ---------------------------------------------------------------------------


class IntT:
    """u<N> / i<N>."""

    def __init__(self, signed: bool, bits: int):
        self.signed, self.bits = signed, bits
        self.lo = -(2 ** (bits - 1)) if signed else 0
        self.hi = 2 ** (bits - 1) - 1 if signed else 2**bits - 1

    def __str__(self):
        return f"{'i' if self.signed else 'u'}{self.bits}"

    def dtype(self):
        for dt in (np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64):
            info = np.iinfo(dt)
            if info.min <= self.lo and self.hi <= info.max:
                return dt
        raise ValueError(self)

    def random(self, rng, shape, extremes=True):
        a = rng.integers(self.lo, self.hi, size=shape, endpoint=True)
        if extremes and a.size >= 4:  # make sure the ends of the range occur
            flat = a.reshape(-1)
            pos = rng.choice(a.size, size=2, replace=False)
            flat[pos[0]], flat[pos[1]] = self.lo, self.hi
        return a.astype(self.dtype())


class FixedT:
    """fixed<W, I> / ufixed<W, I> (values are written as float64)."""

    def __init__(self, signed: bool, width: int, integer: int, q=None, o=None):
        self.signed, self.width, self.integer, self.q, self.o = signed, width, integer, q, o
        self.frac = width - integer
        self.lo_code = -(2 ** (width - 1)) if signed else 0
        self.hi_code = 2 ** (width - 1) - 1 if signed else 2**width - 1

    def __str__(self):
        modes = "".join(f", {m}" for m in (self.q, self.o) if m)
        return f"{'' if self.signed else 'u'}fixed<{self.width}, {self.integer}{modes}>"

    def dtype(self):
        return np.float64

    def value(self, code):
        return Fraction(code) * Fraction(2) ** -self.frac

    def random(self, rng, shape, extremes=True):
        codes = rng.integers(self.lo_code, self.hi_code, size=shape, endpoint=True)
        if extremes and codes.size >= 4:
            flat = codes.reshape(-1)
            pos = rng.choice(codes.size, size=2, replace=False)
            flat[pos[0]], flat[pos[1]] = self.lo_code, self.hi_code
        return exact_array([self.value(int(c)) for c in codes.ravel()], shape)

    def all_codes(self, shape, rng):
        codes = np.arange(self.lo_code, self.hi_code + 1)
        rng.shuffle(codes)
        return exact_array([self.value(int(c)) for c in codes], shape)


def I(bits):
    return IntT(True, bits)


def U(bits):
    return IntT(False, bits)


def decimal_text(v: Fraction) -> str:
    """The exact decimal spelling of a dyadic rational."""
    d = Decimal(float(v))
    assert Fraction(d) == v
    s = format(d, "f")
    return s


def pair_text(p, rng, allow_single=True):
    if p[0] == p[1] and allow_single and rng.random() < 0.6:
        return str(p[0])
    return f"({p[0]}, {p[1]})"


def pads_text(p, rng):
    t, b, l, r = p
    if t == b == l == r and rng.random() < 0.6:
        return str(t)
    if t == b and l == r and rng.random() < 0.7:
        return f"({t}, {l})"
    return f"({t}, {b}, {l}, {r})"


def kwargs_text(rng, **kw):
    """`, name: value` for the arguments that are not at their default (a
    default is sometimes written anyway)."""
    parts = []
    for name, (value, default, text) in kw.items():
        if value != default or rng.random() < 0.15:
            parts.append(f"{name}: {text}")
    return "".join(", " + p for p in parts)


def shape_text(shape):
    return "[" + ", ".join(str(d) for d in shape) + "]"


def small_const(rng, signed=True, lo_exp=3, hi_exp=7, max_mag=3):
    """A random dyadic constant m / 2^e (m odd), its exponent e, and a
    fixed-point type holding it exactly (sometimes with I <= 0, or ufixed)."""
    e = int(rng.integers(lo_exp, hi_exp + 1))
    m = int(rng.integers(1, max_mag * 2**e)) | 1
    k = Fraction(m, 2**e)
    if signed and rng.random() < 0.35:
        k = -k
    unsigned = k > 0 and rng.random() < 0.25
    # smallest I that holds k, then maybe a little more
    integer = -4
    while True:
        lo = Fraction(0) if unsigned else -Fraction(2) ** (integer - (0 if unsigned else 1))
        hi = Fraction(2) ** (integer - (0 if unsigned else 1))
        if lo <= k < hi:
            break
        integer += 1
    integer += int(rng.integers(0, 3))
    frac = e + int(rng.integers(0, 3))
    t = FixedT(not unsigned, integer + frac, integer)
    return k, e, t


# ---------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------


class Case:
    def __init__(self, name, covers):
        self.name, self.covers = name, covers
        self.lines = []
        self.inputs = {}  # name -> array (already in its file dtype)
        self.files = {}  # file name -> array
        self.expected = {}  # output name -> array

    def input(self, name, ty, arr, halo=0, batched=False):
        """An input; `halo` declares a storage halo (`pad P`, no effect on
        values); a `batched` array has a leading batch axis that the
        declaration leaves out."""
        shape = arr.shape[1:] if batched else arr.shape
        self.lines.append(f"input {name}: {ty}{shape_text(shape)}{f' pad {halo}' if halo else ''}")
        self.inputs[name] = np.asarray(arr).astype(ty.dtype())
        return f64(arr)

    def param(self, name, ty, arr):
        self.lines.append(f'param {name}: {ty}{shape_text(arr.shape)} = load("{name}.npy")')
        self.files[name] = np.asarray(arr).astype(ty.dtype())
        return f64(arr)

    def const(self, name, ty, value: Fraction):
        self.lines.append(f"const {name}: {ty} = {decimal_text(value)}")
        return np.float64(float(value))

    def let(self, text):
        self.lines.append(f"let {text}")

    def output(self, **outs):
        self.lines.append("output " + ", ".join(outs))
        self.expected.update(outs)

    @property
    def out_size(self):
        return sum(np.size(a) for a in self.expected.values())

    def source(self):
        body = "".join(f"  {l}\n" for l in self.lines)
        return f"// {self.covers}\n// Generated by tools/onnx_fixtures.py; expected values from onnx.reference.\npipeline {self.name} {{\n{body}}}\n"


def store_dtype(a: np.ndarray):
    """Narrowest integer dtype for integral values, else float64."""
    a = np.asarray(a)
    if a.dtype.kind == "f" and not np.all(a == np.round(a)):
        return a.astype(np.float64)
    vals = a.astype(np.int64)
    for dt in (np.uint8, np.int8, np.uint16, np.int16, np.int32, np.int64):
        info = np.iinfo(dt)
        if vals.size == 0 or (info.min <= vals.min() and vals.max() <= info.max):
            return vals.astype(dt)
    raise ValueError


INPUT_TYPES = [U(8), I(8), I(4), U(4), I(16), U(2), U(3), I(6), I(32), U(1)]
EXOTIC_TYPES = [FixedT(True, 6, 8), FixedT(True, 6, -1), FixedT(False, 5, 7), FixedT(False, 6, 0)]
WEIGHT_TYPES = [I(8), I(4), I(8), I(4), I(3), I(2), U(2)]


def random_halo(rng):
    """A storage halo for an input, now and then."""
    return pick(rng, [0, 0, 0, 0, 0, 1, 2])


def pick(rng, items):
    return items[int(rng.integers(0, len(items)))]


def odd_or_any(rng, lo, hi):
    v = int(rng.integers(lo, hi + 1))
    if rng.random() < 0.5 and v % 2 == 0:
        v = v + 1 if v + 1 <= hi else v - 1
    return max(v, lo)


def random_conv_geom(rng, max_hw=12):
    """kernel, stride, dilation, pads and an input size giving a valid output."""
    while True:
        kh, kw = int(rng.integers(1, 6)), int(rng.integers(1, 6))
        if rng.random() < 0.3:
            kw = kh
        sh, sw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        if rng.random() < 0.4:
            sw = sh
        dh, dw = (int(rng.integers(1, 4)), int(rng.integers(1, 4))) if rng.random() < 0.5 else (1, 1)
        form = rng.random()
        if form < 0.25:
            pads = (0, 0, 0, 0)
        elif form < 0.5:
            p = int(rng.integers(0, 4))
            pads = (p, p, p, p)
        elif form < 0.7:
            ph, pw = int(rng.integers(0, 4)), int(rng.integers(0, 4))
            pads = (ph, ph, pw, pw)
        else:
            pads = tuple(int(v) for v in rng.integers(0, 4, size=4))
        eh, ew_ = dh * (kh - 1) + 1, dw * (kw - 1) + 1
        lo_h, lo_w = max(1, eh - pads[0] - pads[1]), max(1, ew_ - pads[2] - pads[3])
        if lo_h > max_hw or lo_w > max_hw:
            continue
        h = odd_or_any(rng, lo_h, min(max_hw, lo_h + 8))
        w = odd_or_any(rng, lo_w, min(max_hw, lo_w + 8))
        return (kh, kw), (sh, sw), (dh, dw), pads, (h, w)


def conv_call(fn, rng, x, w, stride, pads, dilation, groups=None):
    kw = dict(stride=(stride, (1, 1), pair_text(stride, rng)),
              pad=(pads, (0, 0, 0, 0), pads_text(pads, rng)),
              dilation=(dilation, (1, 1), pair_text(dilation, rng)))
    if groups is not None:
        kw["groups"] = (groups, 1, str(groups))
    return f"{fn}({x}, {w}{kwargs_text(rng, **kw)})"


def gen_conv(rng, name, kind):
    """conv (groups 1 or g) or dwconv, raw integer (or fixed) output."""
    (kh, kw), stride, dil, pads, (h, w) = random_conv_geom(rng)
    if kind == "fixed":
        xt = FixedT(True, int(rng.integers(6, 11)), int(rng.integers(2, 5)))
    elif kind == "exotic":  # an LSB above 1 (I > W), or I <= 0
        xt = pick(rng, EXOTIC_TYPES)
    else:
        xt = pick(rng, INPUT_TYPES)
    wt = pick(rng, WEIGHT_TYPES)
    if kind == "dw":
        cin = int(rng.integers(1, 5))
        mult = 1 if rng.random() < 0.6 else int(rng.integers(2, 4))
        groups, cout = cin, cin * mult
    elif kind == "grouped":
        groups = int(rng.integers(2, 4))
        cin, cout = groups * int(rng.integers(1, 3)), groups * int(rng.integers(1, 3))
    else:
        groups, cin, cout = 1, int(rng.integers(1, 4)), int(rng.integers(1, 4))
    c = Case(name, "")
    x = c.input("x", xt, xt.random(rng, (cin, h, w)), halo=random_halo(rng))
    wv = c.param("w", wt, wt.random(rng, (cout, cin // groups, kh, kw)))
    y = conv(x, wv, stride, pads, dil, groups)
    if kind == "dw":
        call = conv_call("dwconv", rng, "x", "w", stride, pads, dil)
    else:
        call = conv_call("conv", rng, "x", "w", stride, pads, dil, groups if kind == "grouped" or rng.random() < 0.2 else None)
    c.let(f"y = {call}")
    c.output(y=y)
    c.covers = (f"{'dwconv' if kind == 'dw' else 'conv'} {xt} x {wt} w, in {cin}x{h}x{w} out {cout}, k {kh}x{kw} "
                f"stride {stride} pads(t,b,l,r) {pads} dilation {dil} groups {groups}")
    return c


def random_deconv_geom(rng, max_hw=7):
    while True:
        kh, kw = int(rng.integers(1, 6)), int(rng.integers(1, 6))
        sh, sw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        if rng.random() < 0.4:
            sw = sh
        dh, dw = (int(rng.integers(1, 4)), int(rng.integers(1, 4))) if rng.random() < 0.45 else (1, 1)
        form = rng.random()
        if form < 0.3:
            pads = (0, 0, 0, 0)
        elif form < 0.55:
            p = int(rng.integers(0, 3))
            pads = (p, p, p, p)
        else:
            pads = tuple(int(v) for v in rng.integers(0, 4, size=4))
        if rng.random() < 0.55:
            op = tuple(int(rng.integers(0, max(s, d))) for s, d in ((sh, dh), (sw, dw)))
        else:
            op = (0, 0)
        h, w = odd_or_any(rng, 1, max_hw), odd_or_any(rng, 1, max_hw)
        ho = (h - 1) * sh - pads[0] - pads[1] + dh * (kh - 1) + op[0] + 1
        wo = (w - 1) * sw - pads[2] - pads[3] + dw * (kw - 1) + op[1] + 1
        if 1 <= ho <= 24 and 1 <= wo <= 24:
            return (kh, kw), (sh, sw), (dh, dw), pads, op, (h, w)


def deconv_call(fn, rng, x, w, stride, pads, op, dil, groups=None):
    kw = dict(stride=(stride, (1, 1), pair_text(stride, rng)),
              pad=(pads, (0, 0, 0, 0), pads_text(pads, rng)),
              output_pad=(op, (0, 0), pair_text(op, rng)),
              dilation=(dil, (1, 1), pair_text(dil, rng)))
    if groups is not None:
        kw["groups"] = (groups, 1, str(groups))
    return f"{fn}({x}, {w}{kwargs_text(rng, **kw)})"


def gen_deconv(rng, name, kind, force_big_op=False):
    while True:
        (kh, kw), stride, dil, pads, op, (h, w) = random_deconv_geom(rng)
        if not force_big_op or any(o >= s for o, s in zip(op, stride)):
            break
    xt, wt = pick(rng, INPUT_TYPES), pick(rng, WEIGHT_TYPES)
    if kind == "dw":
        cin = int(rng.integers(1, 4))
        groups, og = cin, (1 if rng.random() < 0.6 else int(rng.integers(2, 4)))
    elif kind == "grouped":
        groups = int(rng.integers(2, 4))
        cin, og = groups * int(rng.integers(1, 3)), int(rng.integers(1, 3))
    else:
        groups, cin, og = 1, int(rng.integers(1, 4)), int(rng.integers(1, 4))
    c = Case(name, "")
    x = c.input("x", xt, xt.random(rng, (cin, h, w)), halo=random_halo(rng))
    wv = c.param("w", wt, wt.random(rng, (cin, og, kh, kw)))
    y = deconv(x, wv, stride, pads, op, dil, groups)
    if kind == "dw":
        call = deconv_call("dwdeconv", rng, "x", "w", stride, pads, op, dil)
    else:
        call = deconv_call("deconv", rng, "x", "w", stride, pads, op, dil, groups if kind == "grouped" or rng.random() < 0.2 else None)
    c.let(f"y = {call}")
    c.output(y=y)
    c.covers = (f"{'dwdeconv' if kind == 'dw' else 'deconv'} {xt} x {wt} w, in {cin}x{h}x{w} out {og * groups}, "
                f"k {kh}x{kw} stride {stride} pads(t,b,l,r) {pads} output_pad {op} dilation {dil} groups {groups}")
    return c


def random_pool_geom(rng, max_hw=12):
    kh, kw = int(rng.integers(1, 5)), int(rng.integers(1, 5))
    if rng.random() < 0.4:
        kw = kh
    if rng.random() < 0.35:
        stride, explicit = (kh, kw), False
    else:
        stride, explicit = (int(rng.integers(1, 4)), int(rng.integers(1, 4))), True
    if rng.random() < 0.4:
        pads = (0, 0, 0, 0)
    else:
        pads = (int(rng.integers(0, kh)), int(rng.integers(0, kh)), int(rng.integers(0, kw)), int(rng.integers(0, kw)))
    h = odd_or_any(rng, max(1, kh - pads[0] - pads[1]), max_hw)
    w = odd_or_any(rng, max(1, kw - pads[2] - pads[3]), max_hw)
    return (kh, kw), stride, explicit, pads, (h, w)


def pool_call(rng, x, kernel, stride, explicit, pads, indices=False):
    s = f"maxpool({x}, {pair_text(kernel, rng)}"
    if explicit:
        s += f", stride: {pair_text(stride, rng)}"
    if pads != (0, 0, 0, 0) or rng.random() < 0.15:
        s += f", pad: {pads_text(pads, rng)}"
    if indices:
        s += ", indices: true"
    return s + ")"


def gen_maxpool(rng, name, indices, tie_types=False):
    kernel, stride, explicit, pads, (h, w) = random_pool_geom(rng)
    types = [U(1), U(2), U(3), I(2), I(1)] if tie_types else [U(8), I(8), I(4), I(16), U(4)]
    xt = pick(rng, types)
    cin = int(rng.integers(1, 4))
    c = Case(name, "")
    xv = xt.random(rng, (cin, h, w))
    if not tie_types and xt.signed and pads != (0, 0, 0, 0) and rng.random() < 0.6:
        xv = np.minimum(xv, -1).astype(xv.dtype)  # all negative: padding must never win
    x = c.input("x", xt, xv, halo=random_halo(rng))
    v, i = maxpool(x, kernel, stride, pads)
    if indices:
        c.let(f"(v, i) = {pool_call(rng, 'x', kernel, stride, explicit, pads, True)}")
        c.output(v=v, i=i)
    else:
        c.let(f"v = {pool_call(rng, 'x', kernel, stride, explicit, pads)}")
        c.output(v=v)
    c.covers = (f"maxpool{' with indices' if indices else ''} {xt}{' (many ties)' if tie_types else ''} "
                f"in {cin}x{h}x{w} k {kernel} stride {stride}{'' if explicit else ' (default)'} pads(t,b,l,r) {pads}")
    return c


def gen_unpool(rng, name, middle):
    while True:
        kh, kw = int(rng.integers(1, 5)), int(rng.integers(1, 5))
        sh, sw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        pads = (0, 0, 0, 0) if rng.random() < 0.5 else (
            int(rng.integers(0, kh)), int(rng.integers(0, kh)), int(rng.integers(0, kw)), int(rng.integers(0, kw)))
        ph, pw = int(rng.integers(1, 6)), int(rng.integers(1, 6))
        h = (ph - 1) * sh - pads[0] - pads[1] + kh
        w = (pw - 1) * sw - pads[2] - pads[3] + kw
        # the pooled input must have exactly the unpool size: (H + pads - k) % s == 0
        if 1 <= h <= 12 and 1 <= w <= 12 and (h + pads[0] + pads[1] - kh) % sh == 0 and (w + pads[2] + pads[3] - kw) % sw == 0:
            break
    explicit = (sh, sw) != (kh, kw) or rng.random() < 0.5
    xt = pick(rng, [U(8), U(3), I(8), I(4)])
    cin = int(rng.integers(1, 4))
    c = Case(name, "")
    x = c.input("x", xt, xt.random(rng, (cin, h, w)), halo=random_halo(rng))
    v, i = maxpool(x, (kh, kw), (sh, sw), pads)
    c.let(f"(p, idx) = {pool_call(rng, 'x', (kh, kw), (sh, sw), explicit, pads, True)}")
    if middle == "none":
        src, val = "p", v
    elif middle == "shift":
        c.let("q = relu(p - 2) >> 1")
        src, val = "q", shr(relu(sub(v, 2)), 1)
    else:  # a same-size conv: duplicate indices now carry different values
        wt = I(4)
        wv = c.param("w", wt, wt.random(rng, (cin, cin, 3, 3)))
        c.let("q = conv(p, w, pad: 1)")
        src, val = "q", conv(v, wv, (1, 1), (1, 1, 1, 1))
    s = f"u = maxunpool({src}, idx, {pair_text((kh, kw), rng)}"
    if explicit:
        s += f", stride: {pair_text((sh, sw), rng)}"
    if pads != (0, 0, 0, 0):
        s += f", pad: {pads_text(pads, rng)}"
    c.let(s + ")")
    c.output(u=maxunpool(val, i, (kh, kw), (sh, sw), pads))
    c.covers = f"maxpool indices -> {middle} -> maxunpool, {xt} in {cin}x{h}x{w} k {(kh, kw)} stride {(sh, sw)} pads(t,b,l,r) {pads}"
    return c


def gen_upsample(rng, name, mode):
    if mode == "nearest":
        factor = (int(rng.integers(1, 5)), int(rng.integers(1, 5)))
        xt = pick(rng, [U(8), I(8), I(4), I(16), FixedT(True, 8, 3)])
    else:
        factor = (pick(rng, [1, 2, 4, 8]), pick(rng, [1, 2, 4, 8]))
        xt = pick(rng, [U(8), I(8), I(4), I(16), U(1), FixedT(True, 8, 3), FixedT(False, 6, 6)] + EXOTIC_TYPES)
    cin = int(rng.integers(1, 4))
    h, w = int(rng.integers(1, 7)), int(rng.integers(1, 7))
    while h * factor[0] > 24:
        h -= 1
    while w * factor[1] > 24:
        w -= 1
    c = Case(name, "")
    x = c.input("x", xt, xt.random(rng, (cin, h, w)))
    f = pair_text(factor, rng)
    c.let(f"y = upsample(x, {f}, {mode})" if mode == "bilinear" or rng.random() < 0.7 else f"y = upsample(x, {f})")
    c.output(y=upsample(x, factor, mode))
    c.covers = f"upsample {mode} {xt} in {cin}x{h}x{w} factor {factor}"
    return c


def gen_sweep(rng, name, q, o, src: FixedT, dst):
    """`x as T` over every code of the input type (ties, overflow both ways,
    the exact minimum)."""
    c = Case(name, "")
    n = src.hi_code - src.lo_code + 1
    shape = (n // 256, 16, 16) if n >= 256 else (1, n // 16, 16)
    x = c.input("x", src, src.all_codes(shape, rng))
    if isinstance(dst, IntT):
        c.let(f"y = x as {dst} {o}")
        y = apply_exact(lambda v: cast_int(v, dst.bits, dst.signed, o), x)
        c.covers = f"cast sweep: every {src} code as {dst} {o} (truncation toward zero, overflow {o})"
    else:
        c.let(f"y = x as {dst}")
        y = apply_exact(lambda v: cast_fixed(v, dst.width, dst.integer, dst.signed, q, o), x)
        c.covers = f"cast sweep: every {src} code as {dst} (quantization {q}, overflow {o})"
    c.output(y=y)
    return c


TABLE_FUNCS = ["sigmoid", "tanh", "exp", "log", "sqrt", "reciprocal", "softplus", "gelu", "silu"]
TABLE_ONNX = {"sigmoid": "Sigmoid", "tanh": "Tanh", "exp": "Exp", "log": "Log", "sqrt": "Sqrt",
              "reciprocal": "Reciprocal", "softplus": "Softplus", "gelu": "Gelu"}


def table_onnx(fn, x):
    """f(x) by the ONNX reference evaluator in float64 (`silu` is x * Sigmoid(x))."""
    if fn == "silu":
        return x * onnx_op("Sigmoid", [x])[0]
    if fn == "gelu":
        # ONNX Gelu (opset 20, approximate = "none") is x * 0.5 * (1 + Erf(x /
        # sqrt 2)); the reference evaluator's Erf rounds to float32, so the
        # graph runs with Erf in float64 (math.erf) and the rest as ONNX.
        half = onnx_op("Div", [x, np.float64(math.sqrt(2))])[0]
        erf = np.vectorize(math.erf, otypes=[np.float64])(half)
        one_plus = onnx_op("Add", [erf, np.float64(1)])[0]
        return onnx_op("Mul", [onnx_op("Mul", [x, np.float64(0.5)])[0], one_plus])[0]
    return onnx_op(TABLE_ONNX[fn], [x])[0]


def table_quantize(f: Fraction, err: Fraction, t: FixedT) -> Fraction:
    """A float64 value of f(x) quantized as `T`. The float is within a few
    units of 2^-52 of the exact value; the exact value is never a rounding
    boundary (outside the exact points, where the float is exact too), so
    the float rounds alike unless it lies within that error of a boundary,
    which this asserts never happens."""
    t2 = f * 2 ** (t.frac + 1)
    near = abs(t2 - round(t2))
    # Next to the boundary 0 only the sign matters, and every function's sign
    # is known (the caller checks the float has it).
    at_zero = round(t2) == 0
    assert f == 0 or at_zero or abs(f) < Fraction(2) ** -3000 or near == 0 \
        or near > err * 2 ** (t.frac + 1), \
        f"a float value within its error of a rounding boundary: {float(f)}"
    return cast_fixed(f, t.width, t.integer, t.signed, t.q, t.o)


def gen_table_sweep(rng, name, fn, dst: FixedT):
    """`table(x, f, T)` over every code of the input type, against the ONNX
    operator in float64, quantized exactly."""
    c = Case(name, "")
    positive = fn in ("log", "sqrt", "reciprocal")
    src = FixedT(not positive, 8, 4)
    x = c.input("x", src, src.all_codes((1, 16, 16), rng))
    arg = "x + 0.0625" if positive else "x"
    xa = x + 0.0625 if positive else x
    c.let(f"y = table({arg}, {fn}, {dst})")
    vals = table_onnx(fn, batch(xa))[0]
    vals = vals.ravel()
    xs = f64(xa).ravel()
    if fn == "gelu":
        # gelu(x) = x + gelu(-x): the positive side as x plus a small negative
        # number, so that values just below x are seen below it; gelu of a
        # very negative x underflows to 0.0 in float64 (1 + erf(x / sqrt 2)
        # cancels), where the exact value is negative and far below any LSB.
        neg = table_onnx(fn, batch(-np.abs(f64(xa))))[0].ravel()
        tiny = Fraction(1, 2**4000)
        small = [-tiny if (g == 0 and xv != 0) else Fraction(float(g)) for g, xv in zip(neg, xs)]
        exact = [Fraction(float(xv)) + g if xv > 0 else g for g, xv in zip(small, xs)]
    else:
        exact = [Fraction(float(v)) for v in vals]
    # A bound on each value's float error: a few units of 2^-52 of |f| and
    # |x| (erf and exp are within an ulp; each product or sum adds one); for
    # gelu only the float part g, whose error is below |x| 2^-52.
    def err(e, xv):
        if fn == "gelu":
            return abs(Fraction(float(xv))) * Fraction(2) ** -50
        return (abs(e) + abs(Fraction(float(xv)))) * Fraction(2) ** -50
    def sign(xv):
        if fn in ("gelu", "silu", "tanh"):
            return np.sign(xv)
        return np.sign(xv - 1) if fn == "log" else 1
    assert all(e == 0 or np.sign(float(e)) == sign(xv) for e, xv in zip(exact, xs)), "sign"
    y = exact_array([table_quantize(e, err(e, xv), dst) for e, xv in zip(exact, xs)],
                    table_onnx(fn, batch(xa))[0].shape)
    c.output(y=y)
    c.covers = f"table({fn}) over every {src} code{' + 1/16' if positive else ''}, as {dst}"
    return c


def gen_round_sweep(rng, name, fn):
    src = FixedT(True, 8, 5)
    c = Case(name, "")
    x = c.input("x", src, src.all_codes((1, 16, 16), rng))
    c.let(f"y = {fn}(x)")
    f = {"floor": lambda v: math.floor(v), "round": round_half_away, "trunc": trunc}[fn]
    c.output(y=apply_exact(f, x))
    c.covers = f"{fn}() sweep over every {src} code (ties of both signs)"
    return c


def conv_requant_base(rng, c):
    """x, w and conv(x, w) of a small random convolution with signed weights."""
    (kh, kw), stride, dil, pads, (h, w) = random_conv_geom(rng, max_hw=9)
    xt, wt = pick(rng, [U(8), U(4), I(4), I(8), U(3)]), pick(rng, [I(4), I(8), I(3)])
    cin, cout = int(rng.integers(1, 4)), int(rng.integers(2, 4))
    x = c.input("x", xt, xt.random(rng, (cin, h, w)))
    wv = c.param("w", wt, wt.random(rng, (cout, cin, kh, kw)))
    s = conv(x, wv, stride, pads, dil)
    return conv_call("conv", rng, "x", "w", stride, pads, dil), s, f"{xt} x {wt}, k {kh}x{kw} stride {stride} pads {pads} dilation {dil}"


def quant_coverage(v: np.ndarray, frac_bits: int, q: str, width=None, signed=True) -> set:
    """What a cast of the values `v` exercises: ties of each sign, inexact
    negative values, overflow above / below, the exact minimum code."""
    seen = set()
    for z in fractions_of(v):
        t = z * Fraction(2) ** frac_bits
        rem = t - math.floor(t)
        if rem == Fraction(1, 2):
            seen.add("tie+" if t > 0 else "tie-")
        if rem and t < 0:
            seen.add("inexact-")
        if width is not None:
            code = quantize(z, frac_bits, q)
            lo, hi = (-(2 ** (width - 1)), 2 ** (width - 1) - 1) if signed else (0, 2**width - 1)
            seen.add("over" if code > hi else "under" if code < lo else "min" if code == lo else "in")
    return seen


def retry(rng, name, attempt, wanted, tries=400):
    """Calls attempt(rng) until the set it returns holds `wanted` (the same
    seeded generator throughout, so the result is deterministic)."""
    for _ in range(tries):
        case, seen = attempt(rng)
        if wanted <= seen and case.out_size >= 12:
            return case
    raise RuntimeError(f"{name}: no draw covers {sorted(wanted)}")


def gen_requant_fixed(rng, name, q, o):
    """conv(x, w) * k as fixed<W, I, q, o>: ONNX Conv + Mul, Python cast.
    Redrawn until the values hit ties of both signs and overflow on both
    sides (and, for sat_sym, the exact minimum code)."""
    signed = rng.random() < 0.75

    def attempt(rng):
        c = Case(name, "")
        call, s, desc = conv_requant_base(rng, c)
        k, e, kt = small_const(rng)
        kv = c.const("k", kt, k)
        v = mul(s, kv)
        d = int(rng.integers(1, 4))  # bits dropped below the product's LSB 2^-e: ties are common
        frac = e - d
        m = max(float(np.max(np.abs(v))), 1.0)
        scale = m * float(rng.uniform(0.3, 0.8))  # the range covers part of the values only
        integer = max(math.ceil(math.log2(scale)) + (1 if signed else 0), 2 - frac)
        t = FixedT(signed, integer + frac, integer, q, o)
        c.let(f"y = {call} * k as {t}")
        c.output(y=apply_exact(lambda z: cast_fixed(z, t.width, t.integer, t.signed, q, o), v))
        c.covers = f"requant conv * {kt} {decimal_text(k)} as {t} ({desc})"
        return c, quant_coverage(v, frac, q, t.width, signed)

    wanted = {"tie+", "tie-", "over", "under", "in"}
    if o == "sat_sym" and signed:
        wanted.add("min")
    return retry(rng, name, attempt, wanted)


def gen_requant_int(rng, name, target: IntT, o):
    """(conv(x, w) * k) as uN / iN with an overflow mode: truncation toward
    zero. Redrawn until some negative values have a fraction and values
    overflow on both sides."""

    def attempt(rng):
        c = Case(name, "")
        call, s, desc = conv_requant_base(rng, c)
        m = max(float(np.max(np.abs(s))), 1.0)
        # k ~ a few times the target range over the conv's range, as a dyadic
        want = (target.hi - target.lo + 1) * float(rng.uniform(1.0, 3.0)) / m
        e = 8
        kk = max(1, round(want * 2**e)) | 1
        k = Fraction(kk, 2**e) * (-1 if rng.random() < 0.3 else 1)
        integer = max(1, math.ceil(math.log2(abs(k) + 1)) + 1)
        kt = FixedT(True, integer + e, integer)
        kv = c.const("k", kt, k)
        v = mul(s, kv)
        c.let(f"y = ({call} * k) as {target} {o}")
        c.output(y=apply_exact(lambda z: cast_int(z, target.bits, target.signed, o), v))
        c.covers = f"requant conv * {decimal_text(k)} as {target} {o} ({desc})"
        return c, quant_coverage(v, 0, "trn_zero", target.bits, target.signed)

    return retry(rng, name, attempt, {"inexact-", "over", "under", "in"})


def gen_round_chain(rng, name, fn):
    """floor / round / trunc of conv(x, w) * k, redrawn until the values
    hold ties of both signs."""

    def attempt(rng):
        c = Case(name, "")
        call, s, desc = conv_requant_base(rng, c)
        k, e, kt = small_const(rng, lo_exp=2, hi_exp=4)
        kv = c.const("k", kt, k)
        v = mul(s, kv)
        f = {"floor": None, "round": round_half_away, "trunc": trunc}[fn]
        y = floor(v) if fn == "floor" else apply_exact(f, v)  # floor: ONNX Floor
        c.let(f"y = {fn}({call} * k)")
        c.output(y=y)
        c.covers = f"{fn}(conv * {decimal_text(k)}) ({desc})"
        return c, quant_coverage(v, 0, "trn")

    return retry(rng, name, attempt, {"tie+", "tie-", "inexact-"})


def gen_elementwise(rng, name, variant):
    """Elementwise stages, computed with ONNX elementwise ops (and exact
    Python for round / trunc / casts)."""
    c = Case(name, "")
    it = pick(rng, [U(8), I(8), I(4), U(4)])
    cin, h, w = int(rng.integers(1, 4)), int(rng.integers(2, 9)), int(rng.integers(2, 9))
    shape = (cin, h, w)

    def conv_same(wname="w"):
        wv = c.param(wname, I(4), I(4).random(rng, (cin, cin, 3, 3)))
        return conv(x, wv, (1, 1), (1, 1, 1, 1))

    if variant == "relu_conv":
        x = c.input("x", it, it.random(rng, shape))
        cs = conv_same()
        c.let("y = relu(conv(x, w, pad: 1))")
        y = relu(cs)
    elif variant == "clip_shift":
        x = c.input("x", it, it.random(rng, shape))
        lo, hi = -int(rng.integers(1, 30)), int(rng.integers(1, 60))
        n = int(rng.integers(1, 5))
        cs = conv_same()
        c.let(f"y = clip(conv(x, w, pad: 1) >> {n}, {lo}, {hi})")
        y = clip(shr(cs, n), lo, hi)
    elif variant == "max_scalar":
        x = c.input("x", it, it.random(rng, shape))
        a = int(rng.integers(-20, 21))
        cs = conv_same()
        c.let(f"y = max(conv(x, w, pad: 1), {a})" if a >= 0 else f"y = max(conv(x, w, pad: 1), -{-a})")
        y = emax(cs, a)
    elif variant == "min_scalar":
        x = c.input("x", it, it.random(rng, shape))
        a = int(rng.integers(-20, 21))
        cs = conv_same()
        c.let(f"y = min({a}, conv(x, w, pad: 1))" if a >= 0 else f"y = min(-{-a}, conv(x, w, pad: 1))")
        y = emin(a, cs)
    elif variant == "max_maps":
        zt = pick(rng, [I(4), U(8), I(8)])
        x = c.input("x", it, it.random(rng, shape))
        z = c.input("z", zt, zt.random(rng, shape))
        c.let("y = max(x, z)")
        y = emax(x, z)
    elif variant == "min_mixed_frac":
        zt = FixedT(True, 8, 5)
        x = c.input("x", it, it.random(rng, shape))
        z = c.input("z", zt, zt.random(rng, shape))
        k, e, kt = small_const(rng)
        kv = c.const("k", kt, k)
        c.let("y = min(x * k, z)")
        y = emin(mul(x, kv), z)
    elif variant == "relu_sub":
        zt = pick(rng, [U(8), I(8)])
        x = c.input("x", it, it.random(rng, shape))
        z = c.input("z", zt, zt.random(rng, shape))
        c.let("y = relu(x - z)")
        y = relu(sub(x, z))
    elif variant == "bias_shift":
        x = c.input("x", it, it.random(rng, shape))
        b = c.param("b", I(16), I(16).random(rng, (cin,), extremes=False) // 64)
        n = int(rng.integers(1, 6))
        cs = conv_same()
        c.let(f"y = (conv(x, w, pad: 1) + b) >> {n}")
        y = shr(add(cs, b), n)
    elif variant == "neg_shl":
        x = c.input("x", it, it.random(rng, shape))
        n = int(rng.integers(1, 4))
        cs = conv_same()
        c.let(f"y = -conv(x, w, pad: 1) << {n}")
        y = shl(neg(cs), n)
    elif variant == "seed_stage":
        x = c.input("x", U(8), U(8).random(rng, shape))
        wd = c.param("w", I(8), I(8).random(rng, (cin, 1, 3, 3)))
        b = c.param("b", I(16), (I(16).random(rng, (cin,)) // 256).astype(np.int16))
        k = Fraction(int(rng.integers(1, 2**12)) | 1, 2**16)
        kv = c.const("k", FixedT(True, 32, 1), k)
        c.let("y = relu(b + trunc(dwconv(x, w, pad: 1) * k)) as u8 wrap")
        t = apply_exact(trunc, mul(conv(x, wd, (1, 1), (1, 1, 1, 1), (1, 1), cin), kv))
        y = apply_exact(lambda v: cast_int(v, 8, False, "wrap"), relu(add(t, b)))
    elif variant == "max_two_fracs":
        x = c.input("x", it, it.random(rng, shape))
        k, e, kt = small_const(rng)
        kv = c.const("k", kt, k)
        w1 = conv_same("w1")
        w2 = conv_same("w2")
        c.let("y = max(conv(x, w1, pad: 1) * k, conv(x, w2, pad: 1) >> 1)")
        y = emax(mul(w1, kv), shr(w2, 1))
    elif variant == "shift_add":
        zt = pick(rng, [I(4), U(4)])
        x = c.input("x", it, it.random(rng, shape))
        z = c.input("z", zt, zt.random(rng, shape))
        c.let("y = (x >> 1) + (z << 1)")
        y = add(shr(x, 1), shl(z, 1))
    elif variant == "min_max_chain":
        x = c.input("x", it, it.random(rng, shape))
        lo, hi = int(rng.integers(-3, 4)), int(rng.integers(5, 12))
        c.let(f"y = min(max(x, {lo}), {hi})" if lo >= 0 else f"y = min(max(x, -{-lo}), {hi})")
        y = emin(emax(x, lo), hi)
    elif variant == "relu_ufixed":
        x = c.input("x", it, it.random(rng, shape))
        k, e, kt = small_const(rng, signed=False)
        kv = c.const("k", kt, k)
        cs = conv_same()
        c.let("y = relu(conv(x, w, pad: 1) * k) as ufixed<7, 4, rnd, sat>")
        y = apply_exact(lambda v: cast_fixed(v, 7, 4, False, "rnd", "sat"), relu(mul(cs, kv)))
    elif variant == "concat":
        zt = FixedT(True, 6, 3)
        x = c.input("x", it, it.random(rng, shape))
        z = c.input("z", zt, zt.random(rng, (int(rng.integers(1, 3)), h, w)))
        c.let("y = concat(x >> 1, z, relu(x - 3))")
        y = concat(shr(x, 1), z, relu(sub(x, 3)))
    elif variant == "sub_scaled":
        zt = I(8)
        x = c.input("x", it, it.random(rng, shape))
        z = c.input("z", zt, zt.random(rng, shape))
        k, e, kt = small_const(rng)
        kv = c.const("k", kt, k)
        c.let("y = x - z * k")
        y = sub(x, mul(z, kv))
    else:
        raise ValueError(variant)
    c.output(y=y)
    c.covers = f"elementwise {variant}: {c.lines[-1]}"
    return c


def gen_pipeline(rng, name, variant):
    c = Case(name, "")
    if variant == "ds_deconv":
        cin = int(rng.integers(2, 5))
        h, w = int(rng.integers(2, 6)), int(rng.integers(2, 6))
        x = c.input("x", U(8), U(8).random(rng, (cin, h, w)))
        wu = c.param("w_up", I(8), I(8).random(rng, (cin, 1, 4, 4)) // 3)
        wp = c.param("w_pw", I(8), I(8).random(rng, (3, cin, 1, 1)) // 2)
        b = c.param("b_pw", I(16), I(16).random(rng, (3,)) // 32)
        c.let(f"up: u8[{cin}, {2 * h}, {2 * w}] pad 1 = (dwdeconv(x, w_up, stride: 2, pad: 1) >> 6) as u8 sat")
        c.let("y = (relu(conv(up, w_pw) + b_pw) >> 7) as u8 sat")
        up = apply_exact(lambda v: cast_int(v, 8, False, "sat"), shr(deconv(x, wu, (2, 2), (1, 1, 1, 1), (0, 0), (1, 1), cin), 6))
        y = apply_exact(lambda v: cast_int(v, 8, False, "sat"), shr(relu(add(conv(up, wp), b)), 7))
        c.output(y=y)
    elif variant == "unpool":
        cin = int(rng.integers(2, 4))
        x = c.input("x", U(8), U(8).random(rng, (cin, 8, 8)))
        wv = c.param("w", I(8), I(8).random(rng, (cin, cin, 3, 3)))
        c.let("(p, idx) = maxpool(x, 2, indices: true)")
        c.let("q = (relu(conv(p, w, pad: 2, dilation: 2)) >> 5) as u8 sat")
        c.let("u = maxunpool(q, idx, 2)")
        c.let("n = upsample(q, 2, nearest)")
        p, idx = maxpool(x, (2, 2), (2, 2))
        q = apply_exact(lambda v: cast_int(v, 8, False, "sat"), shr(relu(conv(p, wv, (1, 1), (2, 2, 2, 2), (2, 2))), 5))
        c.output(u=maxunpool(q, idx, (2, 2), (2, 2)), n=upsample(q, (2, 2), "nearest"))
    elif variant == "deconv_bilinear_pool":
        cin = int(rng.integers(1, 3))
        x = c.input("x", I(4), I(4).random(rng, (cin, 3, 4)))
        wv = c.param("w", I(4), I(4).random(rng, (cin, 2, 3, 3)))
        c.let("d = deconv(x, w, stride: 2, pad: 1, output_pad: 1)")
        c.let("b = upsample(d, (2, 1), bilinear)")
        c.let("y = maxpool(b, (3, 2), stride: (2, 1), pad: (1, 1, 0, 1))")
        d = deconv(x, wv, (2, 2), (1, 1, 1, 1), (1, 1))
        b = upsample(d, (2, 1), "bilinear")
        y, _ = maxpool(b, (3, 2), (2, 1), (1, 1, 0, 1))
        c.output(y=y)
    elif variant == "conv_up_concat":
        cin = int(rng.integers(1, 4))
        x = c.input("x", U(4), U(4).random(rng, (cin, 8, 6)))
        wv = c.param("w", I(4), I(4).random(rng, (2, cin, 3, 3)))
        w2 = c.param("w2", I(8), I(8).random(rng, (2, cin + 2, 1, 1)))
        k, e, kt = small_const(rng)
        kv = c.const("k", kt, k)
        c.let("d = conv(x, w, stride: 2, pad: 1) * k as fixed<8, 5, rnd_conv, sat_sym>")
        c.let("u = upsample(d, 2, nearest)")
        c.let("y = conv(concat(x, u), w2)")
        d = apply_exact(lambda v: cast_fixed(v, 8, 5, True, "rnd_conv", "sat_sym"), mul(conv(x, wv, (2, 2), (1, 1, 1, 1)), kv))
        y = conv(concat(x, upsample(d, (2, 2), "nearest")), w2)
        c.output(y=y)
    elif variant == "seed_small":
        x = c.input("x", U(8), U(8).random(rng, (4, 6, 10)), halo=1)
        wd = c.param("w_dw", I(8), I(8).random(rng, (4, 1, 3, 3)) // 2)
        bd = c.param("b_dw", I(16), I(16).random(rng, (4,)) // 1024)
        wp = c.param("w_pw", I(8), I(8).random(rng, (3, 4, 1, 1)) // 3)
        bp = c.param("b_pw", I(16), I(16).random(rng, (3,)) // 1024)
        c.const("factor", FixedT(True, 32, 1), Fraction(26414048, 2**31))
        c.let("dw: u8[4, 6, 10] pad 1 = relu(b_dw + trunc(dwconv(x, w_dw, pad: 1) * factor)) as u8 wrap")
        c.let("pw = relu(b_pw + trunc(conv(dw, w_pw) * factor)) as u8 wrap")
        f = np.float64(26414048 / 2**31)
        dw = apply_exact(lambda v: cast_int(v, 8, False, "wrap"),
                         relu(add(bd, apply_exact(trunc, mul(conv(x, wd, (1, 1), (1, 1, 1, 1), (1, 1), 4), f)))))
        pw = apply_exact(lambda v: cast_int(v, 8, False, "wrap"), relu(add(bp, apply_exact(trunc, mul(conv(dw, wp), f)))))
        c.output(pw=pw)
    elif variant == "pool_bilinear_requant":
        x = c.input("x", I(8), I(8).random(rng, (2, 7, 9)))
        c.let("p = maxpool(x, 3, stride: 2, pad: 1)")
        c.let("y = upsample(p, 4, bilinear) as fixed<8, 6, rnd_min_inf, sat_zero>")
        p, _ = maxpool(x, (3, 3), (2, 2), (1, 1, 1, 1))
        y = apply_exact(lambda v: cast_fixed(v, 8, 6, True, "rnd_min_inf", "sat_zero"), upsample(p, (4, 4), "bilinear"))
        c.output(y=y)
    else:
        raise ValueError(variant)
    c.covers = f"pipeline {variant}: " + " | ".join(l for l in c.lines if l.startswith("let"))
    return c


def gen_batched(rng, name, variant):
    """Inputs with a leading batch axis [N, C, H, W]: every image runs
    independently and the outputs carry the batch axis."""
    c = Case(name, "")
    n = int(rng.integers(2, 4))
    cin, h, w = int(rng.integers(1, 4)), int(rng.integers(3, 8)), int(rng.integers(3, 8))
    xt = pick(rng, [U(8), I(8), I(4)])
    x = c.input("x", xt, xt.random(rng, (n, cin, h, w)), batched=True)
    if variant == "conv":
        wv = c.param("w", I(4), I(4).random(rng, (2, cin, 3, 2)))
        c.let("y = conv(x, w, stride: (2, 1), pad: (1, 0, 1, 1))")
        c.output(y=np.stack([conv(xi, wv, (2, 1), (1, 0, 1, 1)) for xi in x]))
    elif variant == "deconv":
        wv = c.param("w", I(8), I(8).random(rng, (cin, 2, 3, 3)))
        c.let("y = deconv(x, w, stride: 2, pad: 1, output_pad: 1)")
        c.output(y=np.stack([deconv(xi, wv, (2, 2), (1, 1, 1, 1), (1, 1)) for xi in x]))
    elif variant == "maxpool_indices":
        c.let("(v, i) = maxpool(x, (2, 3), stride: (1, 2), pad: (1, 0, 0, 1), indices: true)")
        res = [maxpool(xi, (2, 3), (1, 2), (1, 0, 0, 1)) for xi in x]
        c.output(v=np.stack([r[0] for r in res]), i=np.stack([r[1] for r in res]))
    elif variant == "bilinear":
        c.let("y = upsample(x, (2, 4), bilinear)")
        c.output(y=np.stack([upsample(xi, (2, 4), "bilinear") for xi in x]))
    elif variant == "requant":
        wv = c.param("w", I(4), I(4).random(rng, (2, cin, 3, 3)))
        c.const("k", FixedT(True, 8, 1), Fraction(5, 16))
        c.let("y = conv(x, w, pad: 1) * k as fixed<8, 4, rnd_conv, sat_sym>")
        c.output(y=np.stack([apply_exact(lambda v: cast_fixed(v, 8, 4, True, "rnd_conv", "sat_sym"),
                                         mul(conv(xi, wv, (1, 1), (1, 1, 1, 1)), np.float64(5 / 16))) for xi in x]))
    elif variant == "two_inputs":
        z = c.input("z", I(8), I(8).random(rng, (n, cin, h, w)), batched=True)
        c.let("y = max(x, z) - min(x, z) >> 1")
        c.output(y=np.stack([shr(sub(emax(xi, zi), emin(xi, zi)), 1) for xi, zi in zip(x, z)]))
    else:
        raise ValueError(variant)
    c.covers = f"batch of {n} images: {xt} x [{cin}, {h}, {w}]; " + " | ".join(l for l in c.lines if l.startswith("let"))
    return c


BATCHED = ["conv", "deconv", "maxpool_indices", "bilinear", "requant", "two_inputs"]
ELEMENTWISE = ["relu_conv", "clip_shift", "max_scalar", "min_scalar", "max_maps", "min_mixed_frac", "relu_sub",
               "bias_shift", "neg_shl", "seed_stage", "max_two_fracs", "shift_add", "min_max_chain", "relu_ufixed",
               "concat", "sub_scaled"]
PIPELINES = ["ds_deconv", "unpool", "deconv_bilinear_pool", "conv_up_concat", "seed_small", "pool_bilinear_requant"]
INT_TARGETS = [(U(8), "sat"), (U(8), "wrap"), (I(4), "wrap"), (I(4), "sat"), (U(4), "sat_zero"), (I(8), "sat_sym"),
               (I(6), "sat_zero"), (U(8), "sat_sym"), (I(16), "wrap"), (U(1), "wrap"), (U(3), "sat"), (I(2), "sat_sym"),
               (I(5), "sat"), (U(6), "wrap")]


def all_cases():
    """(name, category, generator) for every case, in a fixed order."""
    cases = []

    def add_case(name, category, fn):
        cases.append((name, category, fn))

    for n in range(50):
        add_case(f"conv_{n:02}", "conv", lambda r, nm: gen_conv(r, nm, "plain"))
    for n in range(18):
        add_case(f"conv_grouped_{n:02}", "conv grouped", lambda r, nm: gen_conv(r, nm, "grouped"))
    for n in range(20):
        add_case(f"dwconv_{n:02}", "dwconv", lambda r, nm: gen_conv(r, nm, "dw"))
    for n in range(6):
        add_case(f"conv_fixed_input_{n:02}", "conv fixed-point input", lambda r, nm: gen_conv(r, nm, "fixed"))
    for n in range(6):
        add_case(f"conv_exotic_input_{n:02}", "conv fixed input, I > W or I <= 0", lambda r, nm: gen_conv(r, nm, "exotic"))
    for n in range(30):
        add_case(f"deconv_{n:02}", "deconv", lambda r, nm: gen_deconv(r, nm, "plain"))
    for n in range(6):
        add_case(f"deconv_big_output_pad_{n:02}", "deconv output_pad >= stride",
                 lambda r, nm: gen_deconv(r, nm, "plain", force_big_op=True))
    for n in range(12):
        add_case(f"deconv_grouped_{n:02}", "deconv grouped", lambda r, nm: gen_deconv(r, nm, "grouped"))
    for n in range(15):
        add_case(f"dwdeconv_{n:02}", "dwdeconv", lambda r, nm: gen_deconv(r, nm, "dw"))
    for n in range(15):
        add_case(f"maxpool_{n:02}", "maxpool", lambda r, nm: gen_maxpool(r, nm, False))
    for n in range(12):
        add_case(f"maxpool_indices_{n:02}", "maxpool indices", lambda r, nm: gen_maxpool(r, nm, True))
    for n in range(12):
        add_case(f"maxpool_ties_{n:02}", "maxpool indices ties", lambda r, nm: gen_maxpool(r, nm, True, tie_types=True))
    for n, middle in enumerate(["none", "shift", "conv"] * 6):
        add_case(f"maxunpool_{middle}_{n:02}", "maxunpool", lambda r, nm, m=middle: gen_unpool(r, nm, m))
    for n in range(14):
        add_case(f"upsample_nearest_{n:02}", "upsample nearest", lambda r, nm: gen_upsample(r, nm, "nearest"))
    for n in range(16):
        add_case(f"upsample_bilinear_{n:02}", "upsample bilinear", lambda r, nm: gen_upsample(r, nm, "bilinear"))
    for q, o in itertools.product(QUANT_MODES, OVERFLOW_MODES):
        add_case(f"cast_fixed_{q}_{o}", "cast sweep fixed",
                 lambda r, nm, q=q, o=o: gen_sweep(r, nm, q, o, FixedT(True, 8, 4), FixedT(True, 5, 3, q, o)))
        add_case(f"cast_ufixed_{q}_{o}", "cast sweep ufixed",
                 lambda r, nm, q=q, o=o: gen_sweep(r, nm, q, o, FixedT(True, 8, 4), FixedT(False, 4, 2, q, o)))
        add_case(f"requant_{q}_{o}", "requant conv * k as fixed",
                 lambda r, nm, q=q, o=o: gen_requant_fixed(r, nm, q, o))
    # exotic targets: an LSB above 1 (I > W) and I <= 0
    for q, o in [("rnd", "sat"), ("rnd_conv", "wrap"), ("trn_zero", "sat_sym"), ("rnd_min_inf", "sat_zero")]:
        add_case(f"cast_lsb4_{q}_{o}", "cast sweep I > W",
                 lambda r, nm, q=q, o=o: gen_sweep(r, nm, q, o, FixedT(True, 10, 8), FixedT(True, 4, 6, q, o)))
        add_case(f"cast_negint_{q}_{o}", "cast sweep I < 0",
                 lambda r, nm, q=q, o=o: gen_sweep(r, nm, q, o, FixedT(True, 8, 0), FixedT(True, 4, -1, q, o)))
    for t in [U(2), I(3)]:
        for o in OVERFLOW_MODES:
            add_case(f"cast_int_{t}_{o}", "cast sweep integer target",
                     lambda r, nm, t=t, o=o: gen_sweep(r, nm, None, o, FixedT(True, 8, 4), t))
    for t, o in INT_TARGETS:
        add_case(f"requant_int_{t}_{o}", "requant conv * k as int",
                 lambda r, nm, t=t, o=o: gen_requant_int(r, nm, t, o))
    for fn in ["floor", "round", "trunc"]:
        add_case(f"sweep_{fn}", "floor/round/trunc", lambda r, nm, fn=fn: gen_round_sweep(r, nm, fn))
        for n in range(3):
            add_case(f"{fn}_conv_{n}", "floor/round/trunc", lambda r, nm, fn=fn: gen_round_chain(r, nm, fn))
    for fn in TABLE_FUNCS:
        for t in [FixedT(True, 12, 5, "rnd_conv", "sat"), FixedT(False, 8, 2, "trn", "wrap")]:
            add_case(f"table_{fn}_{'s12' if t.signed else 'u8'}", "table",
                     lambda r, nm, fn=fn, t=t: gen_table_sweep(r, nm, fn, t))
    for v in ELEMENTWISE:
        for n in range(2):
            add_case(f"ew_{v}_{n}", "elementwise", lambda r, nm, v=v: gen_elementwise(r, nm, v))
    for v in PIPELINES:
        add_case(f"pipe_{v}", "pipeline", lambda r, nm, v=v: gen_pipeline(r, nm, v))
    for v in BATCHED:
        add_case(f"batch_{v}", "batched input", lambda r, nm, v=v: gen_batched(r, nm, v))
    return cases


def write_case(case: Case, root: str):
    folder = os.path.join(root, case.name)
    os.makedirs(folder)
    with open(os.path.join(folder, "case.cnn"), "w") as f:
        f.write(case.source())
    for n, a in case.inputs.items():
        np.save(os.path.join(folder, n + ".npy"), a)
    for n, a in case.files.items():
        np.save(os.path.join(folder, n + ".npy"), a)
    for n, a in case.expected.items():
        np.save(os.path.join(folder, f"expected_{n}.npy"), store_dtype(a))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=ROOT, help="fixture folder (default: tests/fixtures/onnx)")
    ap.add_argument("--check", metavar="CONVOY", help="run `CONVOY check` on every generated case")
    ap.add_argument("--only", help="generate only cases whose name contains this")
    args = ap.parse_args()

    if os.path.isdir(args.out) and not args.only:
        shutil.rmtree(args.out)
    os.makedirs(args.out, exist_ok=True)
    manifest = []
    counts = {}
    for name, category, fn in all_cases():
        if args.only and args.only not in name:
            continue
        rng = np.random.default_rng(zlib.crc32(name.encode()))
        case = fn(rng, name)
        if args.only and os.path.isdir(os.path.join(args.out, name)):
            shutil.rmtree(os.path.join(args.out, name))
        halos = [l for l in case.lines if l.startswith("input") and " pad " in l]
        if halos:
            case.covers += "; input storage halo (" + ", ".join(l.split(" pad ")[-1] for l in halos) + ")"
        write_case(case, args.out)
        manifest.append(f"{name}\t[{category}]\t{case.covers}")
        counts[category] = counts.get(category, 0) + 1
    if not args.only:
        with open(os.path.join(args.out, "MANIFEST.txt"), "w") as f:
            f.write("# Generated by tools/onnx_fixtures.py: one case per line, name [category] what it covers.\n")
            f.write("# Expected values: onnx.reference.ReferenceEvaluator (float64, exact) for the stages,\n")
            f.write("# exact Fraction arithmetic (ap_fixed rules) for casts, round and trunc.\n")
            for cat, n in counts.items():
                f.write(f"# {n:4} {cat}\n")
            f.write(f"# {sum(counts.values()):4} cases in total\n")
            f.write("\n".join(manifest) + "\n")
    print(f"{sum(counts.values())} cases written to {args.out}")
    for cat, n in counts.items():
        print(f"  {n:4} {cat}")

    if args.check:
        bad = 0
        for name in sorted(os.listdir(args.out)):
            path = os.path.join(args.out, name, "case.cnn")
            if not os.path.isfile(path):
                continue
            r = subprocess.run([args.check, "check", path], capture_output=True, text=True)
            if r.returncode != 0:
                bad += 1
                print(f"--- {name}: convoy check failed\n{r.stdout}{r.stderr}")
        print(f"convoy check: {bad} failing case(s)")
        sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
