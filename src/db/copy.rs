//! The writer's fast path: a batch stored with the events rows sent by binary `COPY`.
//!
//! diesel-async has no `COPY`, so this module keeps a small pool of plain `tokio-postgres`
//! connections ([`CopyPool`], the same crate diesel-async is built on) used for nothing else.
//! A batch is one transaction on one of them: the issue upsert and the reopening of
//! regressed issues and the issues' environments and releases — the same statements as [`super::events::write_batch`], bound through
//! tokio-postgres — then `COPY events (…) FROM STDIN (FORMAT binary)` with every row, then
//! `COMMIT`. Both statements run on the same connection inside the same transaction, so a
//! batch is stored whole or not at all, exactly as on the `INSERT … FROM unnest` path
//! (`writer.copy_events = false`), which stays for comparison and as a fallback.
//!
//! Errors are turned into diesel's [`DatabaseErrorKind`] and message (from the SQLSTATE), so
//! the writer tells transient failures, bad rows and a deleted project apart the same way
//! on both paths (`db/failure.rs`). Measured gain: docs/benchmarks.md, “Profile: instructions
//! per event”.

use std::pin::pin;
use std::time::Duration;

use diesel::result::{DatabaseErrorKind, Error as QueryError};
use secrecy::ExposeSecret;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, NoTls};
use uuid::Uuid;

use super::DbError;
use super::events::{
    INSERT_ISSUE_VALUES, IssueColumns, IssueValues, ProjectBatch, REOPEN_ISSUES, ReopenedIssue,
    UPSERT_ISSUES, UpsertedIssue, facts, issue_ids,
};
use super::types::JsonText;
use crate::config::DatabaseSettings;
use crate::domain::pending::Field;
use crate::domain::{BatchFacts, IssueId, IssueStatus, PendingEvent, ProjectId};

/// The pool of connections the writers `COPY` through.
pub type CopyPool = bb8::Pool<CopyManager>;

/// Opens the pool's connections: `tokio-postgres` without TLS, like diesel-async's, with the
/// same `statement_timeout` and `application_name` (`mesher`, as `pg_stat_activity` shows the pool's).
pub struct CopyManager {
    config: tokio_postgres::Config,
    setup: String,
}

impl bb8::ManageConnection for CopyManager {
    type Connection = Client;
    type Error = tokio_postgres::Error;

    async fn connect(&self) -> Result<Client, tokio_postgres::Error> {
        let client = connect_with(&self.config).await?;
        client.batch_execute(&self.setup).await?;
        Ok(client)
    }

    async fn is_valid(&self, client: &mut Client) -> Result<(), tokio_postgres::Error> {
        client.simple_query("").await.map(drop)
    }

    fn has_broken(&self, client: &mut Client) -> bool {
        client.is_closed()
    }
}

/// A connection to `url` for [`write_batch`] (tools and tests; the writers use the pool).
pub async fn connect(url: &str) -> Result<Client, DbError> {
    let config = url.parse().map_err(|e: tokio_postgres::Error| {
        DbError::Connect(diesel::ConnectionError::InvalidConnectionUrl(e.to_string()))
    })?;
    Ok(connect_with(&config).await?)
}

/// Connects and drives the connection on a task of the current runtime, as diesel-async does.
async fn connect_with(config: &tokio_postgres::Config) -> Result<Client, tokio_postgres::Error> {
    let (client, connection) = config.connect(NoTls).await?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(%error, "copy connection ended");
        }
    });
    Ok(client)
}

/// Builds the pool (no connection is opened before the first flush needs one).
pub async fn build_pool(settings: &DatabaseSettings) -> Result<CopyPool, DbError> {
    let config: tokio_postgres::Config =
        settings
            .url
            .expose_secret()
            .parse()
            .map_err(|e: tokio_postgres::Error| {
                DbError::Connect(diesel::ConnectionError::InvalidConnectionUrl(e.to_string()))
            })?;
    let manager = CopyManager {
        config,
        setup: format!(
            "SET statement_timeout = {}; SET application_name = 'mesher'",
            settings.statement_timeout_ms
        ),
    };
    Ok(bb8::Pool::builder()
        .max_size(settings.pool_size)
        .connection_timeout(Duration::from_secs(settings.connect_timeout_secs))
        .build_unchecked(manager))
}

/// A connection from `pool` for a writer, waiting at most `wait` for the database (see
/// [`super::get_queued`]).
pub async fn get_queued(
    pool: &CopyPool,
    wait: Option<Duration>,
) -> Result<bb8::PooledConnection<'_, CopyManager>, DbError> {
    let got = match wait {
        Some(wait) => super::get_queued(pool, wait).await,
        None => pool.get().await,
    };
    got.map_err(|e| match e {
        bb8::RunError::TimedOut => DbError::Pool(bb8::RunError::TimedOut),
        bb8::RunError::User(e) => {
            DbError::Connect(diesel::ConnectionError::BadConnection(e.to_string()))
        }
    })
}

const COPY_EVENTS: &str = "\
COPY events (id, received_at, project_id, issue_id, event_id, \"timestamp\", level, message,
             platform, release, environment, server_name, transaction, logger,
             tags, exception, breadcrumbs, user_data, contexts, extra)
FROM STDIN (FORMAT binary)";

/// The columns of [`COPY_EVENTS`], in order.
const COLUMN_TYPES: [Type; 20] = [
    Type::UUID,
    Type::TIMESTAMPTZ,
    Type::UUID,
    Type::UUID,
    Type::UUID,
    Type::TIMESTAMPTZ,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::JSONB,
    Type::JSONB,
    Type::JSONB,
    Type::JSONB,
    Type::JSONB,
    Type::JSONB,
];

/// Stores `batch` (all of `project_id`) in one transaction on `client`: issues upserted,
/// events copied. The same result as [`super::events::write_batch`].
pub async fn write_batch(
    client: &mut Client,
    project_id: ProjectId,
    batch: &[PendingEvent],
) -> Result<BatchFacts, DbError> {
    let batches = [ProjectBatch {
        project_id,
        events: batch,
    }];
    let mut facts = write_batches(client, &batches, None).await?;
    Ok(facts.pop().ok_or(QueryError::NotFound)?)
}

/// Stores the batches of several projects (each project at most once) in one transaction:
/// one upsert of all their issues, one `COPY` of all their events, one commit — what makes
/// a thousand projects' small batches cost a few transactions a second instead of a
/// thousand. All or nothing: a failure leaves every batch unwritten. With `lock_timeout`, a
/// lock that is not granted within it fails the transaction (PostgreSQL's `lock_timeout`)
/// instead of holding every project of it behind one project's locked row. Answers each
/// batch's facts, in order.
pub async fn write_batches(
    client: &mut Client,
    batches: &[ProjectBatch<'_>],
    lock_timeout: Option<Duration>,
) -> Result<Vec<BatchFacts>, DbError> {
    let issues = IssueColumns::of(batches);
    if issues.ids.is_empty() {
        return Ok(facts(batches, Vec::new(), &[]));
    }
    let tx = client.transaction().await?;
    if let Some(wait) = lock_timeout {
        tx.batch_execute(&format!(
            "SET LOCAL lock_timeout = {}",
            wait.as_millis().max(1)
        ))
        .await?;
    }
    let projects: Vec<Uuid> = issues.projects.iter().map(|id| id.uuid()).collect();
    let ids: Vec<Uuid> = issues.ids.iter().map(|id| id.uuid()).collect();
    let params: [&(dyn ToSql + Sync); 10] = [
        &projects,
        &ids,
        &issues.hashes,
        &issues.fps,
        &issues.titles,
        &issues.culprits,
        &issues.levels,
        &issues.firsts,
        &issues.lasts,
        &issues.counts,
    ];
    let upserted = tx
        .query(UPSERT_ISSUES, &params)
        .await?
        .iter()
        .map(upserted_issue)
        .collect::<Result<Vec<_>, DbError>>()?;
    let resolved: Vec<Uuid> = upserted
        .iter()
        .filter(|u| u.status == IssueStatus::Resolved)
        .map(|u| u.id.uuid())
        .collect();
    let reopened = if resolved.is_empty() {
        Vec::new()
    } else {
        tx.query(REOPEN_ISSUES, &[&resolved])
            .await?
            .iter()
            .map(|row| {
                Ok(ReopenedIssue {
                    id: IssueId(row.try_get(0)?),
                })
            })
            .collect::<Result<Vec<_>, DbError>>()?
    };
    let issue_ids = issue_ids(batches, &upserted)?;
    let values = IssueValues::of(batches, &issue_ids);
    if !values.is_empty() {
        let projects: Vec<Uuid> = values.projects.iter().map(|id| id.uuid()).collect();
        let issues: Vec<Uuid> = values.issues.iter().map(|id| id.uuid()).collect();
        tx.execute(
            INSERT_ISSUE_VALUES,
            &[
                &projects,
                &values.keys,
                &values.values,
                &issues,
                &values.firsts,
            ],
        )
        .await?;
    }

    let sink = tx.copy_in(COPY_EVENTS).await?;
    let mut rows = pin!(BinaryCopyInWriter::new(sink, &COLUMN_TYPES));
    let events = batches
        .iter()
        .flat_map(|b| b.events.iter().map(move |e| (b.project_id.uuid(), e)));
    for ((project, e), issue) in events.zip(&issue_ids) {
        let json = |f: Field| e.get(f).map(JsonText);
        rows.as_mut()
            .write(&[
                &e.id.uuid(),
                &e.received_at,
                &project,
                &issue.uuid(),
                &e.event_id,
                &e.timestamp,
                &e.level.as_str(),
                &e.message(),
                &e.get(Field::Platform),
                &e.get(Field::Release),
                &e.get(Field::Environment),
                &e.get(Field::ServerName),
                &e.get(Field::Transaction),
                &e.get(Field::Logger),
                &json(Field::Tags).unwrap_or(JsonText("{}")),
                &json(Field::Exception),
                &json(Field::Breadcrumbs),
                &json(Field::User),
                &json(Field::Contexts),
                &json(Field::Extra).unwrap_or(JsonText("{}")),
            ])
            .await?;
    }
    rows.as_mut().finish().await?;
    tx.commit().await?;
    Ok(facts(batches, upserted, &reopened))
}

fn upserted_issue(row: &tokio_postgres::Row) -> Result<UpsertedIssue, DbError> {
    let text = |i: usize| row.try_get::<_, &str>(i);
    let unexpected = |what: &str, value: &str| {
        DbError::Query(QueryError::DeserializationError(
            format!("unexpected {what} in the database: {value:?}").into(),
        ))
    };
    Ok(UpsertedIssue {
        id: IssueId(row.try_get(0)?),
        project_id: ProjectId(row.try_get(1)?),
        fingerprint_hash: row.try_get(2)?,
        created: row.try_get(3)?,
        status: text(4)?
            .parse()
            .map_err(|_| unexpected("issue status", text(4).unwrap_or_default()))?,
        times_seen: row.try_get(5)?,
        level: text(6)?
            .parse()
            .map_err(|_| unexpected("level", text(6).unwrap_or_default()))?,
        last_seen: row.try_get(7)?,
    })
}

/// A tokio-postgres error as diesel would have reported it: the kind from the SQLSTATE and
/// PostgreSQL's message, so `DbError::failure` and `is_missing_partition` apply unchanged.
impl From<tokio_postgres::Error> for DbError {
    fn from(e: tokio_postgres::Error) -> Self {
        let Some(db) = e.as_db_error() else {
            let kind = if e.is_closed() {
                DatabaseErrorKind::ClosedConnection
            } else {
                DatabaseErrorKind::UnableToSendCommand
            };
            return DbError::Query(QueryError::DatabaseError(kind, Box::new(e.to_string())));
        };
        let code = db.code();
        let kind = if *code == SqlState::FOREIGN_KEY_VIOLATION {
            DatabaseErrorKind::ForeignKeyViolation
        } else if *code == SqlState::UNIQUE_VIOLATION {
            DatabaseErrorKind::UniqueViolation
        } else if *code == SqlState::NOT_NULL_VIOLATION {
            DatabaseErrorKind::NotNullViolation
        } else if *code == SqlState::CHECK_VIOLATION {
            DatabaseErrorKind::CheckViolation
        } else if *code == SqlState::EXCLUSION_VIOLATION {
            DatabaseErrorKind::ExclusionViolation
        } else if *code == SqlState::RESTRICT_VIOLATION {
            DatabaseErrorKind::RestrictViolation
        } else if *code == SqlState::T_R_SERIALIZATION_FAILURE {
            DatabaseErrorKind::SerializationFailure
        } else if *code == SqlState::READ_ONLY_SQL_TRANSACTION {
            DatabaseErrorKind::ReadOnlyTransaction
        } else {
            DatabaseErrorKind::Unknown
        };
        DbError::Query(QueryError::DatabaseError(
            kind,
            Box::new(db.message().to_owned()),
        ))
    }
}
