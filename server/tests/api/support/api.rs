//! The HTTP client of a running server, and the users, groups and messages most tests start from.
//! Registration and login are written here once; the tests of the auth API itself build their
//! requests by hand.

use reqwest::{IntoUrl, Method, RequestBuilder, StatusCode};
use serde_json::{Value, json};
use std::net::SocketAddr;

/// The password every test user has.
pub const PASSWORD: &str = "correct horse battery staple";

/// A client of one server: a `TestServer` in this process or a `chemchat-server` process.
#[derive(Debug, Clone)]
pub struct Api {
    pub addr: SocketAddr,
    pub http: reqwest::Client,
}

impl Api {
    pub fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            http: reqwest::Client::new(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Sends a request and returns the status and the JSON body (`Value::Null` when empty).
    pub async fn call(&self, req: RequestBuilder) -> (StatusCode, Value) {
        let response = req.send().await.expect("request sent");
        let status = response.status();
        let text = response.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("non-JSON body: {text}"))
        };
        (status, body)
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(self.http.post(self.url(path)).json(&body)).await
    }

    pub async fn post_as(&self, token: &str, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(
            self.http
                .post(self.url(path))
                .bearer_auth(token)
                .json(&body),
        )
        .await
    }

    pub async fn get_as(&self, token: &str, path: &str) -> (StatusCode, Value) {
        self.call(self.http.get(self.url(path)).bearer_auth(token))
            .await
    }

    /// The Prometheus exposition of `/metrics`.
    pub async fn metrics(&self) -> String {
        self.get("/metrics").await.text().await.unwrap()
    }

    /// An unauthenticated `GET` of `path`, whatever its answer.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .send()
            .await
            .expect("request sent")
    }

    /// Registers `username` as `display_name` in `tenant` (the server's own when `None`);
    /// panics unless 201; returns the user.
    pub async fn register_in(
        &self,
        tenant: Option<&str>,
        username: &str,
        display_name: &str,
    ) -> Value {
        let req = self.http.post(self.url("/api/v1/auth/register"));
        let (status, body) = self
            .call(in_tenant(req, tenant).json(&json!({
                "username": username,
                "displayName": display_name,
                "email": format!("{username}@example.com"),
                "password": PASSWORD,
            })))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body
    }

    /// Logs `username` in to `tenant` (the server's own when `None`) from `test-device`; panics
    /// unless 200; returns the token response.
    pub async fn login_in(&self, tenant: Option<&str>, username: &str) -> Value {
        let req = self.http.post(self.url("/api/v1/auth/login"));
        let (status, body) = self
            .call(in_tenant(req, tenant).json(
                &json!({ "username": username, "password": PASSWORD, "deviceId": "test-device" }),
            ))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    /// Registers `username` in the server's own tenant, named after itself.
    pub async fn register(&self, username: &str) -> Value {
        self.register_in(None, username, username).await
    }

    /// Logs `username` in to the server's own tenant.
    pub async fn login(&self, username: &str) -> Value {
        self.login_in(None, username).await
    }
}

/// `req` addressed to `tenant` by header, or to the server's own tenant when `None`.
pub fn in_tenant(req: RequestBuilder, tenant: Option<&str>) -> RequestBuilder {
    match tenant {
        Some(tenant) => req.header("x-tenant-id", tenant),
        None => req,
    }
}

/// A registered, logged-in user of the API.
#[derive(Debug, Clone)]
pub struct ApiUser {
    pub id: String,
    pub token: String,
    pub tenant: Option<String>,
}

impl ApiUser {
    /// Registers `username` as `display_name` in `tenant` (the server's own when `None`) and logs
    /// it in.
    pub async fn sign_up(
        api: &Api,
        tenant: Option<&str>,
        username: &str,
        display_name: &str,
    ) -> Self {
        let user = api.register_in(tenant, username, display_name).await;
        let tokens = api.login_in(tenant, username).await;
        Self {
            id: user["id"].as_str().unwrap().to_owned(),
            token: tokens["accessToken"].as_str().unwrap().to_owned(),
            tenant: tenant.map(str::to_owned),
        }
    }
}

/// Registers and logs in `name` (in `tenant`, or the server's own tenant), named after itself.
pub async fn api_user(api: &Api, tenant: Option<&str>, name: &str) -> ApiUser {
    ApiUser::sign_up(api, tenant, name, name).await
}

/// A request as `user`: its token, and its tenant when it has one.
pub fn request(api: &Api, user: &ApiUser, method: Method, url: impl IntoUrl) -> RequestBuilder {
    let req = api.http.request(method, url).bearer_auth(&user.token);
    in_tenant(req, user.tenant.as_deref())
}

/// Calls the API as `user` with an optional JSON body.
pub async fn call(
    api: &Api,
    user: &ApiUser,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = request(api, user, method, api.url(path));
    if let Some(body) = body {
        req = req.json(&body);
    }
    api.call(req).await
}

/// Creates a group of `owner` and `members` through the API; returns its id.
pub async fn api_group(api: &Api, owner: &ApiUser, members: &[&ApiUser]) -> String {
    let ids: Vec<&str> = members.iter().map(|m| m.id.as_str()).collect();
    let (status, body) = call(
        api,
        owner,
        Method::POST,
        "/api/v1/conversations",
        Some(json!({ "type": "group", "name": "team", "memberIds": ids })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

/// Sends `content` with `key`; returns status and body.
pub async fn api_send(
    api: &Api,
    user: &ApiUser,
    conversation: &str,
    content: &str,
    key: &str,
) -> (StatusCode, Value) {
    call(
        api,
        user,
        Method::POST,
        &format!("/api/v1/conversations/{conversation}/messages"),
        Some(json!({ "content": content, "clientMessageId": key })),
    )
    .await
}

/// Edits message `id` to `content` over REST; panics unless 200.
pub async fn edit_text(api: &Api, user: &ApiUser, id: &str, content: &str) {
    let (status, body) = call(
        api,
        user,
        Method::PUT,
        &format!("/api/v1/messages/{id}"),
        Some(json!({ "content": content })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// Sends `text` under a fresh key; panics unless 201; returns the message id.
pub async fn send_text(api: &Api, user: &ApiUser, conversation: &str, text: &str) -> String {
    let key = uuid::Uuid::new_v4().to_string();
    let (status, body) = api_send(api, user, conversation, text, &key).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

/// Asserts the documented error shape and returns the code.
pub fn error_code(status: StatusCode, body: &Value) -> String {
    assert!(
        status.is_client_error() || status.is_server_error(),
        "expected an error, got {status}: {body}"
    );
    let error = &body["error"];
    assert!(error["code"].is_string(), "no error.code in {body}");
    assert!(error["message"].is_string(), "no error.message in {body}");
    assert!(
        error["requestId"].is_string(),
        "no error.requestId in {body}"
    );
    error["code"].as_str().unwrap().to_owned()
}

/// The engine-agnostic error check: status, documented shape, code.
pub fn assert_error(status: StatusCode, body: &Value, want_status: StatusCode, want_code: &str) {
    assert_eq!(status, want_status, "{body}");
    assert_eq!(error_code(status, body), want_code, "{body}");
}
