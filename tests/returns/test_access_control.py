"""An officer sees and changes only his own kelurahan: every route of the application, tried with the other
kelurahan's ids and numbers, answers 403 or 404, or (his own list pages) 200 with nothing of the other kelurahan.

The routes come from the application's URL map, so a route added later is tried too; a route whose parameters
this test cannot fill with the other kelurahan's values makes the test fail until it is taught them.
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field

import pytest
from helpers import card_row, cli, login, make_nik, make_user, write_csv
from sqlalchemy import func, select
from werkzeug.routing import AnyConverter, Rule

from app.cards import Actor, Card, CardHistory
from app.db import unit_of_work
from app.models import Office, Role, User
from manifests.intake.models import PrintRun
from manifests.models import Manifest, ManifestItem
from manifests.sorting import withdraw_area
from returns import service
from returns.models import Disposition, FormSubmission, HandoverBatch, HandoverItem
from returns.service import Scope

A = "32.16.06.1001"  # Jatimulya, Kec. Tambun Selatan
B = "32.16.01.1007"  # Setia Asih, Kec. Tarumajaya
STAFF = Actor("staf")

def make_officer(app, username: str, kelurahan: str) -> None:
    make_user(app, username, Role.OFFICER, kelurahan=kelurahan)

# Not scoped by the session: nothing of a kelurahan to protect, or no session at all.
NOT_SESSION_SCOPED = {
    "static": "the stylesheet",
    "public.static": "the citizens' page stylesheet",
    "auth.login": "the login form itself",
    "auth.logout": "ends the session this test needs",
    "public.status_page": "citizens' status page: NIK and a second factor, no login",
    "public.status_api": "citizens' status page: NIK and a second factor, no login",
    "webhook.courier_events": "the courier's signed webhook, no session",
    "health.healthz": "the process is up: no data at all",
    "health.readyz": "database and Redis reachable: no data at all",
    "auth.change_password": "the user's own password: no one else's data",
    "api.openapi_json": "the API's description: public, no data",
    "notify_webhook.reports": "the message gateway's signed delivery reports, no session",
    "notify_public.opt_out_page": "citizens' opt-out from messages: a signed card token, no login",
    "kelurahan.static": "the officer's app: script, style, icons (no data)",
    "kelurahan.service_worker": "the officer's app: its service worker (no data)",
    "kelurahan.web_manifest": "the officer's app: its web manifest (no data)",
}
# The officer's own list pages: 200, with his kelurahan's cards and none of another's.
OWN_LIST_PAGES = {"main.index", "kelurahan.home", "kelurahan.reminders", "kelurahan.cards_csv",
                  "kelurahan.batches_api", "kelurahan.cards_api", "kelurahan.session_api", "kelurahan.offline_api",
                  "kelurahan.conflicts_api"}


@dataclass
class Kelurahan:
    code: str
    batch_ids: list[int] = field(default_factory=list)
    item_ids: list[int] = field(default_factory=list)
    card_ids: list[int] = field(default_factory=list)
    blankos: list[str] = field(default_factory=list)
    run_ids: list[int] = field(default_factory=list)
    manifest_ids: list[int] = field(default_factory=list)
    tracking_numbers: list[str] = field(default_factory=list)
    user_ids: list[int] = field(default_factory=list)  # the kelurahan's officers
    secrets: set[str] = field(default_factory=set)  # what must never reach another kelurahan's officer


def setia_asih_row(i: int, rw: str = "005") -> dict[str, str]:
    return card_row(i, nik=make_nik(i, kec="321601"), nama=f"NYI SETIA ASIH {i}", nomor_blanko=f"BLS{i:07d}",
                    alamat=f"JL. PANTAI MAKMUR GANG {i}", rw=rw, kelurahan="SETIA ASIH", kecamatan="TARUMAJAYA",
                    kode_pos="17215")


def batch_of(app, office_code: str, kelurahan: str, *, receive: bool, withdraw_rws: list[str] | None) -> int:
    with app.app_context(), unit_of_work() as s:
        office = s.scalar(select(Office).where(Office.code == office_code))
        if withdraw_rws is not None:
            withdraw_area(s, office, kelurahan, withdraw_rws, "uji akses", STAFF)
        (batch,) = service.build_batches(s, office, STAFF, [kelurahan])
        service.dispatch(s, Scope(office), batch.id, STAFF)
        batch_id = batch.id
    if receive:
        with app.app_context(), unit_of_work() as s:
            office = s.scalar(select(Office).where(Office.code == office_code))
            b = service.get_batch(s, Scope(office, kelurahan), batch_id)
            service.confirm_receipt(s, Scope(office, kelurahan), batch_id, b.item_count, [], Actor("petugas"))
    return batch_id


@pytest.fixture
def two_kelurahan(app, runner, tmp_path) -> tuple[Kelurahan, Kelurahan]:
    """Jatimulya: a received batch. Setia Asih: a received batch (one card handed over), a batch on its way, and
    cards on a finalized courier manifest (with tracking numbers)."""
    a_rows = [card_row(i) for i in range(1, 4)]
    assert cli(runner, "import", str(write_csv(tmp_path / "a.csv", a_rows))).exit_code == 0
    b_rows = [setia_asih_row(i) for i in range(101, 104)] + [setia_asih_row(i, rw="007") for i in (111, 112)]
    assert cli(runner, "import", str(write_csv(tmp_path / "b.csv", b_rows))).exit_code == 0
    a_batch = batch_of(app, "32.16", A, receive=True, withdraw_rws=[])
    b_received = batch_of(app, "32.16", B, receive=True, withdraw_rws=["005"])
    with app.app_context(), unit_of_work() as s:
        office = s.scalar(select(Office))
        item = s.scalar(select(HandoverItem).where(HandoverItem.batch_id == b_received).order_by(HandoverItem.id))
        service.record_disposition(s, Scope(office, B), item.id, Disposition.HOLDER,
                                   {"receiver_name": "NYI SETIA ASIH 101", "id_checked": True}, Actor("petugas-b"),
                                   deadline_days=30)
    more = [setia_asih_row(i) for i in (121, 122)]  # withdrawn at intake: the area is withdrawn
    assert cli(runner, "import", str(write_csv(tmp_path / "b2.csv", more))).exit_code == 0
    b_on_the_way = batch_of(app, "32.16", B, receive=False, withdraw_rws=None)
    assert cli(runner, "manifests", "build", "--finalize").exit_code == 0  # RW 007 of Setia Asih

    with app.app_context(), unit_of_work() as s:
        out = []
        for code, batch_ids in ((A, [a_batch]), (B, [b_received, b_on_the_way])):
            k = Kelurahan(code, batch_ids=batch_ids)
            cards = list(s.scalars(select(Card).where(Card.kelurahan_code == code).order_by(Card.id)))
            k.card_ids = [c.id for c in cards]
            k.blankos = [c.nomor_blanko for c in cards]
            k.run_ids = sorted({c.print_run_id for c in cards})
            k.item_ids = list(s.scalars(select(HandoverItem.id).where(HandoverItem.batch_id.in_(batch_ids))
                                        .order_by(HandoverItem.id)))
            items = list(s.execute(select(ManifestItem.manifest_id, ManifestItem.tracking_number)
                                   .where(ManifestItem.card_id.in_(k.card_ids))).all())
            k.manifest_ids = sorted({m for m, _ in items})
            k.tracking_numbers = [t for _, t in items if t]
            numbers = s.scalars(select(HandoverBatch.number).where(HandoverBatch.id.in_(batch_ids)))
            manifests = s.scalars(select(Manifest.number).where(Manifest.id.in_(k.manifest_ids or [0])))
            k.secrets = ({c.nama for c in cards} | {c.nik for c in cards} | {c.alamat for c in cards}
                         | set(k.blankos) | set(k.tracking_numbers) | set(numbers) | set(manifests))
            out.append(k)
    a, b = out
    assert len(b.batch_ids) == 2 and len(b.item_ids) == 5 and b.manifest_ids and len(b.tracking_numbers) == 2
    assert len(a.item_ids) == 3 and not a.secrets & b.secrets
    b.secrets.add("Setia Asih")
    return a, b


def parameter_values(rule: Rule, b: Kelurahan) -> list[dict[str, object]]:
    """Every combination of kelurahan B's values for the rule's parameters."""
    by_name: dict[str, list[object]] = {
        "batch_id": b.batch_ids, "item_id": b.item_ids, "card_id": b.card_ids, "manifest_id": b.manifest_ids,
        "run_id": b.run_ids, "nomor_blanko": b.blankos, "blanko": b.blankos,
        "tracking_number": b.tracking_numbers, "kelurahan_code": [b.code], "kode_wilayah": [b.code],
        # jobs and old-card destructions are staff-only: an officer is refused whatever the id
        "user_id": b.user_ids, "job_id": [1], "destruction_id": [1], "conflict_id": [1],
    }
    choices = []
    for name in sorted(rule.arguments):
        converter = rule._converters[name]
        if isinstance(converter, AnyConverter):
            choices.append([(name, item) for item in sorted(converter.items)])
        elif name in by_name:
            choices.append([(name, value) for value in by_name[name]])
        else:
            pytest.fail(f"{rule.rule} ({rule.endpoint}): no value of kelurahan B for parameter '{name}'; "
                        "teach parameter_values() about it")
    return [dict(combo) for combo in itertools.product(*choices)]


def plausible_body(path: str, b: Kelurahan) -> dict[str, object]:
    """A body that would succeed if the route forgot the scope: the right count, a real disposition."""
    missing = b.blankos[-1]
    if path.startswith("/api/"):
        # The API refuses unknown keys (400 before any scope check), so each officer operation gets exactly its own
        # body; the staff operations answer 403 to an officer whatever the body.
        if path.endswith("/receipt"):
            body: dict[str, object] = {"counted": 1, "missing": [missing]}
        elif path.endswith("/disposition"):
            body = {"disposition": "DECEASED", "note": "uji akses"}
        else:
            body = {"nomor_blanko": [missing], "reason": "uji akses"}
        return {"json": body, "headers": {"Idempotency-Key": uuid.uuid4().hex}}
    return {"data": {"token": uuid.uuid4().hex, "counted": "1", "missing": missing, "disposition": "DECEASED",
                     "deceased_note": "uji akses", "blanko": missing, "reason": "uji akses", "note": "uji akses"}}


def key(rule: Rule) -> tuple[str, str, frozenset[str]]:
    return rule.endpoint, rule.rule, frozenset(rule.methods or ())


def snapshot(app, k: Kelurahan) -> tuple:
    with app.app_context(), unit_of_work() as s:
        return (
            sorted(s.execute(select(Card.id, Card.state, Card.kelurahan_code).where(Card.id.in_(k.card_ids))).all()),
            sorted(s.execute(select(HandoverBatch.id, HandoverBatch.status, HandoverBatch.received_at)
                             .where(HandoverBatch.id.in_(k.batch_ids))).all()),
            sorted(s.execute(select(HandoverItem.id, HandoverItem.disposition, HandoverItem.missing)
                             .where(HandoverItem.id.in_(k.item_ids))).all()),
            s.scalar(select(func.count()).select_from(CardHistory).where(CardHistory.card_id.in_(k.card_ids))),
            s.scalar(select(func.count()).select_from(FormSubmission)),
            s.scalar(select(func.count()).select_from(PrintRun)),
            sorted(s.execute(select(User.id, User.active, User.role, User.kelurahan_code)
                             .where(User.id.in_(k.user_ids))).all()),
        )


def test_officer_reaches_nothing_of_another_kelurahan_on_any_route(app, client, two_kelurahan):
    a, b = two_kelurahan
    make_officer(app, "petugas-b", B)
    other = app.test_client()
    login(other, "petugas-b")
    with app.app_context(), unit_of_work() as s:
        b.user_ids = list(s.scalars(select(User.id).where(User.kelurahan_code == B)))
    for batch_id in b.batch_ids:  # the values are real: B's own officer reaches them
        page = other.get(f"/kelurahan/berkas/{batch_id}")
        assert page.status_code == 200 and any(x in page.get_data(as_text=True) for x in b.blankos)

    make_officer(app, "petugas-a", A)
    login(client, "petugas-a")
    before = snapshot(app, b)
    rules = list(app.url_map.iter_rules())
    endpoints = {r.endpoint for r in rules}
    assert set(NOT_SESSION_SCOPED) <= endpoints, "a skipped endpoint no longer exists: update NOT_SESSION_SCOPED"
    assert OWN_LIST_PAGES <= endpoints
    checked, leaks, wrong = set(), [], []
    for rule in rules:
        if rule.endpoint in NOT_SESSION_SCOPED:
            continue
        for values in parameter_values(rule, b):
            _, path = rule.build(values)
            for method in sorted(rule.methods & {"GET", "POST"}):
                kwargs = plausible_body(path, b) if method == "POST" else {}
                response = client.open(path, method=method, **kwargs)
                body = response.get_data(as_text=True)
                leaks += [f"{method} {path}: {s!r}" for s in b.secrets if s in body]
                own = rule.endpoint in OWN_LIST_PAGES and method == "GET"
                if own and response.status_code != 200:
                    wrong.append(f"{method} {path} ({rule.endpoint}): {response.status_code}, not his own list")
                elif not own and response.status_code not in (403, 404):
                    wrong.append(f"{method} {path} ({rule.endpoint}): {response.status_code}")
        checked.add(key(rule))
    assert not leaks, "kelurahan B's data shown to A's officer:\n" + "\n".join(sorted(leaks))
    assert not wrong, "answers other than 403/404 (or 200 for his own lists):\n" + "\n".join(sorted(wrong))
    assert checked == {key(r) for r in rules if r.endpoint not in NOT_SESSION_SCOPED}
    assert snapshot(app, b) == before, "kelurahan B's data changed"
    # and the officer still works in his own kelurahan: his lists are not empty for want of data
    for url in ("/", "/kelurahan/kartu.csv", "/api/v1/kelurahan/cards", f"/kelurahan/berkas/{a.batch_ids[0]}"):
        own = client.get(url)
        assert own.status_code == 200 and a.blankos[0] in own.get_data(as_text=True), url
    # the bodies were plausible: sent by B's own officer, they count his batch in and record a card
    on_the_way, waiting = b.batch_ids[1], b.item_ids[1]
    path = f"/api/v1/kelurahan/batches/{on_the_way}/receipt"
    assert other.post(path, **plausible_body(path, b)).status_code == 200
    path = f"/kelurahan/kartu/{waiting}/disposisi"
    assert other.post(path, **plausible_body(path, b)).status_code == 302
    assert snapshot(app, b) != before
