//! One-time messages across a redirect (post/redirect/get): a form post that must show
//! something once — a new key's secret and DSN, a new alert rule's signing secret — leaves it
//! here under the session and the id of what it made, redirects to `?created=<id>`, and that
//! page takes it out ([`OneTime::shown`]). A reload then says it was already shown, and the
//! secret never travels in a URL or a cookie.
//!
//! Kept in this node's memory for [`TTL`], one entry per session and kind: behind a load balancer
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
    pub label: String,
    pub key: String,
    pub dsn: String,
}

/// An alert rule just created, whose webhook signing secret is shown once.
#[derive(Debug, Clone)]
pub struct CreatedRule {
    pub name: String,
    pub secret: String,
}

/// The messages waiting, by session.
#[derive(Clone, Default)]
pub struct Flash {
    pub keys: OneTime<KeyId, CreatedKey>,
    pub rules: OneTime<RuleId, CreatedRule>,
}

/// Messages of one kind, at most one a session, each under the id of what was created: the
/// page after the creation asks for that id (`?created=<id>`).
#[derive(Clone)]
pub struct OneTime<Id, V>(moka::sync::Cache<SessionId, (Id, V)>);

impl<Id: Clone + Send + Sync + 'static, V: Clone + Send + Sync + 'static> Default
    for OneTime<Id, V>
{
    fn default() -> Self {
        Self(
            moka::sync::Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(TTL)
                .build(),
        )
    }
}

/// `?created=<id>`: the page after a creation asks for what it made.
#[derive(Debug, Deserialize)]
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

impl<Id, V> OneTime<Id, V>
where
    Id: PartialEq + FromStr + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// Leaves `value`, created as `id`, for the next page of `session`.
    pub fn put(&self, session: SessionId, id: Id, value: V) {
        self.0.insert(session, (id, value));
    }

    /// What the page `query` names shows: the thing it asks for, taken once (only by a page
    /// of the same session asking for its id), or that it was already shown. A query that
    /// does not parse is ignored, like an unknown id.
    pub fn shown(&self, session: SessionId, query: Option<&CreatedQuery>) -> Shown<V> {
        let asked = query.and_then(|q| q.created.as_deref()?.parse::<Id>().ok());
        let Some(asked) = asked else {
            return Shown::Nothing;
        };
        match self.0.get(&session) {
            Some((id, _)) if id == asked => self
                .0
                .remove(&session)
                .map_or(Shown::AlreadyShown, |(_, v)| Shown::Now(v)),
            _ => Shown::AlreadyShown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `shown` answered, in words.
    fn said<V>(shown: Shown<V>) -> &'static str {
        match shown {
            Shown::Nothing => "nothing",
            Shown::Now(_) => "now",
            Shown::AlreadyShown => "already shown",
        }
    }

    #[test]
    fn the_page_after_a_creation_shows_it_once_and_only_to_its_session() {
        let flash = Flash::default();
        let (session, other) = (SessionId::new(), SessionId::new());
        let (key_id, rule_id) = (KeyId::new(), RuleId::new());
        let key = CreatedKey {
            label: "ci".into(),
            key: "mshr_secret".into(),
            dsn: "http://mshr_secret@host/1".into(),
        };
        flash.keys.put(session, key_id, key);
        // A key and a rule of the same session wait side by side.
        let rule = CreatedRule {
            name: "r".into(),
            secret: "whsec_x".into(),
        };
        flash.rules.put(session, rule_id, rule);
        let q = |created: Option<String>| Some(CreatedQuery { created });
        let asks = [
            (session, None, "nothing"),
            (session, q(None), "nothing"),
            (session, q(Some("not-an-id".into())), "nothing"),
            (other, q(Some(key_id.to_string())), "already shown"),
            (session, q(Some(KeyId::new().to_string())), "already shown"),
            (session, q(Some(key_id.to_string())), "now"),
            (session, q(Some(key_id.to_string())), "already shown"),
        ];
        for (who, query, expected) in asks {
            let got = said(flash.keys.shown(who, query.as_ref()));
            assert_eq!(got, expected, "{query:?}");
        }
        let query = q(Some(rule_id.to_string()));
        match flash.rules.shown(session, query.as_ref()) {
            Shown::Now(r) => assert_eq!(r.secret, "whsec_x"),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            said(flash.rules.shown(session, query.as_ref())),
            "already shown"
        );
    }
}
