//! What a search may ask for: the `q` text split into terms, and the page size.
//!
//! Terms are words (runs of letters and digits, with any combining marks), lower-cased and
//! deduplicated. Everything else — quotes, `*`, `-`, `:`, parentheses — separates words and is
//! never passed on, so no index's query syntax is reachable from user input.

use super::super::conversations::invalid_query;
use crate::app::AppResult;

/// Longest `q`, in characters.
pub const MAX_QUERY_CHARS: usize = 256;
/// Most distinct words in a message search.
pub const MAX_TERMS: usize = 16;
/// Largest page of search results.
pub const MAX_SEARCH_LIMIT: u32 = 100;
/// The page size when the client names none.
pub const DEFAULT_SEARCH_LIMIT: u32 = 20;

/// `q` checked for what both searches refuse: NUL, over-long, nothing but whitespace. Returns it
/// trimmed.
pub(super) fn text(q: &str) -> AppResult<&str> {
    if q.contains('\0') {
        return Err(invalid_query("q", "must not contain NUL".into()));
    }
    if q.chars().count() > MAX_QUERY_CHARS {
        return Err(invalid_query(
            "q",
            format!("must be at most {MAX_QUERY_CHARS} characters"),
        ));
    }
    let trimmed = q.trim();
    if trimmed.is_empty() {
        return Err(invalid_query("q", "must not be empty".into()));
    }
    Ok(trimmed)
}

/// The terms of a message search: at least one word, at most [`MAX_TERMS`].
pub(super) fn terms(q: &str) -> AppResult<Vec<String>> {
    let mut terms: Vec<String> = Vec::new();
    for word in words(text(q)?) {
        let word = word.to_lowercase();
        if !terms.contains(&word) {
            terms.push(word);
        }
    }
    if terms.is_empty() {
        return Err(invalid_query(
            "q",
            "has no searchable word (letters or digits)".into(),
        ));
    }
    if terms.len() > MAX_TERMS {
        return Err(invalid_query(
            "q",
            format!("must have at most {MAX_TERMS} words"),
        ));
    }
    Ok(terms)
}

/// A page size within 1-[`MAX_SEARCH_LIMIT`].
pub(super) fn limit(limit: u32) -> AppResult<u32> {
    if limit == 0 || limit > MAX_SEARCH_LIMIT {
        return Err(invalid_query(
            "limit",
            format!("must be 1-{MAX_SEARCH_LIMIT}"),
        ));
    }
    Ok(limit)
}

/// Maximal runs of letters, digits and combining marks that hold at least one letter or digit.
fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !(c.is_alphanumeric() || is_combining_mark(c)))
        .filter(|w| w.chars().any(char::is_alphanumeric))
}

/// The combining-mark blocks (an accent written as a separate code point belongs to its word).
fn is_combining_mark(c: char) -> bool {
    matches!(c,
        '\u{0300}'..='\u{036F}' | '\u{1AB0}'..='\u{1AFF}' | '\u{1DC0}'..='\u{1DFF}'
        | '\u{20D0}'..='\u{20FF}' | '\u{FE20}'..='\u{FE2F}')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(q: &str) -> Vec<String> {
        terms(q).unwrap_or_else(|e| panic!("{q:?}: {e}"))
    }

    fn refused(q: &str) -> bool {
        terms(q).is_err_and(|e| e.field == Some("q"))
    }

    #[test]
    fn words_are_split_lowered_and_deduplicated() {
        assert_eq!(ok("Hello, world! hello"), ["hello", "world"]);
        assert_eq!(ok("  ünïcode\tСлово 東京 "), ["ünïcode", "слово", "東京"]);
        assert_eq!(ok("cafe\u{301}"), ["cafe\u{301}"]);
        assert_eq!(ok("don't"), ["don", "t"]);
    }

    #[test]
    fn query_syntax_is_only_separators() {
        assert_eq!(
            ok("\"a\" AND b* -c content:d NEAR(e f)"),
            ["a", "and", "b", "c", "content", "d", "near", "e", "f"]
        );
    }

    #[test]
    fn bad_queries_name_q() {
        for q in ["", "   \t\n", "!?*()\"-", "a\0b", &"x".repeat(257)] {
            assert!(refused(q), "{q:?}");
        }
        let seventeen: Vec<String> = (0..17).map(|i| format!("w{i}")).collect();
        assert!(refused(&seventeen.join(" ")));
        let sixteen: Vec<String> = (0..16).map(|i| format!("w{i}")).collect();
        assert_eq!(ok(&sixteen.join(" ")).len(), 16);
        assert_eq!(ok(&"x".repeat(256)).len(), 1);
    }

    #[test]
    fn limits() {
        assert!(limit(0).is_err() && limit(101).is_err());
        assert_eq!(limit(100).ok(), Some(100));
    }
}
