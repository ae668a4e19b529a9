"""A simulator of the message gateway (citizen-notifications.md): its send API and its signed delivery reports."""

from notify_sim.server import GatewaySimulator, generate_secret

__all__ = ["GatewaySimulator", "generate_secret"]
