//! Dial patterns (`spec/plan-format.md`, "Dial patterns follow Asterisk") and sets of them.
//!
//! # The language
//!
//! A pattern starts with `_`; then each character matches one symbol of the number:
//! `X` = `0-9`, `Z` = `1-9`, `N` = `2-9` (lower case too, as in Asterisk), a set such as
//! `[137]` or `[1-5]` (ranges and single symbols mixed, e.g. `[1-35#]`), a digit, `*` or `#`
//! itself. `.` matches one or more symbols, `!` zero or more, anywhere in the pattern. The
//! whole number must match. A string without the leading `_` is a plain prefix: the number
//! must start with it (`0755` is `_0755!`). As in Asterisk, `-` outside a set is eye candy
//! and ignored (`_138-0013-XXXX`); anything else is refused with its position
//! ([`Error::BadPattern`]). Numbers are matched as given (callers normalise first): `.` and
//! `!` also match a byte that is neither a digit nor `*`/`#`, nothing else does.
//!
//! # Engine: an NFA without ε-moves, determinised eagerly, not `regex::bytes::RegexSet`
//!
//! Every pattern is a chain of single-symbol steps, and `.`/`!` only add a self-loop on
//! the state they stand at (`.` is one "any" step, then a loop). So a pattern of `k` steps
//! is an NFA of `k + 1` states with no ε-moves, and a set is the concatenation of those
//! chains. [`PatternSet`] determinises that NFA when it is built (subset construction
//! over sorted sets of NFA states): every pattern is anchored and numbers are short, so
//! the DFA has roughly one state per distinct pattern prefix, and matching is one table
//! load per symbol whatever the set's size, stopping at the dead state. Each DFA state
//! lists the patterns it accepts in insertion order, so `first_match` and `matching` cost
//! no more than `matches_any`. `.`/`!` in mid-pattern can multiply the subsets
//! (`_!1XXXXXXXXXXXXXXX` needs 2^16), so past a budget ([`DFA_MAX_STATES`],
//! [`DFA_MAX_ELEMENTS`], which also bound the build: 10 ms to give up on that pattern)
//! a set keeps to the NFA
//! itself, simulated bit-parallel: `next = ((cur << 1) & enter[c]) | (cur & loops)` per
//! 64-bit word (Shift-And with self-loops), which is also what the tests check the DFA
//! against.
//!
//! Measured (`cargo test --release --lib pattern::tests::measure -- --ignored --nocapture`,
//! 200 000 random 11-digit numbers against random patterns shaped like the plan's
//! `_1380013XXXX`, one core, best of five):
//!
//! | patterns | `first_match` DFA | bit-parallel NFA | `RegexSet::matches` | `RegexSet::is_match` | build: ours / `RegexSet` |
//! | ---: | ---: | ---: | ---: | ---: | ---: |
//! | 1 | 6 ns | 6 ns | 35 ns | 14 ns | 44 µs / 112 µs |
//! | 10 | 11 ns | 13 ns | 46 ns | 19 ns | 127 µs / 142 µs |
//! | 100 | 13 ns | 121 ns | 97 ns | 20 ns | 0.8 ms / 0.9 ms |
//! | 1000 | 14 ns | 852 ns | 616 ns | 23 ns | 6.7 ms / 9.1 ms |
//!
//! `RegexSet` would need a translation of the language into regex syntax (one more place
//! to disagree with the spec), its `matches` computes every match to answer "which first",
//! and its lazy DFA keeps a mutable cache behind a pool; ours is plain immutable tables.
//! The DFA costs 52 bytes a state (at most [`DFA_MAX_STATES`]); the NFA `13 × ⌈states/64⌉`
//! words.

use std::collections::HashMap;
use std::fmt;

use crate::error::{Error, Result};

/// Symbols a number is read as: `0`–`9`, `*`, `#`, and "other" for any other byte.
const SYMBOLS: usize = 13;
const STAR: usize = 10;
const HASH: usize = 11;
const OTHER: usize = 12;
/// Mask of every symbol, "other" included (what `.` and `!` match).
const ANY: u16 = (1 << SYMBOLS) - 1;
/// Mask of `0`–`9`.
const DIGITS: u16 = (1 << 10) - 1;

/// Byte → symbol, so the hot loop does one table load per byte.
static SYMBOL_OF: [u8; 256] = {
    let mut table = [OTHER as u8; 256];
    let mut d = 0;
    while d < 10 {
        table[b'0' as usize + d] = d as u8;
        d += 1;
    }
    table[b'*' as usize] = STAR as u8;
    table[b'#' as usize] = HASH as u8;
    table
};

/// One compiled dial pattern: `steps[i]` is the set of symbols (bit `s` for symbol `s`)
/// that moves the match from state `i` to state `i + 1`; `loops[i]` says state `i`
/// also stays put on any symbol (a `.` or `!` stands there). The number matches when,
/// after its last symbol, state `steps.len()` is reachable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    source: String,
    steps: Vec<u16>,
    loops: Vec<bool>,
    prefix: bool,
}

fn bad(pattern: &str, position: usize, reason: impl Into<String>) -> Error {
    Error::BadPattern {
        pattern: pattern.to_string(),
        position,
        reason: reason.into(),
    }
}

fn symbol_bit(c: char) -> Option<u16> {
    match c {
        '0'..='9' => Some(1 << (c as u32 - '0' as u32)),
        '*' => Some(1 << STAR),
        '#' => Some(1 << HASH),
        _ => None,
    }
}

impl Pattern {
    /// Compiles one pattern (or plain prefix). Errors name the 0-based character position.
    ///
    /// O(len) time and space.
    pub fn parse(source: &str) -> Result<Pattern> {
        let mut out = Pattern {
            source: source.to_string(),
            steps: Vec::new(),
            loops: vec![false],
            prefix: false,
        };
        let Some(body) = source.strip_prefix('_') else {
            out.prefix = true;
            for (i, c) in source.chars().enumerate() {
                match c {
                    '-' => {}
                    'X' | 'x' | 'Z' | 'z' | 'N' | 'n' | '.' | '!' | '[' | ']' => {
                        return Err(bad(
                            source,
                            i,
                            format!("{c:?} is a pattern character: a dial pattern starts with `_`"),
                        ));
                    }
                    _ => match symbol_bit(c) {
                        Some(bit) => out.push_step(bit),
                        None => return Err(bad(source, i, format!("unexpected character {c:?}"))),
                    },
                }
            }
            if out.steps.is_empty() {
                return Err(bad(source, 0, "empty pattern"));
            }
            out.loops[out.steps.len()] = true;
            return Ok(out);
        };
        let mut chars = body.chars().enumerate().map(|(i, c)| (i + 1, c)).peekable();
        let mut elements = 0usize;
        while let Some((i, c)) = chars.next() {
            match c {
                '-' => continue,
                'X' | 'x' => out.push_step(DIGITS),
                'Z' | 'z' => out.push_step(DIGITS & !1),
                'N' | 'n' => out.push_step(DIGITS & !0b11),
                '.' => {
                    out.push_step(ANY);
                    *out.loops
                        .last_mut()
                        .expect("one state per step plus the start") = true;
                }
                '!' => {
                    *out.loops
                        .last_mut()
                        .expect("one state per step plus the start") = true;
                }
                '[' => {
                    let mut mask = 0u16;
                    let mut closed = false;
                    while let Some((j, c)) = chars.next() {
                        if c == ']' {
                            closed = true;
                            break;
                        }
                        let Some(bit) = symbol_bit(c) else {
                            let reason = if c == '-' {
                                "range without a start".to_string()
                            } else {
                                format!("unexpected character {c:?} in a set")
                            };
                            return Err(bad(source, j, reason));
                        };
                        if chars.peek().is_some_and(|&(_, c)| c == '-') {
                            let (dash, _) = chars.next().expect("peeked");
                            let Some((_, end)) = chars.next().filter(|&(_, e)| e != ']') else {
                                return Err(bad(source, dash, "range without an end"));
                            };
                            if !c.is_ascii_digit() || !end.is_ascii_digit() {
                                return Err(bad(
                                    source,
                                    j,
                                    format!("a range joins two digits, not {c}-{end}"),
                                ));
                            }
                            if end < c {
                                return Err(bad(
                                    source,
                                    j,
                                    format!("bad range {c}-{end}: start after end"),
                                ));
                            }
                            let (lo, hi) = (c as u32 - '0' as u32, end as u32 - '0' as u32);
                            mask |= ((1u16 << (hi + 1)) - 1) & !((1u16 << lo) - 1);
                        } else {
                            mask |= bit;
                        }
                    }
                    if !closed {
                        return Err(bad(source, i, "unclosed `[`"));
                    }
                    if mask == 0 {
                        return Err(bad(source, i, "empty set `[]`"));
                    }
                    out.push_step(mask);
                }
                ']' => return Err(bad(source, i, "`]` without its `[`")),
                _ => match symbol_bit(c) {
                    Some(bit) => out.push_step(bit),
                    None => return Err(bad(source, i, format!("unexpected character {c:?}"))),
                },
            }
            elements += 1;
        }
        if elements == 0 {
            return Err(bad(source, 0, "`_` needs a pattern after it"));
        }
        Ok(out)
    }

    fn push_step(&mut self, mask: u16) {
        self.steps.push(mask);
        self.loops.push(false);
    }

    /// The text it was compiled from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether it was written as a plain prefix (no leading `_`).
    pub fn is_prefix(&self) -> bool {
        self.prefix
    }

    /// The fewest symbols a matching number has. O(1).
    pub fn min_len(&self) -> usize {
        self.steps.len()
    }

    /// The most symbols a matching number has, `None` if unbounded (`.`, `!`, a prefix). O(len).
    pub fn max_len(&self) -> Option<usize> {
        (!self.loops.iter().any(|&l| l)).then_some(self.steps.len())
    }

    /// Whether `number` matches. O(len(number) × len(pattern)) with one allocation; for a
    /// hot path or several patterns use a [`PatternSet`].
    pub fn matches(&self, number: &[u8]) -> bool {
        let mut live = vec![false; self.steps.len() + 1];
        live[0] = true;
        for &b in number {
            let s = SYMBOL_OF[b as usize];
            let mut any = false;
            for i in (0..live.len()).rev() {
                let enter = i > 0 && live[i - 1] && self.steps[i - 1] & (1 << s) != 0;
                live[i] = enter || (live[i] && self.loops[i]);
                any |= live[i];
            }
            if !any {
                return false;
            }
        }
        live[self.steps.len()]
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// Many patterns compiled into one automaton, so one pass over a number decides every
/// pattern at once (see the module docs). Immutable, `Send + Sync`.
///
/// Matching is O(len(number)) with the DFA, O(len(number) × ⌈states / 64⌉) without it,
/// where `states` is the total pattern length plus one per pattern. Memory: 52 bytes a
/// DFA state, plus `16 × ⌈states / 64⌉` words and 4 bytes a state for the NFA.
#[derive(Debug, Clone)]
pub struct PatternSet {
    patterns: Vec<Pattern>,
    words: usize,
    /// `enter[s * words + w]`: the states one can enter on symbol `s`.
    enter: Vec<u64>,
    loops: Vec<u64>,
    start: Vec<u64>,
    accept: Vec<u64>,
    /// Pattern index of each state bit; patterns are laid out in insertion order, so the
    /// lowest accepting bit is the first matching pattern.
    owner: Vec<u32>,
    /// The same automaton determinised, when it stays within [`DFA_MAX_STATES`].
    dfa: Option<Dfa>,
}

/// Most DFA states built before a set keeps to its NFA (≈ 850 kB of transitions).
const DFA_MAX_STATES: usize = 1 << 14;
/// Most NFA states held over all DFA states while building. Each DFA state is expanded
/// once, so this also bounds the build's work (`SYMBOLS ×` this many steps, a few ms):
/// enough for about ten thousand patterns of the `_1380013XXXX` kind.
const DFA_MAX_ELEMENTS: usize = 1 << 18;

/// A DFA over the symbols: state 0 is dead (absorbing), rows of [`SYMBOLS`] next states.
#[derive(Debug, Clone)]
struct Dfa {
    start: u32,
    trans: Vec<u32>,
    /// `hits[hits_at[q]..hits_at[q + 1]]`: the patterns state `q` accepts, ascending.
    hits_at: Vec<u32>,
    hits: Vec<u32>,
}

impl Dfa {
    /// Subset construction over sparse sets of NFA states (sorted ids). Anchored patterns
    /// over short numbers make few subsets (about one per distinct pattern prefix), but
    /// `.`/`!` mid-pattern can multiply them, hence the budgets. O(DFA states × SYMBOLS ×
    /// live NFA states) time.
    fn build(
        out: &[u16],
        looped: &[bool],
        owner_of_accept: &[u32],
        start: Vec<u32>,
    ) -> Option<Dfa> {
        let mut ids: HashMap<Vec<u32>, u32> = HashMap::new();
        ids.insert(Vec::new(), 0);
        let mut sets: Vec<Vec<u32>> = vec![Vec::new()];
        let mut elements = start.len();
        let start_id = if start.is_empty() {
            0
        } else {
            ids.insert(start.clone(), 1);
            sets.push(start);
            1
        };
        let mut trans = vec![0u32; sets.len() * SYMBOLS];
        let mut q = 1;
        let mut next = Vec::new();
        while q < sets.len() {
            let from = std::mem::take(&mut sets[q]);
            for s in 0..SYMBOLS {
                next.clear();
                // `from` is ascending and each state adds itself and/or its successor,
                // so `next` comes out non-decreasing: dedup leaves it sorted and unique.
                for &n in &from {
                    if looped[n as usize] {
                        next.push(n);
                    }
                    if out[n as usize] & (1 << s) != 0 {
                        next.push(n + 1);
                    }
                }
                next.dedup();
                let id = if let Some(&id) = ids.get(&next) {
                    id
                } else {
                    elements += next.len();
                    if sets.len() >= DFA_MAX_STATES || elements > DFA_MAX_ELEMENTS {
                        return None;
                    }
                    let id = sets.len() as u32;
                    ids.insert(next.clone(), id);
                    sets.push(next.clone());
                    trans.extend([0; SYMBOLS]);
                    id
                };
                trans[q * SYMBOLS + s] = id;
            }
            sets[q] = from;
            q += 1;
        }
        let mut hits_at = Vec::with_capacity(sets.len() + 1);
        let mut hits = Vec::new();
        for set in &sets {
            hits_at.push(hits.len() as u32);
            hits.extend(
                set.iter()
                    .map(|&n| owner_of_accept[n as usize])
                    .filter(|&o| o != u32::MAX),
            );
        }
        hits_at.push(hits.len() as u32);
        Some(Dfa {
            start: start_id,
            trans,
            hits_at,
            hits,
        })
    }

    /// The patterns that accept `number`. O(len(number)): one table load per symbol.
    fn hits(&self, number: &[u8]) -> &[u32] {
        let mut q = self.start as usize;
        for &b in number {
            q = self.trans[q * SYMBOLS + SYMBOL_OF[b as usize] as usize] as usize;
            if q == 0 {
                break;
            }
        }
        &self.hits[self.hits_at[q] as usize..self.hits_at[q + 1] as usize]
    }
}

impl PatternSet {
    /// Compiles every pattern; the first bad one is the error. O(total length) for the NFA,
    /// plus the subset construction (see [`Dfa`]'s budget).
    pub fn new<I, S>(patterns: I) -> Result<PatternSet>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let patterns = patterns
            .into_iter()
            .map(|p| Pattern::parse(p.as_ref()))
            .collect::<Result<Vec<_>>>()?;
        Ok(PatternSet::from_patterns(patterns))
    }

    /// Lays compiled patterns out in one NFA and determinises it within budget.
    pub fn from_patterns(patterns: Vec<Pattern>) -> PatternSet {
        let states: usize = patterns.iter().map(|p| p.steps.len() + 1).sum();
        let words = match states.div_ceil(64) {
            0 | 1 => 1,
            n if n <= 16 => n.next_power_of_two(),
            n => n,
        };
        let mut set = PatternSet {
            enter: vec![0; SYMBOLS * words],
            loops: vec![0; words],
            start: vec![0; words],
            accept: vec![0; words],
            owner: Vec::with_capacity(states),
            words,
            patterns: Vec::new(),
            dfa: None,
        };
        let mut out = Vec::with_capacity(states);
        let mut looped = Vec::with_capacity(states);
        let mut owner_of_accept = Vec::with_capacity(states);
        let mut starts = Vec::with_capacity(patterns.len());
        let mut base = 0usize;
        for (index, p) in patterns.iter().enumerate() {
            let set_bit = |v: &mut [u64], bit: usize| v[bit / 64] |= 1 << (bit % 64);
            set_bit(&mut set.start, base);
            set_bit(&mut set.accept, base + p.steps.len());
            for (i, &looped) in p.loops.iter().enumerate() {
                if looped {
                    set_bit(&mut set.loops, base + i);
                }
            }
            for (i, &mask) in p.steps.iter().enumerate() {
                for s in 0..SYMBOLS {
                    if mask & (1 << s) != 0 {
                        set_bit(&mut set.enter[s * words..(s + 1) * words], base + i + 1);
                    }
                }
            }
            set.owner
                .extend(std::iter::repeat_n(index as u32, p.steps.len() + 1));
            starts.push(base as u32);
            out.extend(p.steps.iter().copied().chain([0]));
            looped.extend(&p.loops);
            owner_of_accept
                .extend(std::iter::repeat_n(u32::MAX, p.steps.len()).chain([index as u32]));
            base += p.steps.len() + 1;
        }
        set.dfa = Dfa::build(&out, &looped, &owner_of_accept, starts);
        set.patterns = patterns;
        set
    }

    /// Whether the set runs as a DFA (else as the bit-parallel NFA; see the module docs).
    pub fn is_deterministic(&self) -> bool {
        self.dfa.is_some()
    }

    #[cfg(test)]
    fn without_dfa(mut self) -> PatternSet {
        self.dfa = None;
        self
    }

    /// Number of patterns.
    pub fn len(&self) -> usize {
        self.patterns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// The compiled patterns, in insertion order.
    pub fn patterns(&self) -> &[Pattern] {
        &self.patterns
    }

    /// Runs the NFA over `number` and hands the final states to `done` (all zero once no
    /// pattern can match). O(len(number) × ⌈states / 64⌉), stopping early when every
    /// pattern has failed.
    fn run<R>(&self, number: &[u8], done: impl FnOnce(&[u64]) -> R) -> R {
        // Fixed widths let the compiler keep the state in registers and unroll the word
        // loop; `from_patterns` pads `words` up to one of them.
        match self.words {
            1 => self.run_fixed::<1, R>(number, done),
            2 => self.run_fixed::<2, R>(number, done),
            4 => self.run_fixed::<4, R>(number, done),
            8 => self.run_fixed::<8, R>(number, done),
            16 => self.run_fixed::<16, R>(number, done),
            _ => self.run_heap(number, done),
        }
    }

    fn run_fixed<const W: usize, R>(&self, number: &[u8], done: impl FnOnce(&[u64]) -> R) -> R {
        let loops: &[u64; W] = self.loops[..].try_into().expect("padded width");
        let mut cur: [u64; W] = self.start[..].try_into().expect("padded width");
        for &b in number {
            let s = SYMBOL_OF[b as usize] as usize;
            let enter: &[u64; W] = self.enter[s * W..(s + 1) * W]
                .try_into()
                .expect("padded width");
            let mut next = [0u64; W];
            let mut carry = 0u64;
            let mut any = 0u64;
            for w in 0..W {
                let c = cur[w];
                next[w] = (((c << 1) | carry) & enter[w]) | (c & loops[w]);
                carry = c >> 63;
                any |= next[w];
            }
            cur = next;
            if any == 0 {
                break;
            }
        }
        done(&cur)
    }

    fn run_heap<R>(&self, number: &[u8], done: impl FnOnce(&[u64]) -> R) -> R {
        let words = self.words;
        let mut cur = self.start.clone();
        let mut next = vec![0u64; words];
        for &b in number {
            let s = SYMBOL_OF[b as usize] as usize;
            let enter = &self.enter[s * words..(s + 1) * words];
            let mut carry = 0u64;
            let mut any = 0u64;
            for (((n, &c), &e), &l) in next.iter_mut().zip(&cur).zip(enter).zip(&self.loops) {
                *n = (((c << 1) | carry) & e) | (c & l);
                carry = c >> 63;
                any |= *n;
            }
            std::mem::swap(&mut cur, &mut next);
            if any == 0 {
                break;
            }
        }
        done(&cur)
    }

    /// Whether any pattern matches. O(len(number)) (see the type's docs).
    pub fn matches_any(&self, number: &[u8]) -> bool {
        if let Some(dfa) = &self.dfa {
            return !dfa.hits(number).is_empty();
        }
        self.run(number, |st| {
            st.iter().zip(&self.accept).any(|(s, a)| s & a != 0)
        })
    }

    /// The index (insertion order) of the first pattern that matches. O(len(number)).
    pub fn first_match(&self, number: &[u8]) -> Option<usize> {
        if let Some(dfa) = &self.dfa {
            return dfa.hits(number).first().map(|&i| i as usize);
        }
        self.run(number, |st| {
            st.iter()
                .zip(&self.accept)
                .enumerate()
                .find_map(|(w, (s, a))| {
                    let hit = s & a;
                    (hit != 0).then(|| self.owner[w * 64 + hit.trailing_zeros() as usize] as usize)
                })
        })
    }

    /// The indices of every matching pattern, ascending. O(len(number) + matches).
    pub fn matching(&self, number: &[u8]) -> Vec<usize> {
        if let Some(dfa) = &self.dfa {
            return dfa.hits(number).iter().map(|&i| i as usize).collect();
        }
        self.run(number, |st| {
            let mut out = Vec::new();
            for (w, (s, a)) in st.iter().zip(&self.accept).enumerate() {
                let mut hit = s & a;
                while hit != 0 {
                    out.push(self.owner[w * 64 + hit.trailing_zeros() as usize] as usize);
                    hit &= hit - 1;
                }
            }
            out
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pos(src: &str) -> (usize, String) {
        match Pattern::parse(src) {
            Err(Error::BadPattern {
                pattern,
                position,
                reason,
            }) => {
                assert_eq!(pattern, src);
                (position, reason)
            }
            other => panic!("{src:?} should not compile: {other:?}"),
        }
    }

    fn m(p: &str, n: &str) -> bool {
        let single = Pattern::parse(p).unwrap().matches(n.as_bytes());
        let set = PatternSet::new([p]).unwrap();
        assert!(set.is_deterministic());
        assert_eq!(single, set.matches_any(n.as_bytes()), "{p} on {n}");
        assert_eq!(
            single,
            set.without_dfa().matches_any(n.as_bytes()),
            "{p} on {n}"
        );
        single
    }

    #[test]
    fn letters_and_sets() {
        assert!(m("_1380013XXXX", "13800131234"));
        assert!(!m("_1380013XXXX", "1380013123"), "too short");
        assert!(!m("_1380013XXXX", "138001312345"), "too long");
        assert!(m("_NXX", "200") && !m("_NXX", "100") && !m("_NXX", "000"));
        assert!(m("_ZX", "10") && !m("_ZX", "01"));
        assert!(
            m("_nxx", "299") && m("_zx", "90"),
            "lower case as in Asterisk"
        );
        assert!(m("_[137]", "3") && !m("_[137]", "2"));
        assert!(m("_[1-5]", "1") && m("_[1-5]", "5") && !m("_[1-5]", "6") && !m("_[1-5]", "0"));
        assert!(m("_[1-35-7#]", "6") && m("_[1-35-7#]", "#") && !m("_[1-35-7#]", "4"));
        assert!(m("_*9X#", "*95#") && !m("_*9X#", "995#"));
        assert!(!m("_X", "*") && !m("_X", "a"));
    }

    #[test]
    fn wildcards() {
        assert!(m("_0755.", "07551") && m("_0755.", "075586000000") && !m("_0755.", "0755"));
        assert!(m("_0755!", "0755") && m("_0755!", "07551234"));
        assert!(m("_1.5", "1235") && m("_1.5", "125") && !m("_1.5", "15"));
        assert!(m("_1!5", "15") && m("_1!5", "1x5"));
        assert!(m("_!", "") && m("_!", "abc") && !m("_.", ""));
        assert!(m("_.5", "55") && m("_.5", "x5") && !m("_.5", "5"));
        assert!(m("_X.X", "123") && !m("_X.X", "12"));
    }

    #[test]
    fn plain_prefix_and_fluff() {
        assert!(m("0755", "0755") && m("0755", "075586000000") && !m("0755", "075"));
        assert!(!m("0755", "10755"));
        assert!(m("_138-0013-XXXX", "13800131234"));
        assert!(m("138-0013", "138001312"));
        let p = Pattern::parse("0755").unwrap();
        assert!(p.is_prefix() && p.min_len() == 4 && p.max_len().is_none());
        let p = Pattern::parse("_1[2-3]X").unwrap();
        assert!(!p.is_prefix() && p.min_len() == 3 && p.max_len() == Some(3));
        assert_eq!(p.to_string(), "_1[2-3]X");
    }

    #[test]
    fn errors_name_the_position() {
        assert_eq!(pos("_").0, 0);
        assert!(pos("_").1.contains("needs a pattern"));
        assert!(pos("_--").1.contains("needs a pattern"));
        assert_eq!(pos("").0, 0);
        assert!(pos("-").1.contains("empty"));
        assert_eq!(pos("_12[34"), (3, "unclosed `[`".to_string()));
        assert_eq!(pos("_12[]"), (3, "empty set `[]`".to_string()));
        let (p, r) = pos("_1[5-1]");
        assert_eq!(p, 3);
        assert!(r.contains("5-1"), "{r}");
        assert_eq!(pos("_1[5-]").0, 4);
        assert!(pos("_1[5-]").1.contains("without an end"));
        assert_eq!(pos("_1[-5]").0, 3);
        assert_eq!(pos("_1[1-#]").0, 3);
        assert_eq!(pos("_1[a]").0, 3);
        assert_eq!(pos("_1[[1]").0, 3);
        assert_eq!(pos("_12]").0, 3);
        assert_eq!(pos("_12A").0, 3);
        assert_eq!(pos("_1 2").0, 2);
        assert_eq!(pos("_1_2").0, 2);
        assert_eq!(pos("_中X").0, 1);
        assert_eq!(pos("中_X").0, 0);
        let (p, r) = pos("138XXXX");
        assert_eq!(p, 3);
        assert!(r.contains("starts with `_`"), "{r}");
        let text = Pattern::parse("_1[5-1]").unwrap_err().to_string();
        assert!(
            text.contains("\"_1[5-1]\"") && text.contains("position 3"),
            "{text}"
        );
    }

    #[test]
    fn set_orders_and_collects() {
        let set = PatternSet::new(["_400XXX8888", "_4001238888", "400", "_170XXXXXXXX"]).unwrap();
        assert_eq!(set.len(), 4);
        assert_eq!(set.first_match(b"4001238888"), Some(0));
        assert_eq!(set.matching(b"4001238888"), vec![0, 1, 2]);
        assert_eq!(set.matching(b"4009998888"), vec![0, 2]);
        assert_eq!(set.first_match(b"17012345678"), Some(3));
        assert_eq!(set.first_match(b"1701234567"), None);
        assert!(!set.matches_any(b""));
        let empty = PatternSet::new(Vec::<String>::new()).unwrap();
        assert!(empty.is_empty() && !empty.matches_any(b"1") && empty.first_match(b"").is_none());
        assert!(PatternSet::new(["_1", "_["]).is_err());
    }

    #[test]
    fn large_sets_cross_words() {
        // 200 patterns of 12 states each: 38 words, beyond the inline scratch.
        let pats: Vec<String> = (0..200).map(|i| format!("_1{i:03}XXXXXXX")).collect();
        let dfa = PatternSet::new(&pats).unwrap();
        assert!(dfa.words > 16 && dfa.is_deterministic());
        for set in [dfa.clone(), dfa.without_dfa()] {
            for i in [0usize, 63, 64, 150, 199] {
                let number = format!("1{i:03}1234567");
                assert_eq!(set.first_match(number.as_bytes()), Some(i));
                assert_eq!(set.matching(number.as_bytes()), vec![i]);
            }
            assert!(!set.matches_any(b"12001234567"));
        }
    }

    #[test]
    fn subset_blowup_falls_back_to_the_nfa() {
        // "the 16th symbol from the end is 1": 2^16 subsets, beyond the DFA budget.
        let p = format!("_!1{}", "X".repeat(15));
        let set = PatternSet::new([p.as_str(), "_2!"]).unwrap();
        assert!(!set.is_deterministic());
        let hit = format!("99991{}", "0".repeat(15));
        let miss = format!("99992{}", "0".repeat(15));
        assert_eq!(set.matching(hit.as_bytes()), vec![0]);
        assert_eq!(set.first_match(miss.as_bytes()), None);
        assert_eq!(set.first_match(b"21"), Some(1));
    }

    #[test]
    fn thread_safe() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<PatternSet>();
        assert_send_sync::<Pattern>();
    }

    // A tiny reference: a backtracking interpreter over the pattern text itself.
    fn reference(pattern: &str, number: &[u8]) -> bool {
        fn class(p: &[char], i: usize) -> (Box<dyn Fn(u8) -> bool>, usize) {
            match p[i] {
                'X' | 'x' => (Box::new(|b: u8| b.is_ascii_digit()), i + 1),
                'Z' | 'z' => (Box::new(|b: u8| (b'1'..=b'9').contains(&b)), i + 1),
                'N' | 'n' => (Box::new(|b: u8| (b'2'..=b'9').contains(&b)), i + 1),
                '[' => {
                    let end = i + p[i..].iter().position(|&c| c == ']').unwrap();
                    let body: Vec<char> = p[i + 1..end].to_vec();
                    let f = move |b: u8| {
                        let b = b as char;
                        let mut k = 0;
                        while k < body.len() {
                            if k + 2 < body.len() && body[k + 1] == '-' {
                                if body[k] <= b && b <= body[k + 2] {
                                    return true;
                                }
                                k += 3;
                            } else {
                                if body[k] == b {
                                    return true;
                                }
                                k += 1;
                            }
                        }
                        false
                    };
                    (Box::new(f), end + 1)
                }
                c => (Box::new(move |b: u8| b as char == c), i + 1),
            }
        }
        fn go(p: &[char], i: usize, n: &[u8]) -> bool {
            if i == p.len() {
                return n.is_empty();
            }
            match p[i] {
                '-' => go(p, i + 1, n),
                '!' => (0..=n.len()).any(|k| go(p, i + 1, &n[k..])),
                '.' => (1..=n.len()).any(|k| go(p, i + 1, &n[k..])),
                _ => {
                    let (f, next) = class(p, i);
                    !n.is_empty() && f(n[0]) && go(p, next, &n[1..])
                }
            }
        }
        if let Some(body) = pattern.strip_prefix('_') {
            go(&body.chars().collect::<Vec<_>>(), 0, number)
        } else {
            let digits: Vec<u8> = pattern.bytes().filter(|&b| b != b'-').collect();
            number.starts_with(&digits)
        }
    }

    fn element() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => "[0-9*#]".prop_map(|s| s),
            3 => "[XZNxzn]".prop_map(|s| s),
            1 => Just(".".to_string()),
            1 => Just("!".to_string()),
            1 => Just("-".to_string()),
            2 => (0u8..10, 0u8..10, "[0-9#*]{0,2}").prop_map(|(a, b, extra)| {
                let (lo, hi) = (a.min(b), a.max(b));
                format!("[{lo}-{hi}{extra}]")
            }),
            1 => "[0-9]{1,3}".prop_map(|s| format!("[{s}]")),
        ]
    }

    fn valid_pattern() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => prop::collection::vec(element(), 1..8).prop_map(|v| format!("_{}", v.concat())),
            1 => "[0-9*#]{1,5}",
        ]
        .prop_filter("needs one element", |p| {
            p.trim_start_matches('_').chars().any(|c| c != '-')
        })
    }

    fn number() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            6 => "[0-9]{0,13}".prop_map(String::into_bytes),
            1 => "[0-9*#a+]{0,8}".prop_map(String::into_bytes),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn compiled_agrees_with_reference(p in valid_pattern(), numbers in prop::collection::vec(number(), 1..20)) {
            let compiled = Pattern::parse(&p).unwrap();
            let set = PatternSet::from_patterns(vec![compiled.clone()]);
            let nfa = set.clone().without_dfa();
            for n in &numbers {
                let want = reference(&p, n);
                prop_assert_eq!(compiled.matches(n), want, "{} on {:?}", p, String::from_utf8_lossy(n));
                prop_assert_eq!(set.matches_any(n), want);
                prop_assert_eq!(nfa.matches_any(n), want);
            }
        }

        #[test]
        fn arbitrary_text_never_panics(p in any::<String>(), n in any::<Vec<u8>>()) {
            if let Ok(set) = PatternSet::new([&p]) {
                let _ = set.matching(&n);
            }
        }

        #[test]
        fn pattern_shaped_text_never_panics(p in "_?[0-9XZN.!\\[\\]\\-*#a ]{0,12}", n in "[0-9]{0,12}") {
            match Pattern::parse(&p) {
                Ok(c) => { let _ = c.matches(n.as_bytes()); }
                Err(Error::BadPattern { position, .. }) => prop_assert!(position <= p.chars().count()),
                Err(e) => prop_assert!(false, "unexpected error {e}"),
            }
        }
    }

    proptest! {
        // Random sets often exhaust the DFA budget, which is slow to reach in a debug build.
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn set_agrees_with_each_alone(ps in prop::collection::vec(valid_pattern(), 0..40), numbers in prop::collection::vec(number(), 1..20)) {
            let alone: Vec<Pattern> = ps.iter().map(|p| Pattern::parse(p).unwrap()).collect();
            let dfa = PatternSet::from_patterns(alone.clone());
            for set in [dfa.clone(), dfa.without_dfa()] {
                for n in &numbers {
                    let want: Vec<usize> = (0..alone.len()).filter(|&i| alone[i].matches(n)).collect();
                    prop_assert_eq!(set.matching(n), want.clone());
                    prop_assert_eq!(set.first_match(n), want.first().copied());
                    prop_assert_eq!(set.matches_any(n), !want.is_empty());
                }
            }
        }
    }

    /// Not a test: the measurement behind the module docs' table.
    #[test]
    #[ignore = "measurement; run with --release -- --ignored --nocapture"]
    fn measure() {
        use std::time::Instant;
        let mut rand = crate::xorshift();
        let numbers: Vec<Vec<u8>> = (0..200_000)
            .map(|_| format!("1{:010}", rand() % 10_000_000_000).into_bytes())
            .collect();
        for count in [1usize, 10, 100, 1000] {
            let pats: Vec<String> = (0..count)
                .map(|_| format!("_1{:06}XXXX", rand() % 1_000_000))
                .collect();
            let t = Instant::now();
            let set = PatternSet::new(&pats).unwrap();
            let compile = t.elapsed();
            let regexes: Vec<String> = pats
                .iter()
                .map(|p| format!("^{}$", p[1..].replace('X', "[0-9]")))
                .collect();
            let t = Instant::now();
            let rs = regex::bytes::RegexSet::new(&regexes).unwrap();
            let rcompile = t.elapsed();
            // Best of five: the machine is shared.
            let per = |f: &dyn Fn(&[u8]) -> usize| {
                let mut best = f64::MAX;
                let mut hits = 0;
                for _ in 0..5 {
                    let t = Instant::now();
                    hits = numbers.iter().map(|n| f(n)).sum();
                    best = best.min(t.elapsed().as_nanos() as f64 / numbers.len() as f64);
                }
                (best, hits)
            };
            assert!(set.is_deterministic());
            let nfa_set = set.clone().without_dfa();
            let (dfa, h0) = per(&|n| set.first_match(n).map_or(0, |i| i + 1));
            let (nfa, h1) = per(&|n| nfa_set.first_match(n).map_or(0, |i| i + 1));
            let (rsm, h2) = per(&|n| rs.matches(n).iter().next().map_or(0, |i| i + 1));
            let (rsi, _) = per(&|n| usize::from(rs.is_match(n)));
            assert_eq!((h0, h1), (h2, h2));
            println!(
                "{count:>5} patterns: first_match dfa {dfa:.0} ns, nfa {nfa:.0} ns, RegexSet matches {rsm:.0} ns, \
                 is_match {rsi:.0} ns; compile (both) {compile:?} / RegexSet {rcompile:?}"
            );
        }
        // The worst build: the subset construction runs until the budget stops it.
        for p in [
            format!("_!1{}", "X".repeat(15)),
            "_!1!2!3!4!5!6!7!8!9!0!".to_string(),
        ] {
            let t = Instant::now();
            let set = PatternSet::new([p.as_str()]).unwrap();
            println!(
                "{p}: deterministic {}, built in {:?}",
                set.is_deterministic(),
                t.elapsed()
            );
        }
    }
}
