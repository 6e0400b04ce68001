//! Renders the CustomResourceDefinitions as YAML, the single source of `crds/*.yaml`.

use kube::CustomResourceExt;

use crate::{ChemChatCluster, ChemChatTenant};

/// Failure to turn a CRD into YAML.
#[derive(Debug, thiserror::Error)]
#[error("cannot serialise CRD {name}: {source}")]
pub struct GenerateError {
    name: String,
    #[source]
    source: serde_yaml::Error,
}

/// File names and YAML text of every CRD, in a stable order.
pub fn crd_files() -> Result<Vec<(String, String)>, GenerateError> {
    [ChemChatCluster::crd(), ChemChatTenant::crd()]
        .into_iter()
        .map(|crd| {
            let name = crd.metadata.name.clone().unwrap_or_default();
            let yaml = serde_yaml::to_string(&crd).map_err(|source| GenerateError {
                name: name.clone(),
                source,
            })?;
            let plural = name.split('.').next().unwrap_or(&name).to_owned();
            Ok((format!("{plural}.yaml"), yaml))
        })
        .collect()
}

/// Every CRD as one multi-document YAML stream, for `chemchat-operator crd`.
pub fn crds_yaml() -> Result<String, GenerateError> {
    Ok(crd_files()?
        .into_iter()
        .map(|(_, yaml)| format!("---\n{yaml}"))
        .collect())
}

/// The `openAPIV3Schema` of each CRD keyed by kind, for validating example resources.
pub fn schemas() -> Vec<(&'static str, serde_json::Value)> {
    let schema = |crd: k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition| {
        crd.spec
            .versions
            .first()
            .and_then(|v| v.schema.as_ref())
            .and_then(|s| s.open_api_v3_schema.as_ref())
            .and_then(|s| serde_json::to_value(s).ok())
            .unwrap_or(serde_json::Value::Null)
    };
    vec![
        ("ChemChatCluster", schema(ChemChatCluster::crd())),
        ("ChemChatTenant", schema(ChemChatTenant::crd())),
    ]
}
