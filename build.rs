//! Builds the list of the sims of `sims/` that `src/catalogue.rs` embeds in the binary, so a
//! sim added to `sims/` is built in without another edit.

use std::fmt::Write as _;

fn main() {
    println!("cargo:rerun-if-changed=sims");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sims");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let mut list = String::from("&[\n");
    for name in &names {
        let path = dir.join(format!("{name}.toml"));
        let _ = writeln!(
            list,
            "    ({name:?}, include_str!({:?})),",
            path.display().to_string()
        );
    }
    list.push(']');
    let out = std::path::Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"))
        .join("sims.rs");
    std::fs::write(out, list).expect("OUT_DIR is writable");
}
