"""A simulator of the courier partner (PT Pos): its manifest API, tracking-event webhooks and COD settlements."""

from courier_sim.plan import DEFAULT_OUTCOMES, LastMile
from courier_sim.server import CourierSimulator
from courier_sim.settlement import DIFFERENCE_KINDS

__all__ = ["DEFAULT_OUTCOMES", "DIFFERENCE_KINDS", "CourierSimulator", "LastMile"]
