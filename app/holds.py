"""Rules that keep a card from the courier, contributed by the domain that owns them.

Sorting owns withdrawn areas (`manifests/sorting.py`), but the address review (`address/`, earlier in the flow)
must know whether a card it places falls in one: its card then becomes WITHDRAWN instead of READY. The kernel
keeps the question; the sorting domain registers the answer in its `init_app`, so no module imports against the
flow.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from app.models import Office

# (session, office, kelurahan code, RW) -> True when the area's cards are held back
HoldRule = Callable[[Session, Office, str, str | None], bool]
_RULES: dict[str, HoldRule] = {}


def register_hold(name: str, rule: HoldRule) -> None:
    _RULES[name] = rule


def held_back(session: Session, office: Office, kelurahan_code: str, rw: str | None) -> bool:
    """True when a registered rule holds the cards of this kelurahan (and RW) back from the courier."""
    return any(rule(session, office, kelurahan_code, rw) for rule in _RULES.values())
