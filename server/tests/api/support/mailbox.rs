//! A real SMTP server of the test's own (aiosmtpd, through `scripts/mailbox.py`): every message
//! it receives lands in a folder the test reads, so no test sees another's mail.

use super::process::{Private, free_port};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

/// A running mailbox.
pub struct Mailbox {
    _server: Private,
    folder: tempfile::TempDir,
}

impl Mailbox {
    /// Starts one on a free port.
    pub async fn start() -> Self {
        let folder = tempfile::tempdir().unwrap();
        let port = free_port();
        let script: PathBuf = [env!("CARGO_MANIFEST_DIR"), "..", "scripts", "mailbox.py"]
            .iter()
            .collect();
        let mut command = Command::new("python3");
        command
            .arg(&script)
            .arg(folder.path())
            .arg(port.to_string());
        let server = Private::start(
            command,
            port,
            "the SMTP server (python3 with aiosmtpd: `make services` installs it)",
        )
        .await;
        Self {
            _server: server,
            folder,
        }
    }

    /// `CHEMCHAT_SMTP_URL` for it.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self._server.port)
    }

    /// Every message received so far, raw, oldest first.
    pub fn messages(&self) -> Vec<String> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(self.folder.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "eml"))
            .collect();
        names.sort();
        names
            .into_iter()
            .map(|p| std::fs::read_to_string(p).unwrap())
            .collect()
    }

    /// The next message to `to` after the first `seen` of them, waited for up to 10 s.
    pub async fn next_to(&self, to: &str, seen: usize) -> String {
        for _ in 0..100 {
            let mail: Vec<String> = self
                .messages()
                .into_iter()
                .filter(|m| m.lines().any(|l| l.starts_with("To:") && l.contains(to)))
                .collect();
            if let Some(message) = mail.into_iter().nth(seen) {
                return message;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "no mail #{} to {to}; received: {:?}",
            seen + 1,
            self.messages()
        );
    }

    /// How many messages went to `to`.
    pub fn count_to(&self, to: &str) -> usize {
        self.messages()
            .iter()
            .filter(|m| m.lines().any(|l| l.starts_with("To:") && l.contains(to)))
            .count()
    }
}

/// The token of the first link in `mail` (`…token=<43 characters>`), undoing the mail's
/// quoted-printable soft line breaks.
pub fn token_in(mail: &str) -> String {
    let body = mail
        .replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=");
    let at = body.find("token=").expect("a link with a token") + "token=".len();
    body[at..at + 43].to_owned()
}
