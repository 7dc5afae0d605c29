//! Project API key authentication for ingestion, without a database round trip per event.
//!
//! A key is checked for its `mshr_` format before anything else, then looked up by its
//! SHA-256 hash (an equality lookup on a hash of a high-entropy secret leaks nothing useful
//! through timing). Answers, positive and negative, are cached for at most
//! `ingest.key_cache_ttl_ms` (≤ 5 s), so a revoked key stops working within that time on
//! every node; concurrent misses for one key share one query. `last_used_at` is refreshed
//! in the background on a miss, so at most once per TTL per key.

use std::sync::Arc;
use std::time::Duration;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use moka::future::Cache;
use uuid::Uuid;

use crate::db::schema::{api_keys, projects};
use crate::db::{DbError, DbPool};
use crate::domain::keys;

/// The project a valid key belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyProject {
    pub key_id: Uuid,
    pub project_id: Uuid,
    /// The project's number in Sentry DSNs.
    pub project_number: i32,
}

/// Why a key was refused.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the key is not a Mesher project key (mshr_…)")]
    Malformed,
    #[error("unknown or revoked key")]
    Unknown,
    #[error(transparent)]
    Db(#[from] Arc<DbError>),
}

/// Cached key → project lookups. Cheap to clone.
#[derive(Clone)]
pub struct KeyCache {
    cache: Cache<String, Option<KeyProject>>,
    pool: DbPool,
}

impl KeyCache {
    pub fn new(pool: DbPool, ttl: Duration) -> Self {
        Self {
            cache: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(ttl)
                .build(),
            pool,
        }
    }

    /// The project of `key`, or why not.
    pub async fn authenticate(&self, key: &str) -> Result<KeyProject, KeyError> {
        if !keys::is_valid_project_key_format(key) {
            return Err(KeyError::Malformed);
        }
        let hash = keys::hash_secret(key);
        let pool = self.pool.clone();
        let found = self
            .cache
            .try_get_with(hash.clone(), lookup(pool, hash))
            .await?;
        found.ok_or(KeyError::Unknown)
    }
}

async fn lookup(pool: DbPool, hash: String) -> Result<Option<KeyProject>, DbError> {
    let mut conn = pool.get().await?;
    let found: Option<(Uuid, Uuid, i32)> = api_keys::table
        .inner_join(projects::table)
        .filter(api_keys::key_hash.eq(&hash))
        .filter(api_keys::revoked_at.is_null())
        .select((api_keys::id, projects::id, projects::number))
        .first(&mut conn)
        .await
        .optional()?;
    drop(conn);
    let Some((key_id, project_id, project_number)) = found else {
        return Ok(None);
    };
    actix_rt::spawn(async move {
        let touched = async {
            let mut conn = pool.get().await?;
            diesel::update(api_keys::table.find(key_id))
                .set(api_keys::last_used_at.eq(diesel::dsl::now))
                .execute(&mut conn)
                .await?;
            Ok::<_, DbError>(())
        };
        if let Err(e) = touched.await {
            tracing::warn!(%key_id, error = %e, "could not record key use");
        }
    });
    Ok(Some(KeyProject {
        key_id,
        project_id,
        project_number,
    }))
}
