"""The JSON API's boundary: schemas on every body and query string, the OpenAPI document, and API tokens."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from helpers import card_row, cli, make_user, write_csv
from openapi_spec_validator import validate

from app.models import Role


def _json_routes(app: Flask) -> set[tuple[str, str]]:
    """Every (path, method) under /api/ except the document itself, in OpenAPI's path syntax."""
    import re

    out = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/") or rule.endpoint in ("api.openapi_json", "static"):
            continue
        path = re.sub(r"<(?:[a-z]+(?:\([^)]*\))?:)?(\w+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            out.add((path, method.lower()))
    return out


def test_the_openapi_document_validates_and_lists_every_json_route(app: Flask, client: FlaskClient):
    r = client.get("/api/openapi.json")
    assert r.status_code == 200 and r.mimetype == "application/json"
    doc = r.get_json()
    validate(doc)  # openapi-spec-validator: raises on an invalid OpenAPI 3.1 document
    assert doc["openapi"].startswith("3.1")
    documented = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    missing = _json_routes(app) - documented
    assert not missing, f"JSON routes without an OpenAPI operation: {sorted(missing)}"
    webhook = doc["paths"]["/api/v1/courier/events"]["post"]
    assert webhook["security"] == [{"webhookSignature": []}]
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            assert "400" in op["responses"], (path, method)
            body = op.get("requestBody", {}).get("content", {}).get("application/json")
            if body and body["schema"].get("type") == "object" and path != "/api/v1/courier/events":
                assert body["schema"].get("additionalProperties") is False, (path, method)


def test_every_schema_the_api_checks_with_is_a_valid_json_schema(app: Flask):
    """The validators are built without checking their schemas at start-up (`app.api._validator`): this is where an
    invalid schema fails, for every operation's body and query and for the pages' query parameters."""
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    from app.api import PAGE_PARAMETERS, obj

    schemas = [("pages", obj(PAGE_PARAMETERS))]
    for rule in app.url_map.iter_rules():
        op = getattr(app.view_functions[rule.endpoint], "openapi", None)
        if op is not None:
            schemas += [(f"{rule.rule} body", op.body), (f"{rule.rule} query", op.query)]
    checked = [(where, schema) for where, schema in schemas if schema is not None]
    assert len(checked) > 30
    invalid = []
    for where, schema in checked:
        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as e:
            invalid.append((where, e.message))
    assert not invalid
    with pytest.raises(SchemaError):  # and the check does see a broken one
        Draft202012Validator.check_schema(obj({"x": {"type": "text"}}))


@pytest.mark.parametrize("body, field", [
    ({"kelurahan": "32.16.06.1001", "rw": ["5"], "reason": "rel"}, "'rw'"),  # the CLI option's name, not "rws"
    ({"kelurahan": "32.16.06.1001", "rws": ["²"], "reason": "rel"}, "rws[0]"),
    ({"kelurahan": "32.16.06.1001", "rws": "005", "reason": "rel"}, "rws"),
    ({"rws": ["5"], "reason": "rel"}, "kelurahan"),
    ({"kelurahan": "32.16.06.1001", "reason": "x" * 501}, "reason"),
])
def test_a_withdrawal_with_an_unknown_key_or_a_bad_value_is_a_400_naming_it_and_withdraws_nothing(
        app: Flask, staff: FlaskClient, runner: FlaskCliRunner, tmp_path, body, field):
    write_csv(tmp_path / "run.csv", [card_row(i) for i in range(1, 4)])
    assert cli(runner, "import", str(tmp_path / "run.csv")).exit_code == 0
    r = staff.post("/api/v1/sorting/withdrawals", json=body)
    assert r.status_code == 400, r.get_data(as_text=True)
    assert field in r.get_json()["error"]["message"]
    assert all(staff.get(f"/api/v1/cards/BLK000000{i}").get_json()["state"] != "WITHDRAWN" for i in range(1, 4))


@pytest.mark.parametrize("value", [[1, 2], "BLK0000001", [""], ["BLK 1"]])
def test_nomor_blanko_must_be_a_list_of_serials(staff: FlaskClient, value):
    r = staff.post("/api/v1/sorting/damaged", json={"nomor_blanko": value, "reason": "tergores"})
    assert r.status_code == 400 and "nomor_blanko" in r.get_json()["error"]["message"]


def test_malformed_bodies_are_400s_never_500s(staff: FlaskClient):
    deep = "[" * 1000 + "]" * 1000
    for raw in (deep, '{"nomor_blanko": ["A"], "reason": NaN}', "\x00", '{"a": 1', "[]", "null"):
        r = staff.post("/api/v1/sorting/damaged", data=raw, content_type="application/json")
        assert r.status_code == 400, (raw[:20], r.status_code)
        assert r.get_json()["error"]["message"]
    r = staff.post("/api/v1/sorting/damaged", data="nomor_blanko=A", content_type="text/plain")
    assert r.status_code == 415
    r = staff.post("/api/v1/sorting/damaged", data=b'{"a": "\xff"}', content_type="application/json")
    assert r.status_code == 400


def test_query_parameters_are_checked_by_the_schema(staff: FlaskClient):
    assert staff.get("/api/v1/manifests?status=DRAFT").status_code == 200
    r = staff.get("/api/v1/manifests?status=NOPE")
    assert r.status_code == 400 and "status" in r.get_json()["error"]["message"]
    r = staff.get("/api/v1/manifests?statuz=DRAFT")
    assert r.status_code == 400 and "statuz" in r.get_json()["error"]["message"]
    r = staff.get("/api/v1/manifests/preview?max_items=99999999999999999999")
    assert r.status_code == 400 and "max_items" in r.get_json()["error"]["message"]
    r = staff.get("/api/v1/report?x=1")
    assert r.status_code == 400 and "x" in r.get_json()["error"]["message"]


def _token(runner: FlaskCliRunner, username: str) -> str:
    result = cli(runner, "tokens", "create", username, "--name", "uji")
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1]


def test_a_token_acts_as_its_account_without_csrf_or_session(app: Flask, runner: FlaskCliRunner):
    app.config["WTF_CSRF_ENABLED"] = True  # as in production: a session POST needs a CSRF token, a token does not
    make_user(app, "skrip", Role.STAFF)
    token = _token(runner, "skrip")
    client = app.test_client()
    auth = {"Authorization": f"Bearer {token}"}
    r = client.get("/api/v1/report", headers=auth)
    assert r.status_code == 200 and "printed" in r.get_json()
    assert "Set-Cookie" not in r.headers  # no session is opened
    r = client.post("/api/v1/sorting/damaged", json={"nomor_blanko": ["X1"], "reason": "tergores"}, headers=auth)
    assert r.status_code == 422  # reached the operation (unknown serial), no CSRF refusal
    assert client.get("/api/v1/report").status_code == 401  # nothing was remembered
    assert client.get("/api/v1/report", headers={"Authorization": "Bearer antar_wrong"}).status_code == 401
    assert client.get("/api/v1/report", headers={"Authorization": "Basic eDp5"}).status_code == 401
    listed = cli(runner, "tokens", "list")
    assert token[:12] in listed.output and token not in listed.output
    assert cli(runner, "tokens", "revoke", "1").exit_code == 0
    assert client.get("/api/v1/report", headers=auth).status_code == 401


def test_an_officer_token_has_the_officer_scope(app: Flask, runner: FlaskCliRunner):
    make_user(app, "petugas", Role.OFFICER, kelurahan="32.16.06.1001")
    token = _token(runner, "petugas")
    client = app.test_client()
    auth = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/kelurahan/batches", headers=auth).status_code == 200
    assert client.get("/api/v1/report", headers=auth).status_code == 403


def test_the_courier_token_reaches_only_the_courier_endpoints(app: Flask, runner: FlaskCliRunner):
    make_user(app, "ptpos", Role.COURIER)
    token = _token(runner, "ptpos")
    client = app.test_client()
    auth = {"Authorization": f"Bearer {token}"}
    for path in ("/api/v1/report", "/api/v1/kelurahan/batches", "/api/v1/tracking/problems", "/", "/laporan"):
        assert client.get(path, headers=auth).status_code == 403, path
    r = client.post("/api/v1/courier/events", data="{}", headers=auth, content_type="application/json")
    assert r.status_code in (401, 503)  # its own endpoint: reached, and there the signature decides
    assert client.get("/api/openapi.json", headers=auth).status_code == 200


@pytest.mark.parametrize("query, named", [
    ("hal=%C2%B2", "hal"), ("hal=99999999999999999999", "hal"), ("hal=0", "hal"), ("status=%00", "status"),
    ("tugas=abc", "tugas"), ("kelurahan=32.16", "kelurahan"), ("halaman=2", "halaman"), ("hal=1&hal=2", "hal"),
])
def test_page_query_parameters_are_checked_by_the_same_schemas(staff: FlaskClient, query, named):
    for page in ("/manifest", "/pengembalian/berkas", "/lacak", "/alamat", "/tugas"):
        r = staff.get(f"{page}?{query}")
        assert r.status_code == 400, (page, query, r.status_code)
        assert named in r.get_data(as_text=True), (page, query)


def test_empty_filter_fields_and_known_parameters_pass(staff: FlaskClient):
    assert staff.get("/manifest?status=&hal=1").status_code == 200
    assert staff.get("/pengembalian/berkas?status=&kelurahan=").status_code == 200
    assert staff.get("/lacak?q=RB100000015ID").status_code == 200
