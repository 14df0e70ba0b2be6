-- Session-policy decisions: each play's aggressiveness at a moment, with its reasons and the
-- thresholds version that produced it. Signals (table `signals`, column `policy`) copy the
-- decision in force when they fire; this table keeps every decision, fired or not.

CREATE TABLE policy_decisions (
    play       text        NOT NULL,
    ts         timestamptz NOT NULL,                 -- the moment decided for
    version    text        NOT NULL,                 -- thresholds version
    level      text        NOT NULL,
    reasons    jsonb       NOT NULL,                 -- [{"code", "text", "effect"}, ...]
    inputs     jsonb       NOT NULL DEFAULT '{}'::jsonb,  -- morning score, gates, calendar flags used
    decided_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (play, ts, version),
    CHECK (level IN ('off', 'reduced', 'normal', 'aggressive'))
);
CREATE INDEX policy_decisions_ts ON policy_decisions (ts);
