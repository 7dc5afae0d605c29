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

use moka::future::Cache;

use crate::db::projects;
pub use crate::db::projects::KeyProject;
use crate::db::{DbError, DbPool};
use crate::domain::keys;

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
    let found = projects::find_live_key(&mut conn, &hash).await?;
    drop(conn);
    let Some(found) = found else {
        return Ok(None);
    };
    actix_rt::spawn(async move {
        let touched = async {
            let mut conn = pool.get().await?;
            projects::touch_key(&mut conn, found.key_id).await?;
            Ok::<_, DbError>(())
        };
        if let Err(e) = touched.await {
            tracing::warn!(key_id = %found.key_id, error = %e, "could not record key use");
        }
    });
    Ok(Some(found))
}
