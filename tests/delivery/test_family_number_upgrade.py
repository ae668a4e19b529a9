"""Databases from before the keyed hash hold family card numbers (no_kk) in clear: upgrading hashes them with the
application's key and clears them, in bulk, once; the citizens' lookup then finds the cards by their no_kk."""

from __future__ import annotations

import time

import pytest
from helpers import card_row, cli, make_nik, write_csv
from sqlalchemy import func, select, text, update

from app.cards import Card
from app.db import make_engine, unit_of_work
from app.migrate import hash_clear_family_numbers, upgrade
from app.pseudonym import kk_hash

CARDS = 3000


def kk(serial: int) -> str:
    return f"3216{serial:012d}"


def clear_numbers(app, every: int = 1) -> dict[int, str]:
    """Put the cards back as an earlier version imported them: no_kk in clear, no hash (every `every`-th card has
    a no_kk); the clear numbers by card id."""
    with app.app_context(), unit_of_work() as session:
        ids = list(session.scalars(select(Card.id).order_by(Card.id)))
        numbers = {card_id: kk(card_id) for card_id in ids[::every]}
        session.execute(update(Card).values(no_kk=None, no_kk_hash=None))
        session.execute(update(Card), [{"id": i, "no_kk": n} for i, n in numbers.items()])
    return numbers


def stored(app) -> dict[int, tuple[str | None, str | None]]:
    with app.app_context(), unit_of_work() as session:
        return {r.id: (r.no_kk, r.no_kk_hash) for r in session.execute(select(Card.id, Card.no_kk, Card.no_kk_hash))}


def test_upgrade_hashes_clear_family_numbers_in_bulk_once(app, runner, tmp_path):
    rows = [card_row(i, nomor_blanko=f"BLK{i:07d}") for i in range(1, CARDS + 1)]
    assert cli(runner, "import", str(write_csv(tmp_path / "old.csv", rows))).exit_code == 0
    numbers = clear_numbers(app, every=3)  # most cards of a real run have a no_kk; some do not
    key = app.config["ANTAR_KK_KEY"]

    started = time.perf_counter()
    result = cli(runner, "db", "upgrade")  # as an office upgrades: the key is the app's
    took = time.perf_counter() - started
    assert result.exit_code == 0, result.output
    after = stored(app)
    assert all(no_kk is None for no_kk, _ in after.values())
    assert {i: h for i, (_, h) in after.items() if h} == {i: kk_hash(n, key) for i, n in numbers.items()}
    assert took < 20, f"{len(numbers)} numbers took {took:.1f} s"

    # Idempotent: a second upgrade finds nothing in clear and changes nothing.
    assert hash_clear_family_numbers(app.extensions["antar.engine"], key) == 0
    assert cli(runner, "db", "upgrade").exit_code == 0
    assert stored(app) == after

    # The citizen with the number of the old import is found by it.
    app.config["ANTAR_PUBLIC_RATE_LIMIT"] = "100 per minute"
    card_id, number = next(iter(numbers.items()))
    with app.app_context(), unit_of_work() as session:
        nik = session.scalar(select(Card.nik).where(Card.id == card_id))
    answer = app.test_client().post("/api/v1/public/status", json={"nik": nik, "no_kk": number}).json
    assert answer["status"] == "PREPARING", answer


def test_conversion_runs_in_batches_and_drops_numbers_that_cannot_be_asked_for(app, runner, tmp_path, monkeypatch):
    import app.migrate as migrate

    rows = [card_row(i) for i in range(1, 8)]
    assert cli(runner, "import", str(write_csv(tmp_path / "old.csv", rows))).exit_code == 0
    numbers = clear_numbers(app)
    first = min(numbers)
    with app.app_context(), unit_of_work() as session:  # an import before intake checked the number
        session.execute(update(Card).where(Card.id == first).values(no_kk="12345"))
    monkeypatch.setattr(migrate, "KK_BATCH", 2)
    assert hash_clear_family_numbers(app.extensions["antar.engine"], "kunci-uji") == 7
    after = stored(app)
    assert after[first] == (None, None)
    assert all(after[i] == (None, kk_hash(n, "kunci-uji")) for i, n in numbers.items() if i != first)


def test_without_the_key_a_database_with_clear_numbers_is_refused(app, runner, tmp_path):
    """A bare `upgrade(engine)` (no app, no key) cannot hash: it refuses, and leaves the numbers for the next try;
    on a database without clear numbers (every test template) it needs no key."""
    url = app.config["DATABASE_URL"]
    engine = make_engine(url)
    try:
        upgrade(engine)  # nothing in clear: fine without a key
        assert cli(runner, "import", str(write_csv(tmp_path / "old.csv", [card_row(1)]))).exit_code == 0
        numbers = clear_numbers(app)
        with pytest.raises(RuntimeError, match="antar db upgrade"):
            upgrade(engine)
        with engine.connect() as conn:
            assert conn.scalar(select(func.count()).where(Card.no_kk.is_not(None))) == 1
            assert conn.scalar(text("SELECT count(*) FROM card WHERE no_kk_hash IS NOT NULL")) == 0
        upgrade(engine, kk_key="kunci-uji")
        assert stored(app) == {i: (None, kk_hash(n, "kunci-uji")) for i, n in numbers.items()}
    finally:
        engine.dispose()


def test_nik_with_a_clear_number_of_an_old_import_is_not_found_until_upgraded(app, runner, tmp_path):
    """Before the upgrade the clear number is no proof (the lookup compares hashes only)."""
    assert cli(runner, "import", str(write_csv(tmp_path / "old.csv", [card_row(1)]))).exit_code == 0
    numbers = clear_numbers(app)
    app.config["ANTAR_PUBLIC_RATE_LIMIT"] = "100 per minute"
    client = app.test_client()
    body = {"nik": make_nik(1), "no_kk": next(iter(numbers.values()))}
    assert client.post("/api/v1/public/status", json=body).json["status"] == "NOT_FOUND"
    assert cli(runner, "db", "upgrade").exit_code == 0
    assert client.post("/api/v1/public/status", json=body).json["status"] == "PREPARING"
