//! How the domain's enums are stored: as their canonical lowercase name in a `text` column
//! (each column has a CHECK constraint naming the same values, see docs/schema.md).
//!
//! Reading a value that does not parse is an error of the query, never a silently skipped
//! row: the CHECK constraints make it impossible short of a hand edit of the database.
//! The typed ids need nothing here: `diesel-derive-newtype` maps them to `uuid` where they
//! are declared (`domain/ids.rs`).

use std::io::Write;
use std::str::FromStr;

use diesel::deserialize::{self, FromSql};
use diesel::pg::{Pg, PgValue};
use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sql_types::Text;

use crate::domain::{IssueStatus, Level, Role};

macro_rules! stored_as_text {
    ($($t:ty),+ $(,)?) => {$(
        impl ToSql<Text, Pg> for $t {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
                out.write_all(self.as_str().as_bytes())?;
                Ok(IsNull::No)
            }
        }

        impl FromSql<Text, Pg> for $t {
            fn from_sql(value: PgValue<'_>) -> deserialize::Result<Self> {
                let s = std::str::from_utf8(value.as_bytes())?;
                <$t as FromStr>::from_str(s).map_err(|_| {
                    format!(concat!("unexpected ", stringify!($t), " in the database: {:?}"), s)
                        .into()
                })
            }
        }
    )+};
}

stored_as_text!(Role, IssueStatus, Level);
