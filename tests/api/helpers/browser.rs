//! A real browser for the UI tests: Debian's headless Chromium driven through chromedriver's
//! WebDriver protocol (plain JSON over HTTP, spoken with the suite's `reqwest`), plus
//! chromedriver's DevTools pass-through (`/goog/cdp/execute`) for dark mode and a phone-sized
//! viewport. Each [`Browser`] has its own chromedriver on a free port and its own profile;
//! dropping it ends the session and the whole process group.
//!
//! Without `chromium` and `chromedriver` the browser tests fail and say what to install,
//! unless `MESHER_SKIP_BROWSER=1` (then [`Browser::launch`] answers `None`).
//!
//! [`axe_violations`](Browser::axe_violations) runs axe-core (pinned in
//! `tests/browser/package.json`, installed once with `npm ci` into `target/node/`) on the
//! page and answers its serious and critical violations.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The W3C key of an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// One headless Chromium session.
pub struct Browser {
    http: reqwest::Client,
    /// `http://127.0.0.1:PORT/session/ID`
    session: String,
    driver_port: u16,
    session_id: String,
    driver: Child,
    /// The application's address, which relative paths are joined to.
    pub base: String,
}

/// A page element (a WebDriver element reference).
#[derive(Debug, Clone)]
pub struct Element(String);

/// `path`, or what to install to get it.
pub fn program(path: &str, package: &str) -> Result<PathBuf, String> {
    let p = PathBuf::from(path);
    if p.exists() {
        Ok(p)
    } else {
        Err(format!(
            "the browser tests need {path}: install Debian's `{package}` package \
             (apt-get install chromium chromium-driver; scripts/test does it when run as root), \
             or set MESHER_SKIP_BROWSER=1 to skip them"
        ))
    }
}

/// Whether the browser tests are switched off (`MESHER_SKIP_BROWSER=1`).
pub fn skipped() -> bool {
    let skip = std::env::var("MESHER_SKIP_BROWSER").is_ok_and(|v| v == "1");
    if skip {
        eprintln!("MESHER_SKIP_BROWSER=1: browser test skipped");
    }
    skip
}

impl Browser {
    /// A fresh headless Chromium (1280×800, light) for the app at `base`, or `None` when
    /// `MESHER_SKIP_BROWSER=1`.
    pub async fn launch(base: &str) -> Option<Browser> {
        if skipped() {
            return None;
        }
        let chromium = program(CHROMIUM, "chromium").unwrap_or_else(|e| panic!("{e}"));
        let chromedriver =
            program(CHROMEDRIVER, "chromium-driver").unwrap_or_else(|e| panic!("{e}"));
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut driver = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group: dropping the browser kills chromedriver and Chromium.
            .process_group(0)
            .spawn()
            .expect("chromedriver starts");
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        let root = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        loop {
            let ready = http.get(format!("{root}/status")).send().await;
            if ready.is_ok_and(|r| r.status().is_success()) {
                break;
            }
            if let Ok(Some(status)) = driver.try_wait() {
                panic!("chromedriver exited: {status}");
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "chromedriver did not answer on port {port}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "pageLoadStrategy": "normal",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1280,800",
                         "--hide-scrollbars", "--force-device-scale-factor=1",
                         "--no-first-run", "--lang=en-US"],
            },
        }}});
        let res: Value = http
            .post(format!("{root}/session"))
            .json(&caps)
            .send()
            .await
            .expect("a WebDriver session")
            .json()
            .await
            .unwrap();
        let session_id = res["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {res}"))
            .to_owned();
        let browser = Browser {
            http,
            session: format!("{root}/session/{session_id}"),
            driver_port: port,
            session_id,
            driver,
            base: base.trim_end_matches('/').to_owned(),
        };
        browser.viewport(1280, 800).await;
        Some(browser)
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.session));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.expect("chromedriver answers");
        let status = res.status();
        let v: Value = res.json().await.expect("a WebDriver answer");
        assert!(
            status.is_success(),
            "WebDriver {method} {path}: {status} {}",
            v["value"]
        );
        v["value"].clone()
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    async fn get(&self, path: &str) -> Value {
        self.call(reqwest::Method::GET, path, None).await
    }

    /// A DevTools command (through chromedriver).
    pub async fn cdp(&self, cmd: &str, params: Value) -> Value {
        self.post("/goog/cdp/execute", json!({ "cmd": cmd, "params": params }))
            .await
    }

    /// `prefers-color-scheme: dark` (or light) for the pages from now on.
    pub async fn dark(&self, dark: bool) {
        let value = if dark { "dark" } else { "light" };
        self.cdp(
            "Emulation.setEmulatedMedia",
            json!({ "features": [{ "name": "prefers-color-scheme", "value": value }] }),
        )
        .await;
    }

    /// A viewport of `width`×`height` CSS pixels (a phone's below 600 px wide).
    pub async fn viewport(&self, width: u32, height: u32) {
        self.cdp(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 1,
                    "mobile": width < 600 }),
        )
        .await;
    }

    /// Opens `path` (relative to the app) or a full URL, and waits for it to load.
    pub async fn goto(&self, path: &str) {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        };
        self.post("/url", json!({ "url": url })).await;
    }

    /// Reloads the page (as the browser's reload button does: a GET again).
    pub async fn reload(&self) {
        self.post("/refresh", json!({})).await;
    }

    /// The current URL's path and query.
    pub async fn path(&self) -> String {
        let url = self.get("/url").await;
        let url = url.as_str().unwrap_or_default();
        url.strip_prefix(&self.base).unwrap_or(url).to_owned()
    }

    /// Runs `script` (a function body; `arguments` are `args`) and answers its value.
    pub async fn js(&self, script: &str, args: Value) -> Value {
        self.post("/execute/sync", json!({ "script": script, "args": args }))
            .await
    }

    /// The first element matching `css`, if any.
    pub async fn try_find(&self, css: &str) -> Option<Element> {
        let res = self
            .http
            .post(format!("{}/element", self.session))
            .json(&json!({ "using": "css selector", "value": css }))
            .send()
            .await
            .expect("chromedriver answers");
        let ok = res.status().is_success();
        let v: Value = res.json().await.unwrap();
        ok.then(|| {
            Element(
                v["value"][ELEMENT]
                    .as_str()
                    .unwrap_or_else(|| panic!("{v}"))
                    .to_owned(),
            )
        })
    }

    /// The first element matching `css`, waited for up to 10 s.
    pub async fn find(&self, css: &str) -> Element {
        let started = Instant::now();
        loop {
            if let Some(e) = self.try_find(css).await {
                return e;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "no element {css} on {} after 10 s",
                self.path().await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The number of elements matching `css`.
    pub async fn count(&self, css: &str) -> usize {
        let found = self
            .post(
                "/elements",
                json!({ "using": "css selector", "value": css }),
            )
            .await;
        found.as_array().map_or(0, Vec::len)
    }

    /// Clicks `element` (as a person would: it must be visible and not covered).
    pub async fn click(&self, element: &Element) {
        self.post(&format!("/element/{}/click", element.0), json!({}))
            .await;
    }

    /// Clicks the first element matching `css`.
    pub async fn click_on(&self, css: &str) {
        let e = self.find(css).await;
        self.click(&e).await;
    }

    /// Types `text` into the field matching `css`.
    pub async fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css).await;
        self.post(&format!("/element/{}/value", e.0), json!({ "text": text }))
            .await;
    }

    /// Presses and releases a key (`"\u{E004}"`: Tab), as a keyboard would.
    pub async fn press(&self, key: &str) {
        let actions = json!({ "actions": [{ "type": "key", "id": "keyboard", "actions": [
            { "type": "keyDown", "value": key }, { "type": "keyUp", "value": key } ] }] });
        self.post("/actions", actions).await;
    }

    /// The visible text of the whole page.
    pub async fn text(&self) -> String {
        let body = self.find("body").await;
        self.get(&format!("/element/{}/text", body.0))
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The visible text of the first element matching `css`.
    pub async fn text_of(&self, css: &str) -> String {
        let e = self.find(css).await;
        self.get(&format!("/element/{}/text", e.0))
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Waits up to `secs` for the page's text to contain `needle`.
    pub async fn wait_for_text(&self, needle: &str, secs: u64) -> String {
        let started = Instant::now();
        loop {
            let text = self.text().await;
            if text.contains(needle) {
                return text;
            }
            assert!(
                started.elapsed() < Duration::from_secs(secs),
                "{needle:?} did not appear on {} within {secs} s; the page says:\n{text}",
                self.path().await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A PNG of the viewport, written to `path`.
    pub async fn screenshot(&self, path: &Path) {
        let png = self.get("/screenshot").await;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().expect("a screenshot"))
            .unwrap();
        std::fs::write(path, bytes).unwrap();
    }

    /// axe-core's serious and critical violations on the current page, one line each
    /// (rule, impact, the first few elements and what is wrong with them).
    pub async fn axe_violations(&self) -> Vec<String> {
        let source = axe_source();
        self.js(source, json!([])).await;
        let script = r#"
            const done = arguments[arguments.length - 1];
            axe.run(document).then(r => done(r.violations
                .filter(v => v.impact === "serious" || v.impact === "critical")
                .map(v => v.id + " (" + v.impact + "): " + v.help + " — " +
                    v.nodes.slice(0, 4).map(n => n.target.join(" ") + ": " +
                        (n.failureSummary || "").replace(/\s+/g, " ")).join(" | "))))
              .catch(e => done(["axe failed: " + e]));
        "#;
        let found = self
            .post("/execute/async", json!({ "script": script, "args": [] }))
            .await;
        found
            .as_array()
            .map(|v| v.iter().map(|s| s.as_str().unwrap().to_owned()).collect())
            .unwrap_or_default()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // End the session so Chromium quits, then the process group (chromedriver and any
        // Chromium process left).
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.driver_port)) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            let req = format!(
                "DELETE /session/{} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\
                 Connection: close\r\n\r\n",
                self.session_id
            );
            if s.write_all(req.as_bytes()).is_ok() {
                let _ = s.read_to_end(&mut Vec::new());
            }
        }
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.driver.id())])
            .status();
        let _ = self.driver.wait();
    }
}

/// axe-core's browser build, installed once per checkout with `npm ci` from
/// `tests/browser/` into `target/node/`.
fn axe_source() -> &'static str {
    static SOURCE: OnceLock<String> = OnceLock::new();
    SOURCE.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let node = root.join("target/node");
        let pinned = root.join("tests/browser");
        let lock = std::fs::read_to_string(pinned.join("package-lock.json")).unwrap();
        let axe = node.join("node_modules/axe-core/axe.min.js");
        let stamp = node.join("package-lock.json");
        if !axe.exists() || std::fs::read_to_string(&stamp).ok().as_deref() != Some(&lock) {
            std::fs::create_dir_all(&node).unwrap();
            std::fs::copy(pinned.join("package.json"), node.join("package.json")).unwrap();
            std::fs::copy(pinned.join("package-lock.json"), &stamp).unwrap();
            let ran = Command::new("npm")
                .args([
                    "ci",
                    "--no-audit",
                    "--no-fund",
                    "--ignore-scripts",
                    "--quiet",
                ])
                .current_dir(&node)
                .status();
            assert!(
                ran.is_ok_and(|s| s.success()),
                "npm ci in target/node failed: the accessibility check needs npm \
                 (apt-get install npm) and the npm registry"
            );
        }
        std::fs::read_to_string(&axe).expect("axe-core installed")
    })
}
