//! Chinese number normalisation and kinds (`spec/numbers.md`).
//!
//! Every input form a switch may send (separators, `+86`, `0086`, bare `86`,
//! `tel:`/`sip:` URIs) is reduced to one national form, the key that rules and
//! lists match on. Normalisation is a single left-to-right pass with no
//! allocation: the result is a small `Copy` value.

use std::fmt;

use crate::error::NumberError;

/// The most digits a number may have (`numbers.md`: "more than 20 digits ... is not a number"),
/// not counting an international prefix `00` (the digits' spelling of `+`), so that the national
/// form of `+` and 20 digits (`00` and 20 digits) is itself a number.
pub const MAX_DIGITS: usize = 20;
/// The longest national form: `00` and [`MAX_DIGITS`] digits.
pub const MAX_NATIONAL_DIGITS: usize = MAX_DIGITS + 2;
/// The most digits a caller's national form keeps. A caller of more than [`MAX_DIGITS`] digits is
/// a malformed caller ID (kind `unknown`, routable), never an error; past this bound only its
/// first digits are kept, so memory stays bounded whatever the input.
pub const MAX_CALLER_DIGITS: usize = 32;
/// The longest called number looked at; anything longer is refused without scanning it all.
/// The caller has no such bound: it is scanned in O(len) with no allocation.
pub const MAX_INPUT: usize = 256;

/// What a normalised number is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Mobile,
    Landline,
    Service,
    International,
    Anonymous,
    Unknown,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::Mobile,
        Kind::Landline,
        Kind::Service,
        Kind::International,
        Kind::Anonymous,
        Kind::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Mobile => "mobile",
            Kind::Landline => "landline",
            Kind::Service => "service",
            Kind::International => "international",
            Kind::Anonymous => "anonymous",
            Kind::Unknown => "unknown",
        }
    }

    pub fn parse(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Up to [`MAX_CALLER_DIGITS`] ASCII digits, stored inline.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Digits {
    len: u8,
    buf: [u8; MAX_CALLER_DIGITS],
}

impl Digits {
    /// Builds from ASCII digits; `None` if any byte is not a digit or there are too many.
    pub fn from_ascii(digits: &[u8]) -> Option<Digits> {
        if digits.len() > MAX_CALLER_DIGITS || !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let mut out = Digits::default();
        out.buf[..digits.len()].copy_from_slice(digits);
        out.len = digits.len() as u8;
        Some(out)
    }

    fn push(&mut self, digit: u8) -> bool {
        if (self.len as usize) >= MAX_CALLER_DIGITS {
            return false;
        }
        self.buf[self.len as usize] = digit;
        self.len += 1;
        true
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len as usize]
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII digits are ever stored.
        std::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }

    pub fn len(&self) -> usize {
        self.len as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// A dense integer key, bijective over digit strings of up to [`MAX_KEYED_DIGITS`]
    /// digits: strings of length `l` take the range starting at `(10^l - 1) / 9`
    /// (0, 1, 11, 111, …), so `"01"` and `"1"` differ. Longer strings have no key
    /// and are kept apart by the callers.
    pub fn key(&self) -> Option<u64> {
        if self.len() > MAX_KEYED_DIGITS {
            return None;
        }
        let value = self
            .as_bytes()
            .iter()
            .fold(0u64, |acc, d| acc * 10 + u64::from(d - b'0'));
        Some(KEY_OFFSET[self.len()] + value)
    }

    /// The inverse of [`Digits::key`].
    pub fn from_key(key: u64) -> Digits {
        let len = KEY_OFFSET.iter().rposition(|&o| o <= key).unwrap_or(0);
        let mut value = key - KEY_OFFSET[len];
        let mut out = Digits {
            len: len as u8,
            ..Digits::default()
        };
        for i in (0..len).rev() {
            out.buf[i] = b'0' + (value % 10) as u8;
            value /= 10;
        }
        out
    }
}

/// The longest digit string that has a [`Digits::key`].
pub const MAX_KEYED_DIGITS: usize = 19;

/// `KEY_OFFSET[l] = (10^l - 1) / 9`: where the keys of length-`l` strings start.
const KEY_OFFSET: [u64; MAX_KEYED_DIGITS + 1] = {
    let mut out = [0u64; MAX_KEYED_DIGITS + 1];
    let mut i = 1;
    while i <= MAX_KEYED_DIGITS {
        out[i] = out[i - 1] * 10 + 1;
        i += 1;
    }
    out
};

impl fmt::Debug for Digits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

impl fmt::Display for Digits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A normalised number: its national form and its kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Number {
    pub digits: Digits,
    pub kind: Kind,
}

impl Number {
    pub fn as_str(&self) -> &str {
        self.digits.as_str()
    }

    pub const ANONYMOUS: Number = Number {
        digits: Digits {
            len: 0,
            buf: [0; MAX_CALLER_DIGITS],
        },
        kind: Kind::Anonymous,
    };
}

/// Which international country calling codes exist (from `phonenumbers`, installed at load).
pub trait CountryCodes {
    /// The ISO 3166 code of the country (main country for shared codes), or `None`.
    fn country_of(&self, calling_code: u16) -> Option<&str>;
}

/// The words a switch uses for a withheld caller, in any case.
const WITHHELD: [&str; 5] = [
    "anonymous",
    "unknown",
    "unavailable",
    "private",
    "restricted",
];

fn is_withheld(word: &str) -> bool {
    WITHHELD.iter().any(|w| w.eq_ignore_ascii_case(word))
}

/// Whose number is parsed: the called number must be a number; the caller is refused only
/// for non-digit garbage (`numbers.md`, "The caller is never rejected for its format alone").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Called,
    Caller,
}

/// Normalises one number (`numbers.md`). The anonymous caller is `Ok` with kind
/// [`Kind::Anonymous`]; whoever needs a called number refuses it. More than [`MAX_DIGITS`]
/// digits, or a country code with nothing after it (`+86`, `0086`), is an error.
///
/// O(len) with no allocation; inputs longer than [`MAX_INPUT`] bytes are refused at once.
pub fn normalize(input: &str, countries: &dyn CountryCodes) -> Result<Number, NumberError> {
    normalize_with(input, countries, Role::Called)
}

/// Normalises a caller: like [`normalize`], except that what is only malformed, not garbage,
/// is a caller ID of kind `unknown`, not an error: more than [`MAX_DIGITS`] digits (kept as
/// given, at most their first [`MAX_CALLER_DIGITS`]), a country code with nothing after it
/// (kept as given, `+` written `00`), and inputs of any length.
///
/// O(len) with no allocation, whatever the length of the input.
pub fn normalize_caller(input: &str, countries: &dyn CountryCodes) -> Result<Number, NumberError> {
    normalize_with(input, countries, Role::Caller)
}

fn normalize_with(
    input: &str,
    countries: &dyn CountryCodes,
    role: Role,
) -> Result<Number, NumberError> {
    if role == Role::Called && input.len() > MAX_INPUT {
        return Err(NumberError::new(
            input,
            format!(
                "{} bytes long: a number is at most {MAX_INPUT}",
                input.len()
            ),
        ));
    }
    let trimmed = input.trim();
    if trimmed.is_empty() || is_withheld(trimmed) {
        return Ok(Number::ANONYMOUS);
    }
    let (body, offset) = strip_uri(input, trimmed, role)?;
    if body.is_empty() || is_withheld(body) {
        return Ok(Number::ANONYMOUS);
    }

    // Every digit is counted; at most MAX_CALLER_DIGITS are kept (more only ever makes the
    // caller `unknown`, and the called number an error).
    let mut digits = Digits::default();
    let mut count = 0usize;
    let mut plus = false;
    for (i, ch) in body.char_indices() {
        // Positions in messages count characters, not bytes (inputs may hold CJK or full-width text).
        let pos = || {
            input
                .get(..offset + i)
                .map_or(offset + i, |head| head.chars().count())
        };
        match ch {
            '0'..='9' => {
                count += 1;
                digits.push(ch as u8);
            }
            ' ' | '-' | '.' | '(' | ')' => {}
            '+' if !plus && count == 0 => plus = true,
            '+' => {
                return Err(NumberError::new(
                    input,
                    format!("'+' at position {}: only one leading '+' is allowed", pos()),
                ))
            }
            c if c.is_numeric() => {
                return Err(NumberError::new(
                    input,
                    format!(
                        "character {c:?} at position {} is not an ASCII digit (full-width or other script digits are not accepted)",
                        pos()
                    ),
                ))
            }
            c => {
                return Err(NumberError::new(
                    input,
                    format!("character {c:?} at position {} is not a digit or a separator", pos()),
                ))
            }
        }
    }
    if digits.is_empty() {
        if plus {
            return Err(NumberError::new(
                input,
                "'+' with no digits after it".to_string(),
            ));
        }
        // Only separators: nothing is shown, exactly as if withheld.
        return Ok(Number::ANONYMOUS);
    }
    // `00` is `+` spelled in digits: `+` and 20 digits and its national form `00…` (22 digits)
    // are the same number, so the prefix does not count.
    let prefixed = !plus && digits.as_bytes().starts_with(b"00");
    if count - if prefixed { 2 } else { 0 } > MAX_DIGITS {
        return match role {
            Role::Called => Err(NumberError::new(
                input,
                if prefixed {
                    format!("{count} digits: a number has at most {MAX_DIGITS} after the international prefix 00")
                } else {
                    format!("{count} digits: a number has at most {MAX_DIGITS}")
                },
            )),
            Role::Caller => Ok(Number {
                digits: as_given(&digits, plus),
                kind: Kind::Unknown,
            }),
        };
    }
    match classify_digits(digits, plus, countries) {
        Some(number) => Ok(number),
        None => match role {
            Role::Called => Err(NumberError::new(
                input,
                "nothing after the country code 86".to_string(),
            )),
            Role::Caller => Ok(Number {
                digits: as_given(&digits, plus),
                kind: Kind::Unknown,
            }),
        },
    }
}

/// A caller kept as given: its digits, with a `+` written `00` (as every national form of an
/// international number is), so that normalising the result again gives it back. At most
/// [`MAX_CALLER_DIGITS`] digits are kept.
fn as_given(digits: &Digits, plus: bool) -> Digits {
    let mut given = Digits::default();
    if plus {
        given.push(b'0');
        given.push(b'0');
    }
    for &d in digits.as_bytes() {
        given.push(d);
    }
    given
}

/// Reduces a `tel:`/`sip:`/`sips:` URI to its user part; other input passes through.
/// Returns the part to parse and its byte offset in `input` (for error positions).
fn strip_uri<'a>(
    input: &'a str,
    trimmed: &'a str,
    role: Role,
) -> Result<(&'a str, usize), NumberError> {
    let start = input.len() - input.trim_start().len();
    let lower_starts = |p: &str| {
        trimmed.len() >= p.len()
            && trimmed.is_char_boundary(p.len())
            && trimmed[..p.len()].eq_ignore_ascii_case(p)
    };
    let scheme = ["tel:", "sips:", "sip:"]
        .into_iter()
        .find(|p| lower_starts(p));
    let Some(scheme) = scheme else {
        return Ok((trimmed, start));
    };
    let rest = &trimmed[scheme.len()..];
    // The user part ends at '@' (sip) and before any ';' parameter or '?' header.
    let end = rest.find(['@', ';', '?']).unwrap_or(rest.len());
    let user = &rest[..end];
    if scheme != "tel:" && !rest.contains('@') {
        // `sip:host` without a user part carries no number: a caller shows none, as
        // `sip:@host` does (it is never refused for its format alone); a called number is an error.
        if role == Role::Caller {
            return Ok(("", start + trimmed.len()));
        }
        return Err(NumberError::new(
            input,
            format!("{} URI has no user part", scheme.trim_end_matches(':')),
        ));
    }
    // A user part may carry its own parameters (`1380...;phone-context=...`).
    let user = user.split(';').next().unwrap_or_default();
    Ok((user, start + scheme.len()))
}

/// Decides the national form and kind of a digit string; `None` for a country code `86` with
/// nothing after it (`+86`, `0086`).
fn classify_digits(digits: Digits, plus: bool, countries: &dyn CountryCodes) -> Option<Number> {
    let d = digits.as_bytes();
    if plus {
        return international(d, countries);
    }
    if d.starts_with(b"00") {
        return international(&d[2..], countries);
    }
    if d.starts_with(b"86") && is_complete_national(&d[2..]) {
        return national_after_country_code(&d[2..], countries);
    }
    Some(national(digits))
}

/// `d` follows a `+` or `00`: a country calling code, then the national number. No calling
/// code starts with `0` (`+0…`, `000…` are `unknown`, never `+1` or `+86` read past a zero).
fn international(d: &[u8], countries: &dyn CountryCodes) -> Option<Number> {
    if d.starts_with(b"86") {
        return national_after_country_code(&d[2..], countries);
    }
    let mut out = Digits::default();
    for &b in b"00".iter().chain(d) {
        out.push(b);
    }
    if d.first().is_some_and(|&c| c != b'0') {
        for len in 1..=3.min(d.len()) {
            let code = d[..len]
                .iter()
                .fold(0u16, |acc, x| acc * 10 + u16::from(x - b'0'));
            if countries.country_of(code).is_some() {
                let kind = if d.len() > len {
                    Kind::International
                } else {
                    Kind::Unknown
                };
                return Some(Number { digits: out, kind });
            }
        }
    }
    Some(Number {
        digits: out,
        kind: Kind::Unknown,
    })
}

/// After a `+86`/`0086`/`86`: mobiles and service numbers stay; anything else gains
/// the trunk `0` (unless the caller already wrote it, `+86 0755 …`, a common slip). An
/// international prefix right after it (`+86 0086 138…`, `+86 0044 20…`: a switch that put
/// `+86` before a number already in international form) starts the number itself; read as a
/// trunk `0` it would give `0086138…`, which normalises again to `138…`. `None` when nothing
/// follows the country code: that is not a number.
fn national_after_country_code(d: &[u8], countries: &dyn CountryCodes) -> Option<Number> {
    if d.is_empty() {
        return None;
    }
    if d.starts_with(b"00") {
        return international(&d[2..], countries);
    }
    let bare = Digits::from_ascii(d).unwrap_or_default();
    if let Some(kind) = mobile_or_service(d) {
        return Some(Number { digits: bare, kind });
    }
    if d[0] == b'0' {
        return Some(national(bare));
    }
    // At most MAX_DIGITS digits follow, so the trunk always fits (MAX_CALLER_DIGITS > MAX_DIGITS).
    let mut with_trunk = Digits::default();
    for &b in b"0".iter().chain(d) {
        with_trunk.push(b);
    }
    let kind = if is_landline(with_trunk.as_bytes()) {
        Kind::Landline
    } else {
        Kind::Unknown
    };
    Some(Number {
        digits: with_trunk,
        kind,
    })
}

/// A domestic number as dialled, without any country code.
fn national(digits: Digits) -> Number {
    let d = digits.as_bytes();
    let kind = if let Some(kind) = mobile_or_service(d) {
        kind
    } else if is_landline(d) {
        Kind::Landline
    } else {
        Kind::Unknown
    };
    Number { digits, kind }
}

/// Whether `d`, which followed a bare `86`, is a whole national number: a mobile, a 400/800
/// number, or a landline written with or without its trunk `0` (`86 010 1234 5678`, the slip
/// `+86 0755…` is too). No national number itself starts with `86` followed by one of these
/// (landlines start with `0`, mobiles with `1`, service numbers with `1`, `400`, `800` or `95`),
/// so the `86` can only be a country code.
fn is_complete_national(d: &[u8]) -> bool {
    if is_mobile(d) || is_400_800(d) {
        return true;
    }
    match d.first() {
        Some(b'0') => is_landline(d),
        Some(_) if d.len() == 10 || d.len() == 11 => {
            let mut with_trunk = [0u8; 12];
            with_trunk[0] = b'0';
            with_trunk[1..=d.len()].copy_from_slice(d);
            is_landline(&with_trunk[..=d.len()])
        }
        _ => false,
    }
}

fn is_mobile(d: &[u8]) -> bool {
    d.len() == 11 && d[0] == b'1' && (b'3'..=b'9').contains(&d[1])
}

fn is_400_800(d: &[u8]) -> bool {
    d.len() == 10 && (d.starts_with(b"400") || d.starts_with(b"800"))
}

fn mobile_or_service(d: &[u8]) -> Option<Kind> {
    if is_mobile(d) {
        return Some(Kind::Mobile);
    }
    let service = is_400_800(d)
        || (d.starts_with(b"95") && (d.len() == 5 || d.len() == 6))
        || ((d.starts_with(b"10") || d.starts_with(b"12")) && d.len() == 5)
        || (d.starts_with(b"11") && d.len() == 3);
    service.then_some(Kind::Service)
}

/// Landline shape: trunk `0`, a 2-digit area code (`10`, `2X`) and 8 digits,
/// or a 3-digit area code and 7 or 8 digits.
pub fn is_landline(d: &[u8]) -> bool {
    if d.len() < 2 || d[0] != b'0' || d[1] == b'0' {
        return false;
    }
    match area_code_len(d) {
        2 => d.len() == 11,
        _ => d.len() == 11 || d.len() == 12,
    }
}

/// Length of the area code of a landline in national form (after the trunk `0`).
pub fn area_code_len(d: &[u8]) -> usize {
    if d.starts_with(b"010") || d.starts_with(b"02") {
        2
    } else {
        3
    }
}

/// The area code of a landline, without the trunk `0` (`0755…` → `755`).
pub fn area_code(number: &Number) -> Option<&str> {
    if number.kind != Kind::Landline {
        return None;
    }
    let len = area_code_len(number.digits.as_bytes());
    Some(&number.as_str()[1..=len])
}

/// The international country calling code of an international number (`0014155550100` → 1).
pub fn calling_code(number: &Number, countries: &dyn CountryCodes) -> Option<u16> {
    if number.kind != Kind::International {
        return None;
    }
    let d = &number.digits.as_bytes()[2..];
    (1..=3.min(d.len())).find_map(|len| {
        let code = d[..len]
            .iter()
            .fold(0u16, |acc, x| acc * 10 + u16::from(x - b'0'));
        countries.country_of(code).map(|_| code)
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A few real calling codes, enough to exercise the parser without the phonenumbers data.
    pub struct TestCountries;
    impl CountryCodes for TestCountries {
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

    fn norm(s: &str) -> (String, Kind) {
        let n = normalize(s, &TestCountries).unwrap();
        (n.as_str().to_string(), n.kind)
    }

    #[test]
    fn every_form_of_one_mobile() {
        for form in [
            "13800138000",
            "138 0013 8000",
            "138-0013-8000",
            "+8613800138000",
            "008613800138000",
            "8613800138000",
            "+86 138 0013 8000",
            "tel:+86-138-0013-8000",
            "sip:13800138000@10.0.0.1;user=phone",
            "SIP:+8613800138000@example.com",
            "(138) 0013.8000",
        ] {
            assert_eq!(norm(form), ("13800138000".into(), Kind::Mobile), "{form}");
        }
    }

    #[test]
    fn landlines_given_internationally_gain_their_trunk() {
        assert_eq!(
            norm("+86 10 1234 5678"),
            ("01012345678".into(), Kind::Landline)
        );
        assert_eq!(
            norm("+86 755 8600 0000"),
            ("075586000000".into(), Kind::Landline)
        );
        assert_eq!(
            norm("0086 898 1234567"),
            ("08981234567".into(), Kind::Landline)
        );
        assert_eq!(
            norm("8675586000000"),
            ("075586000000".into(), Kind::Landline)
        );
        assert_eq!(
            norm("+86 0755 8600 0000"),
            ("075586000000".into(), Kind::Landline)
        );
        assert_eq!(norm("+8612"), ("012".into(), Kind::Unknown));
    }

    #[test]
    fn an_international_prefix_after_plus_86_starts_the_number() {
        // Found by `cargo fuzz run number` (fuzz/regressions/number/): read as a trunk `0`, the
        // second prefix gave `00861380013758`, which normalised again to `1380013758`.
        assert_eq!(
            norm("+86 0086 138 0013 7580"),
            ("13800137580".into(), Kind::Mobile)
        );
        assert_eq!(norm("tel:+8600861380013-758"), norm("+861380013758"));
        assert_eq!(
            norm("0086 0044 20 7946 0000"),
            ("00442079460000".into(), Kind::International)
        );
        assert_eq!(norm("+86 00"), ("00".into(), Kind::Unknown));
    }

    #[test]
    fn kinds() {
        assert_eq!(norm("01012345678").1, Kind::Landline);
        assert_eq!(norm("075586000000").1, Kind::Landline);
        assert_eq!(norm("08981234567").1, Kind::Landline);
        assert_eq!(norm("0101234567").1, Kind::Unknown);
        for s in [
            "4001234567",
            "8001234567",
            "95588",
            "955880",
            "10086",
            "12345",
            "110",
        ] {
            assert_eq!(norm(s).1, Kind::Service, "{s}");
        }
        assert_eq!(
            norm("+86 400 123 4567"),
            ("4001234567".into(), Kind::Service)
        );
        assert_eq!(
            norm("0014155550100"),
            ("0014155550100".into(), Kind::International)
        );
        assert_eq!(
            norm("+1 415 555 0100"),
            ("0014155550100".into(), Kind::International)
        );
        assert_eq!(norm("+999 1234"), ("009991234".into(), Kind::Unknown));
        assert_eq!(norm("12").1, Kind::Unknown);
        assert_eq!(norm("1380013800").1, Kind::Unknown);
        for s in [
            "",
            "  ",
            "anonymous",
            "Anonymous",
            "PRIVATE",
            "restricted",
            "unknown",
            "unavailable",
            "sip:anonymous@anonymous.invalid",
        ] {
            assert_eq!(norm(s), (String::new(), Kind::Anonymous), "{s:?}");
        }
    }

    #[test]
    fn bare_86_only_before_a_complete_national_number() {
        // 8 digits starting with 86: a local subscriber number, not a country code.
        assert_eq!(norm("86000000"), ("86000000".into(), Kind::Unknown));
        assert_eq!(norm("864001234567"), ("4001234567".into(), Kind::Service));
        // Before a landline that keeps its trunk `0`, as `+86 0755…` is accepted.
        assert_eq!(
            norm("8601012345678"),
            ("01012345678".into(), Kind::Landline)
        );
        assert_eq!(
            norm("86075586000000"),
            ("075586000000".into(), Kind::Landline)
        );
        assert_eq!(
            norm("8608981234567"),
            ("08981234567".into(), Kind::Landline)
        );
        // Not before a number that is not a whole landline (too short, too long, `00`).
        for s in ["860101234567", "860755860000000", "8600123456789"] {
            assert_eq!(norm(s), (s.into(), Kind::Unknown), "{s}");
        }
    }

    #[test]
    fn precise_errors() {
        let e = normalize("138abc", &TestCountries).unwrap_err();
        assert!(e.reason.contains("'a' at position 3"), "{e}");
        let e = normalize("+86+138", &TestCountries).unwrap_err();
        assert!(e.reason.contains("'+' at position 3"), "{e}");
        let e = normalize("123456789012345678901", &TestCountries).unwrap_err();
        assert!(e.reason.contains("21 digits"), "{e}");
        let e = normalize("１３a", &TestCountries).unwrap_err();
        assert!(e.reason.contains("position 0"), "{e}");
        let e = normalize("tel:+86 １", &TestCountries).unwrap_err();
        assert!(e.reason.contains("position 8"), "{e}");
        let e = normalize("１３８", &TestCountries).unwrap_err();
        assert!(e.reason.contains("not an ASCII digit"), "{e}");
        let e = normalize("sip:example.com", &TestCountries).unwrap_err();
        assert!(e.reason.contains("no user part"), "{e}");
        assert!(normalize(&"1".repeat(10_000), &TestCountries).is_err());
        let long = "1".repeat(25);
        assert_eq!(
            normalize_caller(&long, &TestCountries).unwrap().kind,
            Kind::Unknown
        );
        assert_eq!(
            normalize_caller(&long, &TestCountries).unwrap().as_str(),
            long
        );
    }

    #[test]
    fn no_calling_code_starts_with_zero() {
        // `01` is not `+1`, nor `086` `+86`: the number is kept as given, and `unknown`.
        for (input, national) in [
            ("00012345678", "00012345678"),
            ("+014155550100", "00014155550100"),
            ("000861380013800", "000861380013800"),
            ("+0", "000"),
            ("+86 000 1234", "0001234"),
        ] {
            assert_eq!(norm(input), (national.into(), Kind::Unknown), "{input}");
        }
        assert_eq!(
            norm("0014155550100"),
            ("0014155550100".into(), Kind::International)
        );
    }

    #[test]
    fn long_callers_are_unknown_not_errors() {
        let caller =
            |s: &str| normalize_caller(s, &TestCountries).map(|n| (n.as_str().to_string(), n.kind));
        let long = "1".repeat(33);
        assert_eq!(
            caller(&long),
            Ok(("1".repeat(MAX_CALLER_DIGITS), Kind::Unknown))
        );
        assert_eq!(
            caller(&"9".repeat(100_000)),
            Ok(("9".repeat(MAX_CALLER_DIGITS), Kind::Unknown))
        );
        let padded = format!("{}13800138000", " ".repeat(300));
        assert_eq!(caller(&padded), Ok(("13800138000".into(), Kind::Mobile)));
        let uri = format!("sip:{}@example.com", "2".repeat(40));
        assert_eq!(caller(&uri).unwrap().1, Kind::Unknown);
        // A `+` is written `00` whatever the length, so the result normalises to itself.
        let plus = format!("+001{}", "2".repeat(18));
        let once = caller(&plus).unwrap();
        assert_eq!(once, (format!("00001{}", "2".repeat(18)), Kind::Unknown));
        assert_eq!(caller(&once.0), Ok(once));
        // Garbage is still garbage, wherever it is.
        assert!(caller(&format!("{long}x")).is_err());
        assert!(caller(&format!("{}+1", "1".repeat(500))).is_err());
        // The called number keeps its errors.
        let e = normalize(&long, &TestCountries).unwrap_err();
        assert!(e.reason.contains("33 digits"), "{e}");
        assert!(normalize(&padded, &TestCountries).is_err());
    }

    #[test]
    fn plus_and_twenty_digits_is_a_number() {
        // `numbers.md`: only more than 20 digits is not a number; the national form has 22.
        let nineteen = format!("+1{}", "2".repeat(18));
        assert_eq!(
            norm(&nineteen),
            (format!("001{}", "2".repeat(18)), Kind::International)
        );
        let twenty = format!("+1{}", "2".repeat(19));
        let national = format!("001{}", "2".repeat(19));
        assert_eq!(norm(&twenty), (national.clone(), Kind::International));
        assert_eq!(national.len(), MAX_NATIONAL_DIGITS);
        // The national form is itself a number: `00` is `+` in digits and does not count.
        assert_eq!(norm(&national), (national.clone(), Kind::International));
        let e = normalize(&format!("+1{}", "2".repeat(20)), &TestCountries).unwrap_err();
        assert!(e.reason.contains("21 digits"), "{e}");
        let e = normalize(&format!("001{}", "2".repeat(20)), &TestCountries).unwrap_err();
        assert!(
            e.reason.contains("after the international prefix 00"),
            "{e}"
        );
        // Lists key numbers of up to 19 digits; longer national forms have no key.
        assert!(Digits::from_ascii(national.as_bytes())
            .unwrap()
            .key()
            .is_none());
    }

    #[test]
    fn a_country_code_with_nothing_after_it() {
        for input in ["+86", "0086", "+86 0086", "tel:+86", "00 86"] {
            let e = normalize(input, &TestCountries).unwrap_err();
            assert!(
                e.reason.contains("nothing after the country code"),
                "{input}: {e}"
            );
        }
        // The caller is never refused for its format: kept as given, `+` spelled `00`.
        for (input, national) in [("+86", "0086"), ("0086", "0086"), ("+86 0086", "00860086")] {
            let n = normalize_caller(input, &TestCountries).unwrap();
            assert_eq!((n.as_str(), n.kind), (national, Kind::Unknown), "{input}");
        }
        // Something after the country code is a number, if only an `unknown` one (`numbers.md`).
        assert_eq!(norm("008612"), ("012".into(), Kind::Unknown));
        assert_eq!(norm("(010)"), ("010".into(), Kind::Unknown));
        assert_eq!(norm("86"), ("86".into(), Kind::Unknown));
        assert_eq!(norm("00"), ("00".into(), Kind::Unknown));
    }

    #[test]
    fn keys_round_trip() {
        for s in [
            "",
            "0",
            "00",
            "9",
            "99",
            "13800138000",
            "012345678901234567",
            "9999999999999999999",
        ] {
            let d = Digits::from_ascii(s.as_bytes()).unwrap();
            assert_eq!(Digits::from_key(d.key().unwrap()), d);
        }
        assert!(Digits::from_ascii(b"01234567890123456789")
            .unwrap()
            .key()
            .is_none());
        assert_ne!(
            Digits::from_ascii(b"01").unwrap().key(),
            Digits::from_ascii(b"1").unwrap().key()
        );
    }

    fn formatted(digits: &str, seps: &[u8]) -> String {
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if let Some(&s) = seps.get(i) {
                match s % 6 {
                    0 => out.push(' '),
                    1 => out.push('-'),
                    2 => out.push('.'),
                    _ => {}
                }
            }
            out.push(c);
        }
        out
    }

    proptest! {
        #[test]
        fn formatting_never_changes_the_result(digits in "[0-9]{1,20}", seps in proptest::collection::vec(any::<u8>(), 0..20)) {
            let plain = normalize(&digits, &TestCountries).unwrap();
            let fancy = normalize(&formatted(&digits, &seps), &TestCountries).unwrap();
            prop_assert_eq!(plain, fancy);
            let uri = normalize(&format!("sip:{digits}@10.0.0.1;user=phone"), &TestCountries).unwrap();
            prop_assert_eq!(plain, uri);
        }

        #[test]
        fn normalising_twice_changes_nothing(digits in "(\\+|\\+00|\\+0086|00|86|0086)?[0-9]{1,40}") {
            if let Ok(once) = normalize(&digits, &TestCountries) {
                let twice = normalize(once.as_str(), &TestCountries).unwrap();
                prop_assert_eq!(once, twice);
            }
            let once = normalize_caller(&digits, &TestCountries).unwrap();
            let twice = normalize_caller(once.as_str(), &TestCountries).unwrap();
            prop_assert_eq!(once, twice);
        }

        #[test]
        fn no_input_panics(s in ".{0,300}") {
            let _ = normalize(&s, &TestCountries);
            let _ = normalize_caller(&s, &TestCountries);
        }

        #[test]
        fn a_bare_86_is_stripped_only_from_what_is_no_national_number(
            rest in "0[1-9][0-9]{9,10}|[1-9][0-9]{9,10}|1[3-9][0-9]{9}|(400|800)[0-9]{7}|[0-9]{0,14}"
        ) {
            // No national number starts with 86 and then one of these, so stripping loses nothing.
            let s = format!("86{rest}");
            let n = normalize(&s, &TestCountries).unwrap();
            if n.as_str() != s {
                prop_assert_eq!(national(Digits::from_ascii(s.as_bytes()).unwrap()).kind, Kind::Unknown);
                prop_assert_ne!(n.kind, Kind::Unknown);
            }
        }

        #[test]
        fn a_caller_of_digits_and_separators_is_never_refused(s in "\\+?[0-9][0-9 ().-]{0,600}") {
            prop_assert!(normalize_caller(&s, &TestCountries).is_ok());
        }

        #[test]
        fn the_caller_differs_only_where_the_called_number_fails(s in "\\+?[0-9 ]{0,40}") {
            if let Ok(called) = normalize(&s, &TestCountries) {
                prop_assert_eq!(normalize_caller(&s, &TestCountries).unwrap(), called);
            }
        }

        #[test]
        fn no_bytes_panic(b in proptest::collection::vec(any::<u8>(), 0..64)) {
            let s = String::from_utf8_lossy(&b);
            let _ = normalize(&s, &TestCountries);
        }
    }
}
