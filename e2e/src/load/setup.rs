//! Users and conversations for a run: over ChemChat's REST API, or synthetic for the reference
//! server (which has no REST and checks no token).

use anyhow::{Context as _, bail};
use futures::stream::{self, StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The password of every benchmark user.
const PASSWORD: &str = "load benchmark password 2026";

/// Who the members of the rooms are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Members {
    /// `room_size` users, members of every room, each holding one connection per room. Every
    /// message then also moves the unread counts of its members' other connections, which
    /// ChemChat sends them (`unread.updated`, at most once a second per connection): the
    /// account channel's load on top of the fan-out. Registration stays proportional to the
    /// room size, which the 10 000-connection memory scenario needs.
    #[default]
    Shared,
    /// A user per connection, a member of its own room only: every frame a connection gets is
    /// its room's, the traffic the reference server carries too.
    Own,
}

/// Who connects where: connection `c` joins `conversations[c / room_size]`, authenticating
/// with `tokens[c % room_size]` when members are [`Members::Shared`], `tokens[c]` when each
/// has their [`Members::Own`] room.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Plan {
    /// Conversation ids, one per room.
    pub conversations: Vec<String>,
    /// One token per member slot of a room, or per connection.
    pub tokens: Vec<String>,
    /// Members per room.
    pub room_size: usize,
    /// Whose the tokens are.
    #[serde(default)]
    pub members: Members,
}

impl Plan {
    /// The conversation and token of connection `c`.
    pub fn slot(&self, c: usize) -> (&str, &str) {
        let room = &self.conversations[c / self.room_size];
        let member = match self.members {
            Members::Shared => c % self.room_size,
            Members::Own => c,
        };
        (room, &self.tokens[member % self.tokens.len()])
    }

    /// Synthetic ids for the reference server.
    pub fn synthetic(connections: usize, room_size: usize) -> Self {
        let rooms = connections.div_ceil(room_size);
        Self {
            conversations: (0..rooms).map(|r| format!("room-{r}")).collect(),
            tokens: vec!["reference".to_owned()],
            room_size,
            members: Members::Own,
        }
    }

    /// Registers (or logs in) the users and creates the rooms over REST: `room_size` users in
    /// every room, or `connections` users in rooms of their own (registration runs argon2,
    /// tens of milliseconds a user).
    pub async fn over_rest(
        base: &str,
        prefix: &str,
        connections: usize,
        room_size: usize,
        members: Members,
        concurrency: usize,
    ) -> anyhow::Result<Self> {
        let http = reqwest::Client::new();
        let count = match members {
            Members::Shared => room_size,
            Members::Own => connections,
        };
        let users: Vec<(String, String)> = stream::iter(0..count)
            .map(|i| user(&http, base, format!("{prefix}u{i}")))
            .buffered(concurrency.max(1))
            .try_collect()
            .await?;
        let rooms = connections.div_ceil(room_size);
        let conversations: Vec<String> = stream::iter(0..rooms)
            .map(|r| {
                let first = match members {
                    Members::Shared => 0,
                    Members::Own => r * room_size,
                };
                let room = &users[first..(first + room_size).min(users.len())];
                let member_ids: Vec<&str> = room[1..].iter().map(|(_, id)| id.as_str()).collect();
                let body = json!({ "type": "group", "name": format!("{prefix} room {r}"), "memberIds": member_ids });
                let (http, owner_token) = (&http, &room[0].0);
                async move {
                    let created = post(http, base, "/api/v1/conversations", Some(owner_token), body).await?;
                    string(&created, "id")
                }
            })
            .buffered(concurrency.max(1))
            .try_collect()
            .await?;
        Ok(Self {
            conversations,
            tokens: users.into_iter().map(|(token, _)| token).collect(),
            room_size,
            members,
        })
    }
}

/// Registers `username` unless it exists, then logs in; returns the access token and user id.
async fn user(
    http: &reqwest::Client,
    base: &str,
    username: String,
) -> anyhow::Result<(String, String)> {
    let registration = json!({
        "username": username,
        "displayName": username,
        "email": format!("{username}@bench.example.com"),
        "password": PASSWORD,
    });
    let response = http
        .post(format!("{base}/api/v1/auth/register"))
        .json(&registration)
        .send()
        .await
        .context("register")?;
    // 409: a previous run against the same data already registered this user.
    if !response.status().is_success() && response.status() != reqwest::StatusCode::CONFLICT {
        bail!(
            "register {username}: {} {}",
            response.status(),
            response.text().await.unwrap_or_default()
        );
    }
    let login = json!({ "username": username, "password": PASSWORD, "deviceId": "loadgen" });
    let tokens = post(http, base, "/api/v1/auth/login", None, login).await?;
    let user = tokens.get("user").cloned().unwrap_or(Value::Null);
    Ok((string(&tokens, "accessToken")?, string(&user, "id")?))
}

async fn post(
    http: &reqwest::Client,
    base: &str,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> anyhow::Result<Value> {
    let mut request = http.post(format!("{base}{path}")).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request
        .send()
        .await
        .with_context(|| format!("POST {path}"))?;
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    if !status.is_success() {
        bail!("POST {path}: {status} {text}");
    }
    serde_json::from_str(&text).with_context(|| format!("POST {path}: not JSON: {text}"))
}

fn string(value: &Value, field: &str) -> anyhow::Result<String> {
    value
        .get(field)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .with_context(|| format!("no `{field}` in {value}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_fill_rooms_in_order() {
        let plan = Plan::synthetic(250, 100);
        assert_eq!(plan.conversations.len(), 3);
        assert_eq!(plan.slot(0).0, "room-0");
        assert_eq!(plan.slot(199).0, "room-1");
        assert_eq!(plan.slot(249).0, "room-2");
    }

    #[test]
    fn shared_members_reuse_a_rooms_tokens_and_own_members_do_not() {
        let tokens = |n: usize| (0..n).map(|t| format!("t{t}")).collect::<Vec<_>>();
        let conversations = vec!["a".to_owned(), "b".to_owned()];
        let shared = Plan {
            conversations: conversations.clone(),
            tokens: tokens(3),
            room_size: 3,
            members: Members::Shared,
        };
        assert_eq!(shared.slot(4), ("b", "t1"));
        let own = Plan {
            conversations,
            tokens: tokens(6),
            room_size: 3,
            members: Members::Own,
        };
        assert_eq!(own.slot(4), ("b", "t4"));
    }
}
