//! Turning reply content into plain text for services without rich messages.

use errbot_proto::v1::{Card, Content, content};

/// The text form of a reply: its Markdown as is, or a card flattened to readable lines.
pub fn text(content: Option<&Content>) -> String {
    match content.and_then(|c| c.kind.as_ref()) {
        Some(content::Kind::Markdown(md)) => md.clone(),
        Some(content::Kind::Card(card)) => card_text(card),
        None => String::new(),
    }
}

/// A card as lines: title, body, `key: value` fields, then link and image addresses.
pub fn card_text(card: &Card) -> String {
    let mut lines: Vec<String> = Vec::new();
    let mut push = |s: &str| {
        if !s.trim().is_empty() {
            lines.push(s.to_owned());
        }
    };
    push(&card.title);
    if card.body.trim().is_empty() {
        push(&card.summary);
    } else {
        push(&card.body);
    }
    for field in &card.fields {
        push(&format!("{}: {}", field.key, field.value));
    }
    push(&card.link);
    push(&card.image);
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use errbot_proto::v1::CardField;

    #[test]
    fn flattens_cards() {
        let card = Card {
            title: "Build".into(),
            body: "All **green**".into(),
            link: "https://ci.example/1".into(),
            color: "green".into(),
            fields: vec![CardField {
                key: "tests".into(),
                value: "42".into(),
            }],
            ..Default::default()
        };
        let content = Content {
            kind: Some(content::Kind::Card(card)),
        };
        assert_eq!(
            text(Some(&content)),
            "Build\nAll **green**\ntests: 42\nhttps://ci.example/1"
        );
        let md = Content {
            kind: Some(content::Kind::Markdown("*hi*".into())),
        };
        assert_eq!(text(Some(&md)), "*hi*");
        assert_eq!(text(None), "");
    }
}
