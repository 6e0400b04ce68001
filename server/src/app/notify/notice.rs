//! What a push says: the JSON a service worker receives. Built from the message and the names
//! around it; with previews off for the tenant, it names the conversation and nothing more.

use crate::domain::{ConversationId, ConversationKind};
use crate::ports::chat::MessageView;
use serde::Serialize;
use unicode_segmentation::UnicodeSegmentation;

/// Longest body, in grapheme clusters (an ellipsis marks a cut).
const PREVIEW_GRAPHEMES: usize = 140;
/// What a push says instead of the text when previews are off.
pub const PRIVATE_BODY: &str = "New message";

/// The payload of a push, as the service worker reads it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Notice {
    /// Always `message`: the kind of notice, for clients that will know more kinds.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The notification's title.
    pub title: String,
    /// Its body.
    pub body: String,
    /// Where to open.
    pub conversation_id: ConversationId,
    /// The newest message it stands for.
    pub seq: i64,
    /// How many messages it stands for (more than one when a burst was coalesced).
    pub count: u32,
}

/// What the notice is made of.
#[derive(Debug, Clone, Copy)]
pub struct NoticeParts<'a> {
    /// DM or group.
    pub kind: ConversationKind,
    /// The group's name.
    pub conversation_name: Option<&'a str>,
    /// Who wrote the message.
    pub sender_name: &'a str,
    /// Whether the tenant lets text into pushes.
    pub previews: bool,
}

impl Notice {
    /// The notice of one message.
    pub fn of(
        message: &MessageView,
        conversation_id: ConversationId,
        parts: NoticeParts<'_>,
    ) -> Self {
        let title = match (parts.previews, parts.kind, parts.conversation_name) {
            (false, ConversationKind::Dm, _) => "Direct message".to_owned(),
            (false, _, name) => name.unwrap_or("Group").to_owned(),
            (true, ConversationKind::Dm, _) | (true, _, None) => parts.sender_name.to_owned(),
            (true, _, Some(name)) => format!("{} in {name}", parts.sender_name),
        };
        let body = if parts.previews {
            preview(message)
        } else {
            PRIVATE_BODY.to_owned()
        };
        Notice {
            kind: "message",
            title,
            body,
            conversation_id,
            seq: message.seq,
            count: 1,
        }
    }
}

fn preview(message: &MessageView) -> String {
    let text = message.content.as_deref().unwrap_or_default().trim();
    if text.is_empty() {
        return match message.attachments.len() {
            0 => PRIVATE_BODY.to_owned(),
            1 => "Sent an attachment".to_owned(),
            n => format!("Sent {n} attachments"),
        };
    }
    let mut graphemes = text.graphemes(true);
    let head: String = graphemes.by_ref().take(PREVIEW_GRAPHEMES).collect();
    if graphemes.next().is_some() {
        format!("{}…", head.trim_end())
    } else {
        head
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(text: &str) -> MessageView {
        MessageView {
            content: Some(text.to_owned()),
            seq: 7,
            ..MessageView::default()
        }
    }

    fn parts(previews: bool) -> NoticeParts<'static> {
        NoticeParts {
            kind: ConversationKind::Group,
            conversation_name: Some("Lab"),
            sender_name: "Ada",
            previews,
        }
    }

    #[test]
    fn a_group_message_names_sender_and_group() {
        let id = ConversationId::generate();
        let notice = Notice::of(&message("hello"), id, parts(true));
        assert_eq!(notice.title, "Ada in Lab");
        assert_eq!(notice.body, "hello");
        assert_eq!((notice.seq, notice.count), (7, 1));
    }

    #[test]
    fn privacy_mode_names_only_the_conversation() {
        let notice = Notice::of(&message("secret"), ConversationId::generate(), parts(false));
        assert_eq!(notice.title, "Lab");
        assert_eq!(notice.body, PRIVATE_BODY);
        assert!(!serde_json::to_string(&notice).unwrap().contains("secret"));
    }

    #[test]
    fn long_text_is_cut_on_a_grapheme() {
        let long = "👍🏽".repeat(200);
        let notice = Notice::of(&message(&long), ConversationId::generate(), parts(true));
        assert!(notice.body.ends_with('…'));
        assert_eq!(notice.body.graphemes(true).count(), PREVIEW_GRAPHEMES + 1);
    }
}
