//! `hardmatch report` as a reviewer sees it: the file is opened in Debian's headless
//! Chromium and checked through the browser's DOM after the page's script ran (counts,
//! conflicts side by side, irreversible actions, filter and search, escaping), driven over
//! chromedriver's WebDriver API on loopback, plus a screenshot.
//!
//! The inputs are the field story with one more AD user and one more cloud user whose
//! names are markup (`<script>`, `<img onerror>`, quotes, `&`): they must render as text.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

use crate::support::{hardmatch, render};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// The flags that let Chromium run headless here, as root, without reaching any network.
const BROWSER_FLAGS: [&str; 8] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
];

const HOSTILE_DN: &str = "CN=Zoë O'Brien & \"Sons\" <script>window.injected=1</script>,OU=Staff,DC=corp,DC=contoso,DC=local";
const HOSTILE_MAIL: &str = "zoe<img src=x onerror=\"window.injected=2\">@contoso.com";
const HOSTILE_CLOUD_NAME: &str = "<b>Zoë</b> & 'co' \"quoted\"";

/// A program the test needs, or a failure saying how to get it: never a silent pass.
fn required(path: &str) -> &str {
    assert!(
        Path::new(path).exists(),
        "{path} is missing: this test renders the report in Debian's headless Chromium. \
         Run scripts/test, which installs the chromium and chromium-driver packages"
    );
    path
}

fn field_story(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/it/fixtures/field-story")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The inputs, the plan and the report, in one temporary directory.
struct Fixture {
    directory: tempfile::TempDir,
}

impl Fixture {
    fn path(&self, name: &str) -> PathBuf {
        self.directory.path().join(name)
    }

    fn arg(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }

    fn url(&self) -> String {
        format!("file://{}", self.path("report.html").display())
    }

    fn plan(&self) -> Value {
        serde_json::from_str(&std::fs::read_to_string(self.path("plan.json")).unwrap()).unwrap()
    }

    fn ad_users(&self) -> usize {
        let ad: Value =
            serde_json::from_str(&std::fs::read_to_string(self.path("ad.json")).unwrap()).unwrap();
        ad["users"].as_array().unwrap().len()
    }

    /// The diagnosis as `hardmatch status --json` gives it for the same inputs.
    fn summary(&self) -> Value {
        let output = hardmatch()
            .args(["status", "--json", "--ad-snapshot", &self.arg("ad.json")])
            .args(["--tenant-snapshot", &self.arg("tenant.json")])
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", render(&output));
        serde_json::from_slice::<Value>(&output.stdout).unwrap()["summary"].clone()
    }
}

fn fixture() -> Fixture {
    let directory = tempfile::tempdir().unwrap();
    let mut ad = field_story("ad.json");
    ad["users"].as_array_mut().unwrap().push(json!({
        "distinguished_name": HOSTILE_DN,
        "domain": "corp.contoso.local",
        "object_guid": "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0",
        "anchor_attribute": "objectGUID",
        "immutable_id": "PC0eD1pLaEmHdqW0w9Lh8A==",
        "user_principal_name": "zoe.obrien@contoso.com",
        "mail": HOSTILE_MAIL,
        "proxy_addresses": [],
        "sam_account_name": "zoe.obrien",
        "display_name": "Zoë <O'Brien>",
        "enabled": true
    }));
    let mut tenant = field_story("tenant.json");
    // Synced from another anchor: the UPN match is refused, so Zoë's status involves this
    // object and the conflict cards show its name.
    tenant["users"].as_array_mut().unwrap().push(json!({
        "id": "66666666-ffff-4fff-8fff-666666666666",
        "userPrincipalName": "zoe.obrien@contoso.com",
        "displayName": HOSTILE_CLOUD_NAME,
        "proxyAddresses": [],
        "accountEnabled": true,
        "onPremisesImmutableId": "b3RoZXItYW5jaG9yLXZhbHVlAA==",
        "onPremisesSyncEnabled": true,
        "assignedLicenses": []
    }));
    let fixture = Fixture { directory };
    std::fs::write(fixture.path("ad.json"), ad.to_string()).unwrap();
    std::fs::write(fixture.path("tenant.json"), tenant.to_string()).unwrap();
    let output = hardmatch()
        .args(["plan", "--ad-snapshot", &fixture.arg("ad.json")])
        .args(["--tenant-snapshot", &fixture.arg("tenant.json")])
        .args(["--user", "adele.vance@contoso.local"])
        .args(["-o", &fixture.arg("plan.json")])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", render(&output));
    let output = report(&fixture, &["--plan", &fixture.arg("plan.json")]);
    assert!(output.status.success(), "{}", render(&output));
    fixture
}

fn report(fixture: &Fixture, extra: &[&str]) -> std::process::Output {
    hardmatch()
        .args(["report", "--ad-snapshot", &fixture.arg("ad.json")])
        .args(["--tenant-snapshot", &fixture.arg("tenant.json")])
        .args(extra)
        .args(["--html", &fixture.arg("report.html")])
        .output()
        .unwrap()
}

/// A WebDriver session on a chromedriver of our own, on loopback; both end when dropped.
struct Browser {
    runtime: tokio::runtime::Runtime,
    client: reqwest::Client,
    session: String,
    base: String,
    driver: Child,
    profile: tempfile::TempDir,
}

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

impl Browser {
    fn start() -> Self {
        let chromium = required(CHROMIUM);
        // reqwest is built without a default crypto provider; plain HTTP needs none, but
        // building a client does.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Command::new(required(CHROMEDRIVER))
            .args([
                format!("--port={port}"),
                "--allowed-ips=127.0.0.1".to_owned(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let profile = tempfile::tempdir().unwrap();
        let mut browser = Self {
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
            client: reqwest::Client::new(),
            session: String::new(),
            base: format!("http://127.0.0.1:{port}"),
            driver,
            profile,
        };
        browser.wait_until_ready();
        let mut arguments: Vec<String> = BROWSER_FLAGS
            .iter()
            .map(|flag| (*flag).to_owned())
            .collect();
        arguments.push(format!(
            "--user-data-dir={}",
            browser.profile.path().display()
        ));
        arguments.push("--window-size=1400,1000".to_owned());
        let session = browser.request(
            reqwest::Method::POST,
            "/session",
            Some(json!({"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {"binary": chromium, "args": arguments}
            }}})),
        );
        browser.session = session["sessionId"].as_str().unwrap().to_owned();
        browser
    }

    /// chromedriver answers `/status` once it accepts sessions; waiting is bounded.
    fn wait_until_ready(&self) {
        for _ in 0..300 {
            let ready = self.runtime.block_on(async {
                let response = self
                    .client
                    .get(format!("{}/status", self.base))
                    .send()
                    .await
                    .ok()?;
                let body: Value = response.json().await.ok()?;
                body["value"]["ready"].as_bool()
            });
            if ready == Some(true) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("chromedriver did not become ready on {}", self.base);
    }

    fn request(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.base);
        let (status, body) = self.runtime.block_on(async {
            let mut request = self.client.request(method, &url);
            if let Some(body) = body {
                request = request.json(&body);
            }
            let response = request.send().await.unwrap();
            (response.status(), response.json::<Value>().await.unwrap())
        });
        assert!(
            status.is_success(),
            "WebDriver {url} answered {status}: {body}"
        );
        body["value"].clone()
    }

    fn session_path(&self, rest: &str) -> String {
        format!("/session/{}{rest}", self.session)
    }

    fn open(&self, url: &str) {
        self.request(
            reqwest::Method::POST,
            &self.session_path("/url"),
            Some(json!({ "url": url })),
        );
    }

    /// Runs `body` (a function body that returns a value) in the page.
    fn script(&self, body: &str) -> Value {
        self.request(
            reqwest::Method::POST,
            &self.session_path("/execute/sync"),
            Some(json!({ "script": body, "args": [] })),
        )
    }

    fn element(&self, css: &str) -> String {
        let found = self.request(
            reqwest::Method::POST,
            &self.session_path("/element"),
            Some(json!({ "using": "css selector", "value": css })),
        );
        found[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element for {css}: {found}"))
            .to_owned()
    }

    fn click(&self, css: &str) {
        let element = self.element(css);
        self.request(
            reqwest::Method::POST,
            &self.session_path(&format!("/element/{element}/click")),
            Some(json!({})),
        );
    }

    /// Types as a person would: key events into the focused field, so `input` fires.
    fn type_into(&self, css: &str, text: &str) {
        let element = self.element(css);
        self.request(
            reqwest::Method::POST,
            &self.session_path(&format!("/element/{element}/value")),
            Some(json!({ "text": text })),
        );
    }

    /// The `data-status` (or first cell) of every visible element matching `css`.
    fn visible(&self, css: &str) -> Vec<String> {
        let script = format!(
            "return Array.from(document.querySelectorAll({css:?}))
                .filter((element) => element.offsetParent !== null)
                .map((element) => element.textContent.trim().split('\\n')[0]);"
        );
        serde_json::from_value(self.script(&script)).unwrap()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let path = self.session_path("");
        if !self.session.is_empty() {
            let _ = self
                .runtime
                .block_on(self.client.delete(format!("{}{path}", self.base)).send());
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Users whose status someone has to act on: what the filter shows at first.
fn users_to_act_on(summary: &Value) -> u64 {
    let all: u64 = summary
        .as_object()
        .unwrap()
        .values()
        .map(|count| count.as_u64().unwrap())
        .sum();
    all - summary["linked"].as_u64().unwrap() - summary["out_of_scope"].as_u64().unwrap()
}

fn statuses_of_visible_users(browser: &Browser) -> Vec<String> {
    serde_json::from_value(browser.script(
        "return Array.from(document.querySelectorAll('#user-table tbody tr'))
            .filter((row) => row.offsetParent !== null)
            .map((row) => row.dataset.status);",
    ))
    .unwrap()
}

fn names_of_visible_users(browser: &Browser) -> Vec<String> {
    serde_json::from_value(browser.script(
        "return Array.from(document.querySelectorAll('#user-table tbody tr'))
            .filter((row) => row.offsetParent !== null)
            .map((row) => row.cells[1].textContent);",
    ))
    .unwrap()
}

#[test]
fn the_report_shows_counts_pairs_and_plan_and_its_filter_works_in_chromium() {
    let fixture = fixture();
    let summary = fixture.summary();
    let plan = fixture.plan();
    let browser = Browser::start();
    browser.open(&fixture.url());

    // The header names the tenant, the forest and this hardmatch.
    let header = browser.script(
        "return Object.fromEntries(['tenant', 'forest', 'version', 'generated-at']
            .map((id) => [id, document.getElementById(id).textContent]));",
    );
    assert!(
        header["tenant"]
            .as_str()
            .unwrap()
            .contains("contoso.onmicrosoft.com"),
        "{header}"
    );
    assert!(
        header["forest"]
            .as_str()
            .unwrap()
            .starts_with("corp.contoso.local"),
        "{header}"
    );
    assert_eq!(header["version"], env!("CARGO_PKG_VERSION"));
    assert!(
        header["generated-at"].as_str().unwrap().starts_with("20"),
        "{header}"
    );

    // Every status's count, as the chart's text and beside its filter box, is the diagnosis's.
    let counts = browser.script(
        "const chart = {}, filter = {};
         document.querySelectorAll('#status-chart g[data-status]').forEach((bar) => {
           chart[bar.dataset.status] = Number(bar.querySelector('text.count').textContent);
         });
         document.querySelectorAll('#status-filter label').forEach((label) => {
           filter[label.querySelector('input').value] = Number(label.querySelector('.count').textContent);
         });
         return { chart, filter };",
    );
    for name in hardmatch_core::diagnose::Status::NAMES {
        assert_eq!(
            counts["chart"][name], summary[name],
            "chart count of {name}: {counts}"
        );
        assert_eq!(
            counts["filter"][name], summary[name],
            "filter count of {name}: {counts}"
        );
    }
    assert_eq!(
        counts["chart"]["linked"], 1,
        "Megan is linked in the field story"
    );
    // Bars are drawn to scale: the longest belongs to the largest count.
    let widths = browser.script(
        "return Array.from(document.querySelectorAll('#status-chart g[data-status]'))
            .map((bar) => [bar.dataset.status, bar.querySelector('rect').getBBox().width]);",
    );
    for pair in widths.as_array().unwrap() {
        let (name, width) = (pair[0].as_str().unwrap(), pair[1].as_f64().unwrap());
        assert_eq!(width > 0.0, summary[name].as_u64().unwrap() > 0, "{widths}");
    }

    // Adele's conflict: the AD user beside the duplicate and her real account, laid out
    // side by side, with the colliding anchor and address marked on both sides.
    let pair = browser.script(
        "const card = Array.from(document.querySelectorAll('#conflicts article.pair'))
            .find((card) => card.querySelector('h3').textContent.startsWith('adele.vance@contoso.local'));
         return Array.from(card.querySelectorAll('.side')).map((side) => {
           const box = side.getBoundingClientRect();
           return {
             role: side.classList.contains('ad') ? 'ad' : side.dataset.role,
             top: box.top, left: box.left, right: box.right,
             marked: Array.from(side.querySelectorAll('mark.collides')).map((mark) => mark.textContent),
           };
         });",
    );
    let sides = pair.as_array().unwrap();
    let roles: Vec<&str> = sides
        .iter()
        .map(|side| side["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["ad", "duplicate", "real_account"], "{pair}");
    for (left, right) in sides.iter().zip(&sides[1..]) {
        assert_eq!(left["top"], right["top"], "sides on one row: {pair}");
        assert!(
            left["right"].as_f64() <= right["left"].as_f64(),
            "side by side: {pair}"
        );
    }
    let marked = |index: usize| -> Vec<&str> {
        sides[index]["marked"]
            .as_array()
            .unwrap()
            .iter()
            .map(|value| value.as_str().unwrap())
            .collect()
    };
    assert!(marked(0).contains(&"HowrP0daPkydIXtqDk+MEg=="), "{pair}");
    assert!(
        marked(0).contains(&"adele.vance@contoso.com"),
        "the aligned UPN: {pair}"
    );
    assert_eq!(marked(1), ["HowrP0daPkydIXtqDk+MEg=="], "{pair}");
    assert!(marked(2).contains(&"adele.vance@contoso.com"), "{pair}");
    assert!(
        !marked(2).contains(&"adele@contoso.com"),
        "an address on one object only: {pair}"
    );

    // The plan's actions, in the plan's order; exactly the irreversible ones are marked.
    let actions = browser.script(
        "return Array.from(document.querySelectorAll('#actions tbody tr')).map((row) => ({
           id: row.dataset.action,
           kind: row.dataset.kind,
           marked: row.classList.contains('irreversible') && row.innerText.includes('IRREVERSIBLE'),
           text: row.innerText,
         }));",
    );
    let actions = actions.as_array().unwrap();
    let planned = plan["actions"].as_array().unwrap();
    assert_eq!(actions.len(), planned.len());
    for (shown, planned) in actions.iter().zip(planned) {
        assert_eq!(shown["id"], planned["id"]);
        assert_eq!(shown["kind"], planned["kind"]);
        assert_eq!(shown["marked"], planned["irreversible"], "{shown}");
        assert!(
            shown["text"]
                .as_str()
                .unwrap()
                .contains(planned["reason"].as_str().unwrap())
        );
        for check in planned["precondition"]["checks"]
            .as_array()
            .into_iter()
            .flatten()
        {
            assert!(
                shown["text"]
                    .as_str()
                    .unwrap()
                    .contains(check["property"].as_str().unwrap()),
                "precondition {check} of {shown}"
            );
        }
    }
    assert!(
        planned
            .iter()
            .any(|action| action["irreversible"] == true && action["kind"] == "purge_deleted"),
        "the field story purges the duplicate"
    );

    // Markup in names is text: nothing injected ran or became an element.
    let escaping = browser.script(&format!(
        "return {{
           injected: window.injected === undefined ? null : window.injected,
           scripts: document.querySelectorAll('script').length,
           images: document.querySelectorAll('img').length,
           bold: document.querySelectorAll('main b').length,
           dnShown: Array.from(document.querySelectorAll('#user-table td')).some((cell) => cell.textContent.includes({dn:?})),
           mailShown: Array.from(document.querySelectorAll('#hygiene td')).some((cell) => cell.textContent === {mail:?}),
           cloudNameShown: Array.from(document.querySelectorAll('#conflicts td')).some((cell) => cell.textContent === {cloud:?}),
         }};",
        dn = HOSTILE_DN,
        mail = HOSTILE_MAIL,
        cloud = HOSTILE_CLOUD_NAME,
    ));
    assert_eq!(
        escaping,
        json!({"injected": null, "scripts": 1, "images": 0, "bold": 0,
               "dnShown": true, "mailShown": true, "cloudNameShown": true}),
    );

    // At first the filter hides only the users nobody has to act on.
    let first = statuses_of_visible_users(&browser);
    let expected = users_to_act_on(&summary);
    assert_eq!(first.len() as u64, expected, "{first:?}");
    assert!(
        first
            .iter()
            .all(|status| status != "linked" && status != "out_of_scope"),
        "{first:?}"
    );

    // Typing narrows every section to what matches.
    browser.type_into("#search", "Nestor");
    assert_eq!(names_of_visible_users(&browser), ["nestor.wilke"]);
    assert!(browser.visible("#conflicts article.pair").is_empty());
    assert_eq!(
        browser.script("return document.querySelector('[data-shown-of=users]').textContent;"),
        format!("1 of {} shown", fixture.ad_users())
    );
    // Two words must both match, anywhere in the row.
    browser.type_into("#search", " bowen");
    assert!(names_of_visible_users(&browser).is_empty());
    // Ctrl+A, Backspace: the search is empty again.
    browser.type_into("#search", "\u{E009}a\u{E000}\u{E003}");
    assert_eq!(statuses_of_visible_users(&browser), first);

    // Ticking `linked` brings Megan back; a chart bar shows its status alone.
    browser.click("#status-filter input[value=linked]");
    assert!(names_of_visible_users(&browser).contains(&"megan.bowen".to_owned()));
    browser.click("#status-chart g[data-status=conflicting] rect");
    let conflicting = statuses_of_visible_users(&browser);
    assert_eq!(
        conflicting.len() as u64,
        summary["conflicting"].as_u64().unwrap()
    );
    assert!(
        conflicting.iter().all(|status| status == "conflicting"),
        "{conflicting:?}"
    );
    assert!(
        browser
            .visible("#conflicts article.pair h3")
            .iter()
            .all(|title| title.contains("conflict:"))
    );

    // What a reader sees at first, as text.
    browser.open(&fixture.url());
    let text = browser.script("return document.body.innerText;");
    let generated = browser.script("return document.getElementById('generated-at').textContent;");
    let text = text
        .as_str()
        .unwrap()
        .replace(generated.as_str().unwrap(), "[generated at]")
        .replace(
            plan["generated_at"].as_str().unwrap(),
            "[plan generated at]",
        )
        .replace(env!("CARGO_PKG_VERSION"), "[version]");
    insta::assert_snapshot!(text);
}

/// The page as Chromium serializes it after its script ran, and a screenshot of it.
#[test]
fn chromium_dumps_escaped_text_and_takes_a_screenshot() {
    let fixture = fixture();
    let chromium = required(CHROMIUM);
    let run = |extra: &[String]| {
        let profile = tempfile::tempdir().unwrap();
        let output = Command::new(chromium)
            .args(BROWSER_FLAGS)
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .args(extra)
            .arg(fixture.url())
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "chromium failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        output.stdout
    };
    let dom = String::from_utf8(run(&["--dump-dom".to_owned()])).unwrap();
    assert_eq!(
        dom.matches("<script").count(),
        1,
        "only the report's own script"
    );
    assert!(
        dom.contains("&lt;script&gt;window.injected=1&lt;/script&gt;"),
        "the DN as text"
    );
    assert!(
        dom.contains("&lt;b&gt;Zoë&lt;/b&gt;"),
        "the cloud name as text"
    );
    assert!(!dom.contains("<img"), "no element from a mail address");
    // The script ran before the dump: it filled in the counters.
    let summary = fixture.summary();
    let counter = format!(
        "data-shown-of=\"users\">{} of {} shown<",
        users_to_act_on(&summary),
        fixture.ad_users()
    );
    assert!(dom.contains(&counter), "{counter} in the dumped DOM");

    let screenshot = fixture.path("report.png");
    run(&[
        format!("--screenshot={}", screenshot.display()),
        "--window-size=1280,2000".to_owned(),
    ]);
    let png = std::fs::read(&screenshot).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "a PNG file");
    assert_eq!(&png[12..16], b"IHDR");
    let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
    assert_eq!((width, height), (1280, 2000));
    // A blank page of that size compresses to a few kilobytes; text, tables and the chart
    // make a screenshot of a few hundred.
    assert!(
        png.len() > 60_000,
        "a screenshot of {} bytes looks empty",
        png.len()
    );
}

#[test]
fn a_plan_for_another_tenant_is_refused_and_nothing_is_written() {
    let fixture = fixture();
    std::fs::remove_file(fixture.path("report.html")).unwrap();
    let mut plan = fixture.plan();
    plan["tenant_id"] = json!("00000000-0000-4000-8000-000000000000");
    std::fs::write(fixture.path("other.json"), plan.to_string()).unwrap();
    let output = report(&fixture, &["--plan", &fixture.arg("other.json")]);
    assert_eq!(output.status.code(), Some(1), "{}", render(&output));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("is for tenant 00000000-0000-4000-8000-000000000000, but the tenant read is contoso.onmicrosoft.com"),
        "{stderr}"
    );
    assert!(
        stderr.contains("hint: pass the tenant the plan was made for"),
        "{stderr}"
    );
    assert!(!fixture.path("report.html").exists());
}

#[test]
fn an_unwritable_destination_is_an_error_with_a_hint() {
    let fixture = fixture();
    let output = hardmatch()
        .args(["report", "--ad-snapshot", &fixture.arg("ad.json")])
        .args(["--tenant-snapshot", &fixture.arg("tenant.json")])
        .args(["--html", &fixture.arg("missing-directory/report.html")])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", render(&output));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("the report was not written"), "{stderr}");
    assert!(stderr.contains("missing-directory"), "{stderr}");
    assert!(
        stderr.contains("hint: check that the directory exists"),
        "{stderr}"
    );
}

/// A large tenant's report shows a bounded number of rows per section, and "show more"
/// reveals the next ones: the page stays quick to lay out however many users there are.
#[test]
fn a_section_shows_a_bounded_number_of_rows_and_more_on_request() {
    use base64::Engine as _;
    let directory = tempfile::tempdir().unwrap();
    let fixture = Fixture { directory };
    let mut ad = field_story("ad.json");
    let template = ad["users"][0].clone();
    let users = ad["users"].as_array_mut().unwrap();
    // Users nobody in the tenant knows: each will be created, each a row to act on.
    for number in 0..520_u32 {
        let mut user = template.clone();
        let mut guid = [0_u8; 16];
        guid[..4].copy_from_slice(&number.to_be_bytes());
        guid[15] = 0x5a;
        user["distinguished_name"] = json!(format!(
            "CN=New User {number},OU=Staff,DC=corp,DC=contoso,DC=local"
        ));
        user["object_guid"] = json!(format!("{number:08x}-0000-4000-8000-00000000005a"));
        user["immutable_id"] = json!(base64::engine::general_purpose::STANDARD.encode(guid));
        user["user_principal_name"] = json!(format!("new.user{number}@contoso.com"));
        user["sam_account_name"] = json!(format!("new.user{number}"));
        users.push(user);
    }
    std::fs::write(fixture.path("ad.json"), ad.to_string()).unwrap();
    std::fs::write(
        fixture.path("tenant.json"),
        field_story("tenant.json").to_string(),
    )
    .unwrap();
    let output = report(&fixture, &[]);
    assert!(output.status.success(), "{}", render(&output));
    let summary = fixture.summary();
    let acting = users_to_act_on(&summary);
    assert!(acting > 520, "{summary}");

    let browser = Browser::start();
    browser.open(&fixture.url());
    let users_shown = || statuses_of_visible_users(&browser).len() as u64;
    let more = || {
        browser.script("const button = document.querySelector('button[data-more-of=users]'); return button.hidden ? null : button.textContent;")
    };
    assert_eq!(users_shown(), 500);
    assert_eq!(
        more(),
        format!("Show {} more of {}", acting - 500, acting - 500)
    );
    browser.click("button[data-more-of=users]");
    assert_eq!(users_shown(), acting);
    assert_eq!(more(), Value::Null);
    // A search starts over from the first page of its matches.
    browser.type_into("#search", "new.user51");
    let expected: Vec<String> = std::iter::once(51)
        .chain(510..520)
        .map(|number| format!("new.user{number}"))
        .collect();
    assert_eq!(names_of_visible_users(&browser), expected);
    assert_eq!(more(), Value::Null);
}
