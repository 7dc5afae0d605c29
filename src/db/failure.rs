//! What a failed write means for the batch that caused it: retry it, isolate a bad row, or
//! give it up. See docs/architecture.md, “In the writer”.
//!
//! PostgreSQL says why a statement failed with a SQLSTATE; diesel-async hands on only
//! diesel's coarse `DatabaseErrorKind` and the message, so the transient conditions that
//! have no kind of their own (deadlocks, lock and statement timeouts, a server shutting
//! down) are recognised by PostgreSQL's message. Anything else the server refuses for one
//! statement is taken as a data error: bisecting a batch over it costs a few more
//! statements, while retrying it whole would only fail again.

use diesel::result::{DatabaseErrorKind, Error as QueryError};

use super::DbError;

/// How the writer treats a failed batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The connection, the server or a lock is in the way; the same batch may pass later.
    Transient,
    /// The server refused a value of the batch (PostgreSQL's classes 22 and 23): some rows
    /// are unstorable as they are; the others must not share their fate.
    Data,
    /// The project was deleted meanwhile (its issues' foreign key refuses the batch).
    ProjectGone,
    /// Anything else (a bug of ours): retried like a transient failure, then dropped.
    Other,
}

/// Messages of PostgreSQL errors that pass: deadlock and serialization (class 40), lock
/// not available (55P03), statement or lock timeout and cancel (57014), shutdown and
/// crash recovery (57P01–57P03), too many connections and out of memory (class 53).
const TRANSIENT_MESSAGES: &[&str] = &[
    "deadlock detected",
    "could not serialize access",
    "could not obtain lock",
    "lock timeout",
    "canceling statement due to",
    "terminating connection",
    "the database system is",
    "too many connections",
    "remaining connection slots",
    "out of memory",
    "out of shared memory",
    "could not resize shared memory",
];

impl DbError {
    /// What this error means for the batch that caused it.
    pub fn failure(&self) -> Failure {
        match self {
            DbError::Pool(_) | DbError::PoolSetup(_) | DbError::Connect(_) => Failure::Transient,
            DbError::Query(QueryError::DatabaseError(kind, info)) => match kind {
                DatabaseErrorKind::ForeignKeyViolation => Failure::ProjectGone,
                DatabaseErrorKind::SerializationFailure
                | DatabaseErrorKind::UnableToSendCommand
                | DatabaseErrorKind::ClosedConnection
                | DatabaseErrorKind::ReadOnlyTransaction => Failure::Transient,
                DatabaseErrorKind::CheckViolation
                | DatabaseErrorKind::NotNullViolation
                | DatabaseErrorKind::UniqueViolation
                | DatabaseErrorKind::ExclusionViolation
                | DatabaseErrorKind::RestrictViolation => Failure::Data,
                _ if is_transient_message(info.message()) => Failure::Transient,
                _ => Failure::Data,
            },
            DbError::Query(QueryError::BrokenTransactionManager) => Failure::Transient,
            DbError::Query(_) | DbError::Migration(_) => Failure::Other,
        }
    }
}

fn is_transient_message(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    TRANSIENT_MESSAGES.iter().any(|m| message.contains(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db_error(kind: DatabaseErrorKind, message: &str) -> DbError {
        DbError::Query(QueryError::DatabaseError(
            kind,
            Box::new(message.to_owned()),
        ))
    }

    #[test]
    fn errors_are_classified() {
        use DatabaseErrorKind::*;
        let cases = [
            (Unknown, "deadlock detected", Failure::Transient),
            (
                Unknown,
                "canceling statement due to statement timeout",
                Failure::Transient,
            ),
            (
                Unknown,
                "canceling statement due to lock timeout",
                Failure::Transient,
            ),
            (
                Unknown,
                "could not obtain lock on relation \"events\"",
                Failure::Transient,
            ),
            (
                Unknown,
                "terminating connection due to administrator command",
                Failure::Transient,
            ),
            (
                Unknown,
                "the database system is shutting down",
                Failure::Transient,
            ),
            (
                SerializationFailure,
                "could not serialize access",
                Failure::Transient,
            ),
            (ClosedConnection, "connection closed", Failure::Transient),
            (UnableToSendCommand, "broken pipe", Failure::Transient),
            (
                Unknown,
                "unsupported Unicode escape sequence",
                Failure::Data,
            ),
            (
                Unknown,
                "invalid byte sequence for encoding \"UTF8\": 0x00",
                Failure::Data,
            ),
            (Unknown, "date/time field value out of range", Failure::Data),
            (
                CheckViolation,
                "new row violates check constraint",
                Failure::Data,
            ),
            (NotNullViolation, "null value in column", Failure::Data),
            (
                ForeignKeyViolation,
                "violates foreign key constraint",
                Failure::ProjectGone,
            ),
        ];
        for (kind, message, expected) in cases {
            assert_eq!(db_error(kind, message).failure(), expected, "{message}");
        }
        let timeout = DbError::Pool(bb8::RunError::TimedOut);
        assert_eq!(timeout.failure(), Failure::Transient);
        assert_eq!(
            DbError::Query(QueryError::NotFound).failure(),
            Failure::Other
        );
    }
}
