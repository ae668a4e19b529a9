"""Steps 1, 2 and 4 of the flow: print-run intake (`intake/`), sorting (`sorting.py`), and courier manifests
(`service.py`, `handover.py`, `documents.py`, `routes.py`, `cli.py`)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from app import jobs
    from app.holds import register_hold
    from app.models import Role
    from app.privacy import clear_columns, register_purge
    from app.report import register_section
    from app.web import add_menu
    from manifests import cli, handover, recalls, routes, service, sorting
    from manifests.intake import cli as intake_cli
    from manifests.intake import routes as intake_routes
    from manifests.intake.service import import_job, intake_totals
    from manifests.models import ManifestItem

    app.register_blueprint(intake_routes.bp)
    app.register_blueprint(routes.bp)
    app.cli.add_command(intake_cli.import_command)
    app.cli.add_command(intake_cli.sorting_group)
    app.cli.add_command(cli.manifests_group)
    register_section("intake", intake_totals)
    jobs.register("import", import_job, "Impor cetakan")
    jobs.register(service.BUILD_JOB, service.build_job, "Susun manifest")
    jobs.register(service.FINALIZE_JOB, service.finalize_job, "Kunci draf manifest")
    jobs.register(handover.HANDOVER_JOB, handover.handover_job, "Serahkan manifest ke kurir")
    jobs.register(handover.DOCUMENTS_JOB, handover.berita_acara_job, "Berita Acara manifest (ZIP)")
    jobs.register(recalls.KIND, recalls.recall_job, "Tarik kembali dari kurir")
    register_hold("withdrawn_area", sorting.area_withdrawn)
    # Personal data of purged cards (app/privacy.py): the name the courier reported as the recipient.
    register_purge("manifest_item", clear_columns(ManifestItem, ManifestItem.card_id, {"recipient_name": None}))
    staff = (Role.ADMIN, Role.STAFF)
    add_menu(app, "intake.intake_page", "Impor cetakan", staff, 10)
    add_menu(app, "intake.sorting_page", "Penyortiran", staff, 20)
    add_menu(app, "manifests.list_page", "Manifest", staff, 40)
