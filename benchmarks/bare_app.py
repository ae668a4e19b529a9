"""The baseline of `bench_webhook.py`: a bare Flask app with the courier endpoint's URL and answer shape.

It parses the JSON body and returns `{"results": [...]}` with one result per event, like
`POST /api/v1/courier/events`, and does nothing else: no signature check, no schema, no database.

    .venv/bin/gunicorn -w 2 --threads 4 -k gthread -b 127.0.0.1:8001 benchmarks.bare_app:app
"""

from __future__ import annotations

import json
from typing import Any

from flask import Flask, jsonify, request

app = Flask(__name__)


@app.post("/api/v1/courier/events")
def courier_events() -> Any:
    body = json.loads(request.get_data())
    return jsonify(results=[{"event_id": e["event_id"], "result": "applied"} for e in body["data"]["events"]])
