"""Convoy on numpy arrays: bit-exact fixed-point CNN pipelines from Python.

    >>> import convoy, numpy as np
    >>> p = convoy.load("examples/seed.cnn")
    >>> x = np.random.default_rng(0).integers(0, 256, (8, 16, 32, 64), dtype=np.uint8)
    >>> y = p(x)                       # 8 images through the JIT, GIL released
    >>> y.shape, y.dtype
    ((8, 16, 32, 64), dtype('uint8'))

Arrays follow the data-file rules of docs/semantics.md: an input reads any
integer or boolean dtype (a float dtype holding integers) for an integer
type, and floats it represents exactly for a fixed-point type (raw codes
with ``raw=True``); outputs come back in the narrowest integer dtype of
their type, fixed-point ones as float64 (raw codes with ``raw=True``). A
leading batch axis ``[N, ...]`` is carried through. Problems with the data
raise :class:`InputError` (a ``ValueError``) naming the input.

See docs/python.md for a walkthrough.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, List, NamedTuple, Optional, Tuple, Union

import numpy as np

from . import _convoy

__all__ = [
    "load",
    "compile",
    "Pipeline",
    "Port",
    "Diagnostic",
    "Span",
    "ConvoyError",
    "CheckError",
    "InputError",
    "RunError",
]


class Span(NamedTuple):
    """Where a diagnostic points: file name, byte range, 1-based line and column."""

    file: str
    start: int
    end: int
    line: int
    column: int


class Diagnostic(NamedTuple):
    """One diagnostic: stable code (``E012``), severity, message, primary span."""

    code: str
    severity: str
    message: str
    span: Optional[Span]
    help: Optional[str]
    notes: List[str]
    #: The diagnostic as ``convoy check`` prints it, without colour.
    rendered: str


def _diagnostic(d: Dict[str, Any]) -> Diagnostic:
    span = Span(**d["span"]) if d["span"] is not None else None
    return Diagnostic(
        d["code"], d["severity"], d["message"], span, d["help"], list(d["notes"]), d["rendered"]
    )


class ConvoyError(Exception):
    """Base of Convoy's errors. ``str(e)`` is the rendered diagnostics (no
    colour); ``e.diagnostics`` lists them as :class:`Diagnostic`."""

    def __init__(self, message: str, diagnostics: List[Diagnostic]):
        super().__init__(message)
        self.diagnostics = diagnostics


class CheckError(ConvoyError):
    """The script does not parse or check."""


class InputError(ConvoyError, ValueError):
    """An input array does not fit: unknown or missing name, shape, dtype,
    or a value outside its type (or its declared range)."""


class RunError(ConvoyError, RuntimeError):
    """A run stopped on an image (a bad ``maxunpool`` index, say)."""


_KINDS = {"check": CheckError, "input": InputError, "run": RunError}


def _raise(failure: Exception) -> None:
    kind, message, diagnostics = failure.args
    cls = _KINDS.get(kind, ConvoyError)
    raise cls(message, [_diagnostic(d) for d in diagnostics]) from None


class Port(NamedTuple):
    """An input or output: name, shape (one image), Convoy type, the numpy
    dtype outputs come back in (and ``raw_dtype`` with ``raw=True``), and
    the exact range as decimal strings (``fractions.Fraction(min)``)."""

    name: str
    shape: Tuple[int, ...]
    type: str
    dtype: str
    raw_dtype: str
    frac: int
    min: str
    max: str


def _port(d: Dict[str, Any]) -> Port:
    return Port(
        d["name"], tuple(d["shape"]), d["type"], d["dtype"], d["raw_dtype"], d["frac"],
        d["min"], d["max"],
    )


def _native_call(f, *args):
    try:
        return f(*args)
    except _convoy.Failure as failure:
        _raise(failure)


def load(path: Union[str, "os.PathLike[str]"], pipeline: Optional[str] = None) -> "Pipeline":
    """Reads and checks a ``.cnn`` file (``load("...")`` paths relative to it).

    ``pipeline`` picks one when the file declares several. Raises
    :class:`CheckError` with the diagnostics if the script does not check.
    """
    return Pipeline(_native_call(_convoy.load, str(path), pipeline))


def compile(
    source: str,
    pipeline: Optional[str] = None,
    name: str = "<string>",
    base_dir: Union[str, "os.PathLike[str]"] = ".",
) -> "Pipeline":
    """Checks Convoy source text; ``load("...")`` paths are relative to
    ``base_dir``, diagnostics name the source ``name``."""
    return Pipeline(_native_call(_convoy.compile, source, pipeline, name, str(base_dir)))


def _restore(name: str, source: str, pipeline: Optional[str], files) -> "Pipeline":
    return Pipeline(_native_call(_convoy.restore, name, source, pipeline, files))


def _as_bytes(name: str, value: Any) -> Tuple[np.ndarray, str, List[int]]:
    """The array as C-order bytes without a copy when it already is C-order;
    its numpy dtype string and shape."""
    a = np.asarray(value)
    shape = [int(d) for d in a.shape]
    if a.dtype.hasobject:
        # Convoy names the dtype in its error; there are no bytes to read.
        return np.empty(0, np.uint8), a.dtype.str, shape
    if not a.flags.c_contiguous:
        a = np.ascontiguousarray(a)
    return a.reshape(-1).view(np.uint8), a.dtype.str, shape


class Pipeline:
    """A checked pipeline. Call it on numpy arrays (``p(x)``), or use
    :meth:`run` for the options. Picklable: the source and every
    ``load("...")`` file travel with it and are checked again on arrival
    (Ray workers, multiprocessing); JIT builds are made on first use, once
    per thread count, and kept."""

    def __init__(self, native: "_convoy.Pipeline"):
        self._native = native
        info = native.info()
        self.inputs: List[Port] = [_port(d) for d in info["inputs"]]
        self.outputs: List[Port] = [_port(d) for d in info["outputs"]]
        #: The checker's warnings and notes (a stored constant's exact value, a wrap that can happen).
        self.warnings: List[Diagnostic] = [_diagnostic(d) for d in info["warnings"]]
        #: Multiply-accumulates per image.
        self.macs: int = info["macs"]

    @property
    def name(self) -> str:
        """The pipeline's name."""
        return self._native.name

    def __repr__(self) -> str:
        ins = ", ".join(f"{p.name}: {p.type}{list(p.shape)}" for p in self.inputs)
        outs = ", ".join(p.name for p in self.outputs)
        return f"<convoy.Pipeline {self.name}({ins}) -> {outs}>"

    def __reduce__(self):
        return (_restore, self._native.origin())

    def table(self) -> List[Dict[str, Any]]:
        """The stage table of ``convoy check``: one dict per node with
        ``stage``, ``op``, ``shape``, ``storage`` (halo included), ``halo``,
        ``min`` and ``max`` (exact, as decimal strings), ``type`` and ``macs``."""
        return self._native.table()

    def _inputs(self, args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Dict[str, Any]:
        if len(args) > len(self.inputs):
            raise TypeError(
                f"{self.name} takes {len(self.inputs)} input(s), {len(args)} were given"
            )
        named = {p.name: a for p, a in zip(self.inputs, args)}
        for k, v in kwargs.items():
            if k in named:
                raise TypeError(f"input `{k}` is given twice")
            named[k] = v
        return named

    def run(
        self,
        *args: Any,
        backend: str = "jit",
        threads: Optional[int] = None,
        raw: bool = False,
        **inputs: Any,
    ) -> Dict[str, np.ndarray]:
        """Runs the pipeline on numpy arrays; returns ``{output name: array}``.

        Inputs are positional (declaration order) or by name. Each is one
        image of the declared shape or a batch ``[N, ...]`` (all batched
        inputs the same N; the outputs then carry the batch axis). A
        C-contiguous array is read in place; others are copied first.

        ``backend``: ``"jit"`` (Cranelift, the default) or ``"interp"`` (the
        reference interpreter). ``threads``: default every core; images are
        spread over the threads when the batch has at least as many, else
        each image's rows are. ``raw``: fixed-point values as their integer
        codes (value = code / 2**frac), in and out. The GIL is released
        while the pipeline runs.
        """
        named = self._inputs(args, inputs)
        names, arrays, descrs, shapes = [], [], [], []
        for name, value in named.items():
            data, descr, shape = _as_bytes(name, value)
            names.append(name)
            arrays.append(data)
            descrs.append(descr)
            shapes.append(shape)
        nthreads = 0 if threads is None else int(threads)
        if nthreads < 0:
            raise ValueError("threads must be at least 0 (0: every core)")
        outputs = _native_call(
            self._native.run, names, arrays, descrs, shapes, backend, nthreads, bool(raw)
        )
        return {
            name: data.view(np.dtype(descr)).reshape(shape)
            for name, data, descr, shape in outputs
        }

    def __call__(self, *args: Any, **kwargs: Any) -> Union[np.ndarray, Dict[str, np.ndarray]]:
        """``p(x)``: :meth:`run` with the same arguments; the array itself
        when the pipeline has one output, else the dict."""
        out = self.run(*args, **kwargs)
        if len(out) == 1:
            return next(iter(out.values()))
        return out

    def bench(self, iters: int = 50, threads: Optional[int] = None) -> Dict[str, Any]:
        """``convoy bench``'s measurement of the JIT on one random image:
        ``median_us``, ``min_us``, ``mean_us`` (the timed runs' total over
        their count: the throughput a batch sees), ``gmacs``, ``macs``, ``threads``,
        ``compile_ms``, ``iters``, and ``runs``: every run made, warm-up
        included (``time.thread_time()`` around the call over ``runs`` is
        the loop's CPU time per run)."""
        return _native_call(self._native.bench, int(iters), 0 if threads is None else int(threads))

    def estimate(
        self,
        style: str = "array",
        parallel: Optional[Dict[str, str]] = None,
        part: Optional[str] = None,
        clock_ns: float = 5.0,
    ) -> Dict[str, Any]:
        """``convoy estimate --format json`` as a dict: per-stage latency,
        initiation interval and what sets it, DSP and BRAM estimates.
        ``parallel`` maps a stage to ``"pe:N[,simd:M]"``."""
        text = _native_call(
            self._native.estimate, style, list((parallel or {}).items()), part, float(clock_ns)
        )
        return json.loads(text)

    def emit_hls(
        self,
        dir: Union[str, "os.PathLike[str]"],
        style: str = "array",
        parallel: Optional[Dict[str, str]] = None,
        part: Optional[str] = None,
        clock_ns: float = 5.0,
        seed: int = 1,
        force: bool = False,
    ) -> List[str]:
        """``convoy emit hls``: writes the Vitis HLS project (C++, testbench
        with random inputs drawn from ``seed``, Tcl, Makefile) into ``dir``;
        every file or none. An existing non-empty folder needs ``force``.
        Returns the paths written."""
        return _native_call(
            self._native.emit_hls,
            str(dir),
            style,
            list((parallel or {}).items()),
            part,
            float(clock_ns),
            int(seed),
            bool(force),
        )

