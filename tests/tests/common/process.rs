//! `seed_tour` as a real process, for what only a process shows (its
//! memory), and a minimal HTTP/1.1 client to talk to it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A running `seed_tour`, killed on drop.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    log: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// Runs `seed_tour` with these arguments and variables (and this
/// standard input) to its end.
pub fn run(args: &[&str], env: &[(&str, String)], stdin: &str) -> std::process::Output {
    use std::io::Write;
    let mut command = seed_tour_command();
    command
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().expect("start seed_tour");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("seed_tour output")
}

/// `seed_tour` with only the variables a test gives it: the configuration
/// variables of the shell running the tests (a reader who followed the
/// README's tour has `XCORE_APP_SECRET`, `XCORE_DATABASE_URL`, ... exported)
/// are not passed on.
fn seed_tour_command() -> Command {
    let mut command = Command::new(seed_tour_binary());
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name.starts_with("XCORE_") || name == "DATABASE_URL" || name == "REDIS_URL" {
            command.env_remove(&*name);
        }
    }
    command
}

/// The example binary, as the current sources build it: `cargo test
/// --workspace` has built it already (then this is a quick no-op); a
/// narrower `cargo test` may have left an old one.
fn seed_tour_binary() -> PathBuf {
    static BUILT: std::sync::Once = std::sync::Once::new();
    BUILT.call_once(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args([
                "build",
                "--quiet",
                "-p",
                "xcore-examples",
                "--example",
                "seed_tour",
            ])
            .status()
            .expect("cargo build");
        assert!(status.success(), "building seed_tour failed");
    });
    let exe = std::env::current_exe().expect("test binary path");
    // target/<profile>/deps/main-… -> target/<profile>/examples/seed_tour
    exe.parent()
        .and_then(|deps| deps.parent())
        .expect("target folder")
        .join("examples")
        .join("seed_tour")
}

impl Server {
    /// Starts `seed_tour` with these variables on a free port and waits for
    /// `/health`.
    pub async fn start(env: &[(&str, String)]) -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let log = std::env::temp_dir().join(format!(
            "xcore-test-seed-tour-{}.log",
            uuid::Uuid::new_v4().simple()
        ));
        let mut command = seed_tour_command();
        command
            .env("XCORE_BIND", addr.to_string())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"));
        for (name, value) in env {
            command.env(name, value);
        }
        let child = command.spawn().expect("start seed_tour");
        let mut server = Server { child, addr, log };
        let started = Instant::now();
        loop {
            if let Ok(response) = server.request("GET", "/health", None).await
                && response.status == 200
            {
                return server;
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("seed_tour exited ({status}): {}", server.log());
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "seed_tour did not answer /health"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Sends SIGTERM, as an orchestrator stopping the instance would, and
    /// waits at most `within` for the process to exit: its status, or
    /// `None` if it is still running.
    pub fn terminate(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let asked = Instant::now();
        while asked.elapsed() < within {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// The process's peak resident memory, in bytes (Linux `VmHWM`).
    pub fn peak_rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("/proc status");
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|kib| kib.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kib| kib * 1024)
            .expect("VmHWM")
    }

    /// What the process wrote to its standard error so far (its log).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// One request, on a connection of its own.
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        json: Option<&serde_json::Value>,
    ) -> std::io::Result<Response> {
        self.request_as(method, path, json, None).await
    }

    /// One request with a bearer token, on a connection of its own.
    pub async fn request_as(
        &self,
        method: &str,
        path: &str,
        json: Option<&serde_json::Value>,
        token: Option<&str>,
    ) -> std::io::Result<Response> {
        let body = json.map(|j| j.to_string()).unwrap_or_default();
        let mut stream = TcpStream::connect(self.addr).await?;
        let authorization = token
            .map(|token| format!("Authorization: Bearer {token}\r\n"))
            .unwrap_or_default();
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{authorization}\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).await?;
        let mut raw = String::new();
        stream.read_to_string(&mut raw).await?;
        Ok(Response::parse(&raw))
    }
}

/// A response, read whole.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    fn parse(raw: &str) -> Response {
        let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((raw, ""));
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|line| line.split(' ').nth(1))
            .and_then(|code| code.parse().ok())
            .unwrap_or(0);
        let headers = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
            .collect();
        Response {
            status,
            headers,
            body: body.to_owned(),
        }
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|err| panic!("not JSON ({err}): {}", self.body))
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}
