//! Command line: `run` (default), `crd`, `render`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::build::{Autoscaler, BuildOptions};

/// ChemChat operator.
#[derive(Debug, Parser)]
#[command(name = "chemchat-operator", version, about)]
pub struct Cli {
    /// What to do; `run` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Settings of `run` (also accepted without the subcommand name).
    #[command(flatten)]
    pub run: RunArgs,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the controllers against the current kube context (the default).
    Run(RunArgs),
    /// Print the CustomResourceDefinitions as YAML.
    Crd,
    /// Print every object the operator would apply for a tenant, without a cluster.
    Render(RenderArgs),
}

/// Options of `render`.
#[derive(Debug, Args)]
pub struct RenderArgs {
    /// The ChemChatTenant YAML.
    #[arg(short = 'f', long = "file")]
    pub file: PathBuf,
    /// The ChemChatCluster YAML; a placeholder cluster is used when omitted.
    #[arg(long)]
    pub cluster: Option<PathBuf>,
    /// Build options shared with `run`.
    #[command(flatten)]
    pub build: BuildArgs,
}

/// Options that shape the built objects.
#[derive(Clone, Debug, Args)]
pub struct BuildArgs {
    /// `hpa` (prometheus-adapter serves the pods metric) or `keda`.
    #[arg(long, env = "CHEMCHAT_OPERATOR_AUTOSCALER", default_value = "hpa")]
    pub autoscaler: String,
    /// Prometheus address KEDA queries (keda mode only).
    #[arg(
        long,
        env = "CHEMCHAT_OPERATOR_KEDA_PROMETHEUS",
        default_value = "http://prometheus-server.monitoring.svc:80"
    )]
    pub keda_prometheus: String,
    /// `ingressClassName` of tenant Ingresses.
    #[arg(long, env = "CHEMCHAT_OPERATOR_INGRESS_CLASS")]
    pub ingress_class: Option<String>,
    /// Namespace of the ingress controller, allowed through tenant NetworkPolicies.
    #[arg(
        long,
        env = "CHEMCHAT_OPERATOR_INGRESS_NAMESPACE",
        default_value = "ingress-nginx"
    )]
    pub ingress_namespace: String,
    /// Namespace of Prometheus, allowed to scrape tenant servers.
    #[arg(
        long,
        env = "CHEMCHAT_OPERATOR_METRICS_NAMESPACE",
        default_value = "monitoring"
    )]
    pub metrics_namespace: String,
}

impl BuildArgs {
    /// The build options these arguments describe.
    pub fn options(&self) -> Result<BuildOptions, String> {
        let autoscaler = match self.autoscaler.as_str() {
            "hpa" => Autoscaler::Hpa,
            "keda" => Autoscaler::Keda {
                prometheus_address: self.keda_prometheus.clone(),
            },
            other => return Err(format!("--autoscaler must be hpa or keda, not `{other}`")),
        };
        Ok(BuildOptions {
            autoscaler,
            ingress_class: self.ingress_class.clone(),
            ingress_namespace: self.ingress_namespace.clone(),
            metrics_namespace: self.metrics_namespace.clone(),
        })
    }
}

/// Options of `run`.
#[derive(Clone, Debug, Args)]
pub struct RunArgs {
    /// Address of the metrics and health endpoints.
    #[arg(
        long,
        env = "CHEMCHAT_OPERATOR_METRICS_ADDR",
        default_value = "0.0.0.0:8080"
    )]
    pub metrics_addr: String,
    /// Namespace of the leader-election Lease (the operator's own).
    #[arg(long, env = "POD_NAMESPACE", default_value = "chemchat-system")]
    pub lease_namespace: String,
    /// This replica's identity in the Lease.
    #[arg(long, env = "POD_NAME", default_value = "chemchat-operator")]
    pub identity: String,
    /// Build options.
    #[command(flatten)]
    pub build: BuildArgs,
}

fn render(args: &RenderArgs) -> Result<String, String> {
    let tenant =
        std::fs::read_to_string(&args.file).map_err(|e| format!("{}: {e}", args.file.display()))?;
    let cluster = match &args.cluster {
        Some(path) => {
            Some(std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?)
        }
        None => None,
    };
    let options = args.build.options()?;
    let children = crate::render::render_children(&tenant, cluster.as_deref(), &options)
        .map_err(|e| e.to_string())?;
    crate::render::to_yaml(&children).map_err(|e| e.to_string())
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Crd) => chemchat_crds::generate::crds_yaml()
            .map_err(|e| e.to_string())
            .map(|y| print!("{y}")),
        Some(Command::Render(args)) => render(&args).map(|y| print!("{y}")),
        Some(Command::Run(args)) => crate::run::main(args),
        None => crate::run::main(cli.run),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("chemchat-operator: {err}");
            ExitCode::FAILURE
        }
    }
}
