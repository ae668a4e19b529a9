"""The card's one writer (app/cards.py): bulk moves check every row against the state machine, write one history
row per card, and a move the machine refuses is raised (strict) or reported to the caller, never dropped."""

from __future__ import annotations

import datetime as dt

import pytest
from helpers import card_row, cli, write_csv
from sqlalchemy import select, update
from tracking import SECRET, event, handed_over, post_events

from app.cards import Actor, Card, CardHistory, CardState, Move, TransitionError, apply_moves
from app.db import unit_of_work
from delivery.models import TrackingEvent

T0 = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)


def _import(runner, tmp_path, n: int = 3) -> None:
    assert cli(runner, "import", str(write_csv(tmp_path / "run.csv", [card_row(i) for i in range(1, n + 1)]))
               ).exit_code == 0


def _cards(session) -> list[Card]:
    return list(session.scalars(select(Card).order_by(Card.id)))


def test_strict_bulk_move_refuses_all_when_one_is_not_allowed(app, runner, tmp_path):
    _import(runner, tmp_path)
    with app.app_context():
        with pytest.raises(TransitionError), unit_of_work() as s:
            a, b, c = _cards(s)
            apply_moves(s, [Move(a.id, a.state, CardState.ON_MANIFEST, "uji"),
                            Move(b.id, b.state, CardState.DELIVERED, "uji: tidak boleh")], Actor("uji"))
        with unit_of_work() as s:
            assert {c.state for c in _cards(s)} == {CardState.READY}
            assert s.scalar(select(CardHistory.id).where(CardHistory.reason.like("uji%"))) is None


def test_lenient_bulk_move_reports_the_refused_and_records_the_rest(app, runner, tmp_path):
    _import(runner, tmp_path)
    with app.app_context():
        with unit_of_work() as s:
            a, b, c = _cards(s)
            refused = apply_moves(s, [Move(a.id, a.state, CardState.DAMAGED, "uji: rusak"),
                                      Move(b.id, b.state, CardState.DELIVERED, "uji: tidak boleh"),
                                      Move(c.id, c.state, CardState.WITHDRAWN, "uji: ditarik")], Actor("uji"),
                                  strict=False)
            assert [(r.move.card_id, r.move.target) for r in refused] == [(b.id, CardState.DELIVERED)]
            assert "Siap dikirim" in refused[0].message and "Terkirim" in refused[0].message
        with unit_of_work() as s:
            a, b, c = _cards(s)
            assert (a.state, b.state, c.state) == (CardState.DAMAGED, CardState.READY, CardState.WITHDRAWN)
            rows = s.execute(select(CardHistory.card_id, CardHistory.from_state, CardHistory.to_state,
                                    CardHistory.actor)
                             .where(CardHistory.reason.like("uji%")).order_by(CardHistory.card_id)).all()
            assert rows == [(a.id, CardState.READY, CardState.DAMAGED, "uji"),
                            (c.id, CardState.READY, CardState.WITHDRAWN, "uji")]


def test_an_event_the_card_cannot_follow_is_reported_not_dropped(app, runner, client, tmp_path):
    """A card that is somewhere its item's events cannot take it from (here: put straight into DAMAGED behind the
    lifecycle's back, as a restored backup or a hand-made repair might leave it): the item still follows its
    events, and the event says in the item's timeline that the card was not moved, instead of the move vanishing
    silently."""
    app.config["ANTAR_COURIER_WEBHOOK_SECRETS"] = SECRET
    number = handed_over(app, runner, tmp_path, [card_row(1)])[0]
    with app.app_context(), unit_of_work() as s:
        s.execute(update(Card).values(state=CardState.DAMAGED))
    response = post_events(client, [event(number, "DELIVERED", T0, "ev-1")])
    assert response.status_code == 200 and response.json["results"][0]["result"] == "applied"
    with app.app_context(), unit_of_work() as s:
        card = s.scalar(select(Card))
        flag = s.scalar(select(TrackingEvent.flag).where(TrackingEvent.event_id == "ev-1"))
    assert card.state is CardState.DAMAGED
    assert flag and flag.startswith("Kartu tidak dipindahkan")
