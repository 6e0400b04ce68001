//! Users and conversations for a run: over ChemChat's REST API, or synthetic for the reference
//! server (which has no REST and checks no token).

use anyhow::{Context as _, bail};
use futures::stream::{self, StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The password of every benchmark user.
const PASSWORD: &str = "load benchmark password 2026";

/// Who connects where: connection `c` joins `conversations[c / room_size]` as member
/// `c % room_size`, authenticating with `tokens[c % room_size]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Plan {
    /// Conversation ids, one per room.
    pub conversations: Vec<String>,
    /// One token per member slot of a room.
    pub tokens: Vec<String>,
    /// Members per room.
    pub room_size: usize,
}

impl Plan {
    /// The conversation and token of connection `c`.
    pub fn slot(&self, c: usize) -> (&str, &str) {
        let room = &self.conversations[c / self.room_size];
        let token = &self.tokens[(c % self.room_size) % self.tokens.len()];
        (room, token)
    }

    /// Synthetic ids for the reference server.
    pub fn synthetic(connections: usize, room_size: usize) -> Self {
        let rooms = connections.div_ceil(room_size);
        Self {
            conversations: (0..rooms).map(|r| format!("room-{r}")).collect(),
            tokens: vec!["reference".to_owned()],
            room_size,
        }
    }

    /// Registers (or logs in) `room_size` users and creates the rooms over REST. The same users
    /// are members of every room: each connection joins only its own room, so a user's other
    /// memberships add nothing to the fan-out, and registration (argon2, tens of ms each) stays
    /// proportional to the room size rather than to the connection count.
    pub async fn over_rest(
        base: &str,
        prefix: &str,
        connections: usize,
        room_size: usize,
        concurrency: usize,
    ) -> anyhow::Result<Self> {
        let http = reqwest::Client::new();
        let users: Vec<(String, String)> = stream::iter(0..room_size)
            .map(|i| user(&http, base, format!("{prefix}u{i}")))
            .buffered(concurrency.max(1))
            .try_collect()
            .await?;
        let (owner_token, _) = &users[0];
        let member_ids: Vec<&str> = users[1..].iter().map(|(_, id)| id.as_str()).collect();
        let rooms = connections.div_ceil(room_size);
        let conversations: Vec<String> = stream::iter(0..rooms)
            .map(|r| {
                let body = json!({ "type": "group", "name": format!("{prefix} room {r}"), "memberIds": member_ids });
                let http = &http;
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
}
