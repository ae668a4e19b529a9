"""Step 5 of the flow: the courier's tracking events and the tracking state of each item."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from app.models import Role
    from app.web import add_menu
    from delivery import public, routes, webhook

    app.register_blueprint(webhook.bp)
    app.register_blueprint(routes.bp)
    public.init_app(app)
    staff = (Role.ADMIN, Role.STAFF)
    add_menu(app, "tracking.search_page", "Lacak", staff, 50)
    add_menu(app, "tracking.problems_page", "Masalah", staff, 60)
