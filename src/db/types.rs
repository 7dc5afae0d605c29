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

use crate::domain::alerts::DeliveryStatus;
use crate::domain::{AuditAction, IssueStatus, Level, Role};

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

stored_as_text!(Role, IssueStatus, Level, AuditAction, DeliveryStatus);

/// JSON text serialized already (a pending event's `jsonb` columns), bound as `jsonb`
/// without building a `serde_json::Value` first: the binary `jsonb` format is a version byte
/// (1) followed by the JSON text, which PostgreSQL then parses as it would any jsonb input.
#[derive(Debug, Clone, Copy)]
pub struct JsonText<'a>(pub &'a str);

impl ToSql<diesel::sql_types::Jsonb, Pg> for JsonText<'_> {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        out.write_all(&[1])?;
        out.write_all(self.0.as_bytes())?;
        Ok(IsNull::No)
    }
}

/// The same for tokio-postgres, which the writer's binary COPY uses (`db/copy.rs`).
impl tokio_postgres::types::ToSql for JsonText<'_> {
    fn to_sql(
        &self,
        _: &tokio_postgres::types::Type,
        out: &mut bytes::BytesMut,
    ) -> Result<tokio_postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        out.extend_from_slice(&[1]);
        out.extend_from_slice(self.0.as_bytes());
        Ok(tokio_postgres::types::IsNull::No)
    }

    fn accepts(ty: &tokio_postgres::types::Type) -> bool {
        *ty == tokio_postgres::types::Type::JSONB
    }

    tokio_postgres::types::to_sql_checked!();
}
