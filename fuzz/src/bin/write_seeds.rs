//! Writes the seed corpus: `fuzz/corpus/<target>/seed-<name>`, from the real
//! encoders and the repository's config files. Run by scripts/fuzz.sh
//! before fuzzing, so that seeds follow the current wire format.

use std::path::Path;

fn main() {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR"));
    let repo = fuzz.parent().expect("the fuzz crate sits in the repository");
    let mut seeds = mochi_fuzz::message_seeds();
    seeds.extend(mochi_fuzz::text_seeds(repo));
    for (target, name, bytes) in &seeds {
        let dir = fuzz.join("corpus").join(target);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        let path = dir.join(format!("seed-{name}"));
        std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    }
    println!("wrote {} seeds under {}", seeds.len(), fuzz.join("corpus").display());
}
