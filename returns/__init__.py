"""Step 6 of the flow: returned and withdrawn cards and their handover at the kelurahan."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from app.models import Role
    from app.report import register_section
    from app.web import add_menu
    from returns import officer_routes, staff_routes
    from returns.cli import returns_group
    from returns.service import returns_report

    app.register_blueprint(staff_routes.bp)
    app.register_blueprint(officer_routes.bp)
    app.cli.add_command(returns_group)
    register_section("returns", returns_report)
    add_menu(app, "returns.overview", "Pengembalian", (Role.ADMIN, Role.STAFF), 70)
