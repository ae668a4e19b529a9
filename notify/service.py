"""Messages to citizens: the only code that writes notify's tables.

Decoupled from the domains it speaks for: delivery and returns know nothing of messages. A pass (`run_pass`) does

1. `scan`: read the tracking events and card history rows added since the last pass (a watermark per table, the
   last id seen) and make one message per (card, kind) for what a citizen should hear of: out for delivery, a
   failed attempt, waiting at a post office, at (or to be collected at) the kelurahan, a COD card on its way.
   A card without a usable number, an opted-out number, or news that is no longer true gets its row as
   `skipped` with the reason, once. The unique (card, kind) makes a repeated event or a second scan harmless.
2. `send_due`: send the queued messages whose time has come, one request each (notify.gateway), outside any
   transaction; every attempt and its outcome is recorded. Nothing goes out in quiet hours (21.00-07.00 WIB by
   default): such a message waits until they end. 429/5xx/timeouts are tried again later with exponential backoff
   and jitter, never sooner than `Retry-After`, at most ANTAR_NOTIFY_MAX_ATTEMPTS times; a `Retry-After` is waited
   for in full up to the message's whole retrying (ANTAR_NOTIFY_MAX_ATTEMPTS x ANTAR_NOTIFY_BACKOFF_MAX), and a
   longer one ends the message as failed (`gave_up`, with the wait the gateway asked for; staff may queue it again),
   so that the retrying stays bounded; 400/422 fail; 422 no_whatsapp
   to a WhatsApp message goes again as SMS at once, to an SMS it fails like any 422 (never retried); 401/403 fail
   and stop sending until the token changes (staff are told on /pesan), so that one wrong token does not burn the
   whole queue.

The watermark rescans a margin of ids behind it (REPLAY_IDS): on PostgreSQL a transaction that started earlier may
commit its rows (lower ids) after a later one was already scanned; the margin catches those, the unique (card,
kind) keeps them from counting twice. A tracking event held for an item the courier had not taken yet may become
`applied` later: the watermark stays below it until it is decided.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import math
import random
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from app.cards import STATE_LABELS, Card, CardHistory, CardState
from app.db import engine, unit_of_work, utcnow
from app.models import Office
from app.regions import office_regions
from delivery.models import TrackingEvent
from manifests.models import ManifestItem
from notify.gateway import GatewayAnswer, GatewayClient, Outcome, message_id_of
from notify.models import NotifyAttempt, NotifyCursor, NotifyMessage, NotifyOptOut, NotifyReport
from notify.numbers import e164, phone_hash
from notify.quiet import QuietHours
from notify.texts import Facts, Kind, MessageStatus, compose

log = logging.getLogger("antar.notify")
CHANNELS = ("whatsapp", "sms")
REPLAY_IDS = 5000
SCAN_BATCH = 20_000
SEND_BATCH = 500  # messages claimed per round of sending
MAX_ROUNDS = 200  # rounds of scanning, and of sending, in one pass
LEASE = dt.timedelta(minutes=2)
SQLITE_CONCURRENCY = 2
# News that is only worth telling while it is true today: not sent when we learn of it (or could send it) later.
TIMELY: frozenset[Kind] = frozenset({Kind.OUT_FOR_DELIVERY, Kind.COD_COMING, Kind.DELIVERY_FAILED})
MAX_AGE = dt.timedelta(hours=24)
# The card states in which a message of the kind is still true; otherwise it is skipped, not sent.
STILL_TRUE: dict[Kind, frozenset[CardState]] = {
    Kind.OUT_FOR_DELIVERY: frozenset({CardState.WITH_COURIER, CardState.IN_TRANSIT}),
    Kind.DELIVERY_FAILED: frozenset({CardState.WITH_COURIER, CardState.IN_TRANSIT}),
    Kind.COD_COMING: frozenset({CardState.WITH_COURIER, CardState.IN_TRANSIT}),
    Kind.AT_POST_OFFICE: frozenset({CardState.AT_POST_OFFICE}),
    Kind.AT_KELURAHAN: frozenset({CardState.FOR_COLLECTION, CardState.BATCHED, CardState.SENT_TO_KELURAHAN,
                                  CardState.AT_KELURAHAN}),
}
TRACKING_KINDS: dict[str, Kind] = {"OUT_FOR_DELIVERY": Kind.OUT_FOR_DELIVERY,
                                   "DELIVERY_FAILED": Kind.DELIVERY_FAILED,
                                   "AVAILABLE_FOR_PICKUP": Kind.AT_POST_OFFICE}
HISTORY_STATES = (CardState.AT_KELURAHAN, CardState.FOR_COLLECTION, CardState.WITH_COURIER)
# A card reaches its kelurahan from a batch (or turns up after being reported missing); a staff correction back to
# "waiting at the kelurahan" after a disposition is not news for the citizen.
ARRIVED_FROM = frozenset({CardState.SENT_TO_KELURAHAN, CardState.MISSING})

NO_NUMBER = "Tidak dikirim: tidak ada nomor HP yang dapat dihubungi"
OPTED_OUT = "Tidak dikirim: pemilik nomor memilih tidak menerima pesan"
TOO_OLD = "Tidak dikirim: kabar ini sudah lewat lebih dari 24 jam"


@dataclass(frozen=True)
class Settings:
    base_url: str | None
    token: str
    channel: str
    quiet: QuietHours | None
    max_attempts: int = 8
    backoff: float = 30.0
    backoff_max: float = 3600.0
    concurrency: int = 8
    connect_timeout: float = 5.0
    read_timeout: float = 15.0

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        channel = (config.get("ANTAR_NOTIFY_CHANNEL") or "whatsapp").strip().lower()
        if channel not in CHANNELS:
            raise ValueError(f"ANTAR_NOTIFY_CHANNEL harus whatsapp atau sms, bukan {channel!r}")
        return cls(base_url=config.get("ANTAR_NOTIFY_BASE_URL") or None,
                   token=config.get("ANTAR_NOTIFY_API_TOKEN") or "", channel=channel,
                   quiet=QuietHours.parse(config.get("ANTAR_NOTIFY_QUIET_HOURS", "21:00-07:00")),
                   max_attempts=int(config.get("ANTAR_NOTIFY_MAX_ATTEMPTS", 8)),
                   backoff=float(config.get("ANTAR_NOTIFY_BACKOFF", 30.0)),
                   backoff_max=float(config.get("ANTAR_NOTIFY_BACKOFF_MAX", 3600.0)),
                   concurrency=_concurrency(config.get("ANTAR_NOTIFY_CONCURRENCY", 8)))

    @property
    def retry_after_max(self) -> float:
        """The longest Retry-After waited for: the message's whole retrying (its attempts, each waiting up to the
        backoff's cap); a longer one fails the message."""
        return self.max_attempts * self.backoff_max

    @property
    def configured(self) -> bool:
        return bool(self.base_url)

    @property
    def token_fingerprint(self) -> str:
        return hashlib.sha256(self.token.encode()).hexdigest()[:16]

    def client(self) -> GatewayClient:
        return GatewayClient(self.base_url or "", self.token, connect_timeout=self.connect_timeout,
                             read_timeout=self.read_timeout)

    def release(self, moment: dt.datetime) -> dt.datetime:
        return self.quiet.release(moment) if self.quiet else moment


# --- cursors -----------------------------------------------------------------------------------------------


def _concurrency(value: Any) -> int:
    try:
        n = int(value)
    except (TypeError, ValueError):
        n = 0
    if not 1 <= n <= 64:
        raise ValueError(f"ANTAR_NOTIFY_CONCURRENCY harus bilangan 1 sampai 64, bukan {value!r}")
    return n


def _cursor(session: Session, name: str) -> NotifyCursor | None:
    return session.get(NotifyCursor, name)


def _cursor_value(session: Session, name: str) -> int:
    row = _cursor(session, name)
    return row.value if row else 0


def _set_cursor(session: Session, name: str, value: int, now: dt.datetime) -> None:
    row = _cursor(session, name)
    if row is None:
        session.add(NotifyCursor(name=name, value=value, updated_at=now))
    elif row.value != value:
        row.value, row.updated_at = value, now


# --- scanning: what happened -> messages -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Candidate:
    kind: Kind
    card_id: int
    source: str
    event_at: dt.datetime
    reference: str | None = None  # tracking number (None: the card's blanko number)
    reason_code: str | None = None
    post_office: str | None = None
    item_id: int | None = None
    for_collection: bool = False


def scan(session: Session, settings: Settings, *, now: dt.datetime | None = None) -> Counter[str]:
    """Make the messages for what happened since the last scan (at most SCAN_BATCH events and history rows each);
    returns counts by status. Does not commit."""
    return scan_round(session, settings, now=now)[0]


def scan_round(session: Session, settings: Settings, *,
               now: dt.datetime | None = None) -> tuple[Counter[str], bool]:
    """`scan`, and whether there is more to read (a full batch was read)."""
    now = now or utcnow()
    tracking, more_tracking = _from_tracking(session, now)
    history, more_history = _from_history(session, now)
    return create_messages(session, tracking + history, settings, now=now), more_tracking or more_history


def _from_tracking(session: Session, now: dt.datetime) -> tuple[list[Candidate], bool]:
    mark = _cursor_value(session, "tracking_event")
    top = session.scalar(select(func.max(TrackingEvent.id))) or 0
    rows = session.execute(
        select(TrackingEvent.id, TrackingEvent.status, TrackingEvent.result, TrackingEvent.occurred_at,
               TrackingEvent.reason_code, TrackingEvent.post_office, TrackingEvent.tracking_number,
               TrackingEvent.item_id, ManifestItem.card_id,
               or_(ManifestItem.cod_amount.is_not(None), ManifestItem.collect_old_card, Card.cod_amount.is_not(None),
                   Card.collect_old_card).label("cod"))
        .join(ManifestItem, ManifestItem.id == TrackingEvent.item_id)
        .join(Card, Card.id == ManifestItem.card_id)
        .where(TrackingEvent.id > mark - REPLAY_IDS, TrackingEvent.id <= top,
               TrackingEvent.status.in_(list(TRACKING_KINDS)))
        .order_by(TrackingEvent.id).limit(SCAN_BATCH)).all()
    new_mark = rows[-1].id if len(rows) == SCAN_BATCH else top
    held = [r.id for r in rows if r.result == "held" and r.id > mark]
    if held:
        new_mark = min(new_mark, min(held) - 1)
    _set_cursor(session, "tracking_event", max(mark, new_mark), now)
    out = []
    for r in rows:
        if r.result != "applied":
            continue
        source = f"tracking_event:{r.id}"
        kind = TRACKING_KINDS[r.status]
        out.append(Candidate(kind, r.card_id, source, r.occurred_at, r.tracking_number, r.reason_code,
                             r.post_office, r.item_id))
        if kind is Kind.OUT_FOR_DELIVERY and r.cod:  # a COD card the handover did not announce (before notify ran)
            out.append(Candidate(Kind.COD_COMING, r.card_id, source, r.occurred_at, r.tracking_number,
                                 item_id=r.item_id))
    return out, len(rows) == SCAN_BATCH


def _from_history(session: Session, now: dt.datetime) -> tuple[list[Candidate], bool]:
    mark = _cursor_value(session, "card_history")
    top = session.scalar(select(func.max(CardHistory.id))) or 0
    rows = session.execute(
        select(CardHistory.id, CardHistory.card_id, CardHistory.from_state, CardHistory.to_state, CardHistory.at)
        .join(Card, Card.id == CardHistory.card_id)
        .where(CardHistory.id > mark - REPLAY_IDS, CardHistory.id <= top,
               CardHistory.to_state.in_(HISTORY_STATES),
               # handed to the courier: news only for a delivery with a fee or the old card to prepare
               or_(CardHistory.to_state != CardState.WITH_COURIER, Card.cod_amount.is_not(None),
                   Card.collect_old_card))
        .order_by(CardHistory.id).limit(SCAN_BATCH)).all()
    _set_cursor(session, "card_history", max(mark, rows[-1].id if len(rows) == SCAN_BATCH else top), now)
    out = []
    for r in rows:
        source = f"card_history:{r.id}"
        if r.to_state is CardState.WITH_COURIER:
            out.append(Candidate(Kind.COD_COMING, r.card_id, source, r.at))
        elif r.to_state is CardState.FOR_COLLECTION:
            out.append(Candidate(Kind.AT_KELURAHAN, r.card_id, source, r.at, for_collection=True))
        elif r.from_state in ARRIVED_FROM:
            out.append(Candidate(Kind.AT_KELURAHAN, r.card_id, source, r.at))
    return out, len(rows) == SCAN_BATCH


def create_messages(session: Session, candidates: Sequence[Candidate], settings: Settings, *,
                    now: dt.datetime | None = None) -> Counter[str]:
    """One message per (card, kind) not made before: queued, or skipped with the reason. Counts by status."""
    now = now or utcnow()
    counts: Counter[str] = Counter()
    wanted: dict[tuple[int, Kind], Candidate] = {}
    for c in candidates:
        wanted.setdefault((c.card_id, c.kind), c)
    if not wanted:
        return counts
    for chunk in _chunks(list(wanted), 2000):
        card_ids = sorted({card_id for card_id, _ in chunk})
        existing = {(r.card_id, r.kind) for r in session.execute(
            select(NotifyMessage.card_id, NotifyMessage.kind).where(NotifyMessage.card_id.in_(card_ids)))}
        todo = [wanted[key] for key in chunk if (key[0], str(key[1])) not in existing]
        if not todo:
            continue
        cards = _cards(session, {c.card_id for c in todo})
        items = _items(session, {c.item_id for c in todo if c.item_id}, {c.card_id for c in todo if not c.item_id})
        phones = {card_id: e164(card["no_hp"]) for card_id, card in cards.items()}
        hashes = {p: phone_hash(p) for p in phones.values() if p}
        refused = set(session.scalars(select(NotifyOptOut.phone_hash)
                                      .where(NotifyOptOut.phone_hash.in_(list(hashes.values())))))
        rows = []
        for c in todo:
            card = cards[c.card_id]
            item = items.get(c.item_id) if c.item_id else items.get(("card", c.card_id))
            cod = _cod(card, item)
            if c.kind is Kind.COD_COMING and not (cod[0] or cod[1]):
                continue  # an ordinary delivery: nothing to prepare
            phone = phones[c.card_id]
            facts = _facts(c, card, item, cod)
            status, error = MessageStatus.QUEUED, None
            if phone is None:
                status, error = MessageStatus.SKIPPED, NO_NUMBER
            elif hashes[phone] in refused:
                status, error = MessageStatus.SKIPPED, OPTED_OUT
            else:
                error = stale_reason(c.kind, card["state"], c.event_at, now)
                if error:
                    status = MessageStatus.SKIPPED
            send_after = settings.release(now) if status is MessageStatus.QUEUED else None
            rows.append({
                "office_id": card["office_id"], "card_id": c.card_id, "kind": str(c.kind), "status": str(status),
                "channel": settings.channel, "phone": phone, "text": compose(facts), "reference": facts.reference,
                "source": c.source, "event_at": c.event_at, "created_at": now, "send_after": send_after,
                "next_attempt_at": send_after, "attempts": 0, "status_at": now, "error": error})
        if rows:
            made = session.execute(_insert_new(session), rows).all()
            made_ids = {(card_id, kind) for card_id, kind in made}
            for row in rows:
                if (row["card_id"], row["kind"]) in made_ids:
                    counts[row["status"]] += 1
    return counts


def stale_reason(kind: Kind, state: CardState, event_at: dt.datetime, now: dt.datetime) -> str | None:
    """Why a message would no longer be true (and is not sent), or None."""
    if state not in STILL_TRUE[kind]:
        return f"Tidak dikirim: kartu sudah berstatus '{STATE_LABELS[state]}'"
    if kind in TIMELY and now - event_at > MAX_AGE:
        return TOO_OLD
    return None


def _insert_new(session: Session) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    table = NotifyMessage.__table__
    return (dialect_insert(table).on_conflict_do_nothing(index_elements=["card_id", "kind"])
            .returning(table.c.card_id, table.c.kind))


def _cards(session: Session, card_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    rows = session.execute(
        select(Card.id, Card.office_id, Card.no_hp, Card.state, Card.nomor_blanko, Card.kelurahan_code,
               Card.cod_amount, Card.collect_old_card, Office.code.label("office_code"),
               Office.name.label("office_name"))
        .join(Office, Office.id == Card.office_id).where(Card.id.in_(sorted(card_ids))))
    return {r.id: r._asdict() for r in rows}


def _items(session: Session, item_ids: Iterable[int], card_ids: Iterable[int]) -> dict[Any, dict[str, Any]]:
    """Manifest items by id, and the active item of each card in `card_ids` under ("card", card_id)."""
    columns = (ManifestItem.id, ManifestItem.card_id, ManifestItem.tracking_number, ManifestItem.cod_amount,
               ManifestItem.collect_old_card, ManifestItem.pickup_post_office, ManifestItem.pickup_name,
               ManifestItem.pickup_address, ManifestItem.pickup_until)
    out: dict[Any, dict[str, Any]] = {}
    ids, cards = sorted(set(item_ids)), sorted(set(card_ids))
    if ids:
        out.update({r.id: r._asdict() for r in session.execute(select(*columns).where(ManifestItem.id.in_(ids)))})
    if cards:
        query = select(*columns).where(ManifestItem.card_id.in_(cards), ManifestItem.active)
        out.update({("card", r.card_id): r._asdict() for r in session.execute(query)})
    return out


def _cod(card: Mapping[str, Any], item: Mapping[str, Any] | None) -> tuple[int | None, bool]:
    """The fee and the old-card rule of this delivery: as the item carried them to the courier, else the card's."""
    amount = item["cod_amount"] if item and item["cod_amount"] is not None else card["cod_amount"]
    return amount, bool((item and item["collect_old_card"]) or card["collect_old_card"])


def _facts(c: Candidate, card: Mapping[str, Any], item: Mapping[str, Any] | None,
           cod: tuple[int | None, bool]) -> Facts:
    reference = c.reference or (item and item["tracking_number"]) or card["nomor_blanko"]
    if c.kind is Kind.AT_KELURAHAN:
        reference = card["nomor_blanko"]  # what the kelurahan officer finds the card by
    kel = None
    if c.kind is Kind.AT_KELURAHAN and card["kelurahan_code"]:
        try:
            kel = office_regions(card["office_code"]).kelurahan.get(card["kelurahan_code"])
        except ValueError:
            kel = None
    return Facts(
        kind=c.kind, office_name=card["office_name"], reference=reference, cod_amount=cod[0],
        collect_old_card=cod[1], reason_code=c.reason_code,
        pickup_name=item and item["pickup_name"], pickup_address=item and item["pickup_address"],
        pickup_until=item and item["pickup_until"], post_office=(item and item["pickup_post_office"]) or c.post_office,
        kelurahan_name=kel.name if kel else None, kelurahan_kind=kel.kind if kel else "kelurahan",
        kecamatan_name=kel.kecamatan_name if kel else None, for_collection=c.for_collection)


def _chunks(seq: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for i in range(0, len(seq), size):
        yield seq[i:i + size]


# --- sending -----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Prepared:
    id: int
    phone: str
    channel: str
    text: str
    reference: str


def due_ids(session: Session, now: dt.datetime, limit: int = 500) -> list[int]:
    return list(session.scalars(
        select(NotifyMessage.id)
        .where(NotifyMessage.status == MessageStatus.QUEUED, NotifyMessage.next_attempt_at <= now,
               or_(NotifyMessage.lease_until.is_(None), NotifyMessage.lease_until < now))
        .order_by(NotifyMessage.next_attempt_at, NotifyMessage.id).limit(limit)))


def blocked_since(session: Session, settings: Settings) -> dt.datetime | None:
    """When the gateway refused the configured token (401/403); None when it has not (or the token changed)."""
    row = _cursor(session, f"blocked:{settings.token_fingerprint}")
    return row.updated_at if row else None


def unblock(session: Session) -> int:
    return session.execute(delete(NotifyCursor).where(NotifyCursor.name.like("blocked:%"))).rowcount or 0


def send_due(settings: Settings, *, limit: int = 500, client: GatewayClient | None = None,
             progress: Callable[[Counter[str]], None] | None = None) -> Counter[str]:
    """Send what is due, one request per message, `settings.concurrency` requests at a time (each sender thread with
    its own HTTP connection; a given `client` is used alone, one request at a time); counts of what came of it (and
    `blocked`/`not_configured`)."""
    counts: Counter[str] = Counter()
    if not settings.configured:
        counts["not_configured"] += 1
        return counts
    with unit_of_work() as session:
        if blocked_since(session, settings):
            counts["blocked"] += 1
            return counts
        ids = due_ids(session, utcnow(), limit)
    if not ids:
        return counts
    stop = threading.Event()
    lock = threading.Lock()
    clients: list[GatewayClient] = []
    local = threading.local()

    def client_here() -> GatewayClient:
        if client is not None:
            return client
        if not hasattr(local, "client"):
            local.client = settings.client()
            with lock:
                clients.append(local.client)
        return local.client

    app = current_app._get_current_object()

    def one(message_id: int) -> None:
        if stop.is_set():
            return
        with app.app_context():  # a sender thread's own context: its sessions, the same app
            try:
                outcome = _send_one(message_id, settings, client_here())
            except OperationalError as exc:
                # The database was busy (SQLite's one writer) or went away for a moment: this message keeps its
                # lease until it runs out and is sent again by a later pass, under the same Idempotency-Key, so
                # the gateway answers a repeat with its first answer and nothing goes out twice.
                log.warning("message %s: not recorded now (%s); a later pass takes it up", message_id,
                            type(exc.orig).__name__ if exc.orig else exc)
                outcome = Counter({"retry_later": 1})
            with lock:
                counts.update(outcome)
                if progress:
                    progress(counts)
                if outcome.get("blocked"):
                    stop.set()

    workers = 1 if client is not None else max(1, min(settings.concurrency, len(ids)))
    if engine().dialect.name == "sqlite":
        workers = min(workers, SQLITE_CONCURRENCY)  # one writer at a time: more threads only wait for it
    try:
        # The first message goes alone: a refused token (or a gateway that is down) is found on one message, not on
        # `workers` at once. Requests already in flight when a refusal comes back still end as the gateway says.
        one(ids[0])
        if workers == 1:
            for message_id in ids[1:]:
                one(message_id)
        else:
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="notify-send") as pool:
                for future in [pool.submit(one, message_id) for message_id in ids[1:]]:
                    future.result()
    finally:
        for c in clients:
            c.close()
    return +counts


def _send_one(message_id: int, settings: Settings, client: GatewayClient) -> Counter[str]:
    """Claim one message, send it (WhatsApp, then SMS where the number has no WhatsApp), record what came of it."""
    counts: Counter[str] = Counter()
    prepared, skipped = _claim(message_id, settings)
    if prepared is None:
        if skipped:
            counts[skipped] += 1
        return counts
    answer = client.send(prepared.id, prepared.phone, prepared.channel, prepared.text, prepared.reference)
    if answer.outcome is Outcome.NO_WHATSAPP and prepared.channel != "sms":
        _record(message_id, prepared.channel, answer, settings)
        answer = client.send(prepared.id, prepared.phone, "sms", prepared.text, prepared.reference)
        prepared = Prepared(prepared.id, prepared.phone, "sms", prepared.text, prepared.reference)
        counts["sms_fallback"] += 1
    counts[_record(message_id, prepared.channel, answer, settings)] += 1
    if answer.outcome is Outcome.CREDENTIALS:
        log.error("message gateway refused our credentials (HTTP %s): sending stops until "
                  "ANTAR_NOTIFY_API_TOKEN changes", answer.http_status)
        with unit_of_work() as session:
            _set_cursor(session, f"blocked:{settings.token_fingerprint}", message_id, utcnow())
        counts["blocked"] += 1
    return counts


def _claim(message_id: int, settings: Settings) -> tuple[Prepared | None, str | None]:
    """Take the message for this sender (a lease) and check it is still to be sent now: (what to send, None), or
    (None, what became of it instead)."""
    with unit_of_work() as session:
        now = utcnow()
        claimed = session.execute(
            update(NotifyMessage)
            .where(NotifyMessage.id == message_id, NotifyMessage.status == MessageStatus.QUEUED,
                   NotifyMessage.next_attempt_at <= now,
                   or_(NotifyMessage.lease_until.is_(None), NotifyMessage.lease_until < now))
            .values(lease_until=now + LEASE)).rowcount
        if not claimed:
            return None, None
        m = session.get(NotifyMessage, message_id)
        state = session.scalar(select(Card.state).where(Card.id == m.card_id))
        reason = None
        if not m.phone:
            reason = NO_NUMBER
        elif is_opted_out(session, m.phone):
            reason = OPTED_OUT
        else:
            reason = stale_reason(Kind(m.kind), state, m.event_at, now)
        if reason:
            _finish(m, MessageStatus.SKIPPED, now, error=reason)
            return None, "skipped"
        if settings.quiet and settings.quiet.contains(now):
            m.next_attempt_at, m.lease_until = settings.quiet.release(now), None
            return None, "deferred"
        return Prepared(m.id, m.phone, m.channel, m.text, m.reference), None


def backoff_seconds(attempt: int, settings: Settings, retry_after: float | None = None,
                    rng: random.Random | None = None) -> float:
    """The wait before attempt `attempt + 1`: exponential, capped, with jitter (half to all of it), and never less
    than the gateway's Retry-After (never cut: `retry_after_too_long` says when it is more than we wait for)."""
    base = min(settings.backoff_max, settings.backoff * 2 ** max(attempt - 1, 0))
    wait = base * (0.5 + 0.5 * (rng or random).random())
    if retry_after is not None:
        wait = max(wait, retry_after)
    return wait


def retry_after_too_long(retry_after: float | None, settings: Settings) -> str | None:
    """Why a message is not tried again when the gateway asks us to wait longer than `settings.retry_after_max`
    (the message's whole retrying): trying sooner than asked would only be refused again, and waiting without limit
    would not be the bounded retrying the contract asks for. None when the wait asked for is within the limit."""
    if retry_after is None or retry_after <= settings.retry_after_max:
        return None
    asked = f"{math.ceil(retry_after)}" if math.isfinite(retry_after) else "tak terhingga"
    return (f"Gateway meminta menunggu {asked} detik sebelum mencoba lagi (Retry-After), lebih lama dari batas "
            f"{math.floor(settings.retry_after_max)} detik (ANTAR_NOTIFY_MAX_ATTEMPTS x ANTAR_NOTIFY_BACKOFF_MAX): "
            "tidak dicoba lagi; dapat diantrekan ulang")


def _record(message_id: int, channel: str, answer: GatewayAnswer, settings: Settings) -> str:
    """Record the attempt and what it means for the message; returns the message's status after it."""
    with unit_of_work() as session:
        now = utcnow()
        m = session.get(NotifyMessage, message_id)
        m.attempts += 1
        session.add(NotifyAttempt(message_id=m.id, number=m.attempts, at=now, channel=channel,
                                  http_status=answer.http_status, outcome=str(answer.outcome),
                                  error=(answer.error or None) and answer.error[:500]))
        m.lease_until = None
        if answer.ok:
            m.gateway_id = answer.gateway_id or m.gateway_id
            m.sent_at, m.next_attempt_at = now, None
            _finish(m, MessageStatus.SENT, now)
            _replay_reports(session, m)
        elif answer.outcome is Outcome.NO_WHATSAPP and channel != "sms":
            # Sent again as SMS at once by the same sender, which keeps holding it meanwhile.
            m.channel, m.next_attempt_at, m.error = "sms", now, "Nomor tidak memakai WhatsApp: dikirim sebagai SMS"
            m.lease_until = now + LEASE
        elif answer.outcome is Outcome.NO_WHATSAPP:
            # A 422 to an SMS: the message is wrong for the gateway (citizen-notifications.md), never tried again;
            # there is no channel left to fall back to.
            _finish(m, MessageStatus.FAILED, now, failure=str(Outcome.REJECTED),
                    error="Ditolak gateway: SMS pun dijawab 422 no_whatsapp, tidak ada saluran lain; tidak dicoba "
                          "lagi")
        elif answer.outcome in (Outcome.REJECTED, Outcome.CREDENTIALS):
            _finish(m, MessageStatus.FAILED, now, error=answer.error, failure=str(answer.outcome))
        elif m.attempts >= settings.max_attempts:
            _finish(m, MessageStatus.FAILED, now, failure="gave_up",
                    error=f"Gateway tidak dapat dihubungi setelah {m.attempts} percobaan: {answer.error}")
        elif too_long := retry_after_too_long(answer.retry_after, settings):
            _finish(m, MessageStatus.FAILED, now, failure="gave_up", error=f"{too_long} ({answer.error})")
        else:
            wait = backoff_seconds(m.attempts, settings, answer.retry_after)
            m.next_attempt_at = settings.release(now + dt.timedelta(seconds=wait))
            m.error = f"Percobaan {m.attempts} gagal ({answer.error}); dicoba lagi"
        return m.status


def _finish(m: NotifyMessage, status: MessageStatus, now: dt.datetime, *, error: str | None = None,
            failure: str | None = None) -> None:
    m.status, m.status_at, m.lease_until = str(status), now, None
    m.error = error[:500] if error else None
    m.failure = failure
    if status is not MessageStatus.QUEUED:
        m.next_attempt_at = None


def requeue_failed(session: Session, office_id: int | None = None) -> int:
    """Queue again the messages that failed for our side's reasons (token, gateway unreachable), not those the
    gateway refused as wrong; their attempts start over. Returns how many."""
    now = utcnow()
    query = (update(NotifyMessage)
             .where(NotifyMessage.status == MessageStatus.FAILED,
                    NotifyMessage.failure.in_(["credentials", "gave_up"]))
             .values(status=str(MessageStatus.QUEUED), status_at=now, next_attempt_at=now, attempts=0,
                     failure=None, error="Diantrekan ulang oleh staf"))
    if office_id is not None:
        query = query.where(NotifyMessage.office_id == office_id)
    return session.execute(query).rowcount or 0


# --- a pass, and the job that runs passes --------------------------------------------------------------------


def run_pass(settings: Settings, *, progress: Callable[[Counter[str]], None] | None = None,
             max_rounds: int | None = None) -> dict[str, Any]:
    """Scan until caught up, then send what is due until nothing more is (a courier batch of 30,000 events is one
    pass, not sixty), each bounded by `max_rounds` rounds (of SCAN_BATCH rows, of SEND_BATCH messages) so that a pass
    ends. Returns what was made and what was sent."""
    max_rounds = max_rounds or MAX_ROUNDS
    made: Counter[str] = Counter()
    for _ in range(max_rounds):
        with unit_of_work() as session:
            counts, more = scan_round(session, settings)
        made.update(counts)
        if not more:
            break
    sent: Counter[str] = Counter()
    for _ in range(max_rounds):
        counts = send_due(settings, limit=SEND_BATCH, progress=progress)
        sent.update(counts)
        if counts.get("blocked") or counts.get("not_configured") or _attempted(counts) < SEND_BATCH:
            break
    with unit_of_work() as session:
        waiting = session.scalar(select(func.min(NotifyMessage.next_attempt_at))
                                 .where(NotifyMessage.status == MessageStatus.QUEUED))
    return {"made": dict(made), "sent": dict(sent), "next_at": waiting}


def _attempted(counts: Counter[str]) -> int:
    """Messages a round of `send_due` took up (each ends in one of these); the other keys are remarks."""
    return sum(n for k, n in counts.items() if k not in ("sms_fallback", "blocked", "not_configured"))


def summary(result: Mapping[str, Any]) -> str:
    made, sent = result["made"], result["sent"]
    parts = [f"{sum(made.values())} pesan baru ({made.get('queued', 0)} antre, {made.get('skipped', 0)} tidak "
             "dikirim)"]
    if sent.get("not_configured"):
        parts.append("gateway belum diatur (ANTAR_NOTIFY_BASE_URL): tidak ada yang dikirim")
    elif sent.get("blocked"):
        parts.append("pengiriman berhenti: gateway menolak kredensial; periksa ANTAR_NOTIFY_API_TOKEN")
    delivered = sent.get(str(MessageStatus.SENT), 0)
    retry = sent.get(str(MessageStatus.QUEUED), 0)
    failed = sent.get(str(MessageStatus.FAILED), 0)
    parts.append(f"{delivered} terkirim ke gateway, {retry} dicoba lagi nanti, {failed} gagal")
    if sent.get("deferred"):
        parts.append(f"{sent['deferred']} menunggu akhir jam tenang")
    return "; ".join(parts) + "."


def claim_schedule(session: Session, at: dt.datetime, now: dt.datetime) -> bool:
    """Whether to schedule a send job for `at`: not when one is already scheduled at or before it (and not past),
    so that passes do not multiply into several chains of jobs."""
    stamp = int(at.timestamp())
    row = _cursor(session, "job_scheduled_at")
    if row is None:
        session.add(NotifyCursor(name="job_scheduled_at", value=stamp, updated_at=now))
        return True
    changed = session.execute(
        update(NotifyCursor).where(NotifyCursor.name == "job_scheduled_at",
                                   or_(NotifyCursor.value < int(now.timestamp()), NotifyCursor.value > stamp))
        .values(value=stamp, updated_at=now)).rowcount
    return bool(changed)


# --- opt-out -----------------------------------------------------------------------------------------------


def is_opted_out(session: Session, phone: str) -> bool:
    return session.scalar(select(NotifyOptOut.id).where(NotifyOptOut.phone_hash == phone_hash(phone))) is not None


def opt_out(session: Session, phone: str, source: str) -> tuple[bool, int]:
    """Record that this number wants no more messages (E.164); queued messages to it are skipped. Returns (new,
    how many queued messages were skipped)."""
    now = utcnow()
    digest = phone_hash(phone)
    new = session.scalar(select(NotifyOptOut.id).where(NotifyOptOut.phone_hash == digest)) is None
    if new:
        session.add(NotifyOptOut(phone_hash=digest, created_at=now, source=source[:120]))
        session.flush()
    skipped = session.execute(
        update(NotifyMessage)
        .where(NotifyMessage.phone == phone, NotifyMessage.status == MessageStatus.QUEUED,
               or_(NotifyMessage.lease_until.is_(None), NotifyMessage.lease_until < now))
        .values(status=str(MessageStatus.SKIPPED), status_at=now, next_attempt_at=None, error=OPTED_OUT)).rowcount
    return new, skipped or 0


def opt_in(session: Session, phone: str) -> bool:
    return bool(session.execute(delete(NotifyOptOut).where(NotifyOptOut.phone_hash == phone_hash(phone))).rowcount)


@dataclass(frozen=True, slots=True)
class OptOutResult:
    done: bool  # False: the card has no number we could message
    new: bool = False
    skipped: int = 0


def opt_out_card(session: Session, card_id: int, source: str) -> OptOutResult:
    """The citizens' page: no more messages to the number of this card."""
    phone = e164(session.scalar(select(Card.no_hp).where(Card.id == card_id)))
    if phone is None:
        return OptOutResult(False)
    new, skipped = opt_out(session, phone, source)
    return OptOutResult(True, new, skipped)


def card_can_opt_out(session: Session, card_id: int) -> tuple[bool, bool]:
    """(the card has a number we could message, that number already opted out)."""
    phone = e164(session.scalar(select(Card.no_hp).where(Card.id == card_id)))
    return (phone is not None, phone is not None and is_opted_out(session, phone))


# --- delivery reports --------------------------------------------------------------------------------------

_RANK = {MessageStatus.SENT: 1, MessageStatus.DELIVERED: 2, MessageStatus.READ: 3}


def apply_report(session: Session, webhook_id: str, data: Mapping[str, Any], occurred_at: dt.datetime | None,
                 *, now: dt.datetime | None = None) -> str:
    """Record one delivery report and apply it: `applied`, `ignored` (older news than we have), `unknown` (no such
    message yet: kept, and applied when our record of the send catches up), or `duplicate` (this webhook-id was
    recorded already). Does not commit."""
    now = now or utcnow()
    if session.scalar(select(NotifyReport.id).where(NotifyReport.webhook_id == webhook_id)) is not None:
        return "duplicate"
    gateway_message_id = str(data["message_id"])[:100]
    message = session.scalar(select(NotifyMessage).where(NotifyMessage.gateway_id == gateway_message_id))
    if message is None and (own := message_id_of(gateway_message_id)) is not None:
        message = session.get(NotifyMessage, own)
    report = NotifyReport(webhook_id=webhook_id[:100], received_at=now, message_id=message.id if message else None,
                          gateway_message_id=gateway_message_id, status=str(data["status"]), occurred_at=occurred_at,
                          error=(str(data["error"])[:500] if data.get("error") else None), result="unknown")
    if message is not None and message.status != MessageStatus.QUEUED:
        report.result = _apply_status(message, report, now)
    session.add(report)
    return report.result


def _apply_status(m: NotifyMessage, report: NotifyReport, now: dt.datetime) -> str:
    at = report.occurred_at or now
    status = MessageStatus(report.status)
    current = MessageStatus(m.status)
    if status is MessageStatus.FAILED:
        if current is not MessageStatus.SENT:
            return "ignored"
        _finish(m, MessageStatus.FAILED, at, failure="report",
                error=f"Gateway melaporkan gagal: {report.error or 'tanpa keterangan'}")
        return "applied"
    if current not in _RANK or _RANK[status] <= _RANK[current]:
        return "ignored"
    if status is MessageStatus.READ:
        m.read_at = at
    m.delivered_at = m.delivered_at or at
    m.status, m.status_at = str(status), at
    return "applied"


def _replay_reports(session: Session, m: NotifyMessage) -> None:
    """Reports that arrived before we recorded the send (the gateway is quick): apply them now, in order."""
    if not m.gateway_id:
        return
    # Two index probes (by the gateway's id among the unknown reports, and by ours), not one OR, which SQLite would
    # answer by reading every report ever received.
    waiting: dict[int, NotifyReport] = {}
    for mine in (NotifyReport.gateway_message_id == m.gateway_id, NotifyReport.message_id == m.id):
        waiting.update((r.id, r) for r in session.scalars(
            select(NotifyReport).where(NotifyReport.result == "unknown", mine)))
    for _, report in sorted(waiting.items()):
        report.message_id = m.id
        report.result = _apply_status(m, report, utcnow())
