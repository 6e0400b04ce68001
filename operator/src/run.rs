//! Placeholder replaced in the next step.
use crate::cli::RunArgs;
/// Runs the controllers.
pub fn main(_args: RunArgs) -> Result<(), String> {
    Err("run: not built yet".to_owned())
}
