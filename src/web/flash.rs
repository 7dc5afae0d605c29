//! One-time messages across a redirect (post/redirect/get): a form post that must show
//! something once — a new key's secret and DSN — leaves it here under the session, redirects,
//! and the page it redirects to takes it out. A reload then shows nothing again, and the
//! secret never travels in a URL or a cookie.
//!
//! Kept in this node's memory for [`TTL`], one entry per session: behind a load balancer
//! without session affinity the page after the redirect may be drawn by another node, which
//! then says the secret was already shown (the key itself works either way).

use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;

use crate::domain::{KeyId, RuleId, SessionId};

/// How long a message waits for its page.
pub const TTL: Duration = Duration::from_secs(300);
/// Sessions with a message waiting, at most (the oldest go first).
const CAPACITY: u64 = 10_000;

/// A key just created, to be shown once.
#[derive(Debug, Clone)]
pub struct CreatedKey {
    pub key_id: KeyId,
    pub label: String,
    pub key: String,
    pub dsn: String,
}

/// An alert rule just created, whose webhook signing secret is shown once.
#[derive(Debug, Clone)]
pub struct CreatedRule {
    pub rule_id: RuleId,
    pub name: String,
    pub secret: String,
}

/// The messages waiting, by session.
#[derive(Clone)]
pub struct Flash {
    created: moka::sync::Cache<SessionId, CreatedKey>,
    rules: moka::sync::Cache<SessionId, CreatedRule>,
}

fn cache<V: Clone + Send + Sync + 'static>() -> moka::sync::Cache<SessionId, V> {
    moka::sync::Cache::builder()
        .max_capacity(CAPACITY)
        .time_to_live(TTL)
        .build()
}

impl Default for Flash {
    fn default() -> Self {
        Self {
            created: cache(),
            rules: cache(),
        }
    }
}

/// A message shown once: the id its page asks for (`?created=<id>`), and where it waits.
pub trait OneTime: Clone + Send + Sync + Sized + 'static {
    type Id: PartialEq + FromStr;
    fn id(&self) -> Self::Id;
    fn cache(flash: &Flash) -> &moka::sync::Cache<SessionId, Self>;
}

impl OneTime for CreatedKey {
    type Id = KeyId;
    fn id(&self) -> KeyId {
        self.key_id
    }
    fn cache(flash: &Flash) -> &moka::sync::Cache<SessionId, Self> {
        &flash.created
    }
}

impl OneTime for CreatedRule {
    type Id = RuleId;
    fn id(&self) -> RuleId {
        self.rule_id
    }
    fn cache(flash: &Flash) -> &moka::sync::Cache<SessionId, Self> {
        &flash.rules
    }
}

/// `?created=<id>`: the page after a creation asks for what it made.
#[derive(Debug, Default, Deserialize)]
pub struct CreatedQuery {
    created: Option<String>,
}

/// What the page after a creation shows.
#[derive(Debug)]
pub enum Shown<V> {
    /// Not after a creation (or the id asked for does not parse).
    Nothing,
    /// The thing created, taken from the flash: shown this once.
    Now(V),
    /// Asked for, but no longer in the flash: a reload, another node, or expired.
    AlreadyShown,
}

impl<V> Shown<V> {
    /// The thing to show now, if any.
    pub fn now(&self) -> Option<&V> {
        match self {
            Self::Now(v) => Some(v),
            _ => None,
        }
    }
}

impl Flash {
    /// Leaves `value` for the next page of `session`.
    pub fn put<V: OneTime>(&self, session: SessionId, value: V) {
        V::cache(self).insert(session, value);
    }

    /// Takes what was left for `session` if it is `id` (the page asked for): once.
    pub fn take<V: OneTime>(&self, session: SessionId, id: &V::Id) -> Option<V> {
        let cache = V::cache(self);
        if cache.get(&session)?.id() != *id {
            return None;
        }
        cache.remove(&session)
    }

    /// What the page `query` names shows: the thing it asks for, taken once, or that it was
    /// already shown. A query that does not parse is ignored, like an unknown id.
    pub fn shown<V: OneTime>(
        &self,
        session: SessionId,
        query: Option<&CreatedQuery>,
    ) -> Shown<V> {
        let asked = query
            .and_then(|q| q.created.as_deref())
            .and_then(|id| id.parse::<V::Id>().ok());
        match asked {
            None => Shown::Nothing,
            Some(id) => self.take(session, &id).map_or(Shown::AlreadyShown, Shown::Now),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_taken_once_and_only_by_its_page() {
        let flash = Flash::default();
        let (session, other) = (SessionId::new(), SessionId::new());
        let key_id = KeyId::new();
        let key = CreatedKey {
            key_id,
            label: "ci".into(),
            key: "mshr_secret".into(),
            dsn: "http://mshr_secret@host/1".into(),
        };
        flash.put(session, key);
        assert!(flash.take::<CreatedKey>(other, &key_id).is_none());
        assert!(flash.take::<CreatedKey>(session, &KeyId::new()).is_none());
        assert_eq!(flash.take::<CreatedKey>(session, &key_id).unwrap().key, "mshr_secret");
        assert!(flash.take::<CreatedKey>(session, &key_id).is_none());
        let rule_id = RuleId::new();
        let rule = CreatedRule {
            rule_id,
            name: "r".into(),
            secret: "whsec_x".into(),
        };
        flash.put(session, rule);
        assert!(flash.take::<CreatedRule>(other, &rule_id).is_none());
        assert_eq!(flash.take::<CreatedRule>(session, &rule_id).unwrap().secret, "whsec_x");
        assert!(flash.take::<CreatedRule>(session, &rule_id).is_none());
    }

    #[test]
    fn the_page_after_a_creation_shows_it_once_then_says_so() {
        let flash = Flash::default();
        let session = SessionId::new();
        let rule_id = RuleId::new();
        let q = |created: Option<String>| CreatedQuery { created };
        flash.put(
            session,
            CreatedRule {
                rule_id,
                name: "r".into(),
                secret: "whsec_y".into(),
            },
        );
        let asks = [
            (None, "nothing"),
            (Some(q(None)), "nothing"),
            (Some(q(Some("not-an-id".into()))), "nothing"),
            (Some(q(Some(RuleId::new().to_string()))), "already shown"),
            (Some(q(Some(rule_id.to_string()))), "now"),
            (Some(q(Some(rule_id.to_string()))), "already shown"),
        ];
        for (query, expected) in asks {
            let got = match flash.shown::<CreatedRule>(session, query.as_ref()) {
                Shown::Nothing => "nothing",
                Shown::Now(r) => {
                    assert_eq!(r.secret, "whsec_y");
                    "now"
                }
                Shown::AlreadyShown => "already shown",
            };
            assert_eq!(got, expected, "{query:?}");
        }
    }
}
