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

from flask import Flask, Response, current_app, jsonify

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
    return current_app.response_class(csv_bytes(header, rows), mimetype="text/csv; charset=utf-8",
                                      headers={"Content-Disposition": f"attachment; filename={filename}"})


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


def init_app(app: Flask) -> None:
    app.extensions.setdefault("antar.menu", [])

    @app.context_processor
    def _menu() -> dict[str, Any]:
        return {"menu_for": menu_for}
