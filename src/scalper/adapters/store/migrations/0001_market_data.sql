-- Market data: one-second aggregates, bars, trades, one-second NBBO, and the feed's gap log.
-- Natural keys are primary keys so that re-sent and backfilled data upserts instead of duplicating.

CREATE TABLE agg_1s (
    symbol      text             NOT NULL,
    ts          timestamptz      NOT NULL,          -- window start
    open        double precision NOT NULL,
    high        double precision NOT NULL,
    low         double precision NOT NULL,
    close       double precision NOT NULL,
    volume      double precision,                  -- NULL for indices
    vwap        double precision,                  -- NULL for indices
    trades      integer,
    source      text             NOT NULL,          -- ws | rest | flatfile | synthetic
    ingested_at timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (symbol, ts),
    CHECK (low <= high)
);
COMMENT ON TABLE agg_1s IS 'One-second OHLC(V) per symbol; indices carry no volume.';

CREATE TABLE bars (
    symbol      text             NOT NULL,
    timeframe   text             NOT NULL,          -- 1m, 5m, 15m, 1h, 1d
    ts          timestamptz      NOT NULL,
    open        double precision NOT NULL,
    high        double precision NOT NULL,
    low         double precision NOT NULL,
    close       double precision NOT NULL,
    volume      double precision,
    vwap        double precision,
    trades      integer,
    source      text             NOT NULL,
    ingested_at timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (symbol, timeframe, ts),
    CHECK (low <= high),
    CHECK (timeframe IN ('1m', '5m', '15m', '30m', '1h', '1d'))
);

CREATE TABLE trades (
    symbol      text             NOT NULL,
    ts          timestamptz      NOT NULL,          -- SIP timestamp
    sequence    bigint           NOT NULL,
    price       double precision NOT NULL,
    size        double precision NOT NULL,
    exchange    smallint,
    trade_id    text,
    conditions  text,                              -- comma list as in the flat files, e.g. '12,37'
    tape        smallint,
    PRIMARY KEY (symbol, ts, sequence)
);

CREATE TABLE quotes_1s (
    symbol      text             NOT NULL,
    ts          timestamptz      NOT NULL,          -- second start; values = last NBBO in the second
    bid         double precision,
    bid_size    double precision,
    ask         double precision,
    ask_size    double precision,
    quotes      integer,                           -- NBBO updates in the second
    PRIMARY KEY (symbol, ts)
);

CREATE TABLE ingest_gaps (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    cluster       text        NOT NULL,            -- indices | stocks | options
    symbol        text        NOT NULL,
    gap_start     timestamptz NOT NULL,
    gap_end       timestamptz NOT NULL,
    reason        text        NOT NULL,            -- disconnect | stall | restart | ...
    detected_at   timestamptz NOT NULL DEFAULT now(),
    status        text        NOT NULL DEFAULT 'open',
    repaired_at   timestamptz,
    rows_repaired integer,
    detail        text,
    UNIQUE (cluster, symbol, gap_start),
    CHECK (gap_end >= gap_start),
    CHECK (status IN ('open', 'repaired', 'unrepairable'))
);
CREATE INDEX ingest_gaps_open ON ingest_gaps (detected_at) WHERE status = 'open';
