//! The fuzz targets' checks in the test suite (`cargo test`), where libFuzzer is not built:
//! every seed (`fuzz/seeds/<target>/`) and every input a fuzzer once broke
//! (`fuzz/regressions/<target>/`) replayed, then a bounded proptest run of each check on
//! generated inputs shaped like its target's. The long coverage-guided runs are `make fuzz`
//! (docs/fuzzing.md).

extern crate _routecore as routecore;

#[path = "checks.rs"]
mod checks;

use std::fs;
use std::path::{Path, PathBuf};

use proptest::prelude::*;

fn inputs(target: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut out = Vec::new();
    for dir in ["seeds", "regressions"] {
        if let Ok(entries) = fs::read_dir(root.join(dir).join(target)) {
            out.extend(entries.map(|e| e.expect("a corpus entry").path()));
        }
    }
    out.sort();
    out
}

fn replay(target: &str, check: fn(&[u8])) -> usize {
    let files = inputs(target);
    for f in &files {
        let data = fs::read(f).expect("a corpus file");
        let passed = std::panic::catch_unwind(|| check(&data)).is_ok();
        assert!(passed, "{} broke the {target} check", f.display());
    }
    files.len()
}

#[test]
fn number_corpus() {
    assert!(replay("number", checks::number) >= 10);
}

#[test]
fn pattern_corpus() {
    assert!(replay("pattern", checks::pattern) >= 5);
}

#[test]
fn yaml_corpus() {
    assert!(replay("yaml", checks::yaml) >= 10);
}

#[test]
fn plan_corpus() {
    assert!(replay("plan", checks::plan) >= 3);
}

#[test]
fn wire_corpus() {
    assert!(replay("wire", checks::wire) >= 10);
}

/// A seed with a few bytes overwritten, inserted or cut: what a mutating fuzzer starts with.
fn mutated(target: &'static str) -> impl Strategy<Value = Vec<u8>> {
    let seeds: Vec<Vec<u8>> = inputs(target)
        .iter()
        .map(|f| fs::read(f).expect("a corpus file"))
        .collect();
    let n = seeds.len();
    (
        0..n,
        proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0..3u8), 1..6),
    )
        .prop_map(move |(i, edits)| {
            let mut data = seeds[i].clone();
            for (at, byte, how) in edits {
                if data.is_empty() {
                    data.push(byte);
                    continue;
                }
                let at = at.index(data.len());
                match how {
                    0 => data[at] = byte,
                    1 => data.insert(at, byte),
                    _ => {
                        data.remove(at);
                    }
                }
            }
            data
        })
}

/// Inputs that break a check go to fuzz/regressions/<target>/ by hand, not proptest's files.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn number_forms(s in r"(tel:|sip:)?[+]?(00|86|0)?[0-9 ()\-.]{0,34}(@[a-z0-9.]{0,12})?(;user=phone)?") {
        checks::number(s.as_bytes());
    }

    #[test]
    fn number_bytes(b in proptest::collection::vec(any::<u8>(), 0..300)) {
        checks::number(&b);
    }

    #[test]
    fn patterns(
        ps in proptest::collection::vec(r"_?([0-9XxZzNn*#.!\-]|\[[0-9*#\-]{0,4}\]){0,12}", 0..6),
        number in r"[0-9*#a]{0,16}",
    ) {
        let mut text = ps.join("\n");
        text.push('\n');
        text.push_str(&number);
        checks::pattern(text.as_bytes());
    }

    #[test]
    fn wire_bytes(b in proptest::collection::vec(any::<u8>(), 0..200)) {
        checks::wire(&b);
    }

    #[test]
    fn wire_mutated(b in mutated("wire")) {
        checks::wire(&b);
    }

    #[test]
    fn yaml_mutated(b in mutated("yaml")) {
        checks::yaml(&b);
    }
}

proptest! {
    // A compile and a few hundred decisions each: fewer cases.
    #![proptest_config(config(48))]

    #[test]
    fn plan_mutated(b in mutated("plan")) {
        checks::plan(&b);
    }
}
