//! Day partitions of `events`: one per UTC day, named `events_YYYY_MM_DD`, holding
//! `[day 00:00 UTC, day+1 00:00 UTC)` of `received_at`.
//!
//! Creation and pruning take a transaction-scoped advisory lock, so two servers (or a server
//! and `mesher partitions`) running maintenance at once serialise instead of racing on
//! `CREATE TABLE` (which would fail on the catalog's unique index).

use chrono::{Days, NaiveDate};
use diesel::sql_types::{BigInt, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use super::DbError;

/// Advisory lock key of partition maintenance ("mesher-partitions", arbitrary but fixed).
const MAINTENANCE_LOCK: i64 = 0x6d65_7368_6572_7031;

/// The partition table name for `day`.
pub fn partition_name(day: NaiveDate) -> String {
    day.format("events_%Y_%m_%d").to_string()
}

/// The day a partition name stands for, or `None` for any other table name.
pub fn partition_day(name: &str) -> Option<NaiveDate> {
    let rest = name.strip_prefix("events_")?;
    if rest.len() != 10 {
        return None;
    }
    NaiveDate::parse_from_str(rest, "%Y_%m_%d").ok()
}

/// What one maintenance pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MaintenanceReport {
    pub created: Vec<String>,
    pub dropped: Vec<String>,
}

#[derive(diesel::QueryableByName)]
struct NameRow {
    #[diesel(sql_type = Text)]
    relname: String,
}

/// Every existing day partition of `events`, oldest first.
pub async fn list(conn: &mut AsyncPgConnection) -> Result<Vec<(String, NaiveDate)>, DbError> {
    let rows: Vec<NameRow> = diesel::sql_query(
        "SELECT c.relname::text AS relname FROM pg_inherits i \
         JOIN pg_class c ON c.oid = i.inhrelid \
         WHERE i.inhparent = 'events'::regclass",
    )
    .load(conn)
    .await?;
    let mut days: Vec<(String, NaiveDate)> = rows
        .into_iter()
        .filter_map(|r| partition_day(&r.relname).map(|d| (r.relname, d)))
        .collect();
    days.sort_by_key(|(_, d)| *d);
    Ok(days)
}

async fn lock(conn: &mut AsyncPgConnection) -> Result<(), DbError> {
    diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
        .bind::<BigInt, _>(MAINTENANCE_LOCK)
        .execute(conn)
        .await?;
    Ok(())
}

async fn create_missing(
    conn: &mut AsyncPgConnection,
    days: impl Iterator<Item = NaiveDate>,
) -> Result<Vec<String>, DbError> {
    let existing: std::collections::HashSet<NaiveDate> =
        list(conn).await?.into_iter().map(|(_, d)| d).collect();
    let mut created = Vec::new();
    for day in days.filter(|d| !existing.contains(d)) {
        let name = partition_name(day);
        let next = day + Days::new(1);
        // Names and bounds come from a NaiveDate, never from input: formatting them in is safe.
        diesel::sql_query(format!(
            "CREATE TABLE IF NOT EXISTS {name} PARTITION OF events \
             FOR VALUES FROM ('{day} 00:00:00+00') TO ('{next} 00:00:00+00')"
        ))
        .execute(conn)
        .await?;
        created.push(name);
    }
    Ok(created)
}

/// Creates the partitions of `first..=last` that do not exist yet; returns those created.
pub async fn ensure_range(
    conn: &mut AsyncPgConnection,
    first: NaiveDate,
    last: NaiveDate,
) -> Result<Vec<String>, DbError> {
    conn.transaction(async |conn| {
        lock(conn).await?;
        create_missing(conn, first.iter_days().take_while(|d| *d <= last)).await
    })
    .await
}

/// Drops every day partition older than `keep_from`; returns those dropped.
pub async fn prune_before(
    conn: &mut AsyncPgConnection,
    keep_from: NaiveDate,
) -> Result<Vec<String>, DbError> {
    conn.transaction(async |conn| {
        lock(conn).await?;
        let mut dropped = Vec::new();
        for (name, day) in list(conn).await? {
            if day < keep_from {
                diesel::sql_query(format!("DROP TABLE IF EXISTS {name}"))
                    .execute(conn)
                    .await?;
                dropped.push(name);
            }
        }
        Ok(dropped)
    })
    .await
}

/// One maintenance pass for `today`: partitions from yesterday to `today + days_ahead`
/// exist afterwards, and those older than `today - retention_days` are gone.
pub async fn maintain(
    conn: &mut AsyncPgConnection,
    today: NaiveDate,
    days_ahead: u32,
    retention_days: u32,
) -> Result<MaintenanceReport, DbError> {
    let first = today - Days::new(1);
    let last = today + Days::new(u64::from(days_ahead));
    let created = ensure_range(conn, first, last).await?;
    let dropped = prune_before(conn, today - Days::new(u64::from(retention_days))).await?;
    Ok(MaintenanceReport { created, dropped })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        let day = NaiveDate::from_ymd_opt(2026, 1, 9).unwrap();
        assert_eq!(partition_name(day), "events_2026_01_09");
        assert_eq!(partition_day("events_2026_01_09"), Some(day));
    }

    #[test]
    fn other_names_are_not_partitions() {
        for name in [
            "events",
            "events_2026_13_01",
            "events_2026_01_09_x",
            "issues",
        ] {
            assert_eq!(partition_day(name), None, "{name}");
        }
    }
}
