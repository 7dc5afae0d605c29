//! What the examples share: the bench event (`loadgen` sends it, `profile` measures the
//! server's work on it).

use std::io::Write;

use serde_json::{Value, json};

/// A realistic event of about 1.3 KB: which of 40 "bugs" it is varies with `i`, so grouping
/// has real work (an exception with 8 frames, 5 in-app; 2 breadcrumbs; tags, user,
/// contexts, extra).
pub fn event(i: u64) -> Vec<u8> {
    let body = event_json(
        i,
        &uuid::Uuid::now_v7().simple().to_string(),
        &chrono::Utc::now().to_rfc3339(),
        &i.to_string(),
        &(i % 1000).to_string(),
    );
    serde_json::to_vec(&body).expect("serializable")
}

/// The event of `i` with the given varying parts.
fn event_json(i: u64, event_id: &str, timestamp: &str, order: &str, user: &str) -> Value {
    let bug = i % 40;
    let frames: Vec<Value> = (0..8)
        .map(|f| {
            json!({
                "filename": format!("app/mod_{f}.py"),
                "function": if f == 7 { format!("handler_{bug}") } else { format!("step_{f}") },
                "lineno": 10 + f * 7 + (i % 3),
                "in_app": f >= 3,
            })
        })
        .collect();
    json!({
        "event_id": event_id,
        "level": if bug.is_multiple_of(5) { "warning" } else { "error" },
        "timestamp": timestamp,
        "platform": "python",
        "release": "shop@2.4.1",
        "environment": "production",
        "server_name": "web-3",
        "transaction": "/api/checkout",
        "exception": { "values": [{
            "type": format!("PaymentError{bug}"),
            "value": format!("card declined for order {order}"),
            "stacktrace": { "frames": frames },
        }]},
        "breadcrumbs": [
            { "timestamp": 1_790_000_000.5, "category": "http", "message": "POST /api/cart 200" },
            { "timestamp": 1_790_000_001.0, "category": "db", "message": "SELECT * FROM orders" },
        ],
        "tags": { "region": "eu-west-1", "customer_tier": "gold" },
        "user": { "id": user, "email": "someone@example.com" },
        "contexts": { "runtime": { "name": "CPython", "version": "3.11.7" } },
        "extra": { "cart_items": 3 },
    })
}

/// The varying parts of a bench event.
#[derive(Clone, Copy)]
enum Slot {
    EventId,
    Timestamp,
    Order,
    User,
}

const SLOTS: [(&str, Slot); 4] = [
    ("@@event_id@@", Slot::EventId),
    ("@@timestamp@@", Slot::Timestamp),
    ("@@order@@", Slot::Order),
    ("@@user@@", Slot::User),
];

/// The same events as [`event`], byte for byte in shape, written from pre-serialised pieces
/// (the 120 variants `i % 120` decides) so that the load generator spends its CPU on HTTP,
/// not on building JSON: on a two-core box it shares the cores with the server it measures.
pub struct Templates(Vec<Vec<(Vec<u8>, Option<Slot>)>>);

impl Templates {
    pub fn new() -> Self {
        Templates(
            (0..120)
                .map(|t| {
                    let text = event_json(t, SLOTS[0].0, SLOTS[1].0, SLOTS[2].0, SLOTS[3].0);
                    split(&serde_json::to_string(&text).expect("serializable"))
                })
                .collect(),
        )
    }

    /// The event of `i`, with a fresh event id and the current time.
    pub fn body(&self, i: u64) -> Vec<u8> {
        let mut out = Vec::with_capacity(1400);
        for (text, slot) in &self.0[(i % 120) as usize] {
            out.extend_from_slice(text);
            let written = match slot {
                Some(Slot::EventId) => write!(out, "{}", uuid::Uuid::now_v7().simple()),
                Some(Slot::Timestamp) => write!(out, "{}", chrono::Utc::now().to_rfc3339()),
                Some(Slot::Order) => write!(out, "{i}"),
                Some(Slot::User) => write!(out, "{}", i % 1000),
                None => Ok(()),
            };
            written.expect("writing to a Vec");
        }
        out
    }
}

/// `json` cut at each placeholder: (text before it, which one), the last piece without.
fn split(mut json: &str) -> Vec<(Vec<u8>, Option<Slot>)> {
    let mut pieces = Vec::new();
    loop {
        let next = SLOTS
            .iter()
            .filter_map(|&(mark, slot)| json.find(mark).map(|at| (at, mark, slot)))
            .min_by_key(|&(at, ..)| at);
        match next {
            Some((at, mark, slot)) => {
                pieces.push((json.as_bytes()[..at].to_vec(), Some(slot)));
                json = &json[at + mark.len()..];
            }
            None => {
                pieces.push((json.as_bytes().to_vec(), None));
                return pieces;
            }
        }
    }
}
