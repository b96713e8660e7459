"""Mutation testing of the Python layer (python/logitkit) with mutmut; docs/testing.md explains it.

    python tests/mutation.py [--sample N] [--seed S] [--module GLOB] [--jobs J] [--keep DIR]

mutmut changes one thing at a time in python/logitkit (a comparison flipped, a constant changed, an
argument dropped, ...) and runs the tests that reach the changed function; a change that no test
notices "survives". This script

1. stages a copy of the package as src/logitkit (mutmut finds packages under ./ or src/ only),
   with the installed build's compiled extension beside it, and a copy of tests/;
2. writes mutmut's configuration there: the test files below (the ones that exercise the Python
   layer; the kernel, ISA and build tests do not, and would only make each mutant slower);
3. runs `mutmut run` on every mutant (the default: about 11,000, hours on 2 cores), on one module
   (--module 'logitkit._calibration*'), or on a seeded random sample (--sample 600);
4. prints the score (killed / all mutants run; timeouts count as killed, mutmut stops a mutant that
   runs past its time limit; a mutant no selected test reaches counts as a survivor) per module,
   and writes the survivors' diffs to <staging>/survivors.txt.

Needs the package installed (pip install .[test]) and mutmut (pip install .[mutation]). Not part of
the test suite or CI: a run is minutes to hours, and its number goes into docs/testing.md by hand.
"""

from __future__ import annotations

import argparse
import collections
import pathlib
import random
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent

# The tests that exercise python/logitkit: its verbs, options, validation and messages.
TESTS = [
    "test_entry_points.py",
    "test_multiclass.py",
    "test_multilabel.py",
    "test_calibration.py",
    "test_errors.py",
    "test_loss_errors.py",
    "test_diagnostics.py",
    "test_top_k.py",
    "test_sample.py",
    "test_penalties.py",
    "test_divergence.py",
    "test_binary_divergence.py",
    "test_distillation.py",
    "test_dtypes.py",
    "test_layouts.py",
    "test_loss_layouts.py",
    "test_loss_temperature.py",
    "test_grad_hess_boosting.py",
    "test_special_values.py",
    "test_loss_special_values.py",
    "test_driver.py",
    "test_dask.py",
    "test_demo.py",
]

# Tests that assert a warning names the user's line: mutmut's trampolines add frames between the
# package's functions, so the line named is one of the package's own under mutation (not a mutant's
# doing). They run in the suite.
DESELECT = [
    "tests/test_multiclass.py::test_probabilities_passed_as_logits_warn",
    "tests/test_multilabel.py::test_probabilities_passed_as_logits_warn",
    "tests/test_diagnostics.py::test_probabilities_warning_points_at_the_caller",
    "tests/test_diagnostics.py::test_calibration_warning_points_at_the_caller",
]

CONFIG = """\
[tool.pytest.ini_options]
testpaths = ["tests"]
filterwarnings = ["error"]

[tool.mutmut]
source_paths = ["src/logitkit/"]
pytest_add_cli_args_test_selection = {tests}
pytest_add_cli_args = {deselect}
also_copy = {also}
# each mutant's process comes from a server that has not run the tests: forked from the process that
# did, a worker inherited locks other threads held at the fork (a progress thread, the pool's
# threads) and could wait on them forever, unseen by mutmut's CPU-time limit
process_isolation = "forkserver"
"""


def stage(where: pathlib.Path) -> None:
    import logitkit  # the installed build: its compiled extension goes beside the copied sources

    installed = pathlib.Path(logitkit.__file__).parent
    pkg = where / "src" / "logitkit"
    shutil.copytree(ROOT / "python" / "logitkit", pkg, ignore=shutil.ignore_patterns("__pycache__"))
    also = []
    for f in installed.iterdir():
        if f.name.startswith("_core.") and f.suffix in (".so", ".pyd", ".pyi"):
            shutil.copy2(f, pkg / f.name)
            also.append(f"src/logitkit/{f.name}")
    if not any(a.endswith((".so", ".pyd")) for a in also):
        sys.exit(
            f"no compiled extension next to {installed}: install the package first (pip install .)"
        )
    shutil.copytree(
        ROOT / "tests", where / "tests", ignore=shutil.ignore_patterns("__pycache__", "cpp")
    )
    tests = [f"tests/{t}" for t in TESTS]
    deselect = [a for t in DESELECT for a in ("--deselect", t)]
    (where / "pyproject.toml").write_text(
        CONFIG.format(tests=_toml(tests), deselect=_toml(deselect), also=_toml(also))
    )


def _toml(strings: list[str]) -> str:
    return "[" + ", ".join(f'"{v}"' for v in strings) + "]"


def statuses(where: pathlib.Path) -> dict[str, str]:
    """Every mutant's name and status ("killed", "survived", "no tests", "not checked", ...)."""
    out = subprocess.run(
        check=False,
        args=[sys.executable, "-m", "mutmut", "results", "--all", "true"],
        cwd=where,
        capture_output=True,
        text=True,
    ).stdout
    res = {}
    for line in out.splitlines():
        m = re.match(r"\s*(\S+__mutmut_\d+): (.+)$", line)
        if m:
            res[m.group(1)] = m.group(2).strip()
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--sample", type=int, default=0, help="run a random sample of this many mutants"
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--module", default="", help="mutmut's name glob, e.g. 'logitkit._calibration*'"
    )
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--keep", type=pathlib.Path, default=None, help="staging directory (kept)")
    a = ap.parse_args()

    where = a.keep or pathlib.Path(tempfile.mkdtemp(prefix="logitkit-mutation-"))
    if not (where / "src").exists():
        where.mkdir(parents=True, exist_ok=True)
        stage(where)
    base = [sys.executable, "-m", "mutmut", "run", "--max-children", str(a.jobs)]
    if a.sample:
        # generate the mutants (a run over nothing matching), then pick the sample by name
        subprocess.run(
            check=False, args=base + ["logitkit.no_such_module*"], cwd=where, capture_output=True
        )
        names = list(statuses(where))
        if a.module:
            names = [n for n in names if pathlib.PurePath(n).match(a.module)]
        chosen = sorted(random.Random(a.seed).sample(names, min(a.sample, len(names))))
        for i in range(0, len(chosen), 200):  # keep each command line short
            subprocess.run(check=False, args=base + chosen[i : i + 200], cwd=where)
    else:
        subprocess.run(check=False, args=base + ([a.module] if a.module else []), cwd=where)

    st = statuses(where)
    per = collections.defaultdict(collections.Counter)
    for name, s in st.items():
        if s in ("killed", "survived", "timeout", "no tests"):
            # a mutant no selected test reaches is not caught: it counts as a survivor
            per[name.split(".x")[0]]["survived" if s == "no tests" else s] += 1
    total = collections.Counter()
    print(f"\n{'module':<32} {'killed':>7} {'survived':>9} {'timeout':>8} {'score':>7}")
    for mod in sorted(per):
        c = per[mod]
        total.update(c)
        n = c["killed"] + c["timeout"] + c["survived"]
        print(
            f"{mod:<32} {c['killed']:>7} {c['survived']:>9} {c['timeout']:>8} {(c['killed'] + c['timeout']) / n:>7.1%}"
        )
    n = total["killed"] + total["timeout"] + total["survived"]
    if n:
        print(
            f"{'all':<32} {total['killed']:>7} {total['survived']:>9} {total['timeout']:>8} {(total['killed'] + total['timeout']) / n:>7.1%}"
        )
    survivors = sorted(k for k, s in st.items() if s in ("survived", "no tests"))
    with open(where / "survivors.txt", "w") as f:
        for name in survivors:
            diff = subprocess.run(
                check=False,
                args=[sys.executable, "-m", "mutmut", "show", name],
                cwd=where,
                capture_output=True,
                text=True,
            ).stdout
            f.write(f"# {name}\n{diff}\n")
    print(f"{len(survivors)} survivors, their diffs: {where / 'survivors.txt'}")


if __name__ == "__main__":
    main()
