-- Alert delivery (an outbox): each alert's delivery state, set by the dispatcher.
--
-- status:      pending    recorded, not yet looked at
--              held       over the rate limit; goes out in the next summary message
--              delivered  sent on its own (delivered_at = when)
--              summarised sent as a line of a summary message (delivered_at = when)
--              suppressed a duplicate: its dedup_key was delivered less than the dedup window before
--              skipped    below the configured minimum severity
--              expired    older than the configured maximum age when first seen
--              failed     the webhook refused it or stayed unreachable through the retries
-- error:       why an alert was not delivered (suppressed, skipped, expired, failed); never a secret
-- attempts:    HTTP requests made for it (retries included)
-- settled_at:  when the dispatcher reached its final status

ALTER TABLE alerts
    ADD COLUMN status     text        NOT NULL DEFAULT 'pending',
    ADD COLUMN attempts   integer     NOT NULL DEFAULT 0,
    ADD COLUMN settled_at timestamptz,
    ADD CONSTRAINT alerts_status_known CHECK (
        status IN ('pending', 'held', 'delivered', 'summarised', 'suppressed', 'skipped', 'expired', 'failed')
    );

-- Alerts recorded before delivery existed: the delivered ones keep their time.
UPDATE alerts SET status = 'delivered', settled_at = delivered_at WHERE delivered_at IS NOT NULL;

CREATE INDEX alerts_unsettled ON alerts (id) WHERE status IN ('pending', 'held');
CREATE INDEX alerts_sent_by_dedup ON alerts (dedup_key, ts) WHERE delivered_at IS NOT NULL;
