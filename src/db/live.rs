//! The statements of the live stream (docs/architecture.md, “The live stream”): `NOTIFY`
//! through `pg_notify`, `LISTEN`, and the reads that turn a notification back into what a
//! stream shows (the issues, in [`super::issues::find_many`], and the events' summaries).

use chrono::{DateTime, Utc};
use diesel::sql_types::{Array, Integer, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};

use super::DbError;
use crate::domain::{EventId, IssueId, Level, ProjectId};

/// Sends every payload on `channel`, in order, in one statement (one round trip).
pub async fn notify(
    conn: &mut AsyncPgConnection,
    channel: &str,
    payloads: &[String],
) -> Result<(), DbError> {
    diesel::sql_query(
        "SELECT pg_notify($1, p) FROM unnest($2::text[]) WITH ORDINALITY AS u(p, n) ORDER BY n",
    )
    .bind::<Text, _>(channel)
    .bind::<Array<Text>, _>(payloads)
    .execute(conn)
    .await?;
    Ok(())
}

/// Starts listening on `channel` (a constant identifier, never input).
pub async fn listen(conn: &mut AsyncPgConnection, channel: &'static str) -> Result<(), DbError> {
    conn.batch_execute(&format!("LISTEN {channel}")).await?;
    Ok(())
}

/// Checks that the connection still answers.
pub async fn ping(conn: &mut AsyncPgConnection) -> Result<(), DbError> {
    conn.batch_execute("SELECT 1").await?;
    Ok(())
}

/// A dedicated connection outside the pool (the live stream's listener and publisher),
/// named in `pg_activity` as `application_name`.
pub async fn connect(url: &str, application_name: &str) -> Result<AsyncPgConnection, DbError> {
    let mut conn = AsyncPgConnection::establish(url).await?;
    conn.batch_execute(&format!("SET application_name = '{application_name}'"))
        .await?;
    Ok(conn)
}

/// A stored event as the live stream shows it.
#[derive(Debug, Clone, diesel::QueryableByName, serde::Serialize)]
pub struct StreamEvent {
    #[diesel(sql_type = SqlUuid)]
    pub id: EventId,
    #[diesel(sql_type = SqlUuid)]
    pub issue_id: IssueId,
    #[diesel(sql_type = Timestamptz)]
    pub received_at: DateTime<Utc>,
    #[diesel(sql_type = Text)]
    pub level: Level,
    /// The message, cut to `max_chars` characters.
    #[diesel(sql_type = Text)]
    pub message: String,
}

/// The project's events among `ids`, received between `from` and `to` (so only those day
/// partitions are read), oldest first; messages cut to `max_chars` characters.
pub async fn stream_events(
    conn: &mut AsyncPgConnection,
    project_id: ProjectId,
    ids: &[EventId],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    max_chars: i32,
) -> Result<Vec<StreamEvent>, DbError> {
    let rows = diesel::sql_query(
        "SELECT id, issue_id, received_at, level, left(message, $5) AS message FROM events \
         WHERE project_id = $1 AND id = ANY($2) AND received_at BETWEEN $3 AND $4 \
         ORDER BY received_at, id",
    )
    .bind::<SqlUuid, _>(project_id)
    .bind::<Array<SqlUuid>, _>(ids)
    .bind::<Timestamptz, _>(from)
    .bind::<Timestamptz, _>(to)
    .bind::<Integer, _>(max_chars)
    .load(conn)
    .await?;
    Ok(rows)
}
