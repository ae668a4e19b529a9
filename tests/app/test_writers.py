"""One writer per lifecycle: each history table is written by the one package that owns the lifecycle.

- a card and its history rows (`Card`, `CardHistory`): only `app/cards.py`;
- manifest events (`ManifestEvent`) and manifest status: only `manifests/`, through `manifests.service.LIFECYCLE`;
- handover batch events (`HandoverBatchEvent`): only `returns/`, through `returns.service.LIFECYCLE`;
- account activation: only `app/users.py` (it records who and when).

A write is a constructor call (`CardHistory(...)`), or `insert(X)` / `update(X)` / `delete(X)` of the model or its
`__table__`. Reading (select) is free. The generic recorder (`app/lifecycle.py`) writes whichever event table the
owning domain hands it, so it is allowed for the event tables.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("app", "address", "manifests", "delivery", "returns", "courier_sim")
WRITERS: dict[str, tuple[str, ...]] = {
    "Card": ("app/cards.py",),
    "CardHistory": ("app/cards.py",),
    "ManifestEvent": ("manifests/", "app/lifecycle.py"),
    "Manifest": ("manifests/", "app/lifecycle.py"),
    "HandoverBatchEvent": ("returns/", "app/lifecycle.py"),
    "AccountEvent": ("app/users.py",),
}


def _model_name(node: ast.AST) -> str | None:
    """`X`, `X.__table__`, `module.X` -> 'X'."""
    if isinstance(node, ast.Attribute) and node.attr == "__table__":
        node = node.value
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def writes(source: str) -> list[tuple[int, str]]:
    """(line, model) for every write of a watched model in a module's source."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        callee = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
        if callee in WRITERS and callee not in ("Card", "Manifest"):  # constructing a history/event row
            found.append((node.lineno, callee))
        elif callee in ("insert", "update", "delete") and node.args:
            name = _model_name(node.args[0])
            if name in WRITERS:
                found.append((node.lineno, name))
    return found


def _files() -> list[Path]:
    return [p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))
            if "migrations" not in p.parts and "__pycache__" not in p.parts]


def test_each_history_has_one_writer() -> None:
    wrong = []
    for path in _files():
        rel = path.relative_to(ROOT).as_posix()
        for line, model in writes(path.read_text(encoding="utf-8")):
            if not any(rel == w or (w.endswith("/") and rel.startswith(w)) for w in WRITERS[model]):
                wrong.append(f"{rel}:{line} writes {model}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize(("source", "expected"), [
    ("session.execute(insert(CardHistory.__table__), rows)", [(1, "CardHistory")]),
    ("session.add(ManifestEvent(manifest_id=1))", [(1, "ManifestEvent")]),
    ("session.execute(update(Card).where(Card.id == 1).values(state='READY'))", [(1, "Card")]),
    ("session.execute(select(CardHistory).where(CardHistory.card_id == 1))", []),
])
def test_the_check_sees_writes_and_ignores_reads(source: str, expected: list[tuple[int, str]]) -> None:
    assert writes(source) == expected
