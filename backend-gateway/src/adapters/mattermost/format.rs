//! What a reply becomes in a post: Mattermost renders Markdown itself, so Markdown passes
//! through; a card becomes a message attachment in the post's `props` (through the REST API,
//! no incoming webhook needed).

use errbot_proto::v1::{Card, Content, content};
use serde_json::{Value, json};

/// A post's `message` and `props`, or `None` for content a gateway never gets (templates).
pub fn post_parts(content: &Content) -> Option<(String, Value)> {
    match content.kind.as_ref()? {
        content::Kind::Markdown(text) => Some((text.clone(), json!({}))),
        content::Kind::Card(card) => {
            Some((String::new(), json!({"attachments": [attachment(card)]})))
        }
        content::Kind::Template(_) => None,
    }
}

/// A card as a Mattermost message attachment (Slack's shape, which Mattermost follows).
pub fn attachment(card: &Card) -> Value {
    let color = match card.color.as_str() {
        "" => String::new(),
        c if c.starts_with('#') => c.to_owned(),
        "red" => "#d00000".into(),
        "green" => "#36a64f".into(),
        "blue" => "#2f6fdd".into(),
        "yellow" => "#e8c31d".into(),
        "orange" => "#ff8c00".into(),
        "purple" => "#7b3fb5".into(),
        "white" => "#ffffff".into(),
        "black" => "#000000".into(),
        "grey" | "gray" => "#808080".into(),
        other => other.to_owned(),
    };
    let summary = if card.summary.is_empty() {
        card.title.clone()
    } else {
        card.summary.clone()
    };
    let fields: Vec<Value> = card
        .fields
        .iter()
        .map(|f| json!({"title": f.key, "value": f.value, "short": f.value.chars().count() <= 40}))
        .collect();
    let mut a = json!({
        "fallback": summary,
        "title": card.title,
        "text": card.body,
        "fields": fields,
    });
    let mut set = |key: &str, value: &str| {
        if !value.is_empty()
            && let Some(map) = a.as_object_mut()
        {
            map.insert(key.to_owned(), Value::String(value.to_owned()));
        }
    };
    set("color", &color);
    set("title_link", &card.link);
    set("image_url", &card.image);
    set("thumb_url", &card.thumbnail);
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use errbot_proto::v1::CardField;

    #[test]
    fn markdown_passes_through() {
        let c = Content {
            kind: Some(content::Kind::Markdown("**hi** `x`".into())),
        };
        assert_eq!(post_parts(&c).unwrap().0, "**hi** `x`");
    }

    #[test]
    fn a_card_is_an_attachment() {
        let card = Card {
            title: "Build".into(),
            body: "passed".into(),
            color: "green".into(),
            link: "https://ci".into(),
            fields: vec![CardField {
                key: "time".into(),
                value: "3 s".into(),
            }],
            ..Default::default()
        };
        let a = attachment(&card);
        assert_eq!(a["color"], "#36a64f");
        assert_eq!(a["title_link"], "https://ci");
        assert_eq!(a["fields"][0]["title"], "time");
        assert_eq!(a["fallback"], "Build");
        assert!(a.get("image_url").is_none());
    }
}
