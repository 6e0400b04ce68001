//! Conversations: kinds, member roles, and the rules of who may change membership or delete
//! whose message. The rules are pure functions so the store can apply them under its row lock,
//! where the facts they depend on cannot change underneath.

use super::ValidationError;
use serde::{Deserialize, Serialize};

/// Unread counts stop at this many: past it a client shows "100 or more".
///
/// Counting is a scan of the messages past a member's read pointer, run for
/// every conversation of a user each time one of their devices connects. A
/// user who stayed away from a busy room for a week would otherwise make every
/// reconnect scan that week; a reconnect storm after a deploy would scan it
/// once per device. Live counts pushed after a capped start are lower bounds.
pub const UNREAD_COUNT_CAP: u32 = 100;

/// A direct conversation between two users, or a named group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConversationKind {
    /// Two users; the pair has at most one.
    Dm,
    /// Any number of members with roles.
    Group,
}

impl ConversationKind {
    /// The stored and wire form.
    pub fn as_str(self) -> &'static str {
        match self {
            ConversationKind::Dm => "dm",
            ConversationKind::Group => "group",
        }
    }

    /// Parses the stored or wire form.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "dm" => Some(ConversationKind::Dm),
            "group" => Some(ConversationKind::Group),
            _ => None,
        }
    }
}

/// A member's role in a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Can add and remove members.
    Member,
    /// Can add and remove members (but not owners or admins), and delete others' messages.
    Admin,
    /// Everything an admin can, plus managing admins and owners.
    Owner,
}

impl Role {
    /// The stored and wire form.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Member => "member",
        }
    }

    /// Parses the stored or wire form.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "owner" => Some(Role::Owner),
            "admin" => Some(Role::Admin),
            "member" => Some(Role::Member),
            _ => None,
        }
    }

    /// Owners and admins moderate: they manage members and delete others' messages.
    pub fn moderates(self) -> bool {
        matches!(self, Role::Owner | Role::Admin)
    }
}

/// Why a membership change is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MembershipDenied {
    /// The actor's role does not allow it.
    NotAllowed,
    /// A DM's two members are fixed.
    DirectConversation,
    /// The change would leave the group without an owner.
    LastOwner,
}

/// May `actor` give `target_role` to a user whose current role is `current` (`None` for a new
/// member)? Admins add plain members; only owners hand out admin and owner or change a role, and
/// an owner handing over must leave another owner behind (`other_owners` besides the target).
pub fn may_grant(
    kind: ConversationKind,
    actor: Role,
    target_role: Role,
    current: Option<Role>,
    other_owners: u64,
) -> Result<(), MembershipDenied> {
    if kind == ConversationKind::Dm {
        return Err(MembershipDenied::DirectConversation);
    }
    if current == Some(Role::Owner) && target_role != Role::Owner && other_owners == 0 {
        return Err(MembershipDenied::LastOwner);
    }
    match (actor, target_role, current) {
        (Role::Owner, _, _) | (Role::Admin, Role::Member, None) => Ok(()),
        _ => Err(MembershipDenied::NotAllowed),
    }
}

/// May `actor` remove `target` (leaving when they are the same user)? `other_owners` counts the
/// owners besides the target.
pub fn may_remove(
    kind: ConversationKind,
    actor: Role,
    target: Role,
    leaving: bool,
    other_owners: u64,
) -> Result<(), MembershipDenied> {
    if kind == ConversationKind::Dm {
        return Err(MembershipDenied::DirectConversation);
    }
    // Permission first, so a refusal never reveals how many owners there are.
    if !leaving
        && !matches!(
            (actor, target),
            (Role::Owner, _) | (Role::Admin, Role::Member)
        )
    {
        return Err(MembershipDenied::NotAllowed);
    }
    if target == Role::Owner && other_owners == 0 {
        return Err(MembershipDenied::LastOwner);
    }
    Ok(())
}

/// May a member with `role` delete a message (their own, or anyone's as a moderator)?
pub fn may_delete_message(is_author: bool, role: Role) -> bool {
    is_author || role.moderates()
}

/// A group's name: 1–100 characters, trimmed, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationName(String);

impl ConversationName {
    /// Parses a name.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(ValidationError::new("name", "must not be empty"));
        }
        if trimmed.chars().count() > 100 {
            return Err(ValidationError::too_large(
                "name",
                "must be at most 100 characters",
            ));
        }
        super::text::check_visible("name", trimmed)?;
        Ok(Self(trimmed.to_owned()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ConversationKind::*;
    use Role::*;

    #[test]
    fn only_moderators_grant_and_only_owners_grant_power() {
        assert!(may_grant(Group, Owner, Admin, None, 1).is_ok());
        assert!(may_grant(Group, Admin, Member, None, 1).is_ok());
        assert_eq!(
            may_grant(Group, Admin, Admin, None, 1),
            Err(MembershipDenied::NotAllowed)
        );
        assert_eq!(
            may_grant(Group, Admin, Member, Some(Role::Admin), 1),
            Err(MembershipDenied::NotAllowed)
        );
        assert_eq!(
            may_grant(Group, Member, Member, None, 1),
            Err(MembershipDenied::NotAllowed)
        );
        assert_eq!(
            may_grant(Dm, Owner, Member, None, 1),
            Err(MembershipDenied::DirectConversation)
        );
        assert_eq!(
            may_grant(Group, Owner, Member, Some(Role::Owner), 0),
            Err(MembershipDenied::LastOwner)
        );
    }

    #[test]
    fn the_last_owner_stays() {
        assert_eq!(
            may_remove(Group, Owner, Owner, true, 0),
            Err(MembershipDenied::LastOwner)
        );
        assert!(may_remove(Group, Owner, Owner, true, 1).is_ok());
        assert!(may_remove(Group, Member, Member, true, 0).is_ok());
        assert!(may_remove(Group, Admin, Member, false, 1).is_ok());
        assert_eq!(
            may_remove(Group, Admin, Owner, false, 0),
            Err(MembershipDenied::NotAllowed)
        );
        assert_eq!(
            may_remove(Group, Admin, Admin, false, 1),
            Err(MembershipDenied::NotAllowed)
        );
        assert_eq!(
            may_remove(Group, Member, Member, false, 1),
            Err(MembershipDenied::NotAllowed)
        );
    }

    #[test]
    fn deleting_messages() {
        assert!(may_delete_message(true, Member));
        assert!(may_delete_message(false, Admin));
        assert!(!may_delete_message(false, Member));
    }

    #[test]
    fn names() {
        assert_eq!(
            ConversationName::parse("  Team  ").map(|n| n.0),
            Ok("Team".into())
        );
        assert!(ConversationName::parse(" ").is_err());
        assert!(ConversationName::parse(&"x".repeat(101)).is_err());
    }
}
