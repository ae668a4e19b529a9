"""The bulk path of an import: chunks written by a thread of their own while the next is read, cards created through
the driver (SQLite) with ids that follow the database's, and the process settings an import changes put back."""

from __future__ import annotations

import gc
import sys
import time

import pytest
from helpers import HEADER, card_row, cli, make_nik, write_csv
from sqlalchemy import func, select, text

from app import tally
from app.cards import Card, CardHistory, CardState
from app.cli import main
from app.db import unit_of_work
from manifests.intake import service


def test_cards_of_many_chunks_and_runs_with_their_history_and_duplicates(app, runner, tmp_path):
    app.config["INTAKE_CHUNK_ROWS"] = 7  # many chunks: each one's cards stand against the next one's NIKs
    first = [card_row(i) for i in range(1, 31)]
    # Serial 3 printed again in a later chunk of the same file, serial 5 in the next file.
    first.append(card_row(3, nomor_blanko="ULANG3"))
    assert "31 kartu diimpor (1 cetak ganda" in cli(runner, "import", str(write_csv(tmp_path / "a.csv", first))).output
    second = [card_row(i) for i in range(40, 61)] + [card_row(5, nomor_blanko="ULANG5")]
    assert "22 kartu diimpor (1 cetak ganda" in cli(runner, "import", str(write_csv(tmp_path / "b.csv",
                                                                                    second))).output
    with app.app_context(), unit_of_work() as s:
        found = {c.nomor_blanko: c for c in s.scalars(select(Card))}
        assert len(found) == 31 + 22
        ids = sorted(c.id for c in found.values())
        assert ids == list(range(ids[0], ids[0] + len(ids)))  # one after the other, none reused
        assert found["ULANG3"].state is CardState.DUPLICATE
        assert found["ULANG3"].duplicate_of_id == found["BLK0000003"].id
        assert found["ULANG5"].duplicate_of_id == found["BLK0000005"].id
        history = s.execute(select(CardHistory.card_id, CardHistory.from_state, CardHistory.to_state)).all()
        assert sorted(h.card_id for h in history) == ids
        assert all(h.from_state is None and h.to_state is found_state(found, h.card_id) for h in history)
        assert found["BLK0000001"].tanggal_lahir.isoformat() == "1990-12-05"
        assert found["BLK0000001"].collect_old_card is False
        office_id = found["BLK0000001"].office_id
        assert tally.differences(s, office_id) == []


def found_state(found: dict, card_id: int) -> CardState:
    return next(c.state for c in found.values() if c.id == card_id)


def test_a_failing_chunk_leaves_nothing_and_puts_the_settings_back(app, runner, tmp_path, monkeypatch):
    app.config["INTAKE_CHUNK_ROWS"] = 10
    path = write_csv(tmp_path / "a.csv", [card_row(i) for i in range(1, 51)])
    threshold, switch_before = gc.get_threshold(), sys.getswitchinterval()
    real = service._IntakeContext.add_chunk
    calls = {"n": 0}
    during: list[tuple[tuple[int, ...], int]] = []

    def failing(self, *args, **kwargs):
        calls["n"] += 1
        during.append((gc.get_threshold(), gc.get_freeze_count(), sys.getswitchinterval()))
        if calls["n"] == 4:
            raise RuntimeError("disk penuh")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(service._IntakeContext, "add_chunk", failing)
    result = runner.invoke(main, ["import", str(path)])
    assert result.exit_code != 0 and calls["n"] == 4
    # During the import the collector looks less often and not at what the process held before it; after it, as before.
    assert all(t == service._GC_THRESHOLD and frozen > 0 and switch == service._SWITCH_INTERVAL
               for t, frozen, switch in during)
    assert gc.get_threshold() == threshold and gc.get_freeze_count() == 0 and sys.getswitchinterval() == switch_before
    monkeypatch.undo()
    with app.app_context(), unit_of_work() as s:
        assert s.scalar(select(func.count()).select_from(Card)) == 0
        if s.get_bind().dialect.name == "sqlite":
            assert s.connection().exec_driver_sql("PRAGMA cache_size").scalar() == -2000
    assert "50 kartu diimpor" in cli(runner, "import", str(path)).output
    assert gc.get_threshold() == threshold


@pytest.mark.parametrize("female", [False, True])
def test_nik_checks_agree_with_lokal(app, runner, tmp_path, female):
    # The reader checks a NIK's parts from memos; the rejections it gives are still lokal's (parse_nik).
    rows = [card_row(1, nik=make_nik(1, female=female), jenis_kelamin="P" if female else "L",
                     tanggal_lahir="05-12-1990"),
            card_row(2, nik=make_nik(0, female=female)),  # serial 0000
            card_row(3, nik="3216063102900003", tanggal_lahir="31-02-1990"),  # 31 February
            card_row(4, nik="3200060512900004")]  # kabupaten 00
    out = cli(runner, "import", str(write_csv(tmp_path / "n.csv", rows))).output
    assert "1 kartu diimpor" in out and "3 baris ditolak" in out
    assert "Nomor urut NIK tidak boleh 0000" in out
    assert "Tanggal lahir di NIK tidak valid" in out
    assert "tidak boleh 00" in out


def test_the_database_keeps_nothing_of_the_bulk_settings(app, runner, tmp_path):
    cli(runner, "import", str(write_csv(tmp_path / "a.csv", [card_row(1)])))
    with app.app_context(), unit_of_work() as s:
        if s.get_bind().dialect.name == "sqlite":
            assert s.connection().exec_driver_sql("PRAGMA cache_size").scalar() == -2000
        assert s.execute(text("SELECT count(*) FROM card")).scalar() == 1


def test_a_blanko_used_again_in_a_later_chunk_is_found_among_the_cards_written(app, runner, tmp_path):
    # The reader keeps the blanko numbers of one chunk; an earlier chunk's are found among its cards, with the line.
    app.config["INTAKE_CHUNK_ROWS"] = 5
    rows = [card_row(i) for i in range(1, 13)]
    rows.append(card_row(2))  # line 14: row 3 listed again word for word, seven chunks later
    rows.append(card_row(99, nomor_blanko="BLK0000004"))  # line 15: row 5's blanko for another NIK
    rows.append(card_row(98, nomor_blanko="BLK0000098"))
    rows.append(card_row(97, nomor_blanko="BLK0000098"))  # line 17: the same chunk's blanko again, another NIK
    out = cli(runner, "import", str(write_csv(tmp_path / "a.csv", rows))).output
    assert "16 baris dibaca, 13 kartu diimpor" in out and "3 baris ditolak" in out
    assert "0 sudah diimpor sebelumnya" in out
    assert (f"baris 14: [nomor_blanko] Baris ulang: nomor blanko BLK0000002 dengan NIK {make_nik(2)} sudah ada di "
            "baris 3; kartunya dihitung sekali, dari baris 3") in out
    assert f"baris 15: [nomor_blanko] nomor_blanko BLK0000004 sudah dipakai di baris 5 (NIK {make_nik(4)})" in out
    assert f"baris 17: [nomor_blanko] nomor_blanko BLK0000098 sudah dipakai di baris 16 (NIK {make_nik(98)})" in out
    with app.app_context(), unit_of_work() as s:
        assert s.scalar(select(func.count()).select_from(Card)) == 13
        assert s.scalar(select(Card.nik).where(Card.nomor_blanko == "BLK0000004")) == make_nik(4)
    # The rows again with one more, as another file: the cards are an earlier run's now (already imported, line 14
    # too: its card is found among the earlier run's), a blanko of another NIK is refused as one the database has.
    again = cli(runner, "import", str(write_csv(tmp_path / "b.csv", [*rows, card_row(50)]))).output
    assert "17 baris dibaca, 1 kartu diimpor" in again and "2 baris ditolak" in again
    assert "14 sudah diimpor sebelumnya" in again
    assert "baris 15: [nomor_blanko] Nomor blanko BLK0000004 sudah tercatat untuk kartu dengan NIK lain" in again


def test_reading_runs_ahead_of_the_writer_and_the_chunks_go_in_in_order(app, runner, tmp_path, monkeypatch):
    """The reading thread needs no database: it reads and places the next chunks while the writer writes, up to
    `_Writer.DEPTH` of them, and the writer takes them in the order read."""
    app.config["INTAKE_CHUNK_ROWS"] = 10
    path = write_csv(tmp_path / "a.csv", [card_row(i) for i in range(1, 81)])
    real_read, real_add = service.read_print_run, service._IntakeContext.add_chunk
    read: list[int] = []
    seen: list[tuple[int, int]] = []  # (first line of the chunk written, chunks read by then)

    def reading(*args, **kwargs):
        for chunk in real_read(*args, **kwargs):
            read.append(chunk.rows[0].line)
            yield chunk

    def adding(self, rows, *args, **kwargs):
        if not seen:  # the first chunk waits until the reader is as far ahead as it may be
            deadline = time.monotonic() + 10
            while len(read) < 1 + service._Writer.DEPTH and time.monotonic() < deadline:
                time.sleep(0.01)
        seen.append((rows[0].line, len(read)))
        return real_add(self, rows, *args, **kwargs)

    monkeypatch.setattr(service, "read_print_run", reading)
    monkeypatch.setattr(service._IntakeContext, "add_chunk", adding)
    assert "80 kartu diimpor" in cli(runner, "import", str(path)).output
    assert seen[0][1] == 1 + service._Writer.DEPTH  # DEPTH chunks handed to the writer and the next one read
    assert [line for line, _ in seen] == read == list(range(2, 82, 10))
    with app.app_context(), unit_of_work() as s:
        assert s.scalars(select(Card.line).order_by(Card.id)).all() == list(range(2, 82))


def test_every_column_of_an_imported_card_holds_its_own_value(app, runner, tmp_path):
    """The bulk path writes each card as a row of values in a fixed column order: every column is checked here
    against what the row said (a value in a neighbour's column would show)."""
    from address.geocode import Precision
    from app.pseudonym import kk_hash

    header = [*HEADER, "layanan", "biaya_antar", "tarik_ktp_lama"]
    row = card_row(7, tempat_lahir="KARAWANG", alamat="jl raya jatimulya no 7", rt="4", rw="12", kode_pos="17510",
                   kode_wilayah="32.16.06.1001", provinsi="JAWA BARAT", no_kk="3216060101080007",
                   no_hp="081234567890", tanggal_cetak="03-11-2026")
    row.update(layanan="COD", biaya_antar="20000", tarik_ktp_lama="Y")
    assert "1 kartu diimpor" in cli(runner, "import", str(write_csv(tmp_path / "a.csv", [row], header=header))).output
    with app.app_context(), unit_of_work() as s:
        card = s.scalars(select(Card)).one()
        run_id = s.scalar(select(func.max(Card.print_run_id)))
        expected = {
            "print_run_id": run_id, "line": 2, "nomor_blanko": "BLK0000007", "nik": make_nik(7),
            "nama": "WARGA NOMOR 7", "tempat_lahir": "KARAWANG", "jenis_kelamin": "L",
            "alamat": "jl raya jatimulya no 7", "kelurahan_raw": "JATIMULYA", "kecamatan_raw": "TAMBUN SELATAN",
            "kabupaten_kota_raw": "KAB. BEKASI", "provinsi_raw": "JAWA BARAT", "kode_wilayah_raw": "32.16.06.1001",
            "kode_pos_raw": "17510", "no_kk": None,
            "no_kk_hash": kk_hash("3216060101080007", app.config["ANTAR_KK_KEY"]),
            "no_hp": "081234567890", "cod_amount": 20000, "collect_old_card": True, "duplicate_of_id": None,
            "address_status": "CLEAR", "address_flags": "", "kelurahan_code": "32.16.06.1001",
            "address_candidate": None, "street": "JL. RAYA JATIMULYA NO. 7", "rt": "004", "rw": "012",
            "kode_pos": "17510", "state": CardState.READY,
        }
        assert {k: getattr(card, k) for k in expected} == expected
        assert card.tanggal_lahir.isoformat() == "1990-12-05" and card.tanggal_cetak.isoformat() == "2026-11-03"
        assert card.office_id == s.scalar(select(func.min(Card.office_id)))
        # Placed by the kelurahan's geometry where the region data has it (not in every test set-up): then a point.
        assert card.geo_precision in {p.value for p in Precision}
        assert (card.lat is None) == (card.lng is None) == (card.geo_precision == Precision.NONE.value)


def test_a_code_column_that_is_not_a_code_is_kept_in_the_cards_history_and_not_used_for_the_address(app, runner,
                                                                                                   tmp_path):
    """A kode pos or kode wilayah that is not one (four digits, a code with a part too many) is not lost: the card's
    first history line says what the file had and that it was not used; the card's code columns hold codes only, and
    the address is placed as if the column were empty."""
    rows = [card_row(1, kode_pos="1751", kode_wilayah="32.16.06.1001.9999"),
            card_row(2, kode_pos="17510", kode_wilayah="32.16.06.1001"),
            card_row(3, kode_pos="-", kode_wilayah=""),  # empty, as registers write it: nothing to note
            card_row(4, kode_pos="", kode_wilayah="")]
    assert "4 kartu diimpor" in cli(runner, "import", str(write_csv(tmp_path / "a.csv", rows))).output
    with app.app_context(), unit_of_work() as s:
        cards = s.scalars(select(Card).order_by(Card.line)).all()
        first: dict[int, str] = {}
        for h in s.scalars(select(CardHistory).order_by(CardHistory.id)):
            first.setdefault(h.card_id, h.reason)
    odd, good, dash, empty = cards
    assert (odd.kode_pos_raw, odd.kode_wilayah_raw) == (None, None)
    assert (good.kode_pos_raw, good.kode_wilayah_raw) == ("17510", "32.16.06.1001")
    assert ("kode wilayah di berkas '32.16.06.1001.9999' bukan kode kelurahan; kode pos di berkas '1751' bukan "
            "5 angka (tidak dipakai untuk alamat)") in first[odd.id]
    assert "kode" not in first[good.id] and "kode" not in first[dash.id] and "kode" not in first[empty.id]
    # Placed as the card without codes: the same kelurahan, status and flags.
    placed = ("kelurahan_code", "address_status", "address_flags", "kode_pos", "state")
    assert [getattr(odd, k) for k in placed] == [getattr(empty, k) for k in placed]
