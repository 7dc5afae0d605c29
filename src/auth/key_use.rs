//! `last_used_at` of project keys, written in batches: the key cache records the keys it
//! looked up in a set in memory, and one task per node writes the whole set with one
//! `UPDATE … WHERE id = ANY($1)` at most once per [`WRITE_EVERY`]. A thousand keys cost the
//! pool one short transaction a second, not one per key per cache TTL.
//!
//! A write that fails is logged (rate-limited) and its keys are put back, to be written with
//! the next round's. The server writes what is left at shutdown ([`KeyUses::flush`]), after
//! the HTTP server has stopped.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use crate::db::{self, DbError, DbPool, projects};
use crate::domain::KeyId;

/// How often the recorded uses are written: `last_used_at` is at most this much behind the
/// key cache's lookups.
pub const WRITE_EVERY: Duration = Duration::from_secs(1);

/// The recorded key uses, shared by the key cache's clones and the writing task. Cheap to
/// clone.
#[derive(Clone)]
pub struct KeyUses {
    inner: Arc<Inner>,
}

struct Inner {
    /// Keys used since the last write (a set: a key used many times is written once).
    pending: Mutex<HashSet<KeyId>>,
    pool: DbPool,
    /// How long a write waits for a pooled connection (`database.acquire_timeout_ms`).
    acquire_timeout: Duration,
}

impl KeyUses {
    /// Starts the task that writes the uses every [`WRITE_EVERY`]; it ends once every clone
    /// is dropped. Needs a running actix (Tokio) runtime.
    pub fn start(pool: DbPool, acquire_timeout: Duration) -> Self {
        let uses = Self {
            inner: Arc::new(Inner {
                pending: Mutex::default(),
                pool,
                acquire_timeout,
            }),
        };
        actix_rt::spawn(write_every(Arc::downgrade(&uses.inner)));
        uses
    }

    /// Records that the key was used just now.
    pub fn record(&self, key_id: KeyId) {
        self.inner.pending().insert(key_id);
    }

    /// Writes the uses recorded so far, in one statement; on failure, logs and keeps them
    /// for the next round.
    pub async fn flush(&self) {
        self.inner.flush().await;
    }
}

impl Inner {
    fn pending(&self) -> std::sync::MutexGuard<'_, HashSet<KeyId>> {
        // The set stays consistent whatever panicked while holding it.
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn flush(&self) {
        let ids: Vec<KeyId> = self.pending().drain().collect();
        if ids.is_empty() {
            return;
        }
        if let Err(e) = self.write(&ids).await {
            crate::log_limited!(warn, keys = ids.len(), error = %e,
                "could not record project key use; trying again with the next round");
            self.pending().extend(ids);
        }
    }

    async fn write(&self, ids: &[KeyId]) -> Result<(), DbError> {
        let mut conn = db::get_within(&self.pool, self.acquire_timeout).await?;
        projects::touch_keys(&mut conn, ids).await?;
        Ok(())
    }
}

/// Writes the uses every [`WRITE_EVERY`] while any [`KeyUses`] is alive.
async fn write_every(uses: Weak<Inner>) {
    let mut tick = tokio::time::interval(WRITE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(uses) = uses.upgrade() else {
            return;
        };
        uses.flush().await;
    }
}
