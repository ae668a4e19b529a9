"""Step 6 of the flow: returned and withdrawn cards and their handover at the kelurahan."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from app.models import Role
    from app.privacy import clear_columns, register_purge
    from app.report import register_section
    from app.web import add_menu
    from returns import officer_routes, staff_routes
    from returns.cli import returns_group
    from returns.models import HandoverItem, OfflineConflict
    from returns.service import returns_report

    app.register_blueprint(staff_routes.bp)
    app.register_blueprint(officer_routes.bp)
    app.cli.add_command(returns_group)
    register_section("returns", returns_report)
    # Personal data of purged cards (app/privacy.py): receivers, new and old addresses, the officer's notes.
    register_purge("handover_item", clear_columns(HandoverItem, HandoverItem.card_id, dict.fromkeys(
        ("receiver_name", "new_address", "previous_address", "note"))))
    # ... and in records the officers made offline that staff had to decide (returns/offline.py).
    register_purge("offline_conflict", clear_columns(OfflineConflict, OfflineConflict.card_id,
                                                     {"record": "{}", "reason": "[dihapus]"}))
    add_menu(app, "returns.overview", "Pengembalian", (Role.ADMIN, Role.STAFF), 70)
