"""``python -m logitkit``: version, SIMD target, and a short demonstration on built-in logits."""

from __future__ import annotations

import argparse
import sys

import numpy as np

import logitkit as lk


def _fmt(a: np.ndarray) -> str:
    return np.array2string(np.asarray(a), precision=6, suppress_small=False, separator=", ")


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

    logits = np.array([2.0, 1.0, -1.0])
    print(f"Example logits of one input over 3 classes: {_fmt(logits)}")
    print("  read as multi-class (trained with cross-entropy: exactly one class is right):")
    p = lk.softmax(logits)
    print(f"    softmax      {_fmt(p)}   sum = {p.sum():.6f}")
    print(f"    log_softmax  {_fmt(lk.log_softmax(logits))}")
    print(f"    logsumexp    {float(lk.logsumexp(logits)):.6f}")
    print("  read as multi-label (trained with binary cross-entropy: each class on its own):")
    q = lk.sigmoid(logits)
    print(f"    sigmoid      {_fmt(q)}   sum = {q.sum():.6f} (need not be 1)")
    print(f"    log_sigmoid  {_fmt(lk.log_sigmoid(logits))}")
    print()

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
