"""A simulator of the courier partner (PT Pos): its manifest API and its tracking-event webhooks."""

from courier_sim.plan import DEFAULT_OUTCOMES
from courier_sim.server import CourierSimulator

__all__ = ["DEFAULT_OUTCOMES", "CourierSimulator"]
