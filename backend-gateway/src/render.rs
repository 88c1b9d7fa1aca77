//! Rendering shared by the adapters: reply content as plain text for services without rich
//! messages, and a card's colour in the 16 colours that terminals and IRC have in common.

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

/// The 16 colours terminals and IRC have in common: a card's colour is shown as the nearest one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Basic {
    /// White.
    White,
    /// Black.
    Black,
    /// Dark blue (navy).
    Blue,
    /// Dark green.
    Green,
    /// Red.
    Red,
    /// Brown (maroon).
    Brown,
    /// Purple.
    Purple,
    /// Orange.
    Orange,
    /// Yellow.
    Yellow,
    /// Light green (lime).
    LightGreen,
    /// Cyan (teal).
    Cyan,
    /// Light cyan (aqua).
    LightCyan,
    /// Light blue.
    LightBlue,
    /// Pink (fuchsia, magenta).
    Pink,
    /// Grey.
    Grey,
    /// Light grey (silver).
    LightGrey,
}

/// Each basic colour with its usual RGB value (the mIRC palette) and its names.
const PALETTE: [(Basic, [u8; 3], &[&str]); 16] = [
    (Basic::White, [255, 255, 255], &["white"]),
    (Basic::Black, [0, 0, 0], &["black"]),
    (Basic::Blue, [0, 0, 127], &["blue", "navy", "darkblue"]),
    (
        Basic::Green,
        [0, 147, 0],
        &["green", "darkgreen", "good", "success"],
    ),
    (
        Basic::Red,
        [255, 0, 0],
        &["red", "danger", "error", "failure"],
    ),
    (Basic::Brown, [127, 0, 0], &["brown", "maroon", "darkred"]),
    (
        Basic::Purple,
        [156, 0, 156],
        &["purple", "violet", "darkmagenta"],
    ),
    (Basic::Orange, [252, 127, 0], &["orange", "warning"]),
    (Basic::Yellow, [255, 255, 0], &["yellow"]),
    (Basic::LightGreen, [0, 252, 0], &["lime", "lightgreen"]),
    (Basic::Cyan, [0, 147, 147], &["teal", "darkcyan"]),
    (
        Basic::LightCyan,
        [0, 255, 255],
        &["cyan", "aqua", "lightcyan"],
    ),
    (
        Basic::LightBlue,
        [0, 0, 252],
        &["lightblue", "royalblue", "info"],
    ),
    (Basic::Pink, [255, 0, 255], &["pink", "magenta", "fuchsia"]),
    (
        Basic::Grey,
        [127, 127, 127],
        &["grey", "gray", "darkgrey", "darkgray"],
    ),
    (
        Basic::LightGrey,
        [210, 210, 210],
        &["silver", "lightgrey", "lightgray"],
    ),
];

/// A card's `color` ("red", "#rrggbb" or "#rgb") as the nearest basic colour; `None` when empty
/// or not understood.
pub fn card_color(spec: &str) -> Option<Basic> {
    let spec = spec.trim().to_ascii_lowercase();
    if let Some(hex) = spec.strip_prefix('#') {
        let rgb = parse_hex(hex)?;
        let distance = |c: &[u8; 3]| -> u32 {
            c.iter()
                .zip(rgb)
                .map(|(a, b)| u32::from(a.abs_diff(b)).pow(2))
                .sum()
        };
        return PALETTE
            .iter()
            .min_by_key(|(_, c, _)| distance(c))
            .map(|(basic, _, _)| *basic);
    }
    PALETTE
        .iter()
        .find(|(_, _, names)| names.contains(&spec.as_str()))
        .map(|(basic, _, _)| *basic)
}

/// `rrggbb` or `rgb` (hex digits) as RGB.
fn parse_hex(hex: &str) -> Option<[u8; 3]> {
    let digit = |c: char| c.to_digit(16).and_then(|d| u8::try_from(d).ok());
    let digits: Vec<u8> = hex.chars().map(digit).collect::<Option<_>>()?;
    match digits.as_slice() {
        [r1, r2, g1, g2, b1, b2] => Some([r1 * 16 + r2, g1 * 16 + g2, b1 * 16 + b2]),
        [r, g, b] => Some([r * 17, g * 17, b * 17]),
        _ => None,
    }
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

    #[test]
    fn card_colours_by_name_and_nearest_hex() {
        assert_eq!(card_color("Red"), Some(Basic::Red));
        assert_eq!(card_color(" warning "), Some(Basic::Orange));
        assert_eq!(card_color("good"), Some(Basic::Green));
        assert_eq!(card_color("#00ff00"), Some(Basic::LightGreen));
        assert_eq!(card_color("#2eb886"), Some(Basic::Cyan));
        assert_eq!(card_color("#f00"), Some(Basic::Red));
        assert_eq!(card_color("#ff8800"), Some(Basic::Orange));
        assert_eq!(card_color(""), None);
        assert_eq!(card_color("#12345"), None);
        assert_eq!(card_color("#gg0000"), None);
        assert_eq!(card_color("chartreuse"), None);
    }
}
