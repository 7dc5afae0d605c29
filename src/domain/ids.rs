//! Typed ids: one newtype per table, so rows carry what they are and a call that swaps two
//! ids (an org id where a project id is due) does not compile.
//!
//! Every id is a UUIDv7 (time-ordered, so keyset pagination on ids is by creation time). On
//! the wire an id is its UUID string; in PostgreSQL it is a `uuid` column
//! (`diesel-derive-newtype` makes diesel read and write the wrapped `Uuid`).

use diesel_derive_newtype::DieselNewType;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($($(#[$doc:meta])* $name:ident;)+) => {$(
        $(#[$doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
            DieselNewType, utoipa::ToSchema,
        )]
        #[serde(transparent)]
        #[schema(value_type = uuid::Uuid)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A fresh, time-ordered id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            /// The wrapped UUID.
            pub fn uuid(self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.parse().map(Self)
            }
        }
    )+};
}

id_type! {
    /// An organization (`organizations.id`).
    OrgId;
    /// A project (`projects.id`).
    ProjectId;
    /// A user account (`users.id`).
    UserId;
    /// An issue: the group of a project's events sharing a fingerprint (`issues.id`).
    IssueId;
    /// An event as Mesher stores it (`events.id`), given at receive time. Not the client's
    /// own `event_id`, which is kept beside it as a plain UUID.
    EventId;
    /// A project ingestion key (`api_keys.id`).
    KeyId;
    /// An alert rule (`alert_rules.id`).
    RuleId;
    /// A notification of an alert rule, delivered or to deliver (`alert_deliveries.id`).
    DeliveryId;
    /// A browser session (`sessions.id`).
    SessionId;
    /// A user's script token (`user_tokens.id`).
    TokenId;
    /// A membership row (`memberships.id`).
    MembershipId;
    /// A run of `mesher serve`, from start to exit (`node_runs.id`).
    RunId;
    /// An entry of the audit log (`audit_log.id`).
    AuditId;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_their_uuid_on_the_wire() {
        let id = ProjectId::new();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{}\"", id.uuid()));
        assert_eq!(serde_json::from_str::<ProjectId>(&json).unwrap(), id);
        assert_eq!(id.to_string().parse::<ProjectId>().unwrap(), id);
    }

    #[test]
    fn new_ids_are_time_ordered() {
        let (a, b) = (IssueId::new(), IssueId::new());
        assert!(a < b);
        assert_eq!(a.uuid().get_version_num(), 7);
    }
}
