//! `chemchat-operator`: run the controllers, print the CRDs, or render a tenant offline.

use std::process::ExitCode;

fn main() -> ExitCode {
    chemchat_operator::cli::main()
}
