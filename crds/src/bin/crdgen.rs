//! Writes the generated CRD YAML into each directory given on the command line
//! (`make crds` passes `crds` and the chart's `crds/`).

use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let dirs: Vec<String> = std::env::args().skip(1).collect();
    if dirs.is_empty() {
        eprintln!("usage: crdgen DIR [DIR…]");
        return ExitCode::from(2);
    }
    let files = match chemchat_crds::generate::crd_files() {
        Ok(files) => files,
        Err(err) => {
            eprintln!("crdgen: {err}");
            return ExitCode::FAILURE;
        }
    };
    for dir in &dirs {
        for (name, yaml) in &files {
            let path = Path::new(dir).join(name);
            if let Err(err) =
                std::fs::create_dir_all(dir).and_then(|()| std::fs::write(&path, yaml))
            {
                eprintln!("crdgen: cannot write {}: {err}", path.display());
                return ExitCode::FAILURE;
            }
            println!("wrote {}", path.display());
        }
    }
    ExitCode::SUCCESS
}
