"""The modules compiled at install (setup.py, mypyc) and the guard that runs a source edited since then."""

from __future__ import annotations

import importlib.machinery
import json
import subprocess
import sys
from pathlib import Path

import address.normalize
import address.rtrw
import manifests.intake.reader
from address.native import RECORD, digest, prefer_fresh_sources, stale_modules


def test_the_install_compiled_the_hot_modules_from_the_sources_there():
    for module in (address.normalize, address.rtrw, manifests.intake.reader):
        path = Path(module.__file__)
        assert path.name.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES)), path
        record = json.loads((path.parent / RECORD).read_text())
        assert record[path.name.split(".")[0] + ".py"] == digest(path.with_name(path.name.split(".")[0] + ".py"))


def _package(tmp_path: Path, name: str, recorded: str | None) -> Path:
    pkg = tmp_path / name
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "mod.py").write_text("WHERE = 'source'\n")
    # Not a real extension: importing it fails, so the test shows which of the two Python loads.
    (pkg / f"mod{importlib.machinery.EXTENSION_SUFFIXES[0]}").write_bytes(b"not an extension")
    if recorded is not None:
        (pkg / RECORD).write_text(json.dumps({"mod.py": recorded}))
    return pkg


def test_an_extension_not_compiled_from_the_source_there_is_not_used(tmp_path):
    for name, recorded in (("edited", "0" * 64), ("unrecorded", None)):
        pkg = _package(tmp_path, name, recorded)
        assert stale_modules(name, pkg, ("mod",)) == {f"{name}.mod": pkg / "mod.py"}
        code = (f"import sys, warnings; sys.path.insert(0, {str(tmp_path)!r}); warnings.simplefilter('error'); "
                f"from address.native import prefer_fresh_sources; "
                f"prefer_fresh_sources({name!r}, {str(pkg)!r}, ('mod',))")
        warned = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert warned.returncode != 0 and f"{name}.mod: source changed since it was compiled" in warned.stderr
        ran = subprocess.run([sys.executable, "-W", "ignore", "-c", code.replace("warnings.simplefilter('error'); ", "")
                              + f"; import {name}.mod as m; print(m.WHERE, m.__file__)"],
                             capture_output=True, text=True, check=True)
        assert ran.stdout.split() == ["source", str(pkg / "mod.py")]


def test_an_extension_compiled_from_the_source_there_is_used(tmp_path):
    pkg = _package(tmp_path, "fresh", None)
    (pkg / RECORD).write_text(json.dumps({"mod.py": digest(pkg / "mod.py")}))
    assert stale_modules("fresh", pkg, ("mod",)) == {}
    assert prefer_fresh_sources("fresh", pkg, ("mod",)) == {}
    code = f"import sys; sys.path.insert(0, {str(tmp_path)!r}); import fresh.mod"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert loaded.returncode != 0 and "ImportError" in loaded.stderr  # Python went for the (fake) extension


def test_a_build_without_mypyc_leaves_the_record_as_it_was(tmp_path):
    """`setup.py build_ext --inplace` where mypyc is missing compiles nothing: it must not record the sources there
    as compiled, or extensions from an earlier build would be used for sources edited since."""
    root = Path(__file__).resolve().parents[2]
    (tmp_path / "setup.py").write_text((root / "setup.py").read_text())
    for source in ("address/normalize.py", "address/rtrw.py", "manifests/intake/reader.py"):
        (tmp_path / source).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / source).write_text("EDITED = True\n")
    earlier = json.dumps({"normalize.py": "0" * 64, "rtrw.py": "0" * 64})
    (tmp_path / "address" / RECORD).write_text(earlier)
    build = ("import sys; sys.modules['mypyc'] = sys.modules['mypyc.build'] = None; "
             "sys.argv = ['setup.py', 'build_ext', '--inplace']; exec(open('setup.py').read())")
    done = subprocess.run([sys.executable, "-c", build], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "mypyc not installed" in done.stderr
    assert (tmp_path / "address" / RECORD).read_text() == earlier
    assert not (tmp_path / "manifests" / "intake" / RECORD).exists()
