//! 400/800 number classes (`spec/numbers.md`, "400/800 number classes") and the bulk
//! tools built on them: classify many numbers, filter a pool by class, tag or dial pattern.
//!
//! A number is classified when its national form (`numbers.md`) is exactly `400` or `800`
//! followed by 7 digits (the subscriber part S); any other number has no class and no tags.
//! [`classify_number`] normalises first (`400-888-8888`, `+86 400 888 8888`), skipping the
//! normaliser for plain digits it would leave as they are; [`classify`] takes digits as they
//! are. Tags are independent predicates on S, so one number
//! may carry several (`1121212` is `ABABAB`, `ABCABC` and `ABAB`); the class follows from
//! them. A [`Classification`] is five bytes and `Copy`, and its tags are static strings, so
//! classifying allocates nothing.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use crate::error::{Error, NumberError, Result};
use crate::number::{self, CountryCodes, MAX_DIGITS};
use crate::pattern::PatternSet;

/// Subscriber digits after `400`/`800`.
const S_LEN: usize = 7;

/// The class of a 400/800 number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Class {
    /// 普通号码: everything else (`repeat-3` alone stays ordinary).
    Ordinary,
    /// 特号号码: not top, and `repeat-4`, `AABB`, `ABAB`, `ascending-N` or `descending-N`.
    Special,
    /// 顶级号码: `repeat-N` with N ≥ 5, `AABBCC`, `ABABAB` or `ABCABC`.
    Top,
}

impl Class {
    pub const ALL: [Class; 3] = [Class::Top, Class::Special, Class::Ordinary];

    pub fn as_str(self) -> &'static str {
        match self {
            Class::Ordinary => "ordinary",
            Class::Special => "special",
            Class::Top => "top",
        }
    }

    /// The Chinese name the spec gives (`顶级号码`, `特号号码`, `普通号码`).
    pub fn chinese(self) -> &'static str {
        match self {
            Class::Ordinary => "普通号码",
            Class::Special => "特号号码",
            Class::Top => "顶级号码",
        }
    }

    /// Parses an English (`top`) or Chinese (`顶级号码`) class name.
    pub fn parse(name: &str) -> Result<Class> {
        Class::ALL
            .into_iter()
            .find(|c| c.as_str() == name || c.chinese() == name)
            .ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "class_: unknown class {name:?}; expected top, special or ordinary"
                ))
            })
    }
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The fixed-shape tags, as bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Shapes(u8);

impl Shapes {
    pub const AABBCC: Shapes = Shapes(1);
    pub const ABABAB: Shapes = Shapes(1 << 1);
    pub const ABCABC: Shapes = Shapes(1 << 2);
    pub const AABB: Shapes = Shapes(1 << 3);
    pub const ABAB: Shapes = Shapes(1 << 4);
    const TOP: u8 = Self::AABBCC.0 | Self::ABABAB.0 | Self::ABCABC.0;
    const SPECIAL: u8 = Self::AABB.0 | Self::ABAB.0;

    pub fn bits(self) -> u8 {
        self.0
    }

    pub fn contains(self, other: Shapes) -> bool {
        self.0 & other.0 == other.0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// One tag. Run lengths are within S, so `repeat-N` has 3 ≤ N ≤ 7 and the runs 4 ≤ N ≤ 7.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tag {
    Repeat(u8),
    Aabbcc,
    Ababab,
    Abcabc,
    Aabb,
    Abab,
    Ascending(u8),
    Descending(u8),
}

const REPEAT_NAMES: [&str; 5] = ["repeat-3", "repeat-4", "repeat-5", "repeat-6", "repeat-7"];
const ASCENDING_NAMES: [&str; 4] = ["ascending-4", "ascending-5", "ascending-6", "ascending-7"];
const DESCENDING_NAMES: [&str; 4] = [
    "descending-4",
    "descending-5",
    "descending-6",
    "descending-7",
];

impl Tag {
    /// The spec's name (`repeat-4`, `AABB`, `ascending-7`). O(1), no allocation.
    pub fn as_str(self) -> &'static str {
        match self {
            Tag::Repeat(n) => REPEAT_NAMES[usize::from(n) - 3],
            Tag::Aabbcc => "AABBCC",
            Tag::Ababab => "ABABAB",
            Tag::Abcabc => "ABCABC",
            Tag::Aabb => "AABB",
            Tag::Abab => "ABAB",
            Tag::Ascending(n) => ASCENDING_NAMES[usize::from(n) - 4],
            Tag::Descending(n) => DESCENDING_NAMES[usize::from(n) - 4],
        }
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A tag to filter on: one exact tag, or a run of any length (`repeat`, `ascending`,
/// `descending`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TagFilter {
    Exact(Tag),
    AnyRepeat,
    AnyAscending,
    AnyDescending,
}

impl TagFilter {
    /// Parses `repeat-4`, `AABB` (shape names in any case), or a bare `repeat`,
    /// `ascending`, `descending` for any run length.
    pub fn parse(name: &str) -> Result<TagFilter> {
        let unknown = || {
            Error::InvalidArgument(format!(
                "tag: unknown tag {name:?}; expected repeat-N (3-7), AABBCC, ABABAB, ABCABC, AABB, ABAB, \
                 ascending-N or descending-N (4-7), or repeat/ascending/descending for any N"
            ))
        };
        let run = |rest: &str, min: u8, make: fn(u8) -> Tag| {
            rest.parse::<u8>()
                .ok()
                .filter(|n| (min..=S_LEN as u8).contains(n))
                .map(|n| TagFilter::Exact(make(n)))
                .ok_or_else(unknown)
        };
        if let Some(rest) = name.strip_prefix("repeat-") {
            return run(rest, 3, Tag::Repeat);
        }
        if let Some(rest) = name.strip_prefix("ascending-") {
            return run(rest, 4, Tag::Ascending);
        }
        if let Some(rest) = name.strip_prefix("descending-") {
            return run(rest, 4, Tag::Descending);
        }
        Ok(match name.to_ascii_uppercase().as_str() {
            "REPEAT" => TagFilter::AnyRepeat,
            "ASCENDING" => TagFilter::AnyAscending,
            "DESCENDING" => TagFilter::AnyDescending,
            "AABBCC" => TagFilter::Exact(Tag::Aabbcc),
            "ABABAB" => TagFilter::Exact(Tag::Ababab),
            "ABCABC" => TagFilter::Exact(Tag::Abcabc),
            "AABB" => TagFilter::Exact(Tag::Aabb),
            "ABAB" => TagFilter::Exact(Tag::Abab),
            _ => return Err(unknown()),
        })
    }
}

/// The class and tags of one number: five bytes, `Copy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Classification {
    class: Option<Class>,
    shapes: Shapes,
    /// Length of the final run of equal digits when ≥ 3, else 0.
    repeat: u8,
    /// Length of the final +1 (−1) run when ≥ 4, else 0.
    ascending: u8,
    descending: u8,
}

impl Classification {
    /// The class; `None` for a number that is not 400/800 + 7 digits.
    pub fn class(self) -> Option<Class> {
        self.class
    }

    /// The class name, `""` when there is none.
    pub fn class_str(self) -> &'static str {
        self.class.map_or("", Class::as_str)
    }

    pub fn shapes(self) -> Shapes {
        self.shapes
    }

    /// The `repeat-N` length, 0 when there is no such tag.
    pub fn repeat(self) -> u8 {
        self.repeat
    }

    /// The `ascending-N` length, 0 when there is no such tag.
    pub fn ascending(self) -> u8 {
        self.ascending
    }

    /// The `descending-N` length, 0 when there is no such tag.
    pub fn descending(self) -> u8 {
        self.descending
    }

    /// The tags in the spec's table order. O(1), no allocation.
    pub fn tags(self) -> impl Iterator<Item = Tag> {
        let s = self.shapes;
        [
            (self.repeat != 0).then_some(Tag::Repeat(self.repeat)),
            s.contains(Shapes::AABBCC).then_some(Tag::Aabbcc),
            s.contains(Shapes::ABABAB).then_some(Tag::Ababab),
            s.contains(Shapes::ABCABC).then_some(Tag::Abcabc),
            s.contains(Shapes::AABB).then_some(Tag::Aabb),
            s.contains(Shapes::ABAB).then_some(Tag::Abab),
            (self.ascending != 0).then_some(Tag::Ascending(self.ascending)),
            (self.descending != 0).then_some(Tag::Descending(self.descending)),
        ]
        .into_iter()
        .flatten()
    }

    /// Whether a tag filter holds. O(1).
    pub fn has(self, filter: TagFilter) -> bool {
        match filter {
            TagFilter::AnyRepeat => self.repeat != 0,
            TagFilter::AnyAscending => self.ascending != 0,
            TagFilter::AnyDescending => self.descending != 0,
            TagFilter::Exact(Tag::Repeat(n)) => self.repeat == n,
            TagFilter::Exact(Tag::Ascending(n)) => self.ascending == n,
            TagFilter::Exact(Tag::Descending(n)) => self.descending == n,
            TagFilter::Exact(Tag::Aabbcc) => self.shapes.contains(Shapes::AABBCC),
            TagFilter::Exact(Tag::Ababab) => self.shapes.contains(Shapes::ABABAB),
            TagFilter::Exact(Tag::Abcabc) => self.shapes.contains(Shapes::ABCABC),
            TagFilter::Exact(Tag::Aabb) => self.shapes.contains(Shapes::AABB),
            TagFilter::Exact(Tag::Abab) => self.shapes.contains(Shapes::ABAB),
        }
    }

    /// A dense 16-bit key, distinct for distinct classifications (class 2 bits, shapes 5,
    /// each run length 3), for interning results in a 65 536-entry table.
    pub fn key(self) -> u16 {
        let class = self.class.map_or(0, |c| c as u16 + 1);
        class
            | u16::from(self.shapes.0) << 2
            | u16::from(self.repeat) << 7
            | u16::from(self.ascending) << 10
            | u16::from(self.descending) << 13
    }
}

/// No calling code is known: a classification needs only the national form, which does not
/// depend on them (only the kind of an international number does).
struct NoCountries;

impl CountryCodes for NoCountries {
    fn country_of(&self, _calling_code: u16) -> Option<&str> {
        None
    }
}

/// Classifies a number in any form a switch may write it (`400-888-8888`, `+86 400 888
/// 8888`, `tel:4008888888`): its national form is classified. An empty or withheld number has
/// no class; what is not a number (garbage, more than 20 digits, bytes that are not UTF-8) is
/// an error. O(len), no allocation.
pub fn classify_number(input: &[u8]) -> std::result::Result<Classification, NumberError> {
    // Fast paths. The bulk case, a plain 400/800 number, is classified at once (a class means
    // it was all digits). Then plain digits that normalisation leaves as they are (at most 20,
    // and no country code `86`/`0086` to strip; see `lists::plain_digits`).
    let plain = classify(input);
    if plain.class.is_some() {
        return Ok(plain);
    }
    Ok(classify(&national_form(input)?))
}

/// The national form (`numbers.md`) of a number in any accepted form, borrowed when the input
/// is plain digits that normalisation leaves as they are (at most 20, and no country code
/// `86`/`0086` to strip; see `lists::plain_digits`), the bulk case; empty for a withheld one.
/// An error for what is not a number or not UTF-8. O(len).
fn national_form(input: &[u8]) -> std::result::Result<Cow<'_, [u8]>, NumberError> {
    if input.len() <= MAX_DIGITS
        && input.iter().all(u8::is_ascii_digit)
        && !input.starts_with(b"86")
        && !input.starts_with(b"0086")
    {
        return Ok(Cow::Borrowed(input));
    }
    let text = std::str::from_utf8(input).map_err(|e| {
        NumberError::new(
            &String::from_utf8_lossy(input),
            format!(
                // Counted from 1, as the list files' `lists::not_utf8_line` counts.
                "byte {} is not valid UTF-8 text; decode the input with its real encoding",
                e.valid_up_to() + 1
            ),
        )
    })?;
    let digits = number::normalize(text, &NoCountries)?.digits;
    Ok(Cow::Owned(digits.as_bytes().to_vec()))
}

/// Classifies one number given as digits (`4001234567`); anything that is not `400`/`800`
/// + 7 digits gets the empty classification. O(1), no allocation.
pub fn classify(number: &[u8]) -> Classification {
    match number {
        [b'4' | b'8', b'0', b'0', s @ ..]
            if s.len() == S_LEN && s.iter().all(u8::is_ascii_digit) =>
        {
            classify_subscriber(s.try_into().expect("length checked"))
        }
        _ => Classification::default(),
    }
}

/// Classifies a subscriber part S of 7 ASCII digits. O(1).
pub fn classify_subscriber(s: &[u8; S_LEN]) -> Classification {
    // Final runs, counted in digits. ASCII digits are contiguous and `'9' + 1` is not a
    // digit, so the byte arithmetic cannot wrap 9 → 0.
    let run = |step: fn(u8, u8) -> bool| {
        let mut n = 1;
        while n < S_LEN && step(s[S_LEN - n - 1], s[S_LEN - n]) {
            n += 1;
        }
        n as u8
    };
    let repeat = run(|a, b| a == b);
    let ascending = run(|a, b| a + 1 == b);
    let descending = run(|a, b| a == b + 1);

    let t = &s[1..]; // the last 6
    let u = &s[3..]; // the last 4
    let mut shapes = 0u8;
    if t[0] == t[1] && t[2] == t[3] && t[4] == t[5] && t[0] != t[2] && t[2] != t[4] {
        shapes |= Shapes::AABBCC.0;
    }
    if t[0] == t[2] && t[2] == t[4] && t[1] == t[3] && t[3] == t[5] && t[0] != t[1] {
        shapes |= Shapes::ABABAB.0;
    }
    if t[..3] == t[3..] && !(t[0] == t[1] && t[1] == t[2]) {
        shapes |= Shapes::ABCABC.0;
    }
    if u[0] == u[1] && u[2] == u[3] && u[0] != u[2] {
        shapes |= Shapes::AABB.0;
    }
    if u[0] == u[2] && u[1] == u[3] && u[0] != u[1] {
        shapes |= Shapes::ABAB.0;
    }

    let class = if repeat >= 5 || shapes & Shapes::TOP != 0 {
        Class::Top
    } else if repeat == 4 || shapes & Shapes::SPECIAL != 0 || ascending >= 4 || descending >= 4 {
        Class::Special
    } else {
        Class::Ordinary
    };
    Classification {
        class: Some(class),
        shapes: Shapes(shapes),
        repeat: if repeat >= 3 { repeat } else { 0 },
        ascending: if ascending >= 4 { ascending } else { 0 },
        descending: if descending >= 4 { descending } else { 0 },
    }
}

/// What a pool filter keeps: every given criterion must hold (none given keeps all).
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub class: Option<Class>,
    pub tag: Option<TagFilter>,
    /// Kept when any of the patterns matches (shared: a set may be large).
    pub pattern: Option<Arc<PatternSet>>,
}

impl Filter {
    /// Whether `number` (in any accepted form) is a number that passes: see
    /// [`Filter::national`]. What is not a number never passes. O(len(number)).
    pub fn accepts(&self, number: &[u8]) -> bool {
        matches!(self.national(number), Ok(Some(_)))
    }
}

/// The numbers in a buffer as read from a file, as a list file is read (`lists`, "List
/// files"): one per line, `\n` or `\r\n`, `#` starts a comment (also after a number), spaces
/// and tabs around a number dropped, blank and comment-only lines skipped, a UTF-8 byte-order
/// mark ignored. O(len(buf)), borrows, no allocation.
pub fn lines(buf: &[u8]) -> impl Iterator<Item = &[u8]> {
    numbered_lines(buf).map(|(_, number)| number)
}

/// [`lines`], each with its 1-based line number (for naming a bad line).
pub fn numbered_lines(buf: &[u8]) -> Lines<'_> {
    Lines {
        rest: buf.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(buf),
        line: 0,
    }
}

/// See [`numbered_lines`].
#[derive(Debug, Clone)]
pub struct Lines<'a> {
    rest: &'a [u8],
    /// Lines read so far.
    line: usize,
}

impl<'a> Iterator for Lines<'a> {
    type Item = (usize, &'a [u8]);

    fn next(&mut self) -> Option<(usize, &'a [u8])> {
        loop {
            if self.rest.is_empty() {
                return None;
            }
            // One pass finds the line's end or its comment, whichever comes first (most lines
            // have no comment: then this is the only scan of the line).
            let stop = self.rest.iter().position(|&b| b == b'\n' || b == b'#');
            let (line, rest) = match stop {
                Some(i) if self.rest[i] == b'#' => {
                    let end = self.rest[i..].iter().position(|&b| b == b'\n');
                    let rest = end.map_or(&self.rest[..0], |e| &self.rest[i + e + 1..]);
                    (&self.rest[..i], rest)
                }
                Some(i) => (&self.rest[..i], &self.rest[i + 1..]),
                None => (self.rest, &self.rest[..0]),
            };
            self.rest = rest;
            self.line += 1;
            let line = line.trim_ascii();
            if !line.is_empty() {
                return Some((self.line, line));
            }
        }
    }
}

impl Filter {
    /// The national form of a candidate number in any accepted form, when it passes: class,
    /// tags and patterns are all judged on that form (`400-123-4567` matches `_400XXX4567`).
    /// An error for what is not a number, or is an anonymous or withheld entry (a pool holds
    /// numbers). O(len(number)); allocates only for a number not already in national form.
    pub fn national<'a>(
        &self,
        number: &'a [u8],
    ) -> std::result::Result<Option<Cow<'a, [u8]>>, NumberError> {
        // Only a class or a tag needs the classification. With one, the bulk case is settled
        // first: a plain 400/800 number is its own national form (its class says so at once).
        let judged = self.class.is_some() || self.tag.is_some();
        let plain = if judged {
            classify(number)
        } else {
            Classification::default()
        };
        if plain.class.is_some() {
            return Ok(self
                .accepts_classified(number, plain)
                .then_some(Cow::Borrowed(number)));
        }
        let national = national_form(number)?;
        if national.is_empty() {
            return Err(NumberError::new(
                &String::from_utf8_lossy(number),
                "an anonymous or withheld entry is not a number".to_string(),
            ));
        }
        let c = if judged {
            classify(&national)
        } else {
            Classification::default()
        };
        Ok(self.accepts_classified(&national, c).then_some(national))
    }

    /// Whether a number in national form passes, given its classification (the empty one
    /// when neither a class nor a tag is asked).
    fn accepts_classified(&self, national: &[u8], c: Classification) -> bool {
        if self.class.is_some_and(|k| c.class != Some(k)) || self.tag.is_some_and(|t| !c.has(t)) {
            return false;
        }
        self.pattern
            .as_ref()
            .is_none_or(|p| p.matches_any(national))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn tags(number: &str) -> Vec<&'static str> {
        classify(number.as_bytes())
            .tags()
            .map(Tag::as_str)
            .collect()
    }

    fn class(number: &str) -> &'static str {
        classify(number.as_bytes()).class_str()
    }

    #[test]
    fn spec_examples() {
        assert_eq!(class("4008888888"), "top");
        assert_eq!(tags("4008888888"), ["repeat-7"]);
        assert_eq!(class("4001234567"), "special");
        assert_eq!(tags("4001234567"), ["ascending-7"]);
        assert_eq!(class("4001689527"), "ordinary");
        assert!(tags("4001689527").is_empty());
        assert!(tags("4001238888").contains(&"repeat-4"));
        assert_eq!(class("4001238888"), "special");
        assert!(tags("4001112233").contains(&"AABBCC"));
        assert!(tags("4001121212").contains(&"ABABAB"));
        assert!(tags("4001123123").contains(&"ABCABC"));
        assert!(tags("4001235566").contains(&"AABB"));
        assert!(tags("4001231212").contains(&"ABAB"));
        for top in ["4001112233", "4001121212", "4001123123"] {
            assert_eq!(class(top), "top", "{top}");
        }
        for special in ["4001235566", "4001231212"] {
            assert_eq!(class(special), "special", "{special}");
        }
    }

    #[test]
    fn tags_overlap_as_the_table_says() {
        // 112233: AABBCC; its last four 2233 are AABB.
        assert_eq!(tags("4001112233"), ["AABBCC", "AABB"]);
        // 121212 is ABABAB (period 2, not 3: 121 ≠ 212); its last four are ABAB.
        assert_eq!(tags("4001121212"), ["ABABAB", "ABAB"]);
        // AABBCC allows A = C.
        assert_eq!(tags("4009112211"), ["AABBCC", "AABB"]);
        // ABCABC with two equal letters; "not all equal" only excludes AAAAAA.
        assert_eq!(tags("4009112112"), ["ABCABC"]);
    }

    #[test]
    fn repeat_lengths_and_thresholds() {
        assert_eq!(tags("8001234555"), ["repeat-3"]);
        assert_eq!(
            class("8001234555"),
            "ordinary",
            "repeat-3 alone stays ordinary"
        );
        assert_eq!(tags("4001266666"), ["repeat-5"]);
        assert_eq!(class("4001266666"), "top");
        assert_eq!(tags("4001666666"), ["repeat-6"]);
        assert_eq!(tags("4000000000"), ["repeat-7"]);
        // The run is S's own: `400` + `0000000` is repeat-7, not repeat-9.
        assert_eq!(classify(b"4000000000").repeat(), 7);
        assert_eq!(class("4001234566"), "ordinary", "a run of two is no tag");
    }

    #[test]
    fn runs_up_and_down() {
        assert_eq!(tags("4009993456"), ["ascending-4"]);
        assert_eq!(class("4009993456"), "special");
        assert_eq!(tags("4009993457"), Vec::<&str>::new());
        assert_eq!(class("4009993457"), "ordinary");
        assert_eq!(tags("4001116543"), ["descending-4"]);
        assert_eq!(tags("4007654321"), ["descending-7"]);
        assert_eq!(tags("4000123456"), ["ascending-7"]);
        // No wrap: 8,9,0,1 is not ascending.
        assert_eq!(tags("4005678901"), Vec::<&str>::new());
        assert_eq!(tags("4005890123"), ["ascending-4"]);
        // Nor 1,0,9,8 descending: the run after the wrap is only 9,8,7.
        assert_eq!(tags("4002221098"), Vec::<&str>::new());
        assert_eq!(tags("4001110987"), Vec::<&str>::new());
        assert_eq!(tags("4001109876"), ["descending-4"]);
        assert_eq!(tags("4001113210"), ["descending-4"]);
        assert_eq!(tags("4001110123"), ["ascending-4"]);
    }

    #[test]
    fn only_400_and_800_numbers_have_a_class() {
        for other in [
            "",
            "4001",
            "400123456",
            "40012345678",
            "13800138000",
            "9001234567",
            "400123456a",
            "400 123 4567",
            "4011234567",
        ] {
            let c = classify(other.as_bytes());
            assert_eq!(c, Classification::default(), "{other}");
            assert_eq!(c.class_str(), "");
            assert_eq!(c.tags().count(), 0);
        }
        assert_eq!(class("8008888888"), "top");
    }

    #[test]
    fn parse_names() {
        assert_eq!(Class::parse("top").unwrap(), Class::Top);
        assert_eq!(Class::parse("特号号码").unwrap(), Class::Special);
        assert!(Class::parse("Top").is_err());
        assert_eq!(
            TagFilter::parse("repeat-4").unwrap(),
            TagFilter::Exact(Tag::Repeat(4))
        );
        assert_eq!(
            TagFilter::parse("aabb").unwrap(),
            TagFilter::Exact(Tag::Aabb)
        );
        assert_eq!(
            TagFilter::parse("ascending").unwrap(),
            TagFilter::AnyAscending
        );
        for bad in [
            "repeat-2",
            "repeat-8",
            "ascending-3",
            "repeat-",
            "ABC",
            "repeat-x",
        ] {
            assert!(TagFilter::parse(bad).is_err(), "{bad}");
        }
        let c = classify(b"4001238888");
        assert!(c.has(TagFilter::AnyRepeat) && c.has(TagFilter::Exact(Tag::Repeat(4))));
        assert!(!c.has(TagFilter::Exact(Tag::Repeat(5))) && !c.has(TagFilter::AnyAscending));
    }

    #[test]
    fn numbers_are_normalised_first() {
        let class = |s: &str| classify_number(s.as_bytes()).map(Classification::class_str);
        for form in [
            "4008888888",
            "400-888-8888",
            "400 888 8888",
            "+86 400 888 8888",
            "+864008888888",
            "008640088 88888",
            "864008888888",
            "tel:+86-400-888-8888",
            "sip:4008888888@10.0.0.1",
        ] {
            assert_eq!(class(form), Ok("top"), "{form}");
        }
        for other in [
            "",
            "anonymous",
            "13800138000",
            "95588",
            "40012345678",
            "+1 400 888 8888",
        ] {
            assert_eq!(class(other), Ok(""), "{other}");
        }
        for garbage in [
            "400888888x",
            "+86+4008888888",
            "１",
            "+86",
            "123456789012345678901",
        ] {
            assert!(classify_number(garbage.as_bytes()).is_err(), "{garbage}");
        }
        let e = classify_number(b"400\xff8888888").unwrap_err();
        assert!(e.reason.contains("byte 4 is not valid UTF-8"), "{e}");
    }

    #[test]
    fn lines_and_filters() {
        let buf = b"4008888888\r\n\n  4001234567 \n13800138000\n4001689527";
        let got: Vec<&[u8]> = lines(buf).collect();
        assert_eq!(
            got,
            [
                &b"4008888888"[..],
                b"4001234567",
                b"13800138000",
                b"4001689527"
            ]
        );
        assert_eq!(lines(b"").count(), 0);
        assert_eq!(lines(b"\n\r\n \n").count(), 0);
        let keep = |f: &Filter| -> Vec<&[u8]> { lines(buf).filter(|n| f.accepts(n)).collect() };
        assert_eq!(keep(&Filter::default()).len(), 4);
        let top = Filter {
            class: Some(Class::Top),
            ..Filter::default()
        };
        assert_eq!(keep(&top), [&b"4008888888"[..]]);
        let pat = Filter {
            pattern: Some(Arc::new(PatternSet::new(["_400XXX8888", "_138!"]).unwrap())),
            ..Filter::default()
        };
        assert_eq!(keep(&pat), [&b"4008888888"[..], b"13800138000"]);
        let both = Filter {
            class: Some(Class::Special),
            tag: Some(TagFilter::AnyAscending),
            pattern: Some(Arc::new(PatternSet::new(["_4001!"]).unwrap())),
        };
        assert_eq!(keep(&both), [&b"4001234567"[..]]);
    }

    #[test]
    fn lines_read_as_list_files_are() {
        let buf = "\u{feff}# pool of 2026-11\n4008888888 # top\n\n  #  \n400-123-4567\r\nabc#x\n"
            .as_bytes();
        let got: Vec<(usize, &[u8])> = numbered_lines(buf).collect();
        assert_eq!(
            got,
            [(2, &b"4008888888"[..]), (5, b"400-123-4567"), (6, b"abc")]
        );
        assert_eq!(lines(b"##\n#4001234567").count(), 0);
    }

    #[test]
    fn national_judges_the_national_form() {
        let pat = Filter {
            pattern: Some(Arc::new(PatternSet::new(["_400XXX4567"]).unwrap())),
            ..Filter::default()
        };
        let national = |f: &Filter, n: &str| {
            f.national(n.as_bytes())
                .map(|o| o.map(|c| String::from_utf8(c.into_owned()).unwrap()))
                .map_err(|e| e.to_string())
        };
        for form in [
            "4001234567",
            "400-123-4567",
            "+86 400 123 4567",
            "tel:4001234567",
        ] {
            assert_eq!(
                national(&pat, form),
                Ok(Some("4001234567".into())),
                "{form}"
            );
        }
        assert_eq!(national(&pat, "4001234568"), Ok(None));
        let top = Filter {
            class: Some(Class::Top),
            ..Filter::default()
        };
        assert_eq!(
            national(&top, "400 888 8888"),
            Ok(Some("4008888888".into()))
        );
        for bad in ["abc", "anonymous", "12345678901234567890123"] {
            assert!(national(&Filter::default(), bad).is_err(), "{bad}");
        }
        let e = Filter::default().national(b"400\xff").unwrap_err();
        assert!(e.to_string().contains("not valid UTF-8"), "{e}");
    }

    #[test]
    fn keys_are_distinct() {
        let mut seen = std::collections::HashMap::new();
        // Every 7th subscriber part: all the shapes and run lengths occur.
        for s in (0..10_000_000u32).step_by(7) {
            let mut n = *b"4000000000";
            let mut v = s;
            for d in n[3..].iter_mut().rev() {
                *d = b'0' + (v % 10) as u8;
                v /= 10;
            }
            let c = classify(&n);
            if let Some(prev) = seen.insert(c.key(), c) {
                assert_eq!(prev, c);
            }
        }
        seen.insert(Classification::default().key(), Classification::default());
        assert!(seen.len() < 1000, "{}", seen.len());
    }

    /// The table read literally, with nothing shared with the implementation.
    #[allow(clippy::many_single_char_names)]
    fn reference(number: &str) -> (String, Vec<String>) {
        let d: Vec<u32> = number.chars().filter_map(|c| c.to_digit(10)).collect();
        let ok = number.len() == 10
            && d.len() == 10
            && (number.starts_with("400") || number.starts_with("800"));
        if !ok {
            return (String::new(), Vec::new());
        }
        let s = &d[3..];
        let ends_with_run = |n: usize, rel: &dyn Fn(u32, u32) -> bool| {
            s[7 - n..].windows(2).all(|w| rel(w[0], w[1]))
        };
        let longest = |min: usize, rel: &dyn Fn(u32, u32) -> bool| {
            (min..=7).rev().find(|&n| ends_with_run(n, rel))
        };
        let mut tags = Vec::new();
        let repeat = longest(3, &|a, b| a == b);
        if let Some(n) = repeat {
            tags.push(format!("repeat-{n}"));
        }
        let l6 = &s[1..];
        let (a, b, c) = (l6[0], l6[2], l6[4]);
        if l6 == [a, a, b, b, c, c] && a != b && b != c {
            tags.push("AABBCC".into());
        }
        if l6 == [l6[0], l6[1], l6[0], l6[1], l6[0], l6[1]] && l6[0] != l6[1] {
            tags.push("ABABAB".into());
        }
        if l6[..3] == l6[3..] && !(l6[0] == l6[1] && l6[1] == l6[2]) {
            tags.push("ABCABC".into());
        }
        let l4 = &s[3..];
        if l4 == [l4[0], l4[0], l4[2], l4[2]] && l4[0] != l4[2] {
            tags.push("AABB".into());
        }
        if l4 == [l4[0], l4[1], l4[0], l4[1]] && l4[0] != l4[1] {
            tags.push("ABAB".into());
        }
        let asc = longest(4, &|a, b| b == a + 1);
        let desc = longest(4, &|a, b| a == b + 1);
        if let Some(n) = asc {
            tags.push(format!("ascending-{n}"));
        }
        if let Some(n) = desc {
            tags.push(format!("descending-{n}"));
        }
        let has = |t: &str| tags.iter().any(|x| x == t);
        let class = if repeat.is_some_and(|n| n >= 5)
            || has("AABBCC")
            || has("ABABAB")
            || has("ABCABC")
        {
            "top"
        } else if repeat == Some(4) || has("AABB") || has("ABAB") || asc.is_some() || desc.is_some()
        {
            "special"
        } else {
            "ordinary"
        };
        (class.into(), tags)
    }

    fn candidate() -> impl Strategy<Value = String> {
        // Few distinct digits so the shapes and runs actually turn up.
        prop_oneof![
            4 => ("[48]00", "[0-9]{7}").prop_map(|(p, s)| p + &s),
            4 => ("[48]00", "[0-2]{7}").prop_map(|(p, s)| p + &s),
            2 => ("[48]00", "[0-9]{2}", 0u8..10, prop::bool::ANY).prop_map(|(p, head, start, up)| {
                let run: String = (0..5).map(|i| {
                    let d = if up { i32::from(start) + i } else { i32::from(start) - i };
                    char::from_digit(d.rem_euclid(10) as u32, 10).unwrap()
                }).collect();
                p + &head + &run
            }),
            1 => "[0-9a ]{0,12}",
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(5000))]

        #[test]
        fn the_fast_path_agrees_with_the_normaliser(s in "(86|0086|00|\\+)?(400|800)?[0-9]{0,18}") {
            let slow = number::normalize(&s, &NoCountries).map(|n| classify(n.digits.as_bytes()));
            prop_assert_eq!(classify_number(s.as_bytes()), slow);
        }

        #[test]
        fn agrees_with_reference(n in candidate()) {
            let c = classify(n.as_bytes());
            let (class, tags) = reference(&n);
            prop_assert_eq!(c.class_str(), class.as_str(), "{}", n);
            prop_assert_eq!(c.tags().map(|t| t.as_str().to_string()).collect::<Vec<_>>(), tags, "{}", n);
            for t in c.tags() {
                prop_assert!(c.has(TagFilter::Exact(t)));
                prop_assert_eq!(TagFilter::parse(t.as_str()).unwrap(), TagFilter::Exact(t));
            }
        }

        #[test]
        fn lines_agree_with_split(parts in prop::collection::vec("[0-9 \r]{0,6}", 0..12)) {
            let buf = parts.join("\n");
            let want: Vec<&[u8]> = buf.split('\n').map(|l| l.trim_matches([' ', '\r']).as_bytes()).filter(|l| !l.is_empty()).collect();
            prop_assert_eq!(lines(buf.as_bytes()).collect::<Vec<_>>(), want);
        }
    }
}
