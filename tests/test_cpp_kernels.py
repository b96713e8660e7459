"""Builds the C++ tests (tests/cpp, CMake) and runs them with ctest: the kernels on every ISA of
this CPU against a long double reference and the bounds of docs/numerics.md ("The bounds"); the
kernels' double-lane log against long double (header-only); the public C++ API (logitkit.hpp)
against known values, through the compiled library and header-only; the example program; and the consumer projects that build against an installed tree
(find_package) and the source tree (add_subdirectory). No Python is involved in what they test."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
CONFIG = "Release"


def cmake_tools() -> tuple[str, str]:
    cmake = shutil.which("cmake")
    if cmake is None:
        pytest.fail("cmake is needed to build the C++ tests (it is in the [test] extras)")
    ctest = shutil.which("ctest", path=str(pathlib.Path(cmake).parent)) or shutil.which("ctest")
    if ctest is None:
        pytest.fail("ctest is needed to run the C++ tests (it comes with cmake)")
    return cmake, ctest


def generator_args() -> list[str]:
    """Ninja when it is installed (faster, single-config); else CMake's default generator."""
    return ["-G", "Ninja"] if shutil.which("ninja") else []


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    r = subprocess.run(cmd, capture_output=True, text=True, check=False, **kw)
    assert r.returncode == 0, f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}"
    return r


@pytest.fixture(scope="module")
def cpp_build(tmp_path_factory) -> pathlib.Path:
    cmake, _ = cmake_tools()
    build = tmp_path_factory.mktemp("cpp") / "build"
    run(
        [cmake, "-S", str(ROOT), "-B", str(build), f"-DCMAKE_BUILD_TYPE={CONFIG}"]
        + generator_args()
        + ["-DLOGITKIT_BUILD_TESTS=ON", "-DLOGITKIT_BUILD_PYTHON=OFF"]
    )
    run([cmake, "--build", str(build), "--config", CONFIG, "--parallel", "2"])
    return build


def ctest(build: pathlib.Path, regex: str) -> str:
    _, ctest_exe = cmake_tools()
    r = subprocess.run(
        [ctest_exe, "-C", CONFIG, "-R", regex, "--output-on-failure", "-V"],
        cwd=build,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "LOGITKIT_SIMD": ""},
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "No tests were found" not in r.stdout, r.stdout
    return r.stdout


def test_cpp_kernel_tests(cpp_build):
    out = ctest(cpp_build, "^kernels$")
    assert "all kernel tests passed" in out


def test_cpp_math_tests(cpp_build):
    out = ctest(cpp_build, "^math$")
    assert "all math tests passed" in out


def test_cpp_api_dispatched(cpp_build):
    out = ctest(cpp_build, "^api$")
    assert "all API tests passed" in out
    assert "dispatched scalar" in out


def test_cpp_api_header_only(cpp_build):
    out = ctest(cpp_build, "^api_headers")
    assert "header-only" in out
    assert "all API tests passed" in out


def test_cpp_example(cpp_build):
    out = ctest(cpp_build, "^example$")
    assert "mean cross-entropy" in out


def test_cpp_consumer_of_the_installed_tree(cpp_build):
    out = ctest(cpp_build, "^consumer_installed$")
    assert "find_package compiled consumer: kernels" in out
    assert "find_package header-only consumer: kernels" in out


def test_cpp_consumer_by_add_subdirectory(cpp_build):
    out = ctest(cpp_build, "^consumer_subdirectory$")
    assert "add_subdirectory compiled consumer: kernels" in out
