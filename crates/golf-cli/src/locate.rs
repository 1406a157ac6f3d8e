//! Finding the models folder, the committed sample texts and the shared data without being told.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Result};

/// Candidate roots: the current directory and the folders above the golf binary (target/release/golf).
fn roots() -> Vec<PathBuf> {
    let mut roots: Vec<PathBuf> = std::env::current_dir().into_iter().collect();
    if let Ok(exe) = std::env::current_exe() {
        roots.extend(exe.ancestors().skip(1).take(4).map(Path::to_path_buf));
    }
    roots
}

pub fn models_dir(given: Option<&Path>) -> Result<PathBuf> {
    if let Some(p) = given {
        return Ok(p.to_path_buf());
    }
    match roots().into_iter().map(|r| r.join("models")).find(|m| m.join("ar/golfer.json").exists()) {
        Some(m) => Ok(m),
        None => {
            bail!("cannot find the models folder (models/ar/golfer.json); run from the repository or pass --models DIR")
        }
    }
}

/// A committed sample text, `samples/NAME` in the repository.
pub fn sample(name: &str) -> Result<PathBuf> {
    roots()
        .into_iter()
        .map(|r| r.join("samples").join(name))
        .find(|p| p.exists())
        .ok_or_else(|| anyhow!("cannot find samples/{name}; run from the repository"))
}

/// The shared data folder (large texts that only training and some benchmarks read).
pub fn data_dir(given: Option<&Path>) -> PathBuf {
    if let Some(p) = given {
        return p.to_path_buf();
    }
    if let Some(p) = std::env::var_os("GOLF_DATA") {
        return PathBuf::from(p);
    }
    roots()
        .into_iter()
        .map(|r| r.join("../shared/data"))
        .find(|d| d.join("tokenizers").exists())
        .unwrap_or_else(|| PathBuf::from("../shared/data"))
}
