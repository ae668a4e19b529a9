"""The staff page /pesan and GET /api/v1/notify/messages: counts by kind and status, the list with masked numbers,
failures; the roles that may see them; query strings checked."""

from __future__ import annotations

import datetime as dt

from helpers import make_user
from notify_testing import intl, messages, one_pass, phone, rows_with_phones
from tracking import event, handed_over, post_events

from app.db import utcnow
from app.models import Role


def test_the_page_and_the_api_show_counts_and_masked_numbers(notify_app, client, staff, runner, tmp_path, gateway):
    numbers = handed_over(notify_app, runner, tmp_path, rows_with_phones(range(1, 4), without=(3,)))
    post_events(client, [event(n, "OUT_FOR_DELIVERY", utcnow() - dt.timedelta(minutes=5), f"o-{n}") for n in numbers])
    gateway.fail_next("401")
    one_pass(notify_app)  # the first fails on credentials and sending stops
    page = staff.get("/pesan")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Pesan ke warga" in html and "Sedang diantar" in html and "Gagal terakhir" in html
    for serial in (1, 2):
        assert phone(serial) not in html and intl(serial) not in html and intl(serial)[-3:] in html
    assert "+62812*****" in html

    api = staff.get("/api/v1/notify/messages").json
    assert api["total"] == 3 and api["gateway"]["configured"] is True and api["gateway"]["blocked_since"]
    assert api["counts"]["out_for_delivery"] == {"queued": 1, "sent": 0, "delivered": 0, "read": 0, "failed": 1,
                                                 "skipped": 1}
    assert all("*" in m["phone"] or m["phone"] == "—" for m in api["messages"])
    assert {m["nomor_blanko"] for m in api["messages"]} == {"BLK0000001", "BLK0000002", "BLK0000003"}
    skipped = staff.get("/api/v1/notify/messages?status=skipped&kind=out_for_delivery").json
    assert [m["nomor_blanko"] for m in skipped["messages"]] == ["BLK0000003"]
    assert "status=failed" in html
    assert "BLK0000003" not in staff.get("/pesan?status=failed").get_data(as_text=True)


def test_query_strings_are_checked_and_roles_enforced(notify_app, app, client, staff):
    assert staff.get("/api/v1/notify/messages?kind=lainnya").status_code == 400
    assert "kind" in staff.get("/api/v1/notify/messages?kind=lainnya").json["error"]["message"]
    assert staff.get("/api/v1/notify/messages?hal=0").status_code == 400
    assert staff.get("/api/v1/notify/messages?x=1").status_code == 400
    assert staff.get("/pesan?hal=²").status_code == 400
    assert staff.get("/pesan?hal=1&status=failed").status_code == 200
    make_user(app, "lurah", Role.OFFICER, kelurahan="32.16.06.1001")
    other = app.test_client()
    from helpers import login

    login(other, "lurah")
    assert other.get("/pesan").status_code == 403
    assert other.get("/api/v1/notify/messages").status_code == 403
    assert app.test_client().get("/api/v1/notify/messages").status_code == 401


def test_the_list_is_paginated(notify_app, client, staff, runner, tmp_path):
    numbers = handed_over(notify_app, runner, tmp_path, rows_with_phones(range(1, 56)))
    post_events(client, [event(n, "OUT_FOR_DELIVERY", utcnow() - dt.timedelta(minutes=5), f"o-{n}") for n in numbers])
    one_pass(notify_app)
    assert len(messages(notify_app)) == 55
    first = staff.get("/api/v1/notify/messages").json
    second = staff.get("/api/v1/notify/messages?hal=2").json
    assert (first["pages"], len(first["messages"]), len(second["messages"])) == (2, 50, 5)
    html = staff.get("/pesan?hal=2").get_data(as_text=True)
    assert "Halaman 2 dari 2" in html


def test_the_commands_show_and_run(notify_app, client, runner, tmp_path, gateway):
    from helpers import cli

    numbers = handed_over(notify_app, runner, tmp_path, rows_with_phones(range(1, 3)))
    post_events(client, [event(n, "OUT_FOR_DELIVERY", utcnow() - dt.timedelta(minutes=5), f"o-{n}") for n in numbers])
    r = cli(runner, "notify", "run", "--once")
    assert r.exit_code == 0 and "2 pesan baru" in r.output and "2 terkirim ke gateway" in r.output
    r = cli(runner, "notify", "status")
    assert r.exit_code == 0 and "Pesan ke warga" in r.output and "menolak pesan: 0" in r.output
    assert cli(runner, "notify", "unblock").exit_code == 0
