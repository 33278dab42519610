//! Writes the `vault_open` fuzz target's seeds: working vaults made with the fuzz key, holding
//! one row of every kind, at two page sizes. Run from the repository root:
//! `cargo run -p keygate-vault --example fuzz_seeds -- crates/keygate-vault/fuzz/corpus/vault_open`

use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let dir = PathBuf::from(std::env::args_os().nth(1).unwrap_or_else(|| "fuzz-seeds".into()));
    std::fs::create_dir_all(&dir)?;
    for page_size in [512, 1024] {
        std::fs::write(dir.join(format!("seed-vault-{page_size}")), keygate_vault::fuzzing::seed_vault(page_size))?;
    }
    Ok(())
}
