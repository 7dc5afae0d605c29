//! The node's publisher: takes the facts of committed batches from the writers (through the
//! [`FactsBus`](crate::ingest::FactsBus), never waited on by them) and sends them as
//! notifications on [`CHANNEL`](super::CHANNEL) from a connection of its own — never inside a
//! writer's transaction, never from the pool. While the database is unreachable the facts are
//! counted as failed notifications and left out (the events are stored or retried by the
//! writers regardless); the connection is tried again at most every few seconds.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use diesel_async::AsyncPgConnection;
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::mpsc;

use super::payload::{MAX_PAYLOAD, encode};
use super::{CHANNEL, LiveHub};
use crate::db::{self, DbError};
use crate::domain::BatchFacts;

/// Facts of this many batches at most go into one statement.
const MAX_BATCHES_PER_STATEMENT: usize = 64;

/// Runs until the facts channel closes (the writers are gone).
pub async fn run(url: SecretString, mut facts: mpsc::Receiver<Arc<BatchFacts>>, hub: LiveHub) {
    let mut conn: Option<AsyncPgConnection> = None;
    let mut attempt = 0u32;
    let mut next_connect = Instant::now();
    let mut batches = Vec::with_capacity(MAX_BATCHES_PER_STATEMENT);
    while facts
        .recv_many(&mut batches, MAX_BATCHES_PER_STATEMENT)
        .await
        > 0
    {
        let payloads: Vec<String> = batches
            .drain(..)
            .flat_map(|f| encode(&f, MAX_PAYLOAD))
            .collect();
        let n = payloads.len() as u64;
        if conn.is_none() && Instant::now() >= next_connect {
            match connect(&url).await {
                Ok(c) => {
                    conn = Some(c);
                    attempt = 0;
                }
                Err(error) => {
                    attempt += 1;
                    next_connect = Instant::now() + backoff(attempt);
                    crate::log_limited!(warn, %error, "live stream publisher: cannot connect; notifications left out");
                }
            }
        }
        let Some(c) = conn.as_mut() else {
            hub.counters()
                .notices_failed
                .fetch_add(n, Ordering::Relaxed);
            continue;
        };
        match db::live::notify(c, CHANNEL, &payloads).await {
            Ok(()) => {
                hub.counters().notices_sent.fetch_add(n, Ordering::Relaxed);
            }
            Err(error) => {
                conn = None;
                hub.counters()
                    .notices_failed
                    .fetch_add(n, Ordering::Relaxed);
                crate::log_limited!(warn, %error, "live stream publisher: NOTIFY failed; notifications left out");
            }
        }
    }
}

async fn connect(url: &SecretString) -> Result<AsyncPgConnection, DbError> {
    match tokio::time::timeout(
        CONNECT_TIMEOUT,
        db::live::connect(url.expose_secret(), "mesher-live-publish"),
    )
    .await
    {
        Ok(conn) => conn,
        Err(_) => Err(DbError::Pool(bb8::RunError::TimedOut)),
    }
}

/// How long a dedicated connection of the live stream may take to open.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The wait before reconnect attempt `attempt` (1-based): 100 ms doubling, at most 5 s.
pub fn backoff(attempt: u32) -> Duration {
    let ms = 100u64.saturating_mul(1 << attempt.saturating_sub(1).min(10));
    Duration::from_millis(ms.min(5000))
}

#[cfg(test)]
mod tests {
    use super::backoff;

    #[test]
    fn backoff_doubles_up_to_five_seconds() {
        let waits: Vec<u64> = (1..=8).map(|a| backoff(a).as_millis() as u64).collect();
        assert_eq!(waits, [100, 200, 400, 800, 1600, 3200, 5000, 5000]);
        assert_eq!(backoff(100).as_millis(), 5000);
    }
}
