//! Printable text: what a call id, an event's target and its disposition may hold. They are
//! stored in call records and shown by `routecore stats`, so a control character (`\n`, ESC),
//! an invisible format character (a bidi override) or a line separator in them would forge or
//! hide lines there. One rule for the route requests (Rust) and the events (Python), so that a
//! call routed is always a call its events can report.

use unicode_properties::{GeneralCategoryGroup, UnicodeGeneralCategory};

/// Whether `c` is printable: Python's `str.isprintable()` rule, not a control, format,
/// surrogate, private-use or unassigned character (general category `C*`) and not a separator
/// (`Z*`) other than the space.
pub fn is_printable(c: char) -> bool {
    if c.is_ascii() {
        return c == ' ' || c.is_ascii_graphic();
    }
    !matches!(
        c.general_category_group(),
        GeneralCategoryGroup::Other | GeneralCategoryGroup::Separator
    )
}

/// The first character of `text` that is not printable, with its position in characters.
/// O(len); plain ASCII text is one pass over its bytes.
pub fn first_unprintable(text: &str) -> Option<(usize, char)> {
    if text.bytes().all(|b| (b' '..=b'~').contains(&b)) {
        return None;
    }
    text.chars().enumerate().find(|&(_, c)| !is_printable(c))
}

/// The message for a `field` holding an unprintable character (its code point: a lone
/// surrogate, which only a Python str holds, has no `char`): which one, where, and `what` the
/// field should hold.
pub fn unprintable_message(field: &str, at: usize, code: u32, what: &str) -> String {
    format!("{field}: U+{code:04X} at position {at} is a control or invisible character; {what}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_formats_and_separators_are_not_printable() {
        for c in [
            '\n', '\t', '\u{1b}', '\0', '\u{7f}', '\u{85}', '\u{202e}', '\u{200b}', '\u{feff}',
        ] {
            assert!(!is_printable(c), "{c:?}");
        }
        for c in [
            '\u{2028}',
            '\u{2029}',
            '\u{a0}',
            '\u{3000}',
            '\u{e000}',
            '\u{10ffff}',
        ] {
            assert!(!is_printable(c), "{c:?}");
        }
        for c in [' ', 'a', '~', '四', 'é', '€', '😀', '①'] {
            assert!(is_printable(c), "{c:?}");
        }
    }

    #[test]
    fn the_first_unprintable_is_found_by_character_position() {
        assert_eq!(first_unprintable("call-1"), None);
        assert_eq!(first_unprintable("呼叫 1"), None);
        assert_eq!(first_unprintable("呼叫\u{202e}1\n"), Some((2, '\u{202e}')));
        assert_eq!(first_unprintable("ab\ncd"), Some((2, '\n')));
        assert_eq!(
            unprintable_message("call_id", 4, 0x202e, "a call id is printable text"),
            "call_id: U+202E at position 4 is a control or invisible character; a call id is printable text"
        );
    }
}
