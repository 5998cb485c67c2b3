"""`dateutil.parser.parse` for the ISO 8601 strings the secrets tests parse."""

from __future__ import annotations

import datetime as dt


def parse(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
