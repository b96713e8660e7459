"""The repository refers only to itself.

Two checks over every tracked text file (``git ls-files`` in a git checkout; otherwise every file
under the source tree, minus build outputs and caches):

- no absolute path of a machine: a home or work directory, a temporary directory, a drive letter;
  such a path names one person's computer and means nothing in a clone;
- every ``<name>.md`` or ``<dir>/<name>.md`` it mentions is a file of the repository, found from the
  repository root or from the mentioning file's directory;
- every path it names from a top-level directory of the repository (``tests/...``, ``cpp/...``)
  is a file or directory of the repository;
- every section of a document it names, as a Markdown link ``<doc>#<anchor>`` or as a citation
  ``<doc>, "<Section title>"``, is a heading of that document.

Each hit is reported as ``file:line``. The tests read the source tree next to this file, so they
run wherever the other tests run from a clone (``python -m pytest`` in the clone, as .ci/run and
README.md do, and ``pytest <clone>/tests`` against an installed wheel, as .ci/check_wheel.sh does).
"""

from __future__ import annotations

import functools
import os
import posixpath
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Files that mark ROOT as the source tree of logitkit (not, say, a copy of tests/ alone).
SOURCE_MARKERS = ("pyproject.toml", "CMakeLists.txt", "cpp/include/logitkit/logitkit.hpp")

# Directories that the walk (used without git) skips: build outputs, caches, environments.
SKIP_DIRS = {
    ".git",
    "build",
    "_skbuild",
    "dist",
    "__pycache__",
    ".hypothesis",
    ".pytest_cache",
    ".ruff_cache",
    ".venv",
    "venv",
    ".tox",
    ".nox",
}

# Top-level directories under which a path names one machine's own files: home and work directories,
# temporary directories, mount points, and installation trees whose layout differs between machines.
# The system interfaces that are the same on every Linux machine (/dev/null, /proc/self/...) are not
# in this list and so never match.
_MACHINE_ROOTS = (
    "home",
    "Users",
    "work",
    "tmp",
    "var",
    "root",
    "mnt",
    "media",
    "scratch",
    "private",
    "srv",
    "data",
    "opt",
    "usr",
)

# An absolute path starts a token: the slash is not preceded by a character that would make it the
# inside of a URL, a relative path or a variable (`https://host/tmp/...`, `build/tmp/`, `$HOME/`,
# `~/`, `${dir}/`).
_UNIX_PATH = re.compile(
    r"(?<![\w.~$}\])/:@+-])/(?:" + "|".join(_MACHINE_ROOTS) + r")/[^\s'\"`)<>\]]*"
)
# A file URL always names a local path.
_FILE_URL = re.compile(r"file:/{2,3}[^\s'\"`)<>\]]+")
# A Windows drive with at least one directory (drive letter, colon, backslash, a name, a backslash); not `e:\n` in a format string: the
# drive letter is upper-case and stands alone, and a directory name follows the backslash.
_WINDOWS_PATH = re.compile(r"(?<![\w\\])[A-Z]:\\{1,2}[A-Za-z][^\s'\"`\\]*\\")

# Absolute paths that are the same on every machine the project supports and that the project must
# name. Each entry is a prefix of the whole match; keep the list short and say why each is needed.
ALLOWED_PATHS = (
    # the interpreter lookup of a `#!` line: the portable way to start a script
    "/usr/bin/env",
    # Debian's aarch64 cross-compilation sysroot (package libc6-arm64-cross), which qemu-aarch64 -L
    # needs to run the NEON tests (tests/cpp/run_arm64_qemu.sh, tests/cpp/aarch64-toolchain.cmake)
    "/usr/aarch64-linux-gnu",
    # the install prefix README.md's C++ example chooses; a reader replaces it with their own
    "/opt/logitkit",
)

# `<name>.md` or `<dir>/<name>.md` as a token: not the tail of a URL or of a longer path (a name
# after a slash is part of whatever precedes it), not `<name>.mdx`.
_MD_REF = re.compile(r"(?<![\w/.:-])((?:\.{1,2}/)*(?:[\w.-]+/)*[\w.-]*\w\.md)(?![\w-])")


# A path from a top-level directory: the directory, a slash, and at least one more character; not
# the tail of a longer path or URL, and not a pattern (followed by `*`, `<`, `{` or `$`).
def _tree_path_pattern(top_dirs: set[str]) -> re.Pattern:
    names = "|".join(re.escape(d) for d in sorted(top_dirs))
    return re.compile(r"(?<![\w./:@-])((?:" + names + r")/[\w./-]*[\w])(?![\w*<{$-])(?!/[*<{$])")


def source_tree_present() -> bool:
    return all((ROOT / m).is_file() for m in SOURCE_MARKERS)


def tracked_files() -> list[str]:
    """Paths, relative to ROOT and with forward slashes, of the repository's files."""
    git = shutil.which("git")
    if git and (ROOT / ".git").exists():
        out = subprocess.run(
            [git, "-C", str(ROOT), "ls-files", "-z"],
            capture_output=True,
            check=False,
        )
        if out.returncode == 0 and out.stdout:
            names = [n for n in out.stdout.decode("utf-8").split("\0") if n]
            # a file deleted in the work tree but not yet from the index is not part of the tree
            return sorted(n for n in names if (ROOT / n).is_file())
    names = []
    for dirpath, dirnames, filenames in os.walk(ROOT):
        dirnames[:] = sorted(
            d
            for d in dirnames
            if d not in SKIP_DIRS
            and not d.endswith(".egg-info")
            and not d.startswith("build-")
            and not (Path(dirpath, d) / "pyvenv.cfg").exists()
        )
        rel = Path(dirpath).relative_to(ROOT)
        for f in filenames:
            # a worktree's .git is a file; compiled objects are build outputs
            if f == ".git" or f.endswith((".so", ".pyd", ".pyc", ".o", ".a")):
                continue
            names.append((rel / f).as_posix())
    return sorted(names)


def text_lines(name: str) -> list[str] | None:
    """The file's lines, or None for a binary file (an image, say)."""
    data = (ROOT / name).read_bytes()
    if b"\0" in data:
        return None
    try:
        return data.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        return None


def machine_paths(line: str) -> list[str]:
    """The absolute paths of a machine that one line of text contains."""
    found = []
    for pattern in (_UNIX_PATH, _FILE_URL, _WINDOWS_PATH):
        for m in pattern.finditer(line):
            path = m.group(0)
            if not any(path == a or path.startswith(a + "/") for a in ALLOWED_PATHS):
                found.append(path)
    return found


def md_references(line: str) -> list[str]:
    """The `.md` files that one line of text names."""
    return [m.group(1) for m in _MD_REF.finditer(line)]


def resolves(ref: str, citing_file: str, files: set[str]) -> bool:
    """Whether `ref`, named in `citing_file`, is one of `files` (from the root or the citing file's
    directory)."""
    for base in ("", posixpath.dirname(citing_file)):
        path = posixpath.normpath(posixpath.join(base, ref))
        if path in files:
            return True
    return False


@pytest.fixture(scope="module")
def files() -> list[str]:
    if not source_tree_present():
        pytest.skip(
            f"the source tree is not next to this test file ({ROOT} lacks "
            f"{', '.join(SOURCE_MARKERS)}): nothing to scan"
        )
    names = tracked_files()
    assert "README.md" in names and "tests/test_repository.py" in names, names[:20]
    return names


def top_dirs(files) -> set[str]:
    return {f.split("/", 1)[0] for f in files if "/" in f}


def tree_paths(line: str, pattern: re.Pattern) -> list[str]:
    """The repository paths (from a top-level directory) that one line of text names."""
    return [m.group(1) for m in pattern.finditer(line)]


def path_exists(path: str, files: set[str], dirs: set[str]) -> bool:
    path = posixpath.normpath(path)
    return path in files or path in dirs


def all_dirs(files) -> set[str]:
    dirs = set()
    for f in files:
        d = posixpath.dirname(f)
        while d and d not in dirs:
            dirs.add(d)
            d = posixpath.dirname(d)
    return dirs


# A Markdown link to a section of a document (or `(#anchor)` within the file) and a citation of a
# section by its title: the document's path, a comma, and the title in double quotes, on one line.
_MD_ANCHOR = re.compile(r"\]\(((?:[\w.-]+/)*[\w.-]+\.md)?#([\w-]+)\)")
_MD_SECTION = re.compile(r"((?:[\w.-]+/)*[\w.-]*\w\.md), \"([^\"]+)\"")
_HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$")


@functools.cache
def headings(name: str) -> tuple[str, ...]:
    """The titles of a Markdown file's headings, outside fenced code blocks."""
    titles, fenced = [], False
    for line in text_lines(name) or ():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced and (m := _HEADING.match(line)):
            titles.append(m.group(1))
    return tuple(titles)


def slug(title: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation other than `-` and `_` dropped,
    spaces as `-`."""
    return re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")


def missing_sections(name: str, line: str, files: set[str]) -> list[str]:
    """The sections that one line of `name` links to or cites and that its document lacks."""
    found = []

    def target(ref):
        if not ref:
            return name
        for base in ("", posixpath.dirname(name)):
            path = posixpath.normpath(posixpath.join(base, ref))
            if path in files:
                return path
        return None  # a missing document: the reference test reports it

    for m in _MD_ANCHOR.finditer(line):
        doc = target(m.group(1))
        if doc and doc.endswith(".md") and m.group(2) not in {slug(h) for h in headings(doc)}:
            found.append(m.group(0))
    for m in _MD_SECTION.finditer(line):
        doc = target(m.group(1))
        if doc and m.group(2) not in headings(doc):
            found.append(m.group(0))
    return found


def _scan(files, finder):
    hits = []
    for name in files:
        lines = text_lines(name)
        for number, line in enumerate(lines or (), start=1):
            for found in finder(name, line):
                hits.append(f"{name}:{number}: {found}")
    return hits


def test_no_absolute_path_of_a_machine(files):
    hits = _scan(files, lambda name, line: machine_paths(line))
    assert not hits, "absolute paths of a machine:\n" + "\n".join(hits)


def test_every_md_reference_is_a_file_of_the_repository(files):
    present = set(files)
    hits = _scan(
        files,
        lambda name, line: [r for r in md_references(line) if not resolves(r, name, present)],
    )
    assert not hits, "references to .md files that are not in the repository:\n" + "\n".join(hits)


def test_every_repository_path_named_exists(files):
    present, dirs = set(files), all_dirs(files)
    pattern = _tree_path_pattern(top_dirs(files))
    hits = _scan(
        files,
        lambda name, line: [
            p for p in tree_paths(line, pattern) if not path_exists(p, present, dirs)
        ],
    )
    assert not hits, "paths of files that are not in the repository:\n" + "\n".join(hits)


def test_every_section_named_is_a_heading(files):
    present = set(files)
    hits = _scan(files, lambda name, line: missing_sections(name, line, present))
    assert not hits, "sections that their document does not have:\n" + "\n".join(hits)


def test_the_scan_covers_sources_tests_and_docs(files):
    """The file list is the tree, not a fragment of it: a scan of nothing would pass."""
    assert any(f.startswith("cpp/include/logitkit/") and f.endswith(".hpp") for f in files)
    assert any(f.startswith("python/logitkit/") and f.endswith(".py") for f in files)
    assert any(f.startswith("docs/") and f.endswith(".md") for f in files)
    assert "bench/README.md" in files and "bench/compare.py" in files
    assert not any(f.startswith(("build/", ".git/")) or "/__pycache__/" in f for f in files)


# The matchers themselves, on lines built at run time (a literal machine path in this file would be
# a hit of the scan above).
_H = "/" + "home/alice/logitkit/"
_W = "/" + "work/shared/"
_T = "/" + "tmp/benchvenv/bin/python"


@pytest.mark.parametrize(
    "line",
    [
        f"see {_W}notes",
        f"cp -r x {_T}",
        f'open("{_H}data.csv")',
        "C:" + "\\Users\\alice\\logitkit",
        "file://" + _H + "README",
        f"(`{_H}`)",
        f"'{_H}'",
        f"#   {'/' + 'usr/local/lib/python3.12/site-packages/numpy'}",
        "/" + "Users/alice/x",
    ],
)
def test_machine_paths_are_found(line):
    assert machine_paths(line), line


@pytest.mark.parametrize(
    "line",
    [
        "#!" + "/usr/bin/env python",
        "cmd >/dev/null 2>&1",
        'open("/proc/self/status")',
        "https://example.org/" + "home/index.html",
        "build/" + "tmp/x",
        "$HOME/" + "tmp/x",
        "~/" + "tmp/x",
        "${build}/" + "tmp/x",
        'printf("error:\\n")',
        "qemu-aarch64 -L " + "/usr/aarch64-linux-gnu",
        "--prefix " + "/opt/logitkit",
        "a/b, c/d and x/y",
    ],
)
def test_portable_strings_are_not_machine_paths(line):
    assert machine_paths(line) == [], line


def _example(text: str) -> str:
    """An example line for the matchers: `{md}` stands for the suffix and `{t}`, `{c}` for two
    top-level directories, so that this file names no missing file itself."""
    return text.replace("{md}", ".md").replace("{t}", "tests").replace("{c}", "cpp")


def test_md_references_are_found_and_resolved():
    present = {_example(f) for f in ("README{md}", "docs/numerics{md}", "bench/README{md}")}
    line = _example(
        "numerics{md}, docs/numerics{md}#special-values, [b](../README{md}), bench/README{md}'s, "
        "docs/missing{md}, https://github.com/o/r/blob/main/docs/other{md}, name{md}x, *{md}"
    )
    refs = md_references(line)
    assert refs == [
        _example(r)
        for r in (
            "numerics{md}",
            "docs/numerics{md}",
            "../README{md}",
            "bench/README{md}",
            "docs/missing{md}",
        )
    ]
    missing = [r for r in refs if not resolves(r, _example("{c}/x.hpp"), present)]
    assert missing == [_example("numerics{md}"), _example("docs/missing{md}")]
    # from bench/, a bare README is bench's; from docs/, ../README is the root's
    assert resolves(_example("README{md}"), "bench/compare.py", {_example("bench/README{md}")})
    assert resolves(_example("../README{md}"), _example("docs/x{md}"), {_example("README{md}")})


def test_repository_paths_are_found_and_checked():
    files = {_example(f) for f in ("{t}/test_a.py", "{c}/include/x.hpp", "docs/numerics{md}")}
    pattern = _tree_path_pattern(top_dirs(files))
    line = _example(
        "see {t}/test_a.py and {t}/test_b.py, {c}/include/ and `{c}/src/<isa>/k.cpp`, "
        "{t}/test_*.py, build-bench/{c}/x, https://example.org/{t}/x.py, docs/numerics{md}."
    )
    refs = tree_paths(line, pattern)
    assert refs == [
        _example(r) for r in ("{t}/test_a.py", "{t}/test_b.py", "{c}/include", "docs/numerics{md}")
    ]
    missing = [r for r in refs if not path_exists(r, files, all_dirs(files))]
    assert missing == [_example("{t}/test_b.py")]


def test_sections_are_found_and_checked(tmp_path, monkeypatch):
    doc = _example("docs/n{md}")
    (tmp_path / "docs").mkdir()
    (tmp_path / doc).write_text(
        "# Numerics\n## Special values and lane isolation\n```\n## not a heading\n```\n"
        "### Row-wise functions: softmax, log_softmax\n"
    )
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    headings.cache_clear()
    files = {doc}
    assert (
        slug("Row-wise functions: softmax, log_softmax") == "row-wise-functions-softmax-log_softmax"
    )
    good = _example(
        '[a](docs/n{md}#special-values-and-lane-isolation), (docs/n{md}, "Special values and lane '
        'isolation"), [b](n{md}#row-wise-functions-softmax-log_softmax), [c](#numerics)'
    )
    assert missing_sections(doc, good, files) == []
    bad = _example('[a](docs/n{md}#special-values), docs/n{md}, "not a heading", [c](#nothing)')
    assert len(missing_sections(doc, bad, files)) == 3
