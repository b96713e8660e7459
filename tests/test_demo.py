"""``python -m logitkit``: the demonstration reads the same logits as multi-class and multi-label,
with predictions, losses and the ISA in use (values checked against plain NumPy)."""

from __future__ import annotations

import re
import subprocess
import sys

import logitkit as lk
import numpy as np
import pytest


def test_demo_reads_the_same_logits_both_ways():
    r = subprocess.run(
        [sys.executable, "-W", "error", "-m", "logitkit"],
        capture_output=True,
        text=True,
        check=True,
    )
    out = r.stdout
    assert r.stderr == ""
    assert f"SIMD target: {lk.simd_target()}" in out
    x = np.array([2.0, 1.0, -1.0])
    softmax = np.exp(x) / np.exp(x).sum()
    sigmoid = 1 / (1 + np.exp(-x))
    assert np.array2string(softmax, precision=6, separator=", ") in out
    assert np.array2string(sigmoid, precision=6, separator=", ") in out
    hard = -np.log(softmax[0])
    soft = -(np.array([0.7, 0.2, 0.1]) * np.log(softmax)).sum()
    y = np.array([1.0, 1.0, 0.0])
    bce = -(y * np.log(sigmoid) + (1 - y) * np.log(1 - sigmoid)).mean()
    for value in (hard, soft, bce):
        assert f"{value:.6f}" in out
    assert "[True, True, False]" in out
    assert "use logitkit.multilabel" in out and "use logitkit.multiclass" in out


def _line(out: str, start: str) -> str:
    """The text after ``start`` on the first line of ``out`` that begins with it (indent ignored)."""
    for line in out.splitlines():
        if line.strip().startswith(start):
            return line.strip()[len(start) :].strip()
    raise AssertionError(f"no line starts with {start!r}:\n{out}")


def _numbers(text: str) -> list[float]:
    return [float(v) for v in re.findall(r"-?\d+\.\d+(?:e[-+]\d+)?", text)]


def test_demo_numbers_line_by_line(capsys):
    """The demo called in this process, every printed number against plain NumPy in float64 (six
    decimals, as printed) and the lines' labels: a demo that shows the wrong option (log p where
    it says log(1 - p)) or drops an argument fails here."""
    from logitkit.__main__ import main

    assert main([]) == 0
    out = capsys.readouterr().out
    x = np.array([2.0, 1.0, -1.0])
    softmax = np.exp(x) / np.exp(x).sum()
    sigmoid = 1 / (1 + np.exp(-x))

    def fmt(a):  # what the demo must print: six decimals, comma-separated
        return "[" + ", ".join(f"{v:.6f}" for v in a) + "]"

    assert _line(out, "Example logits of one input over 3 classes:") == "[ 2.,  1., -1.]"
    mc_proba, ml_proba = [ln for ln in out.splitlines() if ln.strip().startswith("proba ")]
    assert fmt(softmax) in mc_proba and "sum = 1.000000" in mc_proba
    assert fmt(sigmoid) in ml_proba and f"sum = {sigmoid.sum():.6f}" in ml_proba
    lp_mc, lp_ml = [ln for ln in out.splitlines() if ln.strip().startswith("log_proba ")]
    assert fmt(np.log(softmax)) in lp_mc
    assert fmt(np.log(sigmoid)) in lp_ml
    assert _line(out, "log(1 - p)") == f"{fmt(np.log1p(-sigmoid))}   (complement=True)"
    assert _line(out, "predict          class") == "0 (argmax of the logits)"
    assert _line(out, "top_k(k=2)") == f"classes [0, 1], probabilities {fmt(softmax[:2])}"
    thr = np.array([0.9, 0.5, 0.2])
    assert f"{(sigmoid > thr).tolist()}   (per-class thresholds" in out
    assert f"{(x > 0).tolist()}   (threshold 0.5" in out
    y = np.array([1.0, 1.0, 0.0])
    bce = -(y * np.log(sigmoid) + (1 - y) * np.log1p(-sigmoid)).mean()
    soft = -(np.array([0.7, 0.2, 0.1]) * np.log(softmax)).sum()
    assert _numbers(_line(out, "multiclass.loss, hard label [0]")) == [
        round(-np.log(softmax[0]), 6)
    ]
    assert _numbers(_line(out, "multiclass.loss, soft label [0.7, 0.2, 0.1]"))[-1] == round(soft, 6)
    assert _numbers(_line(out, "multilabel.loss, target [1.0, 1.0, 0.0]"))[-1] == round(bce, 6)
    assert "ValueError: target: each row of probabilities must sum to 1" in out
    assert "ValueError: target: expected one 0/1 entry per class" in out
    x32 = np.array([0.0] + [-20.3] * 63, np.float32).astype(np.float64)
    ref = -np.log1p(63 * np.exp(x32[1]))
    shown = _line(out, "float32 log_softmax of a confident row, top class:")
    assert shown.startswith(repr(np.float32(ref))), shown
    naive = 0.0 - np.log(np.sum(np.exp(np.array([0.0, -40.0]))))
    assert _line(out, "log_softmax([0, -40])[0]:") == (
        f"naive {naive:.6g}, logitkit {-np.exp(-40.0):.17g}"
    )
    assert _line(out, "logsumexp([1000, 1000]):").endswith(
        f"logitkit {float(1000 + np.log(2.0))!r}"
    )
    assert _line(out, "log_sigmoid(-750):").endswith("logitkit -750.0")
    assert "  losses (mean over the batch of one):" in out.splitlines()
    assert f"SIMD target: {lk.simd_target()} (available here: " in out
    assert (
        "  read as multi-label (logitkit.multilabel: each class is on or off by itself; trained"
        in out.splitlines()
    )
    assert shown.endswith(f"(float64 reference {ref:.9g})"), shown


def test_demo_options_print_the_folders(capsys):
    from logitkit.__main__ import main

    assert main(["--include-dir"]) == 0
    assert capsys.readouterr().out.strip() == lk.include_dir()
    try:
        want = lk.cmake_dir()
    except FileNotFoundError:  # an installation without the CMake package: the error propagates
        with pytest.raises(FileNotFoundError, match="logitkitConfig.cmake"):
            main(["--cmake-dir"])
        return
    assert main(["--cmake-dir"]) == 0
    assert capsys.readouterr().out.strip() == want


def test_help_names_the_command(capsys):
    from logitkit.__main__ import main

    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: python -m logitkit [-h] [--cmake-dir] [--include-dir]")
    assert "--cmake-dir" in out and "--include-dir" in out
    words = " ".join(out.split())  # argparse wraps to the terminal's width
    assert (
        "--cmake-dir print the folder of logitkitConfig.cmake (for -Dlogitkit_DIR=...) and exit"
        in words
    )
    assert "--include-dir print the folder of the C++ headers and exit" in words
    assert "version, SIMD target, and a short demonstration" in out
