"""Returned cards and their handover at the kelurahan."""
