-- Features, regimes, options and the economic calendar.

CREATE TABLE features (
    symbol   text        NOT NULL,
    ts       timestamptz NOT NULL,
    version  text        NOT NULL,                 -- feature-set version
    ready    boolean     NOT NULL,
    data     jsonb       NOT NULL,
    PRIMARY KEY (symbol, ts, version)
);

CREATE TABLE regimes (
    symbol        text             NOT NULL,
    session_date  date             NOT NULL,
    kind          text             NOT NULL,       -- label | score@10:00 | score@10:30 ...
    model_version text             NOT NULL,
    label         text,                            -- trend_up | trend_down | balanced
    day_type      text,                            -- Market Profile day type
    score         double precision,
    probabilities jsonb,
    inputs        jsonb            NOT NULL DEFAULT '{}'::jsonb,
    computed_at   timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (symbol, session_date, kind, model_version)
);
CREATE INDEX regimes_by_date ON regimes (session_date, kind);

CREATE TABLE option_snapshots (
    underlying       text             NOT NULL,
    ts               timestamptz      NOT NULL,    -- snapshot time
    ticker           text             NOT NULL,    -- O:SPXW241220P05000000
    root             text             NOT NULL,
    expiry           date             NOT NULL,
    contract_type    text             NOT NULL,
    strike           double precision NOT NULL,
    bid              double precision,
    ask              double precision,
    last_price       double precision,
    iv               double precision,
    delta            double precision,
    gamma            double precision,
    theta            double precision,
    vega             double precision,
    open_interest    bigint,
    volume           bigint,
    underlying_price double precision,
    source           text             NOT NULL,
    PRIMARY KEY (underlying, ts, ticker),
    CHECK (contract_type IN ('call', 'put'))
);
CREATE INDEX option_snapshots_expiry ON option_snapshots (underlying, expiry, ts);

CREATE TABLE option_bars (
    ticker        text             NOT NULL,
    timeframe     text             NOT NULL,       -- 1m | 1d
    ts            timestamptz      NOT NULL,
    root          text             NOT NULL,
    expiry        date             NOT NULL,
    contract_type text             NOT NULL,
    strike        double precision NOT NULL,
    open          double precision NOT NULL,
    high          double precision NOT NULL,
    low           double precision NOT NULL,
    close         double precision NOT NULL,
    volume        bigint           NOT NULL,
    trades        integer,
    source        text             NOT NULL,
    PRIMARY KEY (ticker, timeframe, ts),
    CHECK (contract_type IN ('call', 'put'))
);
CREATE INDEX option_bars_root_expiry ON option_bars (root, expiry, timeframe, ts);

CREATE TABLE gamma_levels (
    underlying   text             NOT NULL,
    ts           timestamptz      NOT NULL,
    variant      text             NOT NULL,        -- oi | oi_ex_0dte | volume
    spot         double precision NOT NULL,
    net_gex      double precision NOT NULL,        -- dollars per 1% move
    zero_gamma   double precision,
    call_wall    double precision,
    put_wall     double precision,
    profile      jsonb            NOT NULL DEFAULT '{}'::jsonb,
    PRIMARY KEY (underlying, ts, variant)
);

CREATE TABLE econ_events (
    uid          text        PRIMARY KEY,          -- stable id from the source (ICS UID or derived)
    ts           timestamptz NOT NULL,
    name         text        NOT NULL,
    kind         text        NOT NULL,             -- FOMC | FOMC_PRESS | CPI | PPI | NFP | ...
    impact       text        NOT NULL DEFAULT 'high',
    source       text        NOT NULL,
    retrieved_on date        NOT NULL,
    CHECK (impact IN ('low', 'medium', 'high'))
);
CREATE INDEX econ_events_ts ON econ_events (ts);
