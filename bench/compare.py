#!/usr/bin/env python
"""logitkit side by side with the peers a user would pick instead, single thread.

Contenders: logitkit (the public functions with ``out=``, and the raw ufuncs), NumPy written by
hand (the max-shifted formulas, with preallocated outputs), SciPy ``scipy.special``, PyTorch
(``torch.set_num_threads(1)``, ``out=`` where the op has one), ONNX Runtime (a one-node model,
one intra-op and one inter-op thread, inputs and outputs bound in place with IOBinding), and
``np.copyto(out, x)``: a kernel that reads x and writes an output of the same size cannot beat it.
For the losses (cross-entropy, BCE with logits; loss alone and loss + gradient): torch autograd
forward + backward, and scikit-learn's ``sklearn._loss`` (per-sample loss and gradient: a speed
comparison, it does not reduce). For sampling a token (the ``sample*`` cases): a PyTorch chain of
transformers' logits warpers written here, and llama.cpp's sampler chain through llama-cpp-python
(bench/README.md, "Sampling"). Peers that are not installed are skipped with a note.

Method (bench/README.md): one process; every contender of a case runs on the same input
array; each repetition times one batch of calls of every contender in a shuffled order (batches
sized to take ``--batch-ms``), and the table shows the median over repetitions. Outputs are
preallocated where the contender allows it; an allocating contender is marked ``*``. Each
contender's result is checked once against logitkit's (a mismatch is marked ``!``), so a wrong axis
or a wrong formula cannot slip into the table as a fast time; random draws, which differ between
libraries, are checked instead against a float64 reference (the Work's ``check``).

Usage::

    python bench/compare.py                       # the full table
    python bench/compare.py --quick               # a short run
    python bench/compare.py --isa avx2            # force logitkit's ISA
    python bench/compare.py --isa avx2 --torch-isa avx2   # both libraries on AVX2
    python bench/compare.py --only cross_entropy,bce      # the losses only
    python bench/compare.py --case log_softmax/64x32000   # one case, by its name
    python bench/compare.py --list                        # every case name (and the path cases)
    python bench/compare.py --paths                       # the fast-path cases only
    python bench/compare.py --json out.json --plot out.png

Every case has a stable name, ``WORK/SHAPE`` with the shape's sizes joined by ``x``
(``softmax/1x10``, ``sigmoid/1000000``). ``PATH_CASES`` name the cases that exercise each of the
kernels' and bindings' specialised paths (docs/architecture.md: a fast path stays only while it wins
on its named case); they are not part of the default table and run with ``--paths`` or ``--case``.

Adding an entry (a loss with its gradient, say): write the contender factories (each takes the
case's data and returns a zero-argument callable, or raises ``Skip``), register a ``Work`` in
``WORKS`` with a ``make`` building its inputs, and add ``(work name, shape)`` to ``CASES``.
"""

from __future__ import annotations

import os

# Single thread for the headline figures: set before NumPy, SciPy, torch or ONNX Runtime load their
# thread pools.
for _var in (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "BLIS_NUM_THREADS",
):
    os.environ[_var] = "1"

import argparse
import gc
import importlib
import json
import math
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import logitkit as lk
import numpy as np

Runner = Callable[[], Any]  # one call of a contender; returns its result (for the check)
Factory = Callable[[dict], Runner]  # builds a Runner from the case's data (allocations go here)


class Skip(Exception):
    """A contender cannot run this case (op missing, dtype unsupported): skipped with a note."""


# ----------------------------------------------------------------------------- peers

_PEER_MODULES = {
    "scipy": "scipy.special",
    "torch": "torch",
    "onnxruntime": "onnxruntime",
    "onnx": "onnx",
    "sklearn": "sklearn._loss.loss",
    "llama_cpp": "llama_cpp",
    "matplotlib": "matplotlib",
}
_peers: dict[str, Any] = {}
_missing: dict[str, str] = {}


def peer(name: str) -> Any:
    """The peer's module, imported once; raises Skip when it is not installed."""
    if name in _peers:
        return _peers[name]
    if name in _missing:
        raise Skip(f"{name} not installed")
    try:
        mod = importlib.import_module(_PEER_MODULES[name])
    except Exception as e:  # noqa: BLE001 - ImportError, or a broken install: skip either way
        _missing[name] = f"{type(e).__name__}: {e}"
        raise Skip(f"{name} not installed") from None
    if name == "torch":
        mod.set_num_threads(1)
        try:
            mod.set_num_interop_threads(1)
        except RuntimeError:  # already started; harmless for single-op calls
            pass
    _peers[name] = mod
    return mod


# Contenders as columns, in this order; the first is the one the ratios are taken for.
CONTENDERS = [
    "logitkit",
    "lk.ufunc",
    "lk 2 threads",
    "lk softmax",
    "lk float32",
    "numpy",
    "scipy",
    "torch",
    "llama_cpp",
    "llama refill",
    "onnxruntime",
    "sklearn",
    "copy",
    "read",
]
REFERENCE = "logitkit"
PEERS_FOR_RATIO = [
    "numpy",
    "scipy",
    "torch",
    "llama_cpp",
    "llama chain",
    "onnxruntime",
    "sklearn",
    "lk softmax",
    "lk float32",
    "copy",
    "read",
]
# Ratio columns derived from two timed columns: the first's median time minus the second's.
# "llama chain": llama.cpp's chain without the bench's NumPy refill of its token array
# (llama_sampler_sample refills it in C++).
DERIVED = {"llama chain": ("llama_cpp", "llama refill")}
# Which optional module a contender needs (for the "skipped" note).
NEEDS = {
    "scipy": "scipy",
    "torch": "torch",
    "onnxruntime": "onnxruntime",
    "sklearn": "sklearn",
    "llama_cpp": "llama_cpp",
    "llama refill": "llama_cpp",
}
# Columns that are not the case's work (a memory limit, a softmax of the same logits): timed for the
# ratios, never checked against logitkit's result.
UNCHECKED = ("copy", "read", "lk softmax", "llama refill")


# ----------------------------------------------------------------------------- contenders

# Each factory receives the case's data: "x" (input), "dtype", plus whatever the Work's make adds.
# It allocates its own output (so results can be compared afterwards) and returns the Runner.
# A factory sets data["_alloc"] to note that the contender had to allocate its result per call.


def _rows_out(x: np.ndarray) -> np.ndarray:
    return np.empty(x.shape[:-1], dtype=x.dtype)


def _note_alloc(d: dict, name: str) -> None:
    d.setdefault("_alloc", set()).add(name)


def lk_factory(fn_name: str, reduce: bool = False) -> Factory:
    def make(d: dict) -> Runner:
        x = d["x"]
        out = _rows_out(x) if reduce else np.empty_like(x)
        fn = getattr(lk, fn_name)
        return lambda: fn(x, out=out)

    return make


def lk_alloc_factory(fn_name: str) -> Factory:
    """The public function without out=: it allocates its result (logsumexp's small-call path
    applies only then)."""

    def make(d: dict) -> Runner:
        x = d["x"]
        _note_alloc(d, "logitkit")
        fn = getattr(lk, fn_name)
        return lambda: fn(x)

    return make


def lk_ufunc_factory(fn_name: str, reduce: bool = False) -> Factory:
    def make(d: dict) -> Runner:
        x = d["x"]
        out = _rows_out(x) if reduce else np.empty_like(x)
        uf = getattr(lk.ufuncs, fn_name)
        return lambda: uf(x, out=out)

    return make


def copy_factory(d: dict) -> Runner:
    x = d["x"]
    out = np.empty_like(x)
    return lambda: np.copyto(out, x)


def read_factory(d: dict) -> Runner:
    """A read-only pass over x, ``np.add.reduce(x, axis=-1)`` into a preallocated row of sums: the
    memory limit of a kernel that reads x once and writes one value per row (logsumexp, a loss)."""
    x = d["x"]
    out = _rows_out(x) if x.ndim > 1 else np.empty((), x.dtype)
    return lambda: np.add.reduce(x, axis=-1, out=out)


def threads_factory(inner: Factory, n: int = 2) -> Factory:
    """logitkit with n threads (logitkit.set_num_threads) for this contender only; the other
    columns run single-threaded. Only for the large shapes: small calls never split."""

    def make(d: dict) -> Runner:
        if d["x"].size < PER_CALL_BELOW:
            raise Skip("small call: never split across threads")
        f = inner(d)

        def run():
            lk.set_num_threads(n)
            try:
                return f()
            finally:
                lk.set_num_threads(1)

        conv = getattr(f, "check_value", None)
        return run if conv is None else _with_check(run, conv)

    return make


# NumPy, written the way a careful user writes it: shift by the row max, preallocated buffers.
def np_log_softmax(d: dict) -> Runner:
    x = d["x"]
    out, tmp = np.empty_like(x), np.empty_like(x)

    def run():
        m = x.max(axis=-1, keepdims=True)
        np.subtract(x, m, out=out)
        np.exp(out, out=tmp)
        s = tmp.sum(axis=-1, keepdims=True)
        np.log(s, out=s)
        np.subtract(out, s, out=out)
        return out

    return run


def np_softmax(d: dict) -> Runner:
    x = d["x"]
    out = np.empty_like(x)

    def run():
        m = x.max(axis=-1, keepdims=True)
        np.subtract(x, m, out=out)
        np.exp(out, out=out)
        np.divide(out, out.sum(axis=-1, keepdims=True), out=out)
        return out

    return run


def np_logsumexp(d: dict) -> Runner:
    x = d["x"]
    tmp = np.empty_like(x)
    out = _rows_out(x)

    def run():
        m = x.max(axis=-1, keepdims=True)
        np.subtract(x, m, out=tmp)
        np.exp(tmp, out=tmp)
        np.sum(tmp, axis=-1, out=out)
        np.log(out, out=out)
        np.add(out, m[..., 0], out=out)
        return out

    return run


def np_sigmoid(d: dict) -> Runner:
    x = d["x"]
    out = np.empty_like(x)

    def run():
        np.negative(x, out=out)
        np.exp(out, out=out)
        np.add(out, 1, out=out)
        np.reciprocal(out, out=out)
        return out

    return run


def np_log_sigmoid(d: dict) -> Runner:
    x = d["x"]
    out = np.empty_like(x)

    def run():
        np.negative(x, out=out)
        np.logaddexp(0, out, out=out)
        np.negative(out, out=out)
        return out

    return run


def np_softplus(d: dict) -> Runner:
    x = d["x"]
    out = np.empty_like(x)
    return lambda: np.logaddexp(0, x, out=out)


# SciPy: the row-wise functions allocate (no out=); expit/log_expit/softplus are ufuncs.
def scipy_rowwise(fn_name: str) -> Factory:
    def make(d: dict) -> Runner:
        sp = peer("scipy")
        fn = getattr(sp, fn_name, None)
        if fn is None:
            raise Skip(f"scipy.special.{fn_name} missing")
        _note_alloc(d, "scipy")
        x = d["x"]
        return lambda: fn(x, axis=-1)

    return make


def scipy_ufunc(fn_name: str) -> Factory:
    def make(d: dict) -> Runner:
        sp = peer("scipy")
        fn = getattr(sp, fn_name, None)
        if fn is None:
            raise Skip(f"scipy.special.{fn_name} missing")
        x = d["x"]
        out = np.empty_like(x)
        return lambda: fn(x, out=out)

    return make


# PyTorch on the same memory (torch.from_numpy shares it); out= where the op takes one.
def torch_factory(op: str) -> Factory:
    def make(d: dict) -> Runner:
        torch = peer("torch")
        x = d["x"]
        xt = torch.from_numpy(x)
        reduce = op == "logsumexp"
        out = _rows_out(x) if reduce else np.empty_like(x)
        ot = torch.from_numpy(out)
        F = torch.nn.functional
        nn = torch._C._nn
        with_out: dict[str, Runner] = {
            "log_softmax": lambda: torch.log_softmax(xt, -1, out=ot),
            "softmax": lambda: torch.softmax(xt, -1, out=ot),
            "logsumexp": lambda: torch.logsumexp(xt, -1, out=ot),
            "sigmoid": lambda: torch.sigmoid(xt, out=ot),
            "log_sigmoid": lambda: nn.log_sigmoid(xt, out=ot),
            "softplus": lambda: nn.softplus(xt, 1, 20, out=ot),
        }
        allocating: dict[str, Runner] = {
            "log_softmax": lambda: F.log_softmax(xt, -1),
            "softmax": lambda: F.softmax(xt, -1),
            "logsumexp": lambda: torch.logsumexp(xt, -1),
            "sigmoid": lambda: torch.sigmoid(xt),
            "log_sigmoid": lambda: F.logsigmoid(xt),
            "softplus": lambda: F.softplus(xt),
        }
        fn = with_out[op]
        try:
            fn()
            if ot.data_ptr() != out.ctypes.data:  # torch reallocated: out= did not write in place
                raise RuntimeError("out= reallocated")
        except Exception:  # noqa: BLE001 - no out= overload in this torch version
            fn = allocating[op]
            _note_alloc(d, "torch")
        return fn

    return make


# ONNX Runtime: one node, dynamic shape, one thread, IOBinding onto preallocated NumPy buffers.
_ort_sessions: dict[tuple[str, str, int], Any] = {}
_ORT_NODES = {  # op -> (ONNX op type, attributes, reduces the last axis)
    "softmax": ("Softmax", {"axis": -1}, False),
    "log_softmax": ("LogSoftmax", {"axis": -1}, False),
    "logsumexp": ("ReduceLogSumExp", {"axes": [-1], "keepdims": 0}, True),
    "sigmoid": ("Sigmoid", {}, False),
    "softplus": ("Softplus", {}, False),
}


def _ort_session(op: str, dtype: np.dtype, ndim: int) -> Any:
    key = (op, dtype.name, ndim)
    if key in _ort_sessions:
        return _ort_sessions[key]
    ort = peer("onnxruntime")
    onnx = peer("onnx")
    from onnx import TensorProto, helper

    elem = {"float32": TensorProto.FLOAT, "float64": TensorProto.DOUBLE}[dtype.name]
    op_type, attrs, reduce = _ORT_NODES[op]
    dims = [f"d{i}" for i in range(ndim)]
    out_dims = dims[:-1] if reduce else dims
    graph = helper.make_graph(
        [helper.make_node(op_type, ["x"], ["y"], **attrs)],
        f"logitkit_bench_{op}",
        [helper.make_tensor_value_info("x", elem, dims)],
        [helper.make_tensor_value_info("y", elem, out_dims)],
    )
    # Opset 17: the last one where ReduceLogSumExp takes its axes as an attribute; IR 8 goes with it.
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    _ort_sessions[key] = sess
    return sess


def ort_factory(op: str) -> Factory:
    def make(d: dict) -> Runner:
        if op not in _ORT_NODES:
            raise Skip(f"no ONNX op for {op}")
        x = d["x"]
        try:
            sess = _ort_session(op, x.dtype, x.ndim)
        except Skip:
            raise
        except Exception as e:  # noqa: BLE001 - op or dtype not supported by this version
            raise Skip(f"onnxruntime cannot build {op} for {x.dtype}: {e}") from None
        out = _rows_out(x) if _ORT_NODES[op][2] else np.empty_like(x)
        io = sess.io_binding()
        io.bind_input("x", "cpu", 0, x.dtype, list(x.shape), x.ctypes.data)
        io.bind_output("y", "cpu", 0, out.dtype, list(out.shape), out.ctypes.data)

        def run():
            sess.run_with_iobinding(io)
            return out

        try:
            run()
        except Exception as e:  # noqa: BLE001 - no kernel for this dtype
            raise Skip(f"onnxruntime {op} for {x.dtype}: {e}") from None
        return run

    return make


# Losses. Every contender's Runner returns its raw result (a tensor, a tuple of arrays, ...); the
# result check goes through a ``check_value`` attribute on the Runner that turns it into the same
# quantity for everyone: ``(mean loss as float64, gradient of the mean loss or None)``.


def _with_check(run: Runner, check_value: Callable[[Any], Any]) -> Runner:
    run.check_value = check_value  # type: ignore[attr-defined]
    return run


def _loss_value(loss: Any, grad: Any = None, grad_scale: float = 1.0) -> tuple:
    loss = float(loss.detach() if hasattr(loss, "detach") else loss)
    if grad is None:
        return (loss, None)
    g = _as_numpy(grad).astype(np.float64)
    return (loss, g * grad_scale if grad_scale != 1.0 else g)


def ce_make(rng: np.random.Generator, shape: tuple[int, ...], dtype: np.dtype) -> dict:
    d = make_logits(rng, shape, dtype)
    d["labels"] = rng.integers(0, shape[-1], shape[:-1])  # int64: what torch wants
    d["labels_f"] = d["labels"].astype(dtype)  # scikit-learn takes the labels as floats
    return d


def ce_confident_make(rng: np.random.Generator, shape: tuple[int, ...], dtype: np.dtype) -> dict:
    """A trained classifier's rows: confident_make's logits (one class near 95 % of the mass) with
    the label on that class."""
    d = confident_make(rng, shape, dtype)
    d["labels"] = np.argmax(d["x"], axis=-1)
    d["labels_f"] = d["labels"].astype(dtype)
    return d


def bce_make(rng: np.random.Generator, shape: tuple[int, ...], dtype: np.dtype) -> dict:
    d = make_logits(rng, shape, dtype)
    d["targets"] = (rng.random(shape) < 0.5).astype(dtype)  # multi-label targets in {0, 1}
    return d


def lk_ce(grad: bool) -> Factory:
    def make(d: dict) -> Runner:
        x, t = d["x"], d["labels"]
        if not grad:
            return _with_check(lambda: lk.cross_entropy(x, t), _loss_value)
        g = np.empty_like(x)
        return _with_check(
            lambda: lk.cross_entropy_with_grad(x, t, out=g), lambda r: _loss_value(*r)
        )

    return make


def lk_bce(grad: bool) -> Factory:
    def make(d: dict) -> Runner:
        x, y = d["x"], d["targets"]
        if not grad:
            return _with_check(lambda: lk.binary_cross_entropy_with_logits(x, y), _loss_value)
        g = np.empty_like(x)
        return _with_check(
            lambda: lk.binary_cross_entropy_with_logits_with_grad(x, y, out=g),
            lambda r: _loss_value(*r),
        )

    return make


def torch_loss(op: str, grad: bool) -> Factory:
    """torch.nn.functional's loss, mean reduction. With the gradient: autograd forward + backward
    on a leaf tensor sharing x's memory, x.grad set to None before each call (backward allocates the
    gradient: marked ``*``). Loss only: the forward under torch.no_grad()."""

    def make(d: dict) -> Runner:
        torch = peer("torch")
        F = torch.nn.functional
        fn = {"cross_entropy": F.cross_entropy, "bce": F.binary_cross_entropy_with_logits}[op]
        target = torch.from_numpy(d["labels"] if op == "cross_entropy" else d["targets"])
        if not grad:
            xt = torch.from_numpy(d["x"])

            def run_fwd():
                with torch.no_grad():
                    return fn(xt, target)

            return _with_check(run_fwd, _loss_value)
        return _torch_backward(d, lambda xg: fn(xg, target))

    return make


# --- entropy and KL divergence (issue 18)


def kl_make(rng: np.random.Generator, shape: tuple[int, ...], dtype: np.dtype) -> dict:
    """A teacher's logits (d["t"]) and a student's (d["x"], the array the gradient is taken for):
    the student is the teacher plus noise of a third of its spread, as in distillation."""
    d = make_logits(rng, shape, dtype)
    d["t"] = np.ascontiguousarray(d["x"] + rng.standard_normal(shape) * 1.0, dtype=dtype)
    return d


DISTILL_T, DISTILL_ALPHA = 4.0, 0.7


def distill_make(rng: np.random.Generator, shape: tuple[int, ...], dtype: np.dtype) -> dict:
    """kl_make's teacher and student, and a label per row."""
    d = kl_make(rng, shape, dtype)
    d["labels"] = rng.integers(0, shape[-1], shape[0])
    return d


def lk_distill_grad(d: dict) -> Runner:
    s, t, y = d["x"], d["t"], d["labels"]
    return _with_check(
        lambda: lk.distillation_loss_with_grad(s, t, y, temperature=DISTILL_T, alpha=DISTILL_ALPHA),
        lambda r: _loss_value(*r),
    )


def _torch_backward(d: dict, loss_of: Callable[[Any], Any]) -> Runner:
    """A PyTorch loss of the logits d["x"] (requiring a gradient), forward and backward: run()
    returns the loss and its gradient with respect to them."""
    torch = peer("torch")
    xg = torch.from_numpy(d["x"]).requires_grad_(True)

    def run():
        xg.grad = None
        loss = loss_of(xg)
        loss.backward()
        return loss, xg.grad

    _note_alloc(d, "torch")
    return _with_check(run, lambda r: _loss_value(*r))


def torch_distill_grad(d: dict) -> Runner:
    """alpha·T²·F.kl_div(log_softmax(s/T), log_softmax(t/T), log_target=True, 'batchmean') +
    (1 - alpha)·F.cross_entropy(s, y): forward and backward with respect to s."""
    torch = peer("torch")
    F = torch.nn.functional
    yt = torch.from_numpy(d["labels"])
    T, a = DISTILL_T, DISTILL_ALPHA

    def loss_of(sg, tt):
        kl = F.kl_div(
            F.log_softmax(sg / T, dim=-1),
            F.log_softmax(tt / T, dim=-1),
            log_target=True,
            reduction="batchmean",
        )
        return a * T * T * kl + (1 - a) * F.cross_entropy(sg, yt)

    tt = peer("torch").from_numpy(d["t"])
    return _torch_backward(d, lambda sg: loss_of(sg, tt))


def lk_entropy(d: dict) -> Runner:
    x = d["x"]
    return lambda: lk.entropy(x)


def np_entropy(d: dict) -> Runner:
    """-Σ p·log p from the max-shifted log-softmax, preallocated buffers."""
    x = d["x"]
    lp, p, out = np.empty_like(x), np.empty_like(x), _rows_out(x)
    lse = _rows_out(x)[:, None]

    def run():
        np.max(x, axis=-1, keepdims=True, out=lse)
        np.subtract(x, lse, out=lp)
        np.exp(lp, out=p)
        np.log(np.add.reduce(p, axis=-1, keepdims=True), out=lse)
        np.subtract(lp, lse, out=lp)
        np.exp(lp, out=p)
        np.multiply(p, lp, out=p)
        np.add.reduce(p, axis=-1, out=out)
        return np.negative(out, out=out)

    return run


def torch_entropy(d: dict) -> Runner:
    torch = peer("torch")
    F = torch.nn.functional
    xt = torch.from_numpy(d["x"])

    def run():
        with torch.no_grad():
            lp = F.log_softmax(xt, dim=-1)
            return -(lp.exp() * lp).sum(dim=-1)

    _note_alloc(d, "torch")
    return run


def lk_entropy_grad(d: dict) -> Runner:
    x = d["x"]
    return _with_check(lambda: lk.entropy_with_grad(x, reduction="mean"), lambda r: _loss_value(*r))


def torch_entropy_grad(d: dict) -> Runner:
    """The mean over rows of -Σ exp(lp)·lp, lp = log_softmax(x): forward and backward."""
    torch = peer("torch")
    F = torch.nn.functional
    xg = torch.from_numpy(d["x"]).requires_grad_(True)

    def run():
        xg.grad = None
        lp = F.log_softmax(xg, dim=-1)
        h = -(lp.exp() * lp).sum(dim=-1).mean()
        h.backward()
        return h, xg.grad

    _note_alloc(d, "torch")
    return _with_check(run, lambda r: _loss_value(*r))


def lk_binary_entropy(d: dict) -> Runner:
    x = d["x"]
    return lambda: lk.binary_entropy(x)


def torch_binary_entropy(d: dict) -> Runner:
    """H(sigmoid(x)) per element as BCE with logits against its own sigmoid."""
    torch = peer("torch")
    F = torch.nn.functional
    xt = torch.from_numpy(d["x"])

    def run():
        with torch.no_grad():
            return F.binary_cross_entropy_with_logits(xt, torch.sigmoid(xt), reduction="none")

    _note_alloc(d, "torch")
    return run


def lk_binary_entropy_grad(d: dict) -> Runner:
    x = d["x"]
    return _with_check(
        lambda: lk.binary_entropy_with_grad(x, reduction="mean"), lambda r: _loss_value(*r)
    )


def torch_binary_entropy_grad(d: dict) -> Runner:
    """The mean of H(sigmoid(x)) as BCE with logits against its own sigmoid: forward and backward
    (autograd through the target too, which dH/dx needs)."""
    torch = peer("torch")
    F = torch.nn.functional
    xg = torch.from_numpy(d["x"]).requires_grad_(True)

    def run():
        xg.grad = None
        h = F.binary_cross_entropy_with_logits(xg, torch.sigmoid(xg), reduction="mean")
        h.backward()
        return h, xg.grad

    _note_alloc(d, "torch")
    return _with_check(run, lambda r: _loss_value(*r))


def lk_binary_kl_grad(d: dict) -> Runner:
    s, t = d["x"], d["t"]
    return _with_check(
        lambda: lk.binary_kl_divergence_with_grad(t, s, reduction="mean"),
        lambda r: _loss_value(*r),
    )


def torch_binary_kl_grad(d: dict) -> Runner:
    """The mean over labels of KL(Bernoulli(sigmoid(t)) || Bernoulli(sigmoid(s))) from log-sigmoids
    (-log sigmoid(-z) for the other class): forward and backward with respect to the student's
    logits s."""
    torch = peer("torch")
    F = torch.nn.functional

    def loss_of(sg, tt):
        p = torch.sigmoid(tt)
        kl = p * (F.logsigmoid(tt) - F.logsigmoid(sg)) + (1 - p) * (
            F.logsigmoid(-tt) - F.logsigmoid(-sg)
        )
        return kl.mean()

    tt = peer("torch").from_numpy(d["t"])
    return _torch_backward(d, lambda sg: loss_of(sg, tt))


def lk_kl_grad(d: dict) -> Runner:
    s, t = d["x"], d["t"]
    return _with_check(lambda: lk.kl_divergence_with_grad(t, s), lambda r: _loss_value(*r))


def torch_kl_grad(d: dict) -> Runner:
    """F.kl_div(log_softmax(s), log_softmax(t), log_target=True, reduction='batchmean'): forward
    and backward with respect to the student's logits s."""
    F = peer("torch").nn.functional

    def loss_of(sg, tt):
        return F.kl_div(
            F.log_softmax(sg, dim=-1),
            F.log_softmax(tt, dim=-1),
            log_target=True,
            reduction="batchmean",
        )

    tt = peer("torch").from_numpy(d["t"])
    return _torch_backward(d, lambda sg: loss_of(sg, tt))


def lk_js_grad(d: dict) -> Runner:
    s, t = d["x"], d["t"]
    return _with_check(
        lambda: lk.js_divergence_with_grad(t, s, reduction="mean"), lambda r: _loss_value(*r)
    )


def torch_js_grad(d: dict) -> Runner:
    """JS(teacher, student) composed from log_softmax: M = (P + Q)/2, ½ KL(P ‖ M) + ½ KL(Q ‖ M)
    through F.kl_div(log M, log P, log_target=True, reduction='batchmean'); forward and backward
    with respect to the student's logits s."""
    torch = peer("torch")
    F = torch.nn.functional

    def loss_of(sg, tt):
        lp, lq = F.log_softmax(tt, dim=-1), F.log_softmax(sg, dim=-1)
        lm = torch.log((lp.exp() + lq.exp()) * 0.5)
        return 0.5 * (
            F.kl_div(lm, lp, log_target=True, reduction="batchmean")
            + F.kl_div(lm, lq, log_target=True, reduction="batchmean")
        )

    tt = peer("torch").from_numpy(d["t"])
    return _torch_backward(d, lambda sg: loss_of(sg, tt))


def sklearn_loss(op: str, grad: bool) -> Factory:
    """scikit-learn's private loss module (what its GLMs and gradient boosting use), n_threads=1,
    preallocated loss_out/gradient_out. It returns the per-sample loss and per-sample gradient
    (no mean): for the check they are reduced to torch's mean convention; for the timing they are
    not (the mean is a small extra pass for logitkit and torch, which scikit-learn skips).
    cross_entropy: HalfMultinomialLoss (its loss is the full cross-entropy, log-sum-exp minus the
    target logit; y_true as floats). bce: HalfBinomialLoss on the flattened arrays (elementwise
    log(1 + exp(x)) - y·x, gradient sigmoid(x) - y)."""

    def make(d: dict) -> Runner:
        sk = peer("sklearn")
        x = d["x"]
        if op == "cross_entropy":
            loss = sk.HalfMultinomialLoss(n_classes=x.shape[-1])
            xr, y = x, d["labels_f"]
            lo = np.empty(x.shape[0], dtype=x.dtype)
            n_mean = x.shape[0]  # torch's mean: over the samples
        else:
            loss = sk.HalfBinomialLoss()
            xr, y = x.reshape(-1), d["targets"].reshape(-1)
            lo = np.empty(xr.size, dtype=x.dtype)
            n_mean = x.size  # torch's mean: over the elements
        if not grad:
            return _with_check(
                lambda: loss.loss(y_true=y, raw_prediction=xr, loss_out=lo),
                lambda r: (float(np.mean(r, dtype=np.float64)), None),
            )
        go = np.empty_like(xr)

        def check(r):
            lo_, go_ = r
            return (float(np.mean(lo_, dtype=np.float64)), go_.reshape(x.shape) / n_mean)

        return _with_check(
            lambda: loss.loss_gradient(y_true=y, raw_prediction=xr, loss_out=lo, gradient_out=go),
            check,
        )

    return make


def compare_loss(ref: tuple, r: tuple) -> str | None:
    """Loss within 1e-5 relative of logitkit's; gradient within 1e-3 relative (plus 1e-6 of the
    largest gradient entry, for the entries near 0)."""
    (lref, gref), (l, g) = ref, r
    if not math.isclose(l, lref, rel_tol=1e-5, abs_tol=1e-12):
        return f"loss {l:.8g} vs {lref:.8g} (rel diff {abs(l - lref) / max(abs(lref), 1e-30):.2g})"
    if gref is not None and g is not None:
        if g.shape != gref.shape:
            return f"gradient shape {g.shape} vs {gref.shape}"
        scale = float(np.max(np.abs(gref))) if gref.size else 0.0
        if not np.allclose(g, gref, rtol=1e-3, atol=1e-6 * scale, equal_nan=True):
            err = float(np.nanmax(np.abs(g - gref)))
            return f"gradient max abs diff {err:.3g} (largest entry {scale:.3g})"
    return None


# ----------------------------------------------------------------------------- top_k

# The k most likely classes per row. logitkit: multiclass.top_k (indices and their softmax
# probabilities); torch.topk (values and indices of the logits); NumPy: np.argpartition of -x,
# then a sort of the k winners. Checked on the indices.


def lk_top_k(k: int) -> Factory:
    def make(d: dict) -> Runner:
        x = d["x"]
        _note_alloc(d, "logitkit")
        return _with_check(lambda: lk.multiclass.top_k(x, k), lambda r: np.asarray(r[0]))

    return make


def torch_top_k(k: int) -> Factory:
    def make(d: dict) -> Runner:
        torch = peer("torch")
        xt = torch.from_numpy(d["x"])
        _note_alloc(d, "torch")
        return _with_check(lambda: torch.topk(xt, k, dim=-1), lambda r: r[1].numpy())

    return make


def np_top_k(k: int) -> Factory:
    def make(d: dict) -> Runner:
        x = d["x"]
        _note_alloc(d, "numpy")

        def run():
            idx = np.argpartition(-x, k - 1, axis=-1)[..., :k]
            order = np.argsort(-np.take_along_axis(x, idx, axis=-1), axis=-1, kind="stable")
            return np.take_along_axis(idx, order, axis=-1)

        return run

    return make


def compare_top_k(ref: Any, r: Any) -> str | None:
    """The same indices (continuous random logits: no ties)."""
    if np.shape(r) != np.shape(ref):
        return f"shape {np.shape(r)} vs {np.shape(ref)}"
    bad = int(np.count_nonzero(np.asarray(r) != np.asarray(ref)))
    return f"{bad} indices differ" if bad else None


def _top_k_work(k: int) -> Work:
    return Work(
        f"top_k_k{k}",
        {
            "logitkit": lk_top_k(k),
            "lk 2 threads": threads_factory(lk_top_k(k)),
            "torch": torch_top_k(k),
            "numpy": np_top_k(k),
        },
        compare=compare_top_k,
    )


# ----------------------------------------------------------------------------- works and cases


def make_logits(rng: np.random.Generator, shape: tuple[int, ...], dtype: np.dtype) -> dict:
    """Logits with a trained network's spread: standard normal x 3."""
    x = rng.standard_normal(shape, dtype=np.float64) * 3.0
    return {"x": np.ascontiguousarray(x, dtype=dtype)}


def narrow_make(name: str) -> Callable[[np.random.Generator, tuple[int, ...], np.dtype], dict]:
    """make_logits's logits stored as float16 or bfloat16 (``x``), and the same values as float32
    (``x32``: logitkit's own float32 time on them is the ratio's reference)."""

    def make(rng: np.random.Generator, shape: tuple[int, ...], dtype: np.dtype) -> dict:
        if name == "bfloat16":
            import ml_dtypes

            narrow = np.dtype(ml_dtypes.bfloat16)
        else:
            narrow = np.dtype(np.float16)
        x = make_logits(rng, shape, np.dtype(np.float32))["x"].astype(narrow)
        return {"x": x, "x32": x.astype(np.float32)}

    return make


def lk_float32_factory(fn_name: str) -> Factory:
    """logitkit on the float32 copy of a narrow case's logits (``x32``)."""

    def make(d: dict) -> Runner:
        x = d["x32"]
        out = np.empty_like(x)
        fn = getattr(lk, fn_name)
        return lambda: fn(x, out=out)

    return make


def confident_make(rng: np.random.Generator, shape: tuple[int, ...], dtype: np.dtype) -> dict:
    """A confident classifier's logits: standard normal x 3, then in each row one entry (a random
    class) set to the logsumexp of the others plus 3, so that it holds about 95 % of the row's
    probability (a "top-heavy" row: its log-probability is -log1p of the others' mass)."""
    x = rng.standard_normal(shape, dtype=np.float64) * 3.0
    rows = x.reshape(-1, shape[-1])
    top = rng.integers(0, shape[-1], rows.shape[0])
    idx = np.arange(rows.shape[0])
    rows[idx, top] = -np.inf
    m = rows.max(axis=-1)
    rows[idx, top] = m + np.log(np.exp(rows - m[:, None]).sum(axis=-1)) + 3.0
    return {"x": np.ascontiguousarray(x, dtype=dtype)}


def masked_make(rng: np.random.Generator, shape: tuple[int, ...], dtype: np.dtype) -> dict:
    """Masked logits: standard normal x 3, then in each row one entry (a random class) set to -inf,
    as attention masks and invalid-action masks do (its probability is exactly 0)."""
    x = rng.standard_normal(shape, dtype=np.float64) * 3.0
    rows = x.reshape(-1, shape[-1])
    rows[np.arange(rows.shape[0]), rng.integers(0, shape[-1], rows.shape[0])] = -np.inf
    return {"x": np.ascontiguousarray(x, dtype=dtype)}


@dataclass
class Work:
    name: str
    contenders: dict[str, Factory]
    make: Callable[[np.random.Generator, tuple[int, ...], np.dtype], dict] = make_logits
    # Elements a call processes (the ns/element denominator).
    elements: Callable[[tuple[int, ...]], int] = field(default=lambda s: math.prod(s))
    # Tolerance of the result check against logitkit's: (rtol, atol) per dtype.
    tol: dict[str, tuple[float, float]] = field(
        default_factory=lambda: {"float32": (2e-3, 1e-5), "float64": (1e-9, 1e-12)}
    )
    # A custom result check (ref, result) -> None when they agree, else what differs; for results
    # that are not one array (the losses: (loss, gradient)). Replaces the rtol/atol check.
    compare: Callable[[Any, Any], str | None] | None = None
    # A check of each contender's result against the case's data (data, result) -> None or what
    # is wrong, for results that differ legitimately between contenders (random draws): replaces
    # the comparison with logitkit's, and runs on check_calls calls of every contender.
    check: Callable[[dict, Any], str | None] | None = None
    check_calls: int = 1
    # µs/call (True) or ns/element (False); None: by size (PER_CALL_BELOW).
    per_call: bool | None = None


def _unary_work(name: str, np_fn: Factory, scipy_name: str | None) -> Work:
    c: dict[str, Factory] = {
        "logitkit": lk_factory(name),
        "lk.ufunc": lk_ufunc_factory(name),
        "lk 2 threads": threads_factory(lk_factory(name)),
        "numpy": np_fn,
        "torch": torch_factory(name),
        "copy": copy_factory,
    }
    if scipy_name:
        c["scipy"] = scipy_ufunc(scipy_name)
    if name in _ORT_NODES:
        c["onnxruntime"] = ort_factory(name)
    return Work(name, c)


def _row_work(name: str, np_fn: Factory, reduce: bool = False) -> Work:
    return Work(
        name,
        {
            "logitkit": lk_factory(name, reduce),
            "lk.ufunc": lk_ufunc_factory(name, reduce),
            "lk 2 threads": threads_factory(lk_factory(name, reduce)),
            "numpy": np_fn,
            "scipy": scipy_rowwise(name),
            "torch": torch_factory(name),
            "onnxruntime": ort_factory(name),
            "copy": copy_factory,
            **({"read": read_factory} if reduce else {}),
        },
    )


def _confident_work(name: str, np_fn: Factory, reduce: bool = False) -> Work:
    """The row work ``name`` on confident logits (confident_make), named ``<name>_confident``."""
    w = _row_work(name, np_fn, reduce)
    return Work(f"{name}_confident", w.contenders, make=confident_make)


def _masked_work(name: str, np_fn: Factory, reduce: bool = False) -> Work:
    """The row work ``name`` on masked logits (masked_make), named ``<name>_masked``."""
    w = _row_work(name, np_fn, reduce)
    return Work(f"{name}_masked", w.contenders, make=masked_make)


# ----------------------------------------------------------------------------- sampling

# One token per row from the filtered distribution (issue 17): temperature, then top-k, top-p and
# min-p, renormalise, draw. Contenders: logitkit.multiclass.sample; a PyTorch chain written here
# (Hugging Face transformers' logits warpers for one parameter set, a vLLM-style sorted chain for
# per-row parameters); llama.cpp's sampler chain through llama-cpp-python's ctypes bindings (no
# model). Each library draws from its own generator, so tokens are not compared with logitkit's:
# every contender's tokens, over SAMPLE_CHECK_CALLS calls, must lie in the kept set of a float64
# reference computed here from the definitions (docs/semantics.md), and its logprobs (where the
# case asks for them) must match the reference's.

SAMPLE_SEED = 20261204
SAMPLE_CHECK_CALLS = 8
# The check widens the reference's kept set by this much (top_p + slack, min_p * (1 - slack)), so
# that a float32 cumsum's rounding at the boundary (torch, llama.cpp) is not reported as a wrong
# result: the bench asks "is this a draw from the right distribution", the test suite asks for the
# exact set.
SAMPLE_SLACK = 1e-4

# (temperature, top_k, top_p, min_p) of one request; None: that filter off; temperature 0: greedy.
Request = tuple[float, int | None, float | None, float | None]

# The requests of a serving batch, cycled over the rows of sample_mixed.
SAMPLE_MIX: list[Request] = [
    (0.7, None, 0.9, None),
    (1.0, 50, 0.95, None),
    (0.8, 40, 0.95, 0.05),
    (0.0, None, None, None),
    (1.0, None, None, None),
    (1.2, None, None, 0.1),
    (0.6, 20, None, None),
    (0.9, None, 0.8, 0.02),
]


@dataclass(frozen=True)
class SampleSpec:
    """A sample case's parameters: one request for every row, or SAMPLE_MIX cycled (``mixed``)."""

    request: Request = (1.0, None, None, None)
    logprobs: int | None = None
    mixed: bool = False


def sample_make(
    spec: SampleSpec,
) -> Callable[[np.random.Generator, tuple[int, ...], np.dtype], dict]:
    def make(rng: np.random.Generator, shape: tuple[int, ...], dtype: np.dtype) -> dict:
        # The kept set's size decides how much work a sampler does (llama.cpp's top-p sorts 256
        # entries, or the whole row when the nucleus is larger), so a case's logits come from its
        # own seed, whatever ran before it; a note states the kept sets' sizes.
        del rng
        d = make_logits(np.random.default_rng([SAMPLE_SEED, *shape]), shape, dtype)
        rows = math.prod(shape[:-1])
        if spec.mixed:
            reqs = [SAMPLE_MIX[i % len(SAMPLE_MIX)] for i in range(rows)]
        else:
            reqs = [spec.request] * rows
        d["spec"] = spec
        d["requests"] = reqs
        d["sample_kw"] = _lk_sample_kw(spec, reqs)
        x64 = d["x"].reshape(rows, shape[-1]).astype(np.float64)
        d["kept"] = kept_reference(x64, reqs, SAMPLE_SLACK)
        sizes = kept_reference(x64, reqs).sum(axis=-1)
        if rows == 1:
            kept_note = f"the kept set holds {sizes[0]} of {shape[-1]} tokens"
        else:
            kept_note = (
                f"the kept sets hold {sizes.min()} to {sizes.max()} of {shape[-1]} tokens"
                f" (median {np.median(sizes):g})"
            )
        d["_after"] = [lambda: kept_note]
        if spec.logprobs is not None:
            t = np.array([r[0] for r in reqs])[:, None]
            z = x64 / t
            m = z.max(axis=-1, keepdims=True)
            d["ref_logprobs"] = z - m - np.log(np.exp(z - m).sum(axis=-1, keepdims=True))
        return d

    return make


def _lk_sample_kw(spec: SampleSpec, reqs: list[Request]) -> dict:
    """multiclass.sample's keywords: scalars, or one value per row (0, 1.0 and 0.0: no top-k,
    top-p and min-p filter on that row)."""
    if not spec.mixed:
        t, k, p, mp = spec.request
        kw: dict[str, Any] = {"temperature": t}
        for key, v in (("top_k", k), ("top_p", p), ("min_p", mp)):
            if v is not None:
                kw[key] = v
        return kw
    return {
        "temperature": np.array([r[0] for r in reqs], dtype=np.float64),
        "top_k": np.array([r[1] or 0 for r in reqs], dtype=np.intp),
        "top_p": np.array([1.0 if r[2] is None else r[2] for r in reqs], dtype=np.float64),
        "min_p": np.array([r[3] or 0.0 for r in reqs], dtype=np.float64),
    }


def kept_reference(x64: np.ndarray, reqs: list[Request], slack: float = 0.0) -> np.ndarray:
    """The kept set of each row of x64 (rows, V) as a boolean mask, in float64 from the definitions:
    z = x / temperature; top-k keeps the k largest (ties: the lower index, a stable sort); top-p
    keeps the smallest prefix of the probability-sorted, renormalised top-k set whose cumulative sum
    reaches p (the token that crosses p is kept); min-p keeps p_i >= min_p * p_max; a greedy row
    (temperature 0) keeps its argmax. ``slack`` widens the set: top_p + slack and
    min_p * (1 - slack)."""
    kept = np.zeros(x64.shape, dtype=bool)
    for i, (t, k, p, mp) in enumerate(reqs):
        if t == 0:
            kept[i, np.argmax(x64[i])] = True
            continue
        z = x64[i] / t
        order = np.argsort(-z, kind="stable")
        n = len(order) if not k else min(k, len(order))
        q = np.exp(z[order[:n]] - z[order[0]])
        q /= q.sum()
        if p is not None and p < 1:
            c = np.cumsum(q)
            n = min(n, int(np.searchsorted(c, min(p + slack, 1.0))) + 1)
        if mp:
            n = min(n, int(np.count_nonzero(q[:n] >= mp * (1.0 - slack) * q[0])))
        kept[i, order[:n]] = True
    return kept


def _sample_value(tokens: Any, logprob: Any = None, top_tokens: Any = None, top_lp: Any = None):
    """A contender's result as NumPy arrays: tokens (rows,), and with logprobs the chosen token's
    log-probability (rows,), the top tokens and their log-probabilities (rows, n)."""
    tok = _as_numpy(tokens).reshape(-1)
    if logprob is None:
        return (tok, None, None, None)
    rows = tok.shape[0]
    return (
        tok,
        _as_numpy(logprob).astype(np.float64).reshape(rows),
        _as_numpy(top_tokens).reshape(rows, -1),
        _as_numpy(top_lp).astype(np.float64).reshape(rows, -1),
    )


def check_sample(d: dict, value: tuple) -> str | None:
    """None when every token lies in its row's kept set (and, with logprobs, the log-probabilities
    and the top tokens match the float64 reference's); else what is wrong."""
    tok, lp, top_tok, top_lp = value
    kept = d["kept"]
    rows, V = kept.shape
    if tok.shape != (rows,) or tok.dtype.kind not in "iu":
        return f"tokens of shape {tok.shape} and dtype {tok.dtype}, expected ({rows},) integers"
    inside = (tok >= 0) & (tok < V)
    inside[inside] = kept[np.flatnonzero(inside), tok[inside]]
    if not inside.all():
        r = int(np.flatnonzero(~inside)[0])
        t = int(tok[r])
        if not 0 <= t < V:
            return f"row {r}: token {t} outside [0, {V})"
        x = d["x"].reshape(rows, V)[r]
        rank = int(np.count_nonzero(x > x[t]))
        return (
            f"row {r}: token {t} (logit rank {rank}) outside the kept set of the float64"
            f" reference ({int(kept[r].sum())} tokens)"
        )
    n = d["spec"].logprobs
    if n is None:
        return None
    if lp is None:
        return "no logprobs returned"
    ref = d["ref_logprobs"]
    want_lp = ref[np.arange(rows), tok]
    if not np.allclose(lp, want_lp, rtol=1e-5, atol=1e-4):
        err = float(np.max(np.abs(lp - want_lp)))
        return f"chosen tokens' logprobs differ from the reference by up to {err:.3g}"
    want_top = np.argsort(-ref, axis=-1, kind="stable")[:, :n]
    if top_tok.shape != want_top.shape or (top_tok != want_top).any():
        return f"top tokens {top_tok[0].tolist()} vs the reference's {want_top[0].tolist()} (row 0)"
    want_top_lp = np.take_along_axis(ref, want_top, axis=-1)
    if not np.allclose(top_lp, want_top_lp, rtol=1e-5, atol=1e-4):
        err = float(np.max(np.abs(top_lp - want_top_lp)))
        return f"top logprobs differ from the reference by up to {err:.3g}"
    return None


def lk_sample(spec: SampleSpec) -> Factory:
    def make(d: dict) -> Runner:
        fn = getattr(lk.multiclass, "sample", None)
        if fn is None:
            raise Skip("this logitkit has no multiclass.sample")
        x, kw = d["x"], d["sample_kw"]
        gen = np.random.default_rng(SAMPLE_SEED)
        _note_alloc(d, "logitkit")
        if spec.logprobs is None:
            return _with_check(lambda: fn(x, rng=gen, **kw), _sample_value)
        n = spec.logprobs
        return _with_check(lambda: fn(x, rng=gen, logprobs=n, **kw), lambda r: _sample_value(*r))

    return make


def torch_hf_chain(torch: Any, x: Any, req: Request, n_logprobs: int | None, gen: Any) -> tuple:
    """transformers' logits warpers in generate()'s order (TemperatureLogitsWarper,
    TopKLogitsWarper, TopPLogitsWarper, MinPLogitsWarper), then softmax and torch.multinomial.
    MinPLogitsWarper also argsorts the row to keep min_tokens_to_keep tokens; with one token to keep
    the argmax always passes, so that sort is left out here (the column is a lower bound on
    transformers' time)."""
    t, k, p, mp = req
    if t == 0:  # generate() switches to greedy search
        tokens = x.argmax(dim=-1)
        return (tokens,)
    scores = x / t
    out: tuple = ()
    if n_logprobs is not None:
        logp = torch.log_softmax(scores, dim=-1)
        top = torch.topk(logp, n_logprobs, dim=-1)
    if k:
        kth = torch.topk(scores, min(k, scores.shape[-1]), dim=-1)[0][..., -1, None]
        scores = scores.masked_fill(scores < kth, -math.inf)
    if p is not None and p < 1:
        sorted_logits, sorted_idx = torch.sort(scores, descending=False, dim=-1)
        cum = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
        sorted_remove = cum <= (1 - p)
        sorted_remove[..., -1:] = False
        remove = sorted_remove.scatter(1, sorted_idx, sorted_remove)
        scores = scores.masked_fill(remove, -math.inf)
    if mp:
        probs = torch.softmax(scores, dim=-1)
        remove = probs < mp * probs.amax(dim=-1, keepdim=True)
        scores = scores.masked_fill(remove, -math.inf)
    probs = torch.softmax(scores, dim=-1)
    tokens = torch.multinomial(probs, 1, generator=gen)[..., 0]
    if n_logprobs is not None:
        out = (logp.gather(-1, tokens[:, None])[:, 0], top.indices, top.values)
    return (tokens, *out)


def torch_row_params(torch: Any, reqs: list[Request], dtype: Any, V: int) -> tuple:
    """Per-row parameters as column tensors: temperature (greedy rows 1: their argmax is taken at
    the end), k (V: off), p (2: off, the exclusive cumsum never reaches it), min_p (0: off)."""

    def col(vals: list, dt: Any) -> Any:
        return torch.tensor(vals, dtype=dt)[:, None]

    return (
        col([r[0] or 1.0 for r in reqs], dtype),
        torch.tensor([r[0] == 0 for r in reqs]),
        col([r[1] or V for r in reqs], torch.int64),
        col([2.0 if r[2] is None or r[2] >= 1 else r[2] for r in reqs], dtype),
        col([r[3] or 0.0 for r in reqs], dtype),
    )


def torch_batched_chain(torch: Any, x: Any, params: tuple, gen: Any) -> tuple:
    """Per-row parameters in one batch, as vLLM's sampler does it: one descending sort of every
    row, top-k, top-p and min-p as masks on the sorted rows, softmax, torch.multinomial, the drawn
    position mapped back through the sort's indices; greedy rows take the argmax."""
    t, greedy, k, p, mp = params
    scores = x / t
    sorted_logits, sorted_idx = torch.sort(scores, dim=-1, descending=True)
    remove = torch.arange(scores.shape[-1]) >= k
    sorted_logits.masked_fill_(remove, -math.inf)
    probs = sorted_logits.softmax(dim=-1)
    cum = probs.cumsum(dim=-1)
    remove |= (cum - probs) >= p  # the token that crosses p is kept
    remove |= probs < mp * probs[:, :1]
    sorted_logits.masked_fill_(remove, -math.inf)
    choice = torch.multinomial(sorted_logits.softmax(dim=-1), 1, generator=gen)
    tokens = sorted_idx.gather(-1, choice)[:, 0]
    return (torch.where(greedy, scores.argmax(dim=-1), tokens),)


def torch_sample(spec: SampleSpec) -> Factory:
    def make(d: dict) -> Runner:
        torch = peer("torch")
        x = d["x"]
        xt = torch.from_numpy(x).reshape(-1, x.shape[-1])
        gen = torch.Generator().manual_seed(SAMPLE_SEED)
        _note_alloc(d, "torch")
        if spec.mixed:
            if spec.logprobs is not None:
                raise Skip("the batched chain computes no logprobs")
            params = torch_row_params(torch, d["requests"], xt.dtype, x.shape[-1])
            return _with_check(
                lambda: torch_batched_chain(torch, xt, params, gen), lambda r: _sample_value(*r)
            )
        req, n = spec.request, spec.logprobs
        return _with_check(
            lambda: torch_hf_chain(torch, xt, req, n, gen), lambda r: _sample_value(*r)
        )

    return make


# llama.cpp's llama_token_data {int32 id; float logit; float p;}, as a NumPy record.
_LLAMA_TOKEN_DATA = np.dtype([("id", "<i4"), ("logit", "<f4"), ("p", "<f4")])


def _llama_chain(llama: Any, req: Request, seed: int) -> Any:
    """A llama.cpp sampler chain for one request: top_k, temp, top_p, min_p, dist. llama.cpp's
    default order puts temp after min_p; here it comes before top_p, so that top-p and min-p filter
    the tempered distribution, as the definitions (and logitkit and transformers) do; top-k before
    temp keeps the same tokens (a positive temperature keeps the order) on 40 entries instead of V.
    A greedy request is llama_sampler_init_greedy."""
    t, k, p, mp = req
    params = llama.llama_sampler_chain_default_params()
    params.no_perf = False  # the chain times its applications (llama_perf_sampler)
    chain = llama.llama_sampler_chain_init(params)

    def add(s: Any) -> None:
        llama.llama_sampler_chain_add(chain, s)  # the chain owns (and frees) what is added

    if t == 0:
        add(llama.llama_sampler_init_greedy())
        return chain
    if k:
        add(llama.llama_sampler_init_top_k(k))
    add(llama.llama_sampler_init_temp(t))
    if p is not None and p < 1:
        add(llama.llama_sampler_init_top_p(p, 1))
    if mp:
        add(llama.llama_sampler_init_min_p(mp, 1))
    add(llama.llama_sampler_init_dist(seed))
    return chain


class _LlamaTokens:
    """A llama_token_data_array over a NumPy record array of (id, logit, p), refilled from one row
    of logits before each application of a chain, as llama_sampler_sample does (the samplers
    reorder and shrink the array). The refill is two NumPy passes: a copy of a template holding the
    ids and p = 0, then the logits written into their field."""

    def __init__(self, llama: Any, V: int) -> None:
        import ctypes

        self.V = V
        template = np.zeros(V, _LLAMA_TOKEN_DATA)
        template["id"] = np.arange(V, dtype=np.int32)
        self.buf = np.empty_like(template)
        # flat uint32 views make the template copy a memcpy; a float32 view takes the logits
        self._template32 = template.view(np.uint32)
        self._buf32 = self.buf.view(np.uint32)
        self._logits = self.buf.view(np.float32).reshape(V, 3)[:, 1]
        self.ids = self.buf["id"]
        self.ptr = self.buf.ctypes.data_as(ctypes.POINTER(llama.llama_token_data))
        self.cur = llama.llama_token_data_array(data=self.ptr, size=V, selected=-1, sorted=False)
        self.ref = ctypes.byref(self.cur)

    def refill(self, row: np.ndarray) -> None:
        np.copyto(self._buf32, self._template32)
        self._logits[...] = row
        cur = self.cur
        cur.data, cur.size, cur.selected, cur.sorted = self.ptr, self.V, -1, False


def _llama_rows(d: dict) -> tuple[Any, np.ndarray]:
    llama = peer("llama_cpp")
    x = d["x"]
    if x.dtype != np.float32:
        raise Skip("llama.cpp's samplers take float32 logits")
    return llama, x.reshape(-1, x.shape[-1])


def llama_sample(spec: SampleSpec) -> Factory:
    """llama.cpp's sampler chain on a llama_token_data_array built from the logits (_LlamaTokens),
    one chain per row (a server's slot per request); the refill is in the time, and the column
    "llama refill" times it alone. After the timing, a note gives the chains' own time per call from
    llama.cpp's perf counters (llama_perf_sampler). With logprobs: the log-softmax of the tempered
    row in float32 NumPy and the top n by np.argpartition, as llama-cpp-python computes them in
    Python (its sampler chain has none)."""

    def make(d: dict) -> Runner:
        llama, rows = _llama_rows(d)
        # The chains live as long as the process: a few per case.
        chains = [_llama_chain(llama, r, SAMPLE_SEED + i) for i, r in enumerate(d["requests"])]
        arr = _LlamaTokens(llama, rows.shape[-1])
        cur, ids = arr.cur, arr.ids
        tokens = np.empty(rows.shape[0], dtype=np.intp)
        apply = llama.llama_sampler_apply
        calls = [0]  # llama_perf_sampler counts time only for llama_sampler_apply, not calls

        def draw() -> np.ndarray:
            calls[0] += 1
            for i, chain in enumerate(chains):
                arr.refill(rows[i])
                apply(chain, arr.ref)
                if not 0 <= cur.selected < cur.size:
                    raise RuntimeError(f"llama.cpp selected {cur.selected} of {cur.size}")
                tokens[i] = ids[cur.selected]
            return tokens

        for chain in chains:
            llama.llama_perf_sampler_reset(chain)

        def chain_time() -> str:
            ms = sum(llama.llama_perf_sampler(c).t_sample_ms for c in chains)
            return (
                f"llama_cpp: the chain{'s' if len(chains) > 1 else ''} alone, by llama.cpp's"
                f" timer (llama_perf_sampler, wall clock): {_fmt(ms * 1e3 / calls[0])} us per"
                f" call (mean of {calls[0]} calls)"
            )

        d.setdefault("_after", []).append(chain_time)
        n = spec.logprobs
        if n is None:
            return _with_check(draw, _sample_value)
        t = np.array([r[0] for r in d["requests"]], dtype=np.float32)[:, None]
        z = np.empty_like(rows)
        s = np.empty((rows.shape[0], 1), dtype=np.float32)
        at = np.arange(rows.shape[0])

        def draw_logprobs() -> tuple:
            tok = draw()
            np.divide(rows, t, out=z)
            np.subtract(z, z.max(axis=-1, keepdims=True), out=z)
            np.sum(np.exp(z), axis=-1, keepdims=True, out=s)
            np.subtract(z, np.log(s), out=z)
            top = np.argpartition(-z, n - 1, axis=-1)[:, :n]
            top = np.take_along_axis(top, np.argsort(-np.take_along_axis(z, top, -1), -1), -1)
            return tok, z[at, tok], top, np.take_along_axis(z, top, -1)

        return _with_check(draw_logprobs, lambda r: _sample_value(*r))

    return make


def llama_refill(d: dict) -> Runner:
    """The llama_cpp column's refill of its token array alone (every row), no sampler applied."""
    llama, rows = _llama_rows(d)
    arr = _LlamaTokens(llama, rows.shape[-1])

    def run() -> None:
        for row in rows:
            arr.refill(row)

    return run


def _sample_work(name: str, spec: SampleSpec) -> Work:
    c: dict[str, Factory] = {
        "logitkit": lk_sample(spec),
        "lk softmax": lk_factory("softmax"),
        "torch": torch_sample(spec),
        "llama_cpp": llama_sample(spec),
        "llama refill": llama_refill,
    }
    if spec.mixed:
        c["lk 2 threads"] = threads_factory(lk_sample(spec))
    return Work(
        name,
        c,
        make=sample_make(spec),
        check=check_sample,
        check_calls=SAMPLE_CHECK_CALLS,
        per_call=True,
    )


SAMPLE_WORKS = [
    _sample_work("sample_topp", SampleSpec((0.8, None, 0.9, None))),
    _sample_work("sample_chain", SampleSpec((0.8, 40, 0.95, 0.05))),
    _sample_work("sample_chain_logprobs", SampleSpec((0.8, 40, 0.95, 0.05), logprobs=5)),
    _sample_work("sample_mixed", SampleSpec(mixed=True)),
    _sample_work("sample", SampleSpec((0.8, 10, 0.9, 0.05))),
]


WORKS: dict[str, Work] = {
    w.name: w
    for w in [
        _row_work("log_softmax", np_log_softmax),
        _confident_work("log_softmax", np_log_softmax),
        _masked_work("log_softmax", np_log_softmax),
        _row_work("softmax", np_softmax),
        _masked_work("softmax", np_softmax),
        _row_work("logsumexp", np_logsumexp, reduce=True),
        _masked_work("logsumexp", np_logsumexp, reduce=True),
        # logsumexp(x) with no out=, as most callers write it: its small-call path needs out=None
        Work(
            "logsumexp_alloc",
            {
                "logitkit": lk_alloc_factory("logsumexp"),
                "numpy": np_logsumexp,
                "copy": copy_factory,
            },
        ),
        _unary_work("sigmoid", np_sigmoid, "expit"),
        _unary_work("log_sigmoid", np_log_sigmoid, "log_expit"),
        _unary_work("softplus", np_softplus, "softplus"),
        # Losses (mean reduction). "+grad": the loss and its gradient w.r.t. the logits in one
        # call (logitkit's *_with_grad, torch's forward + backward, scikit-learn's loss_gradient).
        # copy: reading x and writing a gradient of its size cannot beat it (loss alone:
        # pessimistic, it writes nothing of x's size).
        *(
            Work(
                f"{name}{'+grad' if grad else ''}",
                {
                    "logitkit": lk_fac(grad),
                    "lk 2 threads": threads_factory(lk_fac(grad)),
                    "torch": torch_loss(op, grad),
                    "sklearn": sklearn_loss(op, grad),
                    "copy": copy_factory,
                    **({} if grad else {"read": read_factory}),
                },
                make=make,
                compare=compare_loss,
            )
            for name, op, lk_fac, make in (
                ("cross_entropy", "cross_entropy", lk_ce, ce_make),
                ("cross_entropy_confident", "cross_entropy", lk_ce, ce_confident_make),
                ("bce_with_logits", "bce", lk_bce, bce_make),
            )
            for grad in (False, True)
        ),
        *(_top_k_work(k) for k in (1, 5, 50)),
        *SAMPLE_WORKS,
        # entropy of each row (issue 18): the read pass is its memory limit; entropy_masked on
        # masked logits (masked_make: the peers' -Σ p·log p gives NaN there, 0·-inf)
        *(
            Work(
                name,
                {
                    "logitkit": lk_entropy,
                    "lk 2 threads": threads_factory(lk_entropy),
                    "numpy": np_entropy,
                    "torch": torch_entropy,
                    "read": read_factory,
                },
                make=make,
            )
            for name, make in (("entropy", make_logits), ("entropy_masked", masked_make))
        ),
        # the entropy of each label of a multi-label model (elementwise)
        Work(
            "binary_entropy",
            {
                "logitkit": lk_binary_entropy,
                "torch": torch_binary_entropy,
                "copy": copy_factory,
            },
        ),
        # the mean entropy of the labels and its gradient
        Work(
            "binary_entropy+grad",
            {
                "logitkit": lk_binary_entropy_grad,
                "torch": torch_binary_entropy_grad,
                "copy": copy_factory,
            },
            compare=compare_loss,
        ),
        # the mean entropy of the rows and its gradient
        Work(
            "entropy+grad",
            {
                "logitkit": lk_entropy_grad,
                "lk 2 threads": threads_factory(lk_entropy_grad),
                "torch": torch_entropy_grad,
                "copy": copy_factory,
            },
            compare=compare_loss,
        ),
        # KL(teacher || student) and its gradient with respect to the student's logits, batchmean
        Work(
            "kl_divergence+grad",
            {
                "logitkit": lk_kl_grad,
                "lk 2 threads": threads_factory(lk_kl_grad),
                "torch": torch_kl_grad,
                "copy": copy_factory,
            },
            make=kl_make,
            compare=compare_loss,
        ),
        # the mean Jensen-Shannon divergence of a teacher and a student and its gradient with
        # respect to the student's logits
        Work(
            "js_divergence+grad",
            {
                "logitkit": lk_js_grad,
                "torch": torch_js_grad,
                "copy": copy_factory,
            },
            make=kl_make,
            compare=compare_loss,
        ),
        # the mean KL between a teacher's and a student's label probabilities (multi-label
        # distillation) and its gradient with respect to the student's logits
        Work(
            "binary_kl+grad",
            {
                "logitkit": lk_binary_kl_grad,
                "torch": torch_binary_kl_grad,
                "copy": copy_factory,
            },
            make=kl_make,
            compare=compare_loss,
        ),
        # softmax of float16 / bfloat16 logits into the same dtype, against logitkit's own float32
        # time on the same values (issue 19) and a copy of the 16-bit array
        *(
            Work(
                f"softmax_{name}",
                {
                    "logitkit": lk_factory("softmax"),
                    "lk float32": lk_float32_factory("softmax"),
                    "copy": copy_factory,
                },
                make=narrow_make(name),
                tol={"float32": (1e-2, 1e-5), "float64": (1e-2, 1e-5)},
            )
            for name in ("float16", "bfloat16")
        ),
        # Hinton's distillation loss with its gradient with respect to the student (T = 4, α = 0.7)
        Work(
            "distillation+grad",
            {
                "logitkit": lk_distill_grad,
                "lk 2 threads": threads_factory(lk_distill_grad),
                "torch": torch_distill_grad,
                "copy": copy_factory,
            },
            make=distill_make,
            compare=compare_loss,
        ),
    ]
}

# (work, shape): Small shapes are reported per call, the rest per element.
CASES: list[tuple[str, tuple[int, ...]]] = [
    ("log_softmax", (1, 10)),
    ("log_softmax", (1, 1000)),
    ("log_softmax", (64, 32000)),
    ("log_softmax", (16384, 1000)),
    ("softmax", (1, 10)),
    ("softmax", (1, 1000)),
    ("softmax", (64, 32000)),
    ("softmax", (16384, 1000)),
    ("logsumexp", (16384, 1000)),
    ("sigmoid", (1_000_000,)),
    ("log_sigmoid", (1_000_000,)),
    ("softplus", (1_000_000,)),
    ("cross_entropy", (1, 10)),
    ("cross_entropy", (4096, 1000)),
    ("cross_entropy", (16384, 1000)),
    ("cross_entropy+grad", (1, 10)),
    ("cross_entropy+grad", (4096, 1000)),
    ("cross_entropy_confident+grad", (4096, 1000)),
    ("bce_with_logits", (1, 10)),
    ("bce_with_logits", (4096, 1000)),
    ("bce_with_logits+grad", (1, 10)),
    ("bce_with_logits+grad", (4096, 1000)),
    ("top_k_k1", (1, 10)),
    ("top_k_k5", (10000, 1000)),
    ("top_k_k50", (1, 128256)),
    ("sample_topp", (1, 128256)),
    ("sample_chain", (1, 128256)),
    ("sample_chain_logprobs", (1, 128256)),
    ("sample_mixed", (64, 32000)),
    ("sample", (1, 32)),
    ("entropy", (16384, 1000)),
    ("binary_entropy", (4096, 1000)),
    ("binary_entropy+grad", (4096, 1000)),
    ("binary_kl+grad", (4096, 1000)),
    ("kl_divergence+grad", (4096, 1000)),
    ("js_divergence+grad", (4096, 1000)),
    ("distillation+grad", (4096, 32000)),
    ("softmax_float16", (16384, 1000)),
    ("softmax_bfloat16", (16384, 1000)),
]


def case_name(work: str, shape: tuple[int, ...]) -> str:
    """The case's stable name: ``WORK/SHAPE``, the sizes joined by ``x`` (``softmax/1x10``)."""
    return f"{work}/{'x'.join(str(d) for d in shape)}"


# The cases that exercise each specialised path of the kernels and bindings, by path: the named
# benchmarks of docs/architecture.md's rule (a path stays only while it wins on them). Variants
# with the path disabled are compared against the library on these cases, one ISA and dtype at a
# time (--isa, --dtype). Cases of CASES are reused by name; the others run only from here.
PATH_CASES: dict[str, list[tuple[str, tuple[int, ...]]]] = {
    # softmax_rows / log_softmax_rows_grouped: long rows' output pass queued into the next row's
    # sum pass (rows over 1024 entries)
    "OutputQueue": [
        ("softmax", (64, 32000)),
        ("log_softmax", (64, 32000)),
        ("log_softmax", (16384, 1000)),
    ],
    # cross_entropy_hard_rows: a row's gradient pass queued into the next row's sum pass (hard
    # labels, no class weights, smoothing or temperature, not in place)
    "CE gradient queue": [
        ("cross_entropy+grad", (4096, 1000)),
        ("cross_entropy_confident+grad", (4096, 1000)),
    ],
    # the bindings' small-call paths: <name>_small (softmax, log_softmax, logsumexp), ce_hard_small
    # (cross-entropy, hard labels) and bce_reduced (BCE with logits, mean or sum, any size)
    "row functions' small calls": [
        ("softmax", (1, 10)),
        ("log_softmax", (1, 10)),
        ("logsumexp_alloc", (1, 10)),
        ("log_softmax", (1, 1000)),
        ("log_softmax", (32, 1000)),
    ],
    "ce_hard_small": [
        ("cross_entropy", (1, 10)),
        ("cross_entropy+grad", (1, 10)),
        ("cross_entropy", (32, 1000)),
    ],
    "bce_reduced": [
        ("bce_with_logits", (1, 10)),
        ("bce_with_logits+grad", (1, 10)),
        ("bce_with_logits", (4096, 1000)),
        ("bce_with_logits+grad", (4096, 1000)),
    ],
    # log_softmax_rows_grouped, logsumexp_rows_grouped: rows of 4 vectors up to 1024 entries, up to
    # 16 rows at a time
    "row groups": [
        ("log_softmax", (65536, 32)),
        ("log_softmax", (16384, 100)),
        ("log_softmax", (16384, 1000)),
        ("logsumexp", (16384, 100)),
        ("logsumexp", (16384, 1000)),
    ],
    # multiclass.top_k: _core.top_k_small (one call for small arrays) and softmax_at (the winners'
    # probabilities from the sum pass, without the row's output pass)
    "top_k": [
        ("top_k_k1", (1, 10)),
        ("top_k_k5", (10000, 1000)),
        ("top_k_k50", (1, 128256)),
    ],
    # streams_output (kernels/common.hpp): outputs of 24 MiB or more written with non-temporal
    # stores (AVX-512): log_softmax's output pass (rows of 3 KiB or more), the elementwise functions
    "streaming stores": [
        ("log_softmax", (16384, 1000)),
        ("log_softmax", (256, 32000)),
        ("sigmoid", (16_384_000,)),
    ],
    # softmax_rows_whole, logsumexp_rows_whole, log_softmax_rows_whole: rows of one to three whole
    # vectors (log_softmax: float32, two or three), the direct sum of several rows at a time, their
    # sums through one transposition (16, 32 and 48 floats on AVX-512)
    "short rows of whole vectors": [
        ("softmax", (131072, 32)),
        ("softmax", (87381, 48)),
        ("softmax", (262144, 16)),
        ("logsumexp", (131072, 32)),
        ("logsumexp", (262144, 16)),
        ("log_softmax", (131072, 32)),
        ("log_softmax", (87381, 48)),
        # masked rows (an entry of -inf): the masked pass (MASKED)
        ("softmax_masked", (131072, 32)),
        ("softmax_masked", (262144, 16)),
        ("logsumexp_masked", (131072, 32)),
        ("logsumexp_masked", (262144, 16)),
        ("log_softmax_masked", (131072, 32)),
    ],
    # rows_short_t: a masked row (-inf entries, finite max) stays in its lane (the rows of whole
    # vectors take short_whole.hpp's masked pass instead)
    "masked short rows in the lanes": [
        ("log_softmax_masked", (135300, 31)),
        ("log_softmax_masked", (419430, 10)),
    ],
    # entropy_small: entropy[_with_grad] in one call (float32/float64 (C,) or (N, C) logits as
    # they are, the default axis, temperature and where, up to small_call_elements)
    "entropy's one call": [
        ("entropy", (1, 10)),
        ("entropy+grad", (1, 10)),
        ("entropy", (32, 1000)),
    ],
    # divergence_small: kl_divergence / js_divergence[_with_grad] in one call (float32/float64
    # (C,) or (N, C) logits of one dtype and shape as they are, the default axis and temperature)
    "KL's and JS's one call": [
        ("kl_divergence+grad", (1, 10)),
        ("kl_divergence+grad", (16, 1000)),
    ],
    # binary_entropy_small: binary_entropy[_with_grad] in one call (a plain float32/float64 array
    # as it is, temperature 1.0, up to small_call_elements)
    "binary_entropy's one call": [
        ("binary_entropy", (1, 10)),
    ],
    # entropy_rows_short: rows shorter than four vectors at temperature 1, one row per lane
    # (masked rows, with an entry of -inf, stay in their lane)
    "entropy of short rows in the lanes": [
        ("entropy", (419430, 10)),
        ("entropy", (262144, 16)),
        ("entropy", (131072, 32)),
        ("entropy+grad", (262144, 16)),
        ("entropy_masked", (262144, 16)),
    ],
    # direct_sum_pass<MASKED>: rows of four vectors or more with -inf entries (one per row) taken
    # by the direct sum instead of the max-relative path
    "masked rows in the direct sum": [
        ("softmax_masked", (41943, 100)),
        ("softmax_masked", (4194, 1000)),
        ("softmax_masked", (131, 32000)),
        ("log_softmax_masked", (41943, 100)),
        ("log_softmax_masked", (4194, 1000)),
        ("log_softmax_masked", (131, 32000)),
        ("logsumexp_masked", (41943, 100)),
        ("logsumexp_masked", (4194, 1000)),
    ],
    # log_softmax_rows_grouped: a top-heavy row's S' summed from the exps its sum pass stored
    "top-heavy reuse": [
        ("log_softmax_confident", (16384, 100)),
        ("log_softmax_confident", (4096, 1000)),
        ("log_softmax_confident", (64, 32000)),
    ],
}

NOISY = 0.15  # samples whose IQR exceeds this fraction of the median are marked "~"
PER_CALL_BELOW = 10_000  # elements: below this a call's overhead dominates; report µs/call

PLOT_ROW_LENGTHS = [10, 32, 100, 316, 1000, 3162, 10000, 32000]
PLOT_TOTAL = 4_000_000

# --sweep: the row functions at every row length, each case 2**22 elements (rows = 2**22 / n,
# rounded), against the best peers; the goals per element: logitkit <= SWEEP_GOALS[peer] x peer.
SWEEP_WORKS = ["log_softmax", "softmax", "logsumexp"]
SWEEP_ROW_LENGTHS = [2, 4, 10, 32, 100, 316, 1000, 3162, 10_000, 32_000, 128_256]
SWEEP_TOTAL = 2**22
SWEEP_GOALS = {"onnxruntime": 0.9, "torch": 0.5}


# ----------------------------------------------------------------------------- timing


# The clock of every timing: wall time (the default), or with --clock cpu the CPU time of the
# calling thread, which leaves out the time other processes hold the core (a shared machine); it
# counts only the calling thread, so it suits the single-threaded contenders alone.
_clock = time.perf_counter_ns


def _time_batch(fn: Runner, k: int) -> float:
    t0 = _clock()
    for _ in range(k):
        fn()
    return (_clock() - t0) * 1e-9


def _calibrate(fn: Runner, batch_s: float) -> int:
    """Calls per batch so that a batch takes about batch_s (at least one call)."""
    k = 1
    while True:
        t = _time_batch(fn, k)
        if t >= batch_s / 8 or k >= 1 << 22:
            return max(1, min(1 << 24, round(k * batch_s / max(t, 1e-9))))
        k *= 8


@dataclass
class Result:
    work: str
    shape: tuple[int, ...]
    dtype: str
    elements: int
    per_call: bool
    median_s: dict[str, float]
    samples_s: dict[str, list[float]]
    calls_per_batch: dict[str, int]
    allocates: list[str]
    mismatch: dict[str, str]
    skipped: dict[str, str]
    notes: list[str] = field(default_factory=list)  # what a contender reports after the timing

    def spread(self, name: str) -> float:
        """Interquartile range of the samples over their median (0 when too few samples)."""
        s = self.samples_s.get(name, [])
        if len(s) < 4:
            return 0.0
        q1, _, q3 = statistics.quantiles(s, n=4)
        return (q3 - q1) / statistics.median(s)

    def median(self, name: str) -> float | None:
        """The median time of a column, or of a DERIVED column; None when not measured."""
        if name in DERIVED:
            a, b = (self.median_s.get(c) for c in DERIVED[name])
            return None if a is None or b is None else a - b
        return self.median_s.get(name)

    def value(self, name: str) -> float | None:
        """µs/call for per-call cases, ns/element otherwise."""
        t = self.median_s.get(name)
        if t is None:
            return None
        return t * 1e6 if self.per_call else t * 1e9 / self.elements


def _as_numpy(r: Any) -> np.ndarray:
    """A copy of a contender's result as a NumPy array (torch tensors included)."""
    if hasattr(r, "detach"):
        r = r.detach().numpy()
    return np.array(r, copy=True)


def run_case(
    work: Work,
    shape: tuple[int, ...],
    dtype: np.dtype,
    reps: int,
    batch_s: float,
    contenders: list[str],
    rng: np.random.Generator,
    per_call: bool | None = None,
) -> Result:
    data = work.make(rng, shape, dtype)
    data["dtype"] = dtype
    runners: dict[str, Runner] = {}
    skipped: dict[str, str] = {}
    results: dict[str, Any] = {}
    mismatch: dict[str, str] = {}
    for name in contenders:
        factory = work.contenders.get(name)
        if factory is None:
            continue  # not a contender for this work: an empty cell, no note
        try:
            fn = factory(data)
            r = fn()  # first call: warm-up and the result check
            conv = getattr(fn, "check_value", None)
            results[name] = conv(r) if conv is not None else _as_numpy(r)
            if work.check is not None and name not in UNCHECKED:
                why = work.check(data, results[name])
                for _ in range(work.check_calls - 1):
                    if why is not None:
                        break
                    r = fn()
                    why = work.check(data, conv(r) if conv is not None else _as_numpy(r))
                if why is not None:
                    mismatch[name] = why
        except Skip as e:
            skipped[name] = str(e)
            continue
        runners[name] = fn

    ref = results.get(REFERENCE)
    rtol, atol = work.tol.get(np.dtype(dtype).name, (1e-3, 1e-6))
    if ref is not None and work.check is None:
        for name, r in results.items():
            if name == REFERENCE or name in UNCHECKED:
                continue
            if work.compare is not None:
                why = work.compare(ref, r)
                if why is not None:
                    mismatch[name] = why
                continue
            if r.shape != ref.shape or not np.allclose(
                r, ref, rtol=rtol, atol=atol, equal_nan=True
            ):
                with np.errstate(all="ignore"):
                    diff = np.abs(r.astype(np.float64) - ref) if r.shape == ref.shape else None
                    if diff is None:
                        err = "shape"
                    elif np.isnan(diff).all():
                        err = "nan"  # (nanmax warns on an all-NaN array)
                    else:
                        err = np.nanmax(diff)
                mismatch[name] = f"max abs diff {err}"
    del results

    k = {name: _calibrate(fn, batch_s) for name, fn in runners.items()}
    samples: dict[str, list[float]] = {name: [] for name in runners}
    names = list(runners)
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(reps):
            for i in rng.permutation(len(names)):
                name = names[i]
                samples[name].append(_time_batch(runners[name], k[name]) / k[name])
    finally:
        if gc_was_enabled:
            gc.enable()
    notes = [f() for f in data.get("_after", ())]
    elements = work.elements(shape)
    if per_call is None:
        per_call = work.per_call
    return Result(
        work=work.name,
        shape=tuple(shape),
        dtype=np.dtype(dtype).name,
        elements=elements,
        per_call=elements < PER_CALL_BELOW if per_call is None else per_call,
        median_s={n: statistics.median(s) for n, s in samples.items()},
        samples_s=samples,
        calls_per_batch=k,
        allocates=sorted(data.get("_alloc", ())),
        mismatch=mismatch,
        skipped=skipped,
        notes=notes,
    )


# ----------------------------------------------------------------------------- report


def machine() -> str:
    try:
        out = subprocess.run(
            ["lscpu"], check=False, capture_output=True, text=True, timeout=10
        ).stdout
        fields = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
        fields = {k.strip(): v.strip() for k, v in fields.items()}
        if "Model name" in fields:
            # Under a hypervisor the name can be generic ("Intel(R) Xeon(R) Processor"): add the
            # family/model numbers, which name the generation.
            extra = [f"{k.lower()} {fields[k]}" for k in ("CPU family", "Model") if k in fields]
            return fields["Model name"] + (f" ({', '.join(extra)})" if extra else "")
    except (OSError, subprocess.SubprocessError):
        pass
    return platform.processor() or platform.machine()


def versions() -> dict[str, str]:
    v = {"python": platform.python_version(), "numpy": np.__version__, "logitkit": lk.__version__}
    for name in ("scipy", "torch", "onnxruntime", "sklearn", "llama_cpp"):
        if name in _peers:
            v[name] = getattr(sys.modules.get(name), "__version__", "?")
    return v


def torch_capability() -> str | None:
    """The CPU kernels torch dispatched to (AVX512, AVX2, DEFAULT, ...), None without torch."""
    torch = _peers.get("torch")
    if torch is None:
        return None
    try:
        return str(torch.backends.cpu.get_cpu_capability())
    except Exception:  # noqa: BLE001 - older torch
        return "?"


def torch_threads() -> int | str:
    torch = _peers.get("torch")
    return torch.get_num_threads() if torch is not None else "?"


def _fmt(v: float | None) -> str:
    if v is None:
        return "-"
    if v >= 100:
        return f"{v:.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}" if v >= 0.1 else f"{v:.3f}"


def _shape(s: tuple[int, ...]) -> str:
    def dim(d: int) -> str:
        if d >= 100_000 and d % 10 ** (e := len(str(d)) - 1) == 0:
            return f"{d // 10**e}e{e}"  # 1000000 -> 1e6
        return str(d)

    return "(" + ", ".join(dim(d) for d in s) + ("," if len(s) == 1 else "") + ")"


def print_tables(results: list[Result], contenders: list[str]) -> None:
    cols = [c for c in contenders if any(c in r.median_s for r in results)]
    head = ["work", "shape", "unit"]
    rows = []
    for r in results:
        cells = [r.work, _shape(r.shape), "us/call" if r.per_call else "ns/elem"]
        for c in cols:
            cell = _fmt(r.value(c))
            if c in r.allocates:
                cell += "*"
            if c in r.mismatch:
                cell += "!"
            if r.spread(c) > NOISY:
                cell += "~"
            cells.append(cell)
        rows.append(cells)
    _print_grid(head + cols, rows)
    print("  * allocates its output on every call (no out=)")
    print("  ! result differs from logitkit's, or fails its check (see notes)")
    print(f"  ~ noisy: interquartile range over {NOISY:.0%} of the median (machine busy? rerun)")

    peers = [
        c
        for c in PEERS_FOR_RATIO
        if c in cols or (c in DERIVED and all(s in cols for s in DERIVED[c]))
    ]
    print()
    print(f"Ratio {REFERENCE} time / peer time (below 1: {REFERENCE} is faster; vs copy: how many")
    print("memory-limit passes logitkit's time is worth)")
    rows = []
    for r in results:
        ref = r.median_s.get(REFERENCE)
        cells = [r.work, _shape(r.shape)]
        for c in peers:
            t = r.median(c)
            cells.append("-" if ref is None or t is None or t <= 0 else f"{ref / t:.2f}")
        rows.append(cells)
    _print_grid(["work", "shape"] + [f"lk/{c}" for c in peers], rows)


def _print_grid(head: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    line = "  ".join(
        h.ljust(w) if i < 2 else h.rjust(w) for i, (h, w) in enumerate(zip(head, widths))
    )
    print(line)
    print("-" * len(line))
    for row in rows:
        print(
            "  ".join(
                c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))
            )
        )


def print_notes(results: list[Result]) -> None:
    notes = []
    for name, why in sorted(_missing.items()):
        notes.append(f"skipped {name}: not installed ({why})")
    for r in results:
        for name, why in r.skipped.items():
            if name in NEEDS and NEEDS[name] in _missing:
                continue  # already said
            notes.append(f"{r.work} {_shape(r.shape)}: {name} skipped ({why})")
        checked = r.work in WORKS and WORKS[r.work].check is not None
        for name, why in r.mismatch.items():
            what = "fails the result check" if checked else "result differs from logitkit"
            notes.append(f"{r.work} {_shape(r.shape)}: {name} {what} ({why})")
        notes.extend(f"{r.work} {_shape(r.shape)}: {n}" for n in r.notes)
    if notes:
        print()
        print("Notes:")
        for n in dict.fromkeys(notes):
            print("  " + n)


# The performance targets (issues 6, 17, 18 and 19; where a later issue restates a goal, its figure):
# (work, shape, peer, largest ratio logitkit/peer). Speedups of
# "lk 2 threads" over logitkit are reported alongside.
TARGETS: list[tuple[str, tuple[int, ...], str, float]] = [
    *(
        t
        for w in ("softmax", "log_softmax")
        for t in (
            (w, (64, 32000), "onnxruntime", 0.65),
            (w, (64, 32000), "torch", 0.35),
            (w, (16384, 1000), "onnxruntime", 0.75),
            (w, (16384, 1000), "torch", 0.2),
            (w, (16384, 1000), "copy", 1.2),
            (w, (1, 10), "torch", 0.6),
            (w, (1, 1000), "torch", 0.6),
        )
    ),
    ("sigmoid", (1_000_000,), "torch", 0.5),
    ("sigmoid", (1_000_000,), "copy", 1.3),
    ("log_sigmoid", (1_000_000,), "torch", 0.3),
    ("log_sigmoid", (1_000_000,), "scipy", 0.1),
    ("softplus", (1_000_000,), "torch", 0.3),
    ("softplus", (1_000_000,), "scipy", 0.1),
    ("cross_entropy+grad", (4096, 1000), "torch", 0.25),
    ("cross_entropy+grad", (4096, 1000), "sklearn", 0.25),
    ("cross_entropy+grad", (4096, 1000), "copy", 1.2),
    ("bce_with_logits+grad", (4096, 1000), "torch", 0.2),
    ("cross_entropy+grad", (1, 10), "torch", 0.05),
    ("logsumexp", (16384, 1000), "read", 1.1),
    ("cross_entropy", (16384, 1000), "read", 1.1),
    # sampling (issue 17); "lk softmax": logitkit's softmax of the same logits
    ("sample_topp", (1, 128256), "torch", 0.01),
    ("sample_topp", (1, 128256), "llama chain", 0.02),
    ("sample_topp", (1, 128256), "lk softmax", 3.0),
    ("sample_chain", (1, 128256), "llama chain", 0.5),
    ("sample_chain_logprobs", (1, 128256), "lk softmax", 1.5),
    ("sample_mixed", (64, 32000), "lk softmax", 2.5),
    # entropy and divergences (issue 18)
    ("entropy", (16384, 1000), "read", 2.5),
    ("kl_divergence+grad", (4096, 1000), "torch", 0.25),
    ("distillation+grad", (4096, 32000), "torch", 0.25),
    # float16 / bfloat16 in and out against logitkit's float32 (issue 19)
    ("softmax_float16", (16384, 1000), "lk float32", 0.6),
    ("softmax_bfloat16", (16384, 1000), "lk float32", 0.6),
]
# Goals on logitkit's own time: (work, shape, most µs per call).
TIME_TARGETS: list[tuple[str, tuple[int, ...], float]] = [("sample", (1, 32), 3.0)]
# Goals on two threads: (work, shape, least speedup of "lk 2 threads" over logitkit).
THREAD_TARGETS: dict[tuple[str, tuple[int, ...]], float] = {("sample_mixed", (64, 32000)): 1.6}


def print_targets(results: list[Result]) -> None:
    by = {(r.work, r.shape): r for r in results}
    rows = []
    for work, shape, peer_name, limit in TARGETS:
        r = by.get((work, shape))
        if r is None:
            continue
        ref, t = r.median_s.get(REFERENCE), r.median(peer_name)
        if ref is None or t is None or t <= 0:
            rows.append([work, _shape(shape), f"lk/{peer_name}", f"<= {limit:g}", "-", "n/a"])
            continue
        ratio = ref / t
        rows.append(
            [
                work,
                _shape(shape),
                f"lk/{peer_name}",
                f"<= {limit:g}",
                f"{ratio:.2f}",
                "met" if ratio <= limit else "MISSED",
            ]
        )
    for work, shape, limit in TIME_TARGETS:
        r = by.get((work, shape))
        if r is None:
            continue
        t = r.median_s.get(REFERENCE)
        measured, verdict = ("-", "n/a") if t is None else (f"{t * 1e6:.2f}", "")
        if t is not None:
            verdict = "met" if t * 1e6 <= limit else "MISSED"
        rows.append([work, _shape(shape), "lk us/call", f"<= {limit:g}", measured, verdict])
    if rows:
        print()
        print("Targets (issues 6, 17, 18 and 19): logitkit time / peer time, single thread")
        _print_grid(["work", "shape", "ratio", "target", "measured", ""], rows)
    rows = []
    for r in results:
        one, two = r.median_s.get(REFERENCE), r.median_s.get("lk 2 threads")
        if one is not None and two is not None:
            goal = THREAD_TARGETS.get((r.work, r.shape))
            verdict = (
                ""
                if goal is None
                else f">= {goal:g}x " + ("met" if one / two >= goal else "MISSED")
            )
            rows.append([r.work, _shape(r.shape), f"{one / two:.2f}x", verdict])
    if rows:
        print()
        print("Two threads (logitkit.set_num_threads(2)) vs one: speedup")
        _print_grid(["work", "shape", "speedup", "target"], rows)


def _progress(r: Result, contenders: list[str]) -> None:
    """One measured case on stderr, as the run goes."""
    print(
        f"  measured {r.work} {_shape(r.shape)}: "
        + ", ".join(f"{c} {_fmt(r.value(c))}" for c in contenders if c in r.median_s),
        file=sys.stderr,
        flush=True,
    )


def run_sweep(
    dtype: np.dtype,
    reps: int,
    batch_s: float,
    contenders: list[str],
    rng: np.random.Generator,
    works: list[str] = SWEEP_WORKS,
    lengths: list[int] = SWEEP_ROW_LENGTHS,
) -> list[Result]:
    results = []
    for work in works:
        for n in lengths:
            shape = (max(1, round(SWEEP_TOTAL / n)), n)
            r = run_case(WORKS[work], shape, dtype, reps, batch_s, contenders, rng, per_call=False)
            results.append(r)
            _progress(r, contenders)
    return results


def print_sweep(results: list[Result]) -> int:
    """One table per work: ns/element of logitkit, the peers and the copy, and logitkit's ratio to
    each peer against its goal. Returns the number of goals missed."""
    missed = 0
    for work in [w for w in SWEEP_WORKS if any(r.work == w for r in results)]:
        rows = []
        for r in (r for r in results if r.work == work):
            ref = r.median_s.get(REFERENCE)
            cells = [str(r.shape[1]), str(r.shape[0])]
            cells += [_fmt(r.value(c)) for c in (REFERENCE, *SWEEP_GOALS, "copy")]
            for peer_name, goal in SWEEP_GOALS.items():
                t = r.median_s.get(peer_name)
                if ref is None or t is None:
                    cells.append("-")
                    continue
                ok = ref / t <= goal
                missed += not ok
                cells.append(f"{ref / t:.2f}" + ("" if ok else " MISSED"))
            rows.append(cells)
        print()
        print(f"{work}: ns/element at every row length ({SWEEP_TOTAL} elements per call)")
        head = ["n", "rows", REFERENCE, *SWEEP_GOALS, "copy"]
        head += [f"lk/{p} (<= {g:g})" for p, g in SWEEP_GOALS.items()]
        _print_grid(head, rows)
    return missed


def plot(path: str, results: list[Result], contenders: list[str], title: str) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except Exception as e:  # noqa: BLE001 - ImportError or a broken backend: skip the plot
        print(f"\nplot skipped: matplotlib not available ({type(e).__name__}: {e})")
        return False
    fig, ax = plt.subplots(figsize=(8, 5))
    for c in contenders:
        pts = [(r.shape[-1], r.value(c)) for r in results if r.value(c) is not None]
        if not pts:
            continue
        xs, ys = zip(*pts)
        style = {"linewidth": 2.5} if c == REFERENCE else {}
        if c in ("copy", "read"):
            style = {"linestyle": "--", "color": "gray" if c == "copy" else "silver"}
        ax.plot(xs, ys, marker="o", label="np.copyto (memory limit)" if c == "copy" else c, **style)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("row length (elements)")
    ax.set_ylabel("ns per element (median)")
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


# ----------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer repetitions, shorter batches")
    p.add_argument("--isa", help="force logitkit's SIMD target (scalar, sse2, avx2, avx512, neon)")
    p.add_argument(
        "--torch-isa",
        metavar="NAME",
        help="force torch's CPU kernels: sets ATEN_CPU_CAPABILITY=NAME (default, avx2, avx512, ...)"
        " before torch is imported; with --isa avx2 --torch-isa avx2 both run their AVX2 code",
    )
    p.add_argument("--json", metavar="PATH", help="save the results (medians and all samples)")
    p.add_argument(
        "--plot",
        metavar="PATH",
        help="PNG of log_softmax time per element vs row length (fixed ~4M elements)",
    )
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    p.add_argument("--reps", type=int, help="repetitions per case (default 21, quick 5)")
    p.add_argument(
        "--batch-ms", type=float, help="time of one batch of calls (default 20, quick 5)"
    )
    p.add_argument(
        "--only",
        help="run only the works whose name contains one of these comma-separated strings"
        " (e.g. sigmoid, or cross_entropy,bce)",
    )
    p.add_argument(
        "--case",
        help="run only these cases, by name (comma-separated, e.g. softmax/1x10,log_softmax/64x32000;"
        " --list shows them); path cases included",
    )
    p.add_argument(
        "--paths",
        action="store_true",
        help="run the cases of every fast path (PATH_CASES) instead of the default table",
    )
    p.add_argument(
        "--sweep",
        action="store_true",
        help="only the row functions at every row length against ONNX Runtime and PyTorch"
        " (--only picks among the functions, --lengths among the row lengths)",
    )
    p.add_argument(
        "--lengths",
        help="--sweep: only these row lengths (comma-separated, e.g. 2,4; default: "
        + ",".join(str(n) for n in SWEEP_ROW_LENGTHS)
        + ")",
    )
    p.add_argument("--list", action="store_true", help="print every case name and exit")
    p.add_argument(
        "--clock",
        choices=["wall", "cpu"],
        default="wall",
        help="wall: elapsed time (default); cpu: the calling thread's CPU time, for A/B runs of"
        " single-threaded contenders on a busy machine (other processes' time left out)",
    )
    p.add_argument(
        "--contenders",
        help=f"comma-separated subset of {','.join(CONTENDERS)} (logitkit is always kept)",
    )
    args = p.parse_args(argv)
    global _clock
    _clock = time.thread_time_ns if args.clock == "cpu" else time.perf_counter_ns
    if args.clock == "cpu" and "lk 2 threads" in (args.contenders or ",".join(CONTENDERS)).split(
        ","
    ):
        p.error(
            "--clock cpu times the calling thread only: leave out 'lk 2 threads' (--contenders)"
        )

    path_cases = list(dict.fromkeys(c for cs in PATH_CASES.values() for c in cs))
    known = {case_name(w, s): (w, s) for w, s in [*CASES, *path_cases]}
    if args.list:
        for w, s in CASES:
            print(case_name(w, s))
        for path, cs in PATH_CASES.items():
            print(f"# {path}: " + " ".join(case_name(w, s) for w, s in cs))
        return 0
    if args.case:
        names = [c.strip() for c in args.case.split(",") if c.strip()]
        unknown = [n for n in names if n not in known]
        if unknown:
            p.error(f"--case: unknown {unknown}; --list shows the names")
        cases = [known[n] for n in dict.fromkeys(names)]
    else:
        cases = path_cases if args.paths else CASES

    if args.torch_isa:
        if "torch" in sys.modules:
            p.error("--torch-isa: torch was imported before the option could take effect")
        os.environ["ATEN_CPU_CAPABILITY"] = args.torch_isa
    lk.set_num_threads(1)  # the headline figures are single-threaded ("lk 2 threads": its own)
    if args.isa:
        try:
            lk._set_simd_target(args.isa)
        except ValueError as e:
            p.error(f"--isa {args.isa}: {e}")
    reps = args.reps or (5 if args.quick else 21)
    batch_s = (args.batch_ms or (5.0 if args.quick else 20.0)) * 1e-3
    dtype = np.dtype(args.dtype)
    contenders = CONTENDERS
    if args.contenders:
        wanted = {c.strip() for c in args.contenders.split(",")} | {REFERENCE}
        unknown = wanted - set(CONTENDERS)
        if unknown:
            p.error(f"--contenders: unknown {sorted(unknown)}; choose from {CONTENDERS}")
        contenders = [c for c in CONTENDERS if c in wanted]
    # the peers the chosen contenders need, imported up front: notes, versions, threads
    wanted_peers = {NEEDS[c] for c in contenders if c in NEEDS}
    if "onnxruntime" in wanted_peers:
        wanted_peers.add("onnx")
    for name in ("scipy", "torch", "onnxruntime", "onnx", "sklearn", "llama_cpp"):
        if name not in wanted_peers:
            continue
        try:
            peer(name)
        except Skip:
            pass

    print(
        f"machine:   {machine()} ({os.cpu_count()} logical CPUs), {platform.system()} {platform.machine()}"
    )
    print(
        f"logitkit:  {lk.__version__}, ISA {lk.simd_target()}"
        f" (available: {', '.join(lk.simd_targets_available())})"
        + (" [forced by --isa]" if args.isa else "")
    )
    print("versions:  " + ", ".join(f"{k} {v}" for k, v in versions().items()))
    if (cap := torch_capability()) is not None:
        print(
            f"torch:     CPU capability {cap}"
            + (
                f" [ATEN_CPU_CAPABILITY={os.environ['ATEN_CPU_CAPABILITY']}]"
                if os.environ.get("ATEN_CPU_CAPABILITY")
                else ""
            )
            + f", {torch_threads()} thread(s)"
        )
    print(
        f"method:    single thread, {dtype.name}, median of {reps} interleaved repetitions, "
        f"~{batch_s * 1e3:g} ms batches, {args.clock} clock"
    )
    print(flush=True)

    rng = np.random.default_rng(20240601)
    if args.sweep:
        works = [
            w for w in SWEEP_WORKS if not args.only or any(o in w for o in args.only.split(","))
        ]
        lengths = [int(v) for v in args.lengths.split(",")] if args.lengths else SWEEP_ROW_LENGTHS
        sweep = run_sweep(dtype, reps, batch_s, contenders, rng, works, lengths)
        print_sweep(sweep)
        if args.plot:
            title = (
                f"log_softmax {dtype.name}, 2^22 elements per call, 1 thread\n"
                f"{machine()}, logitkit ISA {lk.simd_target()}"
            )
            curves = [c for c in (REFERENCE, *SWEEP_GOALS, "copy") if c in contenders]
            if plot(args.plot, [r for r in sweep if r.work == "log_softmax"], curves, title):
                print(f"\nplot written to {args.plot}")
        if args.json:
            doc = {"machine": machine(), "simd_target": lk.simd_target(), "versions": versions()}
            doc |= {"dtype": dtype.name, "clock": args.clock, "reps": reps}
            doc["sweep"] = [_to_json(r) for r in sweep]
            with open(args.json, "w") as f:
                json.dump(doc, f, indent=1)
        return 0
    results: list[Result] = []
    only = [o.strip() for o in args.only.split(",") if o.strip()] if args.only else []
    for work_name, shape in cases:
        if only and not any(o in work_name for o in only):
            continue
        r = run_case(WORKS[work_name], shape, dtype, reps, batch_s, contenders, rng)
        results.append(r)
        _progress(r, contenders)
    print(file=sys.stderr, flush=True)
    print_tables(results, contenders)
    print_targets(results)
    print_notes(results)

    plot_results: list[Result] = []
    if args.plot:
        lengths = PLOT_ROW_LENGTHS[::2] + PLOT_ROW_LENGTHS[-1:] if args.quick else PLOT_ROW_LENGTHS
        for n in lengths:
            shape = (max(1, round(PLOT_TOTAL / n)), n)
            plot_results.append(
                run_case(
                    WORKS["log_softmax"],
                    shape,
                    dtype,
                    max(3, reps // 3),
                    batch_s,
                    contenders,
                    rng,
                    per_call=False,
                )
            )
        title = (
            f"log_softmax {dtype.name}, ~{PLOT_TOTAL / 1e6:g}M elements per call, 1 thread\n"
            f"{machine()}, logitkit ISA {lk.simd_target()}"
        )
        if plot(args.plot, plot_results, [c for c in contenders if c != "lk.ufunc"], title):
            print(f"\nplot written to {args.plot}")

    if args.json:
        doc = {
            "machine": machine(),
            "simd_target": lk.simd_target(),
            "simd_forced": bool(args.isa),
            "torch_cpu_capability": torch_capability(),
            "aten_cpu_capability_env": os.environ.get("ATEN_CPU_CAPABILITY"),
            "versions": versions(),
            "threads": 1,
            "dtype": dtype.name,
            "clock": args.clock,
            "reps": reps,
            "batch_s": batch_s,
            "skipped_peers": _missing,
            "results": [_to_json(r) for r in results],
            "plot_log_softmax": [_to_json(r) for r in plot_results],
        }
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=1)
        print(f"results written to {args.json}")
    return 0


def _to_json(r: Result) -> dict:
    d = dict(r.__dict__)
    d["case"] = case_name(r.work, r.shape)
    d["shape"] = list(r.shape)
    d["unit"] = "us/call" if r.per_call else "ns/element"
    d["value"] = {c: r.value(c) for c in r.median_s}
    d["ratio_vs"] = {
        c: r.median_s[REFERENCE] / t for c, t in r.median_s.items() if REFERENCE in r.median_s
    }
    return d


if __name__ == "__main__":
    sys.exit(main())
