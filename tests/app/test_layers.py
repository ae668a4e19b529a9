"""The packages import one way, the way the data flows.

    app (the kernel) -> address -> manifests -> delivery -> returns -> dashboard -> notify
     0                  1          2            3           4          5 (reads)    6 (messages to citizens)

A module may import from its own layer and from lower ones, never from a higher one: the kernel must stay usable
without any domain, and a domain must not reach forward into a step that only happens after it.

`courier_sim` stands in for the courier partner and `notify_sim` for the message gateway, outside systems. Each may
import only the kernel (the courier contract lives in `app.courier`) and itself, and no production package may
import either, so that nothing we ship can lean on a simulator's behaviour instead of the contract.

The composition root is the one place that knows every domain, so it is exempt; it is kept to this explicit,
short allow-list and nothing else may join it:

- `app/__init__.py`: the factory registers each domain's blueprints, commands and menu entries;
- `app/cli.py`: the `antar` entry point mounts the domains' commands and the simulator's;
- `app/launch.py`: the console script itself, which only starts `app.cli` (with the garbage collector paused);
- `app/demo/`: the demo drives every domain end to end.

Being exempt makes them depend on everything, so no one outside the list may import `app.cli` or `app.demo`:
a kernel module that did would drag in every layer above it.

The scan reads the source with `ast` instead of importing it, so an import inside a function (which only runs
later) counts as much as one at the top. Each module is also imported alone in a fresh interpreter, which is
where a cycle or an import that only works after some other module was loaded first shows up.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

LAYERS: dict[str, int] = {"app": 0, "address": 1, "manifests": 2, "delivery": 3, "returns": 4, "dashboard": 5,
                          "notify": 6}
SIMULATORS: tuple[str, ...] = ("courier_sim", "notify_sim")
PACKAGES: tuple[str, ...] = (*LAYERS, *SIMULATORS)

# Alembic's env.py and revisions only run inside Alembic's own context; they are not part of the import graph.
SKIPPED_DIRS: tuple[str, ...] = ("app/migrations",)

# An entry ending in ".*" is a package together with every module in it.
COMPOSITION_ROOT: tuple[str, ...] = ("app", "app.cli", "app.launch", "app.demo.*")

IMPORT_TIMEOUT_SECONDS = 120


@dataclass(frozen=True, order=True)
class Edge:
    file: str  # relative to the scanned root, with forward slashes
    line: int
    importer: str
    imported: str


def module_files(root: Path) -> Iterator[tuple[Path, str]]:
    """Every module of the packages under `root`, as (path, dotted name), in a stable order."""
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            relative = path.relative_to(root)
            if "__pycache__" in relative.parts or any(relative.is_relative_to(skip) for skip in SKIPPED_DIRS):
                continue
            parts = relative.with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            yield path, ".".join(parts)


def _resolve_relative(package: str, level: int, name: str | None) -> str | None:
    """`from ..x import y` in package `a.b.c` means `a.b.x`; None when it climbs above the top-level package."""
    parts = package.split(".") if package else []
    if level > len(parts):
        return None
    base = parts[: len(parts) - (level - 1)]
    return ".".join([*base, name] if name else base)


def _is_module(root: Path, dotted: str) -> bool:
    path = root.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path.is_dir() and path.name != "__pycache__")


def _from_import_targets(root: Path, base: str, names: list[ast.alias]) -> list[str]:
    # `from returns import service` depends on returns.service, not only on the package's __init__; naming the
    # submodule keeps the report precise and lets `from app import demo` be recognised as importing the demo.
    targets = [
        f"{base}.{alias.name}" for alias in names if alias.name != "*" and _is_module(root, f"{base}.{alias.name}")
    ]
    if len(targets) < len(names):
        targets.append(base)
    return targets


def _import_module_target(call: ast.Call) -> tuple[str, str | None] | None:
    """(name, package) of `importlib.import_module("literal"[, package])`, else None (a computed name is opaque)."""
    func = call.func
    is_import_module = (
        isinstance(func, ast.Attribute)
        and func.attr == "import_module"
        and isinstance(func.value, ast.Name)
        and func.value.id == "importlib"
    ) or (isinstance(func, ast.Name) and func.id == "import_module")
    if not is_import_module or not call.args:
        return None
    name = call.args[0]
    if not (isinstance(name, ast.Constant) and isinstance(name.value, str)):
        return None
    if len(call.args) > 1:
        package_arg: ast.expr | None = call.args[1]
    else:
        package_arg = next((keyword.value for keyword in call.keywords if keyword.arg == "package"), None)
    package = None
    if isinstance(package_arg, ast.Constant) and isinstance(package_arg.value, str):
        package = package_arg.value
    return name.value, package


def _imports_in(root: Path, tree: ast.AST, package: str) -> Iterator[tuple[int, str]]:
    """(line, imported module) for every import anywhere in the tree, relative ones resolved against `package`."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = _resolve_relative(package, node.level, node.module) if node.level else node.module
            if base:
                for target in _from_import_targets(root, base, node.names):
                    yield node.lineno, target
        elif isinstance(node, ast.Call) and (found := _import_module_target(node)):
            name, anchor = found
            if name.startswith("."):
                level = len(name) - len(name.lstrip("."))
                resolved = _resolve_relative(anchor, level, name.lstrip(".") or None) if anchor else None
            else:
                resolved = name
            if resolved:
                yield node.lineno, resolved


def import_edges(root: Path) -> list[Edge]:
    """Every import between the packages found in the source under `root`."""
    edges: set[Edge] = set()
    for path, module in module_files(root):
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        file = path.relative_to(root).as_posix()
        for line, imported in _imports_in(root, tree, package):
            if imported.partition(".")[0] in PACKAGES:
                edges.add(Edge(file, line, module, imported))
    return sorted(edges)


def in_composition_root(module: str) -> bool:
    for entry in COMPOSITION_ROOT:
        package = entry.removesuffix(".*")
        if module == package or (entry.endswith(".*") and module.startswith(f"{package}.")):
            return True
    return False


def _broken_rule(edge: Edge) -> str | None:
    if in_composition_root(edge.importer):
        return None
    # `app` itself is both the factory and the kernel package: every kernel import runs it, and it reaches the
    # domains only inside create_app(), so a name taken from it (delivery's `from app import csrf`) drags in
    # nothing above the kernel. The CLI and the demo import every domain at the top, so they are off limits.
    if edge.imported != "app" and in_composition_root(edge.imported):
        return "only the composition root may import it"
    source, target = edge.importer.partition(".")[0], edge.imported.partition(".")[0]
    if source in SIMULATORS:
        return None if target in ("app", source) else f"{source} may import only app and itself"
    if target in SIMULATORS:
        return f"no production package may import {target}"
    if LAYERS[target] > LAYERS[source]:
        return f"{source} may not depend on {target}"
    return None


def violations(edges: list[Edge]) -> list[str]:
    """One line per edge against the flow; the composition root's imports are never reported."""
    found = []
    for edge in edges:
        rule = _broken_rule(edge)
        if rule:
            found.append(f"{edge.file}:{edge.line} {edge.importer} imports {edge.imported} ({rule})")
    return found


def test_imports_follow_the_flow() -> None:
    edges = import_edges(REPO_ROOT)
    # A walker that silently found nothing would pass; every package imports at least the kernel or itself.
    assert {edge.importer.partition(".")[0] for edge in edges} == set(PACKAGES)
    found = violations(edges)
    assert not found, f"{len(found)} import(s) against the flow:\n" + "\n".join(found)


def _write_tree(root: Path, files: dict[str, str]) -> None:
    for relative, source in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source), encoding="utf-8")


def test_the_check_catches_an_edge_against_the_flow(tmp_path: Path) -> None:
    _write_tree(
        tmp_path,
        {
            "app/__init__.py": """\
                import importlib

                def create_app():
                    for name in ("address", "returns"):
                        importlib.import_module(name)
                    importlib.import_module("returns.models")
                """,
            "app/cli.py": "from courier_sim.cli import command\nfrom returns import models\n",
            "app/demo/__init__.py": "",
            "app/demo/command.py": "from returns.models import Disposition\nfrom .. import report\n",
            "app/report.py": "from .demo import command\n",
            "app/courier/__init__.py": "",
            "app/courier/tracking.py": "",
            "app/migrations/env.py": "from returns.models import Disposition\n",
            "address/__init__.py": "",
            "address/x.py": """\
                from app.courier import tracking

                def late():
                    import delivery.lookup
                    return delivery.lookup
                """,
            "address/y.py": "import importlib\n\nimportlib.import_module('returns.service')\n",
            "address/__pycache__/stale.py": "import returns.models\n",
            "manifests/__init__.py": "",
            "manifests/models.py": "",
            "manifests/service.py": "import app.cards\nfrom returns.models import X\n",
            "manifests/intake/cli.py": "from ..models import Manifest\nfrom . import reader\n",
            "manifests/intake/reader.py": "",
            "delivery/__init__.py": "",
            "delivery/lookup.py": "from manifests.models import Manifest\n",
            "delivery/service.py": "from . import lookup\nfrom .lookup import find\n",
            "delivery/webhook.py": "import courier_sim.server\nfrom importlib import import_module\n"
            "import_module('.service', package='delivery')\n",
            "returns/__init__.py": "",
            "returns/models.py": "",
            "returns/service.py": "",
            "courier_sim/__init__.py": "",
            "courier_sim/cli.py": "",
            "courier_sim/server.py": "from app.courier.tracking import Status\nfrom manifests.models import Manifest\n",
        },
    )

    edges = import_edges(tmp_path)

    assert violations(edges) == [
        "address/x.py:4 address.x imports delivery.lookup (address may not depend on delivery)",
        "address/y.py:3 address.y imports returns.service (address may not depend on returns)",
        "app/report.py:1 app.report imports app.demo.command (only the composition root may import it)",
        "courier_sim/server.py:2 courier_sim.server imports manifests.models"
        " (courier_sim may import only app and itself)",
        "delivery/webhook.py:1 delivery.webhook imports courier_sim.server"
        " (no production package may import courier_sim)",
        "manifests/service.py:2 manifests.service imports returns.models (manifests may not depend on returns)",
    ]
    pairs = {(edge.importer, edge.imported) for edge in edges}
    # Seen and let through because they are on the allow-list, not missed.
    assert {
        ("app", "returns.models"),
        ("app.cli", "courier_sim.cli"),
        ("app.cli", "returns.models"),
        ("app.demo.command", "returns.models"),
        ("app.demo.command", "app.report"),
    } <= pairs
    # Relative imports resolve against the module's package, also in a package without __init__.py.
    assert {
        ("manifests.intake.cli", "manifests.models"),
        ("manifests.intake.cli", "manifests.intake.reader"),
        ("delivery.service", "delivery.lookup"),
        ("delivery.webhook", "delivery.service"),
    } <= pairs
    assert not any(edge.file.startswith(("app/migrations/", "address/__pycache__/")) for edge in edges)


# One fresh interpreter preloads the third-party libraries (the slow part of every import), checks that no module
# of the project is loaded yet, then forks a child per module: each child imports its module with nothing of the
# project imported before it, which is what "imports on its own" means, at a fraction of an interpreter's start-up.
_FORK_SERVER = textwrap.dedent("""
    import json, os, sys, traceback
    PROJECT = ("app", "address", "manifests", "delivery", "returns", "dashboard", "notify", "courier_sim",
               "notify_sim")
    for lib in ("flask", "flask_login", "flask_wtf", "flask_limiter", "sqlalchemy", "alembic", "pandas", "openpyxl",
                "geopy", "rapidfuzz", "reportlab", "requests", "urllib3", "rich", "click", "standardwebhooks",
                "gunicorn", "dotenv", "redis", "rq", "lokal"):
        try:
            __import__(lib)
        except ImportError:
            pass
    loaded = [m for m in sys.modules if m.split(".")[0] in PROJECT]
    assert not loaded, loaded
    for module in sys.argv[1:]:
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            try:
                __import__(module)
                message = ""
            except BaseException:
                message = "".join(traceback.format_exc().splitlines(True)[-15:])
            os.write(w, message.encode())
            os._exit(0)
        os.close(w)
        chunks = []
        while chunk := os.read(r, 65536):
            chunks.append(chunk)
        os.close(r)
        os.waitpid(pid, 0)
        print(json.dumps({"module": module, "error": b"".join(chunks).decode() or None}), flush=True)
""")


def test_every_module_imports_on_its_own() -> None:
    modules = [module for _, module in module_files(REPO_ROOT)]
    assert modules
    result = subprocess.run([sys.executable, "-c", _FORK_SERVER, *modules], cwd=REPO_ROOT, capture_output=True,
                            text=True, timeout=IMPORT_TIMEOUT_SECONDS)
    assert result.returncode == 0, result.stderr[-3000:]
    answers = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [a["module"] for a in answers] == modules
    failures = [(a["module"], a["error"]) for a in answers if a["error"]]
    assert not failures, "\n\n".join(f"import {module} failed:\n{error}" for module, error in failures)
