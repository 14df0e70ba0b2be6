-- Alerts sent (or attempted) and scheduled job runs.

CREATE TABLE alerts (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ts           timestamptz NOT NULL,
    kind         text        NOT NULL,             -- stream_stall | regime_flip | kill_switch | ...
    severity     text        NOT NULL,
    dedup_key    text        NOT NULL,
    message      text        NOT NULL,
    payload      jsonb       NOT NULL DEFAULT '{}'::jsonb,
    delivered_at timestamptz,
    error        text,
    CHECK (severity IN ('info', 'warning', 'critical'))
);
CREATE INDEX alerts_by_ts ON alerts (ts);
CREATE INDEX alerts_by_dedup ON alerts (dedup_key, ts);

CREATE TABLE job_runs (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job           text        NOT NULL,            -- flatfile_sync | retention | vacuum | tune | ...
    scheduled_for timestamptz NOT NULL,
    started_at    timestamptz NOT NULL,
    finished_at   timestamptz,
    status        text        NOT NULL,
    detail        jsonb       NOT NULL DEFAULT '{}'::jsonb,
    error         text,
    UNIQUE (job, scheduled_for),
    CHECK (status IN ('running', 'succeeded', 'failed', 'skipped'))
);
CREATE INDEX job_runs_recent ON job_runs (job, started_at DESC);
