//! A private PostgreSQL server for one test, which the test may stop, restart or lock
//! without touching the server every other test shares.
//!
//! `initdb` into a temporary folder, `pg_ctl start` on a free port of 127.0.0.1 with the
//! socket in that folder, trust authentication, no fsync (nothing here must survive a power
//! cut). The server binaries are the newest PostgreSQL 15+ under `/usr/lib/postgresql`, or
//! `MESHER_PG_BINDIR`; as root (CI), the server runs as the `postgres` user, since
//! PostgreSQL refuses to run as root. Dropping the value stops the server and deletes its
//! folder.

use std::path::PathBuf;
use std::process::{Command, Stdio};

/// A private server for one test; dropping it stops the server and deletes its folder.
pub struct PrivateCluster {
    server: Server,
    pub port: u16,
}

/// Where a server lives and how to run its binaries.
#[derive(Clone)]
struct Server {
    dir: PathBuf,
    bindir: PathBuf,
    port: u16,
    /// Run the binaries as the `postgres` user (we are root).
    as_postgres: bool,
}

/// The newest PostgreSQL 15+ server binaries.
fn bindir() -> PathBuf {
    if let Ok(dir) = std::env::var("MESHER_PG_BINDIR") {
        return dir.into();
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let major: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            (major >= 15 && bin.join("initdb").exists()).then_some((major, bin))
        })
        .collect();
    found.sort();
    found
        .pop()
        .map(|(_, bin)| bin)
        .expect("PostgreSQL 15+ server binaries (scripts/install-postgres installs them)")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Whether this process runs as root (PostgreSQL must then run as another user).
fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

impl Server {
    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// Runs one of the server binaries; panics on failure.
    fn run(&self, program: &str, args: &[&str]) {
        let path = self.bindir.join(program);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&path);
            c
        } else {
            Command::new(&path)
        };
        let out = cmd
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("{program}: {e}"));
        assert!(
            out.status.success(),
            "{program} {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn init(&self) {
        std::fs::create_dir_all(&self.dir).unwrap();
        if self.as_postgres {
            let status = Command::new("chown")
                .arg("postgres:postgres")
                .arg(&self.dir)
                .status()
                .unwrap();
            assert!(status.success(), "chown of {:?}", self.dir);
        }
        let data = self.data();
        let args = [
            "-D",
            data.to_str().unwrap(),
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
        ];
        self.run("initdb", &args);
    }

    fn start(&self) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c fsync=off -c synchronous_commit=off \
             -c full_page_writes=off -c max_connections=100",
            self.port,
            self.dir.display()
        );
        let (data, log) = (self.data(), self.dir.join("log"));
        let (data, log) = (data.to_str().unwrap(), log.to_str().unwrap());
        self.run(
            "pg_ctl",
            &["-D", data, "-l", log, "-o", &options, "-w", "start"],
        );
    }

    fn stop(&self, mode: &str) {
        let data = self.data();
        self.run(
            "pg_ctl",
            &["-D", data.to_str().unwrap(), "-m", mode, "-w", "stop"],
        );
    }

    fn is_running(&self) -> bool {
        self.data().join("postmaster.pid").exists()
    }
}

/// Runs `f` on the server on a blocking thread (the binaries take a moment).
async fn blocking(server: &Server, f: fn(&Server)) {
    let server = server.clone();
    actix_web::rt::task::spawn_blocking(move || f(&server))
        .await
        .expect("pg_ctl");
}

impl PrivateCluster {
    /// Creates and starts a server.
    pub async fn start() -> Self {
        let server = Server {
            dir: std::env::temp_dir().join(format!("mesher-pg-{}", uuid::Uuid::now_v7().simple())),
            bindir: bindir(),
            port: free_port(),
            as_postgres: is_root(),
        };
        blocking(&server, |s| {
            s.init();
            s.start();
        })
        .await;
        Self {
            port: server.port,
            server,
        }
    }

    /// The URL of database `name` on this server.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// Stops the server (fast shutdown: sessions are cut, as in an outage).
    pub async fn stop(&self) {
        blocking(&self.server, |s| s.stop("fast")).await;
    }

    /// Starts the server again, on the same port.
    pub async fn restart(&self) {
        blocking(&self.server, Server::start).await;
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        if self.server.is_running() {
            let server = self.server.clone();
            let _ = std::panic::catch_unwind(move || server.stop("immediate"));
        }
        let _ = std::fs::remove_dir_all(&self.server.dir);
    }
}
