"""``python -m logitkit``: the demonstration reads the same logits as multi-class and multi-label,
with predictions, losses and the ISA in use (values checked against plain NumPy)."""

from __future__ import annotations

import subprocess
import sys

import logitkit as lk
import numpy as np


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
