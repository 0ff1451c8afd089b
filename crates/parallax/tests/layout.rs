//! Every crate's integration tests build as one binary whose `tests/main.rs` declares each file
//! as a module (`autotests = false`): a file missing from its `main.rs` would never be compiled
//! or run. This checks every crate of the workspace.

use std::path::Path;

#[test]
fn every_test_file_is_a_module_of_its_crates_test_binary() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut checked = 0;
    for krate in std::fs::read_dir(&crates).unwrap() {
        let tests = krate.unwrap().path().join("tests");
        let Ok(entries) = std::fs::read_dir(&tests) else {
            continue;
        };
        let main = std::fs::read_to_string(tests.join("main.rs"))
            .unwrap_or_else(|e| panic!("{}: no main.rs ({e})", tests.display()));
        let declared: Vec<&str> = main
            .lines()
            .filter_map(|l| l.trim().strip_prefix("mod ")?.strip_suffix(';'))
            .collect();
        for e in entries {
            let path = e.unwrap().path();
            let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
            let is_test_file = path.extension().is_some_and(|x| x == "rs") && stem != "main";
            let is_module_dir = path.join("mod.rs").is_file();
            if is_test_file || is_module_dir {
                assert!(
                    declared.contains(&stem.as_str()),
                    "{}: `mod {stem};` is missing from {}",
                    path.display(),
                    tests.join("main.rs").display()
                );
                checked += 1;
            }
        }
    }
    // the eight crates' test files (and their shared `common` modules)
    assert!(checked > 100, "only {checked} test files found");
}
