//! Python tools the suite drives (the official `sentry-sdk`, schemathesis): each in its own
//! virtualenv under `target/`, installed with pip once and reused while it still works.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The virtualenv `target/<name>`, made and given `package` (a pip requirement) unless
/// `ready` already holds for it. Answers the venv's folder.
pub fn python_venv(name: &str, package: &str, ready: impl Fn(&Path) -> bool) -> PathBuf {
    let venv = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/target")).join(name);
    if ready(&venv) {
        return venv;
    }
    let made = Command::new("python3")
        .args(["-m", "venv", "--clear"])
        .arg(&venv)
        .status();
    assert!(
        made.is_ok_and(|s| s.success()),
        "python3 -m venv failed: install Python 3 with venv (apt-get install python3-venv)"
    );
    let installed = Command::new(venv.join("bin/pip"))
        .args(["install", "--quiet", "--disable-pip-version-check", package])
        .status();
    assert!(
        installed.is_ok_and(|s| s.success()),
        "pip install {package} failed (PyPI must be reachable)"
    );
    venv
}

/// `target/sdk-venv/bin/python` with the official Python `sentry-sdk` 2.x installed (once).
pub fn python_with_sentry_sdk() -> &'static PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let imports = |venv: &Path| {
            Command::new(venv.join("bin/python"))
                .args(["-c", "import sentry_sdk"])
                .status()
                .is_ok_and(|s| s.success())
        };
        python_venv("sdk-venv", "sentry-sdk>=2,<3", imports).join("bin/python")
    })
}

/// Runs `tests/sdk/<script>` with the Python SDK, its one argument `dsn`, off the async
/// threads (the first call may create the venv); fails the test unless the script succeeds.
/// Answers its standard output.
pub async fn run_python_sdk(script: &str, dsn: String) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/sdk")
        .join(script);
    let out = actix_web::rt::task::spawn_blocking(move || {
        Command::new(python_with_sentry_sdk())
            .arg(script)
            .arg(dsn)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
