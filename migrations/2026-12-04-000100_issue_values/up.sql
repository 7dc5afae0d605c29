-- Which environments and releases each issue has seen: one row per (issue, key, value),
-- written by the storage writer in the batch's own transaction (ON CONFLICT DO NOTHING, so
-- a value already known costs one index probe and no write). The issue list filters on it
-- (`environment=`, `release=`) instead of searching the issue's events, and the issues page
-- offers its values as suggestions.
CREATE TABLE issue_values (
    project_id  uuid NOT NULL,
    key         text NOT NULL CHECK (key IN ('environment', 'release')),
    value       text NOT NULL,
    issue_id    uuid NOT NULL REFERENCES issues (id) ON DELETE CASCADE,
    first_seen  timestamptz NOT NULL,
    -- The filter's access path: every issue of a project with this value.
    PRIMARY KEY (project_id, key, value, issue_id)
);
-- The cascade from a deleted issue, and an issue's own values.
CREATE INDEX issue_values_issue_idx ON issue_values (issue_id);

-- What the events stored so far say (events have no foreign key: only their issues that exist).
INSERT INTO issue_values (project_id, key, value, issue_id, first_seen)
SELECT e.project_id, v.key, v.value, e.issue_id, min(e.received_at)
FROM events e
JOIN issues i ON i.id = e.issue_id
CROSS JOIN LATERAL (VALUES ('environment', e.environment), ('release', e.release)) AS v (key, value)
WHERE v.value IS NOT NULL
GROUP BY e.project_id, v.key, v.value, e.issue_id;
