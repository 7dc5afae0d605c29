//! Project API key authentication for ingestion, without a database round trip per event.
//!
//! A key is checked for its `mshr_` format before anything else, then looked up by its
//! SHA-256 hash (an equality lookup on a hash of a high-entropy secret leaks nothing useful
//! through timing). Answers, positive and negative, are cached for at most
//! `auth.key_cache_ttl_ms` (≤ 4 s), so a revoked key stops working within that time on
//! every node; the node that revokes a key, or deletes its project, drops the cached entries
//! at once ([`KeyCache::forget_key`], [`KeyCache::forget_project`]). Concurrent misses for
//! one key share one query. A miss that finds the key records its use, and
//! [`KeyUses`] writes the uses of all keys to `last_used_at` in one statement a second.
//!
//! **Keys in use are refreshed together** ([`KeyCache::refresh_every`]): every half TTL the
//! keys that authenticated a request since the last round are looked up again in one query
//! and cached again — a key revoked meanwhile as unknown. So a key in steady use never
//! misses, a thousand of them cost the database one query per half TTL instead of a
//! thousand per TTL, and a revocation is still seen within the TTL on every node (within
//! half of it, for a key in use). A round that fails changes nothing: the entries expire
//! and are looked up one by one, as below.
//!
//! **While the database is down** (no connection within `database.acquire_timeout_ms`, or
//! the connection breaks), a key the node has seen is still accepted: the last answer the
//! database gave for it, kept without a TTL in a second bounded map, is served again — and
//! cached again for one TTL, so during an outage a key costs one failed lookup per TTL, not
//! one per request. Only positive answers are kept: a key that was unknown, or that the
//! database stopped finding (revoked), is never served stale, and an unknown key during an
//! outage is a 503 within the acquire timeout. Once the database answers again, the next
//! lookup after the TTL replaces (or forgets) the stale answer. See docs/architecture.md,
//! "When the database is down".

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use moka::future::Cache;

use super::key_use::KeyUses;
use crate::db::failure::Failure;
use crate::db::projects;
pub use crate::db::projects::KeyProject;
use crate::db::{self, DbError, DbPool};
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
    /// The last positive answer of the database for each key hash, without a TTL: served
    /// only when the database cannot be asked.
    last_known: LastKnown,
    /// Keys found by lookups, written to `last_used_at` in batches.
    uses: KeyUses,
    /// Hashes of the keys that authenticated a request since the last refresh round.
    in_use: Arc<Mutex<HashSet<String>>>,
    /// Bumped by every `forget`: a refresh round that saw it move caches nothing.
    generation: Arc<AtomicU64>,
    /// Database lookups: of one key (a miss), and refresh rounds.
    lookups: Arc<[AtomicU64; 2]>,
    pool: DbPool,
    /// How long a lookup waits for a pooled connection (`database.acquire_timeout_ms`).
    acquire_timeout: Duration,
}

type LastKnown = moka::sync::Cache<String, KeyProject>;

/// Refresh rounds run at most this often, whatever the TTL (a TTL shorter than twice this
/// leaves keys to expire and be looked up one by one, as without rounds).
const MIN_REFRESH_EVERY: Duration = Duration::from_millis(100);

/// Keys cached, fresh or last known (each map).
const MAX_KEYS: u64 = 100_000;

impl KeyCache {
    /// A cache over `pool`; starts the task that writes the keys' uses (needs a running
    /// actix runtime).
    pub fn new(pool: DbPool, ttl: Duration, acquire_timeout: Duration) -> Self {
        let cache = Self {
            cache: Cache::builder()
                .max_capacity(MAX_KEYS)
                .time_to_live(ttl)
                .support_invalidation_closures()
                .build(),
            last_known: moka::sync::Cache::builder()
                .max_capacity(MAX_KEYS)
                .support_invalidation_closures()
                .build(),
            uses: KeyUses::start(pool.clone(), acquire_timeout),
            in_use: Arc::default(),
            generation: Arc::default(),
            lookups: Arc::default(),
            pool,
            acquire_timeout,
        };
        actix_rt::spawn(
            cache
                .clone()
                .refresh_every((ttl / 2).max(MIN_REFRESH_EVERY)),
        );
        cache
    }

    /// Database lookups so far: of one key (a cache miss), and of the keys in use together
    /// (refresh rounds).
    pub fn lookups(&self) -> (u64, u64) {
        let [one, rounds] = &*self.lookups;
        (one.load(Ordering::Relaxed), rounds.load(Ordering::Relaxed))
    }

    /// Writes the key uses not yet written (at shutdown, once no request is served).
    pub async fn flush_uses(&self) {
        self.uses.flush().await;
    }

    /// The project of `key`, or why not.
    pub async fn authenticate(&self, key: &str) -> Result<KeyProject, KeyError> {
        if !keys::is_valid_project_key_format(key) {
            return Err(KeyError::Malformed);
        }
        let hash = keys::hash_secret(key);
        let found = self
            .cache
            .try_get_with_by_ref(&hash, self.lookup(&hash))
            .await?
            .ok_or(KeyError::Unknown)?;
        self.in_use
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(hash);
        Ok(found)
    }

    /// Every `every`, looks the keys in use since the last round up again in one query and
    /// caches the answers afresh (see the module doc). Ends when no other handle on the
    /// cache is left.
    async fn refresh_every(self, every: Duration) {
        loop {
            actix_rt::time::sleep(every).await;
            if Arc::strong_count(&self.in_use) == 1 {
                return;
            }
            let hashes: Vec<String> =
                std::mem::take(&mut *self.in_use.lock().unwrap_or_else(|p| p.into_inner()))
                    .into_iter()
                    .collect();
            if hashes.is_empty() {
                continue;
            }
            let generation = self.generation.load(Ordering::Acquire);
            let found = match self.query_many(&hashes).await {
                Ok(found) => found,
                Err(error) => {
                    crate::log_limited!(debug, %error, "key cache refresh failed; the keys expire and are looked up one by one");
                    continue;
                }
            };
            if self.generation.load(Ordering::Acquire) != generation {
                continue; // a key or project was forgotten meanwhile: leave it to the TTL
            }
            for hash in hashes {
                let project = found.get(&hash).copied();
                match project {
                    Some(p) => {
                        self.last_known.insert(hash.clone(), p);
                        self.uses.record(p.key_id);
                    }
                    None => self.last_known.invalidate(&hash),
                }
                self.cache.insert(hash, project).await;
            }
        }
    }

    /// The live keys among `hashes`, by hash, in one query.
    async fn query_many(&self, hashes: &[String]) -> Result<HashMap<String, KeyProject>, DbError> {
        self.lookups[1].fetch_add(1, Ordering::Relaxed);
        let mut conn = db::get_within(&self.pool, self.acquire_timeout).await?;
        Ok(projects::find_live_keys(&mut conn, hashes)
            .await?
            .into_iter()
            .collect())
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
        self.generation.fetch_add(1, Ordering::AcqRel);
        let matches = Arc::new(matches);
        let last = {
            let matches = matches.clone();
            move |_: &String, known: &KeyProject| matches(known)
        };
        let fresh =
            move |_: &String, cached: &Option<KeyProject>| cached.as_ref().is_some_and(&*matches);
        let forgotten = self
            .cache
            .invalidate_entries_if(fresh)
            .map(drop)
            .and_then(|()| self.last_known.invalidate_entries_if(last).map(drop));
        if let Err(e) = forgotten {
            // Only when a cache was built without invalidation closures: a bug.
            tracing::error!(error = %e, "could not invalidate cached project keys");
        }
    }

    /// Asks the database; when it cannot be asked, answers with the last known project of
    /// the key, if there is one.
    async fn lookup(&self, hash: &str) -> Result<Option<KeyProject>, DbError> {
        match self.query(hash).await {
            Ok(Some(found)) => {
                self.last_known.insert(hash.to_owned(), found);
                Ok(Some(found))
            }
            Ok(None) => {
                self.last_known.invalidate(hash);
                Ok(None)
            }
            Err(e) if e.failure() == Failure::Transient => match self.last_known.get(hash) {
                Some(known) => {
                    crate::log_limited!(warn, error = %e,
                        "database unavailable; known project keys are accepted from the cache");
                    Ok(Some(known))
                }
                None => Err(e),
            },
            Err(e) => Err(e),
        }
    }

    async fn query(&self, hash: &str) -> Result<Option<KeyProject>, DbError> {
        self.lookups[0].fetch_add(1, Ordering::Relaxed);
        let mut conn = db::get_within(&self.pool, self.acquire_timeout).await?;
        let found = projects::find_live_key(&mut conn, hash).await?;
        drop(conn);
        if let Some(found) = &found {
            self.uses.record(found.key_id);
        }
        Ok(found)
    }
}
