-- Issues (groups of events with one fingerprint) and the events themselves.

CREATE TABLE issues (
    id                uuid PRIMARY KEY,
    project_id        uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    -- SHA-256 hex of the fingerprint components: fixed size, so a long stack trace never
    -- hits the B-tree entry size limit. The readable components sit beside it.
    fingerprint_hash  text NOT NULL CHECK (char_length(fingerprint_hash) = 64),
    fingerprint       jsonb NOT NULL,
    title             text NOT NULL,
    culprit           text,
    level             text NOT NULL CHECK (level IN ('debug', 'info', 'warning', 'error', 'fatal')),
    status            text NOT NULL DEFAULT 'unresolved' CHECK (status IN ('unresolved', 'resolved', 'ignored')),
    first_seen        timestamptz NOT NULL,
    last_seen         timestamptz NOT NULL,
    times_seen        bigint NOT NULL DEFAULT 0 CHECK (times_seen >= 0),
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    -- The writer's upsert target (ON CONFLICT (project_id, fingerprint_hash)).
    UNIQUE (project_id, fingerprint_hash)
);
-- The issue list's default order, and its other sorts.
CREATE INDEX issues_project_last_seen_idx ON issues (project_id, last_seen DESC, id DESC);
CREATE INDEX issues_project_first_seen_idx ON issues (project_id, first_seen DESC, id DESC);
CREATE INDEX issues_project_times_seen_idx ON issues (project_id, times_seen DESC, id DESC);

-- Range-partitioned by day on the server's receive time, one partition per UTC day
-- (events_YYYY_MM_DD), created ahead and dropped past retention by the partition job.
-- No DEFAULT partition: rows in it would block creating the day partition they belong to.
-- No foreign keys: they cost a lookup per inserted row on the hottest path; project_id and
-- issue_id are written only by the storage writer from rows it has just read or upserted,
-- and project deletion removes its events explicitly.
CREATE TABLE events (
    id           uuid NOT NULL,            -- UUIDv7 assigned at receive time
    received_at  timestamptz NOT NULL,     -- partition key
    project_id   uuid NOT NULL,
    issue_id     uuid NOT NULL,
    event_id     uuid,                     -- the client's own id, when it sent one
    "timestamp"  timestamptz NOT NULL,     -- the event's own time, as the client said
    level        text NOT NULL CHECK (level IN ('debug', 'info', 'warning', 'error', 'fatal')),
    message      text NOT NULL,
    platform     text,
    release      text,
    environment  text,
    server_name  text,
    transaction  text,
    logger       text,
    tags         jsonb NOT NULL DEFAULT '{}'::jsonb,
    exception    jsonb,
    breadcrumbs  jsonb,
    user_data    jsonb,
    contexts     jsonb,
    extra        jsonb NOT NULL DEFAULT '{}'::jsonb,
    PRIMARY KEY (id, received_at)
) PARTITION BY RANGE (received_at);

-- Project event list, newest first, keyset-paginated on (received_at, id).
CREATE INDEX events_project_received_idx ON events (project_id, received_at DESC, id DESC);
-- An issue's events, newest first.
CREATE INDEX events_issue_received_idx ON events (issue_id, received_at DESC, id DESC);
-- tag=k:v filters as containment (tags @> '{"k":"v"}'); jsonb_path_ops is smaller and
-- faster to maintain than the default GIN opclass and supports exactly @>.
CREATE INDEX events_tags_idx ON events USING gin (tags jsonb_path_ops);
