//! One event body, through both ingestion paths: the native endpoint (`parse_event_at`,
//! strict JSON, native options) and the Sentry one (`parse_lenient_json`, then
//! `normalize_with` the Sentry options). Whatever either accepts must satisfy
//! `mesher_fuzz::check_event`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    mesher_fuzz::native_event(data);
    mesher_fuzz::sentry_event(data);
});
