//! Turning an index's fragment into safe HTML. Indexes mark matches with private-use characters
//! ([`MARK_START`], [`MARK_END`]) rather than tags, so the whole text can be escaped first and
//! `<mark>` is then the only markup a client ever receives.

use crate::ports::{MARK_END, MARK_START};

/// The fragment, HTML-escaped, with each marked span in `<mark>…</mark>`. The marks are kept
/// balanced: a stray mark character (the message text itself may contain one) cannot leave a
/// `<mark>` open or close one that was never opened.
pub(super) fn to_html(fragment: &str) -> String {
    let mut html = String::with_capacity(fragment.len() + 16);
    let mut open = false;
    for c in fragment.chars() {
        match c {
            MARK_START if !open => {
                html.push_str("<mark>");
                open = true;
            }
            MARK_END if open => {
                html.push_str("</mark>");
                open = false;
            }
            MARK_START | MARK_END => {}
            c => crate::app::html::push_escaped(&mut html, c),
        }
    }
    if open {
        html.push_str("</mark>");
    }
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_marks_become_tags() {
        let fragment = format!("<script>alert('x')</script> & {MARK_START}run{MARK_END}\"");
        assert_eq!(
            to_html(&fragment),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; <mark>run</mark>&quot;"
        );
    }

    #[test]
    fn stray_marks_stay_balanced() {
        let fragment = format!("{MARK_END}a{MARK_START}b{MARK_START}c");
        assert_eq!(to_html(&fragment), "a<mark>bc</mark>");
    }
}
