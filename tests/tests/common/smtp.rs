//! `aiosmtpd` as a real SMTP server process, for the tests of what xcore
//! sends by e-mail (codes, password resets, address verification).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::net::TcpStream;

use super::services::TempDir;

fn required() -> bool {
    std::env::var("XCORE_TEST_REQUIRE_SERVICES").is_ok_and(|v| v == "1")
}

/// An SMTP server writing what it receives to a Maildir; killed on drop.
pub struct SmtpServer {
    child: Child,
    pub port: u16,
    maildir: TempDir,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl SmtpServer {
    /// Started with `XCORE_TEST_SMTP_PYTHON` (a Python with aiosmtpd, as
    /// `.ci/run` sets up), else `python3`; `None` (skip) when neither has
    /// aiosmtpd and the services are not required.
    pub async fn start() -> Option<SmtpServer> {
        let python = std::env::var("XCORE_TEST_SMTP_PYTHON").unwrap_or_else(|_| "python3".into());
        let has_it = Command::new(&python)
            .args(["-c", "import aiosmtpd"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if !has_it {
            assert!(
                !required(),
                "{python} has no aiosmtpd (set XCORE_TEST_SMTP_PYTHON) but XCORE_TEST_REQUIRE_SERVICES=1"
            );
            eprintln!("skipped: no aiosmtpd");
            return None;
        }
        let port = free_port();
        let maildir = TempDir::new();
        let child = Command::new(&python)
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(maildir.0.join("mail"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start aiosmtpd");
        let server = SmtpServer {
            child,
            port,
            maildir,
        };
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "aiosmtpd did not start"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Some(server)
    }

    /// `smtp://127.0.0.1:port`, for `mail.url`.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// The messages received so far, raw (headers and body).
    pub fn messages(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.maildir.0.join("mail").join("new")) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|entry| std::fs::read_to_string(entry.path()).ok())
            .collect()
    }

    /// Waits (up to 20 s) for a message for which `wanted` holds.
    pub async fn wait_for(&self, wanted: impl Fn(&str) -> bool) -> String {
        let started = Instant::now();
        loop {
            if let Some(message) = self.messages().into_iter().find(|m| wanted(m)) {
                return message;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "no such e-mail arrived; received: {:?}",
                self.messages()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A TCP port nobody listens on (yet).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("free port")
        .port()
}

/// The text of a raw message, its transfer encoding undone
/// (quoted-printable: lettre folds the long link lines that way).
pub fn text_of(message: &str) -> String {
    let (head, body) = message
        .split_once("\r\n\r\n")
        .or_else(|| message.split_once("\n\n"))
        .unwrap_or(("", message));
    if !head
        .to_ascii_lowercase()
        .contains("content-transfer-encoding: quoted-printable")
    {
        return body.to_owned();
    }
    let unfolded = body.replace("=\r\n", "").replace("=\n", "");
    let bytes = unfolded.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'=', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub use xcore::testing::link_token;
