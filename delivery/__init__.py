"""Courier tracking events and the tracking state of each item."""
