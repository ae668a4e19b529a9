"""The web toolkit every domain's routes use: one JSON error shape, CSV downloads, and the menu.

- Errors: `{"error": {"code": "<string>", "message": "<for people, in Bahasa Indonesia>"}}`, always. The code is
  a short string a machine can branch on (`bad_request`, `not_found`, `invalid`, ...); the HTTP status says the
  class of the problem.
- CSV downloads: UTF-8 with a BOM, every text cell through `app.spreadsheet.neutralize`.
- The menu: each domain adds its entries in its `init_app`; the base layout shows those the user's role may use.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, abort, current_app, jsonify, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from sqlalchemy import func, select

from app.spreadsheet import csv_bytes

# The error code for an HTTP status when nothing more specific is said.
STATUS_CODES: dict[int, str] = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
    409: "conflict", 413: "too_large", 415: "unsupported_media_type", 422: "invalid", 429: "rate_limited",
    500: "server_error", 502: "bad_gateway", 503: "unavailable",
}


def error_code(status: int) -> str:
    return STATUS_CODES.get(status, "error")


def json_error(status: int, message: str, code: str | None = None, **extra: Any) -> tuple[Response, int]:
    """The one JSON error answer: `{"error": {"code", "message", ...extra}}` with its HTTP status."""
    return jsonify(error={"code": code or error_code(status), "message": message, **extra}), status


def csv_response(filename: str, header: Iterable[str], rows: Iterable[Iterable[Any]]) -> Response:
    """A CSV download: UTF-8 with a BOM (Excel picks the encoding), formulas defused."""
    return current_app.response_class(csv_bytes(header, rows), content_type="text/csv; charset=utf-8",
                                      headers={"Content-Disposition": f"attachment; filename={filename}"})


PAGE_SIZE = 50
MAX_PAGE = 1_000_000


def page_arg(name: str = "hal") -> int:
    """The page number of a list (`?hal=3`): ASCII digits from 1 to a million, else a 400 naming the parameter."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return 1
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_PAGE:
        abort(400, description=f"Parameter '{name}' harus bilangan bulat 1 sampai {MAX_PAGE:,}".replace(",", ".")
              + f", bukan {raw[:20]!r}.")
    return int(raw)


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a list that grows with the run: the rows shown, and where the reader is in the whole."""

    rows: list[Any]
    number: int
    size: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def first_index(self) -> int:
        return (self.number - 1) * self.size

    @property
    def has_prev(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages


def paginate(session: Any, query: Any, number: int, size: int = PAGE_SIZE) -> Page:
    """Run a SELECT for one page (LIMIT/OFFSET) and count the whole (one COUNT over the same query)."""
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    rows = list(session.execute(query.limit(size).offset((number - 1) * size)))
    return Page(rows, number, size, total)


@dataclass(frozen=True, slots=True)
class MenuEntry:
    endpoint: str
    label: str
    roles: frozenset[str]
    order: int


def add_menu(app: Flask, endpoint: str, label: str, roles: Iterable[str], order: int) -> None:
    """Add an entry to the top menu (shown to users of `roles`, sorted by `order`)."""
    entries: list[MenuEntry] = app.extensions.setdefault("antar.menu", [])
    entries.append(MenuEntry(endpoint, label, frozenset(str(r) for r in roles), order))
    entries.sort(key=lambda e: e.order)


def menu_for(role: str) -> list[MenuEntry]:
    return [e for e in current_app.extensions.get("antar.menu", []) if role in e.roles]


def client_limiter(app: Flask, name: str, **options: Any) -> Limiter:
    """A rate limiter of this application, per client address, stored as `app.extensions["antar.<name>_limiter"]`.

    One per app and purpose (not a module-level one): Flask-Limiter keeps its storage on the instance. Counters
    live in `ANTAR_RATELIMIT_STORAGE_URI` (Redis when configured, so every worker counts together; `memory://`
    counts per process). A moving window: a fixed one lets twice the limit through around the turn of a minute.
    The caller attaches its limits (to a blueprint) and calls `init_app`."""
    limiter = Limiter(get_remote_address, storage_uri=app.config.get("ANTAR_RATELIMIT_STORAGE_URI") or "memory://",
                      strategy="moving-window", headers_enabled=True, key_prefix=f"antar-{name}", **options)
    app.extensions[f"antar.{name}_limiter"] = limiter
    return limiter


def init_app(app: Flask) -> None:
    app.extensions.setdefault("antar.menu", [])

    @app.context_processor
    def _menu() -> dict[str, Any]:
        return {"menu_for": menu_for}
