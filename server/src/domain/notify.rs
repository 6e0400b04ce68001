//! Who is told of a message they are not looking at: a member's notification level, a snooze,
//! quiet hours in their own time zone, and @mentions. Pure rules; the notifier applies them to
//! the facts it gathers (`app::notify`).

use super::ValidationError;
use jiff::Timestamp;
use jiff::tz::TimeZone;

/// How much of a conversation reaches a member who is not looking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NotifyLevel {
    /// Every message.
    #[default]
    All,
    /// Direct messages and messages that @mention the member.
    Mentions,
    /// Nothing.
    Nothing,
}

impl NotifyLevel {
    /// The stored and wire form.
    pub fn as_str(self) -> &'static str {
        match self {
            NotifyLevel::All => "all",
            NotifyLevel::Mentions => "mentions",
            NotifyLevel::Nothing => "none",
        }
    }

    /// Parses the stored and wire form.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "all" => Some(NotifyLevel::All),
            "mentions" => Some(NotifyLevel::Mentions),
            "none" => Some(NotifyLevel::Nothing),
            _ => None,
        }
    }

    /// Parses a client's level, naming the field when it is wrong.
    pub fn from_input(field: &'static str, raw: &str) -> Result<Self, ValidationError> {
        Self::parse(raw)
            .ok_or_else(|| ValidationError::new(field, "expected all, mentions or none"))
    }
}

/// A daily window, in the member's own time zone, in which nothing is pushed.
#[derive(Debug, Clone, PartialEq)]
pub struct QuietHours {
    start_minute: u16,
    end_minute: u16,
    zone_name: String,
    zone: TimeZone,
}

impl QuietHours {
    /// Parses `HH:MM` bounds and an IANA time zone name (`Europe/Berlin`). A window whose end
    /// is before its start spans midnight (`22:00`–`07:00`).
    pub fn parse(start: &str, end: &str, zone: &str) -> Result<Self, ValidationError> {
        let start_minute = minute_of_day("quietHours.start", start)?;
        let end_minute = minute_of_day("quietHours.end", end)?;
        if start_minute == end_minute {
            return Err(ValidationError::new(
                "quietHours.end",
                "must differ from the start",
            ));
        }
        let tz = TimeZone::get(zone).map_err(|_| {
            ValidationError::new("quietHours.timeZone", "expected an IANA time zone name")
        })?;
        Ok(Self {
            start_minute,
            end_minute,
            zone_name: zone.to_owned(),
            zone: tz,
        })
    }

    /// `HH:MM` of the start.
    pub fn start(&self) -> String {
        clock_text(self.start_minute)
    }

    /// `HH:MM` of the end.
    pub fn end(&self) -> String {
        clock_text(self.end_minute)
    }

    /// The time zone's name.
    pub fn zone_name(&self) -> &str {
        &self.zone_name
    }

    /// Whether the instant `at_ms` (Unix milliseconds) falls inside the window.
    pub fn contains(&self, at_ms: i64) -> bool {
        let Ok(instant) = Timestamp::from_millisecond(at_ms) else {
            return false;
        };
        let local = instant.to_zoned_datetime(self.zone.clone());
        let minute = u16::try_from(i32::from(local.hour()) * 60 + i32::from(local.minute()))
            .unwrap_or_default();
        if self.start_minute < self.end_minute {
            (self.start_minute..self.end_minute).contains(&minute)
        } else {
            minute >= self.start_minute || minute < self.end_minute
        }
    }
}

fn minute_of_day(field: &'static str, raw: &str) -> Result<u16, ValidationError> {
    let wrong = || ValidationError::new(field, "expected HH:MM between 00:00 and 23:59");
    let (hours, minutes) = raw.split_once(':').ok_or_else(wrong)?;
    if hours.len() != 2 || minutes.len() != 2 {
        return Err(wrong());
    }
    let hours: u16 = hours.parse().map_err(|_| wrong())?;
    let minutes: u16 = minutes.parse().map_err(|_| wrong())?;
    if hours > 23 || minutes > 59 {
        return Err(wrong());
    }
    Ok(hours * 60 + minutes)
}

fn clock_text(minute: u16) -> String {
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

/// A user's notification preferences, for every conversation without its own level.
#[derive(Debug, Clone, PartialEq)]
pub struct NotifyPreferences {
    /// The level of conversations that set none.
    pub level: NotifyLevel,
    /// Whether a digest email follows DMs and mentions no push reached.
    pub email_fallback: bool,
    /// When nothing is pushed.
    pub quiet_hours: Option<QuietHours>,
}

impl Default for NotifyPreferences {
    fn default() -> Self {
        Self {
            level: NotifyLevel::All,
            email_fallback: true,
            quiet_hours: None,
        }
    }
}

/// Whether `text` @mentions `username` (case-insensitive, the name not followed by another
/// character a username may hold, so `@ann` does not mention `anna`).
pub fn mentions(text: &str, username: &str) -> bool {
    let name_char = |c: char| c.is_ascii_alphanumeric() || "_.-".contains(c);
    let lower = text.to_lowercase();
    let mut rest = lower.as_str();
    while let Some(at) = rest.find('@') {
        let before_ok = at == 0 || !rest[..at].chars().next_back().is_some_and(name_char);
        let after = &rest[at + 1..];
        if before_ok && let Some(tail) = after.strip_prefix(username) {
            // A trailing '.' ends a sentence ("thanks @ann."), it does not lengthen the name.
            let next = tail.chars().next();
            let continues = next.is_some_and(|c| name_char(c) && c != '.')
                || (next == Some('.') && tail[1..].chars().next().is_some_and(name_char));
            if !continues {
                return true;
            }
        }
        rest = after;
    }
    false
}

/// The usernames `text` @mentions, lower-cased, each once, in order (what [`mentions`] would
/// match; a trailing '.' ends the name).
pub fn mentioned_usernames(text: &str) -> Vec<String> {
    let name_char = |c: char| c.is_ascii_alphanumeric() || "_.-".contains(c);
    let lower = text.to_lowercase();
    let mut names: Vec<String> = Vec::new();
    let mut previous: Option<char> = None;
    for (at, c) in lower.char_indices() {
        let starts = c == '@' && !previous.is_some_and(name_char);
        previous = Some(c);
        if !starts {
            continue;
        }
        let rest = &lower[at + 1..];
        let end = rest.find(|c: char| !name_char(c)).unwrap_or(rest.len());
        let name = rest[..end].trim_end_matches('.');
        if (3..=32).contains(&name.len()) && !names.iter().any(|n| n == name) {
            names.push(name.to_owned());
        }
    }
    names
}

/// What the notifier knows of one member when a message arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recipient {
    /// The member wrote the message.
    pub is_sender: bool,
    /// The conversation's level for them (their own for it, else their default).
    pub level: NotifyLevel,
    /// They snoozed the conversation and the snooze has not ended.
    pub snoozed: bool,
    /// The message arrives in their quiet hours.
    pub quiet: bool,
    /// A socket of theirs has the conversation joined: they see it already.
    pub looking: bool,
    /// The conversation is a direct message.
    pub direct: bool,
    /// The message @mentions them.
    pub mentioned: bool,
}

/// Why a member is not pushed (a metric label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Silence {
    /// They sent it.
    Sender,
    /// They are looking at the conversation.
    Looking,
    /// Their level leaves it out.
    Level,
    /// They snoozed the conversation.
    Snoozed,
    /// Their quiet hours.
    Quiet,
}

impl Silence {
    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Silence::Sender => "sender",
            Silence::Looking => "looking",
            Silence::Level => "level",
            Silence::Snoozed => "snoozed",
            Silence::Quiet => "quiet",
        }
    }
}

/// Whether a member is pushed for a message: `Ok(())` to push, else why not. DMs and mentions
/// pass a `mentions` level; `none` silences everything, as it says.
pub fn push_verdict(recipient: &Recipient) -> Result<(), Silence> {
    if recipient.is_sender {
        return Err(Silence::Sender);
    }
    if recipient.looking {
        return Err(Silence::Looking);
    }
    if recipient.snoozed {
        return Err(Silence::Snoozed);
    }
    let wanted = match recipient.level {
        NotifyLevel::All => true,
        NotifyLevel::Mentions => recipient.direct || recipient.mentioned,
        NotifyLevel::Nothing => false,
    };
    if !wanted {
        return Err(Silence::Level);
    }
    if recipient.quiet {
        return Err(Silence::Quiet);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member() -> Recipient {
        Recipient {
            is_sender: false,
            level: NotifyLevel::All,
            snoozed: false,
            quiet: false,
            looking: false,
            direct: false,
            mentioned: false,
        }
    }

    #[test]
    fn mentions_match_whole_names_only() {
        assert!(mentions("hi @ann", "ann"));
        assert!(mentions("@Ann, look", "ann"));
        assert!(mentions("thanks @ann.", "ann"));
        assert!(mentions("(@ann)", "ann"));
        assert!(!mentions("hi @anna", "ann"));
        assert!(!mentions("mail ann@example.com", "example.com"));
        assert!(!mentions("hi ann", "ann"));
        assert!(!mentions("@ann.b is someone else", "ann"));
        assert!(mentions("@annb and @ann", "ann"));
    }

    #[test]
    fn mentioned_names_are_found_once() {
        assert_eq!(
            mentioned_usernames("@Ann and @bob.x, thanks @ann. mail c@d.com @zz"),
            ["ann", "bob.x"]
        );
        for name in mentioned_usernames("hi @ann, @bob_2 and @carol.") {
            assert!(mentions("hi @ann, @bob_2 and @carol.", &name), "{name}");
        }
    }

    #[test]
    fn levels_decide_group_messages_and_dms_pass_mentions() {
        let mut r = member();
        assert_eq!(push_verdict(&r), Ok(()));
        r.level = NotifyLevel::Mentions;
        assert_eq!(push_verdict(&r), Err(Silence::Level));
        r.mentioned = true;
        assert_eq!(push_verdict(&r), Ok(()));
        r.mentioned = false;
        r.direct = true;
        assert_eq!(push_verdict(&r), Ok(()));
        r.level = NotifyLevel::Nothing;
        assert_eq!(push_verdict(&r), Err(Silence::Level));
    }

    #[test]
    fn sender_looking_snoozed_and_quiet_are_silent() {
        let cases = [
            (
                Recipient {
                    is_sender: true,
                    ..member()
                },
                Silence::Sender,
            ),
            (
                Recipient {
                    looking: true,
                    ..member()
                },
                Silence::Looking,
            ),
            (
                Recipient {
                    snoozed: true,
                    ..member()
                },
                Silence::Snoozed,
            ),
            (
                Recipient {
                    quiet: true,
                    ..member()
                },
                Silence::Quiet,
            ),
        ];
        for (recipient, silence) in cases {
            assert_eq!(push_verdict(&recipient), Err(silence));
        }
    }

    #[test]
    fn quiet_hours_follow_the_members_zone_and_span_midnight() {
        // 2026-12-01T22:30:00Z is 23:30 in Berlin (UTC+1 in winter) and 17:30 in New York.
        let at = Timestamp::from_second(1_796_164_200)
            .unwrap()
            .as_millisecond();
        let night = QuietHours::parse("22:00", "07:00", "Europe/Berlin").unwrap();
        assert!(night.contains(at));
        let new_york = QuietHours::parse("22:00", "07:00", "America/New_York").unwrap();
        assert!(!new_york.contains(at));
        let afternoon = QuietHours::parse("17:00", "18:00", "America/New_York").unwrap();
        assert!(afternoon.contains(at));
        assert_eq!(night.start(), "22:00");
        assert_eq!(night.zone_name(), "Europe/Berlin");
    }

    #[test]
    fn quiet_hours_refuse_bad_input() {
        for (start, end, zone) in [
            ("24:00", "07:00", "UTC"),
            ("7:00", "08:00", "UTC"),
            ("07:00", "07:00", "UTC"),
            ("07:00", "08:00", "Mars/Olympus"),
            ("07:60", "08:00", "UTC"),
        ] {
            assert!(
                QuietHours::parse(start, end, zone).is_err(),
                "{start} {end} {zone}"
            );
        }
    }
}
