-- The audit log: who did what, from where, when (docs/api.md, "Audit log"). One row per
-- change, written in the transaction of the change it records, and per login attempt.
--
-- org_id has no foreign key on purpose: the entry that records an organization's deletion
-- (and those before it) must outlive the organization (org_deleted keeps its slug and name
-- in details). user_id is the account an account-level entry is about (logins, logout,
-- password, tokens), NULL on organization entries; actor_user_id is who acted (NULL for a
-- failed login, whose actor_label is the email tried). details never holds a secret.
CREATE TABLE audit_log (
    id uuid PRIMARY KEY,
    org_id uuid,
    user_id uuid REFERENCES users (id) ON DELETE CASCADE,
    actor_user_id uuid REFERENCES users (id) ON DELETE SET NULL,
    actor_label text NOT NULL,
    action text NOT NULL CHECK (action IN (
        'login_succeeded', 'login_failed', 'logout', 'password_changed',
        'token_created', 'token_revoked',
        'org_created', 'org_renamed', 'org_deleted',
        'member_added', 'member_removed', 'member_role_changed',
        'project_created', 'project_deleted', 'key_created', 'key_revoked',
        'alert_rule_created', 'alert_rule_changed', 'alert_rule_deleted'
    )),
    target_type text NOT NULL,
    target_id text,
    target_label text,
    ip text,
    user_agent text,
    details jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now()
);

-- An organization's log, newest first (GET /api/v1/orgs/{org}/audit, keyset on both).
CREATE INDEX audit_log_org ON audit_log (org_id, created_at DESC, id DESC)
    WHERE org_id IS NOT NULL;
-- An account's own entries (GET /api/v1/auth/audit).
CREATE INDEX audit_log_user ON audit_log (user_id, created_at DESC, id DESC)
    WHERE user_id IS NOT NULL;
-- What one person did (the actor filter, and the foreign key's SET NULL).
CREATE INDEX audit_log_actor ON audit_log (actor_user_id, created_at DESC);
