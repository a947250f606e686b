"""Exact reference for quantized ONNX models (QDQ, QOperator, QONNX).

A quantized model means its formula in exact arithmetic: every float32 is
the rational it denotes, float ops on dequantized values are exact, and a
quantizer rounds the exact quotient (QuantizeLinear: half to even; QONNX
Quant: its rounding_mode) and saturates. This interpreter computes that
with Python integers: a float tensor is an object array of integers `n`
with one exponent `e` (value `n / 2^e`), which holds every value exactly
because every intermediate is dyadic; quotients by a scale use
fractions.Fraction. It shares no code with Convoy.
"""

from fractions import Fraction
import math

import numpy as np
from onnx import numpy_helper


class Dy:
    """An exact dyadic tensor: ints * 2^-e."""

    def __init__(self, ints, e):
        self.n = np.asarray(ints, dtype=object)
        self.e = int(e)

    def at(self, e):
        assert e >= self.e
        return self.n * (1 << (e - self.e))

    @staticmethod
    def from_float(a):
        a = np.asarray(a, dtype=np.float64)
        fr = [Fraction(float(v)) for v in a.ravel()]
        e = max([int(math.log2(f.denominator)) for f in fr] + [0])
        ints = np.array([int(f * (1 << e)) for f in fr], dtype=object).reshape(a.shape)
        return Dy(ints, e)

    def fractions(self):
        d = 1 << self.e
        return np.array([Fraction(int(v), d) for v in self.n.ravel()], dtype=object).reshape(self.n.shape)


def align(a, b):
    e = max(a.e, b.e)
    return a.at(e), b.at(e), e


def fr(v):
    return Fraction(float(np.asarray(v, dtype=np.float64).ravel()[0]))


def round_mode(q, mode):
    if mode == "ROUND":
        return round(q)  # half to even on Fraction
    if mode == "FLOOR":
        return math.floor(q)
    if mode == "CEIL":
        return math.ceil(q)
    raise ValueError(mode)


def quantize(x, scale, zp, lo, hi, mode="ROUND", zp_inside=False):
    s = fr(scale)
    vals = x.fractions() if isinstance(x, Dy) else x
    out = np.empty(vals.shape, dtype=object)
    for idx, v in np.ndenumerate(vals):
        q = Fraction(v) / s
        if zp_inside:
            r = round_mode(q + zp, mode)
        else:
            r = round_mode(q, mode) + zp
        out[idx] = min(max(r, lo), hi)
    return out


def dequant_const(codes, scale, zp, axis):
    codes = np.asarray(codes).astype(object)
    scale = np.asarray(scale, dtype=np.float64)
    zp = np.asarray(zp).astype(object) if zp is not None else np.zeros(scale.shape, dtype=object)
    if scale.size == 1:
        sd = Dy.from_float(scale.reshape(()))
        z = zp.reshape(()).item() if zp.size == 1 else zp
        return Dy((codes - z) * sd.n, sd.e)
    sd = Dy.from_float(scale.ravel())
    shape = [1] * codes.ndim
    shape[axis] = -1
    n = (codes - zp.reshape(shape)) * sd.n.reshape(shape)
    return Dy(n, sd.e)


def conv(x, w, b, strides, pads, dil, group):
    """x: [N, C, H, W] ints, w: [O, C/g, KH, KW] ints; pads [t, l, b, r]."""
    N, C, H, W = x.shape
    O, Cg, KH, KW = w.shape
    xp = np.zeros((N, C, H + pads[0] + pads[2], W + pads[1] + pads[3]), dtype=object)
    xp[:, :, pads[0]:pads[0] + H, pads[1]:pads[1] + W] = x
    OH = (xp.shape[2] - dil[0] * (KH - 1) - 1) // strides[0] + 1
    OW = (xp.shape[3] - dil[1] * (KW - 1) - 1) // strides[1] + 1
    out = np.zeros((N, O, OH, OW), dtype=object)
    per = O // group
    for o in range(O):
        g = o // per
        acc = np.zeros((N, OH, OW), dtype=object)
        for i in range(Cg):
            for ky in range(KH):
                for kx in range(KW):
                    wv = w[o, i, ky, kx]
                    if wv == 0:
                        continue
                    ys = ky * dil[0]
                    xs = kx * dil[1]
                    patch = xp[:, g * Cg + i, ys:ys + strides[0] * (OH - 1) + 1:strides[0],
                               xs:xs + strides[1] * (OW - 1) + 1:strides[1]]
                    acc = acc + patch * wv
        out[:, o] = acc
    if b is not None:
        out = out + b.reshape(1, -1, 1, 1)
    return out


def conv_transpose(x, w, b, strides, pads, dil, group, out_pad):
    N, C, H, W = x.shape
    _, Og, KH, KW = w.shape
    O = Og * group
    full_h = (H - 1) * strides[0] + dil[0] * (KH - 1) + 1 + out_pad[0]
    full_w = (W - 1) * strides[1] + dil[1] * (KW - 1) + 1 + out_pad[1]
    full = np.zeros((N, O, full_h, full_w), dtype=object)
    cg = C // group
    for ci in range(C):
        g = ci // cg
        for o in range(Og):
            for ky in range(KH):
                for kx in range(KW):
                    wv = w[ci, o, ky, kx]
                    if wv == 0:
                        continue
                    ys, xs = ky * dil[0], kx * dil[1]
                    full[:, g * Og + o, ys:ys + strides[0] * (H - 1) + 1:strides[0],
                         xs:xs + strides[1] * (W - 1) + 1:strides[1]] += x[:, ci] * wv
    oh = full_h - pads[0] - pads[2]
    ow = full_w - pads[1] - pads[3]
    out = full[:, :, pads[0]:pads[0] + oh, pads[1]:pads[1] + ow]
    if b is not None:
        out = out + b.reshape(1, -1, 1, 1)
    return out


def pooled(x, k, s, pads, reduce):
    """reduce(the values of each window inside the map) over x ([N, C, H, W]);
    pads [t, l, b, r]."""
    N, C, H, W = x.shape
    OH = (H + pads[0] + pads[2] - k[0]) // s[0] + 1
    OW = (W + pads[1] + pads[3] - k[1]) // s[1] + 1
    out = np.empty((N, C, OH, OW), dtype=object)
    for oy in range(OH):
        for ox in range(OW):
            y0, x0 = oy * s[0] - pads[0], ox * s[1] - pads[1]
            ys = slice(max(y0, 0), min(y0 + k[0], H))
            xs = slice(max(x0, 0), min(x0 + k[1], W))
            win = x[:, :, ys, xs].reshape(N, C, -1)
            for nn in range(N):
                for c in range(C):
                    out[nn, c, oy, ox] = reduce(win[nn, c])
    return out


def maxpool(x, k, s, pads):
    return pooled(x, k, s, pads, max)


def transcendental(f, x, scale, zp, lo, hi):
    """round_half_even(f(x) / scale) + zp, saturated, for exact rationals x:
    f evaluated with the decimal module at 80 digits (each operation
    correctly rounded), and a code decided only when the quotient is
    farther than 10^-60 from a tie (never seen otherwise: f is
    transcendental at rational x != 0; f(0) is exact)."""
    import decimal
    ctx = decimal.Context(prec=80)
    s = Fraction(float(np.asarray(scale, np.float64).ravel()[0]))
    out = np.empty(x.shape, dtype=object)
    for idx, v in np.ndenumerate(x):
        v = Fraction(v)
        if v == 0:
            exact = Fraction(1, 2) if f == "Sigmoid" else Fraction(0)
            out[idx] = min(max(round(exact / s) + zp, lo), hi)
            continue
        dv = ctx.divide(decimal.Decimal(v.numerator), decimal.Decimal(v.denominator))
        if f == "Sigmoid":
            y = ctx.divide(1, ctx.add(1, ctx.exp(ctx.minus(dv))))
        else:
            e2 = ctx.exp(ctx.multiply(2, dv))
            y = ctx.divide(ctx.subtract(e2, 1), ctx.add(e2, 1))
        q = ctx.divide(ctx.multiply(y, s.denominator), s.numerator)
        fl = q.to_integral_value(rounding=decimal.ROUND_FLOOR)
        part = ctx.subtract(q, fl)
        assert abs(ctx.subtract(part, decimal.Decimal("0.5"))) > decimal.Decimal("1e-60"), "near a tie"
        r = int(fl) + (1 if part > decimal.Decimal("0.5") else 0)
        out[idx] = min(max(r + zp, lo), hi)
    return out


def pool_avg(x, k, s, pads, include_pad):
    """Exact averages (Fractions) of x ([N, C, H, W] Fractions); pads [t, l, b, r]."""
    def average(v):
        count = k[0] * k[1] if include_pad else len(v)
        return Fraction(sum(v, Fraction(0)), count)
    return pooled(x, k, s, pads, average)


def maxpool_indices(x, k, s, pads):
    """ONNX MaxPool's Indices: flat positions over [N, C, H, W], the first
    maximum of each window in raster order."""
    N, C, H, W = x.shape
    OH = (H + pads[0] + pads[2] - k[0]) // s[0] + 1
    OW = (W + pads[1] + pads[3] - k[1]) // s[1] + 1
    idx = np.empty((N, C, OH, OW), dtype=object)
    for nn in range(N):
        for c in range(C):
            for oy in range(OH):
                for ox in range(OW):
                    best = None
                    for ky in range(k[0]):
                        for kx in range(k[1]):
                            iy, ix = oy * s[0] - pads[0] + ky, ox * s[1] - pads[1] + kx
                            if 0 <= iy < H and 0 <= ix < W and (best is None or x[nn, c, iy, ix] > best[0]):
                                best = (x[nn, c, iy, ix], ((nn * C + c) * H + iy) * W + ix)
                    idx[nn, c, oy, ox] = best[1]
    return idx


def depth_to_space(x, r, mode):
    N, C, H, W = x.shape
    if mode == "DCR":
        t = x.reshape(N, r, r, C // (r * r), H, W).transpose(0, 3, 4, 1, 5, 2)
    else:
        t = x.reshape(N, C // (r * r), r, r, H, W).transpose(0, 1, 4, 2, 5, 3)
    return t.reshape(N, C // (r * r), H * r, W * r)


def space_to_depth(x, r):
    N, C, H, W = x.shape
    t = x.reshape(N, C, H // r, r, W // r, r).transpose(0, 3, 5, 1, 2, 4)
    return t.reshape(N, C * r * r, H // r, W // r)


def resize_axis_taps(size, f, mode, coord, nearest):
    taps = []
    for o in range(size * f):
        if mode == "nearest":
            if coord == "asymmetric":
                xo = Fraction(o, f)
            else:
                xo = Fraction(2 * o + 1, 2 * f) - Fraction(1, 2)
            if nearest == "floor":
                i = math.floor(xo)
            elif nearest == "round_prefer_ceil":
                i = math.floor(xo + Fraction(1, 2))
            else:
                i = math.ceil(xo - Fraction(1, 2))
            taps.append([(min(max(i, 0), size - 1), Fraction(1))])
        else:
            xo = Fraction(2 * o + 1, 2 * f) - Fraction(1, 2)
            xo = max(xo, Fraction(0))
            i0 = math.floor(xo)
            lam = xo - i0
            i0c = min(i0, size - 1)
            i1 = min(i0 + 1, size - 1)
            taps.append([(i0c, 1 - lam), (i1, lam)])
    return taps


def resize(x, fh, fw, mode, coord, nearest):
    """x: Dy; returns Dy."""
    N, C, H, W = x.n.shape
    ty = resize_axis_taps(H, fh, mode, coord, nearest)
    tx = resize_axis_taps(W, fw, mode, coord, nearest)
    xf = x.fractions()
    out = np.empty((N, C, H * fh, W * fw), dtype=object)
    for oy in range(H * fh):
        for ox in range(W * fw):
            acc = np.zeros((N, C), dtype=object)
            for (iy, wy) in ty[oy]:
                for (ix, wx) in tx[ox]:
                    acc = acc + xf[:, :, iy, ix] * (wy * wx)
            out[:, :, oy, ox] = acc
    return Dy.from_fractions(out)


def _from_fractions(a):
    flat = list(a.ravel())
    e = max([int(math.log2(Fraction(v).denominator)) for v in flat] + [0])
    ints = np.array([int(Fraction(v) * (1 << e)) for v in flat], dtype=object).reshape(a.shape)
    return Dy(ints, e)


Dy.from_fractions = staticmethod(_from_fractions)


INT_RANGES = {np.uint8: (0, 255), np.int8: (-128, 127)}


def attrs(node):
    from onnx import helper
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def run(model, x_float):
    """Runs the model on float input x_float ([N, C, H, W]); returns a dict of
    output name -> integer codes (of the quantizer that produced it)."""
    g = model.graph
    env = {}
    codes_of = {}  # float tensor name -> its codes, when it is (q - zp) * s
    inits = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    inp = [i for i in g.input if i.name not in inits][0]
    env[inp.name] = ("float_input", x_float)

    def val(name):
        if name in env:
            return env[name]
        return ("const", inits[name])

    def fracs(name):
        kind, v = val(name)
        if kind == "fr":
            return v
        if kind == "codes":
            raise ValueError("codes where a float is expected")
        return dy(name).fractions()

    def dy(name):
        kind, v = val(name)
        if kind == "dy":
            return v
        if kind == "float_input":
            return Dy.from_float(v.astype(np.float32))
        if kind == "const":
            return Dy.from_float(np.asarray(v, dtype=np.float32))
        if kind == "fr":
            assert all(Fraction(t).denominator & (Fraction(t).denominator - 1) == 0 for t in v.ravel())
            return Dy.from_fractions(v)
        raise ValueError(kind)

    for node in g.node:
        a = attrs(node)
        op = node.op_type
        ins = list(node.input)
        out = node.output[0]
        if op == "QuantizeLinear":
            zp_arr = inits[ins[2]] if len(ins) > 2 and ins[2] else np.array(0, np.uint8)
            lo, hi = INT_RANGES[zp_arr.dtype.type]
            kind, v = val(ins[0])
            if kind == "func":
                q = transcendental(v[0], v[1], inits[ins[1]], int(zp_arr.ravel()[0]), lo, hi)
            else:
                q = quantize(fracs(ins[0]), inits[ins[1]], int(zp_arr.ravel()[0]), lo, hi)
            env[out] = ("codes", q.astype(object))
        elif op == "DequantizeLinear":
            kind, v = val(ins[0])
            zp = inits[ins[2]] if len(ins) > 2 and ins[2] else None
            if kind == "const":
                env[out] = ("dy", dequant_const(v, inits[ins[1]], zp, a.get("axis", 1)))
            else:
                s = Dy.from_float(np.asarray(inits[ins[1]], np.float32).reshape(()))
                z = int(np.asarray(zp).ravel()[0]) if zp is not None else 0
                env[out] = ("dy", Dy((v - z) * s.n, s.e))
                codes_of[out] = v
        elif op in ("Conv", "ConvTranspose", "QLinearConv"):
            if op == "QLinearConv":
                x = qlinear_in(env, inits, ins[0], ins[1], ins[2])
                w = dequant_const(inits[ins[3]], inits[ins[4]], inits[ins[5]], 0)
                b = None
                if len(ins) > 8 and ins[8]:
                    sx = Dy.from_float(np.asarray(inits[ins[1]], np.float32).reshape(()))
                    sw = Dy.from_float(np.asarray(inits[ins[4]], np.float32).ravel())
                    bs = inits[ins[8]].astype(object) * sw.n * sx.n
                    b = Dy(bs if sw.n.size > 1 else bs, sx.e + sw.e)
            else:
                x = dy(ins[0])
                w = dy(ins[1])
                b = dy(ins[2]) if len(ins) > 2 and ins[2] else None
            k = w.n.shape[2:]
            strides = a.get("strides", [1, 1])
            p = a.get("pads", [0, 0, 0, 0])
            dil = a.get("dilations", [1, 1])
            group = a.get("group", 1)
            e = x.e + w.e
            bn = None
            if b is not None:
                e = max(e, b.e)
                bn = b.at(e)
            if op == "ConvTranspose":
                r = conv_transpose(x.n, w.n, None, strides, p, dil, group, a.get("output_padding", [0, 0]))
            else:
                r = conv(x.n, w.n, None, strides, p, dil, group)
            r = r * (1 << (e - x.e - w.e))
            if bn is not None:
                r = r + bn.reshape(1, -1, 1, 1)
            res = Dy(r, e)
            if op == "QLinearConv":
                zp = inits[ins[7]]
                lo, hi = INT_RANGES[zp.dtype.type]
                env[out] = ("codes", quantize(res, inits[ins[6]], int(zp.ravel()[0]), lo, hi))
            else:
                env[out] = ("dy", res)
        elif op == "MaxPool":
            kind, v = val(ins[0])
            k = a["kernel_shape"]
            s = a.get("strides", [1, 1])
            p = a.get("pads", [0, 0, 0, 0])
            if kind == "codes":
                env[out] = ("codes", maxpool(v, k, s, p))
                src = v
            else:
                x = dy(ins[0])
                env[out] = ("dy", Dy(maxpool(x.n, k, s, p), x.e))
                src = x.n
            if len(node.output) > 1:
                env[node.output[1]] = ("indices", maxpool_indices(src, k, s, p))
        elif op == "Resize":
            kind, v = val(ins[0])
            if len(ins) > 2 and ins[2] and inits[ins[2]].size == 4:
                sc = inits[ins[2]]
                fh, fw = int(sc[2]), int(sc[3])
            else:
                sz = inits[ins[3]]
                shp = v.shape if kind == "codes" else dy(ins[0]).n.shape
                fh, fw = int(sz[2]) // shp[2], int(sz[3]) // shp[3]
            mode = a.get("mode", b"nearest").decode()
            coord = a.get("coordinate_transformation_mode", b"half_pixel").decode()
            nearest = a.get("nearest_mode", b"round_prefer_floor").decode()
            if kind == "codes":
                r = resize(Dy(v, 0), fh, fw, mode, coord, nearest)
                assert r.e == 0
                env[out] = ("codes", r.n)
            else:
                env[out] = ("dy", resize(dy(ins[0]), fh, fw, mode, coord, nearest))
        elif op in ("Concat", "QLinearConcat"):
            if op == "QLinearConcat":
                parts = [qlinear_in(env, inits, ins[i], ins[i + 1], ins[i + 2]) for i in range(2, len(ins), 3)]
            else:
                parts = [dy(i) for i in ins]
            e = max(p.e for p in parts)
            res = Dy(np.concatenate([p.at(e) for p in parts], axis=1), e)
            if op == "QLinearConcat":
                zp = inits[ins[1]]
                lo, hi = INT_RANGES[zp.dtype.type]
                env[out] = ("codes", quantize(res, inits[ins[0]], int(zp.ravel()[0]), lo, hi))
            else:
                env[out] = ("dy", res)
        elif op in ("Add", "Mul", "Sub", "QLinearAdd", "QLinearMul"):
            if op.startswith("QLinear"):
                xa = qlinear_in(env, inits, ins[0], ins[1], ins[2])
                xb = qlinear_in(env, inits, ins[3], ins[4], ins[5])
            else:
                xa, xb = dy(ins[0]), dy(ins[1])
            if op.endswith("Mul"):
                res = Dy(xa.n * xb.n, xa.e + xb.e)
            else:
                na, nb, e = align(xa, xb)
                res = Dy(na + nb if op.endswith("Add") else na - nb, e)
            if op.startswith("QLinear"):
                zp = inits[ins[7]]
                lo, hi = INT_RANGES[zp.dtype.type]
                env[out] = ("codes", quantize(res, inits[ins[6]], int(zp.ravel()[0]), lo, hi))
            else:
                env[out] = ("dy", res)
        elif op == "BatchNormalization":
            # s = gamma / sqrt(var + eps), t = beta - mean * s, each step in
            # float32; then x * s + t exactly.
            x = dy(ins[0])
            g_, b_, m_, v_ = (np.asarray(inits[i], np.float32) for i in ins[1:5])
            eps = np.float32(a.get("epsilon", np.float32(1e-5)))
            sc = g_ / np.sqrt(v_ + eps)
            tc = b_ - m_ * sc
            assert sc.dtype == np.float32 and tc.dtype == np.float32
            sd = Dy.from_float(sc.reshape(1, -1, 1, 1))
            td = Dy.from_float(tc.reshape(1, -1, 1, 1))
            xs = Dy(x.n * sd.n, x.e + sd.e)
            p_, q_, e = align(xs, td)
            env[out] = ("dy", Dy(p_ + q_, e))
        elif op == "Relu":
            x = dy(ins[0])
            env[out] = ("dy", Dy(np.maximum(x.n, 0), x.e))
        elif op == "Clip":
            x = dy(ins[0])
            lo = Dy.from_float(np.asarray(inits[ins[1]], np.float32).reshape(()))
            hi = Dy.from_float(np.asarray(inits[ins[2]], np.float32).reshape(()))
            e = max(x.e, lo.e, hi.e)
            n = x.at(e)
            n = np.minimum(np.maximum(n, lo.at(e).item()), hi.at(e).item())
            env[out] = ("dy", Dy(n, e))
        elif op == "LeakyRelu":
            x = dy(ins[0])
            al = Dy.from_float(np.float32(a.get("alpha", 0.01)))
            e = x.e + al.e
            n = np.maximum(x.at(e), x.n * al.n.item())
            env[out] = ("dy", Dy(n, e))
        elif op == "Quant":  # QONNX
            kind, v = val(ins[0])
            x = v if kind == "fr" else dy(ins[0])
            scale = np.asarray(inits[ins[1]], np.float32)
            zp = int(np.asarray(inits[ins[2]]).ravel()[0])
            bits = int(np.asarray(inits[ins[3]]).ravel()[0])
            signed = a.get("signed", 1)
            narrow = a.get("narrow", 0)
            mode = a.get("rounding_mode", b"ROUND").decode()
            lo, hi = ((-(1 << (bits - 1)) + narrow, (1 << (bits - 1)) - 1) if signed
                      else (0, (1 << bits) - 1 - narrow))
            if kind == "const" and scale.size > 1:
                outq = np.empty(x.n.shape, dtype=object)
                for c in range(x.n.shape[0]):
                    outq[c] = quantize(Dy(x.n[c], x.e), scale.ravel()[c], zp, lo, hi, mode, True)
                env[out] = ("dy", dequant_const(outq, scale.ravel(), np.full(scale.size, zp), 0))
            else:
                q = quantize(x, scale, zp, lo, hi, mode, True)
                s = Dy.from_float(scale.reshape(()))
                env[out] = ("dy", Dy((q - zp) * s.n, s.e))
                codes_of[out] = q
        elif op == "Trunc":  # QONNX: version 1 (5 inputs) or 2 (7 inputs)
            kind, v = val(ins[0])
            x = v if kind == "fr" else dy(ins[0]).fractions()
            s = fr(inits[ins[1]])
            zp = int(np.asarray(inits[ins[2]]).ravel()[0])
            mode = a.get("rounding_mode", b"FLOOR").decode().upper()
            if len(ins) == 7:
                so = fr(inits[ins[4]])
                t = Fraction(2) ** round(math.log2(so / s))
                bits = int(np.asarray(inits[ins[6]]).ravel()[0])
                signed, narrow = a.get("signed", 1), a.get("narrow", 0)
                lo, hi = ((-(1 << (bits - 1)) + narrow, (1 << (bits - 1)) - 1) if signed
                          else (0, (1 << bits) - 1 - narrow))
                zo = Fraction(zp) / t
                assert zo.denominator == 1
                zo = int(zo)
            else:
                t = Fraction(2) ** (int(np.asarray(inits[ins[3]]).ravel()[0])
                                    - int(np.asarray(inits[ins[4]]).ravel()[0]))
                lo, hi, so, zo = None, None, s, zp
            q = np.empty(x.shape, dtype=object)
            for idx, v in np.ndenumerate(x):
                c = round(Fraction(v) / s + zp)  # half to even
                y = c / t
                if lo is not None:
                    y = min(max(y, lo), hi)
                q[idx] = round_mode(y, mode)
            sd = Dy.from_float(np.float32(float(so)))
            env[out] = ("dy", Dy((q - zo) * sd.n, sd.e))
            codes_of[out] = q
        elif op == "BipolarQuant":
            x = dy(ins[0])
            s = Dy.from_float(np.asarray(inits[ins[1]], np.float32).reshape(()))
            q = np.where(x.n >= 0, 1, -1).astype(object)
            env[out] = ("dy", Dy(q * s.n, s.e))
            codes_of[out] = q
        elif op == "Transpose":
            kind, v = val(ins[0])
            perm = a["perm"]
            if kind == "codes":
                env[out] = ("codes", np.transpose(v, perm))
            elif kind == "float_input":
                env[out] = ("float_input", np.transpose(v, perm))
            else:
                env[out] = ("dy", Dy(np.transpose(v.n, perm), v.e))
                if ins[0] in codes_of:
                    codes_of[out] = np.transpose(codes_of[ins[0]], perm)
        elif op == "Identity":
            env[out] = val(ins[0])
        elif op in ("Sigmoid", "Tanh"):
            env[out] = ("func", (op, fracs(ins[0])))
        elif op == "QLinearSigmoid":
            x = qlinear_in(env, inits, ins[0], ins[1], ins[2]).fractions()
            zp = inits[ins[4]]
            lo, hi = INT_RANGES[zp.dtype.type]
            env[out] = ("codes", transcendental("Sigmoid", x, inits[ins[3]], int(zp.ravel()[0]), lo, hi))
        elif op == "HardSwish":
            x = fracs(ins[0])
            f = np.vectorize(lambda v: v * min(max(v + 3, 0), 6) / 6, otypes=[object])
            env[out] = ("fr", f(x))
        elif op in ("AveragePool", "GlobalAveragePool", "QLinearAveragePool", "QLinearGlobalAveragePool"):
            x = qlinear_in(env, inits, ins[0], ins[1], ins[2]).fractions() if op.startswith("QLinear") \
                else fracs(ins[0])
            if op.endswith("GlobalAveragePool"):
                k, st, p, inc = x.shape[2:], [1, 1], [0, 0, 0, 0], 1
            else:
                k, st = a["kernel_shape"], a.get("strides", [1, 1])
                p, inc = a.get("pads", [0, 0, 0, 0]), a.get("count_include_pad", 0)
            r = pool_avg(x, k, st, p, inc)
            if op.startswith("QLinear"):
                zp = inits[ins[4]]
                lo, hi = INT_RANGES[zp.dtype.type]
                env[out] = ("codes", quantize(r, inits[ins[3]], int(zp.ravel()[0]), lo, hi))
            else:
                env[out] = ("fr", r)
        elif op in ("Gemm", "MatMul", "QGemm", "QLinearMatMul"):
            if op in ("QGemm", "QLinearMatMul"):
                x = qlinear_in(env, inits, ins[0], ins[1], ins[2]).fractions()
                axis = 0 if a.get("transB", 0) else 1
                w = dequant_const(inits[ins[3]], inits[ins[4]], inits[ins[5]], axis).fractions()
            else:
                x, w = fracs(ins[0]), fracs(ins[1])
            if a.get("transB", 0):
                w = w.T
            x2 = x.reshape(x.shape[0], -1)
            r = np.array([[sum((x2[i, kk] * w[kk, j] for kk in range(w.shape[0])), Fraction(0))
                           for j in range(w.shape[1])] for i in range(x2.shape[0])], dtype=object)
            if op == "Gemm" and len(ins) > 2 and ins[2]:
                r = r + fracs(ins[2]).reshape(1, -1)
            if op == "QGemm":
                if len(ins) > 6 and ins[6]:
                    sx = Fraction(float(np.float32(inits[ins[1]])))
                    sw = np.asarray(inits[ins[4]], np.float32).ravel()
                    b = inits[ins[6]].astype(object)
                    r = r + np.array([b[j] * sx * Fraction(float(sw[j if sw.size > 1 else 0]))
                                      for j in range(b.size)], dtype=object).reshape(1, -1)
                zp = inits[ins[8]]
                lo, hi = INT_RANGES[zp.dtype.type]
                env[out] = ("codes", quantize(r, inits[ins[7]], int(zp.ravel()[0]), lo, hi))
            elif op == "QLinearMatMul":
                zp = inits[ins[7]]
                lo, hi = INT_RANGES[zp.dtype.type]
                env[out] = ("codes", quantize(r, inits[ins[6]], int(zp.ravel()[0]), lo, hi))
            else:
                env[out] = ("fr", r)
        elif op == "ArgMax":
            kind, v = val(ins[0])
            x = v if kind == "codes" else fracs(ins[0])
            assert a.get("axis", 0) == 1
            r = np.argmax(x, axis=1)  # the first maximum
            env[out] = ("codes", np.expand_dims(r, 1) if a.get("keepdims", 1) else r)
        elif op in ("ReduceMax", "ReduceSum", "ReduceMean"):
            kind, v = val(ins[0])
            x = v if kind == "codes" else fracs(ins[0])
            if op == "ReduceMax":
                r = np.max(x, axis=1, keepdims=True)
            else:
                r = np.sum(x, axis=1, keepdims=True)
                if op == "ReduceMean":
                    r = np.vectorize(lambda t: Fraction(t, x.shape[1]), otypes=[object])(r)
            env[out] = ("codes" if kind == "codes" else "fr", r)
        elif op in ("Flatten", "Reshape", "DepthToSpace", "SpaceToDepth", "Pad", "Slice"):
            kind, v = val(ins[0])
            x = v if kind == "codes" else fracs(ins[0])
            if op == "Flatten":
                r = x.reshape(x.shape[0], -1)
            elif op == "Reshape":
                shape = [int(d) for d in inits[ins[1]]]
                shape = [x.shape[0] if (i == 0 and d == 0) else d for i, d in enumerate(shape)]
                r = x.reshape(shape)
            elif op == "DepthToSpace":
                r = depth_to_space(x, a["blocksize"], a.get("mode", b"DCR").decode())
            elif op == "SpaceToDepth":
                r = space_to_depth(x, a["blocksize"])
            elif op == "Pad":
                p = [int(d) for d in inits[ins[1]]]
                cv = inits[ins[2]].ravel()[0] if len(ins) > 2 and ins[2] else 0
                cv = int(cv) if kind == "codes" else Fraction(float(cv))
                r = np.full((x.shape[0], x.shape[1], x.shape[2] + p[2] + p[6], x.shape[3] + p[3] + p[7]),
                            cv, dtype=object)
                r[:, :, p[2]:p[2] + x.shape[2], p[3]:p[3] + x.shape[3]] = x
            else:
                st, en = inits[ins[1]], inits[ins[2]]
                ax = inits[ins[3]] if len(ins) > 3 and ins[3] else range(len(st))
                sl = [slice(None)] * 4
                for s0, e0, a0 in zip(st, en, ax):
                    sl[int(a0)] = slice(int(s0), int(min(e0, 1 << 40)))
                r = x[tuple(sl)]
            env[out] = ("codes" if kind == "codes" else "fr", r)
        elif op in ("ConvInteger", "MatMulInteger"):
            kind, v = val(ins[0])
            assert kind == "codes"
            zx = int(np.asarray(inits[ins[2]]).ravel()[0]) if len(ins) > 2 and ins[2] else 0
            w = inits[ins[1]].astype(object)
            zw = inits[ins[3]].astype(object) if len(ins) > 3 and ins[3] else np.zeros(1, object)
            x = v.astype(object) - zx
            if op == "ConvInteger":
                w = w - (zw.reshape(-1, 1, 1, 1) if zw.size > 1 else zw.reshape(()))
                r = conv(x, w, None, a.get("strides", [1, 1]), a.get("pads", [0, 0, 0, 0]),
                         a.get("dilations", [1, 1]), a.get("group", 1))
            else:
                w = w - (zw.reshape(1, -1) if zw.size > 1 else zw.reshape(()))
                r = x.reshape(x.shape[0], -1).dot(w)
            env[out] = ("codes", r)
        elif op == "MaxUnpool":
            x = fracs(ins[0])
            kind, idx = val(ins[1])
            if len(ins) > 2 and ins[2]:
                shape = [int(d) for d in inits[ins[2]]]
                shape[0] = x.shape[0]
            else:
                k, st = a["kernel_shape"], a.get("strides", [1, 1])
                p = a.get("pads", [0, 0, 0, 0])
                shape = [x.shape[0], x.shape[1], (x.shape[2] - 1) * st[0] - p[0] - p[2] + k[0],
                         (x.shape[3] - 1) * st[1] - p[1] - p[3] + k[1]]
            r = np.full(int(np.prod(shape)), Fraction(0), dtype=object)
            for i, v in zip(idx.ravel(), x.ravel()):
                r[int(i)] = v
            env[out] = ("fr", r.reshape(shape))
        else:
            raise NotImplementedError(op)

    result = {}
    for o in g.output:
        kind, v = env[o.name]
        if kind == "codes":
            result[o.name] = v
        else:
            result[o.name] = codes_of[o.name]
    return result


def qlinear_in(env, inits, x, s, z):
    kind, v = env[x]
    assert kind == "codes"
    sd = Dy.from_float(np.asarray(inits[s], np.float32).reshape(()))
    zp = int(np.asarray(inits[z]).ravel()[0])
    return Dy((v - zp) * sd.n, sd.e)
