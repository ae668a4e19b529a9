"""Step 5 of the flow: the courier's tracking events and the tracking state of each item."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from app import handover_hooks
    from app.models import Role
    from app.privacy import clear_columns, courier_bodies, register_purge
    from app.report import register_section
    from app.web import add_menu
    from delivery import money_routes, public, routes, service, webhook
    from delivery.models import TrackingEvent, WebhookMessage
    from delivery.money_cli import cod_group, old_cards_group
    from delivery.oldcards import old_cards_report
    from delivery.settlements import cod_report
    from manifests.models import ManifestItem

    # Events the courier sent before it had the item are held until the handover, rejected if it never comes.
    handover_hooks.on_handed_over("delivery.held_events", service.after_handover)
    handover_hooks.on_released("delivery.held_events", service.reject_held)
    app.register_blueprint(webhook.bp)
    app.register_blueprint(routes.bp)
    public.init_app(app)
    # After delivery: old cards until destroyed, COD settlements matched (pages, commands, report sections).
    app.register_blueprint(money_routes.bp)
    app.cli.add_command(old_cards_group)
    app.cli.add_command(cod_group)
    register_section("cod", cod_report)
    register_section("old_cards", old_cards_report)
    # Personal data of purged cards (app/privacy.py): who took the card, the proof links and the point of delivery,
    # in the events and in the webhook bodies as stored.
    register_purge("tracking_event", clear_columns(
        TrackingEvent, ManifestItem.card_id,
        dict.fromkeys(("recipient_name", "photo_url", "signature_url", "lat", "lng")),
        join=(ManifestItem, ManifestItem.id == TrackingEvent.item_id)))
    register_purge("webhook_message", courier_bodies(WebhookMessage, TrackingEvent, ManifestItem))
    staff = (Role.ADMIN, Role.STAFF)
    add_menu(app, "tracking.search_page", "Lacak", staff, 50)
    add_menu(app, "tracking.problems_page", "Masalah", staff, 60)
    add_menu(app, "money.old_cards_page", "KTP lama", staff, 63)
    add_menu(app, "money.cod_page", "Setoran COD", staff, 66)
