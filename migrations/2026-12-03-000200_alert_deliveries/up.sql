-- Alerts that fire (docs/alerts.md): each rule gets its signing secret and its filters; the
-- throttle coordinates "once per window" and the cooldown across nodes; each notification is
-- a delivery row the delivery workers of every node share.

-- The Standard Webhooks secret, `whsec_` + base64 of 24 random bytes. Rules made before this
-- migration get one here (two random UUIDs give the bytes; gen_random_uuid is built in).
ALTER TABLE alert_rules ADD COLUMN secret text;
UPDATE alert_rules SET secret = 'whsec_' || encode(substring(decode(
    replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''), 'hex') from 1 for 24),
    'base64');
ALTER TABLE alert_rules ALTER COLUMN secret SET NOT NULL;
-- `{"min_level": "error", "environment": "production"}`, both optional.
ALTER TABLE alert_rules ADD COLUMN filters jsonb NOT NULL DEFAULT '{}'::jsonb;

-- When a rule last fired for an issue. A node fires only if its upsert wins: the row is new
-- or older than the quiet period (the cooldown, or the event_frequency window if longer).
CREATE TABLE alert_throttle (
    rule_id   uuid NOT NULL REFERENCES alert_rules (id) ON DELETE CASCADE,
    issue_id  uuid NOT NULL REFERENCES issues (id) ON DELETE CASCADE,
    fired_at  timestamptz NOT NULL,
    PRIMARY KEY (rule_id, issue_id)
);
CREATE INDEX alert_throttle_issue_idx ON alert_throttle (issue_id);

CREATE TABLE alert_deliveries (
    id               uuid PRIMARY KEY,
    rule_id          uuid NOT NULL REFERENCES alert_rules (id) ON DELETE CASCADE,
    -- None for a test notification.
    issue_id         uuid REFERENCES issues (id) ON DELETE CASCADE,
    event_id         uuid,
    -- The notification as sent (the webhook body), fixed when the rule fired.
    payload          jsonb NOT NULL,
    attempts         integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at  timestamptz NOT NULL,
    status           text NOT NULL CHECK (status IN ('pending', 'sending', 'delivered', 'failed')),
    -- The HTTP status of the last webhook attempt, and the last error.
    last_status      integer,
    last_error       text,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL
);
-- The delivery workers' claim: due rows that are not finished.
CREATE INDEX alert_deliveries_due_idx ON alert_deliveries (next_attempt_at)
    WHERE status IN ('pending', 'sending');
-- A rule's deliveries, newest first.
CREATE INDEX alert_deliveries_rule_idx ON alert_deliveries (rule_id, id DESC);
CREATE INDEX alert_deliveries_issue_idx ON alert_deliveries (issue_id);
