"""One namespace per ISA (cpp/include/logitkit/simd/isa_namespace.hpp): no two per-ISA object files
may define one weak symbol, or the linker keeps one copy for every ISA, and code compiled with
AVX-512 flags may run on a CPU without AVX-512.

Compiles each cpp/src/kernels/<isa>/kernels.cpp of this machine's architecture with its ISA's flags
(those of CMakeLists.txt) at -O0, where the compiler emits every inline function it uses out of line
(the worst case: at -O2 most are inlined and a shared symbol can hide), and lists the weak and
unique symbols (nm types W, V, u) that more than one object defines.

Run as a script with another source tree as argument to check that tree:
    python tests/test_isa_symbols.py /path/to/logitkit
"""

from __future__ import annotations

import collections
import concurrent.futures
import os
import pathlib
import platform
import shutil
import subprocess
import sys
import tempfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]

# Per-ISA flags as in CMakeLists.txt (GCC and Clang spelling).
X86_ISAS = {
    "scalar": [],
    "sse2": [],
    "avx2": ["-mavx2", "-mfma", "-mf16c"],
    "avx512": ["-mavx512f", "-mavx512dq", "-mavx512bw", "-mavx512vl", "-mavx2", "-mfma", "-mf16c"],
}
ARM_ISAS = {"scalar": [], "neon": []}

# Shared, and allowed: a data word holding the address of the C++ personality routine (exception
# handling), the same value in every object; no code of any ISA.
ALLOWED = {"DW.ref.__gxx_personality_v0"}


def isas() -> dict[str, list[str]]:
    machine = platform.machine().lower()
    if machine in ("x86_64", "amd64"):
        return X86_ISAS
    if machine in ("aarch64", "arm64"):
        return ARM_ISAS
    return {"scalar": []}


def tools() -> tuple[str, str] | None:
    cxx = (
        os.environ.get("CXX")
        or shutil.which("c++")
        or shutil.which("g++")
        or shutil.which("clang++")
    )
    nm = shutil.which("nm")
    if cxx is None or nm is None:
        return None
    return cxx, nm


def compile_objects(root: pathlib.Path, out: pathlib.Path, cxx: str) -> dict[str, pathlib.Path]:
    def one(isa: str, flags: list[str]) -> tuple[str, pathlib.Path]:
        obj = out / f"{isa}.o"
        cmd = [
            cxx,
            "-std=c++17",
            "-O0",
            "-ffp-contract=off",
            "-fno-math-errno",
            "-fPIC",
            f"-I{root / 'cpp' / 'include'}",
            *flags,
            "-c",
            str(root / "cpp" / "src" / "kernels" / isa / "kernels.cpp"),
            "-o",
            str(obj),
        ]
        r = subprocess.run(cmd, capture_output=True, text=True, check=False)
        assert r.returncode == 0, f"{' '.join(cmd)} failed:\n{r.stderr[-4000:]}"
        return isa, obj

    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as ex:
        return dict(ex.map(lambda kv: one(*kv), isas().items()))


def shared_weak_symbols(objects: dict[str, pathlib.Path], nm: str) -> dict[str, list[str]]:
    """Mangled name -> the ISAs whose object defines it as a weak or unique symbol (W, V, u)."""
    where: dict[str, set[str]] = collections.defaultdict(set)
    for isa, obj in objects.items():
        r = subprocess.run(
            [nm, "--defined-only", str(obj)], capture_output=True, text=True, check=True
        )
        for line in r.stdout.splitlines():
            parts = line.split()
            if len(parts) >= 3 and parts[-2] in ("W", "V", "u"):
                where[parts[-1]].add(isa)
    return {name: sorted(s) for name, s in where.items() if len(s) > 1}


def demangle(names: list[str]) -> list[str]:
    cxxfilt = shutil.which("c++filt")
    if cxxfilt is None:
        return names
    r = subprocess.run(
        [cxxfilt], input="\n".join(names), capture_output=True, text=True, check=False
    )
    return r.stdout.splitlines() if r.returncode == 0 else names


def check(root: pathlib.Path) -> list[str]:
    """The offending symbols of the tree at root, demangled, with the ISAs that share them."""
    found = tools()
    assert found is not None
    cxx, nm = found
    with tempfile.TemporaryDirectory() as tmp:
        objects = compile_objects(root, pathlib.Path(tmp), cxx)
        assert len(objects) >= 2 or len(isas()) < 2
        shared = {k: v for k, v in shared_weak_symbols(objects, nm).items() if k not in ALLOWED}
    names = sorted(shared)
    return [f"{d}  [{', '.join(shared[n])}]" for n, d in zip(names, demangle(names))]


def test_no_weak_symbol_is_shared_between_isa_objects():
    if tools() is None:
        pytest.skip("needs a C++ compiler (c++, g++ or clang++, or $CXX) and nm")
    if len(isas()) < 2:
        pytest.skip(f"one ISA object on {platform.machine()}: nothing to share")
    bad = check(ROOT)
    assert not bad, "weak symbols defined by more than one ISA object:\n" + "\n".join(bad[:50])


def header_only_offenders(root: pathlib.Path) -> list[str]:
    """Header-only mode (header_only.hpp): the C++ API test compiled with this machine's widest ISA
    flags; the kernels, the vector types and the API's functions must all lie in that ISA's
    logitkit::header_only_<isa> namespace, and no namespace may be an unexpanded LOGITKIT_ macro."""
    found = tools()
    assert found is not None
    cxx, nm = found
    isa, flags = list(isas().items())[-1]
    with tempfile.TemporaryDirectory() as tmp:
        obj = pathlib.Path(tmp) / "api_headers.o"
        cmd = [
            cxx,
            "-std=c++17",
            "-O0",
            "-DLOGITKIT_HEADER_ONLY",
            "-ffp-contract=off",
            "-fno-math-errno",
            f"-I{root / 'cpp' / 'include'}",
            *flags,
            "-c",
            str(root / "tests" / "cpp" / "test_api.cpp"),
            "-o",
            str(obj),
        ]
        r = subprocess.run(cmd, capture_output=True, text=True, check=False)
        assert r.returncode == 0, f"{' '.join(cmd)} failed:\n{r.stderr[-4000:]}"
        r = subprocess.run(
            [nm, "-C", "--defined-only", str(obj)], capture_output=True, text=True, check=True
        )
    bad = []
    for line in r.stdout.splitlines():
        name = line.split(" ", 2)[-1]
        if "LOGITKIT_" in name or (
            any(f"::{ns}::" in name for ns in ("kernels", "simd", "math"))
            and f"logitkit::header_only_{isa}::" not in name
        ):
            bad.append(name)
    return bad


def test_header_only_mode_lives_in_its_isa_namespace():
    if tools() is None:
        pytest.skip("needs a C++ compiler (c++, g++ or clang++, or $CXX) and nm")
    bad = header_only_offenders(ROOT)
    assert not bad, "header-only symbols outside logitkit::header_only_<isa>:\n" + "\n".join(
        bad[:50]
    )


if __name__ == "__main__":
    tree = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT
    offenders = check(tree) + header_only_offenders(tree)
    print("\n".join(offenders))
    print(f"{len(offenders)} offending symbols in {tree}")
    sys.exit(1 if offenders else 0)
