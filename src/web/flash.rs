//! One-time messages across a redirect (post/redirect/get): a form post that must show
//! something once — a new key's secret and DSN — leaves it here under the session, redirects,
//! and the page it redirects to takes it out. A reload then shows nothing again, and the
//! secret never travels in a URL or a cookie.
//!
//! Kept in this node's memory for [`TTL`], one entry per session: behind a load balancer
//! without session affinity the page after the redirect may be drawn by another node, which
//! then says the secret was already shown (the key itself works either way).

use std::time::Duration;

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

impl Flash {
    /// Leaves `key` for the next page of `session`.
    pub fn put_key(&self, session: SessionId, key: CreatedKey) {
        self.created.insert(session, key);
    }

    /// Takes the key left for `session` if it is `key_id` (the page asked for): once.
    pub fn take_key(&self, session: SessionId, key_id: KeyId) -> Option<CreatedKey> {
        let found = self.created.get(&session)?;
        if found.key_id != key_id {
            return None;
        }
        self.created.remove(&session)
    }

    /// Leaves `rule` (with its secret) for the next page of `session`.
    pub fn put_rule(&self, session: SessionId, rule: CreatedRule) {
        self.rules.insert(session, rule);
    }

    /// Takes the rule left for `session` if it is `rule_id`: once.
    pub fn take_rule(&self, session: SessionId, rule_id: RuleId) -> Option<CreatedRule> {
        let found = self.rules.get(&session)?;
        if found.rule_id != rule_id {
            return None;
        }
        self.rules.remove(&session)
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
        flash.put_key(session, key);
        assert!(flash.take_key(other, key_id).is_none());
        assert!(flash.take_key(session, KeyId::new()).is_none());
        assert_eq!(flash.take_key(session, key_id).unwrap().key, "mshr_secret");
        assert!(flash.take_key(session, key_id).is_none());
        let rule_id = RuleId::new();
        let rule = CreatedRule {
            rule_id,
            name: "r".into(),
            secret: "whsec_x".into(),
        };
        flash.put_rule(session, rule);
        assert!(flash.take_rule(other, rule_id).is_none());
        assert_eq!(flash.take_rule(session, rule_id).unwrap().secret, "whsec_x");
        assert!(flash.take_rule(session, rule_id).is_none());
    }
}
