"""Kelurahan officers' pages and JSON API: their own kelurahan only."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("kelurahan", __name__, template_folder="templates")
