"""The Grafana dashboards under ``deploy/grafana``: loading them, walking their panels and queries,
and expanding a PostgreSQL query the way Grafana does before it sends it to the database.

Shared by the dashboard tests (imported as ``grafana_dashboards``: the ``tests`` folder is on the
path, as for ``scripted_play``).

Expansion (:class:`Expander`) happens in Grafana's order:

1. Template variables (done by Grafana's front end): ``$name``, ``${name}`` and ``[[name]]`` of a
   dashboard variable become its values. Every variable of these dashboards is multi-value with
   "All", so Grafana's SQL data sources render the selection quoted and comma separated
   (``'backtest','paper','live'``: single quotes doubled), for ``column IN ($name)``. The tests
   select "All": every value the variable offers. The built-ins ``$__interval`` and
   ``$__interval_ms`` become the configured interval (``1m`` and ``60000`` by default).
2. Macros (done by the data source's back end), found as Grafana finds them: ``$__name(args)``
   where ``args`` holds no closing parenthesis, split at commas:

   - ``$__timeFilter(col)``: ``col BETWEEN '<from>' AND '<to>'``
   - ``$__timeFrom()`` / ``$__timeTo()``: ``'<from>'`` / ``'<to>'``
   - ``$__time(col)``: ``col AS "time"``; ``$__timeEpoch(col)``: ``extract(epoch from col) AS "time"``
   - ``$__timeGroup(col, 1m)``: ``floor(extract(epoch from col)/60)*60`` (epoch seconds), or with
     the data source's ``timescaledb`` option ``time_bucket('60.000s',col)``
   - ``$__timeGroupAlias(col, 1m)``: the same followed by ``AS "time"`` (so is a ``$__timeGroup``
     directly followed by a comma, as Grafana keeps for old dashboards)

   Times are UTC in RFC 3339 (``2025-09-16T13:30:00Z``). A macro Grafana would not know, a fill
   argument of ``$__timeGroup`` (these dashboards use none) or any ``$`` reference left after
   expansion raises :class:`ExpansionError`.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
GRAFANA = REPO / "deploy" / "grafana"
DASHBOARDS = GRAFANA / "dashboards"
PROVISIONING = GRAFANA / "provisioning"
PG_UID, PROM_UID = "scalper-pg", "scalper-prom"
PG_TYPE, PROM_TYPE = "grafana-postgresql-datasource", "prometheus"


class ExpansionError(ValueError):
    """A query Grafana could not expand (or that these tests do not know how to)."""


@dataclass(frozen=True)
class Dashboard:
    path: Path
    model: dict[str, Any]

    @property
    def uid(self) -> str:
        return str(self.model.get("uid", ""))

    @property
    def title(self) -> str:
        return str(self.model.get("title", ""))

    def panels(self) -> Iterator[dict[str, Any]]:
        """Every panel, rows and the panels inside (collapsed) rows included."""
        for panel in self.model.get("panels", []):
            yield panel
            yield from panel.get("panels", [])

    def variables(self) -> list[dict[str, Any]]:
        return list(self.model.get("templating", {}).get("list", []))

    def targets(self) -> Iterator[Target]:
        for panel in self.panels():
            for target in panel.get("targets", []):
                ds = target.get("datasource") or panel.get("datasource") or {}
                yield Target(self, panel, target, str(ds.get("uid", "")))


@dataclass(frozen=True)
class Target:
    """One query of one panel."""

    dashboard: Dashboard
    panel: dict[str, Any]
    query: dict[str, Any]
    datasource_uid: str

    @property
    def ref_id(self) -> str:
        return str(self.query.get("refId", ""))

    @property
    def key(self) -> tuple[str, str, str]:
        """(dashboard uid, panel title, refId): how the tests name a query."""
        return self.dashboard.uid, str(self.panel.get("title", "")), self.ref_id

    @property
    def name(self) -> str:
        return (
            f"dashboard {self.dashboard.title!r} ({self.dashboard.path.name}), panel {self.panel.get('id')} "
            f"{self.panel.get('title')!r}, query {self.ref_id}"
        )

    @property
    def raw_sql(self) -> str | None:
        value = self.query.get("rawSql")
        return str(value) if value is not None else None

    @property
    def expr(self) -> str | None:
        value = self.query.get("expr")
        return str(value) if value is not None else None

    @property
    def format(self) -> str:
        return str(self.query.get("format", "time_series"))


def load_dashboards() -> list[Dashboard]:
    """Every dashboard JSON file, by file name."""
    return [Dashboard(p, json.loads(p.read_text())) for p in sorted(DASHBOARDS.glob("*.json"))]


# --------------------------------------------------------------------------------------------
# Expansion
# --------------------------------------------------------------------------------------------

MACRO = re.compile(r"\$([_a-zA-Z0-9]+)\(([^\)]*)\)")  # Grafana's own pattern
VARIABLE = re.compile(r"\$\{(\w+)\}|\[\[(\w+)\]\]|\$(\w+)")
LEFTOVER = re.compile(r"\$\{?\w|\[\[\w")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def interval_seconds(text: str) -> float:
    """``30s``, ``1m``, ``5m``, ``1h``, ``1d`` ... in seconds."""
    m = re.fullmatch(r"\s*'?(\d+(?:\.\d+)?)(ms|s|m|h|d|w)'?\s*", text)
    if not m:
        raise ExpansionError(f"cannot parse the interval {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def rfc3339(t: dt.datetime) -> str:
    """UTC, as Grafana formats the range (``2025-09-16T13:30:00Z``; fractions only when present)."""
    u = t.astimezone(dt.UTC)
    frac = f".{u.microsecond:06d}".rstrip("0") if u.microsecond else ""
    return u.strftime("%Y-%m-%dT%H:%M:%S") + frac + "Z"


def sql_quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


@dataclass
class Expander:
    """Expands one dashboard's SQL for a time range (see the module docstring for the rules)."""

    start: dt.datetime
    end: dt.datetime
    interval: str = "1m"
    timescaledb: bool = False
    variables: dict[str, list[str]] = field(default_factory=dict)

    def expand(self, sql: str) -> str:
        out = self._expand_variables(sql)
        out = self._expand_macros(out)
        left = LEFTOVER.search(out)
        if left:
            raise ExpansionError(f"unexpanded reference at {out[left.start() : left.start() + 30]!r}")
        return out

    def _expand_variables(self, sql: str) -> str:
        builtins = {"__interval": self.interval, "__interval_ms": str(int(interval_seconds(self.interval) * 1000))}

        def repl(m: re.Match[str]) -> str:
            name = m.group(1) or m.group(2) or m.group(3)
            if name in builtins:
                return builtins[name]
            if name in self.variables:
                values = self.variables[name]
                if not values:
                    raise ExpansionError(f"variable ${name} has no value")
                return ",".join(sql_quote(v) for v in values)
            if name.startswith("__"):  # a macro: left for the back end
                return m.group(0)
            raise ExpansionError(f"unknown variable ${name}")

        return VARIABLE.sub(repl, sql)

    def _expand_macros(self, sql: str) -> str:
        def repl(m: re.Match[str]) -> str:
            name, params = m.group(1), m.group(2)
            args = [a.strip() for a in params.replace("\n", "").split(",")] if params.strip() else [""]
            if name == "__timeGroup" and sql[m.end() : m.end() + 1] == ",":
                name = "__timeGroupAlias"
            return self._macro(name, args)

        return MACRO.sub(repl, sql)

    def _macro(self, name: str, args: list[str]) -> str:
        start, end = sql_quote(rfc3339(self.start)), sql_quote(rfc3339(self.end))
        column = args[0]
        if name in ("__time", "__timeEpoch", "__timeFilter", "__timeGroup", "__timeGroupAlias") and not column:
            raise ExpansionError(f"${name} needs a time column")
        if name == "__time":
            return f'{column} AS "time"'
        if name == "__timeEpoch":
            return f'extract(epoch from {column}) as "time"'
        if name == "__timeFilter":
            return f"{column} BETWEEN {start} AND {end}"
        if name == "__timeFrom":
            return start
        if name == "__timeTo":
            return end
        if name in ("__timeGroup", "__timeGroupAlias"):
            if len(args) != 2:
                raise ExpansionError(f"${name} takes a column and an interval (no fill value here): {args}")
            seconds = interval_seconds(args[1])
            if self.timescaledb:
                group = f"time_bucket('{seconds:.3f}s',{column})"
            else:
                group = f"floor(extract(epoch from {column})/{seconds:g})*{seconds:g}"
            return group + (' AS "time"' if name == "__timeGroupAlias" else "")
        raise ExpansionError(f"unknown macro ${name}")


def resolve_variables(
    dashboard: Dashboard, expander: Expander, run_query: Callable[[str], Sequence[Sequence[Any]]]
) -> dict[str, list[str]]:
    """Every variable of ``dashboard`` with "All" selected: a custom variable's values, or the first
    column of a query variable's rows (its query expanded with the variables before it)."""
    for var in dashboard.variables():
        name, kind = var["name"], var.get("type")
        if kind == "custom":
            values = [v.strip() for v in str(var.get("query", "")).split(",") if v.strip()]
        elif kind == "query":
            query = var.get("query")
            sql = query.get("rawSql", "") if isinstance(query, Mapping) else str(query)
            values = [str(row[0]) for row in run_query(expander.expand(sql))]
        else:
            raise ExpansionError(f"{dashboard.title}: variable ${name} of type {kind!r} is not handled")
        if not values:
            raise ExpansionError(f"{dashboard.title}: variable ${name} offers no value")
        expander.variables[name] = values
    return expander.variables
