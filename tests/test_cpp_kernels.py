"""Builds the C++ kernel tests (tests/cpp, CMake) and runs them: every ISA of this CPU against a
long double reference and the numerics.md bounds, through the C++ API alone (no Python)."""

from __future__ import annotations

import pathlib
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_cpp_kernel_tests(tmp_path):
    cmake = shutil.which("cmake")
    if cmake is None:
        pytest.fail("cmake is needed to build the C++ tests (it is in the [test] extras)")
    build = tmp_path / "build"
    subprocess.run(
        [
            cmake,
            "-S",
            str(ROOT),
            "-B",
            str(build),
            "-DCMAKE_BUILD_TYPE=Release",
            "-DLOGITKIT_BUILD_TESTS=ON",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    subprocess.run(
        [cmake, "--build", str(build), "-j", "2", "--target", "logitkit_test_kernels"],
        check=True,
        capture_output=True,
        text=True,
    )
    exe = build / "tests" / "cpp" / "logitkit_test_kernels"
    r = subprocess.run([str(exe)], capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "all kernel tests passed" in r.stdout
