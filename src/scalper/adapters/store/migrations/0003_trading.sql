-- Runs, signals, orders (with every state transition) and fills.

CREATE TABLE runs (
    run_id      text        PRIMARY KEY,
    kind        text        NOT NULL,              -- live | paper | backtest
    started_at  timestamptz NOT NULL,
    finished_at timestamptz,
    params      jsonb       NOT NULL DEFAULT '{}'::jsonb,
    summary     jsonb,
    CHECK (kind IN ('live', 'paper', 'backtest'))
);

CREATE TABLE signals (
    run_id      text             NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    signal_id   text             NOT NULL,         -- deterministic: play, symbol, decision time
    ts          timestamptz      NOT NULL,         -- decision time
    play        text             NOT NULL,
    symbol      text             NOT NULL,         -- signal instrument (index)
    proxy       text             NOT NULL,         -- traded instrument
    direction   smallint         NOT NULL,         -- +1 long, -1 short
    price       double precision NOT NULL,         -- decision price on the index
    proxy_price double precision,
    stop        double precision,
    target      double precision,
    reasons     jsonb            NOT NULL DEFAULT '[]'::jsonb,
    policy      jsonb            NOT NULL DEFAULT '{}'::jsonb,
    PRIMARY KEY (run_id, signal_id),
    CHECK (direction IN (-1, 1))
);
CREATE INDEX signals_by_play ON signals (play, ts);
CREATE INDEX signals_by_ts ON signals (ts);

CREATE TABLE orders (
    run_id           text             NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    client_order_id  text             NOT NULL,    -- derived from (signal_id, leg): idempotent
    signal_id        text,
    leg              text             NOT NULL,    -- entry | stop | target | exit | flatten
    parent_id        text,                         -- bracket parent's client id
    broker_order_id  text,
    symbol           text             NOT NULL,
    side             text             NOT NULL,
    order_type       text             NOT NULL,
    qty              double precision NOT NULL,
    limit_price      double precision,
    stop_price       double precision,
    trail_amount     double precision,
    time_in_force    text             NOT NULL DEFAULT 'day',
    status           text             NOT NULL,
    filled_qty       double precision NOT NULL DEFAULT 0,
    avg_fill_price   double precision,
    decision_price   double precision,             -- proxy price at decision, for slippage
    reject_reason    text,
    created_at       timestamptz      NOT NULL,
    updated_at       timestamptz      NOT NULL,
    PRIMARY KEY (run_id, client_order_id),
    CHECK (side IN ('buy', 'sell')),
    CHECK (qty > 0),
    CHECK (status IN ('new', 'accepted', 'partially_filled', 'filled', 'cancelled', 'rejected', 'expired'))
);
CREATE INDEX orders_open ON orders (run_id, status) WHERE status IN ('new', 'accepted', 'partially_filled');
CREATE INDEX orders_by_signal ON orders (run_id, signal_id);
CREATE UNIQUE INDEX orders_broker_id ON orders (broker_order_id) WHERE broker_order_id IS NOT NULL;

CREATE TABLE order_events (
    run_id          text        NOT NULL,
    client_order_id text        NOT NULL,
    seq             integer     NOT NULL,
    ts              timestamptz NOT NULL,
    status          text        NOT NULL,
    detail          jsonb       NOT NULL DEFAULT '{}'::jsonb,
    PRIMARY KEY (run_id, client_order_id, seq),
    FOREIGN KEY (run_id, client_order_id) REFERENCES orders (run_id, client_order_id) ON DELETE CASCADE
);

CREATE TABLE fills (
    run_id          text             NOT NULL,
    fill_id         text             NOT NULL,     -- broker execution id
    client_order_id text             NOT NULL,
    ts              timestamptz      NOT NULL,
    symbol          text             NOT NULL,
    side            text             NOT NULL,
    qty             double precision NOT NULL,
    price           double precision NOT NULL,
    commission      double precision NOT NULL DEFAULT 0,
    fees            double precision NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, fill_id),
    FOREIGN KEY (run_id, client_order_id) REFERENCES orders (run_id, client_order_id) ON DELETE CASCADE,
    CHECK (side IN ('buy', 'sell')),
    CHECK (qty > 0 AND price > 0)
);
CREATE INDEX fills_by_order ON fills (run_id, client_order_id);
CREATE INDEX fills_by_ts ON fills (ts);
