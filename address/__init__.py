"""Address normalization, validation against the official region list, and geocoding."""

from __future__ import annotations

from flask import Flask

from address.native import prefer_fresh_sources

prefer_fresh_sources(__name__, __path__[0], ("normalize", "rtrw"))


def init_app(app: Flask) -> None:
    from address import cli, routes
    from app.models import Role
    from app.web import add_menu

    app.register_blueprint(routes.bp)
    cli.init_app(app)
    add_menu(app, "address.queue_page", "Alamat", (Role.ADMIN, Role.STAFF), 30)
