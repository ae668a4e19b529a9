"""Courier webhook benchmark: `POST /api/v1/courier/events` under gunicorn on PostgreSQL, against a bare endpoint.

Both apps are served the same way in the same run: `gunicorn -w 2 --threads 4 -k gthread` on loopback
(no access log), started as subprocesses of this script.

- **baseline**: `benchmarks/bare_app.py`, a Flask app whose endpoint parses the JSON body and answers
  `{"results": [...]}` of the same shape: no signature, no schema, no database;
- **single-event posts**: signed 1-event requests, each a new event for some item, the items moving through
  ACCEPTED, IN_TRANSIT, OUT_FOR_DELIVERY and DELIVERED (with location, recipient and proof); sent by a pool
  of client threads, one `requests.Session` each. The same pre-signed requests go to the bare app, so its
  requests/s is also the ceiling of this client on this machine (its CPU per request is reported);
- **500-event batches**: signed batches of 500 new events, one event per item, the same four statuses in
  four rounds over --batch-items items.

Set-up (not timed): a fresh schema migrated to head, the Bekasi kelurahan boundaries loaded (when the file is
there), and handed-over items bulk-inserted with SQLAlchemy Core: cards WITH_COURIER with a kelurahan and a
location, manifests HANDED_OVER of 500 items, active items with S10 numbers. PostgreSQL keeps its defaults
(`synchronous_commit=on`): every 200 is sent after its transaction committed, as in production.

For each phase the JSON output also says where the CPU went, in microseconds per event: this client, the
gunicorn processes, and the PostgreSQL backends of the app's own connections (found by `application_name`).
Client, server and database share the machine, as they would on a small office server.

    .venv/bin/python benchmarks/bench_webhook.py [--single-items 2000] [--batch-items 100000] [--threads 16]
        [--batch-threads 8]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests
import sqlalchemy as sa
from sqlalchemy.orm import Session
from standardwebhooks.webhooks import Webhook

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from address.geocode import load_geo_file  # noqa: E402
from address.models import RegionGeo  # noqa: E402
from app.cards import Card, CardState  # noqa: E402
from app.courier.s10 import tracking_number  # noqa: E402
from app.db import make_engine  # noqa: E402
from app.migrate import upgrade  # noqa: E402
from app.offices import ensure_office  # noqa: E402
from benchmarks.bench_intake import fresh_url  # noqa: E402
from manifests.intake.models import PrintRun  # noqa: E402
from manifests.models import Manifest, ManifestItem, ManifestStatus  # noqa: E402

OFFICE = "32.16"
SECRET = "whsec_" + "YmVuY2gtd2ViaG9vay1rZXktMzItYnl0ZXMtLS0tLS0="
GEO = ROOT.parent / "shared" / "data" / "wilayah" / "bekasi_kelurahan.geojson"
SERVER = ["-w", "2", "--threads", "4", "-k", "gthread"]
STATUSES = ("ACCEPTED", "IN_TRANSIT", "OUT_FOR_DELIVERY", "DELIVERED")
WIB = dt.timezone(dt.timedelta(hours=7))
T0 = dt.datetime(2026, 11, 24, 8, 0, tzinfo=WIB)
MANIFEST_SIZE = 500


# --- set-up ------------------------------------------------------------------------------------------------


def handed_over_items(url: str, count: int, geo: Path | None) -> list[tuple[str, float, float]]:
    """`count` handed-over items in a fresh migrated schema; (tracking number, card lat, card lng) each."""
    engine = make_engine(url)
    upgrade(engine)
    now = dt.datetime.now(dt.UTC)
    with Session(engine) as session, session.begin():
        office_id = ensure_office(session, OFFICE).id
        if geo is not None:
            load_geo_file(session, geo, only=(OFFICE,))
    with engine.begin() as conn:
        places = conn.execute(sa.select(RegionGeo.kode, RegionGeo.lat, RegionGeo.lng)
                              .where(RegionGeo.kode.like(OFFICE + ".%"))).all()
        places = places or [("32.16.06.1001", -6.2668, 107.0295)]
        run_id = conn.execute(sa.insert(PrintRun).values(
            office_id=office_id, filename="bench.csv", sha256="0" * 64, imported_by="bench", rows_read=count,
            cards_imported=count).returning(PrintRun.id)).scalar_one()
        items = []
        for start in range(0, count, MANIFEST_SIZE):
            ids = range(start + 1, min(start + MANIFEST_SIZE, count) + 1)
            mid = start // MANIFEST_SIZE + 1
            conn.execute(sa.insert(Manifest).values(
                id=mid, office_id=office_id, number=f"MNF-3216-20261123-{mid:04d}", post_office_code="17510",
                post_office_name="Tambun", status=ManifestStatus.HANDED_OVER, item_count=len(ids), created_at=now,
                created_by="bench", finalized_at=now, handed_over_at=now, handover_attempts=1))
            cards, rows = [], []
            for i in ids:
                kode, lat, lng = places[i % len(places)]
                cards.append({"id": i, "office_id": office_id, "print_run_id": run_id, "line": i + 1,
                              "nomor_blanko": f"BLK{i:09d}", "nik": f"3216{i:012d}", "nama": f"WARGA NOMOR {i}",
                              "tempat_lahir": "BEKASI", "tanggal_lahir": dt.date(1990, 1, 1), "jenis_kelamin": "L",
                              "alamat": f"JL. RAYA NO. {i}", "tanggal_cetak": dt.date(2026, 11, 2),
                              "kelurahan_code": kode, "address_status": "CLEAR", "lat": lat, "lng": lng,
                              "geo_precision": "kelurahan", "state": CardState.WITH_COURIER,
                              "state_changed_at": now})
                number = tracking_number("RB", 10_000_000 + i)
                rows.append({"id": i, "manifest_id": mid, "card_id": i, "seq": i - start, "tracking_number": number,
                             "active": True})
                items.append((number, lat, lng))
            conn.execute(sa.insert(Card), cards)
            conn.execute(sa.insert(ManifestItem), rows)
        for table in ("manifest", "card", "manifest_item"):
            conn.exec_driver_sql(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
            conn.exec_driver_sql(f"ANALYZE {table}")
    engine.dispose()
    return items


def event(item: tuple[str, float, float], k: int, rng: random.Random) -> dict[str, Any]:
    """The item's k-th event (STATUSES[k]); a DELIVERED carries a location near the address, recipient, proof."""
    number, lat, lng = item
    status = STATUSES[k]
    e = {"event_id": f"evt_{number}_{k}", "tracking_number": number, "status": status,
         "occurred_at": (T0 + dt.timedelta(hours=3 * k, seconds=rng.randint(0, 3600))).isoformat(timespec="seconds"),
         "location": {"post_office": "17510", "lat": None, "lng": None}, "attempt": 1, "reason_code": None,
         "recipient": None, "proof": None, "courier_id": "PTR-0192"}
    if status == "DELIVERED":
        e["location"].update(lat=round(lat + rng.uniform(-0.002, 0.002), 6),  # within about 300 m
                             lng=round(lng + rng.uniform(-0.002, 0.002), 6))
        e["recipient"] = {"name": "WARGA", "relationship": "SELF"}
        e["proof"] = {"photo_url": f"https://pos.example/p/{number}.jpg", "signature_url": None}
    return e


def signed(msg_id: str, events: list[dict[str, Any]]) -> tuple[str, dict[str, str]]:
    body = json.dumps({"type": "tracking.events", "data": {"events": events}})
    now = dt.datetime.now(dt.UTC)
    return body, {"webhook-id": msg_id, "webhook-timestamp": str(int(now.timestamp())),
                  "webhook-signature": Webhook(SECRET).sign(msg_id, now, body), "Content-Type": "application/json"}


# --- servers and load ---------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gunicorn:
    """`gunicorn <SERVER> <spec>` on a loopback port, in its own process group, stopped with SIGTERM."""

    def __init__(self, spec: str, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/api/v1/courier/events"
        gunicorn = str(Path(sys.executable).with_name("gunicorn"))
        with open(log, "wb") as out:  # the server keeps its own copy of the descriptor
            self.proc = subprocess.Popen([gunicorn, *SERVER, "-b", f"127.0.0.1:{self.port}", spec], cwd=ROOT,
                                         env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        deadline = time.monotonic() + 30
        while True:
            try:
                if self.proc.poll() is not None:
                    raise RuntimeError(log.read_text())
                requests.get(self.url, timeout=5)
                break
            except requests.RequestException:  # refused, or accepted by the master while workers still load
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"gunicorn {spec} never answered") from None
                time.sleep(0.1)
            except BaseException:
                self.stop()
                raise

    def pids(self) -> list[int]:
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        return [self.proc.pid, *map(int, children)]

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=30)


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def backend_pids(url: str, application_name: str) -> list[int]:
    """The server processes of the app's own connections (the database is local): their CPU is its share.
    Shared background processes (WAL writer, checkpointer) are left out, as are other users of the server."""
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        pids = list(conn.exec_driver_sql("SELECT pid FROM pg_stat_activity WHERE application_name = %s",
                                         (application_name,)).scalars())
    engine.dispose()
    return pids


def load(server: Gunicorn, posts: list[tuple[str, dict[str, str]]], threads: int,
         db_pids: list[int] = ()) -> dict[str, Any]:
    """Send every post from `threads` client threads (one session each); timing and where the CPU went."""
    local = threading.local()
    results: Counter[str] = Counter()
    statuses: Counter[int] = Counter()
    lock = threading.Lock()

    def send(post: tuple[str, dict[str, str]]) -> None:
        if not hasattr(local, "session"):
            local.session = requests.Session()
        r = local.session.post(server.url, data=post[0], headers=post[1], timeout=120)
        counts = Counter(x["result"] for x in r.json()["results"]) if r.status_code == 200 else Counter()
        with lock:
            statuses[r.status_code] += 1
            results.update(counts)

    server_pids = server.pids()
    cpu0 = (time.process_time(), cpu_seconds(server_pids), cpu_seconds(db_pids))
    t0 = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(send, posts))
    elapsed = time.perf_counter() - t0
    cpu1 = (time.process_time(), cpu_seconds(server_pids), cpu_seconds(db_pids))
    client, srv, pg = (b - a for a, b in zip(cpu0, cpu1, strict=True))
    events = sum(results.values())
    return {"requests": len(posts), "events": events, "seconds": round(elapsed, 3),
            "req_per_s": round(len(posts) / elapsed, 1), "events_per_s": round(events / elapsed, 1),
            "http": dict(statuses), "results": dict(results),
            "cpu_s": {"client": round(client, 2), "gunicorn": round(srv, 2), "postgres_backends": round(pg, 2),
                      "wall_x_cores": round(elapsed * os.cpu_count(), 2)},
            "cpu_us_per_event": {"client": round(1e6 * client / events), "gunicorn": round(1e6 * srv / events),
                                 "postgres_backends": round(1e6 * pg / events)}}


def warm_up(server: Gunicorn, threads: int) -> None:
    """Posts for a tracking number nobody has (rejected, nothing changes), so that every worker thread has
    its connection open before the timing starts."""
    ghost = ("RB000000000ID", 0.0, 0.0)
    load(server, [signed(f"warm_{i}", [event(ghost, 0, random.Random(i))]) for i in range(20 * threads)], threads)


# --- the run -----------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--single-items", type=int, default=2000, help="items of the 1-event posts (4 posts each)")
    parser.add_argument("--batch-items", type=int, default=100_000, help="items of the 500-event batches")
    parser.add_argument("--threads", type=int, default=16, help="client threads for 1-event posts")
    parser.add_argument("--batch-threads", type=int, default=8, help="client threads for 500-event batches")
    parser.add_argument("--geo", type=Path, default=GEO if GEO.exists() else None,
                        help="kelurahan boundaries (GeoJSON) to load, so deliveries are checked against them")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-webhook-"))
    url, drop = fresh_url("postgresql", work)
    app_name = "bench_" + url.rsplit("%3D", 1)[1]
    servers: list[Gunicorn] = []

    def serve(spec: str, env: dict[str, str]) -> Gunicorn:
        servers.append(Gunicorn(spec, env, work / f"{spec.split(':')[0]}.log"))
        return servers[-1]

    try:
        t0 = time.perf_counter()
        items = handed_over_items(url, args.single_items + args.batch_items, args.geo)
        setup_s = time.perf_counter() - t0
        rng = random.Random(4)
        single_items, batch_items = items[:args.single_items], items[args.single_items:]
        # Status by status, so that concurrent posts are for different items (as a courier's would mostly be).
        singles = [[event(it, k, rng)] for k in range(len(STATUSES)) for it in single_items]
        rounds = [[[event(it, k, rng) for it in batch_items[i:i + 500]] for i in range(0, len(batch_items), 500)]
                  for k in range(len(STATUSES))]

        bare = serve("benchmarks.bare_app:app", {})
        posts = [signed(f"msg_s{i}", evs) for i, evs in enumerate(singles)]
        load(bare, posts[:20 * args.threads], args.threads)  # warm-up
        bare_single = load(bare, posts, args.threads)
        bare_batch = load(bare, [signed(f"msg_b{i}", evs) for i, evs in enumerate(rounds[0])], args.batch_threads)
        bare.stop()

        antar = serve("app:create_app()", {
            "DATABASE_URL": f"{url}&application_name={app_name}", "ANTAR_COURIER_WEBHOOK_SECRETS": SECRET,
            "SECRET_KEY": "bench", "ANTAR_OFFICE": OFFICE, "ANTAR_INSTANCE_PATH": str(work / "instance")})
        warm_up(antar, args.threads)
        posts = [signed(f"msg_s{i}", evs) for i, evs in enumerate(singles)]  # fresh timestamps
        antar_single = load(antar, posts, args.threads, backend_pids(url, app_name))
        antar_rounds = []
        for k, batches in enumerate(rounds):
            posts = [signed(f"msg_b{k}_{i}", evs) for i, evs in enumerate(batches)]
            r = load(antar, posts, args.batch_threads, backend_pids(url, app_name))
            antar_rounds.append({"status": STATUSES[k], **r})
        antar.stop()

        engine = sa.create_engine(url)
        with engine.connect() as conn:
            stored = conn.exec_driver_sql("SELECT count(*) FROM tracking_event").scalar()
            settings = {k: conn.exec_driver_sql(f"SHOW {k}").scalar() for k in ("synchronous_commit", "fsync")}
            version = conn.exec_driver_sql("SHOW server_version").scalar()
        engine.dispose()
        batch_events = sum(r["events"] for r in antar_rounds)
        assert antar_single["results"] == {"applied": len(singles)}, antar_single["results"]
        assert all(r["results"] == {"applied": r["events"]} for r in antar_rounds), antar_rounds
        assert stored == len(singles) + batch_events, (stored, len(singles), batch_events)
        print(json.dumps({
            "backend": f"PostgreSQL {version}", "postgres": settings, "server": "gunicorn " + " ".join(SERVER),
            "cores": os.cpu_count(), "load_average": os.getloadavg(), "setup_s": round(setup_s, 1),
            "items": {"single": len(single_items), "batch": len(batch_items)},
            "client_threads": {"single": args.threads, "batch": args.batch_threads},
            "baseline_single": bare_single, "baseline_batch_500": bare_batch,
            "antar_single": antar_single, "antar_batch_500": antar_rounds,
            "summary": {
                "baseline_req_per_s": bare_single["req_per_s"],
                "antar_single_events_per_s": antar_single["events_per_s"],
                "ratio_single_to_baseline": round(antar_single["events_per_s"] / bare_single["req_per_s"], 3),
                "antar_batch_events_per_s": round(batch_events / sum(r["seconds"] for r in antar_rounds), 1),
                "targets": {"ratio_single": 0.5, "batch_events_per_s": 20_000},
            },
        }, indent=2))
    finally:
        for server in servers:
            server.stop()
        drop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
