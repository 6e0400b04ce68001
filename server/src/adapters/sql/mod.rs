//! The SQL store: one implementation of [`Store`] for both SQLite and PostgreSQL.
//!
//! Both schemas use the same column representation (UUID text ids, Unix-millisecond times), so the
//! queries are shared and run over sqlx's `Any` driver. What differs between the engines lives in
//! [`Engine`]: how a write transaction starts, and how a transaction is scoped to a tenant for
//! PostgreSQL's row-level security.

mod archive;
mod audit;
mod begin;
mod chat;
mod checkpoint;
mod connect;
mod engine;
mod first_statistics;
mod media;
mod migration_turn;
mod moderation;
mod notify;
mod people;
mod purge;
mod retention;
mod row_security;
mod rows;
mod search;
mod sessions;
mod tenant_roles;
mod tenants;
mod users;

pub use archive::{ARCHIVE_TABLES, Row, TenantLoader, TenantSnapshot, tenant_column};
pub use chat::{METRIC_SEND_BATCH_SECONDS, METRIC_SEND_WAIT_SECONDS};
pub use checkpoint::Checkpointer;
pub use connect::{ConnectError, connect, migrate, migrator};
pub use engine::Engine;
pub use first_statistics::{FirstStatistics, StatisticsRound};
pub use purge::{PURGE_BATCH, PurgeError, PurgeReport, TENANT_TABLES, purge_tenant};
pub use row_security::{BypassingRole, check_row_security};
pub use tenant_roles::{
    ProvisionedRole, RetiredRole, TenantRoleError, check_schema_current, drop_tenant_role,
    pinned_tenant, provision_tenant_role, retire_tenant_role,
};

use crate::domain::{SessionId, Tenant, TenantId, UserId};
use crate::ports::CommitListener;
use crate::ports::chat::StoredEvent;
use crate::ports::{
    AuditEntry, MfaChange, NewSession, NewUser, Rotation, SessionScope, Store, StoreError,
    StoreResult, StoredUser, TokenSwap, UserCreation,
};
use async_trait::async_trait;
use checkpoint::LogRestart;
use sqlx::{Any, AnyPool, Transaction};
use std::path::Path;
use std::sync::Arc;
use tokio_util::task::TaskTracker;

/// The SQL store over a pool of either engine.
#[derive(Debug, Clone)]
pub struct SqlStore {
    pool: AnyPool,
    /// Where write transactions begin. On SQLite a pool of one connection: the database has one
    /// writer anyway, and writers queueing here in order beat writers contending for its lock,
    /// whose busy handler sleeps in steps of milliseconds (throughput fell apart near 1 000
    /// sends/s). On PostgreSQL the same pool as reads.
    writer: AnyPool,
    engine: Engine,
    listener: Option<Arc<dyn CommitListener>>,
    /// Sends waiting for the writer, committed in batches (`chat/sends.rs`).
    sends: Arc<chat::SendQueue>,
    /// Whether writes have their own pool (SQLite's single writer, which checkpoints nothing
    /// itself: see `checkpoint.rs`).
    own_writer: bool,
    /// The `BEGIN`s in flight, each in a task of its own (`begin.rs`).
    begins: TaskTracker,
    /// The checkpointer's request that SQLite's log start over (`checkpoint.rs`), which the
    /// send loop answers.
    log_restart: Arc<LogRestart>,
}

/// Transactions begun (counter, label `kind`: `write`, `read`, `relay`): with the messages
/// delivered, it gives the transactions one message costs.
pub const METRIC_TRANSACTIONS: &str = "chemchat_store_transactions_total";

type Tx = Transaction<'static, Any>;
/// A transaction on a connection held by its caller (the send queue keeps the writer's
/// connection across consecutive batches: `chat/sends.rs`).
type TxOn<'c> = Transaction<'c, Any>;

impl SqlStore {
    /// Wraps a pool opened by [`connect`].
    pub fn new(pool: AnyPool, engine: Engine) -> Self {
        let sends = chat::SendQueue::new(chat::SendThread::shared(pool.clone()));
        Self {
            writer: pool.clone(),
            pool,
            engine,
            listener: None,
            sends: Arc::new(sends),
            own_writer: false,
            begins: TaskTracker::new(),
            log_restart: Arc::default(),
        }
    }

    /// The same store, beginning write transactions on `writer`, a pool of one connection to
    /// the SQLite database `file`, whose send batches run on a connection of their own to it
    /// (`chat/direct_writer.rs`).
    pub fn with_writer(mut self, writer: AnyPool, file: &Path) -> Self {
        self.sends = Arc::new(
            chat::SendQueue::new(chat::SendThread::shared(writer.clone()))
                .with_direct(chat::DirectSource::new(file)),
        );
        self.writer = writer;
        self.own_writer = true;
        self
    }

    /// The same store, its send batches on a pool of their own to `url` (`chat/send_thread.rs`).
    pub fn with_send_pool(mut self, url: &str) -> Self {
        self.sends = Arc::new(chat::SendQueue::new(chat::SendThread::own(url)));
        self
    }

    /// The same store, telling `listener` of every event right after its transaction commits.
    pub fn with_listener(mut self, listener: Arc<dyn CommitListener>) -> Self {
        self.listener = Some(listener);
        self
    }

    fn committed(&self, events: &[StoredEvent]) {
        if let (Some(listener), false) = (&self.listener, events.is_empty()) {
            listener.committed(events);
        }
    }

    /// The loop that checkpoints SQLite's write-ahead log, for a file database whose writer has
    /// automatic checkpoints off; `None` on PostgreSQL and for an in-memory database.
    pub fn checkpointer(&self) -> Option<Checkpointer> {
        (self.engine == Engine::Sqlite && self.own_writer)
            .then(|| Checkpointer::new(self.pool.clone(), Arc::clone(&self.log_restart)))
    }

    /// The loop that takes a new database's first statistics (`first_statistics.rs`); `None` on
    /// SQLite, whose planner needs none to take a unique index matched on every column.
    pub fn first_statistics(&self) -> Option<FirstStatistics> {
        (self.engine == Engine::Postgres).then(|| FirstStatistics::new(self.pool.clone()))
    }

    /// The underlying pool (tests and maintenance commands).
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The pool write transactions begin on (tests).
    pub fn writer_pool(&self) -> &AnyPool {
        &self.writer
    }

    /// A transaction that will write, scoped to `tenant`.
    async fn write(&self, tenant: &TenantId) -> StoreResult<Tx> {
        metrics::counter!(METRIC_TRANSACTIONS, "kind" => "write").increment(1);
        self.begin_on(&self.writer, self.engine.begin_scoped(tenant, true))
            .await
            .map_err(db)
    }

    /// A transaction of a background worker that may see every tenant's rows of its tables: on
    /// PostgreSQL it opts into the worker's own row-level-security policy (`chemchat.<policy>`
    /// = on), which no request path sets. Counted under `kind`; begun on the writer when
    /// `write`.
    async fn worker(
        &self,
        policy: &'static str,
        kind: &'static str,
        write: bool,
    ) -> StoreResult<Tx> {
        metrics::counter!(METRIC_TRANSACTIONS, "kind" => kind).increment(1);
        let begin = if write {
            self.begin_on(&self.writer, self.engine.begin_write()).await
        } else {
            self.begin_on(&self.pool, "BEGIN").await
        };
        let mut tx = begin.map_err(db)?;
        if self.engine == Engine::Postgres {
            sqlx::query("SELECT set_config($1, 'on', true)")
                .bind(format!("chemchat.{policy}"))
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        Ok(tx)
    }

    /// A read-only transaction scoped to `tenant`.
    async fn read(&self, tenant: &TenantId) -> StoreResult<Tx> {
        metrics::counter!(METRIC_TRANSACTIONS, "kind" => "read").increment(1);
        self.begin_on(&self.pool, self.engine.begin_scoped(tenant, false))
            .await
            .map_err(db)
    }
}

/// Classifies a sqlx error: connection trouble is retryable, the rest is not.
pub(crate) fn db(err: sqlx::Error) -> StoreError {
    match err {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
            StoreError::Unavailable(err.into())
        }
        sqlx::Error::Database(ref e) if e.message().contains("database is locked") => {
            StoreError::Unavailable(err.into())
        }
        other => StoreError::Other(other.into()),
    }
}

#[async_trait]
impl Store for SqlStore {
    fn engine(&self) -> &'static str {
        self.engine.name()
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn close(&self) {
        // The pools wait for every connection they lent, the send queue's kept one included.
        self.sends.release().await;
        self.begins.close();
        self.begins.wait().await;
        self.writer.close().await;
        self.pool.close().await;
    }

    async fn upsert_tenant(&self, tenant: &Tenant) -> StoreResult<()> {
        tenants::upsert(self, tenant).await
    }

    async fn ensure_tenant(&self, tenant: &Tenant) -> StoreResult<Tenant> {
        tenants::ensure(self, tenant).await
    }

    async fn tenant(&self, id: &TenantId) -> StoreResult<Option<Tenant>> {
        tenants::get(self, id).await
    }

    async fn create_user(
        &self,
        tenant: &TenantId,
        user: &NewUser,
        max_users: Option<u64>,
    ) -> StoreResult<UserCreation> {
        users::create(self, tenant, user, max_users).await
    }

    async fn user(&self, tenant: &TenantId, id: UserId) -> StoreResult<Option<StoredUser>> {
        users::by_id(self, tenant, id).await
    }

    async fn user_by_login(
        &self,
        tenant: &TenantId,
        login: &str,
    ) -> StoreResult<Option<StoredUser>> {
        users::by_login(self, tenant, login).await
    }

    async fn set_mfa_secret(
        &self,
        tenant: &TenantId,
        user: UserId,
        change: MfaChange<'_>,
        audit: &AuditEntry,
    ) -> StoreResult<()> {
        users::set_mfa_secret(self, tenant, user, change, audit).await
    }

    async fn consume_totp_step(
        &self,
        tenant: &TenantId,
        user: UserId,
        step: i64,
    ) -> StoreResult<bool> {
        users::consume_totp_step(self, tenant, user, step).await
    }

    async fn start_session(
        &self,
        tenant: &TenantId,
        session: &NewSession,
        audit: &AuditEntry,
    ) -> StoreResult<()> {
        sessions::start(self, tenant, session, audit).await
    }

    async fn rotate_session(
        &self,
        tenant: &TenantId,
        session: SessionId,
        swap: TokenSwap<'_>,
        on_reuse: &AuditEntry,
    ) -> StoreResult<Rotation> {
        sessions::rotate(self, tenant, session, swap, on_reuse).await
    }

    async fn session_active(
        &self,
        tenant: &TenantId,
        session: SessionId,
        now_ms: i64,
    ) -> StoreResult<bool> {
        sessions::active(self, tenant, session, now_ms).await
    }

    async fn live_sessions(
        &self,
        tenant: &TenantId,
        sessions: &[SessionId],
        now_ms: i64,
    ) -> StoreResult<Vec<SessionId>> {
        sessions::live(self, tenant, sessions, now_ms).await
    }

    async fn end_sessions(
        &self,
        tenant: &TenantId,
        user: UserId,
        scope: &SessionScope,
        now_ms: i64,
        audit: &AuditEntry,
    ) -> StoreResult<u64> {
        sessions::end(self, tenant, user, scope, now_ms, audit).await
    }

    async fn append_audit(&self, tenant: &TenantId, entry: &AuditEntry) -> StoreResult<()> {
        let mut tx = self.write(tenant).await?;
        audit::insert(&mut tx, tenant, entry).await?;
        tx.commit().await.map_err(db)
    }
}
