"""Build step: the pure-Python modules on an import's hot path compiled to C extension modules with mypyc (the
compiler mypy ships; black and mypy itself are built with it). The same code, type-checked: 1.6-1.8 times as fast
on addresses and rows (BENCHMARKS.md, intake). Each source's SHA-256 is recorded beside its extension
(address/native.py runs the source instead when the two differ). Without mypyc or a C compiler, the package
installs as pure Python, with a warning."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_ext import build_ext

COMPILED = ("address/normalize.py", "address/rtrw.py", "manifests/intake/reader.py")
RECORD = "native-build.json"  # address/native.py


class BuildExt(build_ext):
    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # no C compiler, or it failed: the sources run as they are
            print(f"warning: the compiled modules were not built ({exc}); antar runs as pure Python",
                  file=sys.stderr)
            return
        if not self.extensions:  # nothing compiled (no mypyc): a record written now would vouch for older extensions
            return
        # The record goes where the extensions went, and only there: one beside an older in-place build (a wheel
        # built from an edited checkout) would pass that build's extensions off as compiled from the new sources.
        for folder in sorted({Path(p).parent for p in COMPILED}):
            record = {Path(p).name: hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in COMPILED
                      if Path(p).parent == folder}
            target = folder if self.inplace else Path(self.build_lib) / folder
            target.mkdir(parents=True, exist_ok=True)
            (target / RECORD).write_text(json.dumps(record, indent=1) + "\n")


def extensions() -> list:
    try:
        from mypyc.build import mypycify
    except ImportError:
        print("warning: mypyc not installed: antar runs as pure Python", file=sys.stderr)
        return []
    # One extension per module (`separate`): each lands in its own package, as an editable install needs.
    return mypycify(["--follow-imports=silent", "--ignore-missing-imports", *COMPILED], opt_level="3",
                    separate=True)


setup(ext_modules=extensions(), cmdclass={"build_ext": BuildExt})
