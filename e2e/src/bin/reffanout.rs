//! The reference fan-out server of the load benchmark (see `chemchat_e2e::load::reference`).

use chemchat_e2e::load::reference::Reference;
use clap::Parser;
use std::net::SocketAddr;
use std::sync::Arc;

/// Serves ChemChat's WebSocket protocol subset with no persistence and no authentication, as
/// the ceiling ChemChat's fan-out is compared with.
#[derive(Debug, Parser)]
struct Args {
    /// Address to listen on; the WebSocket is served on any path.
    #[arg(long, default_value = "127.0.0.1:8090")]
    listen: SocketAddr,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    eprintln!("reffanout: listening on {}", listener.local_addr()?);
    Arc::new(Reference::default()).serve(listener).await?;
    Ok(())
}
