//! Embeds the default text: a FineWeb document read from the project's shared data at build time, so no
//! third-party text is committed to the repository.

use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let data = std::env::var("GOLF_DATA").map(PathBuf::from).unwrap_or_else(|_| manifest.join("../../../shared/data"));
    let path = data.join("fineweb/val-first-docs.txt");
    println!("cargo:rerun-if-changed={}", path.display());
    println!("cargo:rerun-if-env-changed=GOLF_DATA");
    let all = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!("cannot read the default text {} ({e}); set GOLF_DATA to the shared data folder", path.display())
    });
    // The second document (adrenal glands): ordinary web prose of 3.6 KB.
    let doc = all.lines().nth(1).expect("val-first-docs.txt has at least two documents");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("default_text.txt");
    std::fs::write(out, doc).unwrap();
}
