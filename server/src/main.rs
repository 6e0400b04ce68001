//! `chemchat-server`: parse the command line, load the configuration, run.

use chemchat_server::adapters::redis::OtherPasswords;
use chemchat_server::cli::{AdminAction, Cli, Command, TenantAction};
use chemchat_server::domain::{Tenant, TenantId, TenantRole, Tier};
use chemchat_server::{Server, config, server, shutdown_signal, telemetry};
use clap::Parser;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match config::load(&cli.config) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("chemchat-server: {e}");
            return ExitCode::from(2);
        }
    };
    let telemetry = telemetry::init(settings.log_format, "chemchat-server");
    let outcome = match run(cli.command.unwrap_or(Command::Serve), settings).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "chemchat-server failed");
            eprintln!("chemchat-server: {e:#}");
            ExitCode::FAILURE
        }
    };
    // The last spans (the shutdown's own) are sent before the process ends.
    tokio::task::spawn_blocking(move || telemetry.shutdown())
        .await
        .ok();
    outcome
}

async fn run(command: Command, settings: config::Settings) -> anyhow::Result<()> {
    match command {
        Command::Serve => {
            let listener = tokio::net::TcpListener::bind(settings.listen)
                .await
                .map_err(|e| {
                    anyhow::anyhow!(
                        "cannot listen on {} (CHEMCHAT_LISTEN): {e}",
                        settings.listen
                    )
                })?;
            Server::build(settings)
                .await?
                .serve(listener, shutdown_signal())
                .await
        }
        Command::Migrate => {
            server::migrate_only(&settings).await?;
            tracing::info!("migrations applied");
            Ok(())
        }
        Command::Tenant {
            action: Some(TenantAction::Purge { id, missing_ok }),
            ..
        } => {
            let id = TenantId::parse(&id)
                .map_err(|e| anyhow::anyhow!("tenant purge: `{id}` is not a tenant id: {e}"))?;
            let report = server::purge_tenant(&settings, &id, missing_ok).await?;
            for (table, rows) in &report.deleted {
                tracing::info!(tenant = %id, table, rows, "purged");
            }
            tracing::info!(tenant = %id, rows = report.total(), "tenant purged");
            Ok(())
        }
        Command::Tenant {
            action:
                Some(TenantAction::Export {
                    id,
                    to,
                    with_credentials,
                }),
            ..
        } => {
            let id = TenantId::parse(&id)
                .map_err(|e| anyhow::anyhow!("tenant export: `{id}` is not a tenant id: {e}"))?;
            let summary = server::export_tenant(&settings, &id, &to, with_credentials).await?;
            report("exported", &summary);
            tracing::info!(tenant = %id, file = %to.display(), bytes = summary.archive_bytes,
                "tenant exported");
            Ok(())
        }
        Command::Tenant {
            action:
                Some(TenantAction::Import {
                    file,
                    as_tenant,
                    dry_run,
                }),
            ..
        } => {
            let target = as_tenant
                .as_deref()
                .map(TenantId::parse)
                .transpose()
                .map_err(|e| anyhow::anyhow!("tenant import: --as is not a tenant id: {e}"))?;
            let summary = server::import_tenant(&settings, &file, target.as_ref(), dry_run).await?;
            let verb = if dry_run { "checked" } else { "imported" };
            report(verb, &summary);
            tracing::info!(archive_tenant = %summary.tenant, into = ?target, dry_run,
                rows = summary.total_rows(), objects = summary.blobs, "tenant archive {verb}");
            Ok(())
        }
        Command::Tenant {
            action: Some(TenantAction::Role { id, slot, retire }),
            ..
        } => {
            let slot = chemchat_backends::RoleSlot::parse(&slot)
                .ok_or_else(|| anyhow::anyhow!("tenant role: --slot must be `a` or `b`"))?;
            let id = TenantId::parse(&id)
                .map_err(|e| anyhow::anyhow!("tenant role: `{id}` is not a tenant id: {e}"))?;
            let variable = chemchat_crds::contract::TENANT_ROLE_PASSWORD;
            let password = std::env::var(variable)
                .ok()
                .filter(|p| p.len() >= 16)
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "tenant role: {variable} must hold the role's new password \
                         (at least 16 characters)"
                    )
                })?;
            let (provisioned, retired) =
                server::provision_tenant_role(&settings, &id, slot, &password.into(), retire)
                    .await?;
            tracing::info!(tenant = %id, role = %provisioned.role, slot = %provisioned.slot,
                created = provisioned.created, "tenant role provisioned");
            if let Some(retired) = retired {
                tracing::info!(tenant = %id, role = %retired.role, slot = %retired.slot,
                    existed = retired.existed, sessions_ended = retired.sessions_ended,
                    "tenant role retired");
            }
            Ok(())
        }
        Command::Tenant {
            action: Some(TenantAction::RedisUser { id, retire }),
            ..
        } => {
            let id = TenantId::parse(&id).map_err(|e| {
                anyhow::anyhow!("tenant redis-user: `{id}` is not a tenant id: {e}")
            })?;
            let variable = chemchat_crds::contract::TENANT_REDIS_PASSWORD;
            let password = std::env::var(variable)
                .ok()
                .filter(|p| p.len() >= 16)
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "tenant redis-user: {variable} must hold the user's new password \
                         (at least 16 characters)"
                    )
                })?;
            let others = if retire {
                OtherPasswords::Retire
            } else {
                OtherPasswords::Keep
            };
            let provisioned =
                server::provision_tenant_redis_user(&settings, &id, &password.into(), others)
                    .await?;
            tracing::info!(tenant = %id, user = %provisioned.user, created = provisioned.created,
                other_passwords_kept = provisioned.kept,
                other_passwords_retired = provisioned.retired, "tenant Redis user provisioned");
            Ok(())
        }
        Command::Admin {
            action: AdminAction::Grant { tenant, user, role },
        } => {
            let tenant = TenantId::parse(&tenant)
                .map_err(|e| anyhow::anyhow!("admin grant: `{tenant}` is not a tenant id: {e}"))?;
            let role = TenantRole::parse(&role).ok_or_else(|| {
                anyhow::anyhow!("admin grant: role must be owner, admin, moderator or member")
            })?;
            let id = server::grant_role(&settings, &tenant, &user, role).await?;
            tracing::info!(%tenant, user = %id, role = role.as_str(), "role granted");
            Ok(())
        }
        Command::Tenant {
            action: None,
            id,
            tier,
            display_name,
        } => {
            let id = TenantId::parse(id.as_deref().unwrap_or_default())?;
            let tier = Tier::parse(&tier)
                .ok_or_else(|| anyhow::anyhow!("--tier: expected free, pro or enterprise"))?;
            let tenant = Tenant {
                display_name: display_name.unwrap_or_else(|| id.to_string()),
                quotas: tier.default_quotas(),
                id,
                tier,
            };
            server::upsert_tenant(&settings, &tenant).await?;
            tracing::info!(tenant = %tenant.id, tier = tier.as_str(), "tenant saved");
            Ok(())
        }
    }
}

/// One log line per table and one for the media objects.
fn report(verb: &str, summary: &chemchat_server::archive::ArchiveSummary) {
    for (table, rows) in &summary.rows {
        tracing::info!(table, rows, "{verb}");
    }
    tracing::info!(
        objects = summary.blobs,
        bytes = summary.blob_bytes,
        "media {verb}"
    );
}
