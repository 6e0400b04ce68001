//! A scripted Kubernetes API server for reconcile tests, on `tower_test::mock::pair` (the
//! approach of kube-rs controller-rs `src/fixtures.rs`): it keeps objects in memory, answers
//! GET/LIST/POST/PUT/PATCH/DELETE like the real server does for what the operator uses,
//! records every request (method, path, query, body) for the test to check, and can be told
//! to fail a request.

#![allow(clippy::unwrap_used)]

mod canonical;
pub mod credentials;
mod ssa;
pub mod world;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use http::{Method, Request, Response, StatusCode};
use kube::Client;
use kube::client::Body;
use serde_json::{Value, json};

/// One request as the operator sent it.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: Method,
    pub path: String,
    pub query: String,
    pub content_type: String,
    pub body: Option<Value>,
}

impl Recorded {
    /// True for requests that change state.
    pub fn is_write(&self) -> bool {
        self.method != Method::GET
    }
}

#[derive(Default)]
struct State {
    objects: BTreeMap<String, Value>,
    log: Vec<Recorded>,
    failures: Vec<(Method, String, u16)>,
    version: u64,
}

/// Handle on the fake server's state.
#[derive(Clone)]
pub struct FakeApi {
    state: Arc<Mutex<State>>,
}

/// Where a path points: the collection key and, for single objects, the name and subresource.
struct Target {
    collection: String,
    namespace: Option<String>,
    name: Option<String>,
    subresource: Option<String>,
}

fn parse(path: &str) -> Target {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (prefix, rest) = if segments[0] == "api" {
        segments.split_at(2)
    } else {
        segments.split_at(3)
    };
    let prefix = format!("/{}", prefix.join("/"));
    let (namespace, rest) = if rest[0] == "namespaces" && rest.len() >= 3 {
        (Some(rest[1].to_owned()), &rest[2..])
    } else {
        (None, rest)
    };
    Target {
        collection: format!("{prefix}/{}", rest[0]),
        namespace,
        name: rest.get(1).map(|s| (*s).to_owned()),
        subresource: rest.get(2).map(|s| (*s).to_owned()),
    }
}

fn key(collection: &str, namespace: Option<&str>, name: &str) -> String {
    format!("{collection}|{}|{name}", namespace.unwrap_or(""))
}

/// The API path of an object, as the operator would request it.
pub fn object_path(collection: &str, namespace: Option<&str>, name: &str) -> String {
    let (prefix, plural) = collection.rsplit_once('/').unwrap();
    match namespace {
        Some(ns) => format!("{prefix}/namespaces/{ns}/{plural}/{name}"),
        None => format!("{prefix}/{plural}/{name}"),
    }
}

fn merge(into: &mut Value, patch: &Value) {
    match (into, patch) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                merge(a.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (slot, v) => *slot = v.clone(),
    }
}

fn status(code: u16, reason: &str, message: &str) -> (u16, Value) {
    (
        code,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "reason": reason, "message": message, "code": code}),
    )
}

fn selector_matches(object: &Value, selector: &str) -> bool {
    selector.split(',').filter(|s| !s.is_empty()).all(|pair| {
        let (k, v) = pair.split_once('=').unwrap();
        object["metadata"]["labels"][k] == v
    })
}

fn query_param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == name).then(|| {
            v.replace("%2C", ",")
                .replace("%3D", "=")
                .replace("%2F", "/")
        })
    })
}

impl FakeApi {
    /// A client wired to a fresh fake server.
    pub fn start() -> (Client, FakeApi) {
        let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let fake = FakeApi {
            state: Arc::new(Mutex::new(State::default())),
        };
        let server = fake.clone();
        tokio::spawn(async move {
            while let Some((request, send)) = handle.next_request().await {
                let (parts, body) = request.into_parts();
                let bytes = body.collect_bytes().await.unwrap();
                let body: Option<Value> = if bytes.is_empty() {
                    None
                } else {
                    serde_json::from_slice(&bytes).ok()
                };
                let content_type = parts
                    .headers
                    .get(http::header::CONTENT_TYPE)
                    .map(|v| v.to_str().unwrap().to_owned())
                    .unwrap_or_default();
                let recorded = Recorded {
                    method: parts.method.clone(),
                    path: parts.uri.path().to_owned(),
                    query: parts.uri.query().unwrap_or("").to_owned(),
                    content_type,
                    body,
                };
                let (code, value) = server.handle(&recorded);
                server.state.lock().unwrap().log.push(recorded);
                let response = Response::builder()
                    .status(StatusCode::from_u16(code).unwrap())
                    .header("content-type", "application/json")
                    .body(Body::from(serde_json::to_vec(&value).unwrap()))
                    .unwrap();
                send.send_response(response);
            }
        });
        (Client::new(service, "default"), fake)
    }

    /// Stores an object at its API path, as if it had been created.
    pub fn insert(&self, path: &str, mut object: Value) {
        let t = parse(path);
        let mut state = self.state.lock().unwrap();
        state.version += 1;
        object["metadata"]["resourceVersion"] = json!(state.version.to_string());
        if object["metadata"]["uid"].is_null() {
            object["metadata"]["uid"] = json!(format!("uid-{}", state.version));
        }
        let k = key(
            &t.collection,
            t.namespace.as_deref(),
            t.name.as_deref().unwrap(),
        );
        state.objects.insert(k, object);
    }

    /// The object at an API path.
    pub fn get(&self, path: &str) -> Option<Value> {
        let t = parse(path);
        let k = key(
            &t.collection,
            t.namespace.as_deref(),
            t.name.as_deref().unwrap(),
        );
        self.state.lock().unwrap().objects.get(&k).cloned()
    }

    /// Changes a stored object in place.
    pub fn edit(&self, path: &str, f: impl FnOnce(&mut Value)) {
        let mut object = self.get(path).unwrap();
        f(&mut object);
        self.insert(path, object);
    }

    /// Removes an object, as if someone else had deleted it.
    pub fn remove(&self, path: &str) {
        let t = parse(path);
        let k = key(
            &t.collection,
            t.namespace.as_deref(),
            t.name.as_deref().unwrap(),
        );
        self.state.lock().unwrap().objects.remove(&k);
    }

    /// Makes the next matching request fail with `code`.
    pub fn fail_next(&self, method: Method, path_contains: &str, code: u16) {
        self.state
            .lock()
            .unwrap()
            .failures
            .push((method, path_contains.to_owned(), code));
    }

    /// Returns and clears the request log.
    pub fn take_log(&self) -> Vec<Recorded> {
        std::mem::take(&mut self.state.lock().unwrap().log)
    }

    fn handle(&self, r: &Recorded) -> (u16, Value) {
        let mut state = self.state.lock().unwrap();
        if let Some(i) = state
            .failures
            .iter()
            .position(|(m, p, _)| *m == r.method && r.path.contains(p.as_str()))
        {
            let (_, _, code) = state.failures.remove(i);
            return status(code, "InternalError", "injected failure");
        }
        let t = parse(&r.path);
        let ns = t.namespace.as_deref();
        match (&r.method, &t.name) {
            (&Method::GET, None) => {
                let selector = query_param(&r.query, "labelSelector").unwrap_or_default();
                let prefix = format!("{}|", t.collection);
                let items: Vec<Value> = state
                    .objects
                    .iter()
                    .filter(|(k, v)| {
                        k.starts_with(&prefix)
                            && ns.is_none_or(|ns| k.starts_with(&format!("{prefix}{ns}|")))
                            && selector_matches(v, &selector)
                    })
                    .map(|(_, v)| v.clone())
                    .collect();
                (
                    200,
                    json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": "1"}, "items": items}),
                )
            }
            (&Method::GET, Some(name)) => match state.objects.get(&key(&t.collection, ns, name)) {
                Some(v) => (200, v.clone()),
                None => status(404, "NotFound", &format!("{name} not found")),
            },
            (&Method::DELETE, Some(name)) => {
                match state.objects.remove(&key(&t.collection, ns, name)) {
                    Some(v) => (200, v),
                    None => status(404, "NotFound", &format!("{name} not found")),
                }
            }
            (&Method::POST, None) => {
                let mut object = r.body.clone().unwrap_or(Value::Null);
                let name = object["metadata"]["name"]
                    .as_str()
                    .unwrap_or("unnamed")
                    .to_owned();
                let k = key(&t.collection, ns, &name);
                if state.objects.contains_key(&k) {
                    return status(409, "AlreadyExists", "exists");
                }
                state.version += 1;
                object["metadata"]["resourceVersion"] = json!(state.version.to_string());
                // Like the real server, a created object has its uid from the start.
                if object["metadata"]["uid"].is_null() {
                    object["metadata"]["uid"] = json!(format!("uid-{}", state.version));
                }
                state.objects.insert(k, object.clone());
                (201, object)
            }
            (&Method::PUT, Some(name)) => {
                let k = key(&t.collection, ns, name);
                let mut object = r.body.clone().unwrap_or(Value::Null);
                let current = state
                    .objects
                    .get(&k)
                    .map(|o| o["metadata"]["resourceVersion"].clone());
                if current.is_some()
                    && current.as_ref() != Some(&object["metadata"]["resourceVersion"])
                {
                    return status(409, "Conflict", "resourceVersion changed");
                }
                state.version += 1;
                object["metadata"]["resourceVersion"] = json!(state.version.to_string());
                state.objects.insert(k, object.clone());
                (200, object)
            }
            (&Method::PATCH, Some(name)) => {
                let k = key(&t.collection, ns, name);
                let body = r.body.clone().unwrap_or(Value::Null);
                let existing = state.objects.get(&k).cloned();
                let mut object = match (existing, r.content_type.as_str()) {
                    (Some(mut o), "application/json-patch+json") => {
                        // Like the real server, a missing field tests equal to null.
                        if o["metadata"].get("finalizers").is_none() {
                            o["metadata"]["finalizers"] = Value::Null;
                        }
                        let patch: json_patch::Patch =
                            serde_json::from_value(body.clone()).unwrap();
                        if json_patch::patch(&mut o, &patch).is_err() {
                            return status(422, "Invalid", "json patch test failed");
                        }
                        o
                    }
                    (Some(mut o), _) if t.subresource.as_deref() == Some("status") => {
                        o["status"] = body["status"].clone();
                        o
                    }
                    (Some(mut o), _) => {
                        merge(&mut o, &body);
                        o
                    }
                    (None, "application/apply-patch+yaml") if t.subresource.is_none() => {
                        body.clone()
                    }
                    (None, _) => return status(404, "NotFound", &format!("{name} not found")),
                };
                if r.content_type == "application/apply-patch+yaml" && t.subresource.is_none() {
                    let manager = query_param(&r.query, "fieldManager").unwrap_or_default();
                    ssa::apply(&mut object, &body, &manager);
                }
                // Custom resources are stored as JSON, verbatim; built-in kinds go through
                // their Go types and protobuf.
                let custom = ["/apis/chemchat.io/", "/apis/keda.sh/"];
                if !custom.iter().any(|c| t.collection.starts_with(c)) {
                    canonical::store(&mut object);
                }
                state.version += 1;
                object["metadata"]["resourceVersion"] = json!(state.version.to_string());
                if object["metadata"]["uid"].is_null() {
                    object["metadata"]["uid"] = json!(format!("uid-{}", state.version));
                }
                state.objects.insert(k, object.clone());
                (200, object)
            }
            _ => status(405, "MethodNotAllowed", "not scripted"),
        }
    }
}

/// A Secret's `data` value under `key`, decoded (empty when it is missing).
pub fn decoded(secret: &Value, key: &str) -> String {
    use base64::Engine as _;
    let text = secret["data"][key].as_str().unwrap_or_default();
    String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .unwrap(),
    )
    .unwrap()
}

/// Base64 of a Secret value; a small encoder so the tests need no extra crate.
pub fn b64(s: &str) -> String {
    use std::fmt::Write;
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in s.as_bytes().chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.write_char(T[(n >> (18 - 6 * i) & 63) as usize] as char)
                    .unwrap();
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Where the operator posts its Kubernetes Events.
pub const EVENTS: &str = "/apis/events.k8s.io/v1/namespaces/default/events";

/// The reasons of the Events posted, in order.
pub fn events(log: &[Recorded]) -> Vec<String> {
    log.iter()
        .filter(|r| r.method == http::Method::POST && r.path == EVENTS)
        .map(|r| {
            r.body.as_ref().unwrap()["reason"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

/// Where the purge Job of `tenant` lives (the cluster's namespace).
pub fn purge_job_path(tenant: &str) -> String {
    format!("/apis/batch/v1/namespaces/chemchat-system/jobs/purge-{tenant}")
}

/// Ends the purge Job of `tenant` as its controller would: condition `Complete` or `Failed`.
pub fn finish_purge_job(fake: &FakeApi, tenant: &str, outcome: &str) {
    fake.edit(&purge_job_path(tenant), |job| {
        job["status"] = json!({"conditions": [{"type": outcome, "status": "True",
            "reason": if outcome == "Failed" { "BackoffLimitExceeded" } else { "Completed" },
            "message": if outcome == "Failed" { "Job has reached the specified backoff limit" } else { "" }}]});
    });
}

/// The note of the first Event with `reason`.
pub fn event_note(log: &[Recorded], reason: &str) -> String {
    log.iter()
        .filter(|r| r.method == http::Method::POST && r.path == EVENTS)
        .map(|r| r.body.as_ref().unwrap())
        .find(|b| b["reason"] == reason)
        .unwrap_or_else(|| panic!("no {reason} event in {:?}", events(log)))["note"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Asserts that `log` is exactly the JSON patch adding `finalizer` to an object without any.
pub fn assert_only_adds_finalizer(log: &[Recorded], finalizer: &str) {
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0].method, http::Method::PATCH);
    assert_eq!(
        log[0].body.as_ref().unwrap(),
        &json!([{"op": "test", "path": "/metadata/finalizers", "value": null},
                {"op": "add", "path": "/metadata/finalizers", "value": [finalizer]}])
    );
}
