"""`antar manifests ...`: build, edit, finalize, hand over, export and recall, from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from app.cli_util import cli_actor, load_office, office_code_or_default, office_option
from app.courier.client import CourierClient, CourierConfigError
from app.db import unit_of_work
from app.filters import thousands, wib
from manifests import documents, handover, service
from manifests.models import MANIFEST_STATUS_LABELS, Manifest, ManifestStatus
from manifests.service import ManifestError, TrackingRange

console = Console(soft_wrap=True)


def _fail(exc: Exception) -> click.ClickException:
    return click.ClickException(str(exc))


def _cap(max_items: int | None) -> int:
    return max_items or current_app.config["ANTAR_MANIFEST_MAX_ITEMS"]


def resolve_manifest_id(session, office, ref: str) -> int:
    """A manifest by id (`12`) or by number (`MNF-3216-20261123-0001`)."""
    if ref.isdigit():
        return service.get_manifest(session, office, int(ref)).id
    found = session.scalar(select(Manifest.id).where(Manifest.office_id == office.id, Manifest.number == ref))
    if found is None:
        raise ManifestError(f"Manifest '{ref}' tidak ditemukan.")
    return found


def courier_client() -> CourierClient:
    try:
        return CourierClient.from_config(current_app.config)
    except CourierConfigError as exc:
        raise _fail(exc) from exc


@click.group("manifests", help="Manifest kurir: susun, kunci (nomor resi), serahkan ke PT Pos, unduh dokumen.")
def manifests_group() -> None:
    pass


def _filters(f):
    f = click.option("--post-office", default=None, help="Kode kantor pos tujuan (mis. 17510).")(f)
    f = click.option("--kecamatan", default=None, help="Kode kecamatan (mis. 32.16.06).")(f)
    f = click.option("--max-items", type=int, default=None,
                     help="Batas item per manifest (bawaan: ANTAR_MANIFEST_MAX_ITEMS).")(f)
    return office_option(f)


def _print_plans(plans: list[service.PlannedManifest]) -> None:
    table = Table(title="Rencana manifest")
    for col in ("Kantor pos tujuan", "Kecamatan", "Kelurahan", "Kartu"):
        table.add_column(col, justify="right" if col == "Kartu" else "left")
    for p in plans:
        table.add_row(p.post_office.label, p.kecamatan_name or "(semua)", str(len(p.kelurahan)),
                      thousands(len(p.card_ids)))
    table.add_section()
    table.add_row(f"{len(plans)} manifest", "", "", thousands(sum(len(p.card_ids) for p in plans)))
    console.print(table)


@manifests_group.command("preview", help="Tampilkan manifest yang akan dibuat, tanpa menyimpan apa pun.")
@_filters
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def preview_command(office_code, post_office, kecamatan, max_items, as_json) -> None:
    try:
        with unit_of_work() as session:
            plans = service.plan_manifests(session, load_office(session, office_code), post_office=post_office,
                                            kecamatan=kecamatan, cap=_cap(max_items))
    except ManifestError as exc:
        raise _fail(exc) from exc
    if as_json:
        click.echo(json.dumps([p.as_dict() for p in plans], ensure_ascii=False, indent=2))
    else:
        _print_plans(plans)


@manifests_group.command("build", help="Susun manifest dari semua kartu siap kirim (per kantor pos tujuan).")
@_filters
@click.option("--finalize", is_flag=True, help="Langsung kunci dan beri nomor resi.")
@with_appcontext
def build_command(office_code, post_office, kecamatan, max_items, finalize) -> None:
    try:
        with unit_of_work() as session:
            made = service.build_manifests(
                session, load_office(session, office_code), cli_actor(),
                tracking=TrackingRange.from_config(current_app.config), post_office=post_office,
                kecamatan=kecamatan, cap=_cap(max_items), finalize=finalize)
            rows = [(m.id, m.number, f"{m.post_office_code} {m.post_office_name}", m.item_count, m.status_label)
                    for m in made]
    except ManifestError as exc:
        raise _fail(exc) from exc
    _print_manifests(rows, f"{len(rows)} manifest dibuat")


def _print_manifests(rows: list[tuple], title: str) -> None:
    table = Table(title=title)
    for col in ("#", "Nomor", "Kantor pos tujuan", "Kartu", "Status"):
        table.add_column(col, justify="right" if col in ("#", "Kartu") else "left")
    for r in rows:
        table.add_row(str(r[0]), r[1], r[2], thousands(r[3]), r[4])
    console.print(table)


@manifests_group.command("list", help="Daftar manifest dengan status dan jumlah kartu.")
@office_option
@click.option("--status", type=click.Choice([s.value for s in ManifestStatus]), default=None)
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def list_command(office_code, status, as_json) -> None:
    with unit_of_work() as session:
        ms = service.manifest_summary(session, load_office(session, office_code),
                                       status=ManifestStatus(status) if status else None, limit=10_000)
        rows = [(m.id, m.number, f"{m.post_office_code} {m.post_office_name}", m.item_count, m.status_label,
                 m.status.value) for m in ms]
    if as_json:
        click.echo(json.dumps([{"id": r[0], "number": r[1], "post_office": r[2], "items": r[3], "status": r[5]}
                               for r in rows], ensure_ascii=False, indent=2))
    else:
        _print_manifests(rows, f"{len(rows)} manifest")


@manifests_group.command("show", help="Rincian satu manifest: item dan riwayatnya.")
@click.argument("manifest")
@office_option
@with_appcontext
def show_command(manifest, office_code) -> None:
    try:
        with unit_of_work() as session:
            office = load_office(session, office_code)
            m = service.get_manifest(session, office, resolve_manifest_id(session, office, manifest))
            doc = handover.manifest_document(session, office, m)
            console.print(f"[b]{m.number}[/b] — {m.post_office_code} {m.post_office_name} — {m.status_label}, "
                          f"{m.item_count} kartu")
            if m.last_error:
                console.print(f"[red]Galat terakhir:[/red] {m.last_error}")
            for number, reason in handover.rejection_errors(m):
                console.print(f"  ditolak kurir {number}: {reason}", markup=False, highlight=False)
            for e in m.events:
                change = f"{e.from_status or '-'} → {e.to_status}" if e.to_status else "catatan"
                console.print(f"  {wib(e.at)}  {e.actor}: {change}. {e.note}")
    except ManifestError as exc:
        raise _fail(exc) from exc
    table = Table()
    for col in ("No", "Resi", "Nama", "Alamat", "Kelurahan"):
        table.add_column(col)
    for it in doc.items:
        table.add_row(str(it.seq), it.tracking_number or "(draf)", it.recipient_name, documents.short_address(it),
                      it.kelurahan)
    console.print(table)


def _each(office_code, refs, action) -> None:
    for ref in refs:
        try:
            with unit_of_work() as session:
                office = load_office(session, office_code)
                text = action(session, office, resolve_manifest_id(session, office, ref))
            console.print(text)
        except ManifestError as exc:
            raise _fail(exc) from exc


@manifests_group.command("finalize", help="Kunci draf dan beri nomor resi S10 (MANIFEST: id atau nomor).")
@click.argument("manifests", nargs=-1)
@click.option("--all-drafts", is_flag=True, help="Semua draf kantor ini.")
@office_option
@with_appcontext
def finalize_command(manifests, all_drafts, office_code) -> None:
    refs = list(manifests)
    if all_drafts:
        with unit_of_work() as session:
            office = load_office(session, office_code)
            refs += [str(m.id) for m in service.manifest_summary(session, office, status=ManifestStatus.DRAFT,
                                                                  limit=100_000)]
    if not refs:
        raise click.UsageError("Sebutkan manifest, atau --all-drafts.")
    tracking = TrackingRange.from_config(current_app.config)

    def action(session, office, mid):
        m = service.finalize(session, office, mid, cli_actor(), tracking)
        return f"{m.number}: final, {m.item_count} nomor resi."

    _each(office_code, refs, action)


@manifests_group.command("remove", help="Keluarkan kartu (nomor blanko) dari draf manifest.")
@click.argument("manifest")
@click.argument("blanko", nargs=-1, required=True)
@office_option
@with_appcontext
def remove_command(manifest, blanko, office_code) -> None:
    _each(office_code, [manifest], lambda s, o, mid: f"{service.remove_cards(s, o, mid, blanko, cli_actor())} "
                                                    "kartu dikeluarkan.")


@manifests_group.command("add", help="Tambahkan kartu siap kirim (nomor blanko) ke draf manifest.")
@click.argument("manifest")
@click.argument("blanko", nargs=-1, required=True)
@office_option
@with_appcontext
def add_command(manifest, blanko, office_code) -> None:
    _each(office_code, [manifest], lambda s, o, mid: f"{service.add_cards(s, o, mid, blanko, cli_actor())} "
                                                    "kartu ditambahkan.")


@manifests_group.command("cancel", help="Batalkan manifest yang belum diterima kurir; kartunya siap lagi.")
@click.argument("manifest")
@click.option("--reason", required=True, help="Alasan pembatalan.")
@office_option
@with_appcontext
def cancel_command(manifest, reason, office_code) -> None:
    _each(office_code, [manifest], lambda s, o, mid: f"{service.cancel(s, o, mid, cli_actor(), reason).number} "
                                                    "dibatalkan.")


@manifests_group.command("handover", help="Serahkan manifest final ke API kurir (MANIFEST: id atau nomor).")
@click.argument("manifests", nargs=-1)
@click.option("--all", "all_pending", is_flag=True, help="Semua manifest final dan yang gagal diserahkan.")
@office_option
@with_appcontext
def handover_command(manifests, all_pending, office_code) -> None:
    code = office_code_or_default(office_code)
    ids: list[int] = []
    with unit_of_work() as session:
        office = load_office(session, code)
        try:
            ids = [resolve_manifest_id(session, office, ref) for ref in manifests]
        except ManifestError as exc:
            raise _fail(exc) from exc
    if all_pending:
        ids += [i for i in handover.pending_handover(code) if i not in ids]
    if not ids:
        raise click.UsageError("Sebutkan manifest, atau --all (tidak ada manifest yang menunggu penyerahan).")
    client = courier_client()
    failed = 0
    for mid in ids:
        try:
            result = handover.hand_over(code, mid, cli_actor(), client)
        except ManifestError as exc:
            console.print(f"[red]{exc}[/red]")
            failed += 1
            continue
        ok = result.answer.ok
        failed += not ok
        colour = "green" if ok else "red"
        console.print(f"{result.number}: [{colour}]{MANIFEST_STATUS_LABELS[result.status]}[/{colour}] — "
                      f"{result.answer.summary()}", markup=True, highlight=False)
    if failed:
        raise SystemExit(1)


@manifests_group.command("export", help="Unduh dokumen manifest: Berita Acara (PDF), CSV, XLSX untuk kurir.")
@click.argument("manifest")
@click.option("--pdf", type=click.Path(dir_okay=False, writable=True), help="Berita Acara Serah Terima (PDF).")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, writable=True), help="Daftar item (CSV).")
@click.option("--xlsx", type=click.Path(dir_okay=False, writable=True), help="Daftar item (XLSX).")
@office_option
@with_appcontext
def export_command(manifest, pdf, csv_path, xlsx, office_code) -> None:
    if not (pdf or csv_path or xlsx):
        raise click.UsageError("Pilih minimal satu dari --pdf, --csv, --xlsx.")
    try:
        with unit_of_work() as session:
            office = load_office(session, office_code)
            m = service.get_manifest(session, office, resolve_manifest_id(session, office, manifest))
            if m.status is ManifestStatus.DRAFT:
                raise ManifestError(f"Manifest {m.number} masih draf: kunci dulu agar setiap item bernomor resi.")
            doc = handover.manifest_document(session, office, m)
    except ManifestError as exc:
        raise _fail(exc) from exc
    for path, render in ((pdf, documents.handover_pdf), (csv_path, documents.items_csv),
                         (xlsx, documents.items_xlsx)):
        if path:
            Path(path).write_bytes(render(doc))
            console.print(f"Ditulis: {path}")


@manifests_group.command("recall", help="Minta kurir menarik kembali item di wilayah yang ditarik.")
@office_option
@with_appcontext
def recall_command(office_code) -> None:
    results = handover.recall_withdrawn(office_code_or_default(office_code), cli_actor(), courier_client())
    for r in results:
        console.print(f"{r.tracking_number} (blanko {r.nomor_blanko}): {r.answer.summary()}", highlight=False)
    console.print(f"{len(results)} item diminta ditarik.")
