//! A card as compact IRC lines: the title in bold (in the card's colour when it has one that
//! reads on dark and light backgrounds), the body rendered like any reply, the fields packed as
//! `key: value · key: value`, then the link and the image addresses.
//!
//! Lines are not cut here: like every rendered line they go through `split` afterwards, and no
//! line holds CR, LF or NUL.

use errbot_proto::v1::Card;

use super::format::{self, BOLD, COLOR, COLOR_GUARD};
use crate::render::{self, Basic};

/// Fields go on one line until it holds this many bytes, then on the next one.
pub const FIELDS_LINE: usize = 300;

/// Between two fields on a line.
const FIELD_SEPARATOR: &str = " · ";

/// The lines of a card; none is empty, none contains CR, LF or NUL.
pub fn render(card: &Card) -> Vec<String> {
    let mut lines = Vec::new();
    let title = one_line(&card.title);
    if !title.trim().is_empty() {
        let title = title.trim();
        lines.push(match render::card_color(&card.color).and_then(irc_color) {
            Some(code) => {
                let guard = if title.starts_with(',') {
                    COLOR_GUARD
                } else {
                    ""
                };
                format!("{BOLD}{COLOR}{code:02}{guard}{title}{COLOR}{BOLD}")
            }
            None => format!("{BOLD}{title}{BOLD}"),
        });
    }
    let body = if card.body.trim().is_empty() {
        &card.summary
    } else {
        &card.body
    };
    lines.extend(format::render(body));
    let mut line = String::new();
    for field in &card.fields {
        let (key, value) = (one_line(&field.key), one_line(&field.value));
        let (key, value) = (key.trim(), value.trim());
        if key.is_empty() && value.is_empty() {
            continue;
        }
        let item = if key.is_empty() {
            value.to_owned()
        } else {
            format!("{BOLD}{key}:{BOLD} {value}")
        };
        if !line.is_empty() && line.len() + FIELD_SEPARATOR.len() + item.len() > FIELDS_LINE {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push_str(FIELD_SEPARATOR);
        }
        line.push_str(&item);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    for address in [&card.link, &card.image] {
        let address = one_line(address);
        if !address.trim().is_empty() {
            lines.push(address.trim().to_owned());
        }
    }
    lines
}

/// The IRC colour code of a basic colour; none for white and black, which vanish on one of the
/// two usual backgrounds.
fn irc_color(basic: Basic) -> Option<u8> {
    Some(match basic {
        Basic::White | Basic::Black => return None,
        Basic::Blue => 2,
        Basic::Green => 3,
        Basic::Red => 4,
        Basic::Brown => 5,
        Basic::Purple => 6,
        Basic::Orange => 7,
        Basic::Yellow => 8,
        Basic::LightGreen => 9,
        Basic::Cyan => 10,
        Basic::LightCyan => 11,
        Basic::LightBlue => 12,
        Basic::Pink => 13,
        Basic::Grey => 14,
        Basic::LightGrey => 15,
    })
}

/// The text on one line: CR, LF and tabs become spaces, NUL goes.
fn one_line(text: &str) -> String {
    text.chars()
        .filter(|c| *c != '\0')
        .map(|c| {
            if matches!(c, '\r' | '\n' | '\t') {
                ' '
            } else {
                c
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::irc::split;
    use errbot_proto::v1::CardField;

    fn field(key: &str, value: &str) -> CardField {
        CardField {
            key: key.into(),
            value: value.into(),
        }
    }

    #[test]
    fn title_body_fields_and_addresses_on_compact_lines() {
        let card = Card {
            title: "Build #42".into(),
            body: "All **green**\n\n- unit\n- e2e".into(),
            link: "https://ci.example/42".into(),
            image: "https://ci.example/42.png".into(),
            color: "#00aa00".into(),
            fields: vec![field("branch", "main"), field("took", "3 min")],
            ..Default::default()
        };
        assert_eq!(
            render(&card),
            [
                "\x02\x0303Build #42\x03\x02",
                "All \x02green\x02",
                "• unit",
                "• e2e",
                "\x02branch:\x02 main · \x02took:\x02 3 min",
                "https://ci.example/42",
                "https://ci.example/42.png",
            ]
        );
    }

    #[test]
    fn no_colour_for_white_or_unknown_and_summary_without_body() {
        let card = Card {
            title: "T".into(),
            summary: "short".into(),
            color: "white".into(),
            ..Default::default()
        };
        assert_eq!(render(&card), ["\x02T\x02", "short"]);
        let card = Card {
            title: "T".into(),
            color: "no such colour".into(),
            ..Default::default()
        };
        assert_eq!(render(&card), ["\x02T\x02"]);
    }

    #[test]
    fn a_title_starting_with_a_comma_keeps_it_after_the_colour() {
        // Found by the irc fuzz target: `\x0304` then `,12 builds` read as a background colour.
        let card = Card {
            title: ",12 builds".into(),
            color: "red".into(),
            ..Default::default()
        };
        let lines = render(&card);
        assert_eq!(format::strip(&lines[0]), ",12 builds", "{lines:?}");
    }

    #[test]
    fn hostile_text_cannot_end_a_line_and_long_fields_take_more_lines() {
        let card = Card {
            title: "evil\r\nQUIT :bye\0".into(),
            body: "line\r\nPRIVMSG #x :hi".into(),
            link: "https://x.example/\nQUIT".into(),
            fields: (0..30)
                .map(|i| field(&format!("key{i}\n"), &"v".repeat(30)))
                .collect(),
            ..Default::default()
        };
        let lines = render(&card);
        assert_eq!(lines[0], "\x02evil  QUIT :bye\x02");
        let fields: Vec<&String> = lines.iter().filter(|l| l.contains("key0")).collect();
        assert_eq!(fields.len(), 1);
        assert!(lines.iter().filter(|l| l.contains(" · ")).count() > 2);
        for line in &lines {
            assert!(line.len() <= FIELDS_LINE, "{line:?}");
            for piece in split::split(line, 64) {
                assert!(piece.len() <= 64, "{piece:?}");
                assert!(!piece.contains(['\r', '\n', '\0']), "{piece:?}");
                assert!(!piece.is_empty());
            }
        }
    }
}
