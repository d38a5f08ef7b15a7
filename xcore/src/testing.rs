//! Testing helpers: an in-process HTTP client over an [`App`] and token
//! minting with the app's own keys. No socket, no server task.
//!
//! ```
//! use xcore::prelude::*;
//! use xcore::testing::TestClient;
//!
//! pub struct Items;
//!
//! #[plugin(prefix = "/items")]
//! impl Items {
//!     #[route(delete, "/{id}", auth = "admin")]
//!     async fn remove(Path(id): Path<u64>) -> StatusCode {
//!         StatusCode::NO_CONTENT
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> xcore::Result<()> {
//! let client = TestClient::new(App::new(xcore::testing::config())?.plugin(Items)).await?;
//! let admin = client.token("1", &["admin"])?;
//! assert_eq!(client.delete("/items/7").send().await.status(), 401);
//! assert_eq!(client.delete("/items/7").bearer(&admin).send().await.status(), 204);
//! # Ok(())
//! # }
//! ```

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tower::ServiceExt;

use crate::app::App;
use crate::cache::Cache;
use crate::config::Config;
use crate::db::Db;
use crate::error::Error;
use crate::security::{Claims, create_token};
use crate::web::AppState;

/// A configuration for tests: a fixed app secret, a fresh SQLite database
/// of its own in the system's temporary folder (so tests run in parallel
/// and an app can be restarted on it), removed when the thread that asked
/// for it ends (the test's, under `cargo test`), the in-process cache,
/// cheap password hashing, and the built-in endpoints' rate limits off
/// (`rate_limit.builtin = false`; the per-account login limit stays).
///
/// ```
/// let file = std::thread::spawn(|| {
///     let config = xcore::testing::config();
///     let url = config.database.url.expose().to_owned();
///     let file = url.trim_start_matches("sqlite://").to_owned();
///     std::fs::write(&file, b"")?; // as the app's first connection would
///     assert!(std::path::Path::new(&file).exists());
///     Ok::<_, std::io::Error>(file)
/// })
/// .join()
/// .expect("the thread")?;
/// assert!(!std::path::Path::new(&file).exists(), "removed with its thread");
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn config() -> Config {
    // A file rather than a shared in-memory database: SQLite's shared-cache
    // mode takes table-level locks that make concurrent schema reads fail.
    static SWEEP: std::sync::Once = std::sync::Once::new();
    SWEEP.call_once(remove_old_test_databases);
    let file =
        std::env::temp_dir().join(format!("xcore-test-{}.db", uuid::Uuid::new_v4().simple()));
    THIS_TEST.with(|files| files.borrow_mut().0.push(file.clone()));
    let mut config = Config::default()
        .with_app_secret("xcore testing secret, not for production use")
        .with_database_url(format!("sqlite://{}", file.display()));
    // Cheap password hashing: tests log in often; production keeps OWASP's cost.
    config.auth.argon2_memory_kib = 1024;
    config.auth.argon2_iterations = 1;
    // Every request of a test comes from one address: the built-in
    // endpoints' per-address limits would soon refuse them.
    config.rate_limit.builtin = false;
    config
}

thread_local! {
    /// The databases [`config`] made on this thread: removed when the
    /// thread ends, as each test does (the test harness runs every test on
    /// a thread of its own).
    static THIS_TEST: std::cell::RefCell<TestDatabases> =
        const { std::cell::RefCell::new(TestDatabases(Vec::new())) };
}

/// SQLite files to remove, with their journal, when dropped.
struct TestDatabases(Vec<std::path::PathBuf>);

impl Drop for TestDatabases {
    fn drop(&mut self) {
        for file in &self.0 {
            for suffix in ["", "-wal", "-shm", "-journal"] {
                let mut path = file.clone().into_os_string();
                path.push(suffix);
                let _ = std::fs::remove_file(path);
            }
        }
    }
}

/// Removes the test databases earlier runs left behind (older than an
/// hour): a test killed before its end leaves its files.
fn remove_old_test_databases() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    let hour_ago = std::time::SystemTime::now() - Duration::from_secs(3600);
    for entry in entries.flatten() {
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|modified| modified < hour_ago);
        if old
            && entry
                .file_name()
                .to_string_lossy()
                .starts_with("xcore-test-")
        {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Sends requests to an app's router in-process.
#[derive(Clone)]
pub struct TestClient {
    router: Router,
    state: AppState,
}

impl TestClient {
    /// Builds the app (connecting its services, applying migrations) into
    /// its full router: exactly what [`App::run`] serves.
    pub async fn new(app: App) -> Result<Self, Error> {
        let (router, state) = app.into_parts().await?;
        Ok(TestClient { router, state })
    }

    /// The state the handlers see.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The app's database.
    pub fn db(&self) -> &Db {
        self.state.db()
    }

    /// The app's cache, scoped to `plugin` as that plugin's handlers see it.
    pub fn cache(&self, plugin: &str) -> Cache {
        self.state.cache().scoped(plugin)
    }

    /// A request with any method.
    pub fn request(&self, method: Method, path: &str) -> TestRequest {
        TestRequest {
            router: self.router.clone(),
            builder: Request::builder().method(method).uri(path),
            body: Body::empty(),
            peer: SocketAddr::from(([127, 0, 0, 1], 40000)),
        }
    }

    /// A `GET` request.
    pub fn get(&self, path: &str) -> TestRequest {
        self.request(Method::GET, path)
    }

    /// A `POST` request.
    pub fn post(&self, path: &str) -> TestRequest {
        self.request(Method::POST, path)
    }

    /// A `PUT` request.
    pub fn put(&self, path: &str) -> TestRequest {
        self.request(Method::PUT, path)
    }

    /// A `PATCH` request.
    pub fn patch(&self, path: &str) -> TestRequest {
        self.request(Method::PATCH, path)
    }

    /// A `DELETE` request.
    pub fn delete(&self, path: &str) -> TestRequest {
        self.request(Method::DELETE, path)
    }

    /// A valid access token for user `id` with `roles`, signed with the app's keys.
    pub fn token(&self, id: &str, roles: &[&str]) -> Result<String, Error> {
        self.token_for(&self.claims(id).with_roles(roles.iter().copied()))
    }

    /// A token carrying exactly `claims`, signed with the app's keys.
    pub fn token_for(&self, claims: &Claims) -> Result<String, Error> {
        create_token(self.state.jwt_keys(), claims)
    }

    /// Claims for user `id` valid for the configured access-token lifetime,
    /// to refine before [`TestClient::token_for`].
    pub fn claims(&self, id: &str) -> Claims {
        Claims::new(id, self.state.config().access_token_ttl())
    }

    /// Claims that expired `ago` ago.
    pub fn expired_claims(&self, id: &str, ago: Duration) -> Claims {
        let mut claims = Claims::new(id, Duration::ZERO);
        claims.iat = claims.iat.saturating_sub(ago.as_secs() + 60);
        claims.exp = claims.exp.saturating_sub(ago.as_secs());
        claims
    }
}

/// A request being built; finish with [`TestRequest::send`].
pub struct TestRequest {
    router: Router,
    builder: axum::http::request::Builder,
    body: Body,
    peer: SocketAddr,
}

impl TestRequest {
    /// Adds a header.
    pub fn header(mut self, name: impl AsRef<str>, value: impl AsRef<str>) -> Self {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_ref().as_bytes()),
            HeaderValue::from_str(value.as_ref()),
        ) {
            self.builder = self.builder.header(name, value);
        }
        self
    }

    /// Sends the request from `ip` (the socket peer a server would see;
    /// `127.0.0.1` by default), e.g. to test limits per client address.
    pub fn from_ip(mut self, ip: IpAddr) -> Self {
        self.peer = SocketAddr::new(ip, self.peer.port());
        self
    }

    /// Adds `Authorization: Bearer <token>`.
    pub fn bearer(self, token: &str) -> Self {
        self.header(header::AUTHORIZATION, format!("Bearer {token}"))
    }

    /// Sends `value` as a JSON body.
    pub fn json<T: Serialize + ?Sized>(mut self, value: &T) -> Self {
        let bytes = serde_json::to_vec(value).unwrap_or_default();
        self.builder = self
            .builder
            .header(header::CONTENT_TYPE, "application/json");
        self.body = Body::from(bytes);
        self
    }

    /// Sends raw bytes as the body (no content type is set).
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = Body::from(body.into());
        self
    }

    /// Sends the request through the router.
    ///
    /// What the app logs while it answers (errors with their causes, the
    /// request's id and status) is kept with the response
    /// ([`TestResponse::logs`]); an answer of 500 or more also writes it to
    /// the test's output, which the test harness shows when the test fails.
    /// When the test installed a `tracing` subscriber of its own, that
    /// subscriber receives the events instead.
    ///
    /// # Panics
    /// If the request cannot be built (an invalid URI): a bug in the test.
    pub async fn send(self) -> TestResponse {
        use tracing::instrument::WithSubscriber;
        let mut request = self
            .builder
            .body(self.body)
            .expect("test request must be valid");
        request.extensions_mut().insert(ConnectInfo(self.peer));
        let (method, uri) = (request.method().clone(), request.uri().clone());
        let logs = LogBuffer::default();
        // A subscriber the test installed itself gets the events instead.
        let own = tracing::dispatcher::get_default(|current| {
            current.is::<tracing::subscriber::NoSubscriber>()
        });
        let answered = if own {
            let subscriber = tracing_subscriber::fmt()
                .with_writer(logs.clone())
                .with_max_level(tracing::Level::INFO)
                .with_ansi(false)
                .without_time()
                .finish();
            self.router
                .oneshot(request)
                .with_subscriber(subscriber)
                .await
        } else {
            self.router.oneshot(request).await
        };
        let response = match answered {
            Ok(response) => response,
            Err(never) => match never {},
        };
        let (parts, body) = response.into_parts();
        let body = body
            .collect()
            .await
            .map(|collected| collected.to_bytes())
            .unwrap_or_default();
        let logs = logs.text();
        if parts.status.is_server_error() {
            eprintln!(
                "{method} {uri} answered {}; the app logged:\n{logs}",
                parts.status
            );
        }
        TestResponse {
            status: parts.status,
            headers: parts.headers,
            body,
            logs,
        }
    }
}

/// Where a request's log lines are written while [`TestRequest::send`]
/// waits for its answer; the crate's unit tests read logs with it too.
#[derive(Clone, Default)]
pub(crate) struct LogBuffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl LogBuffer {
    /// What was written, as text.
    pub(crate) fn text(&self) -> String {
        let bytes = self.0.lock().unwrap_or_else(|p| p.into_inner());
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl std::io::Write for LogBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogBuffer {
    type Writer = LogBuffer;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// A response received by a [`TestClient`], body already read.
#[derive(Debug)]
pub struct TestResponse {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
    logs: String,
}

impl TestResponse {
    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// One header as text, if present and valid UTF-8.
    pub fn header(&self, name: impl AsRef<str>) -> Option<&str> {
        self.headers
            .get(name.as_ref())
            .and_then(|v| v.to_str().ok())
    }

    /// What the app logged while it answered, one line an event: a 500's
    /// error and its causes, the request's id and status.
    ///
    /// ```
    /// use xcore::prelude::*;
    ///
    /// pub struct Broken;
    ///
    /// #[plugin(prefix = "/broken")]
    /// impl Broken {
    ///     #[route(get, "/")]
    ///     async fn fail() -> xcore::Result<String> {
    ///         let io = std::io::Error::other("disk on fire");
    ///         Err(Error::internal(io))
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> xcore::Result<()> {
    /// let client = xcore::testing::TestClient::new(App::new(xcore::testing::config())?.plugin(Broken)).await?;
    /// let response = client.get("/broken/").send().await;
    /// assert_eq!(response.status(), 500);
    /// assert!(!response.text().contains("disk on fire"), "never told to the client");
    /// assert!(response.logs().contains("disk on fire"), "{}", response.logs());
    /// # Ok(())
    /// # }
    /// ```
    pub fn logs(&self) -> &str {
        &self.logs
    }

    /// The body bytes.
    pub fn bytes(&self) -> &Bytes {
        &self.body
    }

    /// The body as text (lossy UTF-8).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON.
    ///
    /// # Panics
    /// If the body is not JSON of that shape, with the body in the message.
    pub fn json<T: DeserializeOwned>(&self) -> T {
        serde_json::from_slice(&self.body).unwrap_or_else(|err| {
            panic!(
                "response body is not the expected JSON ({err}); status {}, body: {}\nthe app logged:\n{}",
                self.status,
                self.text(),
                self.logs
            )
        })
    }
}

/// What a [`Mailbox`] received: a code handed to it as an
/// [`OtpSender`](crate::otp::OtpSender), or an e-mail handed to it as a
/// [`MailSender`](crate::mail::MailSender).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Delivery {
    /// A one-time code for a user.
    Code {
        /// The user's id.
        user: String,
        /// The code.
        code: String,
    },
    /// An e-mail.
    Mail(crate::mail::Mail),
}

/// The test mailbox: stands in for the SMTP server (as a
/// [`MailSender`](crate::mail::MailSender), with [`App::mailer`]) or for
/// the code sender (as an [`OtpSender`](crate::otp::OtpSender), with
/// [`App::otp_sender`]), and keeps what it is given. Clones share one box.
///
/// ```
/// use xcore::prelude::*;
/// use xcore::testing::{Mailbox, TestClient};
///
/// pub struct Codes;
///
/// #[plugin(prefix = "/codes")]
/// impl Codes {
///     #[route(post, "/send", auth, status = 202)]
///     async fn send(otp: Otp, user: CurrentUser) -> xcore::Result<()> {
///         otp.send_to(&user).await?;
///         Ok(())
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> xcore::Result<()> {
/// let mailbox = Mailbox::default();
/// let app = App::new(xcore::testing::config())?
///     .plugin(Codes)
///     .otp_sender(mailbox.clone());
/// let client = TestClient::new(app).await?;
/// let token = client.token("7", &[])?;
/// assert_eq!(client.post("/codes/send").bearer(&token).send().await.status(), 202);
/// assert_eq!(mailbox.last_code().len(), 6);
/// // As the app's mailer (`.mailer(mailbox.clone())`) it receives the
/// // e-mails, codes included, and `last_code` finds the code in the text.
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct Mailbox(std::sync::Arc<std::sync::Mutex<Vec<Delivery>>>);

impl Mailbox {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Delivery>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Everything received, oldest first.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.lock().clone()
    }

    /// The e-mails received, oldest first.
    pub fn mails(&self) -> Vec<crate::mail::Mail> {
        self.lock()
            .iter()
            .filter_map(|delivery| match delivery {
                Delivery::Mail(mail) => Some(mail.clone()),
                Delivery::Code { .. } => None,
            })
            .collect()
    }

    /// The last e-mail received.
    ///
    /// # Panics
    /// When none was: the test expected one.
    pub fn last_mail(&self) -> crate::mail::Mail {
        self.mails().pop().expect("the mailbox received no e-mail")
    }

    /// The last one-time code received: handed over as a code, or the
    /// first run of six or more digits in the last e-mail.
    ///
    /// # Panics
    /// When none was: the test expected one.
    pub fn last_code(&self) -> String {
        self.lock()
            .iter()
            .rev()
            .find_map(|delivery| match delivery {
                Delivery::Code { code, .. } => Some(code.clone()),
                Delivery::Mail(mail) => mail
                    .text
                    .split(|c: char| !c.is_ascii_digit())
                    .find(|run| run.len() >= 6)
                    .map(str::to_owned),
            })
            .expect("the mailbox received no code")
    }

    /// Waits (up to ten seconds) until `count` e-mails have arrived and
    /// returns them, oldest first: some are sent after the answer (a
    /// password-reset link, so that a known e-mail answers as fast as an
    /// unknown one).
    ///
    /// # Panics
    /// When they do not arrive in time.
    pub async fn wait_for_mails(&self, count: usize) -> Vec<crate::mail::Mail> {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let mails = self.mails();
            if mails.len() >= count {
                return mails;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the mailbox received {} e-mail(s), not {count}",
                mails.len()
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    /// The `token` of the link to `path` (`/reset-password`,
    /// `/verify-email`) in the newest e-mail holding one.
    ///
    /// # Panics
    /// When no e-mail holds such a link.
    pub fn link_token(&self, path: &str) -> String {
        self.mails()
            .iter()
            .rev()
            .find_map(|mail| link_token(&mail.text, path))
            .unwrap_or_else(|| panic!("no e-mail holds a link to {path}"))
    }

    /// Empties the box.
    pub fn clear(&self) {
        self.lock().clear();
    }
}

/// The `token` of the first link to `path` (`/reset-password`,
/// `/verify-email`) in `text`, for tests reading e-mails that went
/// elsewhere than a [`Mailbox`] (a real SMTP server).
///
/// ```
/// let text = "Open https://shop.example/verify-email?token=ab12cd within 72 hours.";
/// assert_eq!(xcore::testing::link_token(text, "/verify-email").as_deref(), Some("ab12cd"));
/// assert_eq!(xcore::testing::link_token(text, "/reset-password"), None);
/// ```
pub fn link_token(text: &str, path: &str) -> Option<String> {
    let marker = format!("{path}?token=");
    let start = text.find(&marker)? + marker.len();
    Some(
        text[start..]
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .collect(),
    )
}

impl crate::otp::OtpSender for Mailbox {
    fn send<'a>(
        &'a self,
        to: &'a crate::otp::OtpRecipient,
        code: &'a str,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), Error>> + Send + 'a>> {
        Box::pin(async move {
            self.lock().push(Delivery::Code {
                user: to.user_id.clone(),
                code: code.to_owned(),
            });
            Ok(())
        })
    }
}

impl crate::mail::MailSender for Mailbox {
    fn send<'a>(
        &'a self,
        mail: &'a crate::mail::Mail,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), Error>> + Send + 'a>> {
        Box::pin(async move {
            self.lock().push(Delivery::Mail(mail.clone()));
            Ok(())
        })
    }
}
