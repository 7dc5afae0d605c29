//! `GET /api/v1/orgs/{org}/projects/{project}/stream`: a project's live stream, as
//! Server-Sent Events (docs/api.md, “Live stream”; docs/architecture.md, “The live stream”).
//!
//! Two message kinds, sent after a batch is committed (so only stored events ever appear):
//! `event: issue` with the issue exactly as `GET …/issues/{id}` answers it, and `event: event`
//! with `{"id","issue_id","received_at","level","message"}` per stored event. A comment every
//! `stream.heartbeat_secs`, a `retry:` hint first.
//!
//! Each client has a bounded channel of `stream.client_buffer` messages, fed by a small task
//! from the node's broadcast. A client that lets it fill and stay full for 2 s (it does not
//! read, or reads too slowly), or that falls behind the broadcast, is disconnected and
//! counted — never buffered without bound. Since a client that does not read also stops the server from writing (so
//! actix-web no longer polls the response), the task shuts the connection's socket down
//! itself; the socket's send buffer is kept small for the same reason.

use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, get, web};
use bytes::Bytes;
use tokio::sync::{broadcast, mpsc};

use crate::AppState;
use crate::auth::extractors::CurrentUser;
use crate::db::{self, DbError, DbPool};
use crate::domain::Role;
use crate::domain::facts::SHORT_MESSAGE_CHARS;
use crate::error::ApiError;
use crate::http::access::project_for;
use crate::http::issues::IssueOut;
use crate::live::payload::Notice;
use crate::live::{LiveBatch, LiveHub, Subscription};

/// The kernel send buffer of a stream's socket: what a client that stops reading can hold up
/// beyond its channel (Linux doubles the value for its bookkeeping).
const SOCKET_SEND_BUFFER: usize = 64 * 1024;

/// How long a client's channel may stay full before the client counts as too slow.
const SLOW_AFTER: Duration = Duration::from_secs(2);

/// The heartbeat comment.
const HEARTBEAT: &[u8] = b": heartbeat\n\n";

/// The project's live stream: `event: issue` and `event: event` messages for every batch
/// stored from now on (members of the organization; anyone else gets 404).
#[utoipa::path(tag = "issues",
    params(("org" = String, Path, description = "organization slug"),
           ("project" = String, Path, description = "project slug")),
    responses(
        (status = 200, content_type = "text/event-stream", body = String,
         description = "Server-Sent Events, until the client or the server closes: a `retry:` \
hint first, then for each committed batch `event: issue` (data: the issue as `GET …/issues/{id}` \
answers it) and `event: event` (data: `{\"id\",\"issue_id\",\"received_at\",\"level\",\"message\"}`, \
the message cut to 200 characters) per stored event; a comment line every `stream.heartbeat_secs`. \
A client that stays `stream.client_buffer` messages behind for 2 s is disconnected."),
        (status = 401), (status = 404)))]
#[get("/api/v1/orgs/{org}/projects/{project}/stream")]
pub async fn stream(
    req: HttpRequest,
    state: web::Data<AppState>,
    current: CurrentUser,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (org, project) = path.into_inner();
    let project = {
        // The connection goes back to the pool at once: a stream holds none.
        let (_conn, project) = project_for(&state, &current, &org, &project, Role::Member).await?;
        project
    };
    let settings = &state.settings.stream;
    let subscription = state.live.subscribe(project.id);
    let (tx, mut rx) = mpsc::channel::<Bytes>(settings.client_buffer);
    let hello = format!("retry: {}\n: connected\n\n", settings.retry_ms);
    let _ = tx.try_send(Bytes::from(hello));
    let socket = socket::of(&req);
    actix_web::rt::spawn(feed(
        subscription,
        tx,
        socket,
        state.live.clone(),
        Duration::from_secs(settings.heartbeat_secs),
    ));
    let body = futures_util::stream::poll_fn(move |cx| {
        rx.poll_recv(cx)
            .map(|m| m.map(Ok::<_, std::convert::Infallible>))
    });
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body))
}

/// Why a client's feed ended.
enum End {
    /// The client went away, or the node is shutting down.
    Done,
    /// The client did not keep up.
    Slow,
}

/// Moves the project's messages (and heartbeats) from the node's broadcast into the client's
/// channel, never waiting on the client.
async fn feed(
    mut sub: Subscription,
    tx: mpsc::Sender<Bytes>,
    socket: Option<socket::Socket>,
    hub: LiveHub,
    heartbeat: Duration,
) {
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + heartbeat, heartbeat);
    let end = loop {
        let message = tokio::select! {
            received = sub.rx.recv() => match received {
                Ok(batch) if batch.project_id == sub.project_id => batch.frames.clone(),
                Ok(_) => continue,
                Err(broadcast::error::RecvError::Lagged(_)) => break End::Slow,
                Err(broadcast::error::RecvError::Closed) => break End::Done,
            },
            _ = tick.tick() => Bytes::from_static(HEARTBEAT),
            () = tx.closed() => break End::Done,
            _ = sub.closed.wait_for(|closed| *closed) => break End::Done,
        };
        // A full channel gets a short grace (the response may simply not have been polled
        // yet: it runs on the same worker thread); one that stays full is a slow client.
        match tx.try_send(message) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(message)) => {
                match tokio::time::timeout(SLOW_AFTER, tx.send(message)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) => break End::Done,
                    Err(_) => break End::Slow,
                }
            }
            Err(mpsc::error::TrySendError::Closed(_)) => break End::Done,
        }
    };
    if let End::Slow = end {
        hub.counters()
            .clients_dropped_slow
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tracing::info!(project_id = %sub.project_id, "live stream client too slow; disconnected");
        if let Some(socket) = socket {
            socket.shut_down();
        }
    }
}

/// Turns notices into stream messages for this node's subscribers, one notice at a time:
/// reads the issues and events it names (committed rows only) and broadcasts them.
pub async fn load_notices(pool: DbPool, hub: LiveHub, mut notices: mpsc::Receiver<Notice>) {
    while let Some(notice) = notices.recv().await {
        if !hub.wants(notice.project_id) {
            continue;
        }
        match load(&pool, &notice).await {
            Ok(frames) if !frames.is_empty() => hub.send(LiveBatch {
                project_id: notice.project_id,
                frames,
            }),
            Ok(_) => {}
            Err(error) => {
                crate::log_limited!(warn, %error, "live stream: could not load a notice's rows; left out");
            }
        }
    }
}

/// The messages of one notice: its issues (as the API shows them), then its events.
async fn load(pool: &DbPool, notice: &Notice) -> Result<Bytes, DbError> {
    let mut conn = pool.get().await?;
    let mut issues =
        db::issues::find_many(&mut conn, notice.project_id, &notice.issue_ids()).await?;
    let (from, to) = notice.range();
    let events = db::live::stream_events(
        &mut conn,
        notice.project_id,
        &notice.event_ids(),
        from,
        to,
        SHORT_MESSAGE_CHARS as i32,
    )
    .await?;
    drop(conn);
    // In the notice's order (the upsert's), whatever order the rows came in.
    let position = |id| notice.issues.iter().position(|i| i.issue_id == id);
    issues.sort_by_key(|i| position(i.id));
    let mut out = Vec::with_capacity(512 * (issues.len() + events.len()));
    for issue in issues {
        frame(&mut out, "issue", &IssueOut::from(issue));
    }
    for event in &events {
        frame(&mut out, "event", event);
    }
    Ok(Bytes::from(out))
}

/// Appends one message: `event: <name>`, `data: <JSON on one line>`, a blank line.
fn frame(out: &mut Vec<u8>, name: &str, data: &impl serde::Serialize) {
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\ndata: ");
    // Compact JSON has no raw newline (those in strings are escaped).
    if serde_json::to_writer(&mut *out, data).is_err() {
        out.extend_from_slice(b"null");
    }
    out.extend_from_slice(b"\n\n");
}

/// The socket of a stream's connection, so a client that stopped reading can be cut off
/// even while actix-web waits for it to read.
mod socket {
    use actix_web::HttpRequest;

    /// The connection's file descriptor, recorded by [`on_connect`] for every connection.
    #[derive(Debug, Clone, Copy)]
    pub struct ConnFd(#[cfg(unix)] std::os::fd::RawFd);

    /// Records the connection's descriptor (`HttpServer::on_connect`).
    pub fn on_connect(conn: &dyn std::any::Any, ext: &mut actix_web::dev::Extensions) {
        #[cfg(unix)]
        if let Some(tcp) = conn.downcast_ref::<actix_web::rt::net::TcpStream>() {
            use std::os::fd::AsRawFd;
            ext.insert(ConnFd(tcp.as_raw_fd()));
        }
        #[cfg(not(unix))]
        let _ = (conn, ext);
    }

    /// A descriptor of the stream's socket that stays valid as long as it is kept.
    pub struct Socket(#[cfg(unix)] std::os::fd::OwnedFd);

    /// The socket of `req`'s connection, with a small send buffer; `None` off Unix or when
    /// the connection is not TCP.
    pub fn of(req: &HttpRequest) -> Option<Socket> {
        #[cfg(unix)]
        {
            let fd = req.conn_data::<ConnFd>()?.0;
            // SAFETY: `fd` belongs to this request's connection, which is open while its
            // handler runs (the dispatcher running the handler owns the stream). The copy made
            // here is our own descriptor of that socket and stays valid after the connection
            // closes, so it can never name another connection's socket.
            let owned = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) }
                .try_clone_to_owned()
                .ok()?;
            let _ = socket2::SockRef::from(&owned).set_send_buffer_size(super::SOCKET_SEND_BUFFER);
            Some(Socket(owned))
        }
        #[cfg(not(unix))]
        {
            let _ = req;
            None
        }
    }

    impl Socket {
        /// Shuts the connection down both ways: actix-web's next write or read fails and it
        /// drops the connection; the client sees the stream end.
        pub fn shut_down(self) {
            #[cfg(unix)]
            {
                let _ = socket2::SockRef::from(&self.0).shutdown(std::net::Shutdown::Both);
            }
        }
    }
}

pub use socket::on_connect;

#[cfg(test)]
mod tests {
    use super::frame;

    #[test]
    fn a_frame_is_one_event_line_one_data_line_and_a_blank_line() {
        let mut out = Vec::new();
        frame(
            &mut out,
            "event",
            &serde_json::json!({"message": "two\nlines"}),
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "event: event\ndata: {\"message\":\"two\\nlines\"}\n\n"
        );
    }
}
