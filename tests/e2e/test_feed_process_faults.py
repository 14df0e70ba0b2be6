"""``scalper ingest`` as a real process while real processes fail under it: the replay server is
killed and restarted on the live timeline, PostgreSQL is stopped and started again, the key is refused.

The expected data is computed from the same synthetic generator the server replays.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
import signal
import time
from collections.abc import AsyncIterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
from processes import cli_env, dedicated_postgres, free_port, scalper_process, wait_listening, wait_until

from scalper.adapters.polygon.replay_rest import RestApi, SyntheticDays, synthetic_sources
from scalper.adapters.polygon.replay_server import ReplayServer, ServerConfig
from scalper.adapters.polygon.testing import running_in_thread
from scalper.adapters.spool import Spool
from scalper.adapters.store.migrations import migrate
from scalper.core.timeutil import NS_PER_MS, NS_PER_S
from scalper.synthetic.market import INDEX_TICKERS, STOCK_TICKERS, MarketDay
from scalper.synthetic.polygon_events import AGG_DELAY_MS, Frame, render_frames

DAY = date(2025, 11, 25)
SEED = 7
KEY = "e2e-key"
INDICES = ("I:SPX", "I:NDX")

Row = tuple[Any, ...]


def ingest_env(port: int, db_url: str, spool: Path, key: str = KEY) -> dict[str, str]:
    return cli_env(
        SCALPER_DATABASE_URL=db_url,
        SCALPER_FEED__WS_URL=f"ws://127.0.0.1:{port}",
        SCALPER_FEED__SPOOL_DIR=str(spool),
        SCALPER_METRICS__PORT="0",
        MASSIVE_API_KEY=key,
    )


def query(url: str, sql: str, *params: Any) -> list[Row]:
    with psycopg.connect(url, connect_timeout=5) as conn:
        return conn.execute(sql, params).fetchall()


def count(url: str, sql: str, *params: Any) -> int:
    return int(query(url, sql, *params)[0][0])


EPOCH_NS = "(extract(epoch FROM ts) * 1000000)::int8 * 1000"


def stored_seconds(url: str, symbol: str, *, with_volume: bool = False) -> list[Row]:
    """(start ns, open, high, low, close[, volume]) of ``symbol`` in ``agg_1s``, in time order."""
    volume = ", volume" if with_volume else ""
    sql = f"SELECT {EPOCH_NS}, open, high, low, close{volume} FROM agg_1s WHERE symbol = %s ORDER BY ts"
    return [tuple(row) for row in query(url, sql, symbol)]


def source_seconds(day: MarketDay, symbol: str, *, sent_by_ns: int | None = None) -> list[Row]:
    """The generator's one-second bars of ``symbol`` (those whose ``A`` event is sent by ``sent_by_ns``)."""
    index = symbol in INDEX_TICKERS
    bars = day.index_seconds if index else day.stock_seconds
    rows = np.flatnonzero(bars.symbol == (INDEX_TICKERS if index else STOCK_TICKERS).index(symbol))
    if sent_by_ns is not None:
        rows = rows[bars.end_ns[rows] + AGG_DELAY_MS * NS_PER_MS <= sent_by_ns]
    columns = [bars.start_ns, bars.open, bars.high, bars.low, bars.close]
    if not index:
        columns.append(day.stock_seconds.volume)
    return [tuple(c[i].item() for c in columns) for i in rows]


def reconnect_attempts(log: str, market: str) -> list[tuple[float, str, float]]:
    """From ingest's log: (time, what, announced delay) of each failed attempt and each scheduled retry."""
    pattern = re.compile(
        r"^(\S+ \S+) WARNING scalper\.adapters\.feed\.client: feed \S+/"
        + market
        + r": (.*?)(?:; reconnecting in ([\d.]+) s)?$"
    )
    out = []
    for line in log.splitlines():
        if (m := pattern.match(line)) is not None:
            at = datetime.strptime(m[1], "%Y-%m-%d %H:%M:%S,%f").timestamp()
            out.append((at, m[2], float(m[3]) if m[3] else 0.0))
    return out


# --- 1. the replay server is killed mid-stream and restarted on the same live timeline --------------
SPEED = 60.0
SESSION_END_IN_S = 40.0  # wall seconds from the test's start to the session's last frame (margin for backoff)


def test_a_killed_replay_server_restarted_on_the_live_timeline_leaves_a_hole_repaired_over_rest(
    db_url: str, tmp_path: Path
) -> None:
    day = SyntheticDays(DAY, 1, SEED).day(0)
    assert day is not None
    window = day.window
    last_frame_ns = window.close_ns + AGG_DELAY_MS * NS_PER_MS
    # The open went out in the past: the market is near its close, which comes SESSION_END_IN_S from now.
    anchor = time.time_ns() + int(SESSION_END_IN_S * NS_PER_S) - int((last_frame_ns - window.open_ns) / SPEED)
    port = free_port()
    server_args = [
        "replay-server",
        *("--port", str(port), "--speed", str(SPEED), "--api-key", KEY),
        *("--start", DAY.isoformat(), "--seed", str(SEED)),
        *("--timeline", "live", "--anchor-epoch-ns", str(anchor)),
    ]
    symbols = (*INDICES, *STOCK_TICKERS)
    expected = {symbol: source_seconds(day, symbol) for symbol in symbols}
    last_second = {symbol: rows[-1][0] for symbol, rows in expected.items()}

    def stored_count(symbol: str) -> int:
        return count(db_url, "SELECT count(*) FROM agg_1s WHERE symbol = %s", symbol)

    def has_last_seconds() -> bool:
        return all(
            count(db_url, f"SELECT count(*) FROM agg_1s WHERE symbol = %s AND {EPOCH_NS} = %s", s, last_second[s])
            for s in symbols
        )

    with contextlib.ExitStack() as processes:
        first = processes.enter_context(scalper_process("server-1", server_args, cli_env(), tmp_path))
        wait_listening(first, port)
        feed_env = ingest_env(port, db_url, tmp_path / "spool")
        ingest = processes.enter_context(scalper_process("ingest", ["ingest"], feed_env, tmp_path))
        # Both clusters streamed (a symbol never seen before a disconnect has no hole to find).
        wait_until(lambda: all(stored_count(s) >= 20 for s in symbols), 60, "seconds streamed by the first server")
        assert ingest.alive(), ingest.logs()
        first.kill()  # SIGKILL: no close frame, no goodbye
        killed_at = time.monotonic()
        assert first.popen.returncode == -signal.SIGKILL
        time.sleep(3.0)  # the market goes on while the server is away
        restarted_at = time.monotonic()
        with scalper_process("server-2", server_args, cli_env(), tmp_path) as second:
            wait_listening(second, port)
            wait_until(has_last_seconds, 120, "the session's last seconds, streamed by the restarted server")
            ingest.signal(signal.SIGINT)
            assert ingest.wait(60) == 0, ingest.logs()
            assert second.alive(), second.logs()

    for symbol in symbols:
        stored = stored_seconds(db_url, symbol, with_volume=symbol in STOCK_TICKERS)
        assert stored, symbol
        first_stored = stored[0][0]
        # Every second from the first stored to the last sent, with the generator's OHLC: the hole is filled.
        assert stored == [row for row in expected[symbol] if row[0] >= first_stored], symbol
        assert stored[-1][0] == last_second[symbol]
    gaps = query(
        db_url,
        "SELECT symbol, status, rows_repaired, (extract(epoch FROM gap_end - gap_start))::float8 "
        "FROM ingest_gaps ORDER BY symbol",
    )
    assert all(status == "repaired" for _, status, _, _ in gaps), gaps
    # The restarted server resumed where the wall clock says the market is: each symbol's hole spans at
    # least the time the server was away, at the replay speed (a bar is sent 3 s after its start).
    away_s = (restarted_at - killed_at) * SPEED
    for symbol in symbols:
        _, _, rows, span_s = max((g for g in gaps if g[0] == symbol), key=lambda g: g[3], default=(symbol, "", 0, 0.0))
        assert span_s >= away_s - 5 and rows > 0, (symbol, gaps, away_s)
        from_rest = count(db_url, "SELECT count(*) FROM agg_1s WHERE symbol = %s AND source = 'rest'", symbol)
        assert from_rest >= sum(g[2] for g in gaps if g[0] == symbol), symbol
    assert "stopped" in ingest.stdout()
    for market in ("indices", "stocks"):
        # One attempt per backoff step at most: nothing happens on a market before its announced delay
        # has passed; while the server was away, the steps grew.
        log = reconnect_attempts(ingest.stderr(), market)
        failed = [k for k, (_, what, _) in enumerate(log) if what.startswith("cannot connect")]
        assert failed, log
        for (at, _, delay), (next_at, _, _) in itertools.pairwise(log):
            assert next_at >= at + delay - 0.06, log  # the log prints the delay to 0.1 s
        delays = [delay for _, _, delay in log[: failed[-1] + 2] if delay > 0]
        assert delays == sorted(delays), log


# --- 2. PostgreSQL is stopped mid-stream and started again ----------------------------------------
STREAM_S = 900  # logical seconds of the session replayed
DB_SPEED = 60.0


def session_prefix(day: MarketDay, market: str, until_ns: int) -> tuple[Frame, ...]:
    return tuple(f for f in render_frames(market, day) if f.send_ns <= until_ns)


async def then_quiet(frames: tuple[Frame, ...]) -> AsyncIterator[Frame]:
    """The frames, then silence with the connection open (a server closing it would be a disconnect,
    and what follows in the session a hole to repair)."""
    for frame in frames:
        yield frame
    await asyncio.Event().wait()


def spooled_bytes(spool: Path) -> int:
    return sum(p.stat().st_size for p in spool.glob("*.seg")) if spool.exists() else 0


def expected_trades(day: MarketDay, sent_by_ns: int) -> list[Row]:
    """(symbol, ts ns, sequence, price, size) of the generator's trades sent by ``sent_by_ns``, ordered as queried."""
    t = day.trades
    t_ms = t.sip_ns // NS_PER_MS  # the wire's millisecond; a trade goes out at the end of its second
    sent = np.flatnonzero(-(-t_ms // 1000) * 1000 * NS_PER_MS <= sent_by_ns)
    return sorted(
        (
            STOCK_TICKERS[int(t.symbol[i])],
            int(t_ms[i]) * NS_PER_MS,
            int(t.sequence[i]),
            float(t.price[i]),
            float(t.size[i]),
        )
        for i in sent.tolist()
    )


def test_postgres_stopped_mid_stream_and_started_again_loses_nothing(tmp_path: Path) -> None:
    data = SyntheticDays(DAY, 1, SEED)
    day = data.day(0)
    assert day is not None
    until_ns = day.window.open_ns + STREAM_S * NS_PER_S
    frames = {market: session_prefix(day, market, until_ns) for market in ("indices", "stocks")}
    sources = {market: (lambda fs=fs: then_quiet(fs)) for market, fs in frames.items()}
    config = ServerConfig(speed=DB_SPEED, api_key=KEY)  # the connection gets the session from its first frame
    symbols = (*INDICES, *STOCK_TICKERS)
    seconds = {symbol: source_seconds(day, symbol, sent_by_ns=until_ns) for symbol in symbols}
    trades = expected_trades(day, until_ns)
    spool = tmp_path / "spool"

    def all_sent(server: ReplayServer) -> bool:
        return all(server.sent(m).frames == len(fs) for m, fs in frames.items())

    def all_stored(url: str) -> bool:
        stored: dict[str, int] = dict(query(url, "SELECT symbol, count(*) FROM agg_1s GROUP BY symbol"))
        return count(url, "SELECT count(*) FROM trades") >= len(trades) and all(
            stored.get(symbol, 0) >= len(rows) for symbol, rows in seconds.items()
        )

    with (
        dedicated_postgres(tmp_path) as pg,
        running_in_thread(ReplayServer(sources, config, RestApi(data, KEY))) as server,
    ):
        with psycopg.connect(pg.url, autocommit=True) as conn:
            migrate(conn)  # so that the test can poll the tables from the start
        with scalper_process("ingest", ["ingest"], ingest_env(server.port, pg.url, spool), tmp_path) as ingest:
            wait_until(lambda: count(pg.url, "SELECT count(*) FROM trades") > 0, 60, "trades stored before the outage")
            pg.stop()
            stopped_at = time.monotonic()
            wait_until(lambda: spooled_bytes(spool) > 0, 30, "batches spooled while the database is down")
            time.sleep(max(0.0, stopped_at + 5.0 - time.monotonic()))  # several seconds down
            assert ingest.alive(), ingest.logs()
            assert not all_sent(server)  # the outage is mid-stream
            pg.start()
            wait_until(lambda: all_sent(server), 120, "the last frame sent")
            wait_until(lambda: all_stored(pg.url), 60, "every second and trade sent stored")
            ingest.signal(signal.SIGINT)
            assert ingest.wait(60) == 0, ingest.logs()
        assert all(server.sent(m).connections == 1 for m in frames)  # one stream, nothing sent twice
        stored = {s: stored_seconds(pg.url, s, with_volume=s in STOCK_TICKERS) for s in symbols}
        stored_trades = query(
            pg.url, f"SELECT symbol, {EPOCH_NS}, sequence, price, size FROM trades ORDER BY symbol, ts, sequence"
        )
        gaps = query(pg.url, "SELECT symbol, reason FROM ingest_gaps")

    assert stored == seconds  # count and content, per symbol: nothing lost, nothing duplicated
    assert len(stored_trades) == len(trades) > 1_000
    assert stored_trades == trades
    assert gaps == []  # the websocket never broke: nothing to repair
    with Spool(spool, max_bytes=1 << 30) as left:
        assert left.pending() == 0
    assert spooled_bytes(spool) == 0


# --- 3. a refused key: a clear error, at once, and no second attempt ------------------------------
def test_a_refused_key_ends_ingest_after_one_attempt_per_market(db_url: str, tmp_path: Path) -> None:
    server = ReplayServer(synthetic_sources(DAY, 1, SEED), ServerConfig(speed=0, api_key=KEY))
    with running_in_thread(server):
        env = ingest_env(server.port, db_url, tmp_path / "spool", key="not-the-key")
        started = time.monotonic()
        with scalper_process("ingest", ["ingest", "--duration", "60"], env, tmp_path) as ingest:
            code = ingest.wait(60)
        elapsed = time.monotonic() - started
        connections = {m: server.sent(m).connections for m in ("indices", "stocks")}
    assert code == 1, ingest.logs()
    assert "refused the API key" in ingest.stderr()
    assert "not-the-key" not in ingest.stdout() + ingest.stderr()
    assert all(n <= 1 for n in connections.values()) and sum(connections.values()) >= 1, connections
    assert elapsed < 30  # fatal at once, not after a backoff


# --- 4. malformed frames from a real server process ------------------------------------------------------
def test_malformed_frames_are_counted_logged_and_skipped_while_the_stream_goes_on(db_url: str, tmp_path: Path) -> None:
    day = SyntheticDays(DAY, 1, SEED).days()[0]
    expected = {symbol: source_seconds(day, symbol) for symbol in INDICES}
    port = free_port()
    server_args = ["replay-server", "--port", str(port), "--speed", "0", "--timeline", "live", "--api-key", KEY]
    server_args += ["--start", DAY.isoformat(), "--seed", str(SEED), "--fault", "malformed_every=40"]
    with scalper_process("replay-server", server_args, cli_env(), tmp_path) as server:
        wait_listening(server, port)
        env = ingest_env(port, db_url, tmp_path / "spool") | {"SCALPER_FEED__PROXY_SYMBOLS": "[]"}
        with scalper_process("ingest", ["ingest"], env, tmp_path) as ingest:

            def all_stored() -> bool:
                assert ingest.alive(), ingest.logs()
                return all(
                    count(db_url, "SELECT count(*) FROM agg_1s WHERE symbol = %s", s) >= len(expected[s])
                    for s in INDICES
                )

            wait_until(all_stored, 120, "every index second to be stored")
            ingest.signal(signal.SIGINT)
            assert ingest.wait(60) == 0, ingest.logs()
    for symbol in INDICES:
        assert stored_seconds(db_url, symbol) == expected[symbol]  # count and content: nothing lost
    skipped = [line for line in ingest.stderr().splitlines() if "feed: skipped bad_json" in line]
    assert len(skipped) >= 23_400 // 40 // 2, ingest.logs()  # about one frame in 40 was malformed
    errors = re.search(r"parse errors\s+│?\s*([\d,]+)", ingest.stdout())
    assert errors is not None and int(errors[1].replace(",", "")) == len(skipped), ingest.stdout()
