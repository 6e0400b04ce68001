//! A tenant's content policy: words and patterns its people may not post, and whether such
//! text is refused or masked. Applied to messages (sent and edited), display names, status
//! texts and group names.

use super::ValidationError;
use regex::{Regex, RegexBuilder};

/// Most blocked words a policy holds.
pub const MAX_WORDS: usize = 500;
/// Most blocked patterns a policy holds.
pub const MAX_PATTERNS: usize = 50;
/// Longest word or pattern, in characters.
pub const MAX_ENTRY_CHARS: usize = 100;
/// What one compiled pattern may cost (the regex crate's compiled-size limit): a pattern cannot
/// be made into a memory bomb, and the crate's matching is linear in the text.
const PATTERN_SIZE_LIMIT: usize = 256 * 1024;

/// What happens to text the policy catches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PolicyMode {
    /// Refused with 422 `content_blocked`.
    #[default]
    Reject,
    /// Accepted with every match replaced by `*`s.
    Mask,
}

impl PolicyMode {
    /// The stored and wire form.
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyMode::Reject => "reject",
            PolicyMode::Mask => "mask",
        }
    }

    /// Parses the stored or wire form.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "reject" => Some(PolicyMode::Reject),
            "mask" => Some(PolicyMode::Mask),
            _ => None,
        }
    }
}

/// A policy as an administrator writes it (and as it is stored).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PolicyRules {
    /// Reject or mask.
    pub mode: PolicyMode,
    /// Whole words, matched ignoring case.
    pub words: Vec<String>,
    /// Regular expressions (the regex crate's syntax), matched ignoring case.
    pub patterns: Vec<String>,
}

/// What the policy makes of a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing caught: the text as it was.
    Clean,
    /// Caught, and the policy refuses it.
    Blocked,
    /// Caught, and the policy masked it: the text to store instead.
    Masked(String),
}

/// A policy ready to apply: its rules compiled into one expression.
#[derive(Debug, Clone, Default)]
pub struct ContentPolicy {
    mode: PolicyMode,
    matcher: Option<Regex>,
    rules: PolicyRules,
}

impl ContentPolicy {
    /// Checks and compiles `rules`, naming the entry at fault.
    pub fn compile(rules: PolicyRules) -> Result<Self, ValidationError> {
        if rules.words.len() > MAX_WORDS {
            return Err(ValidationError::new(
                "contentPolicy.blockedWords",
                format!("at most {MAX_WORDS} words"),
            ));
        }
        if rules.patterns.len() > MAX_PATTERNS {
            return Err(ValidationError::new(
                "contentPolicy.blockedPatterns",
                format!("at most {MAX_PATTERNS} patterns"),
            ));
        }
        let mut alternatives = Vec::with_capacity(rules.words.len() + rules.patterns.len());
        for word in &rules.words {
            let word = word.trim();
            if word.is_empty() || word.chars().count() > MAX_ENTRY_CHARS {
                return Err(ValidationError::new(
                    "contentPolicy.blockedWords",
                    format!("each word must have 1 to {MAX_ENTRY_CHARS} characters"),
                ));
            }
            alternatives.push(format!(r"\b{}\b", regex::escape(word)));
        }
        for pattern in &rules.patterns {
            if pattern.is_empty() || pattern.chars().count() > MAX_ENTRY_CHARS {
                return Err(ValidationError::new(
                    "contentPolicy.blockedPatterns",
                    format!("each pattern must have 1 to {MAX_ENTRY_CHARS} characters"),
                ));
            }
            // Each pattern alone first, so the error names the one at fault.
            build(pattern).map_err(|e| {
                ValidationError::new(
                    "contentPolicy.blockedPatterns",
                    format!("'{pattern}' is not a valid pattern: {e}"),
                )
            })?;
            alternatives.push(format!("(?:{pattern})"));
        }
        let matcher = if alternatives.is_empty() {
            None
        } else {
            Some(build(&alternatives.join("|")).map_err(|e| {
                ValidationError::new("contentPolicy", format!("the policy is too large: {e}"))
            })?)
        };
        Ok(Self {
            mode: rules.mode,
            matcher,
            rules,
        })
    }

    /// The rules this policy was compiled from.
    pub fn rules(&self) -> &PolicyRules {
        &self.rules
    }

    /// What the policy makes of `text`.
    pub fn check(&self, text: &str) -> Verdict {
        let Some(matcher) = &self.matcher else {
            return Verdict::Clean;
        };
        if !matcher.is_match(text) {
            return Verdict::Clean;
        }
        match self.mode {
            PolicyMode::Reject => Verdict::Blocked,
            PolicyMode::Mask => Verdict::Masked(
                matcher
                    .replace_all(text, |caught: &regex::Captures<'_>| {
                        "*".repeat(caught[0].chars().count().max(1))
                    })
                    .into_owned(),
            ),
        }
    }
}

fn build(pattern: &str) -> Result<Regex, regex::Error> {
    RegexBuilder::new(pattern)
        .case_insensitive(true)
        .size_limit(PATTERN_SIZE_LIMIT)
        .dfa_size_limit(PATTERN_SIZE_LIMIT)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(mode: PolicyMode, words: &[&str], patterns: &[&str]) -> ContentPolicy {
        ContentPolicy::compile(PolicyRules {
            mode,
            words: words.iter().map(|w| (*w).to_owned()).collect(),
            patterns: patterns.iter().map(|p| (*p).to_owned()).collect(),
        })
        .unwrap()
    }

    #[test]
    fn words_match_whole_and_ignoring_case() {
        let p = policy(PolicyMode::Reject, &["pills", "c.o"], &[]);
        assert_eq!(p.check("cheap PILLS here"), Verdict::Blocked);
        assert_eq!(p.check("spillsover"), Verdict::Clean, "whole words only");
        assert_eq!(p.check("cxo"), Verdict::Clean, "words are literal");
        assert_eq!(ContentPolicy::default().check("anything"), Verdict::Clean);
    }

    #[test]
    fn masking_keeps_the_rest() {
        let p = policy(PolicyMode::Mask, &["darn"], &[r"\d{4}-\d{4}"]);
        assert_eq!(
            p.check("Darn, call 1234-5678"),
            Verdict::Masked("****, call *********".to_owned())
        );
    }

    #[test]
    fn bad_rules_are_named() {
        let bad = |words: Vec<String>, patterns: Vec<String>| {
            ContentPolicy::compile(PolicyRules {
                mode: PolicyMode::Reject,
                words,
                patterns,
            })
            .unwrap_err()
            .field
        };
        assert_eq!(
            bad(vec![], vec!["(".into()]),
            "contentPolicy.blockedPatterns"
        );
        assert_eq!(bad(vec![" ".into()], vec![]), "contentPolicy.blockedWords");
        assert_eq!(
            bad(vec![], vec!["a{1000}{1000}".into()]),
            "contentPolicy.blockedPatterns",
            "a pattern too costly to compile"
        );
        assert_eq!(
            bad((0..=MAX_WORDS).map(|i| format!("w{i}")).collect(), vec![]),
            "contentPolicy.blockedWords"
        );
    }
}
