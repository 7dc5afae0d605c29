//! A member's role in an organization, ordered by power: what each role may do is decided
//! by comparing roles (`role >= Role::Admin`). Stored as text (`memberships.role`, with a
//! CHECK constraint naming the same three values).

use super::text_enum::text_enum;

text_enum! {
    /// A member's role, least powerful first (so `Ord` ranks them).
    pub enum Role / UnknownRole ("role must be owner, admin or member") {
        /// Reads everything in the organization and triages issues.
        Member = "member",
        /// Also manages projects, keys, alert rules and members below owner.
        Admin = "admin",
        /// Also manages owners, renames and deletes the organization.
        Owner = "owner",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_rank_and_round_trip() {
        assert!(Role::Member < Role::Admin && Role::Admin < Role::Owner);
        for &role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
            let json = serde_json::to_string(&role).unwrap();
            assert_eq!(json, format!("\"{role}\""));
            assert_eq!(serde_json::from_str::<Role>(&json).unwrap(), role);
        }
        assert_eq!("Owner".parse::<Role>(), Err(UnknownRole));
    }
}
