#!/usr/bin/env python
"""How exact each library's float32 log_softmax, softmax and logsumexp are, on the same logits.

The accuracy side of bench/compare.py's speed table: the contenders are logitkit, PyTorch,
ONNX Runtime (a one-node model, built as compare.py builds it) and SciPy (``scipy.special``), each
given the same float32 rows; peers that are not installed are skipped with a note. Each result is
compared with a float64 oracle computed from the same float32 inputs:

    d_j = x_j - max x,   S' = sum over j != k of exp(d_j)   (k: the first max entry)
    log_softmax_j = d_j - log1p(S'),   softmax_j = exp(d_j) / (1 + S'),   logsumexp = max x + log1p(S')

(the log1p form keeps the top entry's log-probability, -log1p(S'), to float64's relative accuracy
where S' is tiny). The error of an output is |got - exact| in units of the float32 spacing at the
exact value (an ulp; below float32's normal range, the subnormal spacing). The table shows the worst
over all outputs of a family and row length, and the share of outputs more than 4 ulp off.

The families: the speed table's logits (N(0, 3²), compare.py's ``make_logits``), wider logits
(N(0, 10²)), and confident rows (N(0, 1) with one entry 15 above the row's max: the top class holds
all but about 1e-5 of the mass, a trained classifier's usual row). logitkit's bounds are in
README.md's accuracy table (4 ulp for float32 log_softmax and softmax, 3 for logsumexp).

Usage::

    python bench/peer_accuracy.py                          # every contender, the default lengths
    python bench/peer_accuracy.py --lengths 100 --rows 5000
    python bench/peer_accuracy.py --peers none             # logitkit alone
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

# compare.py (next to this file) sets one thread for every library before they load, and builds the
# ONNX Runtime sessions.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare
import logitkit as lk
import numpy as np

FUNCTIONS = ["log_softmax", "softmax", "logsumexp"]
PEERS = ["torch", "onnxruntime", "scipy"]
LENGTHS = [10, 32, 100, 316, 1000]
OVER = 4.0  # the share of outputs beyond this many ulp is reported
FAMILIES = ["N(0, 3²)", "N(0, 10²)", "confident"]


def family_rows(name: str, rng: np.random.Generator, rows: int, n: int) -> np.ndarray:
    """float32 logits of one family (module docstring)."""
    if name == "N(0, 3²)":
        return compare.make_logits(rng, (rows, n), np.dtype(np.float32))["x"]
    if name == "N(0, 10²)":
        return (rng.standard_normal((rows, n)) * 10.0).astype(np.float32)
    if name == "confident":
        x = rng.standard_normal((rows, n))
        x[np.arange(rows), rng.integers(0, n, rows)] = x.max(axis=1) + 15.0
        return x.astype(np.float32)
    raise ValueError(f"family must be one of {FAMILIES}, got {name!r}")


def oracle(fn: str, x: np.ndarray) -> np.ndarray:
    """The float64 result for float32 rows x (module docstring), rows of at least one entry."""
    xd = x.astype(np.float64)
    m = xd.max(axis=-1, keepdims=True)
    d = xd - m
    e = np.exp(d)
    k = np.argmax(xd, axis=-1)
    e_rest = e.copy()
    e_rest[np.arange(x.shape[0]), k] = 0.0
    s1 = e_rest.sum(axis=-1, keepdims=True)  # S'
    if fn == "log_softmax":
        return d - np.log1p(s1)
    if fn == "softmax":
        return e / (1.0 + s1)
    if fn == "logsumexp":
        return (m + np.log1p(s1))[:, 0]
    raise ValueError(f"fn must be one of {FUNCTIONS}, got {fn!r}")


def ulp_errors(got: np.ndarray, exact: np.ndarray) -> np.ndarray:
    """|got - exact| in float32 ulps at the exact value; a NaN or an infinity where the exact value
    is finite counts as infinitely far."""
    got = np.asarray(got, dtype=np.float64)
    spacing = np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)
    err = np.abs(got - exact) / spacing
    return np.where(np.isfinite(got), err, np.inf)


def contender(name: str, fn: str) -> Callable[[np.ndarray], np.ndarray]:
    """A callable computing fn over the last axis of float32 rows; raises compare.Skip when the peer
    is not installed or has no such op."""
    if name == "logitkit":
        return getattr(lk, fn)
    if name == "torch":
        torch = compare.peer("torch")
        op = {
            "log_softmax": torch.log_softmax,
            "softmax": torch.softmax,
            "logsumexp": torch.logsumexp,
        }[fn]
        return lambda x: op(torch.from_numpy(x), -1).numpy()
    if name == "onnxruntime":
        try:
            sess = compare._ort_session(fn, np.dtype(np.float32), 2)
        except compare.Skip:
            raise
        except Exception as e:  # noqa: BLE001 - the op or dtype unsupported by this version
            raise compare.Skip(f"onnxruntime cannot build {fn}: {e}") from None
        return lambda x: sess.run(None, {"x": x})[0]
    if name == "scipy":
        special = compare.peer("scipy")
        op = getattr(special, fn)
        return lambda x: np.asarray(op(x, axis=-1))
    raise ValueError(f"contender must be logitkit or one of {PEERS}, got {name!r}")


def measure(run: Callable[[np.ndarray], np.ndarray], fn: str, x: np.ndarray) -> tuple[float, float]:
    """(worst ulp error, share of outputs beyond OVER ulp) of run(x) against the oracle."""
    got = np.asarray(run(x))
    exact = oracle(fn, x)
    if got.shape != exact.shape:
        raise ValueError(f"{fn}: result of shape {got.shape}, expected {exact.shape}")
    err = ulp_errors(got, exact)
    return float(err.max()), float((err > OVER).mean())


def run_table(
    contenders: list[str], lengths: list[int], rows: int, seed: int
) -> tuple[dict[tuple[str, str, int, str], tuple[float, float]], dict[str, str]]:
    """{(function, family, n, contender): (worst ulp, share beyond OVER)} and {contender: why it was
    skipped}."""
    results: dict[tuple[str, str, int, str], tuple[float, float]] = {}
    skipped: dict[str, str] = {}
    for fn in FUNCTIONS:
        runs = {}
        for c in contenders:
            try:
                runs[c] = contender(c, fn)
            except compare.Skip as e:
                skipped[c] = str(e)
        for fam in FAMILIES:
            for n in lengths:
                x = family_rows(fam, np.random.default_rng([seed, n, FAMILIES.index(fam)]), rows, n)
                for c, run in runs.items():
                    results[(fn, fam, n, c)] = measure(run, fn, x)
    return results, skipped


def format_ulp(worst: float, share: float) -> str:
    w = "inf" if not np.isfinite(worst) else f"{worst:.3g}" if worst >= 1e4 else f"{worst:.1f}"
    return w if share == 0 else f"{w} ({share * 100:.2g} % > {OVER:g})"


def print_table(
    results: dict, contenders: list[str], lengths: list[int], skipped: dict[str, str]
) -> None:
    shown = [c for c in contenders if c not in skipped]
    for fn in FUNCTIONS:
        print(f"\n{fn}, float32: worst error in ulp (share of outputs beyond {OVER:g} ulp)")
        header = ["family", "n"] + shown
        lines = [header]
        for fam in FAMILIES:
            for n in lengths:
                lines.append([fam, str(n)] + [format_ulp(*results[(fn, fam, n, c)]) for c in shown])
        widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
        for j, line in enumerate(lines):
            print("  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip())
            if j == 0:
                print("-" * (sum(widths) + 2 * (len(widths) - 1)))
    for c, why in skipped.items():
        print(f"skipped {c}: {why}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--lengths", default=",".join(map(str, LENGTHS)), help="row lengths, comma-separated"
    )
    ap.add_argument(
        "--rows", type=int, default=2000, help="rows per family and length (default 2000)"
    )
    ap.add_argument(
        "--peers", default=",".join(PEERS), help=f"comma-separated from {PEERS}, or none"
    )
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    try:
        lengths = [int(v) for v in args.lengths.split(",")]
    except ValueError:
        ap.error(f"--lengths must be comma-separated integers, got {args.lengths!r}")
    if not lengths or min(lengths) < 1:
        ap.error(f"--lengths must be at least 1, got {args.lengths!r}")
    if args.rows < 1:
        ap.error(f"--rows must be at least 1, got {args.rows}")
    peers = [] if args.peers == "none" else [p for p in args.peers.split(",") if p]
    unknown = [p for p in peers if p not in PEERS]
    if unknown:
        ap.error(f"--peers must name some of {PEERS} (or none), got {unknown}")
    contenders = ["logitkit"] + peers
    print(
        f"logitkit {lk.__version__}, ISA {lk.simd_target()}; numpy {np.__version__}; {args.rows} rows per family and length"
    )
    results, skipped = run_table(contenders, lengths, args.rows, args.seed)
    print_table(results, contenders, lengths, skipped)
    return 0


if __name__ == "__main__":
    sys.exit(main())
