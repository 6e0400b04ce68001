//! Measures `build` for many tenants (a measurement, not a test): prints the time for 1 000
//! tenants and the rendered size of one. Run with
//! `cargo run --release -p chemchat-operator --example build_many [COUNT]`.

use std::time::Instant;

use chemchat_crds::{ChemChatCluster, ChemChatTenant};
use chemchat_operator::build::{BuildOptions, build};
use chemchat_operator::plan::plan;
use chemchat_operator::render::{placeholder_secrets, to_yaml};

const CLUSTER: &str = include_str!("../../examples/cluster.yaml");
const TENANTS: [&str; 2] = [
    include_str!("../../examples/tenant-free.yaml"),
    include_str!("../../examples/tenant-enterprise.yaml"),
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let count: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(1000);
    let cluster: ChemChatCluster = serde_yaml::from_str(CLUSTER)?;
    let secrets = placeholder_secrets(&cluster);
    let options = BuildOptions::default();
    let templates: Vec<ChemChatTenant> = TENANTS
        .iter()
        .map(|t| serde_yaml::from_str(t))
        .collect::<Result<_, _>>()?;
    let tenants: Vec<ChemChatTenant> = (0..count)
        .map(|i| {
            let mut t = templates[i % templates.len()].clone();
            t.metadata.name = Some(format!("tenant-{i}"));
            t.metadata.uid = Some(format!("00000000-0000-4000-8000-{i:012}"));
            t
        })
        .collect();
    for (t, name) in templates.iter().zip([
        "Free (examples/tenant-free.yaml)",
        "Enterprise (examples/tenant-enterprise.yaml)",
    ]) {
        let children = build(&plan(t, &cluster)?, &secrets, &options)?;
        let yaml = to_yaml(&children)?;
        println!(
            "{name}: {} objects, {} bytes of YAML",
            children.len(),
            yaml.len()
        );
    }
    let started = Instant::now();
    let mut objects = 0;
    for t in &tenants {
        objects += build(&plan(t, &cluster)?, &secrets, &options)?.len();
    }
    let elapsed = started.elapsed();
    println!(
        "build for {count} tenants: {objects} objects in {:.1} ms ({:.1} µs per tenant)",
        elapsed.as_secs_f64() * 1e3,
        elapsed.as_secs_f64() * 1e6 / count as f64
    );
    Ok(())
}
