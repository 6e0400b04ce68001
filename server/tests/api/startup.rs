//! The binary at start-up: bad configuration refused with a message naming the variable, and
//! replicas that migrate one database at once.

use crate::support::{Engine, TestDb};
use std::process::{Command, Output};

fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    command(args, env, &dir).output().expect("the binary runs")
}

/// The binary with `args` and `env`, working in `dir`.
fn command(args: &[&str], env: &[(&str, &str)], dir: &tempfile::TempDir) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_chemchat-server"));
    command
        .args(args)
        .current_dir(dir.path())
        .env("CHEMCHAT_LISTEN", "127.0.0.1:0");
    for (name, value) in env {
        command.env(name, value);
    }
    command
}

/// A new PostgreSQL database of its own, so that no test migrates the machine's shared one.
fn new_postgres_database() -> TestDb {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(TestDb::new(Engine::Postgres))
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn unsupported_database_scheme_names_the_variable() {
    let output = run(
        &["serve"],
        &[("CHEMCHAT_DATABASE_URL", "mysql://root@localhost/chat")],
    );
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(err.contains("CHEMCHAT_DATABASE_URL"), "{err}");
    assert!(
        err.contains("sqlite://") && err.contains("postgres://"),
        "{err}"
    );
}

#[test]
fn unreachable_postgres_is_a_clear_error() {
    let output = run(
        &["serve"],
        &[
            (
                "CHEMCHAT_DATABASE_URL",
                "postgres://nobody:secretpw@127.0.0.1:1/chat",
            ),
            ("CHEMCHAT_JWT_SECRET", "0123456789abcdef0123456789abcdef"),
        ],
    );
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(
        err.contains("cannot connect to the postgres database"),
        "{err}"
    );
    assert!(!err.contains("secretpw"), "the password leaked: {err}");
}

#[test]
fn bad_values_name_their_variable() {
    for (name, value) in [
        ("CHEMCHAT_LISTEN", "localhost"),
        ("CHEMCHAT_JWT_SECRET", "too-short"),
        ("CHEMCHAT_TENANT_ID", "Not A Tenant"),
        ("CHEMCHAT_LOG_FORMAT", "xml"),
        ("CHEMCHAT_DATABASE_MAX_CONNECTIONS", "many"),
        ("CHEMCHAT_RATE_LIMITS", "message.send.user=fast"),
        ("CHEMCHAT_TRUSTED_PROXIES", "10.0.0.0/99"),
        ("CHEMCHAT_CORS_ORIGINS", "https://app.example.com/path"),
    ] {
        let output = run(&["serve"], &[(name, value)]);
        assert!(!output.status.success(), "{name}={value} was accepted");
        let err = stderr(&output);
        assert!(err.contains(name), "{name}={value}: {err}");
    }
}

#[test]
fn postgres_without_a_jwt_secret_is_refused() {
    let db = new_postgres_database();
    let url = db.url.clone();
    let output = run(&["migrate"], &[("CHEMCHAT_DATABASE_URL", &url)]);
    assert!(output.status.success(), "migrate: {}", stderr(&output));
    let output = run(&["serve"], &[("CHEMCHAT_DATABASE_URL", &url)]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("CHEMCHAT_JWT_SECRET"),
        "{}",
        stderr(&output)
    );
}

/// Replicas of a new release start together, and each migrates before it serves. A migration
/// that builds an index concurrently once deadlocked with the replica waiting for its turn, and
/// that replica failed to start.
#[test]
fn replicas_migrating_a_new_database_at_once_all_succeed() {
    let db = new_postgres_database();
    let dir = tempfile::tempdir().unwrap();
    let env = [("CHEMCHAT_DATABASE_URL", db.url.as_str())];
    let replicas: Vec<_> = (0..3)
        .map(|_| {
            command(&["migrate"], &env, &dir)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("the binary runs")
        })
        .collect();
    for replica in replicas {
        let output = replica.wait_with_output().expect("the replica ends");
        assert!(output.status.success(), "migrate: {}", stderr(&output));
    }
    let output = run(&["migrate"], &env);
    assert!(
        output.status.success(),
        "migrate again: {}",
        stderr(&output)
    );
}

#[test]
fn a_role_that_bypasses_row_level_security_is_refused() {
    // The test server's administrative role is a superuser.
    let db = new_postgres_database();
    let url = db.url.clone();
    let secret = ("CHEMCHAT_JWT_SECRET", "0123456789abcdef0123456789abcdef");
    let output = run(&["serve"], &[("CHEMCHAT_DATABASE_URL", &url), secret]);
    assert!(!output.status.success(), "a superuser was accepted");
    let err = stderr(&output);
    assert!(err.contains("row-level security"), "{err}");
    assert!(err.contains("CHEMCHAT_ALLOW_RLS_BYPASS"), "{err}");
}

#[test]
fn help_lists_the_subcommands() {
    let output = run(&["--help"], &[]);
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    for word in ["serve", "migrate", "tenant", "CHEMCHAT_DATABASE_URL"] {
        assert!(text.contains(word), "{word} missing from --help:\n{text}");
    }
}
