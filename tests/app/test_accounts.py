"""Accounts, from the outside (the test client and the CLI runner): lock-out after wrong passwords, the login rate
limit, equal work for unknown names, unlocking (staff: their own office's officers; an admin: anyone), the user's
own password change and an admin's reset, with the login sessions they end."""

from __future__ import annotations

import re
import secrets
import statistics
import threading
import time

import pytest
from helpers import OFFICE, PASSWORD, login, make_user
from sqlalchemy import select

from app import create_app
from app.cli import main
from app.db import unit_of_work
from app.models import AccountEvent, Role, User

JATIMULYA = "32.16.06.1001"
OTHER_OFFICE_KELURAHAN = "32.75.01.1001"  # Kota Bekasi
NEW_PASSWORD = "sandi-baru-yang-panjang"
FLASH = re.compile(r'<div class="flash (\w+)" role="(?:status|alert)">([^<]*)</div>')


@pytest.fixture(autouse=True)
def _roomy_rate_limit(request: pytest.FixtureRequest, app) -> None:
    """These tests log in far more often than a person: the per-address limit is raised, except in the tests of
    the limit itself (which run with the configured default)."""
    if "rate_limit" not in request.function.__name__:
        app.config["ANTAR_LOGIN_RATE_LIMIT"] = "1000 per minute"


def post_login(client, username: str, password: str):
    return client.post("/login", data={"username": username, "password": password})


def messages(response) -> list[str]:
    return [text for _, text in FLASH.findall(response.get_data(as_text=True))]


def account(app, username: str) -> User:
    with app.app_context(), unit_of_work() as s:
        return s.scalar(select(User).where(User.username == username))


def events(app, username: str) -> list[tuple[str, str]]:
    with app.app_context(), unit_of_work() as s:
        return [(e.action, e.actor) for e in s.scalars(
            select(AccountEvent).join(User, User.id == AccountEvent.user_id).where(User.username == username)
            .order_by(AccountEvent.id))]


def lock(app, client, username: str) -> None:
    for _ in range(app.config["ANTAR_LOGIN_MAX_FAILURES"]):
        assert post_login(client, username, "salah-terus").status_code == 200
    assert account(app, username).locked_at is not None


# --- the probe's findings, reproduced --------------------------------------------------------------------------------


def test_thirty_wrong_passwords_lock_the_account_and_then_the_right_one_is_refused(app, client):
    make_user(app, "rina", Role.STAFF)
    assert app.config["ANTAR_LOGIN_MAX_FAILURES"] == 5
    refusals = [post_login(client, "rina", f"tebakan-{i}") for i in range(30)]
    assert {r.status_code for r in refusals} == {200}
    right = post_login(client, "rina", PASSWORD)
    assert right.status_code == 200 and "/login" not in right.headers.get("Location", "")

    # One answer for every refusal: the lock does not tell that the name exists, but says that locks exist.
    unknown = messages(post_login(client, "tidak-ada", PASSWORD))
    assert messages(right) == messages(refusals[0]) == messages(refusals[-1]) == unknown
    assert "salah" in unknown[0] and "dikunci" in unknown[0] and "staf" in unknown[0]
    assert client.get("/laporan").status_code == 302  # not logged in

    user = account(app, "rina")
    assert user.locked_at is not None and user.failed_logins == 5  # a locked account counts no further
    assert events(app, "rina") == [("locked", "sistem:login")]


def test_a_success_resets_the_count(app, client):
    make_user(app, "rina", Role.STAFF)
    for _ in range(4):
        post_login(client, "rina", "salah")
    assert account(app, "rina").failed_logins == 4
    login(client, "rina")
    assert account(app, "rina").failed_logins == 0
    for _ in range(4):
        post_login(app.test_client(), "rina", "salah")
    login(app.test_client(), "rina")
    assert account(app, "rina").locked_at is None


def test_concurrent_wrong_passwords_all_count_and_lock_once(app):
    make_user(app, "rina", Role.STAFF)
    make_user(app, "budi", Role.STAFF)

    def at_once(username: str, n: int = 8) -> None:
        start = threading.Barrier(n)

        def attempt() -> None:
            start.wait()
            assert post_login(app.test_client(), username, "salah").status_code == 200

        threads = [threading.Thread(target=attempt) for _ in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    app.config["ANTAR_LOGIN_MAX_FAILURES"] = 100
    at_once("rina")
    assert account(app, "rina").failed_logins == 8
    app.config["ANTAR_LOGIN_MAX_FAILURES"] = 3
    at_once("budi")
    budi = account(app, "budi")
    assert budi.locked_at is not None and 3 <= budi.failed_logins <= 8
    assert events(app, "budi") == [("locked", "sistem:login")]


def test_an_unknown_name_takes_as_long_as_a_wrong_password(app, client):
    make_user(app, "rina", Role.STAFF)
    app.config["ANTAR_LOGIN_MAX_FAILURES"] = 1000  # no lock during the measurement
    post_login(client, "rina", "pemanasan")
    post_login(client, "tidak-ada", "pemanasan")

    def timed(username: str) -> float:
        t0 = time.perf_counter()
        assert post_login(client, username, "salah-sekali").status_code == 200
        return time.perf_counter() - t0

    known, unknown = [], []
    for _ in range(15):
        known.append(timed("rina"))
        unknown.append(timed("tidak-ada-sama-sekali"))
    ratio = statistics.median(known) / statistics.median(unknown)
    assert 0.5 <= ratio <= 2.0, (ratio, known, unknown)


def test_login_rate_limit_per_address_counts_only_login_posts(app, client):
    make_user(app, "rina", Role.STAFF)
    assert app.config["ANTAR_LOGIN_RATE_LIMIT"] == "10 per minute; 100 per hour"
    app.config["ANTAR_LOGIN_MAX_FAILURES"] = 1000
    for _ in range(5):
        client.get("/login")
        client.post("/logout")
    for _ in range(10):
        assert post_login(client, "rina", "salah").status_code == 200
    refused = post_login(client, "rina", PASSWORD)  # even the right password, from this address
    assert refused.status_code == 429
    text = refused.get_data(as_text=True)
    assert "Terlalu banyak percobaan masuk" in text and 'name="username"' in text
    assert client.get("/laporan").status_code == 302
    assert client.get("/login").status_code == 200  # the page itself still opens
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "10.0.0.9"  # another address has its own count
    login(other, "rina")


def apps_with_limit_store(database_url: str, tmp_path, monkeypatch, storage: str, n: int = 1) -> list:
    monkeypatch.setenv("ANTAR_INSTANCE_PATH", str(tmp_path / "instance"))
    config = {"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "test", "ANTAR_OFFICE": OFFICE,
              "WTF_CSRF_ENABLED": False, "ANTAR_RATELIMIT_STORAGE_URI": storage,
              "ANTAR_LOGIN_RATE_LIMIT": "4 per minute"}
    return [create_app(config) for _ in range(n)]


def test_login_rate_limit_is_shared_by_workers_through_redis(app, database_url, tmp_path, monkeypatch):
    redis = pytest.importorskip("redis")
    url = "redis://127.0.0.1:6379/7"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError:
        pytest.skip("Redis does not answer at 127.0.0.1:6379")
    make_user(app, "rina", Role.STAFF)
    worker_a, worker_b = apps_with_limit_store(database_url, tmp_path, monkeypatch, url, n=2)
    address = f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.{secrets.randbelow(250) + 1}"  # a fresh count
    clients = [worker_a.test_client(), worker_b.test_client()]
    for c in clients:
        c.environ_base["REMOTE_ADDR"] = address
    try:
        for i in range(4):  # two on each worker: one count
            assert post_login(clients[i % 2], "rina", "salah").status_code == 200
        assert post_login(clients[0], "rina", PASSWORD).status_code == 429
        assert post_login(clients[1], "rina", PASSWORD).status_code == 429
    finally:
        for w in (worker_a, worker_b):
            w.extensions["antar.engine"].dispose()


def test_login_rate_limit_store_down_does_not_stop_logins(app, database_url, tmp_path, monkeypatch):
    make_user(app, "rina", Role.STAFF)
    (worker,) = apps_with_limit_store(database_url, tmp_path, monkeypatch, "redis://127.0.0.1:9/0")
    try:
        login(worker.test_client(), "rina")  # the lock-out (in the database) still guards each account
    finally:
        worker.extensions["antar.engine"].dispose()


def test_password_change_page_shares_the_rate_limit(app, client):
    make_user(app, "rina", Role.STAFF)
    app.config["ANTAR_LOGIN_MAX_FAILURES"] = 1000
    login(client, "rina")
    app.config["ANTAR_LOGIN_RATE_LIMIT"] = "2 per minute"
    data = {"current": "salah-salah", "new": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    assert client.post("/akun/kata-sandi", data=data).status_code == 422
    assert post_login(app.test_client(), "rina", "salah").status_code == 200
    r = client.post("/akun/kata-sandi", data=data)
    assert r.status_code == 429 and "Terlalu banyak" in r.get_data(as_text=True)
    assert 'name="current"' in r.get_data(as_text=True)
    assert post_login(app.test_client(), "rina", PASSWORD).status_code == 429


# --- unlocking -------------------------------------------------------------------------------------------------------


def test_staff_unlock_officers_of_their_own_office_only(app, client, staff):
    make_user(app, "petugas", Role.OFFICER, kelurahan=JATIMULYA)
    make_user(app, "petugas-lain", Role.OFFICER, kelurahan=OTHER_OFFICE_KELURAHAN, office="32.75")
    make_user(app, "rekan", Role.STAFF)
    for name in ("petugas", "petugas-lain", "rekan"):
        lock(app, app.test_client(), name)
    ids = {n: account(app, n).id for n in ("petugas", "petugas-lain", "rekan")}

    page = staff.get("/pengembalian/petugas").get_data(as_text=True)
    assert "Terkunci" in page and f"/akun/{ids['petugas']}/buka-kunci" in page
    r = staff.post(f"/akun/{ids['petugas']}/buka-kunci", data={"next": "/pengembalian/petugas"})
    assert r.status_code == 302 and r.headers["Location"] == "/pengembalian/petugas"
    assert "dibuka: akun dapat masuk lagi" in staff.get("/pengembalian/petugas").get_data(as_text=True)
    login(app.test_client(), "petugas")
    assert events(app, "petugas") == [("locked", "sistem:login"), ("unlocked", "staf")]
    with app.app_context(), unit_of_work() as s:
        e = s.scalar(select(AccountEvent).where(AccountEvent.action == "unlocked"))
        assert e.actor_user_id == account(app, "staf").id

    # another office's officer, or a fellow staff account: not theirs to unlock (not even shown to exist)
    assert staff.post(f"/akun/{ids['petugas-lain']}/buka-kunci").status_code == 404
    assert staff.post(f"/akun/{ids['rekan']}/buka-kunci").status_code == 404
    assert staff.post("/akun/99999/buka-kunci").status_code == 404
    assert account(app, "petugas-lain").locked_at is not None and account(app, "rekan").locked_at is not None
    assert staff.get("/akun").status_code == 403  # the accounts page is the admin's
    officer = app.test_client()
    login(officer, "petugas")
    assert officer.post(f"/akun/{ids['petugas-lain']}/buka-kunci").status_code == 403
    assert staff.post(f"/akun/{ids['petugas']}/buka-kunci", follow_redirects=True).status_code == 200  # not locked


def test_admin_unlocks_anyone_from_the_page_and_the_cli(app, client, runner):
    make_user(app, "adm", Role.ADMIN)
    make_user(app, "rina", Role.STAFF)
    make_user(app, "petugas-lain", Role.OFFICER, kelurahan=OTHER_OFFICE_KELURAHAN, office="32.75")
    lock(app, client, "rina")
    lock(app, client, "petugas-lain")
    admin = app.test_client()
    login(admin, "adm")
    page = admin.get("/akun").get_data(as_text=True)
    assert page.count("Terkunci") == 2 and "petugas-lain" in page and 'href="/akun"' in page  # in the menu
    r = admin.post(f"/akun/{account(app, 'rina').id}/buka-kunci")
    assert r.status_code == 302 and r.headers["Location"] == "/akun"
    login(app.test_client(), "rina")
    assert events(app, "rina")[-1] == ("unlocked", "adm")

    result = runner.invoke(main, ["users", "unlock", "petugas-lain"])
    assert result.exit_code == 0 and "dibuka" in result.output, result.output
    login(app.test_client(), "petugas-lain")
    assert events(app, "petugas-lain")[-1][0] == "unlocked" and events(app, "petugas-lain")[-1][1].startswith("cli:")
    assert "tidak terkunci" in runner.invoke(main, ["users", "unlock", "petugas-lain"]).output
    result = runner.invoke(main, ["users", "unlock", "siapa"])
    assert result.exit_code != 0 and "tidak ditemukan" in result.output


# --- the user's own password change ----------------------------------------------------------------------------------


def test_a_user_changes_their_password_and_their_other_sessions_end(app, client):
    make_user(app, "rina", Role.STAFF)
    login(client, "rina")
    elsewhere = app.test_client()
    login(elsewhere, "rina")
    assert 'href="/akun/kata-sandi"' in client.get("/laporan").get_data(as_text=True)
    assert client.get("/akun/kata-sandi").status_code == 200

    def change(current: str, new: str, confirm: str | None = None):
        return client.post("/akun/kata-sandi", data={"current": current, "new": new,
                                                      "confirm": new if confirm is None else confirm})

    r = change(PASSWORD, NEW_PASSWORD, "lain-sekali-12345")
    assert r.status_code == 422 and "tidak sama" in r.get_data(as_text=True)
    r = change(PASSWORD, "pendek-9c")
    assert r.status_code == 422 and "minimal 10" in r.get_data(as_text=True)
    r = change("salah-tebak", NEW_PASSWORD)
    assert r.status_code == 422 and "saat ini salah" in r.get_data(as_text=True)
    assert account(app, "rina").failed_logins == 1  # a wrong current password counts as a failed login

    r = change(PASSWORD, NEW_PASSWORD)
    assert r.status_code == 302
    assert "sesi masuk lain" in client.get("/laporan").get_data(as_text=True)  # this session goes on
    assert elsewhere.get("/laporan").status_code == 302  # the other one ended
    assert elsewhere.get("/api/v1/report").status_code == 401
    assert post_login(app.test_client(), "rina", PASSWORD).status_code == 200
    assert post_login(app.test_client(), "rina", NEW_PASSWORD).status_code == 302
    user = account(app, "rina")
    assert user.password_changed_at is not None and user.failed_logins == 0 and not user.must_change_password
    assert events(app, "rina") == [("password_changed", "rina")]


def test_a_new_password_may_not_be_the_user_name(app, client):
    make_user(app, "pengguna-panjang", Role.STAFF)
    login(client, "pengguna-panjang")
    r = client.post("/akun/kata-sandi", data={"current": PASSWORD, "new": "Pengguna-Panjang",
                                              "confirm": "Pengguna-Panjang"})
    assert r.status_code == 422 and "nama pengguna" in r.get_data(as_text=True)
    assert app.test_client().get("/akun/kata-sandi").status_code == 302  # needs a login


# --- an admin's reset ------------------------------------------------------------------------------------------------


def test_admin_resets_a_password_the_user_must_change_it_before_anything_else(app, client):
    make_user(app, "adm", Role.ADMIN)
    make_user(app, "rina", Role.STAFF)
    login(client, "rina")
    lock(app, app.test_client(), "rina")
    admin = app.test_client()
    login(admin, "adm")
    rina = account(app, "rina").id

    assert admin.get(f"/akun/{rina}/atur-ulang").status_code == 200
    r = admin.post(f"/akun/{rina}/atur-ulang", data={"password": "pendek"})
    assert r.status_code == 422 and "minimal 10" in r.get_data(as_text=True)
    r = admin.post(f"/akun/{rina}/atur-ulang", data={"password": ""})
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    temporary = re.search(r"<code>([a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4})</code>", r.get_data(as_text=True)).group(1)
    assert temporary not in admin.get("/akun").get_data(as_text=True)  # shown once
    assert client.get("/laporan").status_code == 302  # every session of the account ended

    user = account(app, "rina")
    assert user.must_change_password and user.locked_at is None and user.failed_logins == 0
    assert [a for a, _ in events(app, "rina")] == ["locked", "unlocked", "password_reset"]
    assert events(app, "rina")[-1] == ("password_reset", "adm")

    # the temporary password opens only the change page
    r = post_login(client, "rina", temporary)
    assert r.status_code == 302 and r.headers["Location"] == "/akun/kata-sandi"
    r = client.get("/laporan")
    assert r.status_code == 302 and r.headers["Location"] == "/akun/kata-sandi"
    r = client.get("/api/v1/report")
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "password_change_required"
    assert "ganti" in r.get_json()["error"]["message"]
    page = client.get("/akun/kata-sandi").get_data(as_text=True)
    assert "sementara" in page
    r = client.post("/akun/kata-sandi", data={"current": temporary, "new": temporary, "confirm": temporary})
    assert r.status_code == 422 and "berbeda" in r.get_data(as_text=True)
    r = client.post("/akun/kata-sandi", data={"current": temporary, "new": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert r.status_code == 302
    assert client.get("/laporan").status_code == 200
    assert not account(app, "rina").must_change_password

    # a chosen temporary password; only an admin resets
    r = admin.post(f"/akun/{rina}/atur-ulang", data={"password": "sementara-123"})
    assert r.status_code == 200 and "sementara-123" in r.get_data(as_text=True)
    assert admin.get("/akun/99999/atur-ulang").status_code == 404
    staff = app.test_client()
    make_user(app, "staf", Role.STAFF)
    login(staff, "staf")
    assert staff.get(f"/akun/{rina}/atur-ulang").status_code == 403
    assert staff.post(f"/akun/{rina}/atur-ulang", data={"password": ""}).status_code == 403


def test_cli_reset_password_from_the_environment_or_a_prompt(app, client, runner):
    make_user(app, "rina", Role.STAFF)
    login(client, "rina")
    result = runner.invoke(main, ["users", "reset-password", "rina"], env={"ANTAR_PASSWORD": "dari-lingkungan-1"})
    assert result.exit_code == 0, result.output
    assert client.get("/laporan").status_code == 302  # the session ended
    r = post_login(client, "rina", "dari-lingkungan-1")
    assert r.status_code == 302 and r.headers["Location"] == "/akun/kata-sandi"
    assert events(app, "rina")[-1][0] == "password_reset" and events(app, "rina")[-1][1].startswith("cli:")

    result = runner.invoke(main, ["users", "reset-password", "rina"], input="dari-prompt-12\ndari-prompt-12\n")
    assert result.exit_code == 0, result.output
    assert post_login(app.test_client(), "rina", "dari-prompt-12").status_code == 302
    result = runner.invoke(main, ["users", "reset-password", "rina"], env={"ANTAR_PASSWORD": "pendek"})
    assert result.exit_code != 0 and "minimal 10" in result.output
    result = runner.invoke(main, ["users", "reset-password", "siapa"], env={"ANTAR_PASSWORD": "cukup-panjang-1"})
    assert result.exit_code != 0 and "tidak ditemukan" in result.output


def test_inactive_and_courier_accounts_get_the_same_refusal(app, client):
    make_user(app, "rina", Role.STAFF)
    make_user(app, "kurir", Role.COURIER)
    with app.app_context(), unit_of_work() as s:
        s.scalar(select(User).where(User.username == "rina")).active = False
    wrong = messages(post_login(client, "tidak-ada", PASSWORD))
    for name in ("rina", "kurir"):
        r = post_login(client, name, PASSWORD)
        assert r.status_code == 200 and messages(r) == wrong
