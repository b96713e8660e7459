"""Every Python example of README.md runs, and prints what the README says it prints.

The README's ```python blocks are doctest sessions, run in order in one namespace (as a reader
would type them into one interpreter). A printed number matches when it agrees with the README's
to the digits the README shows (``0.349`` stands for 0.3490122...); NumPy scalar wrappers
(``np.float64(...)``) and spacing are ignored, everything else must match exactly.
"""

from __future__ import annotations

import doctest
import math
import pathlib
import re
import shutil
import subprocess
import warnings

import logitkit as lk
import numpy as np
import pytest

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"

_NUMBER = re.compile(r"(?<![\w.])[-+]?(?:nan|inf|(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?)(?![\w.])")
_SCALAR = re.compile(r"np\.(?:float|int|uint|bool|complex)\w*\(([^()]*)\)")


def python_blocks(text: str) -> list[tuple[int, str]]:
    """(line number, source) of each ```python block."""
    blocks, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        if lines[i].strip() == "```python":
            start, body = i + 1, []
            i += 1
            while lines[i].strip() != "```":
                body.append(lines[i])
                i += 1
            blocks.append((start + 1, "\n".join(body) + "\n"))
        i += 1
    return blocks


def _numbers_agree(want: str, got: str) -> bool:
    w = float(want)
    g = float(got)
    if math.isnan(w) or math.isinf(w) or re.fullmatch(r"[-+]?\d+", want):
        return (math.isnan(w) and math.isnan(g)) or w == g
    mant, _, exp = want.lower().partition("e")
    decimals = len(mant.partition(".")[2])
    half_unit = 0.5 * 10.0 ** (-decimals + (int(exp) if exp else 0))
    return abs(g - w) <= half_unit * (1 + 1e-9)


class ShownDigits(doctest.OutputChecker):
    """Numbers agree to the digits shown; text outside the numbers agrees exactly, spaces aside."""

    def check_output(self, want: str, got: str, optionflags: int) -> bool:
        if super().check_output(want, got, optionflags):
            return True
        want_s = re.sub(r"\s+", "", _SCALAR.sub(r"\1", want))
        got_s = re.sub(r"\s+", "", _SCALAR.sub(r"\1", got))
        if _NUMBER.sub("#", want_s) != _NUMBER.sub("#", got_s):
            return False
        w, g = _NUMBER.findall(want_s), _NUMBER.findall(got_s)
        return len(w) == len(g) and all(_numbers_agree(a, b) for a, b in zip(w, g))


def test_the_readme_has_python_examples():
    blocks = python_blocks(README.read_text(encoding="utf-8"))
    assert len(blocks) >= 2
    for line, src in blocks:
        assert src.lstrip().startswith(">>>"), f"README.md:{line}: write the block as a session"


def test_readme_examples_print_what_the_readme_says():
    text = README.read_text(encoding="utf-8")
    parser, globs = doctest.DocTestParser(), {}
    runner = doctest.DocTestRunner(checker=ShownDigits(), optionflags=doctest.ELLIPSIS)
    failures = []
    for line, src in python_blocks(text):
        test = parser.get_doctest(src, globs, f"README.md:{line}", str(README), line)
        out: list[str] = []
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # an example must not warn
            result = runner.run(test, out=out.append, clear_globs=False)
        globs = test.globs
        if result.failed:
            failures.append("".join(out))
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize(
    "want, got, same",
    [
        ("0.349", "np.float64(0.3490122167681864)", True),
        ("0.349", "0.3496", False),
        ("array([0.705, 0.259])", "array([0.70538451, 0.25949646])", True),
        ("array([0.705, 0.259])", "array([0.70538451, 0.26049646])", False),
        ("array([0.705, 0.259])", "array([0.70538451, 0.25949646, 0.1])", False),
        ("array([0.705], dtype=float32)", "array([0.7053845], dtype=float64)", False),
        ("0", "np.int64(0)", True),
        ("0", "np.int64(1)", False),
        ("array([ True, False])", "array([True,  False])", True),
        ("array([ True, False])", "array([True,  True])", False),
        ("1e-16", "1.0000000000000001e-16", True),
        ("2.5e-16", "2.6e-16", False),
        ("nan", "np.float64(nan)", True),
    ],
)
def test_the_checker_itself(want, got, same):
    assert ShownDigits().check_output(want + "\n", got + "\n", 0) is same


def test_numbers_in_words_are_compared_too():
    assert not ShownDigits().check_output("shape (3, 4)\n", "shape (3, 5)\n", 0)
    assert ShownDigits().check_output("shape (3, 4)\n", "shape (3, 4)\n", 0)


def _cpp_block(text: str) -> str:
    (block,) = re.findall(r"```cpp\n(.*?)```", text, flags=re.DOTALL)
    return block


def test_readme_cpp_example_compiles_links_and_computes(tmp_path):
    """The README's C++ example, wrapped in main() with N = 3 rows of C = 4 zero logits, built
    against the installed package (headers and static library): softmax gives 1/4 everywhere and
    the mean cross-entropy is log 4 whatever the label and the smoothing."""
    cxx = shutil.which("c++") or shutil.which("g++") or shutil.which("clang++")
    if cxx is None:
        pytest.skip("no C++ compiler on PATH (the C++ API's own tests need one too)")
    block = _cpp_block(README.read_text(encoding="utf-8"))
    head = [ln for ln in block.splitlines() if ln.startswith(("#include", "namespace"))]
    body = [ln for ln in block.splitlines() if ln not in head]
    src = "\n".join(
        ["#include <cmath>", "#include <cstdint>", "#include <cstdio>", "#include <vector>"]
        + head
        + ["int main() {", "const std::size_t N = 3, C = 4;"]
        + body
        + [
            'std::printf("%.9g %.9g %.9g\\n", probs[0], probs[N * C - 1], loss);',
            "return s ? 0 : 1;",
            "}",
        ]
    )
    (tmp_path / "example.cpp").write_text(src)
    lib = pathlib.Path(lk.__file__).resolve().parent / "lib" / "liblogitkit.a"
    exe = tmp_path / "example"
    cmd = [cxx, "-std=c++17", "-O1", f"-I{lk.include_dir()}", str(tmp_path / "example.cpp")]
    build = subprocess.run(
        cmd + [str(lib), "-lpthread", "-o", str(exe)], check=False, capture_output=True, text=True
    )
    assert build.returncode == 0, build.stderr[-3000:]
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.split()
    p0, p_last, loss = (float(v) for v in out)
    assert p0 == p_last == 0.25
    assert abs(loss - math.log(4.0)) <= 2 * np.spacing(np.float32(math.log(4.0)))
