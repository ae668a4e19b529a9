"""`POST /api/v1/notify/reports`: the gateway's delivery reports (citizen-notifications.md), Standard Webhooks
signed with ANTAR_NOTIFY_WEBHOOK_SECRET, checked like the courier's events (delivery/webhook.py): 413 for a body
over 64 KiB, 503 without a secret, 401 for a missing or wrong signature or a timestamp more than five minutes off,
400 naming the field for a body off the contract, then 200 with what became of the report."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from flask import Blueprint, current_app, jsonify, request
from jsonschema import Draft202012Validator
from sqlalchemy.exc import IntegrityError
from standardwebhooks.webhooks import Webhook

from app import api, csrf
from app.db import unit_of_work
from app.web import json_error
from app.webhooks import secret_problem, verified
from notify.service import apply_report

bp = Blueprint("notify_webhook", __name__)

MAX_BODY_BYTES = 64 * 1024
STATUS_DATA = {
    "type": "object", "required": ["message_id", "status"],
    # Open: a field the gateway adds later is not an error (we read only these).
    "properties": {
        "message_id": api.string(100, min_length=1, description="id pesan dari gateway (atau Idempotency-Key kita)"),
        "status": api.enum(["delivered", "read", "failed"]),
        "occurred_at": api.nullable(api.string(40, description="waktu ISO 8601 dengan zona, mis. "
                                                               "2026-12-03T10:15:00+07:00")),
        "error": api.nullable(api.string(500)),
    },
}
REPORT_BODY = {
    "type": "object", "required": ["type", "data"], "additionalProperties": False,
    "properties": {"type": api.string(60, min_length=1, description="message.status"),
                   "timestamp": api.string(40), "data": {"type": "object"}},
}
_BODY = Draft202012Validator(REPORT_BODY)
_DATA = Draft202012Validator(STATUS_DATA)
WEBHOOK_HEADERS = [
    {"name": "webhook-id", "in": "header", "required": True, "schema": {"type": "string", "maxLength": 100},
     "description": "id laporan; kiriman ulang memakai id yang sama"},
    {"name": "webhook-timestamp", "in": "header", "required": True, "schema": {"type": "string", "maxLength": 20},
     "description": "detik Unix saat dikirim (paling jauh 5 menit dari sekarang)"},
]
RESULT = {"type": "object", "required": ["result"],
          "properties": {"result": api.enum(["applied", "ignored", "unknown", "duplicate"])}}


def _verifier() -> Webhook | None:
    """The verifier of ANTAR_NOTIFY_WEBHOOK_SECRET (None without one); ValueError naming what is wrong with a secret
    that is not `whsec_<base64>` (app.webhooks.secret_problem)."""
    secret = (current_app.config.get("ANTAR_NOTIFY_WEBHOOK_SECRET") or "").strip()
    if not secret:
        return None
    cached = current_app.extensions.get("antar.notify_verifier")
    if cached is None or cached[0] != secret:
        problem = secret_problem(secret)
        if problem:
            raise ValueError(problem)
        cached = (secret, Webhook(secret))
        current_app.extensions["antar.notify_verifier"] = cached
    return cached[1]


def _occurred_at(value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("data.occurred_at: bukan waktu ISO 8601 (mis. 2026-12-03T10:15:00+07:00)") from None
    if moment.tzinfo is None:
        raise ValueError("data.occurred_at: harus membawa zona waktu (mis. +07:00)")
    return moment.astimezone(dt.UTC)


@bp.route("/api/v1/notify/reports", methods=["POST"])
@csrf.exempt
@api.operation("Laporan kiriman pesan dari gateway (Standard Webhooks)", tags=["pesan"], auth="signature",
               body=REPORT_BODY, validate_body=False, response=RESULT, parameters=WEBHOOK_HEADERS, errors=[413],
               description="Tanda tangan diperiksa dengan ANTAR_NOTIFY_WEBHOOK_SECRET (401), lalu skema (400). "
                           "Jenis selain message.status dijawab 200 'ignored'.")
def reports() -> Any:
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        return json_error(413, f"Badan permintaan lebih dari {MAX_BODY_BYTES} byte.")
    raw = request.stream.read(MAX_BODY_BYTES + 1)
    if len(raw) > MAX_BODY_BYTES:
        return json_error(413, f"Badan permintaan lebih dari {MAX_BODY_BYTES} byte.")
    try:
        hook = _verifier()
    except ValueError as exc:  # a secret that is not whsec_<base64>
        return json_error(503, f"ANTAR_NOTIFY_WEBHOOK_SECRET tidak sah (harus whsec_<base64>: {exc}); laporan tidak "
                               "dapat diverifikasi.")
    if hook is None:
        return json_error(503, "ANTAR_NOTIFY_WEBHOOK_SECRET belum diatur; laporan tidak dapat diverifikasi.")
    if not verified((hook,), raw, request.headers):  # over the body's bytes as received, whatever they are
        return json_error(401, "Tanda tangan webhook tidak ada, salah, atau webhook-timestamp lebih dari 5 menit "
                               "dari sekarang.")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return json_error(400, "Badan permintaan bukan UTF-8.")
    try:
        body = json.loads(text)
    except (ValueError, RecursionError) as exc:
        return json_error(400, f"JSON tidak valid: {str(exc)[:200]}")
    problem = api.schema_problem(_BODY.iter_errors(body))
    if problem:
        return json_error(400, problem[0], fields=problem[1])
    if body["type"] != "message.status":
        return jsonify(result="ignored")
    data = body["data"]
    problem = api.schema_problem(_DATA.iter_errors(data))
    if problem:
        message = "; ".join(f"data.{part}" if not part.startswith("data") else part
                            for part in problem[0].replace("badan: ", "").split("; "))
        return json_error(400, message, fields=[f"data.{f}" if f != "badan" else "data" for f in problem[1]])
    try:
        occurred_at = _occurred_at(data.get("occurred_at"))
    except ValueError as exc:
        return json_error(400, str(exc), fields=["data.occurred_at"])
    try:
        with unit_of_work() as session:
            result = apply_report(session, request.headers.get("webhook-id", ""), data, occurred_at)
    except IntegrityError:  # the same report, redelivered while this one was being recorded
        result = "duplicate"
    return jsonify(result=result)
