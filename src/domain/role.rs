//! A member's role in an organization, ordered by power: what each role may do is decided
//! by comparing roles (`role >= Role::Admin`). Stored as text (`memberships.role`, with a
//! CHECK constraint naming the same three values).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A member's role, least powerful first (so `Ord` ranks them).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
    diesel::expression::AsExpression,
    diesel::deserialize::FromSqlRow,
)]
#[serde(rename_all = "lowercase")]
#[diesel(sql_type = diesel::sql_types::Text)]
pub enum Role {
    /// Reads everything in the organization and triages issues.
    Member,
    /// Also manages projects, keys, alert rules and members below owner.
    Admin,
    /// Also manages owners, renames and deletes the organization.
    Owner,
}

/// A string that is not one of the three roles.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("role must be owner, admin or member")]
pub struct UnknownRole;

impl Role {
    /// The name as stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Member => "member",
            Self::Admin => "admin",
            Self::Owner => "owner",
        }
    }
}

impl FromStr for Role {
    type Err = UnknownRole;

    /// Exact, lowercase names only.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "member" => Ok(Self::Member),
            "admin" => Ok(Self::Admin),
            "owner" => Ok(Self::Owner),
            _ => Err(UnknownRole),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_rank_and_round_trip() {
        assert!(Role::Member < Role::Admin && Role::Admin < Role::Owner);
        for role in [Role::Member, Role::Admin, Role::Owner] {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
            let json = serde_json::to_string(&role).unwrap();
            assert_eq!(json, format!("\"{role}\""));
        }
        assert_eq!("Owner".parse::<Role>(), Err(UnknownRole));
    }
}
