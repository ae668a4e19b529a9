"""What later steps do when the courier takes a manifest, or when items leave a manifest before it did.

The courier may post tracking events for an item it has not received on paper yet (a manifest only finalized, or
whose handover failed). Delivery stores and holds them; they may count only from the moment the courier has the
item. The moments that decide it belong to manifests (the handover, a cancel, cards taken off a manifest), which
come before delivery in the flow and must not import it. So the kernel keeps the two moments as hooks: delivery
registers its answers in its `init_app`, manifests calls them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from sqlalchemy.orm import Session

from app.db import unit_of_work

log = logging.getLogger("antar.handover")

# (session, manifest id): the courier has just taken the manifest (the handover is committed).
HandedOver = Callable[[Session, int], None]
# (session, item ids, why): items leave their manifest before the courier took it, in the caller's transaction.
Released = Callable[[Session, Sequence[int], str], None]

_HANDED_OVER: dict[str, HandedOver] = {}
_RELEASED: dict[str, Released] = {}


def on_handed_over(name: str, hook: HandedOver) -> None:
    _HANDED_OVER[name] = hook


def on_released(name: str, hook: Released) -> None:
    _RELEASED[name] = hook


def handed_over(manifest_id: int) -> None:
    """Call after the handover of `manifest_id` is committed: each hook in a unit of work of its own. A hook that
    fails is logged and does not undo the handover (the courier has the manifest either way)."""
    for name, hook in list(_HANDED_OVER.items()):
        try:
            with unit_of_work() as session:
                hook(session, manifest_id)
        except Exception:
            log.exception("after the handover of manifest %s: hook %s failed", manifest_id, name)


def released(session: Session, item_ids: Sequence[int], why: str) -> None:
    """Call inside the transaction that takes items off a manifest the courier never took (a cancel, a withdrawn
    area), after the items are marked removed; `why` says so in words staff read."""
    if not item_ids:
        return
    for hook in list(_RELEASED.values()):
        hook(session, item_ids, why)
