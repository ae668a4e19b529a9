"""A staff member's day and a kelurahan officer's day in a real Chromium against the real server.

The stack (`antar serve` with two gunicorn workers, `antar courier-sim`, SQLite in a fresh instance folder) is set
up in conftest.py. Selectors are what a user sees: roles, labels and visible text in Bahasa Indonesia. Every page
visited is saved in tests/browser/artifacts/ as `<test>-<nn>-<step>.png`.

Some pages are still growing (imports and manifest builds as background jobs, bulk finalize and handover, counting
a batch by scanning blanko numbers): each step takes the new way when the page offers it and the older page
otherwise, so the tests hold on both.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from pathlib import Path

import pytest
from browser_stack import OFFICER_CARDS, OFFICER_USER, STAFF_USER, Stack, Visit
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, expect

from app.demo.synthetic import generate_print_run

pytestmark = pytest.mark.browser

JOB_STATES = re.compile(r"^\s*(Menunggu giliran|Sedang berjalan|Selesai|Gagal)")
JOB_URL = re.compile(r"/tugas/(\d+)")


# --- helpers -----------------------------------------------------------------------------------------------


def flash(page: Page, text: str | re.Pattern[str]) -> None:
    """A flash message (role=status) with this text is shown."""
    expect(page.get_by_role("status").filter(has_text=text).first).to_be_visible()


def stat_of(page: Page, label: str) -> int:
    """The big number on the manifest list's card for a status label ("Draf (dapat diubah)" -> 3)."""
    card = page.locator(".card").filter(has=page.get_by_text(label, exact=True)).first
    return int(card.locator(".stat").inner_text().replace(".", "").strip())


def wait_for_job(v: Visit, step: str, timeout: float = 150) -> str:
    """On a job page (/tugas/<id>, which reloads itself every 2 s): wait until the job is finished.

    Screenshots the page while it runs (once, and once more when it shows its progress) and when it is done;
    asserts the job is done ("Selesai") and shows its result; returns the page's main text."""
    page = v.page
    assert JOB_URL.search(page.url), page.url
    status = page.get_by_role("status").filter(has_text=JOB_STATES)
    progress = page.get_by_role("region", name="Kemajuan").filter(has_text=re.compile(r"\d"))  # "500 dari 2.000"
    deadline, running_shot, progress_shot = time.monotonic() + timeout, False, False
    label = ""
    while time.monotonic() < deadline:
        try:
            label = JOB_STATES.match(status.first.inner_text(timeout=5_000)).group(1)
            if label in ("Selesai", "Gagal"):
                break
            if not running_shot:
                v.shot(f"{step}-job-running")
                running_shot = True
            if not progress_shot and progress.count():
                v.shot(f"{step}-job-progress")  # how far it is, while it runs
                progress_shot = True
        except (PlaywrightError, AttributeError):
            pass  # the page was reloading: read it again
        page.wait_for_timeout(300)
    else:
        v.shot(f"{step}-job-timeout")
        raise AssertionError(f"{page.url}: job not finished within {timeout} s (last: {label!r})")
    v.shot(f"{step}-job-done")
    if label != "Selesai":
        raise AssertionError(f"{page.url}: job failed: {page.get_by_role('alert').first.inner_text()}")
    # The finished job shows what it did.
    expect(page.get_by_role("region", name="Hasil")).to_be_visible()
    return page.locator("main").inner_text()


def submit(v: Visit, button, timeout: float = 120_000) -> None:
    """Click a form's button and wait for the page that answers (a long import or build may take a while)."""
    with v.page.expect_navigation(timeout=timeout):
        button.click()


def fits_narrow_screen(v: Visit, what: str) -> None:
    width = v.page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"{what} ({v.page.url}) scrolls sideways on a 360 px screen: scrollWidth {width}"


# --- the staff day -----------------------------------------------------------------------------------------


def test_staff_day(desktop: Visit, stack: Stack, tmp_path: Path) -> None:
    v, page = desktop, desktop.page
    run = generate_print_run(tmp_path / "cetakan-bekasi-uji.csv", cards=2000, seed=5)
    assert run.bad_rows > 0 and run.unclear_addresses > 0

    v.login(STAFF_USER)

    # 1. Upload the print run and watch it being imported.
    v.goto("/impor", "impor")
    page.get_by_label(re.compile("Berkas print run")).set_input_files(str(run.path))
    submit(v, page.get_by_role("button", name="Impor", exact=True))
    if JOB_URL.search(page.url):  # the import runs as a background job
        wait_for_job(v, "impor")
        result = page.get_by_role("region", name="Hasil").inner_text()
        assert re.search(r"2\.000", result) and re.search(rf"ditolak\D*{run.bad_rows}\b", result), result
        to_run = page.get_by_role("region", name="Hasil").get_by_role("link", name=re.compile(r"print run", re.I))
        if to_run.count():
            to_run.first.click()
        else:
            v.goto("/impor")
            page.get_by_role("row").filter(has_text=run.path.name).get_by_role("link").first.click()
    else:  # the import answers in the request
        v.shot("impor-hasil")
        heading = page.get_by_role("heading", name=re.compile(r"Hasil print run #\d+"))
        expect(heading).to_be_visible()
        flash(page, re.compile(r"Print run #\d+ diimpor: 2000 kartu"))
        run_id = re.search(r"#(\d+)", heading.inner_text()).group(1)
        page.get_by_role("row").filter(has_text=run.path.name).get_by_role("link", name=run_id, exact=True).click()

    # 2. The print run's page: what became of its rows, and every rejected row with its line and reason.
    expect(page).to_have_url(re.compile(r"/impor/\d+$"))
    expect(page.get_by_role("heading", name=re.compile(r"Print run #\d+"))).to_be_visible()
    v.shot("print-run")
    expect(page.get_by_text(re.compile(r"2\.004 baris dibaca"))).to_be_visible()
    rejected = page.get_by_role("table").filter(has_text="Alasan").get_by_role("row")
    expect(rejected).to_have_count(run.bad_rows + 1)  # a header and one row per bad row
    expect(page.get_by_role("cell", name="Nama kosong")).to_be_visible()

    # 3. The review queue: fix one unclear address by picking its kelurahan from the official list. A group with a
    # likely kelurahan ("dugaan") is taken when there is one: the clerk confirms what the address suggests.
    v.goto("/alamat", "alamat")
    badge = page.get_by_role("heading", name=re.compile("Alamat belum jelas"))
    waiting = int(re.search(r"([\d.]+) kartu", badge.inner_text()).group(1).replace(".", ""))
    assert waiting >= run.unclear_addresses, waiting
    with_guess = page.get_by_role("row").filter(has=page.get_by_role("cell").nth(1).get_by_role("link"))
    guess = None
    if with_guess.count():
        link = with_guess.first.get_by_role("cell").nth(1).get_by_role("link")
        guess = link.inner_text().strip()
        link.click()
        v.shot("alamat-kelompok")
    page.get_by_role("link", name="Periksa").first.click()
    heading = page.get_by_role("heading", name=re.compile(r"Periksa alamat · "))
    expect(heading).to_be_visible()
    blanko = heading.inner_text().split("·")[-1].strip()
    v.shot("alamat-periksa")
    choice = page.get_by_label("Kelurahan/desa (daftar resmi)")
    if guess:  # "Kedung Pengawas, Kec. Babelan" is the option "Babelan · Kedung Pengawas (17610)"
        name = guess.split(",")[0].strip()
        option = choice.locator("option").filter(has_text=re.compile(rf"· {re.escape(name)} \(", re.I)).first
        picked = option.get_attribute("value")
    else:
        picked = choice.input_value() or choice.locator("option").nth(1).get_attribute("value")
    choice.select_option(picked)
    # What the holder said on the phone completes what SIAK left out (the courier needs RT and RW).
    rt, rw = page.get_by_label("RT", exact=True), page.get_by_label("RW", exact=True)
    street = page.get_by_label("Jalan, gang, perumahan, blok, nomor")
    if not (street.input_value().strip() and rt.input_value().strip() and rw.input_value().strip()):
        street.fill("JL. MELATI NO. 12")
        rt.fill("3")
        rw.fill("7")
    page.get_by_label(re.compile("Catatan")).fill("Dikonfirmasi lewat telepon (uji peramban)")
    page.get_by_role("button", name="Simpan dan siapkan kirim").click()
    flash(page, f"Alamat kartu {blanko} diperbaiki")
    expect(page.get_by_role("heading", name=re.compile("Alamat belum jelas"))).to_contain_text(
        f"{waiting - 1:,}".replace(",", "."))
    v.shot("alamat-diperbaiki")

    # 4. Build the manifests: preview the counts, then build (in the request or as a background job).
    v.goto("/manifest/baru", "manifest-baru")
    page.get_by_role("button", name="Pratinjau jumlah").click()
    expect(page.get_by_role("heading", name="Pratinjau")).to_be_visible()
    v.shot("manifest-pratinjau")
    build = page.get_by_role("button", name=re.compile(r"^Buat \d+ manifest"))
    planned = int(re.search(r"\d+", build.inner_text()).group())
    assert planned > 1, planned
    submit(v, build)
    if JOB_URL.search(page.url):
        wait_for_job(v, "manifest-susun")
    v.goto("/manifest", "manifest-draf")
    assert stat_of(page, "Draf (dapat diubah)") == planned

    # 5. Finalize: every draft at once where the list offers it, else one manifest on its own page.
    page.on("dialog", lambda dialog: dialog.accept())  # a bulk action may ask "are you sure?"
    finalize_all = page.get_by_role("button", name=re.compile(r"Kunci semua", re.I))
    if finalize_all.count():
        submit(v, finalize_all.first)
        if JOB_URL.search(page.url):
            wait_for_job(v, "manifest-kunci-semua")
            v.goto("/manifest")
        v.shot("manifest-kunci-semua")
        assert stat_of(page, "Draf (dapat diubah)") == 0
        finalized = planned
    else:
        page.get_by_role("row").filter(has_text="Draf").get_by_role("link").first.click()
        v.shot("manifest-detail-draf")
        page.get_by_role("button", name="Kunci dan beri nomor resi").click()
        flash(page, re.compile(r"Manifest dikunci: \d+ nomor resi diberikan"))
        v.shot("manifest-dikunci")
        finalized = 1
    v.goto("/manifest")
    assert stat_of(page, "Final (terkunci, bernomor resi)") == finalized

    # 6. Hand the finalized manifests to the courier (the simulator): all at once where offered, else one.
    handover_all = page.get_by_role("button", name=re.compile(r"Serahkan semua", re.I))
    if handover_all.count():
        submit(v, handover_all.first)
        if JOB_URL.search(page.url):
            wait_for_job(v, "manifest-serahkan-semua")
            v.goto("/manifest")
        v.shot("manifest-serahkan-semua")
    else:
        page.get_by_role("row").filter(has_text="Final").get_by_role("link").first.click()
        page.get_by_role("button", name="Serahkan ke kurir").click()
        flash(page, "Diserahkan ke kurir")
        v.shot("manifest-diserahkan")
        v.goto("/manifest")
    assert stat_of(page, "Diserahkan ke kurir") == finalized
    assert stat_of(page, "Penyerahan gagal (dapat dicoba lagi)") == 0
    state = stack.sim("GET", "_sim/state")
    assert state["manifests"] == finalized, state

    # 7. The courier works: move its clock on a day at a time and watch the events arrive on a manifest's page.
    page.get_by_role("row").filter(has_text="Diserahkan ke kurir").get_by_role("link").first.click()
    manifest_url = page.url
    number = page.get_by_role("heading", level=1).inner_text().strip()
    news = page.get_by_role("table").filter(has_text="Status kurir").first
    expect(news).to_contain_text("Belum ada kabar kurir")
    v.shot("manifest-menunggu-kurir")
    delivered = False
    for day in range(1, 9):
        stack.sim("POST", "_sim/advance", json={"days": 1})
        page.goto(manifest_url)
        if page.get_by_role("cell", name="Terkirim", exact=True).count():
            delivered = True
            v.shot(f"manifest-hari-{day}-terkirim")
            break
        if day == 1:
            v.shot("manifest-hari-1")
    assert delivered, f"no item of {number} delivered after 8 simulated days: {stack.sim('GET', '_sim/state')}"
    state = stack.sim("GET", "_sim/state")
    assert state["events_posted"] > 0 and state["failed_messages"] == 0, state
    expect(page.get_by_role("heading", name="Kabar kurir")).to_be_visible()

    # 8. Find a delivered card on /lacak by its manifest and read its whole timeline.
    v.goto("/lacak", "lacak")
    page.get_by_label(re.compile("Nomor resi, NIK, nomor blanko")).fill(number)
    page.get_by_role("button", name="Cari").click()
    expect(page.get_by_text(re.compile(r"[\d.]+ hasil"))).to_be_visible()
    v.shot("lacak-hasil")
    row = page.get_by_role("row").filter(has_text="Terkirim").first
    tracking_number = row.get_by_role("cell").first.inner_text().split()[0]
    row.get_by_role("link", name="Riwayat").click()
    expect(page.get_by_role("heading", name=f"Riwayat kiriman {tracking_number}")).to_be_visible()
    expect(page.get_by_role("heading", name=re.compile(r"Kabar kurir \([1-9]\d*\)"))).to_be_visible()
    expect(page.get_by_role("cell", name="diterapkan").first).to_be_visible()
    expect(page.get_by_role("heading", name="Riwayat kartu")).to_be_visible()
    expect(page.get_by_role("cell", name="Terkirim").first).to_be_visible()
    v.shot("lacak-riwayat")

    # The card whose address was fixed went out with the others, and its history says who fixed it and how.
    v.goto(f"/lacak?q={blanko}")
    expect(page.get_by_text(re.compile(r"1 hasil"))).to_be_visible()
    v.shot("lacak-kartu-diperbaiki")
    page.get_by_role("row").filter(has_text=blanko).get_by_role("link", name="Riwayat").click()
    expect(page.get_by_role("heading", name=re.compile(r"Riwayat kiriman "))).to_be_visible()
    fixed = page.get_by_role("row").filter(has_text="Alamat diperbaiki")
    expect(fixed).to_contain_text(STAFF_USER)
    expect(fixed).to_contain_text("Dikonfirmasi lewat telepon")
    v.shot("lacak-riwayat-kartu-diperbaiki")


# --- the officer day ---------------------------------------------------------------------------------------


def test_officer_day(mobile: Visit, stack: Stack) -> None:
    v, page = mobile, mobile.page
    cards = {row["nomor_blanko"]: row["nama"] for row in OFFICER_CARDS}
    blankos = list(cards)
    missing = blankos[-1]

    v.login(OFFICER_USER)
    fits_narrow_screen(v, "the page after logging in")
    v.goto("/kelurahan", "kelurahan")
    fits_narrow_screen(v, "the officer's home")
    expect(page.get_by_role("heading", name="Berkas dalam perjalanan")).to_be_visible()

    # 1. Open the batch on its way and count it in.
    page.get_by_role("link", name="Hitung dan terima").first.click()
    expect(page.get_by_role("heading", name=re.compile(r"^Berkas "))).to_be_visible()
    batch_url = page.url.split("#")[0]
    v.shot("berkas")
    fits_narrow_screen(v, "the batch to count")
    for blanko in blankos:
        expect(page.get_by_text(blanko).first).to_be_visible()

    scan = page.get_by_role("textbox", name=re.compile(r"Pindai", re.I))
    if scan.count():  # count by scanning (or typing) each blanko number and Enter, one page round trip each
        counting = page.get_by_role("region", name="Hitung kartu")
        expect(counting).to_contain_text(f"0 dari {len(blankos)} kartu dihitung")
        for n, blanko in enumerate(blankos[:-1], 1):
            scan.fill(blanko.lower() if n == 2 else blanko)  # typed by hand, in small letters
            with page.expect_navigation():
                scan.press("Enter")
            expect(page.get_by_text(re.compile(rf"{blanko} \(.*\) dihitung: {n} dari {len(blankos)} kartu"))
                   ).to_be_visible()
            expect(counting).to_contain_text(f"{n} dari {len(blankos)} kartu dihitung")
            if n == 1:
                v.shot("berkas-pindai-pertama")
                fits_narrow_screen(v, "the batch while counting")
        # A number that is not in the batch is refused beside the box, and counts nothing.
        scan.fill("BLK0000999")
        with page.expect_navigation():
            scan.press("Enter")
        expect(page.get_by_role("alert").filter(has_text="tidak ada di berkas ini")).to_be_visible()
        expect(counting).to_contain_text(f"{len(blankos) - 1} dari {len(blankos)} kartu dihitung")
        expect(page.get_by_role("region", name=re.compile("Belum dihitung"))).to_contain_text(missing)
        v.shot("berkas-pindai-salah")
        fits_narrow_screen(v, "the batch after a wrong number")
        page.get_by_label(re.compile(r"Saya sudah mencari: 1 kartu")).check()
        save = page.get_by_role("button", name=f"Simpan: {len(blankos) - 1} diterima, 1 hilang")
    else:  # the receipt form: the number in hand, the missing card ticked
        page.get_by_label("Jumlah kartu di tangan").fill(str(len(blankos) - 1))
        page.get_by_role("listitem").filter(has_text=missing).get_by_label("tidak ada (hilang)").check()
        save = page.get_by_role("button", name="Simpan penerimaan")
    v.shot("berkas-dihitung")
    save.click()
    flash(page, re.compile(rf"diterima: {len(blankos) - 1} kartu; 1 kartu dilaporkan hilang"))
    expect(page.get_by_text("1 hilang")).to_be_visible()
    v.shot("berkas-diterima")
    fits_narrow_screen(v, "the received batch")

    # 2. The missing card says so on its page.
    page.get_by_role("link", name=cards[missing]).click()
    expect(page.get_by_text("dilaporkan hilang").first).to_be_visible()
    v.shot("kartu-hilang")
    fits_narrow_screen(v, "a missing card")

    # 3. One card for each kind of disposition.
    def record(blanko: str, label: str, step: str, fill) -> None:
        page.goto(batch_url)
        page.get_by_role("link", name=cards[blanko]).click()
        expect(page.get_by_role("heading", name="Apa yang terjadi dengan kartu ini?")).to_be_visible()
        fits_narrow_screen(v, f"the card page of {blanko}")
        page.get_by_role("radio", name=label).check()
        fill(page.get_by_role("group", name=label))
        v.shot(f"{step}-isi")
        page.get_by_role("button", name="Simpan").click()
        flash(page, re.compile(rf"Kartu {blanko} .*: {re.escape(label)} — tercatat"))
        expect(page.get_by_role("heading", name=f"Tercatat: {label}")).to_be_visible()
        v.shot(f"{step}-tercatat")
        fits_narrow_screen(v, f"the recorded card {blanko}")

    def holder(group) -> None:
        expect(group.get_by_label("Nama penerima")).to_have_value(cards[blankos[0]])
        group.get_by_label(re.compile("Identitas diperiksa")).check()

    def family(group) -> None:
        group.get_by_label("Nama penerima").fill("SUPRIATNA")
        group.get_by_label(re.compile("Hubungan keluarga")).fill("suami")

    def deceased(group) -> None:
        group.get_by_label(re.compile("Keterangan")).fill("Surat kematian dari RT 003, 12-11-2026")

    def moved(group) -> None:
        group.get_by_label(re.compile("Jalan, gang")).fill("JL. RAYA WANASARI NO. 17")
        group.get_by_label("RT", exact=True).fill("2")
        group.get_by_label("RW", exact=True).fill("4")
        group.get_by_label("Kelurahan/desa").fill("WANASARI")
        group.get_by_label("Kecamatan").fill("CIBITUNG")
        group.get_by_label("Kabupaten/kota").fill("KAB. BEKASI")
        group.get_by_label("Kode pos").fill("17520")

    record(blankos[0], "Diserahkan kepada pemilik", "pemilik", holder)
    expect(page.get_by_text("Identitas diperiksa")).to_be_visible()
    record(blankos[1], "Diserahkan kepada keluarga", "keluarga", family)
    expect(page.get_by_text("SUPRIATNA (suami)")).to_be_visible()
    record(blankos[2], "Pemilik meninggal dunia", "meninggal", deceased)
    record(blankos[3], "Pemilik pindah alamat", "pindah", moved)
    expect(page.get_by_text(re.compile(r"Wanasari, Kec\. Cibitung", re.I))).to_be_visible()
    record(blankos[4], "Tidak diambil sampai batas waktu", "tidak-diambil", lambda group: None)

    # 4. The batch shows every card's outcome; two cards still wait for their holders.
    page.goto(batch_url)
    for label in ("Diserahkan kepada pemilik", "Diserahkan kepada keluarga", "Pemilik meninggal dunia",
                  "Pemilik pindah alamat", "Tidak diambil sampai batas waktu"):
        expect(page.get_by_text(label)).to_be_visible()
    v.shot("berkas-akhir")
    fits_narrow_screen(v, "the batch at the end of the day")
    v.goto("/kelurahan")
    expect(page.get_by_role("heading", name=re.compile("Kartu menunggu diambil"))).to_contain_text("2")
    v.shot("kelurahan-akhir")
    fits_narrow_screen(v, "the officer's home at the end of the day")


def test_head_of_office_dashboard(desktop: Visit, stack: Stack) -> None:
    """After the staff's and the officer's days: the head of office lands on the dashboard, reads the funnel, the
    rates, the reasons and the days, opens a kelurahan from the map, filters by date, and takes the regent's report."""
    from browser_stack import OFFICER_KELURAHAN

    v, page = desktop, desktop.page
    v.login(STAFF_USER)
    expect(page).to_have_url(re.compile(r"/dasbor$"))
    expect(page.get_by_role("heading", name=re.compile("Dasbor pengiriman e-KTP"))).to_be_visible()
    for name in ("Alur kartu", "Tingkat terkirim per kecamatan", "Kartu per hari", "Peta:"):
        expect(page.get_by_role("img", name=re.compile(name, re.I)).first).to_be_visible()
    printed = int(page.locator(".dash-stats .card").first.locator(".stat").inner_text()
                  .replace(".", ""))
    assert printed > 0
    # the numbers behind the funnel, as a table for screen readers and print
    page.get_by_text("Angka sebagai tabel").first.click()
    first_row = page.locator("table.dash-table").first.locator("tbody tr").first
    expect(first_row).to_contain_text("Dicetak")
    v.shot("dashboard")

    # the map: every kelurahan of the office drawn from the loaded outlines, coloured, a click opens its figures
    areas = page.locator("svg.map a.map-area")
    assert areas.count() >= 1, "no kelurahan with cards on the map"
    assert page.locator("svg.map .map-area").count() == 187
    page.locator(f'svg.map a.map-area[data-kode="{OFFICER_KELURAHAN}"]').click()
    expect(page).to_have_url(re.compile(rf"/dasbor/kelurahan/{re.escape(OFFICER_KELURAHAN)}"))
    expect(page.get_by_role("heading", name=re.compile("Kelurahan Jatimulya"))).to_be_visible()
    v.shot("kelurahan")

    page.go_back()
    page.get_by_role("link", name="Kartu dikembalikan kurir").click()
    expect(page).to_have_url(re.compile(r"peta=kembali"))
    v.shot("map-returns")

    # figures as at the day before yesterday: the filter form, then back to today
    day = (dt.date.today() - dt.timedelta(days=2)).isoformat()
    page.get_by_label("Sampai tanggal (keadaan per)").fill(day)
    page.get_by_role("button", name="Terapkan").click()
    expect(page).to_have_url(re.compile(rf"sampai={day}"))
    expect(page.get_by_text(re.compile(r"Keadaan per \d+ \w+ \d{4}")).first).to_be_visible()
    v.shot("as-at-date")

    report = page.request.get(page.get_by_role("link", name="Laporan Bupati/DPRD (PDF)").get_attribute("href"))
    assert report.ok and report.body().startswith(b"%PDF")
