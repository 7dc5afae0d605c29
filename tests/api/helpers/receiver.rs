//! Real peers of the alert deliveries:
//!
//! - [`Receiver`]: an HTTP server on a free port of 127.0.0.1 that records every webhook it
//!   gets, checks its Standard Webhooks signature with its own HMAC-SHA256 (not mesher's),
//!   and can answer 500 to the first N deliveries;
//! - [`SmtpSink`]: Python's `aiosmtpd` (installed from PyPI into `target/smtp-venv`, like the
//!   SDK's venv) on a free port, printing every message it receives to a file the test reads.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::venv::python_venv;

/// One webhook as the receiver got it.
#[derive(Debug, Clone)]
pub struct Hit {
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    pub body: Value,
    /// The signature matched the secret (and the timestamp is within 5 minutes).
    pub verified: bool,
    /// What the receiver answered.
    pub answered: u16,
}

#[derive(Default)]
struct State {
    secret: Option<String>,
    fail_first: usize,
    hits: Vec<Hit>,
}

/// A webhook receiver; stops with the test's actix System.
pub struct Receiver {
    pub url: String,
    state: Arc<Mutex<State>>,
}

/// HMAC-SHA256 (RFC 2104), written out.
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(block.map(|b| b ^ 0x36));
    inner.update(message);
    let mut outer = Sha256::new();
    outer.update(block.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

/// Whether `signature` (space-separated `v1,<base64>` entries) signs `id.timestamp.body`
/// with `secret` (`whsec_<base64 key>`), and the timestamp is recent.
pub fn verify(secret: &str, id: &str, timestamp: &str, body: &[u8], signature: &str) -> bool {
    let Some(key) = secret
        .strip_prefix("whsec_")
        .and_then(|k| BASE64.decode(k).ok())
    else {
        return false;
    };
    let Ok(ts) = timestamp.parse::<i64>() else {
        return false;
    };
    if (chrono::Utc::now().timestamp() - ts).abs() > 300 {
        return false;
    }
    let mut signed = format!("{id}.{timestamp}.").into_bytes();
    signed.extend_from_slice(body);
    let expected = BASE64.encode(hmac_sha256(&key, &signed));
    signature
        .split(' ')
        .any(|entry| entry.strip_prefix("v1,") == Some(expected.as_str()))
}

async fn receive(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<Mutex<State>>,
) -> HttpResponse {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let (id, timestamp, signature) = (
        header("webhook-id"),
        header("webhook-timestamp"),
        header("webhook-signature"),
    );
    let mut state = state.lock().unwrap();
    let verified = state
        .secret
        .as_deref()
        .is_some_and(|s| verify(s, &id, &timestamp, &body, &signature));
    let answered = if state.hits.len() < state.fail_first {
        500
    } else {
        204
    };
    state.hits.push(Hit {
        id,
        timestamp,
        signature,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        verified,
        answered,
    });
    HttpResponse::build(actix_web::http::StatusCode::from_u16(answered).unwrap()).finish()
}

impl Receiver {
    /// Starts a receiver that answers 500 to its first `fail_first` requests, 204 after.
    pub async fn start(fail_first: usize) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let shared = web::Data::new(Mutex::new(State {
            fail_first,
            ..State::default()
        }));
        let data = shared.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .default_service(web::to(receive))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .unwrap()
        .run();
        actix_web::rt::spawn(server);
        Self {
            url,
            state: shared.into_inner(),
        }
    }

    /// The secret signatures are checked with (the rule's, once created).
    pub fn set_secret(&self, secret: &str) {
        self.state.lock().unwrap().secret = Some(secret.to_owned());
    }

    /// Every request so far.
    pub fn hits(&self) -> Vec<Hit> {
        self.state.lock().unwrap().hits.clone()
    }

    /// Waits up to `within` for `n` requests; answers all of them then (maybe fewer).
    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<Hit> {
        let deadline = Instant::now() + within;
        loop {
            let hits = self.hits();
            if hits.len() >= n || Instant::now() > deadline {
                return hits;
            }
            actix_web::rt::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// An SMTP server process (aiosmtpd's debugging handler: every message printed whole);
/// killed when dropped.
pub struct SmtpSink {
    pub port: u16,
    child: Child,
    log: PathBuf,
}

/// `target/smtp-venv/bin/python` with aiosmtpd installed.
fn python_with_aiosmtpd() -> PathBuf {
    let imports = |venv: &Path| {
        Command::new(venv.join("bin/python"))
            .args(["-c", "import aiosmtpd"])
            .status()
            .is_ok_and(|s| s.success())
    };
    python_venv("smtp-venv", "aiosmtpd>=1.4,<2", imports).join("bin/python")
}

impl SmtpSink {
    /// Starts aiosmtpd on a free port and waits until it accepts connections.
    pub async fn start() -> Self {
        let python = actix_web::rt::task::spawn_blocking(python_with_aiosmtpd)
            .await
            .unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let log = std::env::temp_dir().join(format!("mesher-smtp-{}.log", uuid::Uuid::now_v7()));
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new(python)
            .args(["-u", "-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .stdout(out)
            .stderr(Stdio::null())
            .spawn()
            .expect("aiosmtpd starts");
        let deadline = Instant::now() + Duration::from_secs(15);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "aiosmtpd did not listen");
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
        Self { port, child, log }
    }

    /// What it printed so far: the received messages.
    pub fn received(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits up to `within` until the received text contains `needle`; answers the text.
    pub async fn wait_for(&self, needle: &str, within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            let text = self.received();
            if text.contains(needle) || Instant::now() > deadline {
                return text;
            }
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}
