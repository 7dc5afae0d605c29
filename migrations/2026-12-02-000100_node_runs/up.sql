-- One row per run of `mesher serve` (a process, from start to exit). The run refreshes
-- heartbeat_at and its totals every node.heartbeat_ms; a graceful shutdown sets stopped_at
-- after the writers have drained. A run whose heartbeat went stale without stopped_at ended
-- without a clean shutdown (kill -9, OOM, power loss): the first node to notice reports it
-- once in its log and sets reported_at. Old rows are pruned after node.run_retention_days.
CREATE TABLE node_runs (
    id uuid PRIMARY KEY,
    hostname text NOT NULL,
    pid integer NOT NULL,
    -- writer.spool_dir of the run, when it had one (its buffered events are spooled there).
    spool_dir text,
    -- node.heartbeat_ms of the run: it counts as gone after a few of these without a beat.
    heartbeat_ms integer NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now(),
    stopped_at timestamptz,
    reported_at timestamptz,
    -- The run's ingestion totals over all projects at its last heartbeat (or its stop).
    accepted bigint NOT NULL DEFAULT 0,
    stored bigint NOT NULL DEFAULT 0,
    dropped bigint NOT NULL DEFAULT 0,
    buffered bigint NOT NULL DEFAULT 0
);

-- The runs that may have ended without a clean shutdown and were not reported yet.
CREATE INDEX node_runs_unreported ON node_runs (heartbeat_at)
    WHERE stopped_at IS NULL AND reported_at IS NULL;
CREATE INDEX node_runs_heartbeat ON node_runs (heartbeat_at);
