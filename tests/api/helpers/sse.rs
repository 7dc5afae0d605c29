//! A reader of a live stream (`GET …/projects/{project}/stream`, Server-Sent Events) over a
//! streaming reqwest response: messages as `(event, JSON data)`, comments and the `retry:`
//! hint kept aside.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::app::TestApp;
use super::users::TestUser;

/// An open live stream.
pub struct SseStream {
    res: reqwest::Response,
    buf: String,
    /// The `retry:` value sent, if any.
    pub retry: Option<u64>,
    /// Comment lines seen (heartbeats).
    pub comments: usize,
}

/// One message: its `event:` name and its `data:` as JSON.
#[derive(Debug, Clone)]
pub struct SseMessage {
    pub event: String,
    pub data: Value,
}

impl TestApp {
    /// Opens `org`/`project`'s live stream as `user` and checks it is one (200,
    /// `text/event-stream`).
    pub async fn stream(&self, user: &TestUser, org: &str, project: &str) -> SseStream {
        let res = self
            .as_user(
                user,
                reqwest::Method::GET,
                &format!("/api/v1/orgs/{org}/projects/{project}/stream"),
            )
            .send()
            .await
            .expect("request sent");
        SseStream::new(res)
    }
}

impl SseStream {
    /// Reads `res`, which must be a stream (200, `text/event-stream`).
    pub fn new(res: reqwest::Response) -> Self {
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["content-type"], "text/event-stream");
        SseStream {
            res,
            buf: String::new(),
            retry: None,
            comments: 0,
        }
    }

    /// The next message, waiting at most until `deadline`; `None` at the deadline or when
    /// the stream ends.
    pub async fn next_before(&mut self, deadline: Instant) -> Option<SseMessage> {
        loop {
            if let Some(message) = self.parse_one() {
                return Some(message);
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            match tokio::time::timeout(left, self.res.chunk()).await {
                Ok(Ok(Some(chunk))) => self.buf.push_str(std::str::from_utf8(&chunk).unwrap()),
                Ok(Ok(None)) | Ok(Err(_)) | Err(_) => return None,
            }
        }
    }

    /// Messages until `done` says enough (or `secs` pass); answers all of them.
    pub async fn collect_until(
        &mut self,
        secs: u64,
        mut done: impl FnMut(&[SseMessage]) -> bool,
    ) -> Vec<SseMessage> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        let mut out = Vec::new();
        while !done(&out) {
            match self.next_before(deadline).await {
                Some(m) => out.push(m),
                None => break,
            }
        }
        out
    }

    /// Parses one complete message off the buffer, skipping comments and bare fields.
    fn parse_one(&mut self) -> Option<SseMessage> {
        while let Some(end) = self.buf.find("\n\n") {
            let block: String = self.buf.drain(..end + 2).collect();
            let (mut event, mut data) = (None, None);
            for line in block.lines() {
                if line.starts_with(':') {
                    self.comments += 1;
                } else if let Some(v) = line.strip_prefix("retry: ") {
                    self.retry = v.parse().ok();
                } else if let Some(v) = line.strip_prefix("event: ") {
                    event = Some(v.to_owned());
                } else if let Some(v) = line.strip_prefix("data: ") {
                    data = Some(serde_json::from_str(v).expect("data is JSON"));
                }
            }
            if let (Some(event), Some(data)) = (event, data) {
                return Some(SseMessage { event, data });
            }
        }
        None
    }
}

/// The messages named `event`.
pub fn named<'a>(messages: &'a [SseMessage], event: &str) -> Vec<&'a Value> {
    messages
        .iter()
        .filter(|m| m.event == event)
        .map(|m| &m.data)
        .collect()
}
