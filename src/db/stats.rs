//! Database-side totals of a project for the stats endpoint.

use super::schema::issues;
use crate::domain::ProjectId;
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

/// The project's issue count and the sum of their `times_seen` (every event ever stored for
/// the project, including those whose partitions retention has since dropped). One pass over
/// the `(project_id, times_seen)` index.
pub async fn issue_totals(
    conn: &mut AsyncPgConnection,
    project_id: ProjectId,
) -> QueryResult<(i64, i64)> {
    issues::table
        .filter(issues::project_id.eq(project_id))
        .select((
            diesel::dsl::count_star(),
            diesel::dsl::sql::<BigInt>("COALESCE(SUM(times_seen), 0)::bigint"),
        ))
        .first(conn)
        .await
}
