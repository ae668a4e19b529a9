"""Geocoding tables: region geometry an operator loads, and every answer a remote geocoder gave."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, utcnow


class RegionGeo(Base):
    """Centroid (and, when loaded, boundary) of one region: kelurahan/desa, kecamatan or kabupaten/kota.

    Shared by every office in the database: geometry does not depend on who delivers there.
    """

    __tablename__ = "region_geo"

    kode: Mapped[str] = mapped_column(String(13), primary_key=True)  # Kemendagri code: '32.16.06.1001'
    lat: Mapped[float]
    lng: Mapped[float]
    # GeoJSON geometry (Polygon or MultiPolygon, [lng, lat]) as JSON text; None when only a centroid is known.
    polygon: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(200))  # the loaded file's name, or what the operator said
    loaded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class GeocodeCache(Base):
    """One answer of a remote geocoder for one normalized query, "no result" included, so it is asked once."""

    __tablename__ = "geocode_cache"
    __table_args__ = (UniqueConstraint("provider", "query"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(40))  # 'nominatim'
    query: Mapped[str] = mapped_column(String(500))  # GeoQuery.key()
    lat: Mapped[float | None]
    lng: Mapped[float | None]
    precision: Mapped[str] = mapped_column(String(16))  # a geocode.Precision value
    raw: Mapped[str] = mapped_column(Text)  # the provider's answer as JSON; '[]' for no result
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
