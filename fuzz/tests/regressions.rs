//! Every committed input, seed or former crash, runs through its target as
//! an ordinary test: a fixed crash that comes back fails `cargo test`.

use tessera_fuzz::corpus;
use tessera_fuzz::targets::TARGETS;

#[test]
fn every_committed_input_runs_through_its_target() {
    let mut ran = 0;
    for target in TARGETS {
        for kind in ["corpus", "regressions"] {
            let dir = corpus::dir(kind, target.name);
            for (path, bytes) in corpus::load(&dir).expect("the input folders read") {
                let result = std::panic::catch_unwind(|| (target.run)(&bytes));
                assert!(
                    result.is_ok(),
                    "{} panicked on {}",
                    target.name,
                    path.display()
                );
                ran += 1;
            }
        }
    }
    assert!(ran >= TARGETS.len(), "only {ran} committed inputs");
}

#[test]
fn every_target_has_seeds_and_every_folder_a_target() {
    for target in TARGETS {
        let seeds = corpus::load(&corpus::dir("corpus", target.name)).expect("the corpus reads");
        assert!(!seeds.is_empty(), "{} has no seed corpus", target.name);
    }
    for kind in ["corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(corpus::root().join(kind)) else {
            continue;
        };
        for entry in entries {
            let name = entry.expect("the folder lists").file_name();
            let name = name.to_string_lossy();
            assert!(
                tessera_fuzz::targets::find(&name).is_some(),
                "{kind}/{name} names no target"
            );
        }
    }
}
