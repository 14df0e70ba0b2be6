"""The Grafana provisioning files and dashboards: structure, data source references, metric names,
and the macro expander the SQL tests rely on (``grafana_dashboards``)."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry

from grafana_dashboards import (
    DASHBOARDS,
    PG_TYPE,
    PG_UID,
    PROM_TYPE,
    PROM_UID,
    PROVISIONING,
    Dashboard,
    Expander,
    ExpansionError,
    load_dashboards,
    resolve_variables,
)
from scalper.adapters.metrics import FeedMetrics, TradingMetrics
from scalper.core.clock import ReplayClock

BOARDS = load_dashboards()
IDS = [d.path.stem for d in BOARDS]
DATASOURCE_TYPES = {PG_UID: PG_TYPE, PROM_UID: PROM_TYPE}
CONTAINER_DASHBOARDS = "/var/lib/grafana/dashboards"
# PromQL words that are not metric names: aggregation operators (``sum by (x) (...)``) and keywords
PROMQL_WORDS = {"sum", "min", "max", "avg", "count", "stddev", "stdvar", "topk", "bottomk", "quantile", "group"}
PROMQL_WORDS |= {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless"}


def registered_metric_names() -> set[str]:
    """Every series name the project's collectors expose, as Prometheus stores them: counters with
    ``_total`` (and ``_created``), histograms with ``_bucket``/``_sum``/``_count``, gauges as named."""
    registry = CollectorRegistry()
    FeedMetrics(ReplayClock(0), registry)
    TradingMetrics(registry)
    suffixes = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_sum", "_count", "_created")}
    names = set()
    for family in registry.collect():
        names.update(family.name + s for s in suffixes.get(family.type, ("",)))
    return names


def test_there_are_the_six_dashboards_with_distinct_uids_and_titles() -> None:
    assert len(BOARDS) == 6
    assert len({d.uid for d in BOARDS}) == len({d.title for d in BOARDS}) == len(BOARDS)
    assert {d.uid for d in BOARDS} == {
        "scalper-regime",
        "scalper-expectancy",
        "scalper-slippage",
        "scalper-holding",
        "scalper-pnl",
        "scalper-feed",
    }


@pytest.mark.parametrize("board", BOARDS, ids=IDS)
def test_dashboard_is_complete(board: Dashboard) -> None:
    json.loads(board.path.read_text())  # parses (again, on its own)
    model = board.model
    assert re.fullmatch(r"[a-z0-9-]{1,40}", board.uid), board.uid
    assert board.title and isinstance(model["schemaVersion"], int) and model["schemaVersion"] >= 39
    assert model.get("id") is None, "a provisioned dashboard carries no database id"
    assert {"from", "to"} <= model["time"].keys()
    panels = list(board.panels())
    assert panels
    ids = [p.get("id") for p in panels]
    assert all(isinstance(i, int) for i in ids) and len(ids) == len(set(ids)), f"panel ids {ids}"
    for panel in panels:
        assert panel.get("title"), f"panel {panel.get('id')} has no title"
        pos = panel["gridPos"]
        assert pos["w"] > 0 and pos["h"] > 0 and pos["x"] >= 0 and pos["x"] + pos["w"] <= 24, panel["title"]


@pytest.mark.parametrize("board", BOARDS, ids=IDS)
def test_panels_do_not_overlap(board: Dashboard) -> None:
    taken: dict[tuple[int, int], str] = {}
    for panel in board.panels():
        pos = panel["gridPos"]
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                assert (x, y) not in taken, f"{panel['title']!r} overlaps {taken[(x, y)]!r}"
                taken[(x, y)] = panel["title"]


@pytest.mark.parametrize("board", BOARDS, ids=IDS)
def test_every_panel_and_query_uses_one_of_the_two_data_sources(board: Dashboard) -> None:
    for panel in board.panels():
        if panel["type"] == "row":
            assert "targets" not in panel, f"row {panel['title']!r} has queries"
            continue
        ds = panel.get("datasource") or {}
        assert ds.get("uid") in DATASOURCE_TYPES, f"panel {panel['title']!r}: data source {ds}"
        assert ds.get("type") == DATASOURCE_TYPES[ds["uid"]], f"panel {panel['title']!r}: data source {ds}"
        assert panel.get("targets"), f"panel {panel['title']!r} has no query"
        assert len({t["refId"] for t in panel["targets"]}) == len(panel["targets"]), panel["title"]
    for target in board.targets():
        assert target.datasource_uid in DATASOURCE_TYPES, target.name
        assert target.query["datasource"] == target.panel["datasource"], target.name
        if target.datasource_uid == PG_UID:
            assert target.raw_sql and target.query.get("rawQuery") is True and target.expr is None, target.name
            assert target.format in ("time_series", "table"), target.name
        else:
            assert target.expr and target.raw_sql is None, target.name
    for var in board.variables():
        if var["type"] == "query":
            assert var["datasource"] == {"type": PG_TYPE, "uid": PG_UID}, var["name"]
        assert var["multi"] and var["includeAll"], f"${var['name']}: the SQL writes `IN (${var['name']})`"


@pytest.mark.parametrize("board", BOARDS, ids=IDS)
def test_sql_uses_only_defined_variables_and_known_macros(board: Dashboard) -> None:
    """Expanding with placeholder values raises on an unknown variable or macro."""
    expander = Expander(dt.datetime(2025, 1, 1, tzinfo=dt.UTC), dt.datetime(2025, 2, 1, tzinfo=dt.UTC))
    resolve_variables(board, expander, lambda sql: [("x",)])
    queries = [t.raw_sql for t in board.targets() if t.raw_sql]
    for sql in queries:
        expanded = expander.expand(sql)
        assert "$" not in expanded.replace("$'", ""), expanded
    uses = " ".join(queries + [str(v.get("query", "")) for v in board.variables()])
    for var in board.variables():
        assert f"${var['name']}" in uses, f"variable ${var['name']} is never used"


def test_promql_names_only_metrics_the_project_registers() -> None:
    known = registered_metric_names()
    assert {"scalper_feed_events_total", "scalper_spool_bytes", "scalper_store_write_seconds_bucket"} <= known
    used: set[str] = set()
    for board in BOARDS:
        for target in board.targets():
            if target.expr is None:
                continue
            # drop label matchers, ranges, strings and grouping clauses; then every identifier that is
            # neither a function call nor a PromQL word is a metric name
            expr = re.sub(r"\{[^}]*\}|\[[^\]]*\]|\"[^\"]*\"", " ", target.expr)
            expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
            names = {
                m.group(1)
                for m in re.finditer(r"(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()", expr)
                if m.group(1) not in PROMQL_WORDS
            }
            assert names, f"{target.name}: no metric in {target.expr!r}"
            assert names <= known, f"{target.name}: unknown metric(s) {sorted(names - known)}"
            used |= names
    # every feed metric of the brief is on the feed dashboard
    assert {
        "scalper_feed_events_total",
        "scalper_feed_reconnects_total",
        "scalper_feed_gaps_found_total",
        "scalper_feed_gaps_filled_total",
        "scalper_spool_bytes",
        "scalper_queue_depth",
    } <= used


def _yaml(path: str) -> dict[str, Any]:
    loaded = yaml.safe_load((PROVISIONING / path).read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_datasource_provisioning() -> None:
    config = _yaml("datasources/datasources.yml")
    assert config["apiVersion"] == 1
    by_uid = {ds["uid"]: ds for ds in config["datasources"]}
    assert by_uid.keys() == {PG_UID, PROM_UID}
    pg, prom = by_uid[PG_UID], by_uid[PROM_UID]
    assert pg["type"] == PG_TYPE and pg["url"] == "timescaledb:5432" and pg["user"] == "scalper"
    assert pg["jsonData"]["database"] == "scalper" and pg["jsonData"]["sslmode"] == "disable"
    assert pg["jsonData"]["timescaledb"] is True
    assert pg["secureJsonData"]["password"] == "${SCALPER_DB_PASSWORD}"
    assert prom["type"] == PROM_TYPE and prom["url"] == "http://prometheus:9090"
    assert sum(bool(ds.get("isDefault")) for ds in config["datasources"]) == 1


def test_dashboard_provisioning_loads_the_mounted_folder() -> None:
    config = _yaml("dashboards/dashboards.yml")
    assert config["apiVersion"] == 1
    (provider,) = config["providers"]
    assert provider["type"] == "file" and provider["options"]["path"] == CONTAINER_DASHBOARDS
    assert DASHBOARDS.is_dir() and DASHBOARDS.parent == PROVISIONING.parent


# --------------------------------------------------------------------------------------------
# The expander
# --------------------------------------------------------------------------------------------

FROM, TO = dt.datetime(2025, 9, 16, 13, 30, tzinfo=dt.UTC), dt.datetime(2025, 9, 16, 20, 0, tzinfo=dt.UTC)


def test_expander_renders_the_time_macros_as_grafana_does() -> None:
    e = Expander(FROM, TO)
    assert e.expand("WHERE $__timeFilter(f.ts)") == (
        "WHERE f.ts BETWEEN '2025-09-16T13:30:00Z' AND '2025-09-16T20:00:00Z'"
    )
    assert e.expand("$__timeFrom()::timestamptz, $__timeTo()") == (
        "'2025-09-16T13:30:00Z'::timestamptz, '2025-09-16T20:00:00Z'"
    )
    assert e.expand("SELECT $__timeGroupAlias(ts, $__interval), x") == (
        'SELECT floor(extract(epoch from ts)/60)*60 AS "time", x'
    )
    assert e.expand("GROUP BY $__timeGroup(ts, '5m')") == "GROUP BY floor(extract(epoch from ts)/300)*300"
    assert e.expand("SELECT $__timeGroup(ts, 1h), x") == 'SELECT floor(extract(epoch from ts)/3600)*3600 AS "time", x'
    assert Expander(FROM, TO, timescaledb=True).expand("$__timeGroupAlias(ts, $__interval)") == (
        "time_bucket('60.000s',ts) AS \"time\""
    )
    assert e.expand("$__time(ts)") == 'ts AS "time"'


def test_expander_quotes_variables_and_refuses_what_it_does_not_know() -> None:
    e = Expander(FROM, TO, variables={"run_kind": ["backtest", "paper"], "play": ["O'Neil"]})
    assert e.expand("kind IN ($run_kind) AND play IN (${play}) AND x IN ([[play]])") == (
        "kind IN ('backtest','paper') AND play IN ('O''Neil') AND x IN ('O''Neil')"
    )
    assert e.expand("regexp_replace(signal_id, '-[^-]*$', '')") == "regexp_replace(signal_id, '-[^-]*$', '')"
    for bad in ("$nope", "$__timeGroup(ts, 1m, 0)", "$__unixEpochFilter(ts)", "$__timeFilter()"):
        with pytest.raises(ExpansionError):
            e.expand(bad)
