#!/usr/bin/env python3
"""Reference entries of `table(x, f, T)` for tests/it/tables.rs.

An independent model of the semantics in docs/semantics.md ("Lookup
tables"): f(x) evaluated with mpmath at several hundred bits (exact
fractions for `reciprocal`), written as an exact part plus a small tail where
the value is within far less than one unit of a dyadic number (sigmoid,
tanh, silu, gelu and softplus of large |x|), then quantized with the
ap_fixed mode of T and stored with its overflow mode. Every entry of every
built-in function, for each (input type, output type) pair below.

Run: build/venv/bin/python tools/table_fixtures.py tests/fixtures/tables
"""

import math
import os
import sys
from fractions import Fraction

import mpmath
from mpmath import mp, mpf

mp.prec = 400

FUNCS = ["sigmoid", "tanh", "exp", "log", "sqrt", "reciprocal", "softplus", "gelu", "silu"]

# (name, (signed, width, int_bits), (signed, width, int_bits, quant, overflow, fixed))
PAIRS = [
    ("f8_4_to_uf8_0_rnd_conv_sat", (1, 8, 4), (0, 8, 0, "rnd_conv", "sat", 1)),
    ("i8_to_f8_1_rnd_sat", (1, 8, 8), (1, 8, 1, "rnd", "sat", 1)),
    ("uf8_2_to_f16_4_rnd_inf_sat", (0, 8, 2), (1, 16, 4, "rnd_inf", "sat", 1)),
    ("f10_3_to_f12_2_trn_wrap", (1, 10, 3), (1, 12, 2, "trn", "wrap", 1)),
    ("u8_to_uf16_8_rnd_zero_sat_zero", (0, 8, 8), (0, 16, 8, "rnd_zero", "sat_zero", 1)),
    ("f8_6_to_f10_5_trn_zero_sat_sym", (1, 8, 6), (1, 10, 5, "trn_zero", "sat_sym", 1)),
    ("f12_4_to_f24_8_rnd_min_inf_sat", (1, 12, 4), (1, 24, 8, "rnd_min_inf", "sat", 1)),
    ("f8_0_to_f8_m2_rnd_conv_sat", (1, 8, 0), (1, 8, -2, "rnd_conv", "sat", 1)),
    ("i8_to_f8_10_rnd_sat", (1, 8, 8), (1, 8, 10, "rnd", "sat", 1)),
    ("f8_2_to_u8", (1, 8, 2), (0, 8, 8, "trn", "wrap", 0)),
    ("i6_to_i16_exp_wrap", (1, 6, 6), (1, 16, 16, "trn", "wrap", 0)),
]


class Domain(Exception):
    pass


def value(f, x):
    """f(x) as (exact Fraction part, mpf tail): the value is part + tail."""
    xm = mpf(x.numerator) / x.denominator
    zero = mpf(0)
    if f == "reciprocal":
        if x == 0:
            raise Domain
        return Fraction(1) / x, zero
    if f == "log":
        if x <= 0:
            raise Domain
        return (Fraction(0), zero) if x == 1 else (Fraction(0), mpmath.log(xm))
    if f == "sqrt":
        if x < 0:
            raise Domain
        rn, rd = math.isqrt(x.numerator), math.isqrt(x.denominator)
        if rn * rn == x.numerator and rd * rd == x.denominator:
            return Fraction(rn, rd), zero
        return Fraction(0), mpmath.sqrt(xm)
    if f == "exp":
        if x == 0:
            return Fraction(1), zero
        return Fraction(0), mpmath.exp(xm)
    if f == "sigmoid":
        if x == 0:
            return Fraction(1, 2), zero
        if x > 0:  # 1 - 1 / (1 + e^x)
            return Fraction(1), -1 / (1 + mpmath.exp(xm))
        return Fraction(0), 1 / (1 + mpmath.exp(-xm))
    if f == "tanh":
        if x == 0:
            return Fraction(0), zero
        a = abs(xm)
        t = 2 / (1 + mpmath.exp(2 * a))  # tanh(a) = 1 - t
        return (Fraction(1), -t) if x > 0 else (Fraction(-1), t)
    if f == "softplus":
        if x > 0:  # x + log(1 + e^-x)
            return x, mpmath.log1p(mpmath.exp(-xm))
        return Fraction(0), mpmath.log1p(mpmath.exp(xm))
    if f == "silu":
        if x == 0:
            return Fraction(0), zero
        if x > 0:  # x - x / (1 + e^x)
            return x, -xm / (1 + mpmath.exp(xm))
        return Fraction(0), xm / (1 + mpmath.exp(-xm))
    if f == "gelu":
        if x == 0:
            return Fraction(0), zero
        z = abs(xm) / mpmath.sqrt(2)
        if x > 0:  # x - x erfc(z) / 2
            return x, -xm * mpmath.erfc(z) / 2
        return Fraction(0), xm * mpmath.erfc(z) / 2
    raise ValueError(f)


def floor_and_half(part, tail, scale):
    """floor(y), whether y is exact, and y - floor(y) compared with 1/2,
    for y = (part + tail) * scale."""
    m = part * scale
    t = tail * (mpf(scale.numerator) / scale.denominator)
    if t == 0:
        fl = m.numerator // m.denominator
        rem = m - fl
        return fl, rem == 0, (rem > Fraction(1, 2)) - (rem < Fraction(1, 2))
    if abs(t) < mpf(2) ** -200:
        # m is dyadic with a small denominator: a tail this small only
        # matters where m's fraction is 0 or 1/2.
        fl = m.numerator // m.denominator
        rem = m - fl
        if rem == 0 and t < 0:
            return fl - 1, False, 1
        if rem == Fraction(1, 2):
            return fl, False, 1 if t > 0 else -1
        return fl, False, (rem > Fraction(1, 2)) - (rem < Fraction(1, 2))
    need = int(mpmath.log(abs(t) + 1, 2)) + 200
    with mpmath.workprec(max(mp.prec, need + 100)):
        y = mpf(m.numerator) / m.denominator + t
        fl = int(mpmath.floor(y))
        rem = y - fl
        assert rem != 0 and rem != mpf(1) / 2, "an exact tie off the exact points"
        return fl, False, 1 if rem > mpf(1) / 2 else -1


def quantize(fl, exact, half, quant):
    if exact:
        return fl
    up = {
        "trn": False,
        "trn_zero": fl < 0,
    }.get(quant)
    if up is None:
        if half != 0:
            up = half > 0
        else:
            up = {
                "rnd": True,
                "rnd_zero": fl < 0,
                "rnd_inf": fl >= 0,
                "rnd_min_inf": False,
                "rnd_conv": fl % 2 != 0,
            }[quant]
    return fl + 1 if up else fl


def overflow(code, signed, width, mode):
    lo, hi = (-(1 << (width - 1)), (1 << (width - 1)) - 1) if signed else (0, (1 << width) - 1)
    if mode == "wrap":
        low = code % (1 << width)
        return low - (1 << width) if signed and low > hi else low
    if lo <= code <= hi:
        if mode == "sat_sym" and signed and width > 1 and code == lo:
            return -hi
        return code
    if mode == "sat_zero":
        return 0
    if mode == "sat_sym" and signed and width > 1:
        return max(-hi, min(hi, code))
    return max(lo, min(hi, code))


def entry(f, x, out):
    signed, width, int_bits, quant, ovf, _ = out
    frac = width - int_bits
    try:
        part, tail = value(f, x)
    except Domain:
        return "D"
    if f == "exp" and ovf == "wrap" and tail > mpf(2) ** 4000:
        return "L"
    with mpmath.workprec(max(mp.prec, int(mpmath.log(abs(tail) + 2, 2)) + frac + 200)):
        if f == "exp" and tail > 2 ** 200:
            part, tail = value(f, x)
        fl, exact, half = floor_and_half(part, tail, Fraction(2) ** frac)
    code = overflow(quantize(fl, exact, half, quant), signed, width, ovf)
    return str(code << max(-frac, 0))


def main(folder):
    os.makedirs(folder, exist_ok=True)
    for name, inp, out in PAIRS:
        s, w, i = inp
        frac = w - i
        lo, hi = (-(1 << (w - 1)), (1 << (w - 1)) - 1) if s else (0, (1 << w) - 1)
        lines = [
            "# tools/table_fixtures.py: every entry of table(x, f, T), raw at T's storage frac",
            f"in: {s} {w} {i}",
            "out: " + " ".join(str(v) for v in out),
        ]
        for f in FUNCS:
            vals = [entry(f, Fraction(raw, 1 << frac) if frac >= 0 else Fraction(raw << -frac), out)
                    for raw in range(lo, hi + 1)]
            lines.append(f"{f}: " + " ".join(vals))
        with open(os.path.join(folder, name + ".txt"), "w") as fh:
            fh.write("\n".join(lines) + "\n")
        print(name, file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/tables")
