"""Step 7, reading only: the head of office's dashboard, the map and the report for the regent and the DPRD.

Reads the kept aggregates of every card (app.tally), the region geometry (address) and the return reasons; changes
nothing but the aggregates' own folding.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from app.models import Role
    from app.web import add_menu
    from dashboard import routes
    from dashboard.cli import dashboard_group

    app.register_blueprint(routes.bp)
    app.cli.add_command(dashboard_group)
    add_menu(app, "dashboard.home", "Dasbor", (Role.ADMIN, Role.STAFF), 5)
