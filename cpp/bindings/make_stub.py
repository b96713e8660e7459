"""Writes the type stub of logitkit._core from the kernel list.

Usage: make_stub.py LIST_HPP TEMPLATE OUTPUT

LIST_HPP is cpp/include/logitkit/kernels/list.hpp; its LOGITKIT_KERNEL_LIST macro is read here
(one call KIND(arg, ...) per entry) and each entry becomes the stub lines of the ufuncs and
functions the bindings register for it (cpp/bindings/register_list.cpp, register_losses.cpp).
TEMPLATE (cpp/bindings/_core.pyi.in) holds the functions that are not in the list; the line
``@KERNEL_LIST@`` in it is replaced by the generated lines. Run by CMake at build time; the
result is installed as logitkit/_core.pyi.
"""

from __future__ import annotations

import re
import sys

KINDS = ("UNARY", "BINARY", "ROW", "REDUCE", "ROW_BINARY", "LOSS", "INTERNAL", "SELECT")


def _macro_body(text: str) -> str:
    """The body of ``#define LOGITKIT_KERNEL_LIST(...)``, continuation lines joined."""
    start = text.index("#define LOGITKIT_KERNEL_LIST(")
    lines = []
    for line in text[start:].splitlines():
        cont = line.rstrip().endswith("\\")
        lines.append(line.rstrip().rstrip("\\"))
        if not cont:
            break
    body = "\n".join(lines)
    return body[body.index(")") + 1 :]


def _split_args(s: str, i: int) -> tuple[list[str], int]:
    """The top-level comma-separated arguments of the call whose '(' is at s[i]; the index after
    its ')'."""
    args, depth, cur, j = [], 0, [], i + 1
    while j < len(s):
        c = s[j]
        if c == '"':
            k = j + 1
            while s[k] != '"':
                k += 2 if s[k] == "\\" else 1
            cur.append(s[j : k + 1])
            j = k + 1
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            if depth == 0:
                args.append("".join(cur).strip())
                return args, j + 1
            depth -= 1
        elif c == "," and depth == 0:
            args.append("".join(cur).strip())
            cur = []
            j += 1
            continue
        cur.append(c)
        j += 1
    raise ValueError("unbalanced parentheses in LOGITKIT_KERNEL_LIST")


def _string(arg: str) -> str | None:
    """A C string argument (adjacent literals joined), or None for nullptr."""
    if arg == "nullptr":
        return None
    parts = re.findall(r'"((?:[^"\\]|\\.)*)"', arg)
    if not parts:
        raise ValueError(f"expected a string literal, got {arg!r}")
    return "".join(parts)


def entries(list_hpp: str) -> list[tuple[str, list[str]]]:
    """(kind, arguments) of every entry of the kernel list, in order."""
    body = _macro_body(list_hpp)
    out, i = [], 0
    pattern = re.compile(r"\b(" + "|".join(KINDS) + r")\s*\(")
    while True:
        m = pattern.search(body, i)
        if not m:
            return out
        args, i = _split_args(body, m.end() - 1)
        out.append((m.group(1), args))


def ufuncs(list_hpp: str) -> list[tuple[str, str, str | None, bool]]:
    """(name, kind, gufunc signature, public) per ufunc, as _core.kernel_list holds them."""
    out = []
    for kind, a in entries(list_hpp):
        name = a[0]
        if kind in ("UNARY", "BINARY"):
            out.append((name, kind.lower(), None, True))
        elif kind == "ROW":
            out += [
                (name, "row", "(n)->(n)", True),
                (name + "_ext", "row_ext", "(n),(n),()->(n)", True),
            ]
        elif kind == "REDUCE":
            out += [
                (name, "reduce", "(n)->()", True),
                (name + "_ext", "reduce_ext", "(n),(n),()->()", True),
            ]
        elif kind == "ROW_BINARY":
            out.append((name, "row_binary", "(n),(n)->(n)", True))
        elif kind == "LOSS":
            out += [
                (name, "loss", _string(a[6]), False),
                (name + "_grad", "loss_grad", _string(a[7]), False),
            ]
        elif kind == "INTERNAL":
            out.append(("_" + name, "internal", None, False))
        # SELECT: no ufunc; its binding's stub lines are in the template (_core.pyi.in)
    return out


def stub_lines(list_hpp: str) -> list[str]:
    lines = []
    for name, kind, sig, _ in ufuncs(list_hpp):
        lines.append(f"{name}: np.ufunc  # {kind}" + (f" {sig}" if sig else ""))
        if kind in ("row", "reduce"):
            lines.append(
                f"def {name}_small(x: np.ndarray, out: np.ndarray | None) -> Any | None: ..."
            )
    return lines


def main(argv: list[str]) -> int:
    list_path, template_path, output_path = argv[1:4]
    with open(list_path, encoding="utf-8") as f:
        list_hpp = f.read()
    with open(template_path, encoding="utf-8") as f:
        template = f.read()
    if "@KERNEL_LIST@\n" not in template:
        raise SystemExit(f"{template_path}: no @KERNEL_LIST@ line")
    text = template.replace("@KERNEL_LIST@\n", "\n".join(stub_lines(list_hpp)) + "\n")
    with open(output_path, "w", encoding="utf-8") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
