// @generated automatically by Diesel CLI.

diesel::table! {
    alert_rules (id) {
        id -> Uuid,
        project_id -> Uuid,
        name -> Text,
        enabled -> Bool,
        condition -> Jsonb,
        action -> Jsonb,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        secret -> Text,
        filters -> Jsonb,
    }
}

diesel::table! {
    alert_deliveries (id) {
        id -> Uuid,
        rule_id -> Uuid,
        issue_id -> Nullable<Uuid>,
        event_id -> Nullable<Uuid>,
        payload -> Jsonb,
        attempts -> Int4,
        next_attempt_at -> Timestamptz,
        status -> Text,
        last_status -> Nullable<Int4>,
        last_error -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    alert_throttle (rule_id, issue_id) {
        rule_id -> Uuid,
        issue_id -> Uuid,
        fired_at -> Timestamptz,
    }
}

diesel::table! {
    api_keys (id) {
        id -> Uuid,
        project_id -> Uuid,
        label -> Text,
        prefix -> Text,
        key_hash -> Text,
        created_at -> Timestamptz,
        last_used_at -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    audit_log (id) {
        id -> Uuid,
        org_id -> Nullable<Uuid>,
        user_id -> Nullable<Uuid>,
        actor_user_id -> Nullable<Uuid>,
        actor_label -> Text,
        action -> Text,
        target_type -> Text,
        target_id -> Nullable<Text>,
        target_label -> Nullable<Text>,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        details -> Jsonb,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    events (id, received_at) {
        id -> Uuid,
        received_at -> Timestamptz,
        project_id -> Uuid,
        issue_id -> Uuid,
        event_id -> Nullable<Uuid>,
        timestamp -> Timestamptz,
        level -> Text,
        message -> Text,
        platform -> Nullable<Text>,
        release -> Nullable<Text>,
        environment -> Nullable<Text>,
        server_name -> Nullable<Text>,
        transaction -> Nullable<Text>,
        logger -> Nullable<Text>,
        tags -> Jsonb,
        exception -> Nullable<Jsonb>,
        breadcrumbs -> Nullable<Jsonb>,
        user_data -> Nullable<Jsonb>,
        contexts -> Nullable<Jsonb>,
        extra -> Jsonb,
    }
}

diesel::table! {
    issue_values (project_id, key, value, issue_id) {
        project_id -> Uuid,
        key -> Text,
        value -> Text,
        issue_id -> Uuid,
        first_seen -> Timestamptz,
    }
}

diesel::table! {
    issues (id) {
        id -> Uuid,
        project_id -> Uuid,
        fingerprint_hash -> Text,
        fingerprint -> Jsonb,
        title -> Text,
        culprit -> Nullable<Text>,
        level -> Text,
        status -> Text,
        first_seen -> Timestamptz,
        last_seen -> Timestamptz,
        times_seen -> Int8,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    memberships (id) {
        id -> Uuid,
        org_id -> Uuid,
        user_id -> Uuid,
        role -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    node_runs (id) {
        id -> Uuid,
        hostname -> Text,
        pid -> Int4,
        spool_dir -> Nullable<Text>,
        heartbeat_ms -> Int4,
        started_at -> Timestamptz,
        heartbeat_at -> Timestamptz,
        stopped_at -> Nullable<Timestamptz>,
        reported_at -> Nullable<Timestamptz>,
        accepted -> Int8,
        stored -> Int8,
        dropped -> Int8,
        buffered -> Int8,
    }
}

diesel::table! {
    organizations (id) {
        id -> Uuid,
        slug -> Text,
        name -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    projects (id) {
        id -> Uuid,
        org_id -> Uuid,
        number -> Int4,
        slug -> Text,
        name -> Text,
        platform -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    sessions (id) {
        id -> Uuid,
        user_id -> Uuid,
        token_hash -> Text,
        created_at -> Timestamptz,
        last_seen_at -> Timestamptz,
        expires_at -> Timestamptz,
        revoked_at -> Nullable<Timestamptz>,
        user_agent -> Nullable<Text>,
        ip -> Nullable<Text>,
    }
}

diesel::table! {
    user_tokens (id) {
        id -> Uuid,
        user_id -> Uuid,
        label -> Text,
        prefix -> Text,
        token_hash -> Text,
        created_at -> Timestamptz,
        last_used_at -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    users (id) {
        id -> Uuid,
        email -> Text,
        password_hash -> Text,
        name -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::joinable!(alert_deliveries -> alert_rules (rule_id));
diesel::joinable!(alert_rules -> projects (project_id));
diesel::joinable!(api_keys -> projects (project_id));
diesel::joinable!(issue_values -> issues (issue_id));
diesel::joinable!(issues -> projects (project_id));
diesel::joinable!(memberships -> organizations (org_id));
diesel::joinable!(memberships -> users (user_id));
diesel::joinable!(projects -> organizations (org_id));
diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(user_tokens -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    alert_deliveries,
    alert_rules,
    alert_throttle,
    api_keys,
    audit_log,
    events,
    issue_values,
    issues,
    memberships,
    node_runs,
    organizations,
    projects,
    sessions,
    user_tokens,
    users,
);
