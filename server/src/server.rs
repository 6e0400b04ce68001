//! Start-up: from settings to a listening server, and graceful shutdown.

use crate::adapters::attention::LocalAttention;
use crate::adapters::blobs::{LocalBlobs, S3Blobs, S3Settings};
use crate::adapters::bus::LocalBus;
use crate::adapters::connections::LocalLedger;
use crate::adapters::elasticsearch::{ElasticSearchIndex, IndexSettings};
use crate::adapters::events::InProcessEventLog;
use crate::adapters::images::RasterPipeline;
use crate::adapters::kafka::{KafkaEventLog, KafkaSettings, TopicSettings};
use crate::adapters::mail::SmtpMailer;
use crate::adapters::presence::LocalPresence;
use crate::adapters::probes::{KafkaProbe, RedisProbe, SearchProbe};
use crate::adapters::rate_limit::InProcessLimiter;
use crate::adapters::redis::{RedisAttention, RedisBus, RedisLedger, RedisLimiter, RedisPresence};
use crate::adapters::sql;
use crate::adapters::web_push::WebPushSender;
use crate::app::auth::{Passwords, SigningKeys, TokenIssuer};
use crate::app::chat::Messaging;
use crate::app::indexer::SearchIndexer;
use crate::app::mail::postal_service;
use crate::app::media::MediaSettings;
use crate::app::notify::{DigestTiming, NotifySettings};
use crate::app::tenancy::Tenancy;
use crate::app::{App, AppParts};
use crate::config::Settings;
use crate::domain::{Quotas, RateTable, Tenant, TenantId, Tier};
use crate::gateway::Fanout;
use crate::gateway::Gateway;
use crate::gateway::protocol::{CLOSE_RESTART, CloseReason};
use crate::http::client_ip::TrustedProxies;
use crate::http::headers::HeaderSettings;
use crate::http::listener::{self, EdgeLimits};
use crate::http::{self, HttpState};
use crate::ports::Probe;
use crate::ports::{
    Attention, BlobStore, Bus, ConnectionLedger, EventLog, Presence, RateLimiter, SearchIndex,
    Store, SystemClock,
};
use crate::tasks::Tasks;
use anyhow::Context;
use secrecy::ExposeSecret;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::net::TcpListener;

/// A background loop to start when serving.
type Background = (&'static str, Pin<Box<dyn Future<Output = ()> + Send>>);

/// A server assembled from its settings, ready to serve on a listener. Building connects to
/// every dependency but starts nothing: [`Server::serve`] starts the background tasks and
/// stops them, awaited, before it returns.
pub struct Server {
    state: HttpState,
    settings: Settings,
    tasks: Tasks,
    background: Vec<Background>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("state", &self.state)
            .field("settings", &self.settings)
            .field("background", &self.background.len())
            .finish_non_exhaustive()
    }
}

impl Server {
    /// Connects and migrates the store, ensures the served tenants exist, and builds the app.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let metrics = http::install_recorder();
        let tasks = Tasks::new();
        let (bus, presence, ledger, attention) = fan_out(&settings).await?;
        let gateway_settings = settings.gateway();
        let shards = std::thread::available_parallelism().map_or(4, |n| n.get() * 4);
        let fanout = Fanout::new(bus, gateway_settings.send_queue, shards);
        let store = open_store(&settings).await?;
        let checkpointer = store.checkpointer();
        let first_statistics = store.first_statistics();
        let keys = signing_keys(&settings, store.engine())?;
        sql::check_row_security(&store, settings.allow_rls_bypass).await?;
        let store = Arc::new(store.with_listener(Arc::new(fanout.clone())));
        let tenancy = ensure_tenants(&settings, store.as_ref()).await?;
        let events = event_log(&settings).await?;
        let rates = rate_table(&settings)?;
        let (limiter, local_budgets) = rate_limiter(&settings).await?;
        let mut background: Vec<Background> =
            vec![("rate-limit-pruning", Box::pin(prune(local_budgets)))];
        if let Some(checkpointer) = checkpointer {
            background.push(("sqlite-checkpoint", Box::pin(checkpointer.run())));
        }
        if let Some(first_statistics) = first_statistics {
            background.push((
                "postgres-first-statistics",
                Box::pin(first_statistics.run()),
            ));
        }
        // Message search: Elasticsearch/OpenSearch fed by the indexer when configured, else the
        // store's own full-text index (the built-in default, written by the store's transactions).
        let search: Arc<dyn SearchIndex> = match external_search(&settings).await? {
            Some(index) => {
                let indexer =
                    SearchIndexer::new(store.clone(), Arc::clone(&events), Arc::clone(&index));
                // Subscribes now, so it sees everything the relay ships once serving starts.
                background.push(("search-indexer", Box::pin(indexer.start().await)));
                index
            }
            None => store.clone(),
        };
        let media = media_settings(&settings).await?;
        let postbox = match &settings.smtp_url {
            Some(url) => {
                let mailer = SmtpMailer::new(url.expose_secret(), &settings.mail_from)?;
                let (postbox, courier) = postal_service(Arc::new(mailer), &settings.public_url);
                background.push(("mail-courier", Box::pin(courier.run())));
                Some(postbox)
            }
            None => None,
        };
        let push = WebPushSender::new(
            &push_contact(&settings),
            settings.push_allow_private_endpoints,
        )?;
        let app = App::new(AppParts {
            store,
            clock: Arc::new(SystemClock),
            limiter,
            rates,
            tokens: TokenIssuer::new(keys)
                .with_ws_lifetime(Duration::from_secs(settings.ws_token_seconds)),
            passwords: Passwords::default(),
            tenancy,
            messaging: Messaging::new(settings.max_message_chars),
            events: Arc::clone(&events),
            search,
            revocations: Arc::new(fanout.clone()),
            media,
            postbox,
            notify: NotifySettings {
                sender: Arc::new(push.clone()),
                attention,
                window: Duration::from_millis(settings.push_coalesce_ms),
                allow_private_endpoints: settings.push_allow_private_endpoints,
                digests: DigestTiming {
                    delay: Duration::from_secs(settings.mail_digest_delay_seconds),
                    gap: Duration::from_secs(settings.mail_digest_gap_seconds),
                },
            },
        });
        if let Some(digests) = app.mail_digests() {
            background.push(("mail-digests", Box::pin(digests.run())));
        }
        // Subscribes now, so it sees everything the relay ships once serving starts.
        background.push(("notifier", Box::pin(app.notifier().start().await)));
        background.push(("media-pipeline", Box::pin(app.media_pipeline().run())));
        let sweep_every = Duration::from_secs(settings.media_sweep_seconds.max(1));
        background.push((
            "media-sweeper",
            Box::pin(app.media_sweeper(sweep_every).run()),
        ));
        background.push(("account-eraser", Box::pin(app.account_eraser().run())));
        let retention_every = Duration::from_secs(settings.retention_sweep_seconds.max(1));
        background.push((
            "retention-sweeper",
            Box::pin(app.retention_sweeper(retention_every).run()),
        ));
        let gateway = Gateway::new(
            app.clone(),
            fanout,
            presence,
            ledger,
            gateway_settings,
            tasks.clone(),
        );
        let relay = app
            .outbox_relay()
            .rebroadcasting_late_to(Arc::new(gateway.fanout().clone()));
        background.push(("outbox-relay", Box::pin(relay.run())));
        let state = HttpState {
            probes: probes(&settings, push).await?.into(),
            app,
            metrics,
            ready: Arc::new(AtomicBool::new(false)),
            gateway,
            headers: Arc::new(header_settings(&settings)?),
            proxies: Arc::new(
                TrustedProxies::parse(settings.trusted_proxies.as_deref().unwrap_or_default())
                    .map_err(|e| {
                        anyhow::anyhow!("configuration error: CHEMCHAT_TRUSTED_PROXIES: {e}")
                    })?,
            ),
        };
        Ok(Self {
            state,
            settings,
            tasks,
            background,
        })
    }

    /// Serves until `shutdown` resolves, then stops accepting, marks itself not ready, and gives
    /// in-flight requests the configured grace period.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Server {
            state,
            settings,
            tasks,
            background,
        } = self;
        for (name, task) in background {
            tasks.spawn(name, task);
        }
        state.gateway.start();
        let result = serve_http(&state, &settings, listener, shutdown).await;
        // Connections still open after the grace period are closed with a reason and end their
        // sessions; then every task (connections that did not finish included) is cancelled and
        // awaited before serve returns.
        state
            .gateway
            .hub()
            .close_all(&CloseReason::new(CLOSE_RESTART, "server stopped"));
        state.gateway.closed(Duration::from_secs(2)).await;
        tasks.shutdown().await;
        state.app.store().close().await;
        tracing::info!("stopped");
        result
    }
}

async fn serve_http(
    state: &HttpState,
    settings: &Settings,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let admin = match &settings.admin_listen {
        Some(address) => Some(
            TcpListener::bind(address)
                .await
                .with_context(|| format!("cannot listen on CHEMCHAT_ADMIN_LISTEN {address}"))?,
        ),
        None => None,
    };
    let edge = http::Edge {
        max_body_bytes: settings.max_body_bytes,
        request_timeout: Duration::from_secs(settings.request_timeout_seconds.max(1)),
        operations_on_main: admin.is_none(),
    };
    let router = http::router(state.clone(), &edge);
    let limits = EdgeLimits {
        max_connections: settings.http_max_connections,
        header_read_timeout: Duration::from_secs(settings.header_read_timeout_seconds.max(1)),
    };
    let ready = Arc::clone(&state.ready);
    let gateway = state.gateway.clone();
    let grace = Duration::from_secs(settings.shutdown_grace_seconds);
    let (fired_tx, fired_rx) = tokio::sync::oneshot::channel::<()>();
    let signal = async move {
        shutdown.await;
        ready.store(false, Ordering::Release);
        tracing::info!(
            connections = gateway.connections(),
            "shutting down: telling WebSocket clients to reconnect, draining requests"
        );
        // Upgraded connections are not axum's to wait for: the gateway sends each client
        // `reconnect` and closes it, and the signal completes once they are gone.
        gateway.drain();
        gateway.closed(grace).await;
        let _ = fired_tx.send(());
    };
    let state_for_admin = state.clone();
    state.ready.store(true, Ordering::Release);
    tracing::info!(address = %listener.local_addr()?, engine = state.app.store().engine(),
        "chemchat-server listening");
    // The admin listener (health and metrics for the cluster, never routed by an Ingress)
    // stops with the main one.
    let (admin_stop, admin_stopped) = tokio::sync::oneshot::channel::<()>();
    let admin_served = async move {
        if let Some(admin) = admin {
            tracing::info!(address = %admin.local_addr().map_or_else(|e| e.to_string(), |a| a.to_string()),
                "admin endpoints (health, metrics) listening");
            let stopped = async move {
                let _ = admin_stopped.await;
            };
            listener::serve(admin, http::admin_router(state_for_admin), limits, stopped).await;
        }
    };
    let served = async move {
        listener::serve(listener, router, limits, signal).await;
        let _ = admin_stop.send(());
    };
    tokio::select! {
        ((), ()) = async { tokio::join!(served, admin_served) } => {}
        () = async {
            let _ = fired_rx.await;
            tokio::time::sleep(grace).await;
        } => tracing::warn!(?grace, "grace period over; closing remaining connections"),
    }
    Ok(())
}

/// CORS origins (`CHEMCHAT_CORS_ORIGINS`) and HSTS (`CHEMCHAT_HSTS_SECONDS`, 0 = off).
fn header_settings(settings: &Settings) -> anyhow::Result<HeaderSettings> {
    let origins = settings.cors_origins.as_deref().unwrap_or_default();
    Ok(HeaderSettings {
        cors_origins: HeaderSettings::parse_origins(origins)
            .map_err(|e| anyhow::anyhow!("configuration error: CHEMCHAT_CORS_ORIGINS: {e}"))?,
        hsts_seconds: (settings.hsts_seconds > 0).then_some(settings.hsts_seconds),
    })
}

/// What instances share about connections: the bus, presence, the connection ledger, and who
/// looks at which conversation.
type Shared = (
    Arc<dyn Bus>,
    Arc<dyn Presence>,
    Arc<dyn ConnectionLedger>,
    Arc<dyn Attention>,
);

/// The VAPID contact: the configured one, else `mailto:` the mail sender's address.
fn push_contact(settings: &Settings) -> String {
    if let Some(contact) = &settings.push_contact {
        return contact.clone();
    }
    let from = &settings.mail_from;
    let address = match (from.find('<'), from.rfind('>')) {
        (Some(start), Some(end)) if start < end => &from[start + 1..end],
        _ => from.as_str(),
    };
    format!("mailto:{}", address.trim())
}

/// The bus, presence, connection ledger and attention the settings select: Redis when
/// `CHEMCHAT_REDIS_URL` is set, else in-process.
async fn fan_out(settings: &Settings) -> anyhow::Result<Shared> {
    let Some(url) = &settings.redis_url else {
        return Ok((
            Arc::new(LocalBus::new()),
            Arc::new(LocalPresence::new()),
            Arc::new(LocalLedger::new()),
            Arc::new(LocalAttention::new()),
        ));
    };
    let url = url.expose_secret();
    let prefix = &settings.redis_prefix;
    let unreachable = || {
        format!(
            "configuration error: {}: cannot reach Redis",
            chemchat_crds::contract::REDIS_URL
        )
    };
    let bus = RedisBus::connect(url, prefix)
        .await
        .with_context(unreachable)?
        .pinned_to(pinned_tenant(settings)?);
    let presence = RedisPresence::connect(url, prefix)
        .await
        .with_context(unreachable)?;
    let ledger = RedisLedger::connect(url, prefix)
        .await
        .with_context(unreachable)?;
    let attention = RedisAttention::connect(url, prefix)
        .await
        .with_context(unreachable)?;
    tracing::info!("fan-out, presence, connection limits and attention through Redis");
    Ok((
        Arc::new(bus),
        Arc::new(presence),
        Arc::new(ledger),
        Arc::new(attention),
    ))
}

/// The tenant the server is pinned to (`CHEMCHAT_TENANT_ID`): in Redis, it touches that
/// tenant's names alone, so it can run as the tenant's ACL user.
fn pinned_tenant(settings: &Settings) -> anyhow::Result<Option<TenantId>> {
    Ok(settings
        .tenant_id
        .as_deref()
        .map(TenantId::parse)
        .transpose()?)
}

/// The event log the settings select: Kafka when `CHEMCHAT_KAFKA_BROKERS` is set, else
/// in-process.
async fn event_log(settings: &Settings) -> anyhow::Result<Arc<dyn EventLog>> {
    let Some(brokers) = &settings.kafka_brokers else {
        return Ok(Arc::new(InProcessEventLog::new()));
    };
    let log = KafkaEventLog::connect(KafkaSettings {
        brokers: brokers.clone(),
        tenant: settings.tenant_id.clone(),
        topic: TopicSettings::default(),
    })
    .await
    .with_context(|| {
        format!(
            "configuration error: {}",
            chemchat_crds::contract::KAFKA_BROKERS
        )
    })?;
    tracing::info!(%brokers, "event stream through Kafka");
    Ok(Arc::new(log))
}

/// The external search index, when `CHEMCHAT_SEARCH_URL` is set (else the store's built-in
/// full-text search serves).
/// Media on S3 when a bucket is configured, else on the local folder; images rendered by the
/// built-in pipeline.
async fn media_settings(settings: &Settings) -> anyhow::Result<MediaSettings> {
    let blobs = blob_store(settings).await?;
    let mut media = MediaSettings::new(blobs, Arc::new(RasterPipeline::default()));
    media.max_upload_bytes = settings.media_max_upload_bytes;
    media.grace = Duration::from_secs(settings.media_grace_seconds);
    media.upload_url_ttl = Duration::from_secs(settings.media_upload_url_seconds.max(1));
    media.download_url_ttl = Duration::from_secs(settings.media_download_url_seconds.clamp(1, 300));
    Ok(media)
}

/// Where media bytes live: the S3 bucket when one is configured, else the local folder.
async fn blob_store(settings: &Settings) -> anyhow::Result<Arc<dyn BlobStore>> {
    let blobs: Arc<dyn BlobStore> = match s3_settings(settings) {
        Some(s3) => {
            tracing::info!(bucket = %s3.bucket, endpoint = ?settings.s3_endpoint, "media on S3");
            Arc::new(S3Blobs::new(&s3))
        }
        None => {
            let blobs = LocalBlobs::open(settings.media_dir.clone())
                .await
                .with_context(|| {
                    format!(
                        "cannot use the media folder {}",
                        settings.media_dir.display()
                    )
                })?;
            Arc::new(blobs)
        }
    };
    Ok(blobs)
}

/// The S3 bucket's settings, when one is configured.
fn s3_settings(settings: &Settings) -> Option<S3Settings> {
    let (Some(bucket), Some(access_key_id), Some(secret_access_key)) = (
        &settings.s3_bucket,
        &settings.s3_access_key_id,
        &settings.s3_secret_access_key,
    ) else {
        return None;
    };
    Some(S3Settings {
        endpoint: settings.s3_endpoint.clone(),
        bucket: bucket.clone(),
        region: settings.s3_region.clone(),
        access_key_id: access_key_id.clone(),
        secret_access_key: secret_access_key.clone(),
        path_style: settings
            .s3_path_style
            .unwrap_or(settings.s3_endpoint.is_some()),
    })
}

/// A `/health` probe for each configured dependency besides the database (which the store
/// answers for itself), and push, judged by the pushes made.
async fn probes(settings: &Settings, push: WebPushSender) -> anyhow::Result<Vec<Arc<dyn Probe>>> {
    // Push is always on: every tenant can subscribe browsers.
    let mut probes: Vec<Arc<dyn Probe>> = vec![Arc::new(push)];
    if let Some(url) = &settings.redis_url {
        probes.push(Arc::new(RedisProbe::connect(url.expose_secret()).await?));
    }
    if let Some(brokers) = &settings.kafka_brokers {
        probes.push(Arc::new(KafkaProbe::new(brokers)?));
    }
    if let Some(url) = &settings.search_url {
        probes.push(Arc::new(SearchProbe::new(url.expose_secret())?));
    }
    if let Some(s3) = s3_settings(settings) {
        let blobs = S3Blobs::new(&s3);
        // A pinned server may hold its tenant's own key, which reaches only `<tenant>/`.
        probes.push(Arc::new(match &settings.tenant_id {
            Some(tenant) => blobs.probing_within(format!("{tenant}/")),
            None => blobs,
        }));
    }
    if let Some(url) = &settings.smtp_url {
        probes.push(Arc::new(SmtpMailer::new(
            url.expose_secret(),
            &settings.mail_from,
        )?));
    }
    Ok(probes)
}

async fn external_search(settings: &Settings) -> anyhow::Result<Option<Arc<dyn SearchIndex>>> {
    let Some(url) = &settings.search_url else {
        return Ok(None);
    };
    let index = ElasticSearchIndex::connect(url.expose_secret(), IndexSettings::default())
        .await
        .with_context(|| {
            format!(
                "configuration error: {}",
                chemchat_crds::contract::SEARCH_URL
            )
        })?;
    tracing::info!("search through Elasticsearch/OpenSearch");
    Ok(Some(Arc::new(index)))
}

/// Opens the store and migrates it; as a tenant's own PostgreSQL role, which may not migrate,
/// checks instead that the schema is current and that the role's tenant is the one served.
async fn open_store(settings: &Settings) -> anyhow::Result<sql::SqlStore> {
    let url = settings.database_url.expose_secret();
    let store = sql::connect(url, settings.database_max_connections).await?;
    match sql::pinned_tenant(&store).await? {
        Some(pinned) => {
            if settings.tenant_id.as_deref() != Some(pinned.as_str()) {
                anyhow::bail!(
                    "configuration error: CHEMCHAT_DATABASE_URL: its role is pinned to tenant \
                     `{pinned}`, so CHEMCHAT_TENANT_ID must be `{pinned}` (it is {})",
                    settings
                        .tenant_id
                        .as_deref()
                        .map_or_else(|| "unset".to_owned(), |t| format!("`{t}`"))
                );
            }
            sql::check_schema_current(&store).await?;
        }
        None => sql::migrate(&store).await?,
    }
    Ok(store)
}

/// Creates `tenant`'s PostgreSQL role in `slot` or gives it a new password (the `tenant role`
/// subcommand), migrating first: run with the platform's URL. `retire`: then retires the
/// tenant's other role (`--retire`, once no server uses it).
pub async fn provision_tenant_role(
    settings: &Settings,
    tenant: &TenantId,
    slot: chemchat_backends::RoleSlot,
    password: &secrecy::SecretString,
    retire: bool,
) -> anyhow::Result<(sql::ProvisionedRole, Option<sql::RetiredRole>)> {
    let store = open_store(settings).await?;
    let provisioned = sql::provision_tenant_role(&store, tenant, slot, password).await?;
    let retired = if retire {
        Some(sql::retire_tenant_role(&store, tenant, slot).await?)
    } else {
        None
    };
    Ok((provisioned, retired))
}

/// Opens the store and applies migrations (the `migrate` subcommand).
pub async fn migrate_only(settings: &Settings) -> anyhow::Result<()> {
    open_store(settings).await.map(|_| ())
}

/// Creates or updates one tenant (the `tenant` subcommand).
pub async fn upsert_tenant(settings: &Settings, tenant: &Tenant) -> anyhow::Result<()> {
    let store = open_store(settings).await?;
    Ok(store.upsert_tenant(tenant).await?)
}

/// Gives a user of `tenant` a tenant role (the `admin grant` subcommand).
pub async fn grant_role(
    settings: &Settings,
    tenant: &TenantId,
    user: &str,
    role: crate::domain::TenantRole,
) -> anyhow::Result<crate::domain::UserId> {
    let store = open_store(settings).await?;
    let now_ms = crate::ports::Clock::now_ms(&SystemClock);
    crate::app::people::grant_role(&store, tenant, user, role, now_ms)
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.message))
}

/// Deletes every row of one tenant (the `tenant purge` subcommand).
pub async fn purge_tenant(
    settings: &Settings,
    tenant: &TenantId,
    missing_ok: bool,
) -> anyhow::Result<sql::PurgeReport> {
    // Objects first: were the rows gone first, a purge that failed half-way would leave objects
    // nothing records. Nothing writes them any more: the tenant's servers are gone.
    let blobs = blob_store(settings).await?;
    let objects = blobs
        .delete_prefix(&format!("{tenant}/"))
        .await
        .with_context(|| format!("cannot delete the media of tenant {tenant}"))?;
    tracing::info!(%tenant, objects, store = blobs.kind(), "media objects purged");
    let store = open_store(settings).await?;
    let report = sql::purge_tenant(&store, tenant, sql::PURGE_BATCH, missing_ok).await?;
    // Its PostgreSQL role goes with its rows: nothing is left for it to read. So does its
    // Redis user; its keys there all expire on their own.
    for role in sql::drop_tenant_role(&store, tenant).await? {
        tracing::info!(%tenant, %role, "tenant role dropped");
    }
    if let Some(url) = &settings.redis_url
        && let Some(user) = crate::adapters::redis::drop_tenant_user(
            url.expose_secret(),
            &settings.redis_prefix,
            tenant,
        )
        .await?
    {
        tracing::info!(%tenant, %user, "tenant Redis user dropped");
    }
    Ok(report)
}

/// Creates `tenant`'s Redis ACL user or gives it a new password beside its others (the `tenant
/// redis-user` subcommand; `others`: `Retire` with `--retire`): run with an administrator's
/// `CHEMCHAT_REDIS_URL`.
pub async fn provision_tenant_redis_user(
    settings: &Settings,
    tenant: &TenantId,
    password: &secrecy::SecretString,
    others: crate::adapters::redis::OtherPasswords,
) -> anyhow::Result<crate::adapters::redis::ProvisionedUser> {
    let url = settings.redis_url.as_ref().with_context(|| {
        format!(
            "configuration error: {}: tenant redis-user needs the Redis to make the user on, \
             as a user that may run ACL SETUSER",
            chemchat_crds::contract::REDIS_URL
        )
    })?;
    crate::adapters::redis::provision_tenant_user(
        url.expose_secret(),
        &settings.redis_prefix,
        tenant,
        password,
        others,
    )
    .await
    .with_context(|| format!("cannot make the Redis user of tenant {tenant}"))
}

/// `tenant export`: the tenant's archive written to `path`.
pub async fn export_tenant(
    settings: &Settings,
    tenant: &TenantId,
    path: &std::path::Path,
    credentials: bool,
) -> anyhow::Result<crate::archive::ArchiveSummary> {
    let blobs = blob_store(settings).await?;
    let store = open_store(settings).await?;
    let now = crate::ports::Clock::now_ms(&crate::ports::SystemClock);
    crate::archive::export_to_file(&store, blobs.as_ref(), tenant, credentials, now, path).await
}

/// `tenant import`: the archive at `path` checked, then (unless `dry_run`) written into
/// `target`, or the archive's own tenant.
pub async fn import_tenant(
    settings: &Settings,
    path: &std::path::Path,
    target: Option<&TenantId>,
    dry_run: bool,
) -> anyhow::Result<crate::archive::ArchiveSummary> {
    if dry_run {
        return crate::archive::validate_file(path).await;
    }
    let blobs = blob_store(settings).await?;
    let store = open_store(settings).await?;
    crate::archive::import_file(&store, blobs.as_ref(), path, target).await
}

/// The tier and quotas the configuration gives the served tenant: the tier's defaults, each
/// overridden by its `CHEMCHAT_QUOTA_*` variable.
fn configured_tenant(settings: &Settings, id: TenantId, default_tier: Tier) -> Tenant {
    let tier = settings
        .tenant_tier
        .as_deref()
        .and_then(Tier::parse)
        .unwrap_or(default_tier);
    let defaults = tier.default_quotas();
    let quotas = Quotas {
        max_users: settings.quota_max_users.or(defaults.max_users),
        max_conversations: settings
            .quota_max_conversations
            .or(defaults.max_conversations),
        max_messages_per_day: settings
            .quota_max_messages_per_day
            .or(defaults.max_messages_per_day),
        max_storage_bytes: settings
            .quota_max_storage_bytes
            .or(defaults.max_storage_bytes),
        max_connections: settings.quota_max_connections.or(defaults.max_connections),
    };
    Tenant {
        display_name: id.to_string(),
        id,
        tier,
        quotas,
    }
}

/// A pinned server's configuration is the truth for its tenant (the operator writes it), so it
/// is written on every start; the default tenant of a multi-tenant server is only created.
async fn ensure_tenants(settings: &Settings, store: &dyn Store) -> anyhow::Result<Tenancy> {
    let default = TenantId::parse(&settings.default_tenant)?;
    let pinned = settings
        .tenant_id
        .as_deref()
        .map(TenantId::parse)
        .transpose()?;
    match &pinned {
        Some(id) => {
            store
                .upsert_tenant(&configured_tenant(settings, id.clone(), Tier::Free))
                .await?
        }
        None => {
            let tenant = configured_tenant(settings, default.clone(), Tier::Enterprise);
            store.ensure_tenant(&tenant).await?;
        }
    }
    // The embedded default is administered by whoever registers first: `make run` needs no
    // command line to get an owner. A deployment on PostgreSQL bootstraps with `admin grant`.
    let first_user_owns = pinned.is_none() && store.engine() == "sqlite";
    Ok(Tenancy {
        pinned,
        default,
        first_user_owns,
    })
}

/// The signing keys: one tenant's derived key (checked by the configuration, with its tenant),
/// or the master secret every tenant's key is derived from — configured, or for the embedded
/// SQLite default generated once and kept in the data folder so tokens survive restarts.
fn signing_keys(settings: &Settings, engine: &str) -> anyhow::Result<SigningKeys> {
    if let (Some(key), Some(tenant)) = (&settings.jwt_tenant_key, &settings.tenant_id) {
        let key = chemchat_backends::TenantKey::from_text(key.expose_secret())
            .context("configuration error: CHEMCHAT_JWT_TENANT_KEY: not a tenant key")?;
        return Ok(SigningKeys::tenant(TenantId::parse(tenant)?, key));
    }
    if let Some(secret) = &settings.jwt_secret {
        return Ok(SigningKeys::master(secret.expose_secret().as_bytes()));
    }
    if engine != "sqlite" {
        anyhow::bail!(
            "configuration error: CHEMCHAT_JWT_SECRET: required with PostgreSQL, so that every \
             replica signs and verifies with the same keys (at least 32 random bytes); a server \
             pinned to one tenant may be given that tenant's CHEMCHAT_JWT_TENANT_KEY instead"
        );
    }
    let master = load_or_create_secret(&settings.data_dir.join("jwt-secret"))?;
    Ok(SigningKeys::master(&master))
}

fn load_or_create_secret(path: &Path) -> anyhow::Result<Vec<u8>> {
    use base64::Engine as _;
    let codec = base64::engine::general_purpose::STANDARD;
    if let Ok(text) = std::fs::read_to_string(path) {
        return codec.decode(text.trim()).with_context(|| {
            format!(
                "{} is not valid base64; delete it to regenerate",
                path.display()
            )
        });
    }
    let secret: [u8; 48] = rand::random();
    if let Some(folder) = path.parent() {
        std::fs::create_dir_all(folder)
            .with_context(|| format!("cannot create {}", folder.display()))?;
    }
    write_private(path, codec.encode(secret).as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    tracing::info!(path = %path.display(), "generated a JWT signing secret");
    Ok(secret.to_vec())
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

/// The rates of `CHEMCHAT_RATE_LIMITS` over the defaults; the older login settings
/// (`CHEMCHAT_LOGIN_ATTEMPTS_PER_IP`, `…_PER_ACCOUNT`, per minute) still apply when no override
/// names the same budget.
fn rate_table(settings: &Settings) -> anyhow::Result<RateTable> {
    let login = format!(
        "login.address={}/min,login.account={}/min",
        settings.login_attempts_per_ip.max(1),
        settings.login_attempts_per_account.max(1)
    );
    let configured = settings.rate_limits.as_deref().unwrap_or_default();
    RateTable::parse(&format!("{login},{configured}"))
        .map_err(|e| anyhow::anyhow!("configuration error: {}: {}", e.field, e.message))
}

/// Budgets in Redis when `CHEMCHAT_REDIS_URL` is set (shared by every replica), else in this
/// process; also returns the in-process budgets to prune.
async fn rate_limiter(
    settings: &Settings,
) -> anyhow::Result<(Arc<dyn RateLimiter>, Arc<InProcessLimiter>)> {
    let Some(url) = &settings.redis_url else {
        let local = Arc::new(InProcessLimiter::new());
        return Ok((local.clone(), local));
    };
    let limiter = RedisLimiter::connect(url.expose_secret(), &settings.redis_prefix)
        .await
        .with_context(|| {
            format!(
                "configuration error: {}: cannot reach Redis",
                chemchat_crds::contract::REDIS_URL
            )
        })?
        .pinned_to(pinned_tenant(settings)?);
    let limiter = Arc::new(limiter);
    Ok((limiter.clone(), limiter.fallback_handle()))
}

/// Forgets in-process budgets that are full again, once a minute.
async fn prune(budgets: Arc<InProcessLimiter>) {
    let mut every = tokio::time::interval(Duration::from_secs(60));
    loop {
        every.tick().await;
        budgets.prune();
    }
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
