"""`antar address normalize INPUT.csv -o OUTPUT.csv` as an operator runs it."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from app.cli import main

DATA_DIR = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "wilayah"
OUTPUT_COLUMNS = ["id", "kode_wilayah", "kelurahan", "kecamatan", "kabupaten_kota", "kode_pos", "street", "rt", "rw",
                  "lat", "lng", "geo_precision", "status", "flags"]


def _write(path: Path, header: list[str], rows: list[list[str]], sep: str = ",") -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, delimiter=sep)
        w.writerow(header)
        w.writerows(rows)
    return path


def _read(path: Path) -> dict[str, dict[str, str]]:
    with open(path, encoding="utf-8") as f:
        return {r["id"]: r for r in csv.DictReader(f)}


def test_free_text_and_siak_columns(app, runner, tmp_path):
    src = _write(tmp_path / "in.csv", ["ID", "Alamat", "RT", "RW", "Desa", "Kecamatan", "Kode Pos"], [
        ["a1", "perum griya asri 2 blok c5 no 7 rt02 rw11 desa sumberjaya tambun sel", "", "", "", "", ""],
        ["a2", "JL. RAYA JATIMULYA NO. 12", "3", "5", "JATIMULYA", "TAMBUN SELATAN", "17510"],
        ["a3", "BELUM ADA", "", "", "", "", ""],
    ], sep=";")
    out = tmp_path / "out.csv"
    result = runner.invoke(main, ["address", "normalize", str(src), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "3 alamat: 2 jelas, 1 belum jelas" in result.output
    with open(out, encoding="utf-8") as f:
        assert next(csv.reader(f)) == OUTPUT_COLUMNS
    rows = _read(out)
    assert rows["a1"]["kode_wilayah"] == "32.16.06.2010" and rows["a1"]["status"] == "CLEAR"
    assert (rows["a1"]["rt"], rows["a1"]["rw"]) == ("002", "011")
    assert rows["a2"]["kode_wilayah"] == "32.16.06.1001" and rows["a2"]["kode_pos"] == "17510"
    assert rows["a2"]["kelurahan"] == "Jatimulya" and rows["a2"]["kecamatan"] == "Tambun Selatan"
    assert rows["a3"]["status"] == "UNCLEAR" and "PLACEHOLDER" in rows["a3"]["flags"].split(";")
    assert rows["a2"]["geo_precision"] == "none" and rows["a2"]["lat"] == ""  # no geometry loaded yet


@pytest.mark.skipif(not (DATA_DIR / "centroids.csv").is_file(), reason="shared region data not available")
def test_locations_come_from_loaded_geometry(app, runner, tmp_path):
    loaded = runner.invoke(main, ["regions", "load-geo", str(DATA_DIR / "centroids.csv"), "--only", "32.16"])
    assert loaded.exit_code == 0, loaded.output
    src = _write(tmp_path / "in.csv", ["id", "alamat", "kelurahan", "kecamatan"],
                 [["1", "JL. KENANGA 5", "JATIMULYA", "TAMBUN SELATAN"]])
    out = tmp_path / "out.csv"
    assert runner.invoke(main, ["address", "normalize", str(src), "-o", str(out)]).exit_code == 0
    row = _read(out)["1"]
    assert row["geo_precision"] == "kelurahan"
    assert abs(float(row["lat"]) - -6.2671) < 0.01 and abs(float(row["lng"]) - 107.0291) < 0.01


def test_missing_columns_is_a_clear_error(app, runner, tmp_path):
    src = _write(tmp_path / "in.csv", ["nama", "alamat"], [["x", "y"]])
    result = runner.invoke(main, ["address", "normalize", str(src), "-o", str(tmp_path / "o.csv")])
    assert result.exit_code != 0 and "'id'" in result.output


@pytest.mark.skipif(not (DATA_DIR / "bekasi_kelurahan.geojson").is_file(), reason="shared region data not available")
def test_nominatim_point_outside_the_kelurahan_is_flagged(app, runner, tmp_path):
    """With a Nominatim server asked for street precision, a point outside the kelurahan makes it UNCLEAR."""
    from nominatim_stub import NominatimStub

    loaded = runner.invoke(main, ["regions", "load-geo", str(DATA_DIR / "bekasi_kelurahan.geojson")])
    assert loaded.exit_code == 0, loaded.output
    src = _write(tmp_path / "in.csv", ["id", "alamat", "kelurahan", "kecamatan"], [
        ["ok", "JL. KENANGA NO. 5", "JATIMULYA", "TAMBUN SELATAN"],
        ["far", "JL. SALAH ALAMAT NO. 9", "JATIMULYA", "TAMBUN SELATAN"],
    ])
    with NominatimStub(DATA_DIR) as stub:
        app.config.update(ANTAR_NOMINATIM_URL=stub.url, ANTAR_NOMINATIM_MIN_DELAY=0.01,
                          ANTAR_GEOCODE_MIN_PRECISION="street")
        out = tmp_path / "out.csv"
        result = runner.invoke(main, ["address", "normalize", str(src), "-o", str(out)])
        assert result.exit_code == 0, result.output
        assert len(stub.requests) == 2
        rows = _read(out)
        assert rows["ok"]["status"] == "CLEAR" and rows["ok"]["geo_precision"] == "street"
        assert rows["far"]["status"] == "UNCLEAR" and "FAR_FROM_KELURAHAN" in rows["far"]["flags"].split(";")
        assert rows["far"]["kode_wilayah"] == "32.16.06.1001"
        # The same file again: every answer comes from the cache, the server is not asked twice.
        assert runner.invoke(main, ["address", "normalize", str(src), "-o", str(out)]).exit_code == 0
        assert len(stub.requests) == 2
