-- TimescaleDB: hypertables, compression, retention of the raw tick tables, and a continuous
-- aggregate of one-minute bars with the same shape as the plain-PostgreSQL view.

CREATE EXTENSION IF NOT EXISTS timescaledb;

SELECT create_hypertable('agg_1s', 'ts', chunk_time_interval => INTERVAL '1 day');
SELECT create_hypertable('bars', 'ts', chunk_time_interval => INTERVAL '30 days');
SELECT create_hypertable('trades', 'ts', chunk_time_interval => INTERVAL '1 day');
SELECT create_hypertable('quotes_1s', 'ts', chunk_time_interval => INTERVAL '1 day');
SELECT create_hypertable('features', 'ts', chunk_time_interval => INTERVAL '7 days');
SELECT create_hypertable('option_snapshots', 'ts', chunk_time_interval => INTERVAL '7 days');
SELECT create_hypertable('option_bars', 'ts', chunk_time_interval => INTERVAL '7 days');

ALTER TABLE agg_1s SET (timescaledb.compress, timescaledb.compress_segmentby = 'symbol',
                        timescaledb.compress_orderby = 'ts');
ALTER TABLE trades SET (timescaledb.compress, timescaledb.compress_segmentby = 'symbol',
                        timescaledb.compress_orderby = 'ts, sequence');
ALTER TABLE quotes_1s SET (timescaledb.compress, timescaledb.compress_segmentby = 'symbol',
                           timescaledb.compress_orderby = 'ts');
ALTER TABLE option_snapshots SET (timescaledb.compress, timescaledb.compress_segmentby = 'underlying',
                                  timescaledb.compress_orderby = 'ts, ticker');

SELECT add_compression_policy('agg_1s', INTERVAL '7 days');
SELECT add_compression_policy('trades', INTERVAL '3 days');
SELECT add_compression_policy('quotes_1s', INTERVAL '3 days');
SELECT add_compression_policy('option_snapshots', INTERVAL '7 days');

-- Raw trades and quotes are large; seconds and bars are kept. The scheduler may change these.
SELECT add_retention_policy('trades', INTERVAL '90 days');
SELECT add_retention_policy('quotes_1s', INTERVAL '90 days');

CREATE MATERIALIZED VIEW agg_1m WITH (timescaledb.continuous) AS
SELECT symbol,
       time_bucket(INTERVAL '1 minute', ts)         AS ts,
       first(open, ts)                              AS open,
       max(high)                                    AS high,
       min(low)                                     AS low,
       last(close, ts)                              AS close,
       sum(volume)                                  AS volume,
       sum(vwap * volume) / NULLIF(sum(volume), 0)  AS vwap,
       sum(trades)::integer                         AS trades
FROM agg_1s
GROUP BY symbol, time_bucket(INTERVAL '1 minute', ts)
WITH NO DATA;

SELECT add_continuous_aggregate_policy('agg_1m',
    start_offset => INTERVAL '2 hours', end_offset => INTERVAL '1 minute',
    schedule_interval => INTERVAL '1 minute');
