"""Browser-side hardening: every answer carries a Content-Security-Policy without inline script or style, and
refuses framing and content sniffing (the browser tests check that every page they visit passes the policy)."""

from __future__ import annotations


def test_pages_and_api_answers_carry_the_security_headers(app, client, staff):
    for response in (client.get("/login"), staff.get("/impor"), staff.get("/api/v1/report"), client.get("/healthz")):
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "style-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_no_template_carries_inline_script_style_or_handlers():
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    found = []
    templates = [p for pkg in ("app", "address", "manifests", "delivery", "returns")
                 for p in (root / pkg).rglob("templates/**/*.html")]
    assert len(templates) > 30
    for path in templates:
        text = path.read_text(encoding="utf-8")
        for pattern in (r"<script(?![^>]*\bsrc=)", r'\sstyle="', r"\son[a-z]+="):
            if re.search(pattern, text):
                found.append(f"{path.relative_to(root)}: {pattern}")
    assert not found, found
