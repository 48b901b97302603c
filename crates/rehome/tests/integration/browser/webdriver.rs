//! A small WebDriver client (the W3C protocol is JSON over HTTP) that drives Debian's chromium
//! through chromedriver on 127.0.0.1: enough to click, type, read and take screenshots.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use base64::Engine;
use serde_json::{json, Value};

/// The key WebDriver names an element reference with.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Chromium's switches for a headless run in a container.
const ARGS: [&str; 9] = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1366,768",
];

/// A running chromedriver with one browser session.
pub struct Browser {
    driver: Child,
    _output: BufReader<std::process::ChildStdout>,
    http: reqwest::Client,
    session: String,
    /// The server the pages come from.
    pub base: String,
}

impl Browser {
    /// Starts `chromedriver` on a free loopback port, and chromium (`chromium`) through it,
    /// headless at 1366×768.
    pub async fn start(chromedriver: &Path, chromium: &Path, base: &str) -> Browser {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port();
        let mut driver = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        // chromedriver says on its first lines when it listens.
        let stdout = driver.stdout.take().expect("chromedriver's output");
        // The reader is kept open: chromedriver must not write into a closed pipe later.
        let output = tokio::task::spawn_blocking(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            for _ in 0..20 {
                line.clear();
                let n = reader
                    .read_line(&mut line)
                    .expect("read chromedriver's output");
                if n == 0 {
                    break;
                }
                if line.contains("started successfully") {
                    return reader;
                }
            }
            panic!("chromedriver did not say it started");
        })
        .await
        .expect("wait for chromedriver");
        let http = reqwest::Client::new();
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": ARGS}
        }}});
        let url = format!("http://127.0.0.1:{port}");
        let answer: Value = http
            .post(format!("{url}/session"))
            .json(&capabilities)
            .send()
            .await
            .expect("ask chromedriver for a session")
            .json()
            .await
            .expect("a session answer");
        let session = answer["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {answer}"))
            .to_string();
        Browser {
            driver,
            _output: output,
            http,
            session: format!("{url}/session/{session}"),
            base: base.to_string(),
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        match self.try_call(method, path, body).await {
            Ok(v) => v,
            Err(e) => panic!("WebDriver {path}: {e}"),
        }
    }

    async fn try_call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Value,
    ) -> Result<Value, Value> {
        let request = self
            .http
            .request(method, format!("{}{}", self.session, path));
        let request = if body.is_null() {
            request
        } else {
            request.json(&body)
        };
        let answer: Value = request
            .send()
            .await
            .expect("reach chromedriver")
            .json()
            .await
            .expect("a WebDriver answer");
        if answer["value"]["error"].is_string() {
            return Err(answer["value"]["message"].clone());
        }
        Ok(answer["value"].clone())
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.call(reqwest::Method::POST, path, body).await
    }

    async fn get(&self, path: &str) -> Value {
        self.call(reqwest::Method::GET, path, Value::Null).await
    }

    /// Opens `path` of the server.
    pub async fn open(&self, path: &str) {
        self.post("/url", json!({"url": format!("{}{}", self.base, path)}))
            .await;
    }

    /// The path (and query) of the page shown.
    pub async fn path(&self) -> String {
        let url = self.get("/url").await;
        let url = url.as_str().unwrap_or_default();
        url.strip_prefix(&self.base).unwrap_or(url).to_string()
    }

    async fn find(&self, css: &str) -> String {
        let found = self
            .try_call(
                reqwest::Method::POST,
                "/element",
                json!({"using": "css selector", "value": css}),
            )
            .await;
        let found = match found {
            Ok(found) => found,
            Err(e) => {
                let page = self
                    .script("return document.body.innerText;", json!([]))
                    .await;
                panic!(
                    "no element {css} on {}: {e}\n--- page ---\n{}",
                    self.path().await,
                    page.as_str().unwrap_or_default()
                );
            }
        };
        found[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}"))
            .to_string()
    }

    /// Types `text` into the field `css`, after clearing it.
    pub async fn fill(&self, css: &str, text: &str) {
        let id = self.find(css).await;
        self.post(&format!("/element/{id}/clear"), json!({})).await;
        self.post(&format!("/element/{id}/value"), json!({"text": text}))
            .await;
    }

    /// Chooses the file at `path` in the file input `css`, as a user picking it would.
    pub async fn choose_file(&self, css: &str, path: &Path) {
        let id = self.find(css).await;
        self.post(
            &format!("/element/{id}/value"),
            json!({"text": path.to_string_lossy()}),
        )
        .await;
    }

    /// Sets the value of `css` (a select, a date field, a long text) as a script would.
    pub async fn set(&self, css: &str, value: &str) {
        let id = self.find(css).await;
        self.script(
            "arguments[0].value = arguments[1]; return true;",
            json!([{ELEMENT: id}, value]),
        )
        .await;
    }

    /// Clicks `css`, which loads a page (a link, a form's button), and waits until the new page
    /// has loaded (at most 15 seconds).
    pub async fn click(&self, css: &str) {
        self.script("window.__rehomeOldPage = true; return true;", json!([]))
            .await;
        self.toggle(css).await;
        self.wait_for_page(css).await;
    }

    /// Clicks the point `dx`, `dy` pixels from the centre of `css` (a slice of a chart, where the
    /// centre of its box is the hole of the ring), and waits for the page it loads.
    pub async fn click_at(&self, css: &str, dx: i64, dy: i64) {
        let id = self.find(css).await;
        self.script("window.__rehomeOldPage = true; return true;", json!([]))
            .await;
        let pointer = json!({"type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"},
        "actions": [
            {"type": "pointerMove", "origin": {ELEMENT: id}, "x": dx, "y": dy},
            {"type": "pointerDown", "button": 0},
            {"type": "pointerUp", "button": 0}
        ]});
        self.post("/actions", json!({"actions": [pointer]})).await;
        self.wait_for_page(css).await;
    }

    async fn wait_for_page(&self, what: &str) {
        for _ in 0..300 {
            let loaded = self
                .script(
                    "return !window.__rehomeOldPage && document.readyState === 'complete';",
                    json!([]),
                )
                .await;
            if loaded.as_bool() == Some(true) {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("clicking {what} loaded no page");
    }

    /// Clicks `css` on the page (a checkbox, a summary), which loads nothing.
    pub async fn toggle(&self, css: &str) {
        let id = self.find(css).await;
        self.post(&format!("/element/{id}/click"), json!({})).await;
    }

    /// The visible text of `css`.
    pub async fn text(&self, css: &str) -> String {
        let id = self.find(css).await;
        self.get(&format!("/element/{id}/text"))
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The whole page's visible text.
    pub async fn page_text(&self) -> String {
        self.text("body").await
    }

    /// Runs `script` in the page with `args` and returns its value.
    pub async fn script(&self, script: &str, args: Value) -> Value {
        self.post("/execute/sync", json!({"script": script, "args": args}))
            .await
    }

    /// Fetches `href` with the browser's own session, as following a download link does, and
    /// returns the status and body.
    pub async fn fetch(&self, href: &str) -> (u64, String) {
        let v = self
            .post(
                "/execute/async",
                json!({"script": "const done = arguments[arguments.length - 1]; \
                    fetch(arguments[0], {credentials: 'same-origin'}) \
                    .then(r => r.text().then(t => done([r.status, t]))) \
                    .catch(e => done([0, String(e)]));",
                    "args": [href]}),
            )
            .await;
        (
            v[0].as_u64().unwrap_or(0),
            v[1].as_str().unwrap_or_default().to_string(),
        )
    }

    /// How many elements `css` finds.
    pub async fn count(&self, css: &str) -> u64 {
        self.script(
            "return document.querySelectorAll(arguments[0]).length;",
            json!([css]),
        )
        .await
        .as_u64()
        .unwrap_or(0)
    }

    /// Saves a PNG of the viewport as `dir/name.png`.
    pub async fn screenshot(&self, dir: &Path, name: &str) {
        let data = self.get("/screenshot").await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(data.as_str().unwrap_or_default())
            .expect("a base64 screenshot");
        std::fs::create_dir_all(dir).expect("create the screenshot folder");
        std::fs::write(dir.join(format!("{name}.png")), png).expect("write a screenshot");
    }

    /// Ends the session and chromedriver.
    pub async fn quit(mut self) {
        let _ = self.http.delete(&self.session).send().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
    }
}
