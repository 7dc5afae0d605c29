//! Project API key authentication for ingestion, without a database round trip per event.
//!
//! A key is checked for its `mshr_` format before anything else, then looked up by its
//! SHA-256 hash (an equality lookup on a hash of a high-entropy secret leaks nothing useful
//! through timing). Answers, positive and negative, are cached for at most
//! `auth.key_cache_ttl_ms` (≤ 4 s), so a revoked key stops working within that time on
//! every node; the node that revokes a key, or deletes its project, drops the cached entries
//! at once ([`KeyCache::forget_key`], [`KeyCache::forget_project`]). Concurrent misses for
//! one key share one query. `last_used_at` is refreshed in the background on a miss, so at
//! most once per TTL per key.

use std::sync::Arc;
use std::time::Duration;

use moka::future::Cache;

use crate::db::projects;
pub use crate::db::projects::KeyProject;
use crate::db::{DbError, DbPool};
use crate::domain::{KeyId, ProjectId, keys};

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
                .support_invalidation_closures()
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

    /// Drops the cached answer for the key `key_id` (it was revoked): the next request with
    /// it is looked up again. The cache is keyed by the key's hash, so this is a predicate
    /// that moka applies to every entry cached before now; lookups never return an entry it
    /// matches.
    pub fn forget_key(&self, key_id: KeyId) {
        self.forget(move |found| found.key_id == key_id);
    }

    /// Drops the cached answers for every key of the project (it was deleted).
    pub fn forget_project(&self, project_id: ProjectId) {
        self.forget(move |found| found.project_id == project_id);
    }

    fn forget(&self, matches: impl Fn(&KeyProject) -> bool + Send + Sync + 'static) {
        let predicate =
            move |_: &String, cached: &Option<KeyProject>| cached.as_ref().is_some_and(&matches);
        if let Err(e) = self.cache.invalidate_entries_if(predicate) {
            // Only when the cache was built without invalidation closures: a bug.
            tracing::error!(error = %e, "could not invalidate cached project keys");
        }
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
