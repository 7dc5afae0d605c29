//! The `mesher` binary run as a child process, as an operator runs it: for the CLI commands,
//! and for `mesher serve` where a test needs a real signal (SIGTERM) or the real log output.

use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::db::TestDb;

/// The `mesher` binary with the test profile, pointed at `db`.
pub fn mesher_command(db: &TestDb) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mesher"));
    cmd.env("MESHER_ENV", "test")
        .env(
            "MESHER_CONFIG_DIR",
            concat!(env!("CARGO_MANIFEST_DIR"), "/config"),
        )
        .env("MESHER__DATABASE__URL", &db.url)
        .env_remove("RUST_LOG");
    cmd
}

/// A real `mesher serve` process on a free port of 127.0.0.1.
pub struct ServerProcess {
    child: Child,
    pub url: String,
}

impl ServerProcess {
    /// Starts `mesher serve` on `db` with extra environment and waits until
    /// `/health/ready` answers 200 (panics after 30 s).
    pub async fn start(db: &TestDb, env: &[(&str, &str)]) -> Self {
        Self::spawn(db, env, Stdio::null()).await
    }

    /// Like [`Self::start`], with the server's log output (stderr) written to `log`.
    pub async fn start_logging(db: &TestDb, env: &[(&str, &str)], log: &Path) -> Self {
        let file = std::fs::File::create(log).expect("log file");
        Self::spawn(db, env, Stdio::from(file)).await
    }

    async fn spawn(db: &TestDb, env: &[(&str, &str)], stderr: Stdio) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut cmd = mesher_command(db);
        cmd.env("MESHER__HTTP__BIND", format!("127.0.0.1:{port}"))
            .envs(env.iter().copied())
            .arg("serve")
            .stdout(Stdio::null())
            .stderr(stderr);
        let mut server = Self {
            child: cmd.spawn().expect("mesher serve starts"),
            url: format!("http://127.0.0.1:{port}"),
        };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let probe = client
                .get(format!("{}/health/ready", server.url))
                .send()
                .await;
            if probe.is_ok_and(|res| res.status() == 200) {
                return server;
            }
            if Instant::now() > deadline {
                let _ = server.child.kill();
                panic!("mesher serve did not become ready");
            }
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Sends SIGTERM and waits for the process to exit.
    pub fn sigterm_and_wait(mut self) -> ExitStatus {
        let killed = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        self.child.wait().unwrap()
    }

    /// Sends SIGKILL (no chance to flush anything) and waits for the process to exit.
    pub fn kill9_and_wait(mut self) -> ExitStatus {
        self.child.kill().expect("SIGKILL sent");
        self.child.wait().unwrap()
    }
}
