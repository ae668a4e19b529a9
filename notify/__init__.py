"""Step 8, after the flow: messages to citizens about their card (out for delivery, a failed attempt, waiting at a
post office or the kelurahan, the fee and the old card of a COD delivery) through the office's message gateway.

It reads what the other steps recorded (tracking events, card history) and changes nothing of theirs.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from app import jobs
    from app.models import Role
    from app.privacy import clear_columns, register_purge
    from app.web import add_menu
    from notify import public, routes, sender, webhook
    from notify.cli import notify_group
    from notify.models import NotifyMessage
    from notify.service import Settings

    Settings.from_config(app.config)  # a wrong channel or quiet-hours setting stops the start, naming it
    app.register_blueprint(routes.bp)
    app.register_blueprint(webhook.bp)
    app.register_blueprint(public.bp)
    app.add_template_global(public.optout_form, "notify_optout_form")
    app.cli.add_command(notify_group)
    jobs.register(sender.KIND, sender.send_job, "Kirim pesan ke warga")
    # Personal data of purged cards (app/privacy.py): the phone number a message went to.
    register_purge("notify_message", clear_columns(NotifyMessage, NotifyMessage.card_id, {"phone": None}))
    add_menu(app, "notify.messages_page", "Pesan", (Role.ADMIN, Role.STAFF), 75)
