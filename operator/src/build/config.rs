//! The server's configuration as `CHEMCHAT_*` environment: secrets in a Secret, the rest in a
//! ConfigMap. The names come from `chemchat_crds::contract`, shared with the server.

use std::collections::BTreeMap;

use chemchat_crds::contract as env;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use serde_json::Value;

use super::{BackendSecrets, hash, meta};
use crate::plan::TenantPlan;

/// Name of the Secret with the server's secret environment.
pub const SECRET_NAME: &str = "chemchat-server-env";
/// Name of the ConfigMap with the server's plain environment.
pub const CONFIG_MAP_NAME: &str = "chemchat-server-config";
/// Where the pod's writable data volume is mounted.
pub const DATA_DIR: &str = "/data";

/// Builds the Secret, the ConfigMap and a hash of both (for the pod template annotation).
pub fn env_objects(
    plan: &TenantPlan,
    secrets: &BackendSecrets,
) -> Result<(Secret, ConfigMap, String), serde_json::Error> {
    let mut plain = BTreeMap::new();
    let mut secret = BTreeMap::new();
    let put = |map: &mut BTreeMap<String, String>, key: &str, value: String| {
        map.insert(key.to_owned(), value);
    };
    put(
        &mut plain,
        env::LISTEN,
        format!("0.0.0.0:{}", env::DEFAULT_PORT),
    );
    // Probes and scraping use the admin listener, so the Ingress (which routes the main one)
    // never exposes `/metrics` or the health endpoints.
    put(
        &mut plain,
        env::ADMIN_LISTEN,
        format!("0.0.0.0:{}", env::ADMIN_PORT),
    );
    if let Some(proxies) = &plan.trusted_proxies {
        put(&mut plain, env::TRUSTED_PROXIES, proxies.clone());
    }
    put(&mut plain, env::TENANT_ID, plan.name.clone());
    put(&mut plain, env::LOG_FORMAT, "json".to_owned());
    put(&mut plain, env::RUST_LOG, "info".to_owned());
    put(
        &mut plain,
        env::QUOTA_MAX_USERS,
        plan.quotas.max_users.to_string(),
    );
    put(
        &mut plain,
        env::QUOTA_MAX_CONVERSATIONS,
        plan.quotas.max_conversations.to_string(),
    );
    put(
        &mut plain,
        env::QUOTA_MAX_MESSAGES_PER_DAY,
        plan.quotas.max_messages_per_day.to_string(),
    );
    put(
        &mut plain,
        env::QUOTA_MAX_STORAGE_BYTES,
        plan.quotas.max_storage_bytes.to_string(),
    );
    put(
        &mut plain,
        env::QUOTA_MAX_CONNECTIONS,
        plan.quotas.max_connections.to_string(),
    );
    put(&mut secret, env::DATABASE_URL, secrets.database_url.clone());
    put(&mut secret, env::REDIS_URL, secrets.redis_url.clone());
    // The tenant's own signing key, never the master: a pod of this tenant cannot sign tokens
    // another tenant accepts.
    let tenant_key = if secrets.placeholders {
        format!("<key of {} derived from {}>", plan.name, secrets.jwt_secret)
    } else {
        chemchat_backends::TenantKey::derive(secrets.jwt_secret.as_bytes(), &plan.name).to_text()
    };
    put(&mut secret, env::JWT_TENANT_KEY, tenant_key);
    if let (Some(mail), Some(smtp_url)) = (&plan.mail, &secrets.smtp_url) {
        put(&mut secret, env::SMTP_URL, smtp_url.clone());
        put(&mut plain, env::MAIL_FROM, mail.from.clone());
    }
    if let Some((host, tls)) = &plan.ingress {
        // Links in mail lead where people reach the tenant.
        let scheme = if tls.is_some() { "https" } else { "http" };
        put(&mut plain, env::PUBLIC_URL, format!("{scheme}://{host}"));
    }
    if let Some(kafka) = &plan.kafka {
        put(&mut plain, env::KAFKA_BROKERS, kafka.brokers.clone());
    }
    if let Some(search) = &plan.search {
        match &secrets.search_credentials {
            // The contract has one URL variable; credentials ride in its userinfo, so the
            // whole URL becomes secret.
            Some((user, password)) => put(
                &mut secret,
                env::SEARCH_URL,
                with_userinfo(&search.url, user, password),
            ),
            None => put(&mut plain, env::SEARCH_URL, search.url.clone()),
        }
    }
    match &plan.object_storage {
        Some(s3) => {
            if let Some(endpoint) = &s3.endpoint {
                put(&mut plain, env::S3_ENDPOINT, endpoint.clone());
            }
            put(&mut plain, env::S3_BUCKET, s3.bucket.clone());
            put(&mut plain, env::S3_REGION, s3.region.clone());
            if let Some((id, key)) = &secrets.s3_credentials {
                put(&mut secret, env::S3_ACCESS_KEY_ID, id.clone());
                put(&mut secret, env::S3_SECRET_ACCESS_KEY, key.clone());
            }
        }
        None => put(&mut plain, env::MEDIA_DIR, format!("{DATA_DIR}/media")),
    }
    let config_hash = hash(&Value::Array(vec![
        serde_json::to_value(&plain)?,
        serde_json::to_value(&secret)?,
    ]));
    let secret = Secret {
        metadata: meta(plan, SECRET_NAME, "config", true),
        type_: Some("Opaque".to_owned()),
        data: Some(
            secret
                .into_iter()
                .map(|(k, v)| (k, ByteString(v.into_bytes())))
                .collect(),
        ),
        ..Secret::default()
    };
    let config_map = ConfigMap {
        metadata: meta(plan, CONFIG_MAP_NAME, "config", true),
        data: Some(plain),
        ..ConfigMap::default()
    };
    Ok((secret, config_map, config_hash))
}

fn with_userinfo(url: &str, user: &str, password: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => format!("{scheme}://{user}:{password}@{rest}"),
        None => url.to_owned(),
    }
}
