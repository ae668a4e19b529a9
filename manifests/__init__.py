"""Steps 1, 2 and 4 of the flow: print-run intake (`intake/`), sorting (`sorting.py`), and courier manifests
(`service.py`, `handover.py`, `documents.py`, `routes.py`, `cli.py`)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from app.holds import register_hold
    from app.models import Role
    from app.report import register_section
    from app.web import add_menu
    from manifests import cli, routes, sorting
    from manifests.intake import cli as intake_cli
    from manifests.intake import routes as intake_routes
    from manifests.intake.service import intake_totals

    app.register_blueprint(intake_routes.bp)
    app.register_blueprint(routes.bp)
    app.cli.add_command(intake_cli.import_command)
    app.cli.add_command(intake_cli.sorting_group)
    app.cli.add_command(cli.manifests_group)
    register_section("intake", intake_totals)
    register_hold("withdrawn_area", sorting.area_withdrawn)
    staff = (Role.ADMIN, Role.STAFF)
    add_menu(app, "intake.intake_page", "Impor cetakan", staff, 10)
    add_menu(app, "intake.sorting_page", "Penyortiran", staff, 20)
    add_menu(app, "manifests.list_page", "Manifest", staff, 40)
