"""``python -m logitkit``: version, SIMD target, and a short demonstration on built-in logits."""

from __future__ import annotations

import argparse
import sys

import numpy as np

import logitkit as lk


def _fmt(a: np.ndarray) -> str:
    return np.array2string(np.asarray(a), precision=6, suppress_small=False, separator=", ")


def _demo_multiclass_or_multilabel() -> None:
    """The same three logits read both ways, with predictions and losses."""
    mc, ml = lk.multiclass, lk.multilabel
    x = np.array([2.0, 1.0, -1.0])
    batch = x[None, :]  # one input (a batch of 1) for the losses
    print(f"Example logits of one input over 3 classes: {_fmt(x)}")
    print()
    print("  read as multi-class (logitkit.multiclass: exactly one class is right; the model was")
    print("  trained with cross-entropy; probabilities from softmax, summing to 1):")
    p = mc.proba(x)
    print(f"    proba            {_fmt(p)}   sum = {p.sum():.6f}")
    print(f"    log_proba        {_fmt(mc.log_proba(x))}")
    idx, top = mc.top_k(x, 2)
    print(f"    predict          class {int(mc.predict(x))} (argmax of the logits)")
    print(f"    top_k(k=2)       classes {idx.tolist()}, probabilities {_fmt(top)}")
    print()
    print("  read as multi-label (logitkit.multilabel: each class is on or off by itself; trained")
    print("  with binary cross-entropy; probabilities from sigmoid, one per class):")
    q = ml.proba(x)
    print(f"    proba            {_fmt(q)}   sum = {q.sum():.6f} (need not be 1)")
    print(f"    log_proba        {_fmt(ml.log_proba(x))}")
    print(f"    log(1 - p)       {_fmt(ml.log_proba(x, complement=True))}   (complement=True)")
    print(f"    predict          {ml.predict(x).tolist()}   (threshold 0.5: logit > 0)")
    thr = [0.9, 0.5, 0.2]
    print(
        f"    predict          {ml.predict(x, threshold=thr).tolist()}   (per-class thresholds "
        f"{thr}, decided on the logits)"
    )
    print()
    hard = np.array([0])
    soft = np.array([[0.7, 0.2, 0.1]])
    multi = np.array([[1.0, 1.0, 0.0]])
    print("  losses (mean over the batch of one):")
    for what, value in (
        (f"multiclass.loss, hard label {hard.tolist()}", mc.loss(batch, hard)),
        (f"multiclass.loss, soft label {soft[0].tolist()}", mc.loss(batch, soft)),
        (f"multilabel.loss, target {multi[0].tolist()}", ml.loss(batch, multi)),
    ):
        print(f"    {what:<44} {float(value):.6f}")
    print()
    print("  the wrong module is refused with an explanation:")
    for call, args in (
        ("multiclass.loss(logits, [[1., 1., 0.]])", (mc.loss, batch, multi)),
        ("multilabel.loss(logits, [0])", (ml.loss, batch, hard)),
    ):
        try:
            args[0](*args[1:])
        except ValueError as e:
            print(f"    {call}:\n      ValueError: {e}")
    print()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m logitkit", description=__doc__)
    parser.add_argument(
        "--cmake-dir",
        action="store_true",
        help="print the folder of logitkitConfig.cmake (for -Dlogitkit_DIR=...) and exit",
    )
    parser.add_argument(
        "--include-dir", action="store_true", help="print the folder of the C++ headers and exit"
    )
    args = parser.parse_args(argv)
    if args.cmake_dir:
        print(lk.cmake_dir())
        return 0
    if args.include_dir:
        print(lk.include_dir())
        return 0

    print(f"logitkit {lk.__version__}")
    print(
        f"SIMD target: {lk.simd_target()} (available here: {', '.join(lk.simd_targets_available())})"
    )
    print()

    _demo_multiclass_or_multilabel()

    print("Where the textbook formulas break, logitkit stays exact:")
    confident = np.array([0.0, -40.0], dtype=np.float64)
    naive = confident - np.log(np.sum(np.exp(confident)))
    print(
        f"  log_softmax([0, -40])[0]: naive {naive[0]:.6g}, logitkit {lk.log_softmax(confident)[0]:.17g}"
    )
    big = np.array([1000.0, 1000.0])
    with np.errstate(over="ignore", invalid="ignore"):
        naive_lse = np.log(np.sum(np.exp(big)))
    print(f"  logsumexp([1000, 1000]):  naive {naive_lse}, logitkit {float(lk.logsumexp(big))!r}")
    with np.errstate(over="ignore", divide="ignore"):
        naive_ls = np.log(1.0 / (1.0 + np.exp(-np.array([-750.0]))))[0]
    print(
        f"  log_sigmoid(-750):        naive {naive_ls}, logitkit {float(lk.log_sigmoid(-750.0))!r}"
    )
    x32 = np.array([[0.0, -20.3, -20.3, -20.3] + [-20.3] * 60], dtype=np.float32)
    print(
        f"  float32 log_softmax of a confident row, top class: {lk.log_softmax(x32)[0, 0]!r} "
        f"(float64 reference {float(-np.log1p(63 * np.exp(np.float64(np.float32(-20.3))))):.9g})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
