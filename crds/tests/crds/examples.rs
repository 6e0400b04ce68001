//! Every example resource in `examples/` validates against the generated CRD schema, and the
//! schema is strict enough to reject broken ones (so a passing example means something).

use std::path::PathBuf;

use serde::Deserialize;
use serde_json::{Value, json};

fn validator(kind: &str) -> jsonschema::Validator {
    let schema = chemchat_crds::generate::schemas()
        .into_iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, s)| s)
        .unwrap();
    // The CRD schema is OpenAPI v3 (close to draft 4); unknown keywords such as
    // `x-kubernetes-validations` and `nullable` are ignored, CEL is checked by the operator.
    jsonschema::draft4::new(&schema).unwrap()
}

fn errors(kind: &str, doc: &Value) -> Vec<String> {
    validator(kind)
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

fn example_docs() -> Vec<(PathBuf, Value)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut docs = Vec::new();
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    for path in paths
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
    {
        let text = std::fs::read_to_string(&path).unwrap();
        for de in serde_yaml::Deserializer::from_str(&text) {
            let value = Value::deserialize(de).unwrap();
            if !value.is_null() {
                docs.push((path.clone(), value));
            }
        }
    }
    docs
}

#[test]
fn examples_validate_against_the_generated_schema() {
    let docs = example_docs();
    let mut checked = 0;
    for (path, doc) in &docs {
        let kind = doc["kind"].as_str().unwrap_or_default();
        if kind == "ChemChatCluster" || kind == "ChemChatTenant" {
            let errs = errors(kind, doc);
            assert!(errs.is_empty(), "{}: {errs:?}", path.display());
            checked += 1;
        }
    }
    // A cluster, a Free and an Enterprise tenant at least.
    assert!(
        checked >= 3,
        "expected at least 3 example resources, found {checked}"
    );
    let tiers: Vec<_> = docs
        .iter()
        .filter_map(|(_, d)| d["spec"]["tier"].as_str())
        .collect();
    assert!(
        tiers.contains(&"Free") && tiers.contains(&"Enterprise"),
        "tiers: {tiers:?}"
    );
}

#[test]
fn the_schema_rejects_broken_tenants() {
    let base = json!({
        "apiVersion": "chemchat.io/v1alpha1",
        "kind": "ChemChatTenant",
        "metadata": {"name": "acme"},
        "spec": {"clusterRef": {"name": "main", "namespace": "chemchat-system"}, "displayName": "Acme"}
    });
    assert!(errors("ChemChatTenant", &base).is_empty());
    let broken = [
        ("/spec/tier", json!("Gold")),
        ("/spec/scaling", json!({"minReplicas": 0})),
        ("/spec/deletionPolicy", json!("Sometimes")),
        ("/spec/displayName", json!("")),
        ("/spec/quotas", json!({"maxUsers": -5})),
    ];
    for (pointer, value) in broken {
        let mut doc = base.clone();
        let field = pointer.rsplit('/').next().unwrap();
        doc["spec"][field] = value;
        assert!(
            !errors("ChemChatTenant", &doc).is_empty(),
            "{pointer} should be rejected"
        );
    }
    let mut missing = base.clone();
    missing["spec"]
        .as_object_mut()
        .unwrap()
        .remove("clusterRef");
    assert!(
        !errors("ChemChatTenant", &missing).is_empty(),
        "clusterRef is required"
    );
}
