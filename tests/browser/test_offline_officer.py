"""A kelurahan officer working without a network, in a real Chromium on a 360 px phone screen (issue 15).

The stack is conftest.py's (`antar serve`, SQLite in a fresh instance folder). The officer opens his pages once with
a network (the service worker keeps them), goes offline (`context.set_offline(True)`), counts a batch in and records
what became of several cards, reloads the page still offline, and comes back online: every record is then in the
database exactly once. Then the same with a staff correction made meanwhile (a conflict both sides see; staff decide;
nothing overwritten), with the network failing halfway through the sending (the record whose answer was lost is sent
again with its key and recorded once), with the login gone and a logout made while records wait, and with a form
sent while the network only looked up (the service worker keeps it).

Playwright's `set_offline` does not reach a service worker's own requests (microsoft/playwright#2311): while offline,
those are refused here as a phone without a network refuses them, and the server's request log shows that nothing
reached it.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
import requests
from browser_stack import OFFICER_CARDS, OFFICER_KELURAHAN, OFFICER_USER, PASSWORD, STAFF_USER, Stack, Visit
from helpers import card_row, write_csv
from playwright.sync_api import BrowserContext, Page, Route, expect

pytestmark = pytest.mark.browser

DISPOSITION_STATES = ("HANDED_TO_HOLDER", "HOLDER_DECEASED", "READDRESSED", "NOT_COLLECTED")


# --- the network ---------------------------------------------------------------------------------------------------


def _refuse(route: Route) -> None:
    route.abort("internetdisconnected")


def go_offline(context: BrowserContext) -> None:
    context.set_offline(True)
    context.route("**/*", _refuse)  # the service worker's own requests too (see the module's docstring)


def go_online(context: BrowserContext) -> None:
    context.unroute("**/*", _refuse)
    context.set_offline(False)


def requests_served(stack: Stack) -> int:
    """Requests for the officer's data the server has answered so far (its JSON request log, one line each).

    The browser's own update check of the service worker's script (sw.js and the script it imports) is not counted:
    Chromium makes it after a navigation, outside both the page and the worker, so neither `set_offline` nor a route
    holds it back; on a phone without a network it fails, and it carries no data."""
    worker = re.compile(r'"path": "/kelurahan/(sw\.js|static/[^"]*)"')
    return sum(1 for line in stack.logs["serve"].read_text(errors="replace").splitlines()
               if line.startswith('{"t"') and not worker.search(line))


# --- the database and the command line -----------------------------------------------------------------------------


def query(stack: Stack, sql: str, *args) -> list[tuple]:
    with sqlite3.connect(Path(stack.env["ANTAR_INSTANCE_PATH"]) / "antar.sqlite") as db:
        return db.execute(sql, args).fetchall()


def moves(stack: Stack, blanko: str) -> list[tuple[str, str, str]]:
    return query(stack, "SELECT h.from_state, h.to_state, h.actor FROM card_history h JOIN card c ON c.id = h.card_id "
                        "WHERE c.nomor_blanko = ? ORDER BY h.id", blanko)


def state(stack: Stack, blanko: str) -> str:
    return query(stack, "SELECT state FROM card WHERE nomor_blanko = ?", blanko)[0][0]


def batch_items(stack: Stack, batch_id: int) -> dict[str, tuple[int, str]]:
    """blanko -> (item id, name)."""
    rows = query(stack, "SELECT c.nomor_blanko, i.id, c.nama FROM handover_item i JOIN card c ON c.id = i.card_id "
                        "WHERE i.batch_id = ?", batch_id)
    return {b: (i, n) for b, i, n in rows}


def new_batch(stack: Stack, tmp_path: Path, first: int, names: list[str]) -> int:
    """More cards of the officer's kelurahan (withdrawn at intake: the area is withdrawn), in a batch sent to him."""
    rows = [card_row(first + i, nama=name, rt=f"{i + 1:03d}", nomor_blanko=f"BLK{first + i:07d}")
            for i, name in enumerate(names)]
    stack.antar("import", str(write_csv(tmp_path / f"kartu-{first}.csv", rows)))
    stack.antar("returns", "build", "--kelurahan", OFFICER_KELURAHAN, "--dispatch")
    return query(stack, "SELECT max(id) FROM handover_batch")[0][0]


def token(stack: Stack, username: str) -> str:
    return stack.antar("tokens", "create", username, "--name", "uji luring").stdout.strip().splitlines()[-1]


def api(stack: Stack, bearer: str, path: str, body: dict, key: str | None = None) -> dict:
    headers = {"Authorization": f"Bearer {bearer}"}
    if key:
        headers["Idempotency-Key"] = key
    r = requests.post(stack.base_url + path, json=body, headers=headers, timeout=30)
    assert r.status_code == 200, f"{path}: {r.status_code} {r.text[:300]}"
    return r.json()


def receive_online(stack: Stack, batch_id: int) -> None:
    n = len(batch_items(stack, batch_id))
    api(stack, token(stack, OFFICER_USER), f"/api/v1/kelurahan/batches/{batch_id}/receipt", {"counted": n},
        key=f"terima-{batch_id}")


# --- the phone -----------------------------------------------------------------------------------------------------


def panel(page: Page):
    return page.get_by_role("region", name="Catatan di perangkat")


def ready_offline(v: Visit) -> None:
    """The officer's pages are kept on the phone (the panel says so once the service worker has them)."""
    expect(panel(v.page)).to_contain_text("siap dipakai tanpa jaringan", timeout=60_000)


def waiting(page: Page, n: int) -> None:
    expect(panel(page)).to_contain_text(f"{n} catatan belum terkirim")


def all_sent(page: Page) -> None:
    expect(panel(page)).to_contain_text("Semua catatan sudah terkirim", timeout=30_000)


def fits_narrow_screen(v: Visit, what: str) -> None:
    width = v.page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"{what} ({v.page.url}) scrolls sideways on a 360 px screen: scrollWidth {width}"


def open_offline(v: Visit, path: str, step: str) -> None:
    """A page opened without a network: it comes from the phone."""
    response = v.page.goto(v.base_url + path)
    assert response is not None and response.ok, f"{path} offline: {response and response.status}"
    expect(panel(v.page)).to_contain_text("Tanpa jaringan")
    v.shot(step)
    fits_narrow_screen(v, step)


def count_offline(v: Visit, blankos: list[str], missing: list[str], step: str) -> None:
    """Count a batch on the phone: each blanko typed (or scanned) and Enter; the ones not found reported missing."""
    page = v.page
    counting = page.get_by_role("region", name="Hitung kartu di perangkat")
    expect(counting).to_be_visible()
    total = len(blankos) + len(missing)
    expect(counting).to_contain_text(f"0 dari {total} kartu dihitung di perangkat")
    box = counting.get_by_label(re.compile("Nomor blanko"))
    for n, blanko in enumerate(blankos, 1):
        box.fill(blanko.lower() if n == 2 else blanko)
        box.press("Enter")
        expect(counting).to_contain_text(f"{n} dari {total} kartu dihitung di perangkat")
    box.fill("BLK0000999")
    box.press("Enter")
    expect(counting.get_by_role("alert").filter(has_text="tidak ada di berkas ini")).to_be_visible()
    v.shot(f"{step}-hitung")
    fits_narrow_screen(v, "counting on the phone")
    if missing:
        counting.get_by_label(re.compile(f"Saya sudah mencari: {len(missing)} kartu")).check()
        save = f"Simpan di perangkat: {len(blankos)} diterima, {len(missing)} hilang"
        counting.get_by_role("button", name=save).click()
    else:
        counting.get_by_role("button", name=f"Simpan penerimaan di perangkat: {len(blankos)} kartu").click()
    received = page.get_by_role("region", name="Penerimaan tercatat di perangkat")
    expect(received).to_contain_text(f"{len(blankos)} kartu diterima")
    expect(received).to_contain_text("belum terkirim")
    v.shot(f"{step}-diterima")


def record(v: Visit, label: str, step: str, fill=None) -> None:
    """On a card's page: one disposition, kept on the phone while offline."""
    page = v.page
    expect(page.get_by_role("heading", name="Apa yang terjadi dengan kartu ini?")).to_be_visible()
    page.get_by_role("radio", name=label).check()
    if fill:
        fill(page.get_by_role("group", name=label))
    page.get_by_role("button", name="Simpan", exact=True).click()
    note = page.locator(".luring-catatan")
    expect(note).to_contain_text(f"Tercatat di perangkat: {label}")
    expect(note).to_contain_text("belum terkirim")
    expect(page.get_by_role("heading", name="Apa yang terjadi dengan kartu ini?")).to_be_hidden()
    v.shot(step)
    fits_narrow_screen(v, f"a card recorded on the phone ({label})")


def holder(group) -> None:
    group.get_by_label(re.compile("Identitas diperiksa")).check()


def family(group) -> None:
    group.get_by_label("Nama penerima").fill("SUPRIATNA")
    group.get_by_label(re.compile("Hubungan keluarga")).fill("suami")


def deceased(group) -> None:
    group.get_by_label(re.compile("Keterangan")).fill("Surat kematian dari RT 003")


def moved(group) -> None:
    group.get_by_label(re.compile("Jalan, gang")).fill("JL. RAYA WANASARI NO. 17")
    group.get_by_label("RT", exact=True).fill("2")
    group.get_by_label("RW", exact=True).fill("4")
    group.get_by_label("Kelurahan/desa").fill("WANASARI")
    group.get_by_label("Kecamatan").fill("CIBITUNG")


def local_store(page: Page) -> dict:
    """What the phone holds: the kept pages' caches and the records not yet sent."""
    return page.evaluate("""async () => {
        const names = await caches.keys();
        const db = await new Promise((ok, no) => { const r = indexedDB.open('antar-kelurahan');
                                                   r.onsuccess = () => ok(r.result); r.onerror = () => no(r.error); });
        const records = await new Promise((ok) => { const q = db.transaction('records').objectStore('records').getAll();
                                                    q.onsuccess = () => ok(q.result); });
        db.close();
        return {caches: names, records: records.map(r => ({kind: r.kind, user_id: r.user_id, title: r.title}))};
    }""")


# --- the tests -----------------------------------------------------------------------------------------------------


def test_offline_day_is_recorded_exactly_once(mobile: Visit, stack: Stack) -> None:
    v, page = mobile, mobile.page
    blankos = [row["nomor_blanko"] for row in OFFICER_CARDS]
    names = {row["nomor_blanko"]: row["nama"] for row in OFFICER_CARDS}
    batch_id = query(stack, "SELECT min(id) FROM handover_batch")[0][0]
    items = batch_items(stack, batch_id)

    v.login(OFFICER_USER)
    ready_offline(v)
    v.shot("siap-luring")
    fits_narrow_screen(v, "the officer's home with the offline panel")

    served = requests_served(stack)
    go_offline(page.context)
    open_offline(v, f"/kelurahan/berkas/{batch_id}", "berkas-luring")
    missing = blankos[-1]
    count_offline(v, blankos[:-1], [missing], "berkas")

    kinds = [(blankos[0], "Diserahkan kepada pemilik", holder), (blankos[1], "Diserahkan kepada keluarga", family),
             (blankos[2], "Pemilik meninggal dunia", deceased), (blankos[3], "Pemilik pindah alamat", moved),
             (blankos[4], "Tidak diambil sampai batas waktu", None)]
    for n, (blanko, label, fill) in enumerate(kinds, 1):
        page.get_by_role("region", name="Penerimaan tercatat di perangkat").get_by_role(
            "link", name=names[blanko]).click()
        expect(page).to_have_url(re.compile(rf"/kelurahan/kartu/{items[blanko][0]}$"))
        record(v, label, f"kartu-{n}", fill)
        waiting(page, 1 + n)
        page.go_back()

    # reloaded, still without a network: everything is still there, nothing went anywhere
    page.reload()
    expect(page.get_by_role("region", name="Penerimaan tercatat di perangkat")).to_contain_text("belum terkirim")
    open_offline(v, "/kelurahan", "rumah-luring")
    page.reload()
    waiting(page, 6)
    for blanko, _, _ in kinds:
        expect(panel(page)).to_contain_text(names[blanko])
    v.shot("rumah-luring-dimuat-ulang")
    assert requests_served(stack) == served, "a request reached the server while the phone was offline"
    assert {state(stack, b) for b in blankos} == {"SENT_TO_KELURAHAN"}

    go_online(page.context)  # the phone sends by itself when the network returns
    all_sent(page)
    v.shot("terkirim")
    expected = {blankos[0]: "HANDED_TO_HOLDER", blankos[1]: "HANDED_TO_HOLDER", blankos[2]: "HOLDER_DECEASED",
                blankos[3]: "READDRESSED", blankos[4]: "NOT_COLLECTED", blankos[5]: "AT_KELURAHAN",
                blankos[6]: "AT_KELURAHAN", missing: "MISSING"}
    for blanko, final in expected.items():
        steps = moves(stack, blanko)
        assert state(stack, blanko) == final, (blanko, steps)
        to = [t for _, t, _ in steps]
        assert to.count("SENT_TO_KELURAHAN") == 1 and to[-1] == final, (blanko, steps)
        if final != "MISSING":
            assert to.count("AT_KELURAHAN") == 1, (blanko, steps)
        assert sum(to.count(s) for s in DISPOSITION_STATES) == (final in DISPOSITION_STATES), (blanko, steps)
        at_kelurahan = steps[to.index("SENT_TO_KELURAHAN") + 1:]  # what the phone recorded
        assert at_kelurahan and all(actor == OFFICER_USER for _, _, actor in at_kelurahan), steps
    assert query(stack, "SELECT status, received_count, missing_count FROM handover_batch WHERE id = ?",
                 batch_id) == [("RECEIVED", 7, 1)]
    assert query(stack, "SELECT count(*) FROM offline_conflict") == [(0,)]
    moved_to = query(stack, "SELECT kelurahan_code, rt FROM card WHERE nomor_blanko = ?", blankos[3])[0]
    assert moved_to[0].startswith("32.16.") and moved_to[1] == "002"  # normalized as at intake

    v.goto("/kelurahan", "rumah-akhir")
    expect(page.get_by_role("heading", name=re.compile("Kartu menunggu diambil"))).to_contain_text("2")
    fits_narrow_screen(v, "the officer's home after sending")


def test_staff_correction_meanwhile_is_a_conflict_both_sides_see(mobile: Visit, desktop: Visit, stack: Stack,
                                                                 tmp_path: Path) -> None:
    batch_id = new_batch(stack, tmp_path, 9100, ["LINDA KUSUMA", "HENDRA WIJAYA", "YULIANA PUTRI"])
    receive_online(stack, batch_id)
    items = batch_items(stack, batch_id)
    a, b = "BLK0009100", "BLK0009101"
    v, page = mobile, mobile.page
    v.login(OFFICER_USER)
    ready_offline(v)

    go_offline(page.context)
    open_offline(v, f"/kelurahan/kartu/{items[a][0]}", "kartu-a-luring")
    record(v, "Diserahkan kepada pemilik", "kartu-a-dicatat", holder)
    open_offline(v, f"/kelurahan/kartu/{items[b][0]}", "kartu-b-luring")
    record(v, "Pemilik meninggal dunia", "kartu-b-dicatat", deceased)
    waiting(page, 2)

    # meanwhile, at the office: card A recorded from another device, then corrected by staff
    api(stack, token(stack, OFFICER_USER), f"/api/v1/kelurahan/cards/{items[a][0]}/disposition",
        {"disposition": "FAMILY", "receiver_name": "ORANG LAIN", "receiver_relationship": "tetangga"}, key="pc-a")
    api(stack, token(stack, STAFF_USER), f"/api/v1/returns/items/{items[a][0]}/correct",
        {"reason": "salah catat: penerima bukan keluarga"})
    assert state(stack, a) == "AT_KELURAHAN"

    go_online(page.context)
    all_sent(page)  # nothing waits on the phone: B is recorded, A is kept at the office for staff
    expect(panel(page)).to_contain_text("menunggu keputusan staf")
    v.shot("terkirim-satu-konflik")
    assert state(stack, b) == "HOLDER_DECEASED"
    assert state(stack, a) == "AT_KELURAHAN", "the officer's record overwrote the staff correction"
    assert query(stack, "SELECT status, officer FROM offline_conflict") == [("OPEN", OFFICER_USER)]

    # the officer's side
    v.goto("/kelurahan", "rumah-konflik")
    conflicts = page.get_by_role("region", name=re.compile("Catatan dari perangkat"))
    expect(conflicts).to_contain_text("menunggu keputusan staf")
    expect(conflicts).to_contain_text("Diserahkan kepada pemilik: LINDA KUSUMA")
    expect(conflicts).to_contain_text("salah catat: penerima bukan keluarga")
    fits_narrow_screen(v, "the officer's home with a conflict")
    conflicts.get_by_role("link", name=re.compile("LINDA KUSUMA")).click()
    expect(page.get_by_role("region", name=re.compile("Catatan dari perangkat"))).to_contain_text(
        "menunggu keputusan staf")
    v.shot("kartu-konflik")
    fits_narrow_screen(v, "a card with a conflict")

    # the staff's side: the officer's record beside the card as the office has it; staff decide
    s, staff_page = desktop, desktop.page
    s.goto("/login")
    staff_page.get_by_label("Nama pengguna").fill(STAFF_USER)
    staff_page.get_by_label("Kata sandi").fill(PASSWORD)
    staff_page.get_by_role("button", name="Masuk").click()
    expect(staff_page.get_by_role("button", name="Keluar")).to_be_visible()
    s.goto("/pengembalian", "staf-ringkasan")
    staff_page.get_by_role("link", name="Konflik catatan luring").first.click()
    row = staff_page.get_by_role("row").filter(has_text="LINDA KUSUMA")
    expect(row).to_contain_text("Diserahkan kepada pemilik: LINDA KUSUMA")
    expect(row).to_contain_text("salah catat: penerima bukan keluarga")
    expect(row).to_contain_text("Di kelurahan")
    s.shot("staf-konflik")
    row.get_by_label("Alasan keputusan").fill("petugas menyerahkan sendiri kepada pemilik")
    row.get_by_role("button", name="Terima catatan petugas").click()
    expect(staff_page.get_by_role("status").filter(has_text="diterima dan diterapkan")).to_be_visible()
    s.shot("staf-diputuskan")
    assert state(stack, a) == "HANDED_TO_HOLDER"
    assert moves(stack, a)[-1] == ("AT_KELURAHAN", "HANDED_TO_HOLDER", f"{OFFICER_USER} (disetujui {STAFF_USER})")
    assert query(stack, "SELECT status, decided_by, decision_note FROM offline_conflict") == [
        ("ACCEPTED", STAFF_USER, "petugas menyerahkan sendiri kepada pemilik")]

    page.reload()
    expect(page.get_by_role("region", name=re.compile("Catatan dari perangkat"))).to_contain_text("Diterima staf")
    expect(page.get_by_role("heading", name="Tercatat: Diserahkan kepada pemilik")).to_be_visible()
    v.shot("kartu-konflik-diputuskan")


def test_network_failing_halfway_through_sending(mobile: Visit, stack: Stack, tmp_path: Path) -> None:
    names = ["ASEP SUNARYA", "TUTI ALAWIYAH", "DEDI MULYADI", "ENI SURYANI"]
    batch_id = new_batch(stack, tmp_path, 9200, names)
    items = batch_items(stack, batch_id)
    blankos = sorted(items)
    v, page = mobile, mobile.page
    v.login(OFFICER_USER)
    ready_offline(v)

    go_offline(page.context)
    open_offline(v, f"/kelurahan/berkas/{batch_id}", "berkas-luring")
    count_offline(v, blankos, [], "berkas")
    for n, (blanko, label, fill) in enumerate([(blankos[0], "Diserahkan kepada pemilik", holder),
                                                (blankos[1], "Pemilik meninggal dunia", deceased),
                                                (blankos[2], "Diserahkan kepada keluarga", family)], 1):
        open_offline(v, f"/kelurahan/kartu/{items[blanko][0]}", f"kartu-{n}-luring")
        record(v, label, f"kartu-{n}", fill)
    open_offline(v, "/kelurahan", "rumah-luring")
    waiting(page, 4)

    keys: list[str] = []

    def flaky(route: Route) -> None:
        if route.request.method != "POST":
            route.continue_()
            return
        keys.append(route.request.headers["idempotency-key"])
        if len(keys) == 2:  # the second record reaches the server and is recorded, but its answer is lost
            route.fetch()
            route.abort("connectionreset")
        else:
            route.continue_()

    page.context.route("**/api/v1/kelurahan/**", flaky)
    go_online(page.context)
    expect(panel(page)).to_contain_text("Pengiriman terputus", timeout=30_000)
    waiting(page, 3)
    v.shot("terputus")
    assert len(keys) == 2
    assert state(stack, blankos[0]) == "HANDED_TO_HOLDER"  # recorded, though the phone never heard so
    assert {state(stack, b) for b in blankos[1:]} == {"AT_KELURAHAN"}

    panel(page).get_by_role("button", name="Kirim sekarang").click()
    all_sent(page)
    v.shot("terkirim")
    assert keys[2] == keys[1] and len(keys) == 5 and len(set(keys)) == 4  # the lost one again, with its key
    finals = {blankos[0]: "HANDED_TO_HOLDER", blankos[1]: "HOLDER_DECEASED", blankos[2]: "HANDED_TO_HOLDER",
              blankos[3]: "AT_KELURAHAN"}
    for blanko, final in finals.items():
        to = [t for _, t, _ in moves(stack, blanko)]
        assert state(stack, blanko) == final and to.count("AT_KELURAHAN") == 1, (blanko, to)
        assert sum(to.count(s) for s in DISPOSITION_STATES) == (final != "AT_KELURAHAN"), (blanko, to)
    assert query(stack, "SELECT count(*) FROM handover_batch_event WHERE batch_id = ? AND to_status = 'RECEIVED'",
                 batch_id) == [(1,)]
    assert query(stack, "SELECT count(*) FROM offline_conflict WHERE batch_id = ?", batch_id) == [(0,)]


def test_login_gone_and_logout_while_records_wait(mobile: Visit, stack: Stack, tmp_path: Path) -> None:
    batch_id = new_batch(stack, tmp_path, 9300, ["RUDI HARTONO", "SRI WAHYUNI"])
    receive_online(stack, batch_id)
    items = batch_items(stack, batch_id)
    x, y = "BLK0009300", "BLK0009301"
    v, page = mobile, mobile.page
    v.login(OFFICER_USER)
    ready_offline(v)

    go_offline(page.context)
    open_offline(v, f"/kelurahan/kartu/{items[x][0]}", "kartu-x-luring")
    record(v, "Pemilik meninggal dunia", "kartu-x-dicatat", deceased)
    # logging out with a record waiting: asked first; "Batal" keeps everything
    page.get_by_role("button", name="Keluar").click()
    dialog = page.get_by_role("dialog", name="Masih ada 1 catatan belum terkirim")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("button", name=re.compile("Kirim dulu"))).to_be_disabled()
    v.shot("keluar-ditanya")
    dialog.get_by_role("button", name="Batal").click()
    expect(dialog).to_be_hidden()
    waiting(page, 1)

    # the login ends while the phone is offline (as after a long time away): back online, it asks to log in again
    page.context.clear_cookies()
    go_online(page.context)
    expect(panel(page).get_by_role("alert")).to_contain_text("Sesi berakhir, masuk lagi")
    waiting(page, 1)
    v.shot("sesi-berakhir")
    assert state(stack, x) == "AT_KELURAHAN"
    panel(page).get_by_role("link", name="Masuk lagi").click()
    page.get_by_label("Nama pengguna").fill(OFFICER_USER)
    page.get_by_label("Kata sandi").fill(PASSWORD)
    page.get_by_role("button", name="Masuk").click()
    expect(page).to_have_url(re.compile(rf"/kelurahan/kartu/{items[x][0]}$"))
    expect(page.get_by_role("heading", name="Tercatat: Pemilik meninggal dunia")).to_be_visible(timeout=30_000)
    all_sent(page)
    v.shot("masuk-lagi-terkirim")
    assert [t for _, t, _ in moves(stack, x)].count("HOLDER_DECEASED") == 1

    # logging out without a network, a record waiting: the kelurahan's data leaves the phone, the record stays
    ready_offline(v)
    go_offline(page.context)
    open_offline(v, f"/kelurahan/kartu/{items[y][0]}", "kartu-y-luring")
    record(v, "Tidak diambil sampai batas waktu", "kartu-y-dicatat")
    page.get_by_role("button", name="Keluar").click()
    page.get_by_role("dialog").get_by_role("button", name="Keluar, simpan catatan di perangkat").click()
    expect(page.get_by_role("heading", name="Anda keluar dari perangkat ini")).to_be_visible()
    v.shot("keluar-luring")
    held = local_store(page)
    assert not [n for n in held["caches"] if n.startswith("antar-data-")], held["caches"]
    assert [r["kind"] for r in held["records"]] == ["disposition"] and "SRI WAHYUNI" in held["records"][0]["title"]
    assert state(stack, y) == "AT_KELURAHAN"

    # back online: the login left open on the server ends; logging in again sends the record, once
    go_online(page.context)
    page.goto(stack.base_url + "/kelurahan")
    expect(page).to_have_url(re.compile(r"/login"), timeout=30_000)
    page.goto(stack.base_url + "/kelurahan")
    expect(page).to_have_url(re.compile(r"/login"))
    v.shot("keluar-berakhir")
    page.get_by_label("Nama pengguna").fill(OFFICER_USER)
    page.get_by_label("Kata sandi").fill(PASSWORD)
    page.get_by_role("button", name="Masuk").click()
    all_sent(page)
    assert state(stack, y) == "NOT_COLLECTED"
    assert [t for _, t, _ in moves(stack, y)].count("NOT_COLLECTED") == 1
    v.shot("masuk-lagi-akhir")


def test_a_form_sent_when_the_network_only_looked_up_is_kept_and_sent_once(mobile: Visit, stack: Stack,
                                                                             tmp_path: Path) -> None:
    """The phone believed it was online, so the page sent its form as usual, and the form did not get through: the
    service worker keeps it as a record, the officer sees it kept, and it is sent (once) when the network answers."""
    batch_id = new_batch(stack, tmp_path, 9400, ["WAWAN SETIAWAN"])
    receive_online(stack, batch_id)
    (item_id, name), = batch_items(stack, batch_id).values()
    v, page = mobile, mobile.page
    v.login(OFFICER_USER)
    ready_offline(v)
    v.goto(f"/kelurahan/kartu/{item_id}", "kartu")

    lost: list[str] = []

    def no_answer(route: Route) -> None:  # the form's request never gets an answer
        lost.append(route.request.url)
        route.abort("connectionreset")

    page.context.route(re.compile(r".*/kelurahan/kartu/\d+/disposisi$"), no_answer)
    page.context.route(re.compile(r".*/api/v1/kelurahan/cards/\d+/disposition$"), no_answer)
    record(v, "Pemilik meninggal dunia", "kartu-tersimpan", deceased)
    assert lost and state(stack, "BLK0009400") == "AT_KELURAHAN"
    expect(panel(page)).to_contain_text(name)

    page.context.unroute(re.compile(r".*/kelurahan/kartu/\d+/disposisi$"), no_answer)
    page.context.unroute(re.compile(r".*/api/v1/kelurahan/cards/\d+/disposition$"), no_answer)
    page.goto(stack.base_url + "/kelurahan")
    all_sent(page)
    v.shot("terkirim")
    assert state(stack, "BLK0009400") == "HOLDER_DECEASED"
    assert [t for _, t, _ in moves(stack, "BLK0009400")].count("HOLDER_DECEASED") == 1
