//! The `mesher` binary itself, run as a newcomer would run it.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use mesher::db::schema::{api_keys, memberships, users};

use crate::helpers::{ServerProcess, TestDb, mesher_command};

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("mesher runs");
    assert!(
        out.status.success(),
        "mesher failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[actix_web::test]
async fn migrate_applies_everything_then_nothing() {
    let db = TestDb::empty().await;
    let first = stdout(&run(mesher_command(&db).arg("migrate")));
    assert_eq!(
        first.matches("applied migration").count(),
        mesher::db::embedded_versions().len(),
        "{first}"
    );
    let second = stdout(&run(mesher_command(&db).arg("migrate")));
    assert!(second.contains("database is up to date"), "{second}");
}

#[actix_web::test]
async fn demo_is_idempotent_and_prints_a_fresh_working_key() {
    let db = TestDb::migrated().await;
    let a: serde_json::Value =
        serde_json::from_slice(&run(mesher_command(&db).args(["demo", "--json"])).stdout).unwrap();
    let b: serde_json::Value =
        serde_json::from_slice(&run(mesher_command(&db).args(["demo", "--json"])).stdout).unwrap();
    for field in ["email", "password", "org", "project", "key", "dsn", "url"] {
        assert!(a[field].is_string(), "{field} missing in {a}");
    }
    assert_eq!(a["org"], b["org"]);
    assert_eq!(a["project"], b["project"]);
    assert_ne!(a["key"], b["key"]);
    let key = b["key"].as_str().unwrap();
    assert!(
        mesher::domain::keys::is_valid_project_key_format(key),
        "{key}"
    );
    let dsn = b["dsn"].as_str().unwrap();
    assert!(dsn.starts_with(&format!("http://{key}@")), "{dsn}");
    assert!(dsn.ends_with(&format!("/{}", b["project_number"])), "{dsn}");

    let mut conn = db.conn().await;
    let hashes: Vec<String> = api_keys::table
        .select(api_keys::key_hash)
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(hashes.len(), 2);
    assert!(hashes.contains(&mesher::domain::keys::hash_secret(key)));
    assert!(!hashes.iter().any(|h| h.contains(key)));
    let stored: String = users::table
        .select(users::password_hash)
        .first(&mut conn)
        .await
        .unwrap();
    let password = b["password"].as_str().unwrap().to_owned();
    assert!(mesher::auth::password::verify(password.into(), stored).await);
}

#[actix_web::test]
async fn user_create_reads_the_password_from_stdin() {
    let db = TestDb::migrated().await;
    let mut child = mesher_command(&db)
        .args([
            "user",
            "create",
            "--email",
            "Admin@Example.COM",
            "--name",
            "Ada",
            "--org",
            "acme",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"a long enough password\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut conn = db.conn().await;
    let (email, hash): (String, String) = users::table
        .select((users::email, users::password_hash))
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(email, "admin@example.com");
    assert!(mesher::auth::password::verify("a long enough password".to_owned().into(), hash).await);
    let role: String = memberships::table
        .select(memberships::role)
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(role, "owner");

    // A second user with the same email (any case) is refused.
    let again = mesher_command(&db)
        .args(["user", "create", "--email", "admin@example.com"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!again.status.success());
}

#[actix_web::test]
async fn an_invalid_bind_address_fails_naming_the_key() {
    let db = TestDb::migrated().await;
    let out = mesher_command(&db)
        .env("MESHER__HTTP__BIND", "not-an-address")
        .arg("serve")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("http.bind"), "{err}");
}

#[actix_web::test]
async fn serve_migrates_comes_up_ready_and_stops_on_sigterm() {
    let db = TestDb::empty().await;
    let server = ServerProcess::start(&db, &[("MESHER__DATABASE__MIGRATE_ON_START", "true")]).await;
    let status = server.sigterm_and_wait();
    assert!(status.success(), "exit status after SIGTERM: {status}");
}

#[actix_web::test]
async fn partitions_commands_ensure_and_prune() {
    let db = TestDb::migrated().await;
    // In order: the first ensure creates yesterday to a week ahead, the second nothing.
    for (command, expected) in [
        ("ensure", "created 9 partition(s)"),
        ("ensure", "created 0 partition(s)"),
        ("prune", "dropped 0 partition(s)"),
    ] {
        let out = stdout(&run(mesher_command(&db).args(["partitions", command])));
        assert!(out.contains(expected), "partitions {command}: {out}");
    }
}
