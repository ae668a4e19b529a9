"""The baselines of `bench_webhook.py`: bare Flask apps with the courier endpoint's URL and answer shape.

- `app`: parses the JSON body and returns `{"results": [...]}` with one result per event, like
  `POST /api/v1/courier/events`, and does nothing else: no signature check, no schema, no database. The baseline
  of the issue's targets.
- `durable_app`: the same, and each post also stores its events durably before it answers: one
  `INSERT ... ON CONFLICT DO NOTHING` of (event_id, body) rows into a plain table and a commit (PostgreSQL's
  `synchronous_commit=on`), on a connection kept per thread (psycopg 3, as antar). Not a target: it shows what one
  durable write per post costs by itself on this machine, the least any webhook that keeps its promise must pay.
  `BARE_DSN` names the database, where the benchmark made the table `bare_event (event_id text PRIMARY KEY, body
  text)`.

    .venv/bin/gunicorn -w 2 --threads 8 -k gthread --reuse-port -b 127.0.0.1:8001 benchmarks.bare_app:app
    BARE_DSN=postgresql://... .venv/bin/gunicorn -w 2 --threads 8 -k gthread --reuse-port -b 127.0.0.1:8002 \\
        benchmarks.bare_app:durable_app
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any

from flask import Flask, jsonify, request

app = Flask(__name__)


@app.post("/api/v1/courier/events")
def courier_events() -> Any:
    body = json.loads(request.get_data())
    return jsonify(results=[{"event_id": e["event_id"], "result": "applied"} for e in body["data"]["events"]])


durable_app = Flask(__name__ + ".durable")
_local = threading.local()


def _connection() -> Any:
    connection = getattr(_local, "connection", None)
    if connection is None:
        import psycopg

        connection = _local.connection = psycopg.connect(os.environ["BARE_DSN"])
    return connection


@durable_app.post("/api/v1/courier/events")
def durable_courier_events() -> Any:
    body = json.loads(request.get_data())
    events = body["data"]["events"]
    connection = _connection()
    with connection.transaction():
        connection.execute("INSERT INTO bare_event (event_id, body) SELECT * FROM json_to_recordset(%s::json) "
                           "AS e(event_id text, body text) ON CONFLICT DO NOTHING",
                           (json.dumps([{"event_id": e["event_id"], "body": json.dumps(e)} for e in events]),))
    return jsonify(results=[{"event_id": e["event_id"], "result": "applied"} for e in events])
