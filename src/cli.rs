//! The `mesher` command line: `serve`, `migrate`, `partitions`, `user create`, `demo`.

use std::io::BufRead;

use crate::domain::{KeyId, OrgId, ProjectId, Role, UserId};
use anyhow::{Context as _, bail};
use chrono::Utc;
use clap::{Parser, Subcommand};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;

use crate::Application;
use crate::auth::password;
use crate::config::Settings;
use crate::db::{self, accounts, partitions, projects};
use crate::domain::keys;

/// Self-hosted error and event monitoring.
#[derive(Debug, Parser)]
#[command(name = "mesher", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (migrates first unless database.migrate_on_start = false).
    Serve,
    /// Apply pending database migrations.
    Migrate {
        /// Revert the most recent migration instead.
        #[arg(long)]
        revert: bool,
    },
    /// Event partition maintenance, now.
    Partitions {
        #[command(subcommand)]
        action: PartitionAction,
    },
    /// Manage users.
    User {
        #[command(subcommand)]
        action: UserAction,
    },
    /// Seed a demo user, organization and project (idempotent) and print a fresh key.
    Demo {
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum PartitionAction {
    /// Create the partitions from yesterday to partitions.days_ahead.
    Ensure,
    /// Drop the partitions older than partitions.retention_days.
    Prune,
}

#[derive(Debug, Subcommand)]
pub enum UserAction {
    /// Create a user; the password is read from the first line of standard input.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "")]
        name: String,
        /// Also make the user owner of this organization (created when missing).
        #[arg(long)]
        org: Option<String>,
    },
}

/// Runs one command to completion.
pub async fn run(cli: Cli, settings: Settings) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve => {
            let app = Application::build(settings).await?;
            tracing::info!(port = app.port(), "mesher is serving");
            app.run_until_stopped().await?;
            Ok(())
        }
        Command::Migrate { revert } => migrate(&settings, revert).await,
        Command::Partitions { action } => partitions_now(&settings, action).await,
        Command::User {
            action: UserAction::Create { email, name, org },
        } => {
            let password = read_password_from_stdin()?;
            let user = create_user(&settings, &email, &name, password, org.as_deref()).await?;
            println!("created user {} ({})", user.email, user.id);
            Ok(())
        }
        Command::Demo { json } => {
            let demo = demo(&settings).await?;
            if json {
                println!("{}", serde_json::to_string(&demo)?);
            } else {
                demo.print();
            }
            Ok(())
        }
    }
}

async fn connect(settings: &Settings) -> anyhow::Result<AsyncPgConnection> {
    AsyncPgConnection::establish(settings.database.url.expose_secret())
        .await
        .context("connecting to the database (database.url)")
}

async fn migrate(settings: &Settings, revert: bool) -> anyhow::Result<()> {
    let url = settings.database.url.expose_secret();
    if revert {
        let version = db::revert_last_migration(url).await?;
        println!("reverted migration {version}");
    } else {
        let applied = db::run_migrations(url).await?;
        if applied.is_empty() {
            println!("database is up to date");
        }
        for version in applied {
            println!("applied migration {version}");
        }
    }
    Ok(())
}

async fn partitions_now(settings: &Settings, action: PartitionAction) -> anyhow::Result<()> {
    let mut conn = connect(settings).await?;
    let today = Utc::now().date_naive();
    let p = &settings.partitions;
    let names = match action {
        PartitionAction::Ensure => {
            let last = today + chrono::Days::new(u64::from(p.days_ahead));
            partitions::ensure_range(&mut conn, today - chrono::Days::new(1), last).await?
        }
        PartitionAction::Prune => {
            let keep_from = today - chrono::Days::new(u64::from(p.retention_days));
            partitions::prune_before(&mut conn, keep_from).await?
        }
    };
    let verb = match action {
        PartitionAction::Ensure => "created",
        PartitionAction::Prune => "dropped",
    };
    println!("{verb} {} partition(s)", names.len());
    for name in names {
        println!("  {name}");
    }
    Ok(())
}

fn read_password_from_stdin() -> anyhow::Result<SecretString> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    if password.is_empty() {
        bail!("no password on standard input (e.g. `echo 'secret-pass' | mesher user create …`)");
    }
    Ok(SecretString::from(password))
}

/// Creates a user (optionally owner of `org`, created when missing).
pub async fn create_user(
    settings: &Settings,
    email: &str,
    name: &str,
    password: SecretString,
    org: Option<&str>,
) -> anyhow::Result<accounts::User> {
    let email = accounts::normalize_email(email);
    if !email.contains('@') {
        bail!("--email {email:?} is not an email address");
    }
    let hash = password::hash(password).await?;
    let mut conn = connect(settings).await?;
    if accounts::find_user_by_email(&mut conn, &email)
        .await?
        .is_some()
    {
        bail!("a user with email {email} already exists");
    }
    let user = accounts::create_user(
        &mut conn,
        &accounts::NewUser {
            id: UserId::new(),
            email: &email,
            password_hash: &hash,
            name,
        },
    )
    .await?;
    if let Some(slug) = org {
        let org = find_or_create_org(&mut conn, slug, slug).await?;
        accounts::upsert_membership(&mut conn, org.id, user.id, Role::Owner).await?;
    }
    Ok(user)
}

async fn find_or_create_org(
    conn: &mut AsyncPgConnection,
    slug: &str,
    name: &str,
) -> anyhow::Result<accounts::Organization> {
    if let Some(org) = accounts::find_org_by_slug(conn, slug).await? {
        return Ok(org);
    }
    let new = accounts::NewOrganization {
        id: OrgId::new(),
        slug,
        name,
    };
    accounts::create_org(conn, &new).await.with_context(|| {
        format!("creating organization {slug:?} (slug must match [a-z0-9-]{{1,50}})")
    })
}

/// What `mesher demo` prints.
#[derive(Debug, Serialize)]
pub struct Demo {
    pub email: String,
    pub password: String,
    pub org: String,
    pub project: String,
    pub project_number: i32,
    pub key: String,
    pub dsn: String,
    pub url: String,
}

impl Demo {
    fn print(&self) {
        println!("Mesher demo account (password and key are new on every run):");
        println!("  url       {}", self.url);
        println!("  email     {}", self.email);
        println!("  password  {}", self.password);
        println!("  org       {}", self.org);
        println!(
            "  project   {} (number {})",
            self.project, self.project_number
        );
        println!("  key       {}", self.key);
        println!("  dsn       {}", self.dsn);
        println!();
        println!("Open the web UI and sign in with the email and password above:");
        println!("  {}/{}/{}/issues", self.url, self.org, self.project);
        println!();
        println!("Send an event:");
        println!(
            "  curl -X POST {}/api/v1/events -H 'X-Mesher-Key: {}' -H 'Content-Type: application/json' \\",
            self.url, self.key
        );
        println!(
            "       -d '{{\"message\":\"hello\",\"level\":\"error\",\"timestamp\":\"{}\"}}'",
            Utc::now().format("%Y-%m-%dT%H:%M:%SZ")
        );
    }
}

const DEMO_EMAIL: &str = "demo@mesher.local";
const DEMO_ORG: &str = "demo";
const DEMO_PROJECT: &str = "demo-app";

/// Seeds (or finds) the demo user, org and project, gives the user a fresh password and the
/// project a fresh key, and returns them. Running it again reuses the same rows.
pub async fn demo(settings: &Settings) -> anyhow::Result<Demo> {
    let password =
        rand::distr::SampleString::sample_string(&rand::distr::Alphanumeric, &mut rand::rng(), 20);
    let hash = password::hash(SecretString::from(password.clone())).await?;
    let key = keys::generate_project_key();
    let mut conn = connect(settings).await?;
    let (org, project) = conn
        .transaction::<_, anyhow::Error, _>(async |conn| {
            let user = match accounts::find_user_by_email(conn, DEMO_EMAIL).await? {
                Some(user) => {
                    accounts::set_password_hash(conn, user.id, &hash).await?;
                    user
                }
                None => {
                    let new = accounts::NewUser {
                        id: UserId::new(),
                        email: DEMO_EMAIL,
                        password_hash: &hash,
                        name: "Demo User",
                    };
                    accounts::create_user(conn, &new).await?
                }
            };
            let org = find_or_create_org(conn, DEMO_ORG, "Demo Organization").await?;
            accounts::upsert_membership(conn, org.id, user.id, Role::Owner).await?;
            let project = match projects::find_project(conn, org.id, DEMO_PROJECT).await? {
                Some(p) => p,
                None => {
                    let new = projects::NewProject {
                        id: ProjectId::new(),
                        org_id: org.id,
                        slug: DEMO_PROJECT,
                        name: "Demo App",
                        platform: Some("python"),
                    };
                    projects::create_project(conn, &new).await?
                }
            };
            let new_key = projects::NewApiKey {
                id: KeyId::new(),
                project_id: project.id,
                label: &format!("demo {}", Utc::now().format("%Y-%m-%d %H:%M:%S")),
                prefix: &keys::display_prefix(&key),
                key_hash: &keys::hash_secret(&key),
            };
            projects::create_api_key(conn, &new_key).await?;
            Ok((org, project))
        })
        .await?;
    Ok(Demo {
        email: DEMO_EMAIL.into(),
        password,
        org: org.slug,
        project: project.slug,
        project_number: project.number,
        dsn: settings.dsn(&key, project.number),
        key,
        url: settings.public_url().to_owned(),
    })
}
