"""Which unit gets what, and when: the notification settings.

The settings are one JSON document (the Airflow Variable ``citygov_notify_routes``, or the file named by
``$CITYGOV_NOTIFY_ROUTES`` / ``govern notify --routes``)::

    {
      "units": {"连云港市民政局": ["citygov_notify_mz_mail", "citygov_notify_mz_ding"]},
      "stewards": ["citygov_notify_stewards"],
      "operators": ["citygov_notify_operators"],
      "quiet_hours": "22:00-07:30",
      "digest_hour": 8,
      "base_url": "https://gov.example.cn"
    }

Every name in a list is an Airflow connection id (a connection holds the channel: SMTP, a generic
webhook, a 钉钉 or 企业微信 robot; :mod:`citygov.notify.channels`). A unit left out of ``units`` is sent
to the connection ``citygov_notify_<unit code>`` (the catalog's 提供方代码) when one is defined. A
connection's extra may carry its own ``quiet_hours``. All of it is optional: with no settings at all,
units go by the convention, stewards to ``citygov_notify_stewards``, operators to
``citygov_notify_operators``, digests from 08:00 and no quiet hours.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

from citygov.settings import CITY_TZ

CONN_PREFIX = "citygov_notify_"
"""A unit's connection by convention: ``citygov_notify_<unit code>``."""
STEWARDS_CONN = f"{CONN_PREFIX}stewards"
OPERATORS_CONN = f"{CONN_PREFIX}operators"
ROUTES_VARIABLE = "citygov_notify_routes"
"""The Airflow Variable holding the settings (JSON)."""
ROUTES_ENV = "CITYGOV_NOTIFY_ROUTES"
"""A settings file for the command line (and a fallback for the DAG)."""
DEFAULT_BASE_URL = "http://localhost:8080"

_HHMM = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


class SettingsError(ValueError):
    """The notification settings are not valid; the message says which key and why."""


@dataclass(frozen=True)
class QuietHours:
    """A daily window (city time) in which nothing is sent; it may run past midnight (``22:00-07:30``)."""

    start: time
    end: time

    @classmethod
    def parse(cls, text: str | None) -> QuietHours | None:
        if not text:
            return None
        m = _HHMM.match(str(text))
        if not m:
            raise SettingsError(f"quiet_hours {text!r}: expected HH:MM-HH:MM in city time, e.g. 22:00-07:30")
        h1, m1, h2, m2 = (int(g) for g in m.groups())
        if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
            raise SettingsError(f"quiet_hours {text!r}: hours are 0-23 and minutes 0-59")
        return cls(time(h1, m1), time(h2, m2))

    def release(self, moment: datetime) -> datetime | None:
        """When a send held at ``moment`` may go: the end of the window it is in, or None when outside."""
        local = moment.astimezone(CITY_TZ)
        t = local.time().replace(tzinfo=None)
        if self.start == self.end:
            return None
        if self.start < self.end:
            inside = self.start <= t < self.end
            end_day = local.date()
        else:  # past midnight
            inside = t >= self.start or t < self.end
            end_day = local.date() + timedelta(days=1) if t >= self.start else local.date()
        if not inside:
            return None
        return datetime.combine(end_day, self.end, tzinfo=CITY_TZ)

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


@dataclass(frozen=True)
class Routes:
    """The parsed settings (see the module docstring)."""

    units: dict[str, list[str]] = field(default_factory=dict)
    """Unit name (the queue's responsible unit) → connection ids; others go by convention."""
    stewards: list[str] = field(default_factory=lambda: [STEWARDS_CONN])
    operators: list[str] = field(default_factory=lambda: [OPERATORS_CONN])
    quiet_hours: QuietHours | None = None
    """For every connection that does not set its own."""
    digest_hour: int = 8
    """A day's digest is built by the first run at or after this hour (city time)."""
    base_url: str | None = None
    """The api-server as people reach it; item links are ``<base_url>/citygov/web/disputes/<id>``."""

    @classmethod
    def from_data(cls, data: dict[str, Any] | None) -> Routes:
        data = dict(data or {})
        unknown = set(data) - {"units", "stewards", "operators", "quiet_hours", "digest_hour", "base_url"}
        if unknown:
            raise SettingsError(f"notification settings: unknown keys {sorted(unknown)}")
        units = data.get("units") or {}
        if not isinstance(units, dict):
            raise SettingsError("notification settings: units must map a unit's name to a list of connection ids")
        hour = data.get("digest_hour", 8)
        if not isinstance(hour, int) or not 0 <= hour <= 23:
            raise SettingsError(f"notification settings: digest_hour must be 0-23, got {hour!r}")
        return cls(
            units={str(k): _ids(v, f"units[{k}]") for k, v in units.items()},
            stewards=_ids(data.get("stewards", [STEWARDS_CONN]), "stewards"),
            operators=_ids(data.get("operators", [OPERATORS_CONN]), "operators"),
            quiet_hours=QuietHours.parse(data.get("quiet_hours")),
            digest_hour=hour,
            base_url=data.get("base_url") or None,
        )

    @classmethod
    def from_text(cls, text: str | None) -> Routes:
        if not text or not text.strip():
            return cls()
        try:
            return cls.from_data(json.loads(text))
        except json.JSONDecodeError as exc:
            raise SettingsError(f"notification settings are not JSON: {exc}") from None

    @classmethod
    def from_file(cls, path: str | Path | None = None) -> Routes:
        """From ``path``, else the file ``$CITYGOV_NOTIFY_ROUTES`` names, else the defaults."""
        path = path or os.environ.get(ROUTES_ENV)
        return cls.from_text(Path(path).read_text(encoding="utf-8")) if path else cls()

    def unit_connections(self, unit: str, code: str | None) -> list[str]:
        """The connection ids a unit's digest goes to: its settings, else ``citygov_notify_<code>``."""
        if unit in self.units:
            return list(self.units[unit])
        return [f"{CONN_PREFIX}{code}"] if code else []

    def link(self, dispute_id: int) -> str:
        return f"{(self.base_url or DEFAULT_BASE_URL).rstrip('/')}/citygov/web/disputes/{dispute_id}"


def _ids(value: Any, what: str) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise SettingsError(f"notification settings: {what} must be a list of connection ids")
    return list(value)
