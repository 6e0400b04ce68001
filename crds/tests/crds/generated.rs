//! The committed CRD YAML must be exactly what the Rust types generate (`make crds` fixes it).

use std::path::PathBuf;

fn check_dir(dir: PathBuf) {
    for (name, expected) in chemchat_crds::generate::crd_files().unwrap() {
        let path = dir.join(&name);
        let committed = std::fs::read_to_string(&path)
            .unwrap_or_else(|err| panic!("{} is missing ({err}); run `make crds`", path.display()));
        assert!(
            committed == expected,
            "{} differs from the CRD generated from the Rust types; run `make crds` and commit",
            path.display()
        );
    }
}

#[test]
fn committed_crds_match_the_types() {
    check_dir(PathBuf::from(env!("CARGO_MANIFEST_DIR")));
}

#[test]
fn chart_crds_match_the_types() {
    check_dir(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../charts/chemchat-operator/crds"));
}

#[test]
fn crds_carry_short_names_categories_and_status() {
    let all = chemchat_crds::generate::crds_yaml().unwrap();
    for needle in [
        "- ccc",
        "- cct",
        "- chemchat",
        "status: {}",
        "rule: self == oldSelf",
        "self.minReplicas <= self.maxReplicas",
        "name: Connections",
        "scope: Cluster",
        "scope: Namespaced",
    ] {
        assert!(all.contains(needle), "generated CRDs lack `{needle}`");
    }
}
