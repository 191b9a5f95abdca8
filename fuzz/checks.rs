//! What each fuzz target checks, shared by the `cargo fuzz` targets (`fuzz/fuzz_targets/`) and
//! the corpus replay in the test suite (`fuzz/replay.rs`, run by `cargo test`).
//!
//! Each check takes raw bytes and panics on a broken property, never on bad input: bad input
//! must come back as an error value. Beyond "no panic, no hang", every check compares two
//! independent ways of computing the same thing (the one-pass pattern set against one regex per
//! pattern, the in-place protobuf reader against prost, the hand-written decision encoder against
//! prost's) or a law (normalising twice changes nothing).

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use prost::Message;
use routecore::engine::compile::{compile, CompileInput};
use routecore::engine::decide::{decide, Request};
use routecore::engine::doc::PlanDoc;
use routecore::engine::state::LocalState;
use routecore::engine::Plan;
use routecore::error::Error;
use routecore::number::{self, CountryCodes, Kind, Number, MAX_CALLER_DIGITS, MAX_DIGITS};
use routecore::pattern::{Pattern, PatternSet};
use routecore::region::RegionTables;
use routecore::wire::{self, DecisionBytes, RouteDecision};
use routecore::yaml::{self, PathElem, Step};

/// A few country calling codes, enough to reach the international branches.
struct Countries;

impl CountryCodes for Countries {
    fn country_of(&self, code: u16) -> Option<&str> {
        match code {
            1 => Some("US"),
            44 => Some("GB"),
            81 => Some("JP"),
            852 => Some("HK"),
            886 => Some("TW"),
            _ => None,
        }
    }
}

// --- rust/number.rs ----------------------------------------------------------------------------

fn check_number(input: &str, n: Number, max_digits: usize) {
    let digits = n.as_str();
    assert!(
        digits.bytes().all(|b| b.is_ascii_digit()),
        "{input:?} → {digits:?}: not only digits"
    );
    assert!(
        digits.len() <= max_digits,
        "{input:?} → {digits:?}: too long"
    );
    assert_eq!(
        n.kind == Kind::Anonymous,
        digits.is_empty(),
        "{input:?} → {n:?}: anonymous exactly when it has no digits"
    );
}

/// `number::normalize` and `normalize_caller`: no panic; a result is digits only, within its
/// bound, anonymous exactly when empty; normalising the result again gives it back; a called
/// number that normalises is a caller that normalises the same.
pub fn number(data: &[u8]) {
    let input = String::from_utf8_lossy(data);
    let called = number::normalize(&input, &Countries);
    let caller = number::normalize_caller(&input, &Countries);
    match (&called, &caller) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "{input:?}: called and caller forms differ"),
        (Ok(a), Err(e)) => panic!("{input:?}: a called number {a:?} but not a caller: {e}"),
        _ => {}
    }
    if let Ok(n) = called {
        check_number(&input, n, MAX_DIGITS);
        let again = number::normalize(n.as_str(), &Countries)
            .unwrap_or_else(|e| panic!("{input:?} → {n:?} does not normalise again: {e}"));
        assert_eq!(again, n, "{input:?}: normalising twice changed it");
    }
    match caller {
        Ok(n) => {
            check_number(&input, n, MAX_CALLER_DIGITS);
            let again = number::normalize_caller(n.as_str(), &Countries)
                .unwrap_or_else(|e| panic!("{input:?} → {n:?} does not normalise again: {e}"));
            assert_eq!(again, n, "{input:?}: normalising a caller twice changed it");
        }
        Err(e) => {
            assert!(!e.reason.is_empty(), "{input:?}: an error without a reason");
            // The input shown in a message is cut to 64 characters (each escaped at worst as
            // `\u{10ffff}`), so a huge one never floods a log.
            assert!(e.shown.len() <= 64 * 10 + 8, "{input:?}: {e}");
        }
    }
}

// --- rust/pattern.rs ---------------------------------------------------------------------------

/// The dial-pattern language (`pattern.rs` module docs) as a regex over bytes: an independent
/// reading of the same rules, for a pattern that `Pattern::parse` accepted.
fn reference_regex(source: &str) -> regex::bytes::Regex {
    const ANY: &str = "(?s-u:.)";
    let mut out = String::from(r"\A");
    match source.strip_prefix('_') {
        None => {
            for c in source.chars().filter(|&c| c != '-') {
                out.push_str(&regex::escape(&c.to_string()));
            }
            out.push_str(ANY);
            out.push('*');
        }
        Some(body) => {
            let mut chars = body.chars();
            while let Some(c) = chars.next() {
                match c {
                    '-' => {}
                    'X' | 'x' => out.push_str("[0-9]"),
                    'Z' | 'z' => out.push_str("[1-9]"),
                    'N' | 'n' => out.push_str("[2-9]"),
                    '.' => {
                        out.push_str(ANY);
                        out.push('+');
                    }
                    '!' => {
                        out.push_str(ANY);
                        out.push('*');
                    }
                    '[' => {
                        out.push('[');
                        for c in chars.by_ref() {
                            if c == ']' {
                                break;
                            }
                            match c {
                                '*' | '#' => out.push_str(&regex::escape(&c.to_string())),
                                _ => out.push(c), // a digit or the `-` of a range
                            }
                        }
                        out.push(']');
                    }
                    _ => out.push_str(&regex::escape(&c.to_string())),
                }
            }
        }
    }
    out.push_str(r"\z");
    regex::bytes::Regex::new(&out).unwrap_or_else(|e| panic!("{source:?} → {out:?}: {e}"))
}

/// `Pattern::parse` and `PatternSet`: the input is patterns, one a line, and a number on the
/// last line. No panic; an error names a position inside the pattern; every accepted pattern
/// matches exactly what its regex reading matches; the set (DFA, or NFA past its budget) finds
/// exactly the patterns that match one by one, the first of them first.
pub fn pattern(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut lines: Vec<&str> = text.split('\n').collect();
    let number = lines.pop().unwrap_or_default().as_bytes();
    let mut accepted = Vec::new();
    let mut expected = Vec::new();
    for source in lines.into_iter().take(16) {
        match Pattern::parse(source) {
            Ok(p) => {
                let re = reference_regex(source);
                let hit = p.matches(number);
                assert_eq!(
                    hit,
                    re.is_match(number),
                    "{source:?} on {:?}: pattern and its regex reading disagree",
                    String::from_utf8_lossy(number)
                );
                if let Some(max) = p.max_len() {
                    assert!(!hit || number.len() <= max, "{source:?}: max_len");
                }
                assert!(!hit || number.len() >= p.min_len(), "{source:?}: min_len");
                if hit {
                    expected.push(accepted.len());
                }
                accepted.push(p);
            }
            Err(Error::BadPattern {
                pattern, position, ..
            }) => {
                assert_eq!(pattern, source);
                assert!(
                    position <= source.chars().count(),
                    "{source:?}: position {position} is past the end"
                );
            }
            Err(e) => panic!("{source:?}: not a BadPattern: {e:?}"),
        }
    }
    let set = PatternSet::from_patterns(accepted);
    assert_eq!(
        set.matching(number),
        expected,
        "the set and its patterns disagree"
    );
    assert_eq!(set.first_match(number), expected.first().copied());
    assert_eq!(set.matches_any(number), !expected.is_empty());
}

// --- rust/yaml.rs ------------------------------------------------------------------------------

fn collect_paths(
    value: &serde_json::Value,
    path: &mut Vec<Step>,
    out: &mut Vec<Vec<Step>>,
    limit: usize,
) {
    if out.len() >= limit {
        return;
    }
    if !path.is_empty() {
        out.push(path.clone());
    }
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                path.push(Step::Key(k.clone()));
                collect_paths(v, path, out, limit);
                path.pop();
            }
        }
        serde_json::Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                path.push(Step::Index(i as i64));
                collect_paths(v, path, out, limit);
                path.pop();
            }
        }
        _ => {}
    }
}

fn lookup<'a>(root: &'a serde_json::Value, path: &[PathElem]) -> Option<&'a serde_json::Value> {
    path.iter().try_fold(root, |v, step| match step {
        PathElem::Key(k) => v.get(k.as_str()),
        PathElem::Index(i) => v.get(*i),
    })
}

/// `yaml::to_json` and `yaml::lines`: no panic; what the fast reader accepts is a JSON object;
/// every date it reports is a `YYYY-MM-DD` string at that path; every path of the document gets
/// a line within the text.
pub fn yaml(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return; // the loader refuses non-UTF-8 before either reader sees it
    };
    let Ok(fast) = yaml::to_json(text) else {
        return;
    };
    let doc: serde_json::Value = serde_json::from_slice(&fast.json).unwrap_or_else(|e| {
        panic!(
            "the fast reader wrote invalid JSON ({e}): {}",
            String::from_utf8_lossy(&fast.json)
        )
    });
    assert!(doc.is_object() || doc.is_null(), "not a mapping: {doc}");
    for date in &fast.dates {
        let v = lookup(&doc, date).unwrap_or_else(|| panic!("date path {date:?} not in {doc}"));
        let s = v
            .as_str()
            .unwrap_or_else(|| panic!("date {v} is not a string"));
        assert!(
            chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok(),
            "date {s:?}"
        );
    }
    let mut paths = Vec::new();
    collect_paths(&doc, &mut Vec::new(), &mut paths, 256);
    let lines = yaml::lines(text, &paths).expect("what to_json accepts, lines accepts");
    assert_eq!(lines.len(), paths.len());
    let last = text.lines().count().max(1);
    for (path, line) in paths.iter().zip(lines) {
        let line = line.unwrap_or_else(|| panic!("path {path:?} has no line"));
        assert!(
            (1..=last).contains(&line),
            "path {path:?}: line {line} of {last}"
        );
    }
}

// --- rust/engine/compile.rs ----------------------------------------------------------------------

/// A plan input: the engine's plan document (JSON), then optionally a NUL and the text every
/// file list of the plan reads.
fn split_plan(data: &[u8]) -> (&[u8], &str) {
    match data.iter().position(|&b| b == 0) {
        Some(i) => (
            &data[..i],
            std::str::from_utf8(&data[i + 1..]).unwrap_or_default(),
        ),
        None => (data, ""),
    }
}

fn compile_plan(data: &[u8], tables: &RegionTables) -> Option<Result<Plan, Error>> {
    let (json, list_text) = split_plan(data);
    let doc: PlanDoc = serde_json::from_slice(json).ok()?;
    let list_texts: HashMap<String, String> = doc
        .lists
        .iter()
        .filter(|(_, l)| l.file.is_some())
        .map(|(name, _)| (name.clone(), list_text.to_string()))
        .collect();
    Some(compile(CompileInput {
        doc,
        list_texts,
        cn_days: Vec::new(),
        version: "fuzz".to_string(),
        tables,
    }))
}

static TABLES: LazyLock<Arc<RegionTables>> = LazyLock::new(|| Arc::new(RegionTables::default()));

/// Requests every compiled plan must answer with a decision: each of its numbers, called by a
/// mobile, a landline and a withheld caller, on arrival and with menu keys, at a few times.
fn sample_requests(plan: &Plan) -> Vec<(String, &'static str, &'static str, i64)> {
    let mut called: Vec<String> = plan.numbers.keys().map(ToString::to_string).collect();
    called.sort();
    called.truncate(8);
    let mut out = Vec::new();
    for c in called {
        for caller in ["13800138000", "075586000000", ""] {
            for digits in ["", "1", "9T", "0#"] {
                // 2026-11-11 10:00 and 2026-10-01 23:30 in China
                for t in [1_794_362_400_000, 1_790_868_600_000] {
                    out.push((c.clone(), caller, digits, t));
                }
            }
        }
    }
    out
}

/// `engine::compile` on an arbitrary plan document: no panic; a plan that compiles decides
/// every sample request (a served number, valid caller and keys always get a decision, never an
/// error, whatever the plan says) and its decisions encode.
pub fn plan(data: &[u8]) {
    let Some(compiled) = compile_plan(data, &TABLES) else {
        return;
    };
    let plan = match compiled {
        Ok(plan) => plan,
        Err(Error::Plan(issues)) => {
            assert!(!issues.is_empty(), "a plan error without an issue");
            return;
        }
        Err(e) => panic!("compile failed with a non-plan error: {e:?}"),
    };
    let state = LocalState::new();
    for (called, caller, digits, time_ms) in sample_requests(&plan) {
        let req = Request {
            call_id: "fuzz",
            called: &called,
            caller,
            digits,
            time_ms,
            explain: true,
        };
        let d = decide(&plan, &TABLES, &state, &req)
            .unwrap_or_else(|e| panic!("{called} {caller:?} {digits:?}: {e}"));
        check_encoding(&d, &plan.gateway);
    }
}

// --- rust/wire.rs ------------------------------------------------------------------------------

/// The acceptance plan, compiled once (engine JSON + NUL + its fraud list, as the seed corpus
/// has it), to decide the decoded requests on.
static ACCEPTANCE: LazyLock<Plan> = LazyLock::new(|| {
    compile_plan(include_bytes!("seeds/plan/acceptance"), &TABLES)
        .expect("the acceptance plan is an engine document")
        .expect("the acceptance plan compiles")
});

fn check_encoding(d: &routecore::engine::decide::Decision, gateway: &str) {
    let by_prost = wire::decision_message(d, gateway);
    let fields = DecisionBytes::new(d, gateway);
    let mut bytes = Vec::with_capacity(fields.len());
    fields.write(&mut bytes);
    assert_eq!(
        bytes.len(),
        fields.len(),
        "DecisionBytes::len is not what it wrote"
    );
    let decoded = RouteDecision::decode(bytes.as_slice()).expect("our encoding decodes");
    assert_eq!(decoded, by_prost, "our encoder and prost's disagree");
    let json: serde_json::Value =
        serde_json::from_slice(&wire::decision_json(d, gateway)).expect("decision JSON is JSON");
    assert_eq!(json["call_id"], by_prost.call_id.as_str());
    assert_eq!(json["uri"], by_prost.uri.as_str());
}

/// The protobuf decoding path: the in-place reader (`read_request`, `read_batch`) agrees with
/// prost on every input (accept or refuse, and the fields), refusals are `InvalidArgument`
/// naming the message, and every request read is decided without a panic and encodes.
pub fn wire(data: &[u8]) {
    let by_prost = wire::decode_request(data);
    let in_place = wire::read_request(data);
    match (&by_prost, &in_place) {
        (Ok(a), Ok(b)) => assert_eq!(&b.to_message(), a, "read_request and prost disagree"),
        (Err(a), Err(b)) => {
            for e in [a, b] {
                assert!(
                    matches!(e, Error::InvalidArgument(m) if m.starts_with("request: not a RouteRequest")),
                    "{e:?}"
                );
            }
        }
        _ => panic!("prost {by_prost:?} but read_request {in_place:?}"),
    }
    let batch_prost = wire::decode_batch(data);
    let batch_in_place = wire::read_batch(data);
    match (&batch_prost, &batch_in_place) {
        (Ok(a), Ok(b)) => {
            let b: Vec<_> = b.iter().map(wire::RequestRef::to_message).collect();
            assert_eq!(b, a.requests, "read_batch and prost disagree");
        }
        (Err(_), Err(_)) => {}
        _ => panic!("prost {batch_prost:?} but read_batch {batch_in_place:?}"),
    }
    let plan = &*ACCEPTANCE;
    let state = LocalState::new();
    let mut requests: Vec<wire::RequestRef<'_>> = in_place.into_iter().collect();
    if let Ok(batch) = batch_in_place {
        requests.extend(batch.into_iter().take(16));
    }
    for req in &requests {
        match wire::decide_ref(plan, &TABLES, &state, req, 1_794_362_400_000) {
            Ok(d) => check_encoding(&d, &plan.gateway),
            Err(e) => {
                let status = wire::status_name(&e);
                assert!(
                    matches!(status, "INVALID_ARGUMENT" | "NOT_FOUND"),
                    "{req:?}: {status} {e}"
                );
                let mut buf = Vec::new();
                let message = e.to_string();
                wire::write_error(req.call_id, &e, &message, &mut buf);
                assert_eq!(buf.len(), wire::error_len(req.call_id, &e, &message));
                let decoded = RouteDecision::decode(buf.as_slice()).expect("an error decodes");
                assert_eq!(decoded, wire::error_message(req.call_id, &e));
            }
        }
    }
}
