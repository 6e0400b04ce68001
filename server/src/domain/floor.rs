//! Who may speak in a conversation, and how often: read-only conversations (announcements), slow
//! mode, and members muted until a time. The store reads the facts inside the send's transaction
//! and asks [`Floor::admits`], so the rule lives here and a racing change cannot slip past it.

use super::{ConversationKind, MembershipDenied, Role, ValidationError};

/// Longest slow-mode interval: a day. Anything slower is a read-only conversation.
pub const MAX_SLOW_MODE_SECONDS: u32 = 86_400;

/// A conversation's speaking rules.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Floor {
    /// Only owners and admins post.
    pub read_only: bool,
    /// Members post at most once per this many seconds (0: off). Owners and admins are exempt.
    pub slow_mode_seconds: u32,
}

/// What the store knows of one sender when it checks a send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Speaker {
    /// Their role in the conversation.
    pub role: Role,
    /// Muted until this time (Unix milliseconds), if a mute was ever set.
    pub muted_until_ms: Option<i64>,
    /// When they last posted here while slow mode was on.
    pub last_sent_ms: Option<i64>,
}

/// Why a send was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FloorRefusal {
    /// The sender is muted in this conversation until then (Unix milliseconds).
    Muted {
        /// When the mute ends.
        until_ms: i64,
    },
    /// Only owners and admins post here.
    ReadOnly,
    /// Slow mode: the sender may post again after this many milliseconds.
    SlowMode {
        /// Wait this long.
        retry_after_ms: i64,
    },
}

impl Floor {
    /// Checks the slow-mode interval a client asked for.
    pub fn slow_mode(seconds: i64) -> Result<u32, ValidationError> {
        u32::try_from(seconds)
            .ok()
            .filter(|s| *s <= MAX_SLOW_MODE_SECONDS)
            .ok_or_else(|| {
                ValidationError::new(
                    "slowModeSeconds",
                    format!("between 0 and {MAX_SLOW_MODE_SECONDS}"),
                )
            })
    }

    /// Whether slow mode applies to a member with `role`.
    pub fn paces(&self, role: Role) -> bool {
        self.slow_mode_seconds > 0 && role == Role::Member
    }

    /// May `speaker` post at `now_ms`? A mute binds everyone it was set on; read-only and slow
    /// mode bind plain members, since owners and admins are the ones who run the conversation.
    pub fn admits(&self, speaker: &Speaker, now_ms: i64) -> Result<(), FloorRefusal> {
        if let Some(until_ms) = speaker.muted_until_ms.filter(|until| *until > now_ms) {
            return Err(FloorRefusal::Muted { until_ms });
        }
        if speaker.role != Role::Member {
            return Ok(());
        }
        if self.read_only {
            return Err(FloorRefusal::ReadOnly);
        }
        if self.paces(speaker.role)
            && let Some(last) = speaker.last_sent_ms
        {
            let next = last.saturating_add(i64::from(self.slow_mode_seconds) * 1000);
            if next > now_ms {
                return Err(FloorRefusal::SlowMode {
                    retry_after_ms: next - now_ms,
                });
            }
        }
        Ok(())
    }
}

/// May a member with `actor` role change a conversation's name or floor? Owners and admins of a
/// group; a DM has no one in charge.
pub fn may_manage(kind: ConversationKind, actor: Role) -> Result<(), MembershipDenied> {
    if kind == ConversationKind::Dm {
        return Err(MembershipDenied::DirectConversation);
    }
    match actor {
        Role::Owner | Role::Admin => Ok(()),
        Role::Member => Err(MembershipDenied::NotAllowed),
    }
}

/// May `actor` (their role here, if they are a member) mute or unmute a member holding `target`?
/// A tenant moderator (`moderator`, already checked against the target's tenant role) may in
/// any conversation, DMs included; otherwise owners mute admins and members, admins members.
pub fn may_mute(
    kind: ConversationKind,
    actor: Option<Role>,
    target: Role,
    moderator: bool,
) -> Result<(), MembershipDenied> {
    if moderator {
        return Ok(());
    }
    if kind == ConversationKind::Dm {
        return Err(MembershipDenied::DirectConversation);
    }
    match (actor, target) {
        (Some(Role::Owner), Role::Admin | Role::Member) | (Some(Role::Admin), Role::Member) => {
            Ok(())
        }
        _ => Err(MembershipDenied::NotAllowed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(muted: Option<i64>, last: Option<i64>) -> Speaker {
        Speaker {
            role: Role::Member,
            muted_until_ms: muted,
            last_sent_ms: last,
        }
    }

    #[test]
    fn a_mute_binds_until_it_ends_and_binds_admins_too() {
        let open = Floor::default();
        assert_eq!(
            open.admits(&member(Some(2_000), None), 1_000),
            Err(FloorRefusal::Muted { until_ms: 2_000 })
        );
        assert_eq!(open.admits(&member(Some(2_000), None), 2_000), Ok(()));
        let admin = Speaker {
            role: Role::Admin,
            ..member(Some(5_000), None)
        };
        assert!(open.admits(&admin, 1_000).is_err());
    }

    #[test]
    fn read_only_and_slow_mode_bind_members_only() {
        let announcements = Floor {
            read_only: true,
            slow_mode_seconds: 0,
        };
        assert_eq!(
            announcements.admits(&member(None, None), 0),
            Err(FloorRefusal::ReadOnly)
        );
        let owner = Speaker {
            role: Role::Owner,
            ..member(None, Some(0))
        };
        let slow = Floor {
            read_only: false,
            slow_mode_seconds: 10,
        };
        assert_eq!(announcements.admits(&owner, 0), Ok(()));
        assert_eq!(slow.admits(&owner, 1), Ok(()));
        assert_eq!(
            slow.admits(&member(None, Some(1_000)), 4_000),
            Err(FloorRefusal::SlowMode {
                retry_after_ms: 7_000
            })
        );
        assert_eq!(slow.admits(&member(None, Some(1_000)), 11_000), Ok(()));
        assert_eq!(slow.admits(&member(None, None), 0), Ok(()));
    }

    #[test]
    fn who_may_manage_and_mute() {
        assert!(may_manage(ConversationKind::Group, Role::Admin).is_ok());
        assert_eq!(
            may_manage(ConversationKind::Group, Role::Member),
            Err(MembershipDenied::NotAllowed)
        );
        assert!(may_manage(ConversationKind::Dm, Role::Owner).is_err());
        let group = ConversationKind::Group;
        assert!(may_mute(group, Some(Role::Admin), Role::Member, false).is_ok());
        assert!(may_mute(group, Some(Role::Admin), Role::Admin, false).is_err());
        assert!(may_mute(group, Some(Role::Owner), Role::Owner, false).is_err());
        assert!(may_mute(group, None, Role::Owner, true).is_ok());
        assert!(
            may_mute(
                ConversationKind::Dm,
                Some(Role::Member),
                Role::Member,
                false
            )
            .is_err()
        );
        assert!(may_mute(ConversationKind::Dm, None, Role::Member, true).is_ok());
        assert_eq!(Floor::slow_mode(30).ok(), Some(30));
        assert!(Floor::slow_mode(-1).is_err());
        assert!(Floor::slow_mode(86_401).is_err());
    }
}
