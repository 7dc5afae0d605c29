//! What the examples share: the bench event (`loadgen` sends it, `profile` measures the
//! server's work on it).

use serde_json::{Value, json};

/// A realistic event of about 1.3 KB: which of 40 "bugs" it is varies with `i`, so grouping
/// has real work (an exception with 8 frames, 5 in-app; 2 breadcrumbs; tags, user,
/// contexts, extra).
pub fn event(i: u64) -> Vec<u8> {
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
    let body = json!({
        "event_id": uuid::Uuid::now_v7().simple().to_string(),
        "level": if bug.is_multiple_of(5) { "warning" } else { "error" },
        "timestamp": chrono::Utc::now().to_rfc3339(),
        "platform": "python",
        "release": "shop@2.4.1",
        "environment": "production",
        "server_name": "web-3",
        "transaction": "/api/checkout",
        "exception": { "values": [{
            "type": format!("PaymentError{bug}"),
            "value": format!("card declined for order {i}"),
            "stacktrace": { "frames": frames },
        }]},
        "breadcrumbs": [
            { "timestamp": 1_790_000_000.5, "category": "http", "message": "POST /api/cart 200" },
            { "timestamp": 1_790_000_001.0, "category": "db", "message": "SELECT * FROM orders" },
        ],
        "tags": { "region": "eu-west-1", "customer_tier": "gold" },
        "user": { "id": format!("{}", i % 1000), "email": "someone@example.com" },
        "contexts": { "runtime": { "name": "CPython", "version": "3.11.7" } },
        "extra": { "cart_items": 3 },
    });
    serde_json::to_vec(&body).expect("serializable")
}
