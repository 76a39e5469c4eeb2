//! A headless Chromium driven over `WebDriver` by a `chromedriver` this process starts.

use crate::DEADLINE;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use tempfile::TempDir;
use thirtyfour::ChromeCapabilities;
use thirtyfour::prelude::*;
use tokio::process::{Child, Command};
use workhorse_testing::{free_port, wait_until};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
/// A laptop screen: the dashboard must be usable at this size.
pub const WIDTH: u32 = 1366;
pub const HEIGHT: u32 = 768;

/// A browser session; the browser and its driver end when this is dropped or [`quit`].
///
/// [`quit`]: Browser::quit
pub struct Browser {
    driver: WebDriver,
    chromedriver: Child,
    _profile: TempDir,
}

impl Browser {
    /// Starts chromedriver on a free port and opens a fresh headless Chromium.
    pub async fn start() -> Browser {
        let port = free_port();
        let chromedriver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start /usr/bin/chromedriver (apt-get install chromium-driver)");
        let url = format!("http://127.0.0.1:{port}");
        wait_ready(&url).await;
        let profile = tempfile::tempdir().expect("profile dir");
        let driver = WebDriver::new(url, capabilities(profile.path()))
            .await
            .expect("open a Chromium session");
        Browser {
            driver,
            chromedriver,
            _profile: profile,
        }
    }

    /// The `WebDriver` session, for anything the helpers below do not cover.
    pub fn driver(&self) -> &WebDriver {
        &self.driver
    }

    /// Opens `url` and waits for the dashboard's script to have drawn the page.
    pub async fn open(&self, url: &str) {
        self.driver.goto(url).await.expect("navigate");
        self.wait_for("#view > *").await;
    }

    /// Reloads the page and waits for it to be drawn again.
    pub async fn reload(&self) {
        self.driver.refresh().await.expect("reload");
        self.wait_for("#view > *").await;
    }

    /// The text of the first element matching `css`, if there is one now.
    pub async fn text(&self, css: &str) -> Option<String> {
        let element = self.driver.find(By::Css(css)).await.ok()?;
        element.text().await.ok()
    }

    /// Waits until an element matches `css`.
    pub async fn wait_for(&self, css: &str) -> WebElement {
        wait_until(
            &format!("an element matching `{css}`"),
            DEADLINE,
            || async { self.driver.find(By::Css(css)).await.ok() },
        )
        .await
    }

    /// Waits until the element matching `css` reads exactly `expected`.
    pub async fn wait_text(&self, css: &str, expected: &str) {
        let what = format!("`{css}` to read {expected:?}");
        wait_until(&what, DEADLINE, || async {
            (self.text(css).await.as_deref() == Some(expected)).then_some(())
        })
        .await;
    }

    /// Waits until the element matching `css` satisfies `check`; returns its text.
    pub async fn wait_text_matching(&self, css: &str, check: impl Fn(&str) -> bool) -> String {
        wait_until(&format!("`{css}` to match"), DEADLINE, || async {
            self.text(css).await.filter(|text| check(text))
        })
        .await
    }

    /// Clicks the element matching `css` once it exists and is enabled. A live page may
    /// redraw between finding and clicking, so a stale element is looked up again.
    pub async fn click(&self, css: &str) {
        wait_until(&format!("a click on `{css}`"), DEADLINE, || async {
            let element = self.driver.find(By::Css(css)).await.ok()?;
            if !element.is_enabled().await.ok()? {
                return None;
            }
            element.click().await.ok()
        })
        .await;
    }

    /// Replaces the value of the input matching `css` with `text`.
    pub async fn type_into(&self, css: &str, text: &str) {
        let input = self.wait_for(css).await;
        input.clear().await.expect("clear");
        input.send_keys(text).await.expect("type");
    }

    /// Runs `script` in the page (its `arguments` are `args`); returns what it returns.
    pub async fn run_js(&self, script: &str, args: Vec<serde_json::Value>) -> serde_json::Value {
        let ret = self.driver.execute(script, args).await.expect("script");
        ret.json().clone()
    }

    /// Panics with the page's uncaught errors and unhandled rejections, if any.
    pub async fn assert_no_page_errors(&self) {
        let errors = self
            .run_js("return window.workhorseErrors || null;", vec![])
            .await;
        assert_eq!(errors, serde_json::json!([]), "the page reported errors");
    }

    /// Saves what the window shows as a PNG.
    pub async fn screenshot(&self, path: &Path) {
        self.driver.screenshot(path).await.expect("screenshot");
    }

    /// Ends the browser session and the driver.
    pub async fn quit(mut self) {
        self.driver.quit().await.expect("quit the browser");
        let _ = self.chromedriver.kill().await;
    }
}

fn capabilities(profile: &Path) -> ChromeCapabilities {
    let mut caps = DesiredCapabilities::chrome();
    caps.set_binary(CHROMIUM).expect("binary");
    let size = format!("--window-size={WIDTH},{HEIGHT}");
    let data_dir = format!("--user-data-dir={}", profile.display());
    for arg in [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        &size,
        &data_dir,
    ] {
        caps.add_arg(arg).expect("chromium flag");
    }
    caps
}

/// Polls chromedriver's `/status` until it says it is ready.
async fn wait_ready(url: &str) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .expect("http client");
    let status = format!("{url}/status");
    wait_until("chromedriver to be ready", DEADLINE, || async {
        let body: serde_json::Value = http.get(&status).send().await.ok()?.json().await.ok()?;
        (body["value"]["ready"] == true).then_some(())
    })
    .await;
}
