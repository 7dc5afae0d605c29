//! Rows written straight into a test database through mesher's own library, for set-ups the
//! HTTP API cannot make (or not quickly): the tests' organization `test-org` with projects
//! and keys, memberships, and stored events received at chosen times.
//!
//! This is the one place where the tests call `mesher::db` with ids; a change of the id
//! types there is adapted here (and in `TestApp::settle`, `stored_count`, `assert_accounted`).

use chrono::{DateTime, DurationRound, NaiveDate, TimeDelta, Utc};
use mesher::db::{accounts, events as db_events, partitions, projects};
use mesher::domain::keys;
use mesher::domain::{BatchFacts, EventId, KeyId, OrgId, PendingEvent, ProjectId};
use serde_json::Value;
use uuid::Uuid;

use super::app::TestApp;
use super::db::TestDb;
use super::users::TestUser;

/// The organization every fixture project belongs to.
pub const TEST_ORG: &str = "test-org";

/// A project of the test database and one of its keys.
pub struct TestProject {
    pub id: ProjectId,
    /// The project's number in Sentry DSNs.
    pub number: i32,
    pub key: String,
    pub key_id: KeyId,
}

impl TestApp {
    /// Creates `test-org` (once), a project and a key for it, straight in the database.
    pub async fn project(&self, slug: &str) -> TestProject {
        create_project(&self.db, slug).await
    }
}

/// Creates `test-org` (once), a project and a key for it, straight in `db`.
pub async fn create_project(db: &TestDb, slug: &str) -> TestProject {
    let mut conn = db.conn().await;
    let org = match accounts::find_org_by_slug(&mut conn, TEST_ORG)
        .await
        .unwrap()
    {
        Some(org) => org,
        None => accounts::create_org(
            &mut conn,
            &accounts::NewOrganization {
                id: OrgId::new(),
                slug: TEST_ORG,
                name: "Test",
            },
        )
        .await
        .unwrap(),
    };
    let project = projects::create_project(
        &mut conn,
        &projects::NewProject {
            id: ProjectId::new(),
            org_id: org.id,
            slug,
            name: slug,
            platform: None,
        },
    )
    .await
    .unwrap();
    let key = keys::generate_project_key();
    let row = projects::create_api_key(
        &mut conn,
        &projects::NewApiKey {
            id: KeyId::new(),
            project_id: project.id,
            label: "test",
            prefix: &keys::display_prefix(&key),
            key_hash: &keys::hash_secret(&key),
        },
    )
    .await
    .unwrap();
    TestProject {
        id: project.id,
        number: project.number,
        key,
        key_id: row.id,
    }
}

/// Makes `user` a member of `test-org` with `role` (create a project first).
pub async fn join(app: &TestApp, user: &TestUser, role: &str) {
    let mut conn = app.db.conn().await;
    let org = accounts::find_org_by_slug(&mut conn, TEST_ORG)
        .await
        .unwrap()
        .expect("test-org exists once a project was created");
    accounts::upsert_membership(&mut conn, org.id, user.id, role.parse().unwrap())
        .await
        .unwrap();
}

/// Registers `email` and makes them a member of `test-org` (create a project first).
pub async fn member(app: &TestApp, email: &str) -> TestUser {
    let user = app.user(email).await;
    join(app, &user, "member").await;
    user
}

/// A UUIDv7 carrying time `t`, as the server would have assigned at receive time.
pub fn v7_at(t: DateTime<Utc>) -> Uuid {
    Uuid::new_v7(uuid::Timestamp::from_unix(
        uuid::NoContext,
        t.timestamp() as u64,
        t.timestamp_subsec_nanos(),
    ))
}

/// Stores `events` (payload, receive time) for `project` through the writer's own
/// `write_batch`, creating the day partitions they need. Returns them with their ids.
pub async fn seed(
    app: &TestApp,
    project: ProjectId,
    events: Vec<(Value, DateTime<Utc>)>,
) -> Vec<PendingEvent> {
    seed_with_facts(app, project, events).await.0
}

/// [`seed`], also answering the facts `write_batch` reported for the committed batch.
pub async fn seed_with_facts(
    app: &TestApp,
    project: ProjectId,
    events: Vec<(Value, DateTime<Utc>)>,
) -> (Vec<PendingEvent>, BatchFacts) {
    let batch: Vec<PendingEvent> = events
        .into_iter()
        .map(|(payload, at)| {
            let event = mesher::domain::parse_event(payload.to_string().as_bytes())
                .unwrap_or_else(|e| panic!("{payload}: {e}"));
            let mut pending = PendingEvent::new(event, at);
            pending.id = EventId(v7_at(at));
            pending
        })
        .collect();
    let days: Vec<NaiveDate> = db_events::batch_days(&batch);
    let mut conn = app.db.conn().await;
    if let (Some(first), Some(last)) = (days.first(), days.last()) {
        partitions::ensure_range(&mut conn, *first, *last)
            .await
            .unwrap();
    }
    let facts = db_events::write_batch(&mut conn, project, &batch)
        .await
        .unwrap();
    (batch, facts)
}

/// Start of today (UTC), to the second.
pub fn today() -> DateTime<Utc> {
    Utc::now().duration_trunc(TimeDelta::days(1)).unwrap()
}

/// The ids of `events` newest first: (received_at desc, id desc).
pub fn newest_first(events: &[PendingEvent]) -> Vec<Uuid> {
    let mut keyed: Vec<_> = events.iter().map(|e| (e.received_at, e.id)).collect();
    keyed.sort_by(|a, b| b.cmp(a));
    keyed.into_iter().map(|(_, id)| id.uuid()).collect()
}
