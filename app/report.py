"""The reconciliation report: every printed card in exactly one state, counted by area.

The totals add up to the number printed by construction (every card has one state) and the report
checks it anyway, so a bug anywhere that loses a card shows up here. The returns section says what became
of the cards that went to their kelurahan instead.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.cards import STATE_LABELS, Card, CardState
from app.db import utcnow
from app.models import Office
from app.regions import office_regions
from app.spreadsheet import personal_data_sheet

UNPLACED = "-"


def reconciliation(session: Session, office: Office) -> dict[str, Any]:
    """Counts per state, per kecamatan and per kelurahan, plus intake totals, for one office."""
    regions = office_regions(office.code)
    by_state = dict.fromkeys((s.value for s in CardState), 0)
    per_kel: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(by_state, 0))
    rows = session.execute(
        select(Card.kelurahan_code, Card.state, func.count())
        .where(Card.office_id == office.id).group_by(Card.kelurahan_code, Card.state)
    ).all()
    for code, state, n in rows:
        by_state[state.value] += n
        per_kel[code or UNPLACED][state.value] += n
    printed = sum(by_state.values())
    intake = _section(session, office, "intake", {"print_runs": 0, "rejected_rows": 0, "cards_imported": 0})
    kelurahan = []
    per_kec: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(by_state, 0))
    for code in sorted(per_kel, key=lambda c: _area_sort_key(regions, c)):
        counts = per_kel[code]
        kel = regions.kelurahan.get(code)
        kec_code = kel.kecamatan_code if kel else UNPLACED
        for s, n in counts.items():
            per_kec[kec_code][s] += n
        kelurahan.append({
            "kode_wilayah": code, "kelurahan": kel.name if kel else "Belum dikenali",
            "kecamatan": kel.kecamatan_name if kel else "Belum dikenali",
            "total": sum(counts.values()), "by_state": counts,
        })
    kecamatan = [
        {"kode_wilayah": code, "kecamatan": regions.kecamatan.get(code, "Belum dikenali"),
         "total": sum(c.values()), "by_state": c}
        for code, c in sorted(per_kec.items(), key=lambda kv: (kv[0] == UNPLACED, kv[0]))
    ]
    return {
        "office": {"code": office.code, "name": office.name},
        "generated_at": utcnow().isoformat(timespec="seconds"),
        "print_runs": intake["print_runs"],
        "printed": printed,
        "rejected_rows": int(intake["rejected_rows"]),
        "by_state": by_state,
        "state_labels": {s.value: STATE_LABELS[s] for s in CardState},
        "by_kecamatan": kecamatan,
        "by_kelurahan": kelurahan,
        "balanced": printed == int(intake["cards_imported"])
        and all(sum(k["by_state"].values()) == k["total"] for k in kelurahan),
        "returns": _section(session, office, "returns", {"by_reason": [], "by_kecamatan": [], "by_kelurahan": []}),
        "cod": _section(session, office, "cod", {}),
        "old_cards": _section(session, office, "old_cards", {}),
    }


# Sections a domain adds to the report in its init_app (intake registers "intake": print runs, rejected rows and
# cards imported; returns registers "returns"): the kernel imports no domain.
SECTIONS: dict[str, Callable[[Session, Office], dict[str, Any]]] = {}


def register_section(name: str, build: Callable[[Session, Office], dict[str, Any]]) -> None:
    SECTIONS[name] = build


def _section(session: Session, office: Office, name: str, empty: dict[str, Any]) -> dict[str, Any]:
    build = SECTIONS.get(name)
    return build(session, office) if build else empty


def _area_sort_key(regions: Any, code: str) -> tuple:
    kel = regions.kelurahan.get(code)
    return (kel is None, kel.kecamatan_name if kel else "", kel.name if kel else code)


def write_xlsx(report: dict[str, Any], path: Any) -> None:
    """The same report as a workbook: a summary sheet and one sheet per area level."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    labels = report["state_labels"]
    wb = Workbook()
    ws = wb.active
    ws.title = "Ringkasan"
    ws.append([f"Rekonsiliasi e-KTP — Disdukcapil {report['office']['name']}"])
    ws["A1"].font = Font(bold=True, size=13)
    ws.append(["Dibuat", report["generated_at"]])
    ws.append(["Kartu dicetak", report["printed"]])
    ws.append(["Baris ditolak saat impor", report["rejected_rows"]])
    ws.append([])
    ws.append(["Status", "Jumlah"])
    for state, n in report["by_state"].items():
        ws.append([labels[state], n])
    ws.append(["Jumlah", sum(report["by_state"].values())])
    for title, rows, keys in (
        ("Per kecamatan", report["by_kecamatan"], ["kode_wilayah", "kecamatan"]),
        ("Per kelurahan", report["by_kelurahan"], ["kode_wilayah", "kecamatan", "kelurahan"]),
    ):
        sheet = wb.create_sheet(title)
        sheet.append([k.replace("_", " ").title() for k in keys] + [labels[s] for s in report["by_state"]] + ["Jumlah"])
        for row in rows:
            sheet.append([row[k] for k in keys] + [row["by_state"][s] for s in report["by_state"]] + [row["total"]])
    if "returns" in report:
        _returns_sheet(wb.create_sheet("Pengembalian"), report["returns"])
    personal_data_sheet(wb, ())  # counts only: says so, like every export says what personal data it holds
    wb.save(path)


def _returns_sheet(ws: Any, returns: dict[str, Any]) -> None:
    """Returns by reason, then the handover per kecamatan and per kelurahan, one block under the other."""
    from openpyxl.styles import Font

    def heading(text: str, columns: list[str]) -> None:
        if ws.max_row > 1:
            ws.append([])
        ws.append([text])
        ws.cell(row=ws.max_row, column=1).font = Font(bold=True, size=12)
        ws.append(columns)
        for cell in ws[ws.max_row]:
            cell.font = Font(bold=True)

    ws.append(["Pengembalian ke kelurahan"])
    ws["A1"].font = Font(bold=True, size=13)
    heading("Per alasan", ["Alasan", "Kartu"])
    for r in returns["by_reason"]:
        ws.append([r["label"][:1].upper() + r["label"][1:], r["cards"]])
    ws.append(["Jumlah", sum(r["cards"] for r in returns["by_reason"])])
    rate = "Tingkat penyerahan (%)"
    heading("Per kecamatan", ["Kecamatan", "Kartu dalam berkas", "Diterima kelurahan", "Diserahkan", rate])
    for k in returns["by_kecamatan"]:
        ws.append([k["kecamatan"], k["cards"], k["received"], k["handed"], k["handover_rate_pct"]])
    dispositions = returns["disposition_labels"]
    heading("Per kelurahan", ["Kode Wilayah", "Kecamatan", "Kelurahan", "Kartu dalam berkas", "Diterima", "Diserahkan",
                              "Menunggu diambil", "Hilang", *dispositions.values(), rate])
    for k in returns["by_kelurahan"]:
        ws.append([k["kode_wilayah"], k["kecamatan"], k["kelurahan"], k["cards"], k["received"], k["handed"],
                   k["waiting"], k["missing"], *(k["by_disposition"].get(d, 0) for d in dispositions),
                   k["handover_rate_pct"]])
