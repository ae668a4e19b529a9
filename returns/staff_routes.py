"""Staff pages and JSON API for returns and kelurahan handover batches."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("returns", __name__, template_folder="templates")
