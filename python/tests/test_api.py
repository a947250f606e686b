"""Loading, checking, metadata, errors, batches, threads, dtypes, the GIL."""

import pickle
import re
import threading
import time

import numpy as np
import pytest

import convoy
from conftest import EXAMPLES


def images(n, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, 16, 32, 64), dtype=np.uint8)


def test_ports_and_table(seed):
    assert seed.name == "seed"
    [x] = seed.inputs
    assert (x.name, x.shape, x.type, x.min, x.max) == ("x", (16, 32, 64), "u8", "0", "255")
    [y] = seed.outputs
    assert (y.name, y.dtype, y.raw_dtype) == ("pw", "uint8", "uint8")
    rows = seed.table()
    factor = next(r for r in rows if r["stage"] == "factor")
    assert factor["min"] == factor["max"] == "0.01229999959468841552734375"
    assert factor["type"] == "fixed<32, 1>"
    conv = next(r for r in rows if r["op"] == "dwconv")
    assert (conv["min"], conv["max"], conv["macs"]) == ("-58905", "66045", 285760)
    assert conv["storage"] == [16, 32, 64]
    assert rows[0]["storage"] == [16, 34, 66] and rows[0]["halo"] == 1
    assert sum(r["macs"] for r in rows) == seed.macs == 810048
    assert [w.code for w in seed.warnings] == ["N001"]
    assert "repr" not in repr(seed) and "seed(x: u8[16, 32, 64]) -> pw" in repr(seed)


def test_check_error_is_rendered_without_colour():
    src = "pipeline p {\n  input x: u8[4]\n  let y = x + z\n  output y\n}\n"
    with pytest.raises(convoy.CheckError) as e:
        convoy.compile(src, name="bad.cnn")
    [d] = e.value.diagnostics
    assert d.code.startswith("E") and d.severity == "error"
    assert "`z`" in d.message
    assert d.span.file == "bad.cnn" and d.span.line == 3
    assert src[d.span.start : d.span.end] == "z"
    assert "\x1b[" not in str(e.value)
    assert str(e.value) == d.rendered.rstrip()
    assert "bad.cnn:3:" in str(e.value)


def test_load_errors(tmp_path):
    with pytest.raises(convoy.ConvoyError, match="no such file"):
        convoy.load(tmp_path / "missing.cnn")
    script = tmp_path / "w.cnn"
    script.write_text('pipeline p {\n  input x: u8[4]\n  param w: i8[4] = load("nope.npy")\n  output x\n}\n')
    with pytest.raises(convoy.CheckError, match="nope.npy"):
        convoy.load(script)


def test_batches_and_single_images(seed):
    x = images(5)
    y = seed(x)
    assert y.shape == (5, 16, 32, 64) and y.dtype == np.uint8
    for i in range(5):
        one = seed(x[i])
        assert one.shape == (16, 32, 64)
        assert np.array_equal(one, y[i])
    assert np.array_equal(seed.run(x=x)["pw"], y)
    # Any layout and integer dtype holding the values reads the same.
    fortran = np.asfortranarray(x)
    assert not fortran.flags.c_contiguous
    assert np.array_equal(seed(fortran), y)
    assert np.array_equal(seed(x.astype(">u2")), y)
    assert np.array_equal(seed(x.astype(np.float32)), y)
    assert np.array_equal(seed(x[:, :, :, ::-1].copy()[:, :, :, ::-1]), y)
    # The interpreter agrees bit for bit.
    assert np.array_equal(seed(x[:2], backend="interp"), y[:2])


def test_empty_batch_and_read_only_input(seed):
    y = seed(np.zeros((0, 16, 32, 64), np.uint8))
    assert y.shape == (0, 16, 32, 64) and y.dtype == np.uint8
    x = images(2, seed=4)
    frozen = np.frombuffer(x.tobytes(), np.uint8).reshape(x.shape)
    assert not frozen.flags.writeable
    assert np.array_equal(seed(frozen), seed(x))


def test_input_read_in_place_stays_inside_the_array(seed):
    """The seed's input is read in place (its first stage pads at the
    borders itself): the array fills whole pages between two pages that
    fault on any access, so a load before its first byte or after its last
    one would crash. Unaligned arrays read the same."""
    import ctypes
    import mmap

    page = mmap.PAGESIZE
    x = images(2, seed=6)
    assert x.nbytes % page == 0
    inner = x.nbytes // page
    m = mmap.mmap(-1, (inner + 2) * page)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    base = ctypes.addressof(ctypes.c_char.from_buffer(m))
    prot_none = 0
    assert libc.mprotect(base, page, prot_none) == 0
    assert libc.mprotect(base + (inner + 1) * page, page, prot_none) == 0
    fenced = np.frombuffer(m, np.uint8, count=x.size, offset=page).reshape(x.shape)
    fenced[...] = x
    expected = seed(x, backend="interp")
    for threads in [1, 2]:
        assert np.array_equal(seed(fenced, threads=threads), expected)
        assert np.array_equal(seed(fenced[1], threads=threads), expected[1])
    odd = np.empty(x.nbytes + 1, np.uint8)[1:].reshape(x.shape)
    odd[...] = x
    assert np.array_equal(seed(odd), expected)


def test_threads(seed):
    x = images(7, seed=1)
    y1 = seed(x, threads=1)
    for t in [2, 3, 0]:
        assert np.array_equal(seed(x, threads=t), y1)
    # Fewer images than threads: rows are split instead.
    assert np.array_equal(seed(x[:1], threads=2), y1[:1])
    with pytest.raises(ValueError):
        seed(x, threads=-1)


def test_dtype_shape_and_value_errors(seed):
    x = images(2)
    with pytest.raises(convoy.InputError, match=r"argument `x`.*shape \[2, 16, 32, 63\]"):
        seed(x[..., :63])
    with pytest.raises(ValueError, match="argument `x`.*256"):
        seed(x.astype(np.int16) + 1)
    with pytest.raises(convoy.InputError, match=r"argument `x`.*not an integer"):
        seed(x / 2)
    with pytest.raises(convoy.InputError, match="complex"):
        seed(x.astype(np.complex64))
    with pytest.raises(convoy.InputError, match="object"):
        seed(x.astype(object))
    with pytest.raises(convoy.InputError, match="no input `y`"):
        seed.run(x=x, y=x)
    with pytest.raises(convoy.InputError, match="no data for input `x`") as e:
        seed.run()
    assert e.value.diagnostics[0].help == "pass it as run(x=array)"
    with pytest.raises(TypeError, match="given twice"):
        seed.run(x, x=x)
    with pytest.raises(TypeError):
        seed(x, x)
    with pytest.raises(ValueError, match="backend"):
        seed(x, backend="gpu")
    # And the pipeline still works afterwards.
    assert seed(x).shape == x.shape


def test_fixed_point_io_and_raw():
    src = """pipeline f {
  input x: fixed<8, 4>[2, 2, 2]
  let y = x * 0.5
  output y
}
"""
    p = convoy.compile(src)
    [x] = p.inputs
    assert (x.dtype, x.raw_dtype, x.frac) == ("float64", "int8", 4)
    v = np.array([0.0, 0.0625, -8.0, 7.9375, 1.5, -1.5, 2.25, -0.125]).reshape(2, 2, 2)
    y = p(v)
    assert y.dtype == np.float64
    assert np.array_equal(y, v * 0.5)
    raw = p(np.round(v * 16).astype(np.int8), raw=True)
    assert raw.dtype.kind == "i" and np.array_equal(raw / 2.0 ** p.outputs[0].frac, v * 0.5)
    with pytest.raises(convoy.InputError, match="argument `x`"):
        p(v + 1 / 64)
    with pytest.raises(convoy.InputError, match="raw=True|integer"):
        p(np.zeros((2, 2, 2), np.int8))


def test_gil_released_during_a_run(seed):
    # Long enough to tell (a seed image takes tens of microseconds).
    x = images(1, seed=2)
    while True:
        start = time.perf_counter()
        seed(x, threads=1)
        if time.perf_counter() - start > 0.2:
            break
        x = np.concatenate([x, x])
    count = 0
    running = threading.Event()
    done = threading.Event()

    def counter():
        nonlocal count
        running.wait()
        while not done.is_set():
            count += 1

    t = threading.Thread(target=counter)
    t.start()
    running.set()
    time.sleep(0.05)
    before = count
    start = time.perf_counter()
    seed(x, threads=1)
    seconds = time.perf_counter() - start
    during = count - before
    done.set()
    t.join()
    assert seconds > 0.05, "the run should be long enough to tell"
    # With the GIL held the counter could only move at the call's edges.
    assert during > 1000, f"the other thread counted {during} in {seconds:.3f} s"


def test_pickle_roundtrip(seed, tmp_path):
    q = pickle.loads(pickle.dumps(seed))
    x = images(2, seed=3)
    assert np.array_equal(q(x), seed(x))
    assert q.table() == seed.table()


def test_estimate_emit_and_bench(seed, tmp_path):
    e = seed.estimate()
    assert e and isinstance(e, dict)
    e16 = seed.estimate(style="stream", parallel={"pw": "pe:16"})
    assert json_has_number(e16)
    out = tmp_path / "hls"
    written = seed.emit_hls(out, style="stream")
    assert any(w.endswith(".cpp") for w in written)
    assert all((out / w).exists() or __import__("os").path.exists(w) for w in written)
    with pytest.raises(convoy.ConvoyError, match="force=True"):
        seed.emit_hls(out)
    assert seed.emit_hls(out, force=True)
    with pytest.raises(ValueError, match="style"):
        seed.estimate(style="systolic")
    with pytest.raises(convoy.ConvoyError):
        seed.estimate(parallel={"pw": "pe:zero"})
    b = seed.bench(iters=3, threads=1)
    assert b["median_us"] > 0 and b["min_us"] <= b["median_us"] and b["macs"] == 810048
    assert b["min_us"] <= b["mean_us"]
    # At least two warm-up runs, then the three timed ones.
    assert b["iters"] == 3 and b["runs"] >= 5


def json_has_number(d):
    return any(isinstance(v, (int, float)) for v in d.values()) or any(
        json_has_number(v) for v in d.values() if isinstance(v, dict)
    )


def test_concurrent_calls_from_python_threads(seed):
    x = images(6, seed=5)
    expected = seed(x, threads=1)
    results = {}

    def work(k):
        # Single images (rows over the pool's threads) and a batch, at once.
        results[k] = [seed(x[k % 6], threads=2) for _ in range(20)] + [seed(x, threads=2)]

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k, outs in results.items():
        for one in outs[:-1]:
            assert np.array_equal(one, expected[k % 6])
        assert np.array_equal(outs[-1], expected)
