//! The command line.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// ChemChat's chat server: REST and WebSocket API on SQLite or PostgreSQL.
///
/// Configuration comes from defaults, then the optional file given by --config, then CHEMCHAT_*
/// environment variables (CHEMCHAT_LISTEN, CHEMCHAT_DATABASE_URL, CHEMCHAT_JWT_SECRET, …).
#[derive(Debug, Parser)]
#[command(name = "chemchat-server", version, about, long_about)]
pub struct Cli {
    /// Configuration file (TOML); skipped when missing.
    #[arg(
        long,
        global = true,
        default_value = "chemchat.toml",
        env = "CHEMCHAT_CONFIG"
    )]
    pub config: PathBuf,
    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply pending migrations, then serve the API (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Create a tenant, or update its tier and display name (`tenant <id>`); give it a
    /// PostgreSQL role (`tenant role <id>`) or a Redis user (`tenant redis-user <id>`) of its
    /// own; delete every row of one
    /// (`tenant purge <id>`); or move one (`tenant export <id> --to FILE`, `tenant import FILE`).
    #[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
    Tenant {
        /// What to do with the tenant other than saving it.
        #[command(subcommand)]
        action: Option<TenantAction>,
        /// Tenant id: a DNS label such as `acme`.
        #[arg(required = true)]
        id: Option<String>,
        /// free, pro or enterprise; picks the default quotas.
        #[arg(long, default_value = "free")]
        tier: String,
        /// Human-readable name; defaults to the id.
        #[arg(long)]
        display_name: Option<String>,
    },
    /// Administer a tenant's people from the command line.
    Admin {
        /// What to do.
        #[command(subcommand)]
        action: AdminAction,
    },
}

/// Subcommands of `admin`.
#[derive(Debug, Subcommand)]
pub enum AdminAction {
    /// Give a user a tenant role: how a tenant gets its first owner or admin (recorded in the
    /// audit trail as done from the command line).
    Grant {
        /// Tenant id.
        tenant: String,
        /// Username, email or user id.
        user: String,
        /// owner, admin, moderator or member.
        role: String,
    },
}

/// Subcommands of `tenant`.
#[derive(Debug, Subcommand)]
pub enum TenantAction {
    /// Create one of the tenant's two PostgreSQL roles (--slot), which row-level security pins to
    /// the tenant, or give it a new password; the password is read from
    /// CHEMCHAT_TENANT_ROLE_PASSWORD. The other slot's role keeps working (servers of an older
    /// version may still use it) until --retire. Run with the platform's database URL (its role
    /// needs CREATEROLE, and pg_signal_backend for --retire); migrates first. Prints nothing
    /// secret: the tenant's URL is the platform's with this role and password.
    Role {
        /// Tenant id: a DNS label such as `acme`.
        id: String,
        /// Which of the tenant's two roles: `a` or `b`. A rotation gives the new password to
        /// the one its servers do not use.
        #[arg(long, default_value = "a", value_parser = ["a", "b"])]
        slot: String,
        /// Then retire the other slot's role, once no server uses it: it may no longer log in
        /// and its open sessions are ended.
        #[arg(long)]
        retire: bool,
    },
    /// Create the tenant's own Redis ACL user, which reaches only the tenant's keys and channels
    /// and runs only the commands a server pinned to the tenant sends, or set it again with a
    /// new password beside its others (servers of an older version may still hold one) until
    /// --retire; the password is read from CHEMCHAT_TENANT_REDIS_PASSWORD. Run with an
    /// administrator's CHEMCHAT_REDIS_URL (its user needs ACL SETUSER) and the deployment's
    /// CHEMCHAT_REDIS_PREFIX. Prints nothing secret: the tenant's URL is the administrator's with
    /// this user and password. `tenant purge` deletes the user.
    RedisUser {
        /// Tenant id: a DNS label such as `acme`.
        id: String,
        /// Leave this password as the user's only one, once no server holds another.
        #[arg(long)]
        retire: bool,
    },
    /// Write the tenant's archive: its rows from one snapshot and its media objects, as
    /// versioned JSON Lines with checksums (docs/operations.md, "Moving a tenant"). Password
    /// hashes and MFA secrets stay out unless --with-credentials.
    Export {
        /// Tenant id: a DNS label such as `acme`.
        id: String,
        /// The archive file to write (through a temporary file renamed into place).
        #[arg(long)]
        to: PathBuf,
        /// Include password hashes and MFA secrets, so people sign in as before.
        #[arg(long)]
        with_credentials: bool,
    },
    /// Read an archive into a tenant that has no data yet, on either engine: the whole archive
    /// is checked first, the rows are written in one transaction. --dry-run only checks.
    Import {
        /// The archive file.
        file: PathBuf,
        /// Import under this tenant id instead of the archive's.
        #[arg(long = "as")]
        as_tenant: Option<String>,
        /// Check the archive (format, order, sizes, hashes, counts, checksum) and write nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Delete every row of the tenant from every table, in batches; running it again after a
    /// failure finishes the work. Stop the tenant's servers first: rows written meanwhile survive.
    Purge {
        /// Tenant id: a DNS label such as `acme`.
        id: String,
        /// Succeed when the tenant has no row at all (a purge that already finished) instead of
        /// refusing the id as unknown.
        #[arg(long)]
        missing_ok: bool,
    },
}
