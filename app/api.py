"""The JSON API's boundary: every body and query string checked against a JSON Schema, the OpenAPI document
generated from the same schemas, and bearer tokens for machine clients.

A route declares itself with `@api.operation(...)`: its summary, the JSON Schema of its body and of its query
string, the schema of its answer and the error statuses it may give. The decorator

- reads the body as JSON (at most `MAX_BODY_BYTES`, nesting at most `MAX_DEPTH` levels), checks it with
  `jsonschema` (Draft 2020-12) and answers `400` naming every wrong field (`rws[0]: ...`) and every unknown key,
  before the view runs; the view gets the checked body as `body=` (a dict);
- converts the query string by the schema's types (`?hal=2` -> 2), checks it the same way and passes it as
  `query=`; an unknown parameter is a `400` naming it;
- keeps the declaration, so `/api/openapi.json` (OpenAPI 3.1, JSON Schema 2020-12 dialect) is built from exactly
  what the routes check: nothing can be documented but not enforced, or the other way round.

Machine clients send `Authorization: Bearer antar_...`: the token acts as its account with that account's role
(office, kelurahan), needs no CSRF token (a browser cannot add that header across sites) and never opens a
session. A courier account's token reaches only the courier's endpoints. Only a SHA-256 of a token is stored.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Flask, abort, current_app, g, jsonify, request
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict
from werkzeug.routing import IntegerConverter

from app.db import unit_of_work, utcnow
from app.models import ApiToken, Role, User
from app.web import STATUS_CODES, json_error

bp = Blueprint("api", __name__)

MAX_BODY_BYTES = 1024 * 1024
MAX_ID = 2**31 - 1
MAX_DEPTH = 32
TOKEN_PREFIX = "antar_"

# ---------------------------------------------------------------------------------------------------------------
# Schema helpers: short constructors for the shapes the routes use. Objects are closed (unknown keys are errors).


def obj(properties: Mapping[str, Any], required: Iterable[str] = (), **extra: Any) -> dict[str, Any]:
    return {"type": "object", "properties": dict(properties), "required": list(required),
            "additionalProperties": False, **extra}


def string(max_length: int = 200, min_length: int = 0, pattern: str | None = None, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "string", "maxLength": max_length, **extra}
    if min_length:
        out["minLength"] = min_length
    if pattern:
        out["pattern"] = pattern
    return out


def integer(minimum: int = 0, maximum: int = 2**31 - 1, **extra: Any) -> dict[str, Any]:
    return {"type": "integer", "minimum": minimum, "maximum": maximum, **extra}


def array(items: Mapping[str, Any], max_items: int = 10_000, min_items: int = 0, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "array", "items": dict(items), "maxItems": max_items, **extra}
    if min_items:
        out["minItems"] = min_items
    return out


def enum(values: Iterable[str], **extra: Any) -> dict[str, Any]:
    return {"type": "string", "enum": list(values), **extra}


def nullable(schema: Mapping[str, Any]) -> dict[str, Any]:
    return {"anyOf": [dict(schema), {"type": "null"}]}


DATE = string(10, pattern=r"^\d{4}-\d{2}-\d{2}$", format="date", description="YYYY-MM-DD")
KODE_KELURAHAN = string(13, pattern=r"^\d{2}\.\d{2}\.\d{2}\.\d{4}$", description="kode kelurahan, mis. 32.16.06.1001")
KODE_KECAMATAN = string(8, pattern=r"^\d{2}\.\d{2}\.\d{2}$", description="kode kecamatan, mis. 32.16.06")
NOMOR_BLANKO = string(30, min_length=1, pattern=r"^[A-Za-z0-9./-]+$", description="nomor blanko (huruf, angka, . / -)")
PAGE = integer(1, 1_000_000, description="Halaman (50 baris per halaman)")
# A file (a download, an upload): OpenAPI 3.1 spells raw bytes as a string with a content media type.
BINARY: dict[str, Any] = {"type": "string", "contentMediaType": "application/octet-stream"}
# Any JSON object whose keys the route does not constrain further (answers only).
ANY_OBJECT: dict[str, Any] = {"type": "object"}

ERROR = {
    "type": "object", "required": ["error"],
    "properties": {"error": {"type": "object", "required": ["code", "message"],
                             "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}},
}


# ---------------------------------------------------------------------------------------------------------------
# Operations


@dataclass
class Operation:
    summary: str
    tags: tuple[str, ...]
    body: dict[str, Any] | None
    query: dict[str, Any] | None
    responses: dict[int, tuple[str, dict[str, Any] | None, list[str]]]  # status -> (description, schema, types)
    errors: tuple[int, ...]
    auth: str  # 'session' (cookie or bearer), 'public', 'signature'
    description: str = ""
    extra_parameters: list[dict[str, Any]] = field(default_factory=list)
    multipart: dict[str, Any] | None = None  # a file upload: documented here, checked by the view
    body_validator: Draft202012Validator | None = None
    query_validator: Draft202012Validator | None = None


def operation(summary: str, *, tags: Iterable[str] = (), body: Mapping[str, Any] | None = None,
              query: Mapping[str, Any] | None = None, response: Mapping[str, Any] | None = None, status: int = 200,
              media_type: str | list[str] = "application/json", responses: Mapping[int, tuple[str, Any]] | None = None,
              errors: Iterable[int] = (), auth: str = "session", description: str = "",
              parameters: Iterable[Mapping[str, Any]] = (), validate_body: bool = True,
              multipart: Mapping[str, Any] | None = None) -> Callable[[Any], Any]:
    """Declare a JSON API route (see the module docstring). `errors` are the statuses besides the usual ones."""
    media = [media_type] if isinstance(media_type, str) else list(media_type)
    answers: dict[int, tuple[str, dict[str, Any] | None, list[str]]] = {
        status: ("Berhasil", dict(response) if response is not None else ANY_OBJECT, media)}
    for code, (text, schema) in (responses or {}).items():
        answers[code] = (text, dict(schema) if schema is not None else None, ["application/json"])
    op = Operation(summary=summary, tags=tuple(tags), body=dict(body) if body is not None else None,
                   query=dict(query) if query is not None else None, responses=answers, errors=tuple(errors),
                   auth=auth, description=description, extra_parameters=[dict(p) for p in parameters],
                   multipart=dict(multipart) if multipart is not None else None)
    if op.body is not None:
        op.body_validator = _validator(op.body)
    if op.query is not None:
        op.query_validator = _validator(op.query)

    def decorator(view: Any) -> Any:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if op.query_validator is not None:
                query, problem = _checked_query(op.query_validator)
                if problem:
                    return json_error(400, problem)
                kwargs["query"] = query
            elif request.args:
                names = ", ".join(sorted(request.args))[:200]
                return json_error(400, f"Parameter tidak dikenal: {names}. Rute ini tidak memakai parameter.")
            if op.body is not None and validate_body:
                body, error = read_json_body(op.body_validator, allow_empty=not op.body.get("required"))
                if error is not None:
                    return error
                kwargs["body"] = body
            return view(*args, **kwargs)

        wrapped.openapi = op  # type: ignore[attr-defined]
        return wrapped

    return decorator


# The query parameters pages understand, with their schema: every page's query string is checked against this in
# one place (`_check_page_query`), like the API's, so `?hal=²` or `?hal=99999999999999999999` is a 400 page that
# names the parameter, and a parameter no page reads is refused instead of silently ignored. A view still decides
# what a valid value means for it (which statuses a list has); this bounds what reaches it.
_CODE = string(30, pattern=r"^[A-Za-z_]*$", description="kode huruf besar, mis. DRAFT")
PAGE_PARAMETERS: dict[str, dict[str, Any]] = {
    "hal": PAGE, "hal_tidak": PAGE, "hal_beda": PAGE,
    "status": _CODE, "state": _CODE, "alasan": _CODE,
    "kelurahan": string(13, pattern=r"^(\d{2}\.\d{2}\.\d{2}\.\d{4})?$", description="kode kelurahan"),
    "kecamatan": string(8, pattern=r"^(\d{2}\.\d{2}\.\d{2})?$", description="kode kecamatan"),
    "post_office": string(5, pattern=r"^\d{0,5}$", description="kode kantor pos"),
    "max_items": string(12), "preview": enum(["1"]),
    "q": string(100, pattern=r"^[^\x00-\x1f\x7f]*$", description="teks pencarian"),
    "tugas": integer(1, MAX_ID),
    "daftar": enum(["semua"]),
    "next": string(500, description="halaman sesudah masuk (hanya alamat Antar yang diikuti)"),
    "cetakan": integer(1, MAX_ID), "dari": DATE, "sampai": DATE, "peta": enum(["terkirim", "kembali", "terbuka"]),
}


def _validator(schema: Mapping[str, Any]) -> Draft202012Validator:
    """A schema's validator (formats asserted). Each schema is checked against the metaschema by the suite
    (`tests/api/test_api_boundary.py`), not at every start: the check cost every command about a tenth of a second."""
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


_PAGE_VALIDATOR = _validator(obj(PAGE_PARAMETERS))


def _check_page_query() -> None:
    if not request.args or request.path.startswith(("/api/", "/static/")) or request.endpoint is None:
        return
    # An empty field of a GET filter form (`?status=&q=`) means "no filter".
    _, problem = _checked_query(_PAGE_VALIDATOR, MultiDict([(k, v) for k, v in request.args.items(multi=True) if v]))
    if problem:
        abort(400, description=problem)


def read_json_body(validator: Draft202012Validator | None,
                   allow_empty: bool = False) -> tuple[Any, tuple[Any, int] | None]:
    """The request's JSON body checked by `validator`, or (None, a 4xx JSON error naming what is wrong)."""
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        return None, json_error(413, f"Badan permintaan lebih dari {MAX_BODY_BYTES} byte.")
    raw = request.get_data(cache=True)
    if len(raw) > MAX_BODY_BYTES:
        return None, json_error(413, f"Badan permintaan lebih dari {MAX_BODY_BYTES} byte.")
    if not raw.strip():
        if allow_empty:
            raw = b"{}"
        else:
            return None, json_error(400, "Badan permintaan kosong: kirim objek JSON.")
    mimetype = request.mimetype or ""
    if raw.strip() != b"{}" and mimetype and mimetype != "application/json" and not mimetype.endswith("+json"):
        return None, json_error(415, f"Content-Type harus application/json, bukan {mimetype[:60]}.")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None, json_error(400, "Badan permintaan bukan UTF-8.")
    # A text with too few brackets to nest past the limit needs no character-by-character scan.
    depth = json_depth(text) if text.count("[") + text.count("{") > MAX_DEPTH else 0
    if depth > MAX_DEPTH:
        return None, json_error(400, f"JSON bersarang {depth} tingkat; paling banyak {MAX_DEPTH}.")
    try:
        body = json.loads(text, parse_constant=_no_constant)
    except ValueError as exc:
        return None, json_error(400, f"JSON tidak valid: {exc}")
    if validator is not None:
        problem = schema_problem(validator.iter_errors(body))
        if problem:
            return None, json_error(400, problem[0], fields=problem[1])
    return body, None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} bukan nilai JSON")


def json_depth(text: str) -> int:
    """How deep arrays and objects nest in a JSON text (brackets inside strings do not count)."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > MAX_DEPTH:
                    return deepest
        elif ch in "]}":
            depth -= 1
    return deepest


_TYPES_ID = {"string": "teks", "integer": "bilangan bulat", "number": "angka", "boolean": "true/false",
             "array": "daftar", "object": "objek", "null": "null"}


def _where(error: ValidationError) -> str:
    out = ""
    for part in error.absolute_path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "badan"


def _message(error: ValidationError) -> str:
    where, v, value = _where(error), error.validator, error.validator_value
    if v == "additionalProperties":
        known, unknown = sorted((error.schema.get("properties") or {}).keys()), _unknown_keys(error)
        prefix = "" if where == "badan" else f"{where}: "
        return (f"{prefix}kunci tidak dikenal: {', '.join(repr(k)[:60] for k in unknown[:10])}"
                + (f" (yang dikenal: {', '.join(known)})" if known else ""))
    if v == "required":
        missing = [k for k in value if isinstance(error.instance, dict) and k not in error.instance]
        prefix = "" if where == "badan" else f"{where}."
        return "; ".join(f"{prefix}{k}: wajib diisi" for k in missing) or f"{where}: kunci wajib tidak ada"
    if v == "type":
        types = value if isinstance(value, list) else [value]
        return f"{where}: harus {' atau '.join(_TYPES_ID.get(t, t) for t in types)}"
    if v == "maxLength":
        return f"{where}: paling panjang {value} karakter"
    if v == "minLength":
        return f"{where}: wajib diisi" if value == 1 else f"{where}: paling pendek {value} karakter"
    if v == "pattern":
        hint = error.schema.get("description")
        return f"{where}: harus {hint}" if hint else f"{where}: format tidak sah (pola {value})"
    if v == "format":
        return f"{where}: bukan {value} yang sah" + (" (YYYY-MM-DD)" if value == "date" else "")
    if v == "const":
        return f"{where}: harus {json.dumps(value, ensure_ascii=False)[:100]}"
    if v == "enum":
        return f"{where}: harus salah satu dari {', '.join(map(str, value))[:300]}"
    if v in ("minimum", "maximum"):
        lo, hi = error.schema.get("minimum"), error.schema.get("maximum")
        return f"{where}: harus antara {lo} dan {hi}" if lo is not None and hi is not None else \
            f"{where}: {'paling kecil' if v == 'minimum' else 'paling besar'} {value}"
    if v in ("maxItems", "minItems"):
        lo, hi = error.schema.get("minItems"), error.schema.get("maxItems")
        if lo is not None and hi is not None:
            return f"{where}: harus {lo} sampai {hi} butir, bukan {len(error.instance)}"
        return f"{where}: {'paling banyak' if v == 'maxItems' else 'paling sedikit'} {value} butir"
    if v == "uniqueItems":
        return f"{where}: ada butir yang sama"
    if v in ("anyOf", "oneOf"):
        inner = _branch_errors(error)
        if inner:
            return describe_errors(inner)
        hint = error.schema.get("description")
        return f"{where}: " + (hint or "bentuk tidak sah")
    if v == "minProperties":
        return f"{where}: paling sedikit {value} kunci"
    return f"{where}: {error.message[:200]}"


def _unknown_keys(error: ValidationError) -> list[str]:
    """The keys an `additionalProperties` error is about, sorted."""
    if not isinstance(error.instance, dict):
        return []
    return sorted(set(error.instance) - set((error.schema.get("properties") or {}).keys()))


def _branch_errors(error: ValidationError) -> list[ValidationError]:
    """For an anyOf/oneOf error: the errors inside the branch of the instance's own type, which say what is wrong
    (`location.lat`, not `location`); none when no branch has that type."""
    for index, branch in enumerate(error.validator_value):
        kind = branch.get("type") if isinstance(branch, dict) else None
        if isinstance(kind, str) and Draft202012Validator.TYPE_CHECKER.is_type(error.instance, kind):
            inner = [e for e in (error.context or []) if e.schema_path and e.schema_path[0] == index]
            if inner:
                return inner
    return []


def _join(base: str, key: str) -> str:
    return key if base == "badan" else f"{base}.{key}"


def _fields_of(error: ValidationError) -> list[str]:
    """The fields an error is about: the unknown or missing keys themselves, else the field that is wrong."""
    where, v, inst = _where(error), error.validator, error.instance
    if v == "additionalProperties" and isinstance(inst, dict):
        return [_join(where, k) for k in _unknown_keys(error)]
    if v == "required" and isinstance(inst, dict):
        return [_join(where, k) for k in error.validator_value if k not in inst]
    if v in ("anyOf", "oneOf"):
        inner = _branch_errors(error)
        if inner:
            return [f for e in inner for f in _fields_of(e)]
    return [where]


def schema_problem(errors: Iterable[ValidationError]) -> tuple[str, list[str]] | None:
    """(the message for people, the fields it names) for a body or query string that fails its schema."""
    found = list(errors)
    if not found:
        return None
    fields: list[str] = []
    for error in found:
        fields += [f for f in _fields_of(error) if f not in fields]
    return describe_errors(found), fields


def describe_errors(errors: Iterable[ValidationError], limit: int = 8) -> str:
    """Every schema error as one message for people: the field, then what is wrong, separated by '; '."""
    messages: list[str] = []
    for error in sorted(errors, key=lambda e: (list(map(str, e.absolute_path)), e.validator)):
        text = _message(error)
        if text not in messages:
            messages.append(text)
        if len(messages) >= limit:
            break
    return "; ".join(messages)


def _coerce(raw: str, schema: Mapping[str, Any]) -> Any:
    kind = schema.get("type")
    if kind == "integer":
        if raw.isascii() and (raw.isdigit() or (raw[:1] == "-" and raw[1:].isdigit())) and len(raw) <= 18:
            return int(raw)
        return raw  # left as text: the schema then names the parameter
    if kind == "boolean":
        return {"1": True, "true": True, "ya": True, "0": False, "false": False, "tidak": False}.get(raw.lower(), raw)
    return raw


def _checked_query(validator: Draft202012Validator,
                   args: MultiDict[str, str] | None = None) -> tuple[dict[str, Any], str | None]:
    """The query string converted by the schema's types and checked: (values, None) or ({}, the message)."""
    args = request.args if args is None else args
    props: Mapping[str, Any] = validator.schema.get("properties", {})
    values: dict[str, Any] = {}
    for name in args:
        items = args.getlist(name)
        prop = props.get(name, {})
        if prop.get("type") == "array":
            values[name] = [_coerce(v, prop.get("items", {})) for v in items]
        else:
            if len(items) > 1:
                return {}, f"Parameter '{name[:40]}' hanya boleh sekali."
            values[name] = _coerce(items[0], prop)
    problem = describe_errors(validator.iter_errors(values))
    if problem:
        return {}, "Parameter: " + problem.replace("badan: ", "").replace("badan", "parameter")
    return values, None


# ---------------------------------------------------------------------------------------------------------------
# Tokens


class TokenError(ValueError):
    """A token that cannot be made or revoked; the message is for people."""


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(session: Session, user: User, name: str, created_by: str) -> tuple[ApiToken, str]:
    """A new token for `user` (returned once, in clear; only its hash is kept)."""
    name = (name or "").strip()
    if not name or len(name) > 80:
        raise TokenError("Nama token wajib diisi, paling panjang 80 karakter.")
    if not user.active:
        raise TokenError(f"Akun '{user.username}' tidak aktif.")
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, name=name, prefix=plain[:12], token_hash=_digest(plain), created_at=utcnow(),
                     created_by=created_by)
    session.add(token)
    session.flush()
    return token, plain


def revoke_token(session: Session, token_id: int) -> ApiToken:
    token = session.get(ApiToken, token_id)
    if token is None:
        raise TokenError(f"Token #{token_id} tidak ditemukan.")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
    return token


def user_for_token(plain: str) -> User | None:
    """The active account a token acts for, or None (unknown, revoked, account inactive)."""
    if not plain.startswith(TOKEN_PREFIX) or len(plain) > 100:
        return None
    with unit_of_work() as session:
        token = session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(plain),
                                                      ApiToken.revoked_at.is_(None)))
        if token is None or not token.user.active:
            return None
        now = utcnow()
        if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
            session.execute(update(ApiToken).where(ApiToken.id == token.id).values(last_used_at=now))
        user = token.user
        user.login_token = f"api-token-{token.id}"
        session.expunge(user)
        return user


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


# The endpoints a courier account may reach with its token (everything else answers 403).
COURIER_ENDPOINTS = {"webhook.courier_events", "api.openapi_json", "health.healthz", "health.readyz"}


def init_app(app: Flask) -> None:
    """Bearer authentication and CSRF (checked here, not by default, so that token requests skip it)."""
    from app import csrf

    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    app.url_map.converters["int"] = BoundedInt
    app.register_blueprint(bp)

    app.before_request(_check_page_query)

    @app.before_request
    def _authenticate_and_check_csrf() -> Any:
        plain = bearer_token() if "Authorization" in request.headers else None
        if plain is None:
            if request.headers.get("Authorization"):
                return json_error(401, "Header Authorization harus 'Bearer <token>'.")
            if app.config.get("WTF_CSRF_ENABLED", True):
                csrf.protect(apply_exemptions=True)
            return None
        user = user_for_token(plain)
        if user is None:
            return json_error(401, "Token API tidak dikenal, dicabut, atau akunnya tidak aktif.", "bad_token")
        g._login_user = user  # Flask-Login's current_user for this request only: no session, no cookie
        if user.role is Role.COURIER and request.endpoint not in COURIER_ENDPOINTS:
            return json_error(403, "Token mitra kurir hanya untuk endpoint kurir.")
        return None


# ---------------------------------------------------------------------------------------------------------------
# The OpenAPI document

_CONVERTER = re.compile(r"<(?:(?P<conv>[a-z]+)(?:\((?P<args>[^)]*)\))?:)?(?P<name>\w+)>")
_DEFAULT_ERRORS = {400: "Permintaan tidak sah (field disebut)", 401: "Harus masuk atau token API",
                   403: "Peran tidak diizinkan", 405: "Metode tidak diizinkan", 429: "Terlalu banyak permintaan",
                   503: "Basis data sibuk; coba lagi"}


class BoundedInt(IntegerConverter):
    """`<int:...>` in every route: at most 2**31 - 1 (PostgreSQL's integer), so a larger number is a 404 and not
    a database error."""

    def __init__(self, map: Any, fixed_digits: int = 0, min: int | None = None, max: int | None = MAX_ID,
                 signed: bool = False) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def _path_parameter(conv: str | None, args: str | None, name: str) -> dict[str, Any]:
    if conv == "int":
        schema: dict[str, Any] = {"type": "integer", "minimum": 0, "maximum": MAX_ID}
    elif conv == "any":
        schema = {"type": "string", "enum": [a.strip().strip("'\"") for a in (args or "").split(",")]}
    else:
        schema = {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[^/]+$"}
    return {"name": name, "in": "path", "required": True, "schema": schema}


def _query_parameters(schema: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    if not schema:
        return []
    required = set(schema.get("required", []))
    out = []
    for name, prop in schema.get("properties", {}).items():
        param: dict[str, Any] = {"name": name, "in": "query", "required": name in required, "schema": prop}
        if prop.get("type") == "array":
            param.update(style="form", explode=True)
        if prop.get("description"):
            param["description"] = prop["description"]
        out.append(param)
    return out


def openapi_document(app: Flask) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        view = app.view_functions.get(rule.endpoint)
        op: Operation | None = getattr(view, "openapi", None)
        if op is None or not rule.rule.startswith("/api/"):
            continue  # a page route sharing the view (the same document under /manifest/...) is not the API
        parameters = [_path_parameter(m["conv"], m["args"], m["name"]) for m in _CONVERTER.finditer(rule.rule)]
        path = _CONVERTER.sub(lambda m: "{" + m["name"] + "}", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            paths.setdefault(path, {})[method.lower()] = _operation_object(op, rule.endpoint, method,
                                                                           parameters)
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {"title": "Antar API", "version": "1",
                 "description": "API Antar (pengiriman e-KTP lewat pos). Semua badan dan parameter diperiksa "
                                "dengan skema di dokumen ini; kunci yang tidak dikenal ditolak dengan 400."},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": {"Error": ERROR},
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer",
                               "description": "Token API (antar token create); bertindak sebagai akunnya."},
                "cookieAuth": {"type": "apiKey", "in": "cookie", "name": "session",
                               "description": "Sesi login halaman (POST perlu header X-CSRFToken)."},
                "webhookSignature": {"type": "apiKey", "in": "header", "name": "webhook-signature",
                                     "description": "Standard Webhooks: webhook-id, webhook-timestamp, "
                                                    "webhook-signature (HMAC-SHA256, kontrak kurir bagian 3)."},
            },
        },
    }


def _operation_object(op: Operation, endpoint: str, method: str,
                      parameters: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"operationId": f"{endpoint.replace('.', '_')}_{method.lower()}", "summary": op.summary}
    if op.description:
        out["description"] = op.description
    if op.tags:
        out["tags"] = list(op.tags)
    params = parameters + _query_parameters(op.query) + op.extra_parameters
    if params:
        out["parameters"] = params
    if op.body is not None and method in ("POST", "PUT", "PATCH"):
        out["requestBody"] = {"required": bool(op.body.get("required")),
                              "content": {"application/json": {"schema": op.body}}}
    if op.multipart is not None:
        out["requestBody"] = {"required": True, "content": {"multipart/form-data": {"schema": op.multipart}}}
    responses: dict[str, Any] = {}
    for code, (text, schema, media) in sorted(op.responses.items()):
        content = {m: ({"schema": schema} if schema is not None else {}) for m in media}
        responses[str(code)] = {"description": text, "content": content}
    errors = dict(_DEFAULT_ERRORS)
    if op.auth == "public":
        errors.pop(401)
        errors.pop(403)
    if parameters:
        errors[404] = "Tidak ditemukan"
    if op.body is not None or op.multipart is not None:
        errors[413] = "Badan terlalu besar"
        errors[415] = "Content-Type bukan application/json"
    for code in op.errors:
        errors.setdefault(code, STATUS_CODES.get(code, "Galat").replace("_", " ").capitalize())
    error_content = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for code, text in sorted(errors.items()):
        responses.setdefault(str(code), {"description": text, "content": error_content})
    out["responses"] = responses
    if op.auth == "public":
        out["security"] = []
    elif op.auth == "signature":
        out["security"] = [{"webhookSignature": []}]
    else:
        out["security"] = [{"bearerAuth": []}, {"cookieAuth": []}]
    return out


@bp.route("/api/openapi.json")
def openapi_json() -> Any:
    """The OpenAPI 3.1 document of every JSON route (public: it describes, it gives no data)."""
    doc = current_app.extensions.get("antar.openapi")
    if doc is None:
        doc = current_app.extensions["antar.openapi"] = openapi_document(current_app)
    return jsonify(doc)
