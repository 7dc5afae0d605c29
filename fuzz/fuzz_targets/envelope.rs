//! One envelope body (already decompressed): `envelope::parse`, then every `event` item
//! through the Sentry path, as `POST /api/{n}/envelope/` does.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mesher::domain::envelope;

fuzz_target!(|data: &[u8]| {
    let Ok(env) = envelope::parse(data) else {
        return;
    };
    // Payloads are disjoint slices of the body, in order.
    let total: usize = env.items.iter().map(|i| i.payload.len()).sum();
    assert!(total <= data.len(), "item payloads overlap");
    for item in &env.items {
        let start = item.payload.as_ptr() as usize - data.as_ptr() as usize;
        assert!(start + item.payload.len() <= data.len());
        if item.ty == "event" {
            mesher_fuzz::sentry_event(item.payload);
        }
    }
});
