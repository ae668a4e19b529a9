"""Tracking pages at the volume of a run: the search results and each problem list page by page, strict page
numbers, the problems page showing the first rows of each list with a link to all of them, dates in Indonesian."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from helpers import card_row, cli, write_csv
from sqlalchemy import update
from tracking import event, handed_over, post_events

from app.courier import s10
from app.db import unit_of_work, utcnow
from manifests.models import Manifest

INDONESIAN_MOMENT = re.compile(r"\d{2} (Januari|Februari|Maret|April|Mei|Juni|Juli|Agustus|September|Oktober|November"
                               r"|Desember) \d{4} \d{2}\.\d{2} WIB")


def names(html: str) -> list[str]:
    return re.findall(r"WARGA NOMOR \d+", html)


@pytest.fixture
def sixty_cards(app, staff, runner, tmp_path):
    path = write_csv(tmp_path / "run.csv", [card_row(i) for i in range(1, 61)])
    assert cli(runner, "import", str(path)).exit_code == 0
    return staff


def test_search_results_come_page_by_page(sixty_cards):
    staff = sixty_cards
    first = staff.get("/lacak", query_string={"q": "warga"})
    assert first.status_code == 200
    html = first.get_data(as_text=True)
    on_first = names(html)
    assert len(on_first) == 50 and "60 hasil" in html and "Halaman 1 dari 2" in html
    assert "hal=2" in html and "q=warga" in html  # the next page keeps the search
    second = staff.get("/lacak", query_string={"q": "warga", "hal": "2"}).get_data(as_text=True)
    on_second = names(second)
    assert len(on_second) == 10 and not set(on_first) & set(on_second)
    assert len(set(on_first) | set(on_second)) == 60
    past = staff.get("/lacak", query_string={"q": "warga", "hal": "7"})
    assert past.status_code == 200 and "Halaman 7 kosong" in past.get_data(as_text=True)
    # the JSON API keeps its shape: every result (up to its limit) in one list
    api = staff.get("/api/v1/tracking", query_string={"q": "warga"}).get_json()
    assert list(api) == ["results"] and len(api["results"]) == 60
    assert {"tracking_number", "nama", "nomor_blanko", "card_state_label"} <= set(api["results"][0])


@pytest.mark.parametrize("bad", ["²", "99999999999999999999", "0", "-1", "dua", "1.5"])
def test_a_page_number_that_is_not_one_is_a_400_naming_it(sixty_cards, bad):
    staff = sixty_cards
    for url, args in (("/lacak", {"q": "warga"}), ("/masalah/ditolak", {}), ("/masalah/senyap", {})):
        response = staff.get(url, query_string={**args, "hal": bad})
        assert response.status_code == 400, url
        assert "hal" in response.get_data(as_text=True), url


@pytest.fixture
def many_rejected(webhook_app, staff, runner, tmp_path) -> list[str]:
    """Five items silent for six days, and 60 events about tracking numbers nobody knows (rejected)."""
    numbers = handed_over(webhook_app, runner, tmp_path)
    with webhook_app.app_context(), unit_of_work() as s:
        s.execute(update(Manifest).values(handed_over_at=utcnow() - dt.timedelta(days=6)))
    now = utcnow()
    ghosts = [event(s10.tracking_number("RB", 19_000_000 + i), "ACCEPTED", now - dt.timedelta(minutes=i), f"g{i}")
              for i in range(60)]
    response = post_events(staff, ghosts)
    assert response.status_code == 200 and {r["result"] for r in response.json["results"]} == {"rejected"}
    return numbers


def event_ids(html: str) -> list[str]:
    return re.findall(r"<td>(g\d+)</td>", html)


def test_each_problem_list_has_its_own_pages(webhook_app, staff, many_rejected, monkeypatch):
    overview = staff.get("/masalah").get_data(as_text=True)
    rejected = overview[overview.index('id="ditolak"'):]
    assert len(event_ids(rejected)) == 10 and "Ditampilkan 10 dari 60" in rejected
    assert 'href="/masalah/ditolak"' in rejected and "Lihat semua 60" in rejected

    first = staff.get("/masalah/ditolak").get_data(as_text=True)
    second = staff.get("/masalah/ditolak?hal=2").get_data(as_text=True)
    assert len(event_ids(first)) == 50 and len(event_ids(second)) == 10
    assert not set(event_ids(first)) & set(event_ids(second))
    assert event_ids(first)[:3] == ["g59", "g58", "g57"]  # the last received first
    assert "Halaman 2 dari 2" in second and 'rel="prev"' in second
    assert INDONESIAN_MOMENT.search(first) and not re.search(r"\d{2}-\d{2}-\d{4} \d{2}:\d{2} WIB</", first)

    # a short list: its first rows on the problems page, all of them on its own page
    monkeypatch.setattr("delivery.routes.PROBLEM_PREVIEW", 2)
    overview = staff.get("/masalah").get_data(as_text=True)
    silent = overview[overview.index('id="senyap"'):overview.index('id="gagal"')]
    assert silent.count('href="/lacak/RB') == 2 and "Ditampilkan 2 dari 5" in silent
    assert 'href="/masalah/senyap"' in silent
    all_silent = staff.get("/masalah/senyap").get_data(as_text=True)
    assert all(f'href="/lacak/{n}"' in all_silent for n in many_rejected)
    assert "Tanpa kabar kurir selama 5 hari atau lebih (5)" in all_silent
    assert staff.get("/masalah/lainnya").status_code == 404

    # the JSON API is as it was: counts, and up to 200 rows per list
    api = staff.get("/api/v1/tracking/problems").get_json()
    assert api["rejected"]["count"] == 60 and len(api["rejected"]["rows"]) == 60
    assert api["silent"]["count"] == 5 and set(api) == {"silent_days", "max_attempts", "silent", "failing", "far",
                                                        "rejected", "held", "pickup_overdue"}
    assert api["held"]["count"] == 0  # events for items not yet handed over (none here)
