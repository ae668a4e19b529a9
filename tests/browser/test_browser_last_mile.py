"""The last mile in a real Chromium: a print run with cash-on-delivery replacement cards goes to the courier
simulator, which plays pick-ups at the post office, fees paid or refused, old cards surrendered, and weekly COD
settlements with deliberate differences. Staff then work the old cards (received by hand, destroyed with a witness
and a Berita Acara) and the settlements (a difference resolved with a note) at 1366 px; a citizen on a 360 px phone
reads their card's status and opts out of messages. Every page visited is saved in tests/browser/artifacts/.
"""

from __future__ import annotations

import csv
import re

import pytest
from browser_stack import STAFF_USER, Stack, Visit
from playwright.sync_api import expect

from app.demo.synthetic import generate_print_run

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def played(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A print run of 160 cards, 40% of them COD with the old card, imported, on manifests, handed to the courier and
    played for 18 simulated days (the simulator's clock starts 20 days back: no event lies in the future)."""
    path = tmp_path_factory.mktemp("last-mile") / "cod.csv"
    generate_print_run(path, cards=160, seed=21, cod_share=0.4, bad_row_share=0.0, unclear_share=0.0,
                       start_blanko=500_001)
    stack.antar("import", str(path))
    stack.antar("manifests", "build", "--finalize")
    stack.antar("manifests", "handover", "--all")
    stack.sim("POST", "_sim/advance", json={"days": 18})
    state = stack.sim("GET", "_sim/state")
    assert state["cod"]["paid"] > 0 and state["settlements"], state
    with path.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return {"state": state, "rows": rows}


def test_staff_work_the_old_cards_and_the_cod_settlements(desktop: Visit, stack: Stack, played: dict) -> None:
    v, page = desktop, desktop.page
    v.login(STAFF_USER)

    # Old cards: what the courier did not report is recorded by hand, then everything received is destroyed.
    v.goto("/kartu-lama", "kartu-lama")
    expect(page.get_by_role("heading", name="KTP lama", exact=True)).to_be_visible()
    page.get_by_label("Status").select_option("IN_TRANSIT")
    page.get_by_role("button", name="Tampilkan").click()
    v.shot("kartu-lama-di-jalan")
    in_transit = [re.search(r"BLK\d+", t).group(0)
                  for t in page.get_by_role("row").filter(has_text="Di jalan").all_inner_texts()]
    v.goto("/kartu-lama")
    if in_transit:
        page.get_by_label(re.compile("Nomor blanko kartu baru")).fill("\n".join(in_transit))
        page.get_by_role("button", name="Catat diterima").click()
        expect(page.get_by_role("status").first).to_contain_text(re.compile(r"\d+"))
        v.shot("kartu-lama-dicatat-diterima")
    page.get_by_label("Nama saksi (wajib)").fill("Drs. Saksi Uji")
    page.get_by_label("Jabatan saksi (wajib)").fill("Kepala Seksi PIAK")
    page.get_by_label("Tempat pemusnahan (wajib)").fill("Kantor Disdukcapil")
    page.get_by_role("button", name="Musnahkan semua yang menunggu").click()
    v.shot("berita-acara-pemusnahan")
    expect(page.get_by_role("heading", name=re.compile("BAP-3216-"))).to_be_visible()
    pdf_link = page.get_by_role("link", name=re.compile("PDF"))
    answer = page.request.get(pdf_link.first.get_attribute("href"))
    assert answer.status == 200 and answer.headers["content-type"] == "application/pdf"
    assert answer.body().startswith(b"%PDF")
    v.goto("/kartu-lama", "kartu-lama-sesudah")
    assert page.get_by_role("row").filter(has_text="Di jalan").count() == 0
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"/kartu-lama scrolls sideways: {width}"
    register = page.locator(".table-wrap").first
    assert register.evaluate("e => e.scrollWidth <= e.clientWidth"), "the register's table is wider than the page"

    # COD settlements: every deliberate difference of the simulator is listed; one is resolved with a note.
    v.goto("/setoran-cod", "setoran-cod")
    planted = [d for d in played["state"]["differences"] if d["kind"] != "duplicate"]
    rows = page.get_by_role("row").filter(has=page.get_by_role("button", name="Tandai selesai"))
    assert rows.count() >= len(planted) >= 1, played["state"]["differences"]
    for d in planted:
        expect(page.get_by_role("main")).to_contain_text(d.get("tracking_number") or d["settlement_id"])
    open_before = rows.count()
    first = rows.first
    first.get_by_label("Catatan penyelesaian").fill("Sudah dikonfirmasi dengan KPC; disetor susulan")
    first.get_by_role("button", name="Tandai selesai").click()
    expect(page.get_by_text("Sudah dikonfirmasi dengan KPC; disetor susulan")).to_be_visible()
    v.shot("setoran-cod-diselesaikan")
    assert rows.count() == open_before - 1
    v.goto("/masalah/ambil-lewat", "ambil-lewat")
    v.goto("/pesan", "pesan")
    expect(page.get_by_role("heading", name="Pesan ke warga")).to_be_visible()


def test_a_citizen_reads_the_status_and_opts_out_on_a_phone(mobile: Visit, played: dict) -> None:
    v, page = mobile, mobile.page
    row = next(r for r in played["rows"] if r["no_hp"] and r["no_kk"])
    v.goto("/cek-status", "cek-status")
    page.get_by_label("NIK (16 angka)").fill(row["nik"])
    page.get_by_label("Nomor KK (16 angka)").fill(row["no_kk"])
    page.get_by_role("button", name="Cek status").click()
    v.shot("cek-status-jawaban")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"/cek-status scrolls sideways on a 360 px screen: {width}"
    page.get_by_role("button", name="Jangan kirimi saya pesan").click()
    expect(page.get_by_role("status")).to_contain_text("tidak akan menerima pesan lagi")
    v.shot("cek-status-berhenti-pesan")
    assert "NIK" not in page.locator("main").inner_text() or row["nik"] not in page.content()
