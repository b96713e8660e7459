"""The C++ package inside the installed wheel: a CMake project builds against it through
``python -m logitkit --cmake-dir`` and through the ``cmake.root`` entry point (what scikit-build-core
hands to projects that depend on logitkit), and the compiled code in it uses AVX instructions only in
the dispatched AVX2/AVX-512 kernels (no -march=native anywhere else)."""

from __future__ import annotations

import importlib
import importlib.metadata
import pathlib
import platform
import re
import shutil
import subprocess
import sys

import logitkit
import pytest
from test_cpp_kernels import ROOT, cmake_tools, run

CHECK = ROOT / "tests" / "cpp" / "consumers" / "check.cmake"
PACKAGE = pathlib.Path(logitkit.__file__).resolve().parent


def consumer(tmp_path: pathlib.Path, mode: str, define: str, headers: bool = True) -> str:
    cmake, _ = cmake_tools()
    args = [cmake, f"-DMODE={mode}", define, f"-DWORK={tmp_path / mode}", "-DCONFIG=Release"]
    args.append(f"-DHEADERS={'ON' if headers else 'OFF'}")
    if shutil.which("ninja"):
        args.append("-DGENERATOR=Ninja")
    r = run(args + ["-P", str(CHECK)])
    return r.stdout + r.stderr


def test_cmake_dir_from_the_command_line():
    r = run([sys.executable, "-m", "logitkit", "--cmake-dir"])
    path = pathlib.Path(r.stdout.strip())
    assert path == pathlib.Path(logitkit.cmake_dir())
    assert (path / "logitkitConfig.cmake").is_file()
    assert (path / "logitkitConfigVersion.cmake").is_file()
    assert (pathlib.Path(logitkit.include_dir()) / "logitkit" / "logitkit.hpp").is_file()


def test_cmake_dir_of_an_installation_without_the_package(tmp_path, monkeypatch):
    """An installation that carries no CMake package (built with it switched off) says so, naming
    the folder it looked in, instead of returning a path CMake would then fail on."""
    from logitkit import _cmake

    monkeypatch.setattr(_cmake, "_HERE", tmp_path)
    with pytest.raises(FileNotFoundError) as e:
        logitkit.cmake_dir()
    where = tmp_path / "share" / "cmake" / "logitkit"
    assert str(e.value) == (
        f"no logitkitConfig.cmake under {where}: this logitkit installation carries no CMake package"
    )
    assert logitkit.include_dir() == str(tmp_path / "include")


def test_consumer_of_the_wheel_cmake_dir(tmp_path):
    out = consumer(tmp_path, "package_dir", f"-Dlogitkit_DIR={logitkit.cmake_dir()}")
    assert "find_package compiled consumer: kernels" in out
    assert "find_package header-only consumer: kernels" in out


def test_consumer_through_the_cmake_root_entry_point(tmp_path):
    # scikit-build-core sets <name>_ROOT to the folder of the entry point's module
    (ep,) = [e for e in importlib.metadata.entry_points(group="cmake.root") if e.name == "logitkit"]
    root = pathlib.Path(importlib.import_module(ep.value).__file__).resolve().parent
    assert root == PACKAGE
    out = consumer(tmp_path, "root", f"-Dlogitkit_ROOT={root}", headers=False)
    assert "find_package compiled consumer: kernels" in out


def _functions_with_avx(path: pathlib.Path) -> dict[str, str]:
    """Function name -> an AVX instruction in it, from objdump's disassembly."""
    out = subprocess.run(
        ["objdump", "-d", "--no-show-raw-insn", "-C", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found: dict[str, str] = {}
    func = None
    for line in out.splitlines():
        m = re.match(r"^[0-9a-f]+ <(.*)>:$", line)
        if m:
            func = m.group(1)
            continue
        m = re.match(r"^\s+[0-9a-f]+:\s+(\S+)\s*(.*)$", line)
        if m and func is not None and func not in found:
            mnemonic, operands = m.groups()
            vex = mnemonic.startswith("v") and mnemonic not in ("verr", "verw")
            if vex or "%ymm" in operands or "%zmm" in operands:
                found[func] = f"{mnemonic} {operands}"
    return found


@pytest.mark.skipif(
    platform.machine().lower() not in ("x86_64", "amd64") or sys.platform != "linux",
    reason="x86-64 Linux (objdump on an ELF static library)",
)
def test_avx_only_in_the_dispatched_kernels():
    if shutil.which("objdump") is None:
        pytest.skip("objdump (binutils) is not installed")
    # The static library keeps every symbol (the stripped extension module does not): the code that
    # must run on any x86-64 CPU (dispatch, the scalar and SSE2 kernels) holds no AVX instruction, so
    # nothing was built with -march=native and no AVX copy of a shared inline function was kept.
    libs = list((PACKAGE / "lib").glob("*logitkit*.a"))
    assert libs, f"no static library under {PACKAGE / 'lib'}"
    found = _functions_with_avx(libs[0])
    assert found, "no AVX code at all: the AVX2/AVX-512 kernels are missing"
    outside = {f: i for f, i in found.items() if "avx2" not in f and "avx512" not in f}
    assert not outside, "AVX instructions outside the dispatched kernels:\n" + "\n".join(
        f"{f[:160]}: {i}" for f, i in list(outside.items())[:20]
    )
