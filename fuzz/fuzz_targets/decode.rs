//! Body decoding: the first byte picks the encoding (identity, gzip, deflate, br), the
//! rest is the body, decoded with a 64 KiB limit. Decoding never panics, the output
//! never exceeds the limit, and the limit is exact: a body that decodes to n bytes
//! decodes the same under any limit ≥ n and is refused as too large under n - 1.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mesher::ingest::decode::{DecodeError, Encoding, decode};

const LIMIT: usize = 64 << 10;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let encoding = match selector % 4 {
        0 => Encoding::Identity,
        1 => Encoding::Gzip,
        2 => Encoding::Deflate,
        _ => Encoding::Brotli,
    };
    match decode(encoding, body, LIMIT) {
        Ok(out) => {
            assert!(out.len() <= LIMIT, "{} bytes out, limit {LIMIT}", out.len());
            if encoding == Encoding::Identity {
                assert_eq!(out, body);
            }
            let n = out.len();
            assert_eq!(decode(encoding, body, n).as_ref(), Ok(&out), "limit = size");
            assert_eq!(
                decode(encoding, body, 4 * LIMIT).as_ref(),
                Ok(&out),
                "a larger limit"
            );
            if n > 0 {
                assert_eq!(
                    decode(encoding, body, n - 1),
                    Err(DecodeError::TooLarge(n - 1)),
                    "limit = size - 1"
                );
            }
        }
        Err(DecodeError::TooLarge(limit)) => assert_eq!(limit, LIMIT),
        Err(DecodeError::Corrupt(_)) => {
            assert_ne!(encoding, Encoding::Identity, "identity is never corrupt")
        }
        Err(e @ DecodeError::Unsupported(_)) => panic!("decode answered {e}"),
    }
});
