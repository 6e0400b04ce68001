//! `chemchat-operator render`: every object the operator would apply for a tenant, as YAML,
//! without a cluster. Secret values are shown as `<secret NAME/KEY>` placeholders because the
//! real ones live in the cluster.

use chemchat_crds::common::SecretKeyRef;
use chemchat_crds::{ChemChatCluster, ChemChatTenant};

use crate::build::{BackendSecrets, BuildOptions, Child, build};
use crate::plan::{InvalidSpec, plan};

/// Why rendering failed.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The input is not a valid resource document.
    #[error("cannot parse {what}: {source}")]
    Parse {
        /// Which input.
        what: &'static str,
        /// Parser error.
        #[source]
        source: serde_yaml::Error,
    },
    /// The tenant spec is invalid.
    #[error("invalid tenant: {0}")]
    Invalid(#[from] InvalidSpec),
    /// Serialisation failed.
    #[error("serialisation: {0}")]
    Serialize(String),
}

/// A stand-in cluster for rendering a tenant without `--cluster`.
pub fn placeholder_cluster(tenant: &ChemChatTenant) -> Result<ChemChatCluster, RenderError> {
    let yaml = format!(
        r#"apiVersion: chemchat.io/v1alpha1
kind: ChemChatCluster
metadata: {{ name: "{name}", namespace: "{namespace}" }}
spec:
  image: {{ repository: chemchat/chemchat-server, tag: latest }}
  postgres: {{ urlSecretRef: {{ name: chemchat-backends, key: postgres-url }} }}
  redis: {{ urlSecretRef: {{ name: chemchat-backends, key: redis-url }} }}
  auth: {{ jwtSecretRef: {{ name: chemchat-backends, key: jwt-secret }} }}
"#,
        name = tenant.spec.cluster_ref.name,
        namespace = tenant.spec.cluster_ref.namespace
    );
    serde_yaml::from_str(&yaml).map_err(|source| RenderError::Parse {
        what: "placeholder cluster",
        source,
    })
}

fn placeholder(r: &SecretKeyRef) -> String {
    format!("<secret {}/{}>", r.name, r.key)
}

/// Secret values as placeholders naming where the operator would read them.
pub fn placeholder_secrets(cluster: &ChemChatCluster) -> BackendSecrets {
    let spec = &cluster.spec;
    BackendSecrets {
        database_url: placeholder(&spec.postgres.url_secret_ref),
        redis_url: placeholder(&spec.redis.url_secret_ref),
        jwt_secret: placeholder(&spec.auth.jwt_secret_ref),
        smtp_url: spec
            .mail
            .as_ref()
            .map(|m| placeholder(&m.smtp_url_secret_ref)),
        s3_credentials: spec.object_storage.as_ref().map(|s| {
            let name = &s.credentials_secret_ref.name;
            (
                format!("<secret {name}/accessKeyId>"),
                format!("<secret {name}/secretAccessKey>"),
            )
        }),
        search_credentials: spec
            .search
            .as_ref()
            .and_then(|s| s.credentials_secret_ref.as_ref())
            .map(|r| {
                (
                    format!("<secret {}/username>", r.name),
                    format!("<secret {}/password>", r.name),
                )
            }),
        placeholders: true,
    }
}

/// Parses the inputs and builds the children.
pub fn render_children(
    tenant_yaml: &str,
    cluster_yaml: Option<&str>,
    options: &BuildOptions,
) -> Result<Vec<Child>, RenderError> {
    let tenant: ChemChatTenant =
        serde_yaml::from_str(tenant_yaml).map_err(|source| RenderError::Parse {
            what: "tenant",
            source,
        })?;
    let cluster = match cluster_yaml {
        Some(text) => serde_yaml::from_str(text).map_err(|source| RenderError::Parse {
            what: "cluster",
            source,
        })?,
        None => placeholder_cluster(&tenant)?,
    };
    let plan = plan(&tenant, &cluster)?;
    let mut secrets = placeholder_secrets(&cluster);
    // What the operator writes once the tenant's role exists: never the cluster's own URL.
    secrets.database_url = format!(
        "<{} as role of tenant {} with secret {}/{}>",
        secrets.database_url,
        plan.name,
        crate::build::database_role_name(&plan.name),
        crate::build::PASSWORD_KEY
    );
    // Likewise its own S3 key, under `tenantCredentials: PerTenant`.
    if let Some(storage) = crate::s3_user::per_tenant(&cluster) {
        let user = crate::build::s3_user_name(storage, &plan.name);
        let secret = crate::build::s3_user_secret_name(&plan.name);
        secrets.s3_credentials = Some((
            format!(
                "<access key of IAM user {user}: secret {secret}/{}>",
                crate::build::ACCESS_KEY_ID_KEY
            ),
            format!("<secret {secret}/{}>", crate::build::SECRET_ACCESS_KEY_KEY),
        ));
    }
    build(&plan, &secrets, options).map_err(|e| RenderError::Serialize(e.to_string()))
}

/// The children as one multi-document YAML stream.
pub fn to_yaml(children: &[Child]) -> Result<String, RenderError> {
    let mut out = String::new();
    for child in children {
        out.push_str("---\n");
        out.push_str(
            &serde_yaml::to_string(&child.object)
                .map_err(|e| RenderError::Serialize(e.to_string()))?,
        );
    }
    Ok(out)
}
