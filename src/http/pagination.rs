//! Keyset pagination for list endpoints: `?limit=` (default 50, at most 1000) and an opaque
//! `cursor`, answered as `{"data":[...],"next_cursor":...}`.
//!
//! A cursor is the sort key of the last row returned (a timestamp or a number, and the row's
//! id as the tie-breaker), base64url-encoded JSON. It is opaque to clients and checked on
//! the way back in: a malformed cursor is a 400 naming `cursor`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use chrono::{DateTime, Datelike, Utc};

use crate::error::ApiError;

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 1000;

/// `?limit=&cursor=` as sent.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct PageParams {
    /// Rows per page, 1..=1000 (default 50).
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl PageParams {
    /// The limit, validated.
    pub fn limit(&self) -> Result<i64, ApiError> {
        match self.limit {
            None => Ok(DEFAULT_LIMIT),
            Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            Some(_) => Err(ApiError::invalid_field(
                "limit",
                format!("limit must be between 1 and {MAX_LIMIT}"),
            )),
        }
    }

    /// The decoded cursor, if one was sent.
    pub fn cursor<T: DeserializeOwned>(&self) -> Result<Option<T>, ApiError> {
        self.cursor.as_deref().map(decode_cursor).transpose()
    }

    /// `?limit=&cursor=` from their raw values, for routes that read their query by hand:
    /// empty is absent, a limit that is not a whole number (or out of range) is a 400
    /// naming `limit`.
    pub fn from_raw(limit: Option<String>, cursor: Option<String>) -> Result<Self, ApiError> {
        let limit = limit
            .filter(|l| !l.is_empty())
            .map(|l| l.trim().parse::<i64>())
            .transpose()
            .map_err(|_| ApiError::invalid_field("limit", "limit must be a whole number"))?;
        let params = Self {
            limit,
            cursor: cursor.filter(|c| !c.is_empty()),
        };
        params.limit()?;
        Ok(params)
    }
}

/// A time read from a cursor, if it is one this server could have issued: stored times are
/// within years 1970 to 9999, and PostgreSQL refuses to compare with some others (a crafted
/// `-5000-01-01` would fail the query). Anything else is a 400 naming `cursor`.
pub fn cursor_time(t: DateTime<Utc>) -> Result<DateTime<Utc>, ApiError> {
    if (1..=9999).contains(&t.year()) {
        Ok(t)
    } else {
        Err(ApiError::invalid_field(
            "cursor",
            "cursor is not one this server issued",
        ))
    }
}

/// Encodes a sort key as an opaque cursor.
pub fn encode_cursor<T: Serialize>(key: &T) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(key).unwrap_or_default())
}

fn decode_cursor<T: DeserializeOwned>(cursor: &str) -> Result<T, ApiError> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| ApiError::invalid_field("cursor", "cursor is not one this server issued"))
}

/// One page of a list: `{"data":[...],"next_cursor":...}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub data: Vec<T>,
    /// Pass it back as `?cursor=` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from up to `limit + 1` rows (the extra row only says "there is more").
    pub fn from_rows<K: Serialize>(mut rows: Vec<T>, limit: i64, key: impl Fn(&T) -> K) -> Self {
        let more = rows.len() as i64 > limit;
        rows.truncate(limit as usize);
        let next_cursor = if more {
            rows.last().map(|last| encode_cursor(&key(last)))
        } else {
            None
        };
        Self {
            data: rows,
            next_cursor,
        }
    }

    /// The same page with each row converted (row type → API type).
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            data: self.data.into_iter().map(f).collect(),
            next_cursor: self.next_cursor,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_400() {
        let key = ("2026-11-29T10:00:00Z".to_string(), uuid::Uuid::nil());
        let params = PageParams {
            limit: None,
            cursor: Some(encode_cursor(&key)),
        };
        assert_eq!(params.cursor::<(String, uuid::Uuid)>().unwrap(), Some(key));
        let bad = PageParams {
            limit: Some(0),
            cursor: Some("!!".into()),
        };
        assert_eq!(
            bad.cursor::<(String, uuid::Uuid)>()
                .unwrap_err()
                .field
                .as_deref(),
            Some("cursor")
        );
        assert_eq!(bad.limit().unwrap_err().field.as_deref(), Some("limit"));
    }

    #[test]
    fn a_page_knows_whether_there_is_more() {
        let page = Page::from_rows(vec![1, 2, 3], 2, |n| *n);
        assert_eq!(page.data, vec![1, 2]);
        assert_eq!(page.next_cursor, Some(encode_cursor(&2)));
        assert!(Page::from_rows(vec![1, 2], 2, |n| *n).next_cursor.is_none());
    }
}
