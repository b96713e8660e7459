"""Where the wheel keeps logitkit's C++ headers and CMake package (pybind11's pattern)."""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent


def cmake_dir() -> str:
    """Return the folder holding ``logitkitConfig.cmake`` inside the installed package.

    Hand it to CMake so that ``find_package(logitkit CONFIG)`` finds the C++ library that came with
    the wheel::

        cmake -S . -B build -Dlogitkit_DIR="$(python -m logitkit --cmake-dir)"

    Raises ``FileNotFoundError`` if this installation carries no CMake package (for example a
    build with the C++ package switched off).
    """
    path = _HERE / "share" / "cmake" / "logitkit"
    if not (path / "logitkitConfig.cmake").is_file():
        raise FileNotFoundError(
            f"no logitkitConfig.cmake under {path}: this logitkit installation carries no CMake package"
        )
    return str(path)


def include_dir() -> str:
    """Return the folder holding the C++ headers (``logitkit/...``) inside the installed package."""
    return str(_HERE / "include")
