//! `text_enum!`: an enum of a few named values stored as their lowercase name in a `text`
//! column — its `as_str`, an exact `FromStr`, `Display`, serde and OpenAPI as that name, and
//! the diesel derives that let `db/types.rs` store it. Used by `Role` and `IssueStatus`.

/// Declares `enum $name` with the listed variants and their names, and `struct $error`
/// (the error of parsing anything else, whose message is `$expected`).
macro_rules! text_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident / $error:ident ($expected:literal) {
            $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(
            Debug,
            Clone,
            Copy,
            PartialEq,
            Eq,
            PartialOrd,
            Ord,
            Hash,
            serde::Serialize,
            serde::Deserialize,
            diesel::expression::AsExpression,
            diesel::deserialize::FromSqlRow,
        )]
        #[diesel(sql_type = diesel::sql_types::Text)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant,)+
        }

        #[doc = concat!("A string that is not a `", stringify!($name), "`.")]
        #[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
        #[error($expected)]
        pub struct $error;

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &[$name] = &[$($name::$variant,)+];

            /// The name as stored and sent.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        // The schema by hand: utoipa's derive does not see a `serde(rename)` whose name
        // comes from a macro argument, and documented the Rust names (`Owner`).
        impl utoipa::__dev::ComposeSchema for $name {
            fn compose(
                _: Vec<utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>>,
            ) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some($name::ALL.iter().map(|v| v.as_str())))
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {
            fn name() -> std::borrow::Cow<'static, str> {
                std::borrow::Cow::Borrowed(stringify!($name))
            }
        }

        impl std::str::FromStr for $name {
            type Err = $error;

            /// The exact, lowercase name only.
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err($error),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub(crate) use text_enum;
