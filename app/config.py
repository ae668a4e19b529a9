"""Configuration from environment variables (and an optional `.env` file).

Every setting has a safe default so that a fresh checkout runs with no set-up: SQLite in the instance
folder, and a secret key generated once and kept in the instance folder (readable by its owner only), so that every
worker of `antar serve` signs sessions alike and sessions survive a restart. Set SECRET_KEY to share one key between
servers.
"""

from __future__ import annotations

import math
import os
import secrets
import time
from pathlib import Path
from typing import Any

from dotenv import load_dotenv


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def instance_secret_key(instance_path: str, name: str = "secret_key") -> str:
    """A secret kept in the instance folder, created on first use (mode 0600) by whichever process is first:
    O_EXCL makes two workers starting together agree on one key."""
    path = Path(instance_path) / name
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):  # another process is writing it right now
            key = path.read_text(encoding="ascii").strip()
            if key:
                return key
            time.sleep(0.02)
        raise RuntimeError(f"{path} is empty: delete it and start again") from None
    key = secrets.token_hex(32)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(key)
    return key


def normalize_database_url(url: str) -> str:
    """`postgresql://` and `postgres://` use psycopg 3 (SQLAlchemy's `postgresql+psycopg`); an explicit driver
    (`postgresql+psycopg2://`) is kept."""
    for plain in ("postgresql://", "postgres://"):
        if url.startswith(plain):
            return "postgresql+psycopg://" + url[len(plain):]
    return url


class ConfigError(ValueError):
    """A setting that cannot be read (a number that is not one): the message names the variable."""


def _int(name: str, default: str) -> int:
    value = _env(name) or default  # unset or empty: the default
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"{name}={value!r} bukan bilangan bulat") from None


def _float(name: str, default: str) -> float:
    value = _env(name) or default  # unset or empty: the default
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(f"{name}={value!r} bukan angka") from None
    if not math.isfinite(number):
        raise ConfigError(f"{name}={value!r} bukan angka")
    return number


def _flag(name: str) -> bool:
    return (_env(name, "") or "").strip().lower() in ("1", "true", "yes", "on")


def load_config(instance_path: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Build the configuration mapping; `overrides` (tests, the demo) win over the environment."""
    # A .env in the working directory or the instance folder; real environment variables win.
    load_dotenv(Path.cwd() / ".env", override=False)
    load_dotenv(Path(instance_path) / ".env", override=False)
    default_db = "sqlite:///" + str(Path(instance_path) / "antar.sqlite")
    config: dict[str, Any] = {
        "DATABASE_URL": normalize_database_url(_env("DATABASE_URL", default_db) or default_db),
        "SECRET_KEY": _env("SECRET_KEY"),
        # Session cookies: never readable by scripts, not sent on cross-site requests, HTTPS-only when configured.
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _flag("ANTAR_HTTPS"),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SECURE": _flag("ANTAR_HTTPS"),
        # Redis (optional): background jobs run in `antar worker`, rate limits and job progress are shared by every
        # process. Without it jobs run in a thread of the web process and progress is kept in the instance folder.
        "ANTAR_REDIS_URL": _env("ANTAR_REDIS_URL"),
        # SQLite only: how long a write waits for another writer (an import) before the request answers 503.
        "ANTAR_SQLITE_BUSY_SECONDS": _float("ANTAR_SQLITE_BUSY_SECONDS", "5"),
        "ANTAR_OFFICE": _env("ANTAR_OFFICE", "32.16"),
        "ANTAR_COURIER_BASE_URL": _env("ANTAR_COURIER_BASE_URL"),
        "ANTAR_COURIER_API_TOKEN": _env("ANTAR_COURIER_API_TOKEN"),
        "ANTAR_COURIER_WEBHOOK_SECRETS": _env("ANTAR_COURIER_WEBHOOK_SECRETS"),
        "ANTAR_TRACKING_PREFIX": _env("ANTAR_TRACKING_PREFIX", "RB"),
        "ANTAR_TRACKING_FIRST": _int("ANTAR_TRACKING_FIRST", "10000000"),
        "ANTAR_TRACKING_LAST": _int("ANTAR_TRACKING_LAST", "19999999"),
        # Manifests: items per manifest before a post office's cards are split by kecamatan and capped.
        "ANTAR_MANIFEST_MAX_ITEMS": _int("ANTAR_MANIFEST_MAX_ITEMS", "500"),
        # Calls to the courier: (connect, read) timeouts in seconds, retries on 429/5xx/timeouts with
        # exponential backoff (base, cap) and jitter, and the longest Retry-After we are willing to wait.
        "ANTAR_COURIER_CONNECT_TIMEOUT": _float("ANTAR_COURIER_CONNECT_TIMEOUT", "5"),
        "ANTAR_COURIER_READ_TIMEOUT": _float("ANTAR_COURIER_READ_TIMEOUT", "30"),
        "ANTAR_COURIER_RETRIES": _int("ANTAR_COURIER_RETRIES", "5"),
        "ANTAR_COURIER_BACKOFF": _float("ANTAR_COURIER_BACKOFF", "1.0"),
        "ANTAR_COURIER_BACKOFF_MAX": _float("ANTAR_COURIER_BACKOFF_MAX", "30"),
        # Tracking: a DELIVERED farther than this from the geocoded address is flagged; after this many failed
        # attempts an item is expected back; an item with no event for this many days is listed as a problem.
        "ANTAR_DELIVERY_FAR_KM": _float("ANTAR_DELIVERY_FAR_KM", "2.0"),
        "ANTAR_MAX_ATTEMPTS": _int("ANTAR_MAX_ATTEMPTS", "3"),
        "ANTAR_SILENT_DAYS": _int("ANTAR_SILENT_DAYS", "5"),
        # Returns at the kelurahan: remind after this many days waiting; after the deadline the officer may record
        # "not collected" and the card goes back to the office.
        "ANTAR_REMINDER_DAYS": _int("ANTAR_REMINDER_DAYS", "14"),
        "ANTAR_COLLECTION_DEADLINE_DAYS": _int("ANTAR_COLLECTION_DEADLINE_DAYS", "30"),
        # Where the public status page keeps its rate-limit counters (memory:// per process, or redis://...).
        "ANTAR_RATELIMIT_STORAGE_URI": _env("ANTAR_RATELIMIT_STORAGE_URI", _env("ANTAR_REDIS_URL", "memory://")),
        "ANTAR_PUBLIC_RATE_LIMIT": _env("ANTAR_PUBLIC_RATE_LIMIT", "10 per minute; 100 per day"),
        # Logins (and password changes) per client address, counted in the same store; after this many wrong
        # passwords in a row an account is locked until staff or an admin unlock it.
        "ANTAR_LOGIN_RATE_LIMIT": _env("ANTAR_LOGIN_RATE_LIMIT", "10 per minute; 100 per hour"),
        "ANTAR_LOGIN_MAX_FAILURES": _int("ANTAR_LOGIN_MAX_FAILURES", "5"),
        # werkzeug's method for new password hashes (scrypt; e.g. "pbkdf2:sha256:600000").
        "ANTAR_PASSWORD_HASH": _env("ANTAR_PASSWORD_HASH", "scrypt"),
        # A recall the courier did not answer is asked again this many minutes later (a background job).
        "ANTAR_RECALL_RETRY_MINUTES": _float("ANTAR_RECALL_RETRY_MINUTES", "30"),
        "ANTAR_COURIER_RETRY_AFTER_MAX": _int("ANTAR_COURIER_RETRY_AFTER_MAX", "120"),
        # Messages to citizens (notify/, citizen-notifications.md): the gateway's URL and token (without a URL
        # nothing is sent), the secret of its signed delivery reports, whatsapp or sms, and the quiet hours in WIB
        # ("none" for none). A message is tried at most ANTAR_NOTIFY_MAX_ATTEMPTS times, backing off exponentially
        # from ANTAR_NOTIFY_BACKOFF seconds up to ANTAR_NOTIFY_BACKOFF_MAX (also the longest Retry-After honoured).
        # ANTAR_NOTIFY_CONCURRENCY requests are in flight at once (a morning's 100,000 messages, one at a time at
        # 100 ms each, would take three hours).
        "ANTAR_NOTIFY_BASE_URL": _env("ANTAR_NOTIFY_BASE_URL"),
        "ANTAR_NOTIFY_API_TOKEN": _env("ANTAR_NOTIFY_API_TOKEN"),
        "ANTAR_NOTIFY_WEBHOOK_SECRET": _env("ANTAR_NOTIFY_WEBHOOK_SECRET"),
        "ANTAR_NOTIFY_CHANNEL": _env("ANTAR_NOTIFY_CHANNEL", "whatsapp"),
        "ANTAR_NOTIFY_QUIET_HOURS": _env("ANTAR_NOTIFY_QUIET_HOURS", "21:00-07:00"),
        "ANTAR_NOTIFY_MAX_ATTEMPTS": _int("ANTAR_NOTIFY_MAX_ATTEMPTS", "8"),
        "ANTAR_NOTIFY_BACKOFF": _float("ANTAR_NOTIFY_BACKOFF", "30"),
        "ANTAR_NOTIFY_BACKOFF_MAX": _float("ANTAR_NOTIFY_BACKOFF_MAX", "3600"),
        "ANTAR_NOTIFY_CONCURRENCY": _env("ANTAR_NOTIFY_CONCURRENCY", "8"),
        # Uploads of a 132,289-row XLSX are about 15 MB; leave generous room.
        "MAX_CONTENT_LENGTH": _int("ANTAR_MAX_UPLOAD_MB", "200") * 1024 * 1024,
        "INTAKE_CHUNK_ROWS": _int("ANTAR_INTAKE_CHUNK_ROWS", "5000"),
        "WTF_CSRF_TIME_LIMIT": None,
        # Geocoding (address/geocode.py): loaded region geometry first, then Nominatim when a URL is set.
        "ANTAR_NOMINATIM_URL": _env("ANTAR_NOMINATIM_URL"),
        "ANTAR_NOMINATIM_USER_AGENT": _env("ANTAR_NOMINATIM_USER_AGENT", "antar-ektp"),
        "ANTAR_NOMINATIM_MIN_DELAY": _float("ANTAR_NOMINATIM_MIN_DELAY", "1.0"),
        "ANTAR_GEOCODE_MIN_PRECISION": _env("ANTAR_GEOCODE_MIN_PRECISION", "kelurahan"),
        "ANTAR_GEO_FAR_KM": _float("ANTAR_GEO_FAR_KM", "2.0"),
    }
    if overrides:
        config.update(overrides)
    config["DATABASE_URL"] = normalize_database_url(config["DATABASE_URL"])
    if not config.get("SECRET_KEY"):
        config["SECRET_KEY"] = instance_secret_key(instance_path)
    # The key of the family-card-number hash (app/pseudonym.py). Kept apart from SECRET_KEY so that rotating the
    # session key does not lock citizens out; back it up with the database (without it no lookup by no_kk works).
    if not config.get("ANTAR_KK_KEY"):
        config["ANTAR_KK_KEY"] = _env("ANTAR_KK_KEY") or instance_secret_key(instance_path, "kk_key")
    return config
