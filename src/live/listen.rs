//! The node's listener: one dedicated connection (outside the pool) that `LISTEN`s on
//! [`CHANNEL`](super::CHANNEL), through diesel-async's `notifications_stream`. Each notice for
//! a project someone follows on this node goes to the stream's loader through a bounded
//! channel (full: left out and counted, so a slow database never backs up into the
//! listener). When the connection breaks — the server restarted, the network dropped, or a
//! ping every [`PING_EVERY`] of silence goes unanswered — it reconnects with backoff
//! (100 ms doubling to 5 s) until the node stops. Notifications sent while it was away are
//! not replayed: the stream is live, not a log.

use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::StreamExt;
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::mpsc;

use super::payload::{Notice, decode};
use super::publish::{CONNECT_TIMEOUT, backoff};
use super::{CHANNEL, LiveHub};
use crate::db::{self, DbError};

/// A silent connection is pinged this often (a broken one is noticed by then at the latest).
pub const PING_EVERY: Duration = Duration::from_secs(15);
/// How long a ping may take.
const PING_TIMEOUT: Duration = Duration::from_secs(5);

/// Listens until the hub is closed (shutdown); `notices` gets what this node's subscribers
/// want.
pub async fn run(url: SecretString, hub: LiveHub, notices: mpsc::Sender<Notice>) {
    let mut attempt = 0u32;
    let mut closed = hub.closed_signal();
    loop {
        let outcome = tokio::select! {
            outcome = listen(&url, &hub, &notices, &mut attempt) => outcome,
            _ = closed.wait_for(|c| *c) => return,
        };
        if let Err(error) = outcome {
            crate::log_limited!(warn, %error, "live stream listener: connection lost; reconnecting");
        }
        attempt += 1;
        tokio::select! {
            () = tokio::time::sleep(backoff(attempt)) => {}
            _ = closed.wait_for(|c| *c) => return,
        }
    }
}

/// One connection's life: connect, `LISTEN`, forward notices until it fails.
async fn listen(
    url: &SecretString,
    hub: &LiveHub,
    notices: &mpsc::Sender<Notice>,
    attempt: &mut u32,
) -> Result<(), DbError> {
    let mut conn = match tokio::time::timeout(
        CONNECT_TIMEOUT,
        db::live::connect(url.expose_secret(), "mesher-live-listen"),
    )
    .await
    {
        Ok(conn) => conn?,
        Err(_) => return Err(DbError::Pool(bb8::RunError::TimedOut)),
    };
    db::live::listen(&mut conn, CHANNEL).await?;
    if *attempt > 0 {
        hub.counters()
            .listener_reconnects
            .fetch_add(1, Ordering::Relaxed);
        tracing::info!("live stream listener: listening again");
    }
    *attempt = 0;
    loop {
        let next = {
            let mut stream = std::pin::pin!(conn.notifications_stream());
            tokio::time::timeout(PING_EVERY, stream.next()).await
        };
        match next {
            Ok(Some(Ok(n))) => forward(hub, notices, &n.payload),
            Ok(Some(Err(e))) => return Err(e.into()),
            Ok(None) => {
                return Err(DbError::Query(diesel::result::Error::DatabaseError(
                    diesel::result::DatabaseErrorKind::ClosedConnection,
                    Box::new("the listening connection closed".to_owned()),
                )));
            }
            Err(_silence) => {
                match tokio::time::timeout(PING_TIMEOUT, db::live::ping(&mut conn)).await {
                    Ok(result) => result?,
                    Err(_) => return Err(DbError::Pool(bb8::RunError::TimedOut)),
                }
            }
        }
    }
}

fn forward(hub: &LiveHub, notices: &mpsc::Sender<Notice>, payload: &str) {
    hub.counters()
        .notices_received
        .fetch_add(1, Ordering::Relaxed);
    let Some(notice) = decode(payload) else {
        return;
    };
    if !hub.wants(notice.project_id) {
        return;
    }
    if notices.try_send(notice).is_err() {
        hub.counters()
            .notices_dropped
            .fetch_add(1, Ordering::Relaxed);
    }
}
