-- Flat-file backfill: a manifest of every file loaded (so reruns skip what is done and a
-- republished file, seen by its new ETag, replaces its day) and per-minute 0DTE option volume.

CREATE TABLE flatfile_manifest (
    key          text        PRIMARY KEY,          -- us_stocks_sip/trades_v1/2025/11/2025-11-25.csv.gz
    dataset      text        NOT NULL,
    session_date date        NOT NULL,
    etag         text        NOT NULL,
    size_bytes   bigint,
    status       text        NOT NULL,
    rows_read    bigint      NOT NULL DEFAULT 0,   -- CSV rows in the file
    rows_kept    bigint      NOT NULL DEFAULT 0,   -- rows of the wanted tickers
    rows_written bigint      NOT NULL DEFAULT 0,   -- rows handed to the store (all tables)
    download_s   double precision,
    load_s       double precision,
    started_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    error        text,
    CHECK (status IN ('loading', 'loaded', 'failed'))
);
CREATE INDEX flatfile_manifest_by_dataset ON flatfile_manifest (dataset, session_date);

CREATE TABLE option_volume_0dte (
    root        text        NOT NULL,             -- SPX, SPXW, SPY, NDX, QQQ ...
    ts          timestamptz NOT NULL,             -- minute start
    call_volume bigint      NOT NULL,
    put_volume  bigint      NOT NULL,
    trades      integer     NOT NULL,
    source      text        NOT NULL,
    PRIMARY KEY (root, ts)
);
COMMENT ON TABLE option_volume_0dte IS 'Per-minute volume of contracts expiring on the trading day itself.';
