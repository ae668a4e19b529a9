"""Quiet hours: no message reaches a citizen's phone at night (default 21.00 to 07.00 WIB)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from app.dates import WIB, as_local

_SPEC = re.compile(r"^\s*(\d{1,2})[:.](\d{2})\s*-\s*(\d{1,2})[:.](\d{2})\s*$")


@dataclass(frozen=True, slots=True)
class QuietHours:
    start: dt.time
    end: dt.time

    @classmethod
    def parse(cls, spec: str | None) -> QuietHours | None:
        """`21:00-07:00` (WIB); empty or `none` for none. A malformed value is a ValueError naming the setting."""
        if spec is None or spec.strip().lower() in ("", "none", "tidak"):
            return None
        m = _SPEC.match(spec)
        try:
            if not m:
                raise ValueError
            start = dt.time(int(m[1]), int(m[2]))
            end = dt.time(int(m[3]), int(m[4]))
        except ValueError:
            raise ValueError(f"ANTAR_NOTIFY_QUIET_HOURS harus seperti 21:00-07:00 (WIB), bukan {spec!r}") from None
        return None if start == end else cls(start, end)

    def contains(self, moment: dt.datetime) -> bool:
        t = as_local(moment).time()
        if self.start < self.end:
            return self.start <= t < self.end
        return t >= self.start or t < self.end  # across midnight

    def release(self, moment: dt.datetime) -> dt.datetime:
        """`moment`, or when it falls in quiet hours, the end of them (07.00 WIB the next morning), in UTC."""
        if not self.contains(moment):
            return moment
        local = as_local(moment)
        end = dt.datetime.combine(local.date(), self.end, tzinfo=WIB)
        if end <= local:
            end += dt.timedelta(days=1)
        return end.astimezone(dt.UTC)
