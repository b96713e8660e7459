#!/usr/bin/env bash
# Wheel portability: build the wheel as a release would, check it with auditwheel (manylinux-
# compatible symbol versions, no external libraries to graft), install it into a fresh virtual
# environment and run the tests against the installed wheel (from outside the source tree, so that
# `import logitkit` can only find the wheel). Run from the CI virtual environment (.ci/run).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
cd "$root"

echo "-- pip wheel"
python -m pip wheel . -w "$work/dist" --no-deps -q
whl="$(ls "$work"/dist/logitkit-*.whl)"
echo "built $(basename "$whl")"

echo "-- auditwheel show"
python -m pip install -q auditwheel
auditwheel show "$whl" | tee "$work/auditwheel.txt"
# A wheel that needs a library outside the manylinux policy is only "consistent with" linux_<arch>.
if ! tr '\n' ' ' <"$work/auditwheel.txt" | grep -Eq 'consistent with the following platform tag: *"manylinux'; then
  echo "auditwheel: the wheel is not manylinux-compatible"
  exit 1
fi

echo "-- contents: the C++ package inside the wheel"
python - "$whl" <<'PY'
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
need = ["logitkit/share/cmake/logitkit/logitkitConfig.cmake",
        "logitkit/share/cmake/logitkit/logitkitConfigVersion.cmake",
        "logitkit/share/cmake/logitkit/logitkitTargets.cmake",
        "logitkit/include/logitkit/logitkit.hpp"]
missing = [n for n in need if n not in names]
libs = [n for n in names if n.startswith("logitkit/lib/") and "logitkit" in n.rsplit("/", 1)[1]]
if missing or not libs:
    sys.exit(f"missing from the wheel: {missing or 'the static library'}")
print(f"{len(names)} files; CMake package, headers and {libs[0]} present")
PY

echo "-- fresh virtual environment with the wheel, the tests run against it"
python3 -m venv "$work/fresh"
"$work/fresh/bin/python" -m pip install -q --upgrade pip
"$work/fresh/bin/python" -m pip install -q "${whl}[test]"
cd "$work"
"$work/fresh/bin/python" - "$work/fresh" <<'PY'
import pathlib, sys
import logitkit
where = pathlib.Path(logitkit.__file__).resolve()
assert pathlib.Path(sys.argv[1]).resolve() in where.parents, f"logitkit imported from {where}"
print(f"logitkit {logitkit.__version__} imported from {where.parent}")
PY
# The C++ source-tree tests (test_cpp_kernels.py) do not involve the wheel and ran in the main job;
# test_cpp_package.py builds against this wheel's CMake package and checks its static library.
"$work/fresh/bin/python" -m pytest "$root/tests" -q -p no:cacheprovider \
  --ignore="$root/tests/test_cpp_kernels.py"
