"""The modules compiled to C extensions at install (setup.py, mypyc), and their sources when the two differ.

`pip install` compiles a few pure-Python modules on an import's hot path (setup.py's `COMPILED`) into extension
modules next to their sources, and records each source's SHA-256 beside them (`native-build.json`). Python prefers
an extension module to a source of the same name; after a source is edited (or checked out at another commit) and
not yet compiled again, the extension would run code that is not in the file. `prefer_fresh_sources` (each
package's `__init__`) then has the source imported instead, and says so once: the same behaviour, at pure-Python
speed, until `pip install -e .` compiles it again. Without a C compiler the install keeps the sources alone."""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import json
import sys
import warnings
from pathlib import Path

RECORD = "native-build.json"


def compiled(path: Path, module: str) -> Path | None:
    """The extension module compiled from `path`/`module`.py, if the install made one."""
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        candidate = path / f"{module}{suffix}"
        if candidate.exists():
            return candidate
    return None


def digest(source: Path) -> str:
    return hashlib.sha256(source.read_bytes()).hexdigest()


def stale_modules(package: str, path: Path, modules: tuple[str, ...]) -> dict[str, Path]:
    """{full module name: source} of the modules whose extension was not compiled from the source now there."""
    try:
        built = json.loads((path / RECORD).read_text())
    except (OSError, ValueError):
        built = {}
    stale = {}
    for module in modules:
        source = path / f"{module}.py"
        if compiled(path, module) is not None and built.get(source.name) != digest(source):
            stale[f"{package}.{module}"] = source
    return stale


class _Sources:
    """A finder (first on `sys.meta_path`) that loads these modules from their source files."""

    def __init__(self, sources: dict[str, Path]) -> None:
        self.sources = sources

    def find_spec(self, name: str, path: object = None, target: object = None) -> importlib.machinery.ModuleSpec | None:
        source = self.sources.get(name)
        return importlib.util.spec_from_file_location(name, source) if source is not None else None


def prefer_fresh_sources(package: str, path: str | Path, modules: tuple[str, ...]) -> dict[str, Path]:
    """Have the stale compiled modules of `package` imported from source (a warning names them)."""
    stale = stale_modules(package, Path(path), modules)
    if stale:
        sys.meta_path.insert(0, _Sources(stale))
        warnings.warn(f"{', '.join(sorted(stale))}: source changed since it was compiled, running the source "
                      "(pure Python, slower); `pip install -e .` compiles it again", RuntimeWarning, stacklevel=2)
    return stale
