-- Entry decisions as the trading engine takes them: taken or refused (the blocks are in
-- `reasons`), at which policy level, how many shares, and the event-to-decision latency.
-- `stop` and `target` are the bracket's prices on the traded proxy.

ALTER TABLE signals
    ADD COLUMN accepted   boolean NOT NULL DEFAULT true,
    ADD COLUMN level      text,
    ADD COLUMN shares     integer NOT NULL DEFAULT 0,
    ADD COLUMN latency_us double precision;
