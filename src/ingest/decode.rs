//! Request body decoding: `Content-Encoding` gzip, deflate (zlib-wrapped or raw) and br,
//! with the size limit applied to the inflated output as it is produced, so a compression
//! bomb is refused after `limit + 1` bytes, never inflated whole.

use std::io::Read;

/// A body encoding Mesher accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Identity,
    Gzip,
    Deflate,
    Brotli,
}

/// Why a body could not be decoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("unsupported Content-Encoding {0:?} (use gzip, deflate, br or none)")]
    Unsupported(String),
    #[error("the decompressed body exceeds {0} bytes")]
    TooLarge(usize),
    #[error("the body is not valid {0} data")]
    Corrupt(&'static str),
}

impl Encoding {
    /// Parses a `Content-Encoding` header value. Empty, `identity` and `UTF-8` (which some
    /// clients send by mistake) mean "not compressed".
    pub fn from_header(value: Option<&str>) -> Result<Self, DecodeError> {
        let v = value.unwrap_or("").trim();
        match v.to_ascii_lowercase().as_str() {
            "" | "identity" | "utf-8" | "utf8" => Ok(Self::Identity),
            "gzip" | "x-gzip" => Ok(Self::Gzip),
            "deflate" => Ok(Self::Deflate),
            "br" => Ok(Self::Brotli),
            _ => Err(DecodeError::Unsupported(v.to_owned())),
        }
    }
}

/// Decodes `body`, refusing output larger than `limit` bytes.
pub fn decode(encoding: Encoding, body: &[u8], limit: usize) -> Result<Vec<u8>, DecodeError> {
    match encoding {
        Encoding::Identity if body.len() > limit => Err(DecodeError::TooLarge(limit)),
        Encoding::Identity => Ok(body.to_vec()),
        Encoding::Gzip => read_bounded(flate2::read::MultiGzDecoder::new(body), limit, "gzip"),
        Encoding::Deflate if looks_like_zlib(body) => {
            read_bounded(flate2::read::ZlibDecoder::new(body), limit, "zlib")
        }
        Encoding::Deflate => {
            read_bounded(flate2::read::DeflateDecoder::new(body), limit, "deflate")
        }
        Encoding::Brotli => read_bounded(brotli::Decompressor::new(body, 4096), limit, "brotli"),
    }
}

/// "deflate" means zlib-wrapped per RFC 9110, but many clients send raw deflate: a zlib
/// stream starts with a CMF/FLG pair whose 16-bit value is a multiple of 31 and whose
/// method is 8.
fn looks_like_zlib(body: &[u8]) -> bool {
    match body {
        [cmf, flg, ..] => cmf & 0x0f == 8 && (u16::from(*cmf) << 8 | u16::from(*flg)) % 31 == 0,
        _ => false,
    }
}

fn read_bounded(
    reader: impl Read,
    limit: usize,
    what: &'static str,
) -> Result<Vec<u8>, DecodeError> {
    let mut out = Vec::new();
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    reader
        .take(cap)
        .read_to_end(&mut out)
        .map_err(|_| DecodeError::Corrupt(what))?;
    if out.len() > limit {
        return Err(DecodeError::TooLarge(limit));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn every_encoding_round_trips() {
        let data = br#"{"message":"hello","level":"error"}"#.repeat(20);
        let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        zlib.write_all(&data).unwrap();
        let mut raw = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
        raw.write_all(&data).unwrap();
        let mut br = Vec::new();
        brotli::CompressorWriter::new(&mut br, 4096, 5, 22)
            .write_all(&data)
            .unwrap();
        for (enc, body) in [
            (Encoding::Identity, data.clone()),
            (Encoding::Gzip, gzip(&data)),
            (Encoding::Deflate, zlib.finish().unwrap()),
            (Encoding::Deflate, raw.finish().unwrap()),
            (Encoding::Brotli, br),
        ] {
            assert_eq!(decode(enc, &body, 1 << 20).unwrap(), data, "{enc:?}");
        }
    }

    #[test]
    fn a_bomb_stops_at_the_limit() {
        let bomb = gzip(&vec![0u8; 50 << 20]);
        assert!(bomb.len() < 100 << 10);
        assert_eq!(
            decode(Encoding::Gzip, &bomb, 1 << 20),
            Err(DecodeError::TooLarge(1 << 20))
        );
    }

    #[test]
    fn headers_and_garbage() {
        assert_eq!(Encoding::from_header(Some("UTF-8")), Ok(Encoding::Identity));
        assert_eq!(Encoding::from_header(Some(" GZIP ")), Ok(Encoding::Gzip));
        assert!(matches!(
            Encoding::from_header(Some("zstd")),
            Err(DecodeError::Unsupported(_))
        ));
        assert_eq!(
            decode(Encoding::Gzip, b"not gzip at all", 100),
            Err(DecodeError::Corrupt("gzip"))
        );
    }
}
