"""One assertion for every comparison of a result with the oracle: ``assert_within_budget``.

The budgets are the rows of README.md's accuracy table (docs/numerics.md, "The bounds"); the
numbers are those of tests/registry.py (imported, never restated here). Each budget fixes its
measure:

* the activations and per-item losses: ulps of the output dtype (``oracle.ulp_errors``: outputs
  below the smallest normal are held to 2 × the smallest subnormal, absolute);
* ``"reduced"`` (a mean or a sum): relative error (``oracle.rel_error``);
* ``"gradient"`` (``*_with_grad``, ``grad_hess``'s gradient and Hessian, the backward functions):
  ulps or absolute, whichever is met, the absolute part times ``max(1, scale)`` where weights
  scale the gradient up (``oracle.grad_errors``).

``want`` must be the exact result as far as the budget can tell: the oracle's value (or
mpmath's) in a type wider than the output, never the library's own result. A ``want`` of the
output's own precision is refused, since a float64 formula cannot verify a float64 bound of a
few ulps.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import oracle
import registry

# budget -> (measure, {output dtype: bound}): the README rows, by the registry entry that carries
# each row's bound.
_ROWS = {
    "softmax": "softmax",
    "log_softmax": "log_softmax",
    "logsumexp": "logsumexp",
    "sigmoid": "sigmoid",
    "log_sigmoid": "log_sigmoid",
    "softplus": "softplus",
    "cross_entropy": "cross_entropy",
    "bce": "binary_cross_entropy_with_logits",
    "entropy": "entropy",
    "kl_divergence": "kl_divergence",
    "js_divergence": "js_divergence",
    "binary_entropy": "binary_entropy",
    "binary_kl": "binary_kl_divergence",
    # not rows of README's table: the registry holds these per-item losses to the loss bound
    # (test_registry.py asserts them there too)
    "nll_loss": "nll_loss",
    "distillation": "distillation_loss",
    "focal": "sigmoid_focal_loss",
}
BUDGETS: dict[str, tuple[str, Mapping[np.dtype, float]]] = {
    name: ("ulp", registry.BY_NAME[fn].bounds) for name, fn in _ROWS.items()
}
BUDGETS["reduced"] = ("rel", registry.REDUCED_BOUNDS)
BUDGETS["gradient"] = ("grad", registry.GRAD_BOUNDS)

# the quantity names of registry.record, so that conftest.py's report prints the right bound
_QUANTITY = {"ulp": "per-item (ulp)", "rel": "mean/sum (rel)", "grad": "(/bound)"}


def _rel_errors(got, want) -> np.ndarray:
    """oracle.rel_error elementwise."""
    out = np.empty(got.shape, np.float64)
    for i in np.ndindex(got.shape):
        out[i] = oracle.rel_error(got[i], want[i])
    return out


def budget_errors(got, want, *, budget, dtype, scale=None) -> np.ndarray:
    """The errors of got against want in the budget's measure and unit: ulps, relative error, or
    (gradients) a fraction of the bound."""
    measure, _ = BUDGETS[budget]
    got, want = np.asarray(got), np.broadcast_to(np.asarray(want), np.shape(got))
    if measure == "ulp":
        return oracle.ulp_errors(got, want, dtype)
    if measure == "rel":
        return _rel_errors(got, want)
    return oracle.grad_errors(got, want, dtype, scale)


def assert_within_budget(got, want, *, budget, dtype=None, scale=None, what="", isa=None) -> float:
    """Assert that got is within the documented budget of the exact want; return the worst error.

    got     the library's result (array or scalar) of the output dtype
    want    the oracle's result in a wider type (tests/oracle.py, mpmath), broadcast to got
    budget  a key of BUDGETS: the README row ('softmax', 'cross_entropy', 'bce', 'reduced',
            'gradient', ...)
    dtype   the output dtype whose bound applies (default: got's dtype; got must have it)
    scale   gradients only: the gradient's scale s, the absolute bound times max(1, s)
            (oracle.cross_entropy_grad / bce_with_logits_grad / grad_hess with with_scale=True)
    what    names the quantity in the failure message (and in the error report, with isa)
    isa     when given, the worst error is recorded for conftest.py's report (registry.record)
    """
    if budget not in BUDGETS:
        raise KeyError(f"unknown budget {budget!r}; one of {sorted(BUDGETS)}")
    measure, bounds = BUDGETS[budget]
    if scale is not None and measure != "grad":
        raise TypeError(f"scale applies to the gradient budget, not to {budget!r}")
    g = np.asarray(got)
    if dtype is None:
        dtype = g.dtype
    dtype = np.dtype(dtype)
    if g.dtype.kind == "f":
        assert g.dtype == dtype, f"{what or budget}: result dtype {g.dtype}, expected {dtype}"
    w = np.asarray(want)
    if w.dtype.kind == "f":
        wider = np.finfo(w.dtype).nmant > np.finfo(dtype).nmant
        if not wider and w.dtype != oracle.work_dtype(dtype):
            raise TypeError(
                f"{what or budget}: the reference is {w.dtype}, not wider than the {dtype} result; "
                "take it from tests/oracle.py (or mpmath) in the wider type"
            )
    if np.shape(w) not in ((), g.shape):
        raise ValueError(f"{what or budget}: result shape {g.shape}, reference shape {np.shape(w)}")
    if dtype not in bounds:
        raise KeyError(f"budget {budget!r} has no bound for {dtype}")
    bound = bounds[dtype]
    err = budget_errors(g, w, budget=budget, dtype=dtype, scale=scale)
    worst = float(err.max()) if err.size else 0.0
    if isa is not None:
        registry.record(what or budget, dtype, isa, worst, _QUANTITY[measure])
    limit = 1.0 if measure == "grad" else bound
    if not worst <= limit:  # also fails on NaN
        i = np.unravel_index(int(np.argmax(np.where(np.isnan(err), np.inf, err))), err.shape)
        gv = g[i] if g.ndim else g[()]
        wv = np.broadcast_to(w, g.shape)[i]
        where = f"at {tuple(int(v) for v in i)}" if g.ndim else "(scalar)"
        if measure == "grad":
            ulps, absolute = bound
            s = "" if scale is None else np.broadcast_to(np.asarray(scale), g.shape)[i]
            unit = f"absolute {absolute:g}" + ("" if scale is None else f" × max(1, {s:.4g})")
            detail = f"{worst:.3g} × the bound ({ulps} ulp or {unit})"
        elif measure == "ulp":
            detail = f"{worst:.3g} ulp > {bound} ulp"
        else:
            detail = f"relative error {worst:.3g} > {bound:g}"
        on = "" if isa is None else f" on {isa}"
        raise AssertionError(
            f"{what or budget} ({budget}, {dtype}){on}: {detail}; worst {where}: got {gv!r}, "
            f"exact {wv!r}"
        )
    return worst
