//! A tenant's own credentials, provisioned on every reconcile before the tenant's Secret is
//! built: its PostgreSQL role and, likewise, its Redis ACL user. For each, the password Secret
//! (made once, with a random password), then the Job (`chemchat-server tenant role <id> --slot`
//! with the master database URL; `tenant redis-user <id>` with the cluster's Redis URL),
//! followed until it is complete. Only then does the tenant's Secret get its URL — the tenant's
//! own, never the cluster's — so a new tenant's pods never start on credentials that do not work
//! yet, and a new image's pods start only after its migrations ran.
//!
//! Rotation: delete the Secret `db-role-<tenant>` (or `redis-user-<tenant>`) in the cluster's
//! namespace. The next pass makes a new password without revoking the old one, which the
//! tenant's pods still hold until their Deployment has rolled: a PostgreSQL role has a single
//! password, so the new one goes to the tenant's other role (slots `a`/`b`, the slot kept as an
//! annotation of the Secret), while a Redis user gets it beside its others. The Job runs again,
//! then the tenant's Secret gets the new URL, which rolls its pods; once none of an older version
//! is left, `crate::retire` retires the old credential. A deleted Secret while pods of an older
//! version are still left waits (`DatabaseRolePending`, `RedisUserPending`): they may hold the
//! credential the new password would replace. Where a rotation stands is read from the cluster
//! on every pass (the Secret's annotations, the tenant's Secret, the live Deployment), so one
//! interrupted by a restart of the operator finishes.

use chemchat_backends::RoleSlot;
use chemchat_crds::contract as env;
use chemchat_crds::{ChemChatCluster, ChemChatTenant};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, PostParams};
use kube::{Client, ResourceExt};

use crate::build::{
    ChildKind, INPUTS_ANNOTATION, PASSWORD_KEY, RETIRED_ANNOTATION, SECRET_NAME,
    database_role_name, redis_password_secret, redis_user_job, redis_user_job_inputs,
    redis_user_name, retire_redis_job, retire_redis_job_inputs, retire_redis_job_name,
    retire_role_job, retire_role_job_inputs, retire_role_job_name, role_job, role_job_inputs,
    role_password_secret, role_slot_of, tenant_database_role, tenant_database_url,
    tenant_redis_url, url_user,
};
use crate::error::Result;
use crate::jobs::{self, JobState, advance};
use crate::{apply, observe};

/// Where one of the tenant's credentials stands; `T` is what the tenant's Secret gets once it
/// is ready (a [`TenantLogin`] here, an S3 key in `crate::s3_user`).
#[derive(Clone, PartialEq, Eq)]
pub enum RoleStep<T = String> {
    /// It exists with the password in its Secret: the tenant's URL.
    Ready(T),
    /// Not yet (the Job runs, or the reconcile is paused); look again soon.
    Waiting(String),
    /// The Job failed, or the cluster's URL cannot be turned into a tenant's.
    Failed(String),
}

impl<T> std::fmt::Debug for RoleStep<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            // The URL carries the password.
            RoleStep::Ready(_) => f.write_str("Ready(<redacted>)"),
            RoleStep::Waiting(why) => write!(f, "Waiting({why})"),
            RoleStep::Failed(why) => write!(f, "Failed({why})"),
        }
    }
}

/// A tenant credential made of a password, by a Job of the server image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PasswordCredential {
    /// Its PostgreSQL roles (two slots).
    DatabaseRole,
    /// Its Redis ACL user (several passwords).
    RedisUser,
}

impl PasswordCredential {
    /// "database role", "Redis user".
    pub fn noun(self) -> &'static str {
        match self {
            Self::DatabaseRole => "database role",
            Self::RedisUser => "Redis user",
        }
    }

    /// The name of its password Secret and of its Job.
    pub fn object_name(self, tenant: &str) -> String {
        match self {
            Self::DatabaseRole => database_role_name(tenant),
            Self::RedisUser => redis_user_name(tenant),
        }
    }

    /// The name of the Job that retires its older credential.
    pub fn retire_job_name(self, tenant: &str) -> String {
        match self {
            Self::DatabaseRole => retire_role_job_name(tenant),
            Self::RedisUser => retire_redis_job_name(tenant),
        }
    }

    /// The reason of the Event once the older credential is retired.
    pub fn retired_reason(self) -> &'static str {
        match self {
            Self::DatabaseRole => "DatabaseRoleRotated",
            Self::RedisUser => "RedisPasswordRotated",
        }
    }

    fn secret(
        self,
        tenant: &ChemChatTenant,
        cluster: &ChemChatCluster,
        password: &str,
        slot: RoleSlot,
    ) -> Secret {
        match self {
            Self::DatabaseRole => role_password_secret(tenant, cluster, password, slot),
            Self::RedisUser => redis_password_secret(tenant, cluster, password),
        }
    }

    /// The slot a password Secret is for (a Redis user has one, `a`).
    fn slot_of(self, secret: &Secret) -> RoleSlot {
        match self {
            Self::DatabaseRole => role_slot_of(secret),
            Self::RedisUser => RoleSlot::A,
        }
    }

    fn inputs(self, cluster: &ChemChatCluster, secret_uid: &str, slot: RoleSlot) -> String {
        match self {
            Self::DatabaseRole => role_job_inputs(cluster, secret_uid, slot),
            Self::RedisUser => redis_user_job_inputs(cluster, secret_uid),
        }
    }

    fn job(
        self,
        tenant: &ChemChatTenant,
        cluster: &ChemChatCluster,
        inputs: &str,
        slot: RoleSlot,
    ) -> Job {
        match self {
            Self::DatabaseRole => role_job(tenant, cluster, inputs, slot),
            Self::RedisUser => redis_user_job(tenant, cluster, inputs),
        }
    }

    /// What the retire Job of `login` is run for.
    pub fn retire_inputs(self, cluster: &ChemChatCluster, login: &TenantLogin) -> String {
        match self {
            Self::DatabaseRole => retire_role_job_inputs(cluster, &login.secret_uid, login.slot),
            Self::RedisUser => retire_redis_job_inputs(cluster, &login.secret_uid),
        }
    }

    /// The Job that retires the credential older than `login`.
    pub fn retire_job(
        self,
        tenant: &ChemChatTenant,
        cluster: &ChemChatCluster,
        inputs: &str,
        login: &TenantLogin,
    ) -> Job {
        match self {
            Self::DatabaseRole => retire_role_job(tenant, cluster, inputs, login.slot),
            Self::RedisUser => retire_redis_job(tenant, cluster, inputs),
        }
    }

    /// The tenant's URL from the cluster's and the password, or why it cannot be made.
    fn url(
        self,
        cluster_url: &str,
        tenant: &str,
        password: &str,
        slot: RoleSlot,
    ) -> std::result::Result<String, String> {
        match self {
            Self::DatabaseRole => {
                tenant_database_url(cluster_url, tenant, password, slot).map_err(|e| e.to_string())
            }
            Self::RedisUser => {
                tenant_redis_url(cluster_url, tenant, password).map_err(|e| e.to_string())
            }
        }
    }

    /// What the current password logs in as, and the older credential a rotation retires, in
    /// words (role names and slots; never a password).
    fn names(self, cluster_url: &str, tenant: &str, slot: RoleSlot) -> (String, String) {
        match self {
            Self::DatabaseRole => {
                let role = |slot: RoleSlot| {
                    let name = tenant_database_role(cluster_url, tenant, slot).unwrap_or_default();
                    format!("role {name} (slot {slot})")
                };
                (role(slot), role(slot.other()))
            }
            Self::RedisUser => (
                format!("user {}", chemchat_backends::redis_user("", tenant)),
                "its other passwords".to_owned(),
            ),
        }
    }
}

/// One of the tenant's password credentials, ready for its Secret.
#[derive(Clone, PartialEq, Eq)]
pub struct TenantLogin {
    /// Which credential.
    pub credential: PasswordCredential,
    /// The tenant's URL, with the password.
    pub url: String,
    /// The slot of the role the password is for (always `a` for the Redis user).
    pub slot: RoleSlot,
    /// The uid of the password Secret: what its Jobs were run for.
    pub secret_uid: String,
    /// What the password logs in as ("role … (slot b)", "user …").
    pub login: String,
    /// The older credential a rotation retires ("role … (slot a)", "its other passwords").
    pub older: String,
    /// The older credential is still to be retired, once every server pod runs with this one.
    pub retire: bool,
}

impl std::fmt::Debug for TenantLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the URL: it carries the password.
        f.debug_struct("TenantLogin")
            .field("credential", &self.credential)
            .field("login", &self.login)
            .field("retire", &self.retire)
            .finish_non_exhaustive()
    }
}

/// A new password: 32 random bytes as hex, safe in a URL's userinfo as it is.
fn new_password() -> String {
    let bytes: [u8; 32] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// One pass over one tenant's password credentials.
pub struct Logins<'a> {
    /// The API client.
    pub client: &'a Client,
    /// The tenant.
    pub tenant: &'a ChemChatTenant,
    /// Its cluster, whose namespace keeps the password Secrets and runs the Jobs.
    pub cluster: &'a ChemChatCluster,
    /// The tenant's namespace, where its Secret and its Deployment say what its pods hold.
    pub namespace: &'a str,
    /// Write nothing, use what exists.
    pub paused: bool,
}

impl std::fmt::Debug for Logins<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Logins")
            .field("tenant", &self.tenant.name_any())
            .field("namespace", &self.namespace)
            .field("paused", &self.paused)
            .finish_non_exhaustive()
    }
}

impl Logins<'_> {
    /// Advances the tenant's database role by one step; `master_url` is the cluster's.
    pub async fn database_role(&self, master_url: &str) -> Result<RoleStep<TenantLogin>> {
        self.advance(PasswordCredential::DatabaseRole, master_url)
            .await
    }

    /// Advances the tenant's Redis user by one step, like its database role.
    pub async fn redis_user(&self, admin_url: &str) -> Result<RoleStep<TenantLogin>> {
        self.advance(PasswordCredential::RedisUser, admin_url).await
    }

    fn platform(&self) -> String {
        self.cluster.namespace().unwrap_or_default()
    }

    async fn advance(
        &self,
        credential: PasswordCredential,
        cluster_url: &str,
    ) -> Result<RoleStep<TenantLogin>> {
        let name = self.tenant.name_any();
        let noun = credential.noun();
        let platform = self.platform();
        let object_name = credential.object_name(&name);
        let secrets: Api<Secret> = Api::namespaced(self.client.clone(), &platform);
        let secret = match secrets.get_opt(&object_name).await? {
            Some(secret) => secret,
            None if self.paused => {
                return Ok(RoleStep::Waiting(format!(
                    "paused before the {noun} of tenant {name} was made"
                )));
            }
            None => match self.new_secret(credential, cluster_url).await? {
                Ok(secret) => secret,
                Err(waiting) => return Ok(RoleStep::Waiting(waiting)),
            },
        };
        let password = secret
            .data
            .as_ref()
            .and_then(|d| d.get(PASSWORD_KEY))
            .map(|b| String::from_utf8_lossy(&b.0).into_owned())
            .filter(|p| !p.is_empty());
        let Some(password) = password else {
            return Ok(RoleStep::Failed(format!(
                "Secret {platform}/{object_name} has no `{PASSWORD_KEY}`; delete it and a new \
                 password is made"
            )));
        };
        let slot = credential.slot_of(&secret);
        let url = match credential.url(cluster_url, &name, &password, slot) {
            Ok(url) => url,
            Err(unusable) => return Ok(RoleStep::Failed(unusable)),
        };
        let secret_uid = secret.uid().unwrap_or_default();
        let (login, older) = credential.names(cluster_url, &name, slot);
        let ready = TenantLogin {
            credential,
            url,
            slot,
            login,
            older,
            retire: secret
                .annotations()
                .get(RETIRED_ANNOTATION)
                .map(String::as_str)
                != Some("true"),
            secret_uid,
        };
        let inputs = credential.inputs(self.cluster, &ready.secret_uid, slot);
        let jobs_api: Api<Job> = Api::namespaced(self.client.clone(), &platform);
        let existing = jobs_api.get_opt(&object_name).await?;
        let current = existing
            .as_ref()
            .is_some_and(|job| job.annotations().get(INPUTS_ANNOTATION) == Some(&inputs));
        if self.paused {
            return Ok(if current {
                RoleStep::Ready(ready)
            } else {
                RoleStep::Waiting(format!(
                    "paused before the {noun} of tenant {name} was updated"
                ))
            });
        }
        if existing.is_some() && !current {
            jobs::delete(&jobs_api, &object_name).await?;
            return Ok(RoleStep::Waiting(format!(
                "updating the {noun} of tenant {name} for a new image or password: Job \
                 {platform}/{object_name} replaced"
            )));
        }
        let job = credential.job(self.tenant, self.cluster, &inputs, slot);
        Ok(match advance(&jobs_api, existing, &job).await? {
            JobState::Complete => RoleStep::Ready(ready),
            JobState::Started | JobState::Running => RoleStep::Waiting(format!(
                "making the {noun} of tenant {name}: Job {platform}/{object_name} running"
            )),
            JobState::Replacing => RoleStep::Waiting(format!(
                "making the {noun} of tenant {name}: replacing the failed Job \
                 {platform}/{object_name}"
            )),
            JobState::Failed(why) => RoleStep::Failed(format!("{noun} {why}")),
        })
    }

    /// The password Secret made anew (a new tenant, or a rotation), or why not yet (`Err`): a
    /// rotation made while pods of an older version are left waits, as they may hold the
    /// credential the new password replaces — the database role of the slot it goes to, or one
    /// of the Redis passwords a retirement would drop; so does one made while the previous
    /// password's retire Job still runs, which would otherwise read the new password (its pod
    /// reads the Secret when it starts) and retire the role the new password goes to.
    async fn new_secret(
        &self,
        credential: PasswordCredential,
        cluster_url: &str,
    ) -> Result<std::result::Result<Secret, String>> {
        let name = self.tenant.name_any();
        let noun = credential.noun();
        let platform = self.platform();
        let retire_job = credential.retire_job_name(&name);
        let jobs_api: Api<Job> = Api::namespaced(self.client.clone(), &platform);
        if jobs_api
            .get_opt(&retire_job)
            .await?
            .is_some_and(|job| !jobs::finished(&job))
        {
            return Ok(Err(format!(
                "a new password of the {noun} of tenant {name} waits until Job \
                 {platform}/{retire_job}, retiring the credential before the previous one, has \
                 finished"
            )));
        }
        if !self.pods_on_one_template().await? {
            return Ok(Err(format!(
                "a new password of the {noun} of tenant {name} waits until the previous one has \
                 rolled out: pods of an older version still hold the credential before it"
            )));
        }
        let slot = match credential {
            PasswordCredential::DatabaseRole => self.serving_slot(cluster_url).await?.other(),
            PasswordCredential::RedisUser => RoleSlot::A,
        };
        let secrets: Api<Secret> = Api::namespaced(self.client.clone(), &platform);
        let fresh = credential.secret(self.tenant, self.cluster, &new_password(), slot);
        match secrets.create(&PostParams::default(), &fresh).await {
            Ok(secret) => Ok(Ok(secret)),
            // Made by a pass whose answer was lost: use that one.
            Err(kube::Error::Api(s)) if s.code == 409 => {
                Ok(Ok(secrets.get(&credential.object_name(&name)).await?))
            }
            Err(err) => Err(err.into()),
        }
    }

    /// Every pod of the tenant's server Deployment runs its current template, or there is no
    /// Deployment.
    async fn pods_on_one_template(&self) -> Result<bool> {
        let name = self.tenant.name_any();
        let live =
            apply::list_live(self.client, &name, self.namespace, &[ChildKind::Deployment]).await?;
        Ok(observe::workload(&live).on_one_template())
    }

    /// The slot of the role in the tenant's Secret now: a new password goes to the other one.
    /// No tenant Secret yet (a new tenant), or a URL of neither role, counts as slot `b`, so a
    /// new tenant starts on slot `a`.
    async fn serving_slot(&self, master_url: &str) -> Result<RoleSlot> {
        let api: Api<Secret> = Api::namespaced(self.client.clone(), self.namespace);
        let serving = api.get_opt(SECRET_NAME).await?.and_then(|secret| {
            secret
                .data?
                .get(env::DATABASE_URL)
                .map(|b| String::from_utf8_lossy(&b.0).into_owned())
        });
        let name = self.tenant.name_any();
        let role_a = tenant_database_role(master_url, &name, RoleSlot::A).ok();
        Ok(match serving.as_deref().and_then(url_user) {
            Some(user) if Some(user) == role_a.as_deref() => RoleSlot::A,
            _ => RoleSlot::B,
        })
    }
}
