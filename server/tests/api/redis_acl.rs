//! A tenant's Redis ACL user (`tenant redis-user <id>`): it reaches its own tenant's keys and
//! channels and nothing else — every attempt outside is refused with NOPERM — and a server
//! pinned to the tenant runs on it: messages cross two instances, a rate limit holds across
//! them, a logout on one closes the socket on the other, and Redis logs no refusal of it. A new
//! password is added beside the old one, with the rights set anew, until `--retire` leaves it
//! alone.

use crate::support::api::{Api, PASSWORD, api_group, api_user, call};
use crate::support::instance::Instance;
use crate::support::services::redis_url;
use crate::support::ws::Ws;
use crate::support::{Engine, TestDb, t};
use chemchat_server::adapters::redis::{OtherPasswords, drop_tenant_user, provision_tenant_user};
use reqwest::{Method, StatusCode};
use secrecy::SecretString;
use serde_json::{Value, json};
use std::process::Command;
use std::time::Duration;

const PASSWORD_ONE: &str = "a-tenant-redis-password-0123456789";
const PASSWORD_TWO: &str = "another-tenant-redis-password-9876543210";

fn prefix() -> String {
    format!("acl-{}:", uuid::Uuid::new_v4().simple())
}

/// The shared Redis's URL with `user` and `password` as its credentials.
fn url_as(user: &str, password: &str) -> String {
    let admin = redis_url();
    let (scheme, rest) = admin.split_once("://").unwrap();
    let host = rest.split_once('@').map_or(rest, |(_, host)| host);
    format!("{scheme}://{user}:{password}@{host}")
}

/// Runs `chemchat-server tenant redis-user <tenant>` as the operator's Job does.
fn redis_user_command(prefix: &str, tenant: &str, password: &str) -> std::process::Output {
    redis_user_command_with(prefix, tenant, password, &[])
}

/// [`redis_user_command`] with more arguments (`--retire`).
fn redis_user_command_with(
    prefix: &str,
    tenant: &str,
    password: &str,
    more: &[&str],
) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    Command::new(env!("CARGO_BIN_EXE_chemchat-server"))
        .args(["tenant", "redis-user", tenant])
        .args(more)
        .current_dir(dir.path())
        .env("CHEMCHAT_REDIS_URL", redis_url())
        .env("CHEMCHAT_REDIS_PREFIX", prefix)
        .env("CHEMCHAT_TENANT_REDIS_PASSWORD", password)
        .env("CHEMCHAT_DATA_DIR", dir.path())
        .output()
        .expect("the binary runs")
}

async fn connect(url: &str) -> redis::RedisResult<redis::aio::MultiplexedConnection> {
    redis::Client::open(url)?
        .get_multiplexed_async_connection()
        .await
}

/// Runs `command` and expects Redis to refuse it for want of permission.
async fn refused(connection: &mut redis::aio::MultiplexedConnection, command: &redis::Cmd) {
    let answer = command.query_async::<redis::Value>(connection).await;
    match answer {
        Err(error) => assert!(no_permission(&error), "{command:?}: {error}"),
        Ok(value) => panic!("{command:?} was allowed: {value:?}"),
    }
}

/// A NOPERM refusal (redis-rs spells the code `NoPerm` in its text).
fn no_permission(error: &redis::RedisError) -> bool {
    error.code() == Some("NOPERM") || error.to_string().to_uppercase().contains("NOPERM")
}

fn cmd(parts: &[&str]) -> redis::Cmd {
    let mut command = redis::cmd(parts[0]);
    for part in &parts[1..] {
        command.arg(*part);
    }
    command
}

/// Every key under `prefix`, as the administrator sees them.
async fn keys_under(prefix: &str) -> Vec<String> {
    let mut admin = connect(&redis_url()).await.unwrap();
    let (mut cursor, mut keys) = (0u64, Vec::new());
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}*"))
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut admin)
            .await
            .unwrap();
        keys.extend(batch);
        if next == 0 {
            return keys;
        }
        cursor = next;
    }
}

/// The ACL refusals Redis logged for `user` (what was refused, and why).
async fn refusals_of(user: &str) -> Vec<String> {
    let mut admin = connect(&redis_url()).await.unwrap();
    let log: Vec<std::collections::HashMap<String, String>> = redis::cmd("ACL")
        .arg("LOG")
        .arg(1000)
        .query_async(&mut admin)
        .await
        .unwrap();
    log.into_iter()
        .filter(|entry| entry.get("username").map(String::as_str) == Some(user))
        .map(|entry| format!("{:?} {:?}", entry.get("reason"), entry.get("object")))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_redis_user_reaches_its_own_names_only() {
    let prefix = prefix();
    let made = redis_user_command(&prefix, "acme", PASSWORD_ONE);
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let logged =
        String::from_utf8_lossy(&made.stdout).into_owned() + &String::from_utf8_lossy(&made.stderr);
    assert!(!logged.contains(PASSWORD_ONE), "the password was logged");
    let user = chemchat_backends::redis_user(&prefix, "acme");
    let mut acme = connect(&url_as(&user, PASSWORD_ONE)).await.unwrap();
    let own = format!("{prefix}chemchat:acme:x");

    // Its own keys and channels, through the commands the server uses.
    let () = redis::cmd("SET")
        .arg(&own)
        .arg(1)
        .query_async(&mut acme)
        .await
        .unwrap();
    let script = redis::Script::new("return redis.call('GET', KEYS[1])");
    let read: i64 = script.key(&own).invoke_async(&mut acme).await.unwrap();
    assert_eq!(read, 1);
    let _: i64 = redis::cmd("PUBLISH")
        .arg(format!("{prefix}chemchat:acme:control"))
        .arg("{}")
        .query_async(&mut acme)
        .await
        .unwrap();

    // Nothing of another tenant's, of the shared budgets, or of the keyspace at large.
    let globex = format!("{prefix}chemchat:globex:x");
    let shared = format!("{prefix}chemchat:_shared:rl:login.address:10.0.0.1");
    let old_control = format!("{prefix}chemchat:control");
    for key in [&globex, &shared, &old_control, &"unprefixed".to_owned()] {
        refused(&mut acme, &cmd(&["GET", key])).await;
        refused(&mut acme, &cmd(&["SET", key, "1"])).await;
    }
    let mut evalsha = redis::cmd("EVALSHA");
    evalsha.arg(script.get_hash()).arg(1).arg(&globex);
    refused(&mut acme, &evalsha).await;
    // A script reaching a key it did not declare is checked as well (Redis 7.0 words this
    // refusal without the NOPERM code, later versions with it).
    let sneaky = redis::Script::new(&format!("return redis.call('GET', '{globex}')"));
    let answer = sneaky.invoke_async::<_, redis::Value>(&mut acme).await;
    assert!(
        answer.as_ref().is_err_and(|e| {
            let text = e.to_string();
            text.contains("NOPERM") || text.contains("can't access")
        }),
        "{answer:?}"
    );
    refused(&mut acme, &cmd(&["EVAL", "return 1", "0"])).await;
    for channel in [
        format!("{prefix}chemchat:globex:control"),
        format!("{prefix}chemchat:globex:account"),
        old_control.clone(),
    ] {
        refused(&mut acme, &cmd(&["PUBLISH", &channel, "{}"])).await;
    }
    for command in [
        cmd(&["KEYS", "*"]),
        cmd(&["SCAN", "0"]),
        cmd(&["RANDOMKEY"]),
        cmd(&["PUBSUB", "CHANNELS"]),
        cmd(&["FLUSHALL"]),
        cmd(&["CONFIG", "GET", "*"]),
        cmd(&["ACL", "LIST"]),
    ] {
        refused(&mut acme, &command).await;
    }
    let mut pubsub = redis::Client::open(url_as(&user, PASSWORD_ONE))
        .unwrap()
        .get_async_pubsub()
        .await
        .unwrap();
    pubsub
        .subscribe(format!("{prefix}chemchat:acme:control"))
        .await
        .expect("its own control channel");
    for channel in [
        format!("{prefix}chemchat:globex:control"),
        old_control.clone(),
    ] {
        let error = pubsub.subscribe(&channel).await.expect_err(&channel);
        assert!(no_permission(&error), "{channel}: {error}");
    }
    let error = pubsub
        .psubscribe(format!("{prefix}chemchat:*:control"))
        .await
        .expect_err("every tenant's control channels");
    assert!(no_permission(&error), "{error}");
    drop(pubsub);

    assert!(
        !refusals_of(&user).await.is_empty(),
        "Redis logs the refusals (the pinned server's test counts on it)"
    );

    // Running it again with a new password adds it: the old one keeps opening connections, for
    // the servers still holding it while they roll.
    let again = redis_user_command(&prefix, "acme", PASSWORD_TWO);
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    connect(&url_as(&user, PASSWORD_ONE))
        .await
        .expect("the old password still works until it is retired");
    connect(&url_as(&user, PASSWORD_TWO)).await.unwrap();
    // `--retire`, once none is left: the new password alone opens a connection.
    let retired = redis_user_command_with(&prefix, "acme", PASSWORD_TWO, &["--retire"]);
    assert!(
        retired.status.success(),
        "{}",
        String::from_utf8_lossy(&retired.stderr)
    );
    let logged = String::from_utf8_lossy(&retired.stdout).into_owned()
        + &String::from_utf8_lossy(&retired.stderr);
    assert!(!logged.contains(PASSWORD_TWO), "the password was logged");
    let old = connect(&url_as(&user, PASSWORD_ONE)).await;
    assert!(old.is_err(), "the retired password still works");
    connect(&url_as(&user, PASSWORD_TWO)).await.unwrap();

    let short = redis_user_command(&prefix, "acme", "short");
    assert!(!short.status.success());
    let invalid = redis_user_command(&prefix, "Not_A_Tenant", PASSWORD_ONE);
    assert!(!invalid.status.success());

    // The purge's end: the user goes (once).
    let admin = redis_url();
    assert_eq!(
        drop_tenant_user(&admin, &prefix, &t("acme")).await.unwrap(),
        Some(user.clone())
    );
    assert_eq!(
        drop_tenant_user(&admin, &prefix, &t("acme")).await.unwrap(),
        None
    );
    assert!(connect(&url_as(&user, PASSWORD_TWO)).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_password_keeps_the_old_one_but_no_old_right_until_it_is_retired() {
    let prefix = prefix();
    let acme = t("acme");
    let provision = |password: &'static str, others| {
        let prefix = prefix.clone();
        let acme = acme.clone();
        async move {
            provision_tenant_user(
                &redis_url(),
                &prefix,
                &acme,
                &SecretString::from(password),
                others,
            )
            .await
            .unwrap()
        }
    };
    let first = provision(PASSWORD_ONE, OtherPasswords::Keep).await;
    assert_eq!((first.created, first.kept, first.retired), (true, 0, 0));
    let user = first.user;
    // A right granted by hand (or by an older version of this command) that the server lacks.
    let mut admin = connect(&redis_url()).await.unwrap();
    let () = redis::cmd("ACL")
        .arg("SETUSER")
        .arg(&user)
        .arg("+keys")
        .query_async(&mut admin)
        .await
        .unwrap();
    // An older server's open connection, on the first password.
    let mut old_pod = connect(&url_as(&user, PASSWORD_ONE)).await.unwrap();

    let second = provision(PASSWORD_TWO, OtherPasswords::Keep).await;
    assert_eq!((second.created, second.kept, second.retired), (false, 1, 0));
    // Both passwords open connections; the rights were set anew all the same.
    let mut on_one = connect(&url_as(&user, PASSWORD_ONE)).await.unwrap();
    let mut on_two = connect(&url_as(&user, PASSWORD_TWO)).await.unwrap();
    for connection in [&mut on_one, &mut on_two] {
        refused(connection, &cmd(&["KEYS", "*"])).await;
        let own = format!("{prefix}chemchat:acme:x");
        let () = redis::cmd("SET")
            .arg(&own)
            .arg(1)
            .query_async(connection)
            .await
            .unwrap();
    }
    // The same password again (a new image's Job) keeps both, once each.
    let rerun = provision(PASSWORD_TWO, OtherPasswords::Keep).await;
    assert_eq!((rerun.kept, rerun.retired), (1, 0));
    connect(&url_as(&user, PASSWORD_ONE)).await.unwrap();

    // Retired: only the current password opens a connection.
    let retired = provision(PASSWORD_TWO, OtherPasswords::Retire).await;
    assert_eq!((retired.kept, retired.retired), (0, 1));
    assert!(connect(&url_as(&user, PASSWORD_ONE)).await.is_err());
    connect(&url_as(&user, PASSWORD_TWO)).await.unwrap();
    refused(&mut on_two, &cmd(&["KEYS", "*"])).await;
    // Redis ties a connection to its user, not to a password: one opened before stays (the
    // operator retires a password only once no pod that held it is left).
    let _: String = redis::cmd("PING").query_async(&mut old_pod).await.unwrap();

    drop_tenant_user(&redis_url(), &prefix, &acme)
        .await
        .unwrap();
}

/// Logs `username` in from `device`.
async fn login_from(api: &Api, username: &str, device: &str) -> Value {
    let (status, body) = api
        .post(
            "/api/v1/auth/login",
            json!({ "username": username, "password": PASSWORD, "deviceId": device }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_server_pinned_to_a_tenant_runs_as_its_redis_user() {
    let db = TestDb::new(Engine::Postgres).await;
    let prefix = prefix();
    let provisioned = provision_tenant_user(
        &redis_url(),
        &prefix,
        &t("acme"),
        &SecretString::from(PASSWORD_ONE),
        OtherPasswords::Keep,
    )
    .await
    .unwrap();
    assert!(provisioned.created);
    let user = provisioned.user;
    let tenant_url = url_as(&user, PASSWORD_ONE);
    let env = [
        ("CHEMCHAT_TENANT_ID", "acme"),
        ("CHEMCHAT_RATE_LIMITS", "message.send.user=8/min"),
    ];
    let a = Instance::start_with(&db, &tenant_url, &prefix, &env).await;
    let b = Instance::start_with(&db, &tenant_url, &prefix, &env).await;
    let alice = api_user(&a.api, None, "alice").await;
    let bob = api_user(&b.api, None, "bob").await;
    let room = api_group(&a.api, &alice, &[&bob]).await;

    // Messages cross the instances through the tenant's channels.
    let (mut on_a, _) = Ws::login(a.api.addr, &alice.token).await;
    on_a.ok("conversation.join", json!({ "conversationId": room }))
        .await;
    let (mut on_b, _) = Ws::login(b.api.addr, &bob.token).await;
    on_b.ok("conversation.join", json!({ "conversationId": room }))
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    for n in 1..=3 {
        on_b.ok(
            "message.send",
            json!({ "conversationId": room, "content": format!("m{n}"),
                    "clientMessageId": format!("k{n}") }),
        )
        .await;
    }
    for n in 1..=3 {
        let got = on_a.expect("message.created").await;
        assert_eq!(got["sequenceNumber"], n, "{got}");
    }

    // Alice's budget (8 a minute) is one budget on both instances.
    let path = format!("/api/v1/conversations/{room}/messages");
    let mut statuses = Vec::new();
    for i in 0..10 {
        let api = if i % 2 == 0 { &a.api } else { &b.api };
        let body = json!({ "content": "x", "clientMessageId": format!("r{i}") });
        statuses.push(call(api, &alice, Method::POST, &path, Some(body)).await.0);
    }
    assert_eq!(statuses[..8], [StatusCode::CREATED; 8], "{statuses:?}");
    assert_eq!(
        statuses[8..],
        [StatusCode::TOO_MANY_REQUESTS; 2],
        "{statuses:?}"
    );

    // A logout on A closes the socket of that session on B, through acme's control channel.
    let phone = login_from(&a.api, "bob", "phone").await;
    let (mut phone_ws, _) = Ws::login(b.api.addr, phone["wsToken"].as_str().unwrap()).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, _) = a
        .api
        .post_as(
            phone["accessToken"].as_str().unwrap(),
            "/api/v1/auth/logout",
            json!({}),
        )
        .await;
    assert!(status.is_success(), "{status}");
    let (code, reason) = phone_ws.wait_closed(Duration::from_secs(2)).await;
    assert_eq!(code, 4401, "closed with {code}: {reason}");

    // Everything the servers wrote is under acme's root, and Redis refused them nothing.
    let keys = keys_under(&prefix).await;
    assert!(!keys.is_empty());
    let root = format!("{prefix}chemchat:acme:");
    assert!(keys.iter().all(|k| k.starts_with(&root)), "{keys:?}");
    assert_eq!(refusals_of(&user).await, Vec::<String>::new());

    drop((a, b));
    drop_tenant_user(&redis_url(), &prefix, &t("acme"))
        .await
        .unwrap();
}
