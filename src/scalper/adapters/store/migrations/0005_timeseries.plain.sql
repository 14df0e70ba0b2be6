-- Plain PostgreSQL (no TimescaleDB): BRIN indexes for time-range scans across symbols and an
-- ordinary view with the same shape as the Timescale continuous aggregate. Retention is done by
-- the scheduler.

CREATE INDEX agg_1s_ts_brin ON agg_1s USING brin (ts);
CREATE INDEX trades_ts_brin ON trades USING brin (ts);
CREATE INDEX quotes_1s_ts_brin ON quotes_1s USING brin (ts);
CREATE INDEX bars_ts_brin ON bars USING brin (ts);
CREATE INDEX features_ts_brin ON features USING brin (ts);

CREATE VIEW agg_1m AS
SELECT symbol,
       date_trunc('minute', ts)                     AS ts,
       (array_agg(open ORDER BY ts))[1]             AS open,
       max(high)                                    AS high,
       min(low)                                     AS low,
       (array_agg(close ORDER BY ts DESC))[1]       AS close,
       sum(volume)                                  AS volume,
       sum(vwap * volume) / NULLIF(sum(volume), 0)  AS vwap,
       sum(trades)::integer                         AS trades
FROM agg_1s
GROUP BY symbol, date_trunc('minute', ts);
