"""The pure rules of alert delivery: severity threshold, age, deduplication, rate limit, formatting.

Nothing here does I/O or reads a clock: times are arguments, so every rule is a plain function
(or a frozen value) that the dispatcher applies and the tests check directly.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace

from scalper.adapters.alerts.discord import DISCORD_CONTENT_LIMIT
from scalper.adapters.store.alert_outbox import AlertRow, SentAlert
from scalper.core.timeutil import NEW_YORK

SEVERITY_RANK = {"info": 0, "warning": 1, "critical": 2}
SEVERITY_BADGE = {"info": "ℹ️ INFO", "warning": "⚠️ WARNING", "critical": "🚨 CRITICAL"}
MESSAGE_LIMIT = 1500  # an alert's own text in its message (the rest of the 2000 is the header)
SUMMARY_LINE_LIMIT = 160


def severity_at_least(severity: str, minimum: str) -> bool:
    """``severity`` is ``minimum`` or worse (an unknown severity counts as critical)."""
    return SEVERITY_RANK.get(severity, 2) >= SEVERITY_RANK[minimum]


def is_expired(ts: dt.datetime, now: dt.datetime, max_age_s: float) -> bool:
    """The alert is older than ``max_age_s`` at ``now`` (0 = never expires)."""
    return max_age_s > 0 and (now - ts).total_seconds() > max_age_s


def duplicate_of(ts: dt.datetime, last_sent: SentAlert | None, window_s: float) -> int | None:
    """The id of the delivered alert this one repeats within the window, or None to send it.

    The window is anchored at the last *delivered* alert of the key (not at suppressed ones), so
    a condition that keeps firing is announced again once per window instead of being silenced
    for as long as it lasts. Times are the alerts' own ``ts`` (when they were raised).
    """
    if last_sent is None or window_s <= 0:
        return None
    return last_sent.id if abs((ts - last_sent.ts).total_seconds()) < window_s else None


@dataclass(frozen=True, slots=True)
class TokenBucket:
    """A token bucket: ``capacity`` tokens, refilled at ``rate_per_s``; one token per message."""

    capacity: float
    rate_per_s: float
    tokens: float
    updated_s: float

    @classmethod
    def per_minute(cls, max_per_minute: int, now_s: float) -> TokenBucket:
        """A full bucket allowing ``max_per_minute`` messages a minute (bursts up to that many)."""
        return cls(float(max_per_minute), max_per_minute / 60.0, float(max_per_minute), now_s)

    def refilled(self, now_s: float) -> TokenBucket:
        """The bucket at ``now_s`` (a clock going backwards adds nothing)."""
        elapsed = max(now_s - self.updated_s, 0.0)
        tokens = min(self.capacity, self.tokens + elapsed * self.rate_per_s)
        return replace(self, tokens=tokens, updated_s=max(now_s, self.updated_s))

    def take(self, now_s: float) -> tuple[bool, TokenBucket]:
        """(whether a message may go now, the bucket after it)."""
        bucket = self.refilled(now_s)
        if bucket.tokens >= 1.0:
            return True, replace(bucket, tokens=bucket.tokens - 1.0)
        return False, bucket


def new_york_time(ts: dt.datetime) -> str:
    """``2025-07-01 09:31:05 ET``: the alert's time on the exchange's clock."""
    return ts.astimezone(NEW_YORK).strftime("%Y-%m-%d %H:%M:%S ET")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def format_alert(alert: AlertRow) -> str:
    """One alert's message: severity badge, kind, New York time, then its text."""
    title = alert.kind.replace("_", " ").capitalize()
    header = f"{SEVERITY_BADGE.get(alert.severity, alert.severity.upper())} · **{title}** (`{alert.kind}`)"
    return f"{header} · {new_york_time(alert.ts)}\n{_clip(alert.message, MESSAGE_LIMIT)}"


def format_summary(alerts: Sequence[AlertRow], max_per_minute: int, limit: int = DISCORD_CONTENT_LIMIT) -> str:
    """One message standing for alerts held by the rate limit: counts by kind, then one line each.

    The worst alerts are listed first; lines that do not fit are counted at the end.
    """
    kinds = Counter(a.kind for a in alerts)
    worst = max((a.severity for a in alerts), key=lambda s: SEVERITY_RANK.get(s, 2), default="info")
    span = f"{new_york_time(min(a.ts for a in alerts))} – {new_york_time(max(a.ts for a in alerts))}" if alerts else ""
    header = (
        f"{SEVERITY_BADGE.get(worst, worst.upper())} · **{len(alerts)} more alerts** "
        f"(over {max_per_minute} a minute, summarised): "
        + ", ".join(f"{kind} ×{n}" for kind, n in sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0])))
        + (f"\n{span}" if span else "")
    )
    ordered = sorted(alerts, key=lambda a: (-SEVERITY_RANK.get(a.severity, 2), a.id))
    lines = [header]
    used = len(header)
    for shown, alert in enumerate(ordered):
        stamp = alert.ts.astimezone(NEW_YORK).strftime("%H:%M:%S")
        line = _clip(f"• {stamp} {alert.severity} `{alert.kind}`: {alert.message}", SUMMARY_LINE_LIMIT)
        rest = len(ordered) - shown
        tail = f"\n… and {rest - 1} more" if rest > 1 else ""
        if used + 1 + len(line) + len(tail) > limit:
            lines.append(f"… and {rest} more")
            break
        lines.append(line)
        used += 1 + len(line)
    return "\n".join(lines)
