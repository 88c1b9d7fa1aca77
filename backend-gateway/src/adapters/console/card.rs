//! A card drawn on a terminal: a framed block (box drawing, in the card's colour when colours
//! are on) with the title in the top border, the body as Markdown, the fields as an aligned
//! key/value table, then the link and the image addresses.
//!
//! ```text
//! ╭─ Build #42 ─────────────────╮
//! │ All **green**, rendered     │
//! │                             │
//! │ branch    main              │
//! │ duration  3 min             │
//! │                             │
//! │ link      https://ci/42     │
//! ╰─────────────────────────────╯
//! ```

use errbot_proto::v1::Card;
use termimad::MadSkin;
use termimad::crossterm::style::{Color, Stylize};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use super::markdown;
use super::term::Look;
use crate::render::{self, Basic};

/// Draws `card` for a terminal `width` columns wide (no final line break).
pub fn render(card: &Card, look: Look, skin: &MadSkin, width: usize) -> String {
    let width = width.max(markdown::MIN_WIDTH);
    // Two columns of border and one of space on each side.
    let room = width - 4;
    let body_source = if card.body.trim().is_empty() {
        &card.summary
    } else {
        &card.body
    };
    let body: Vec<String> = if body_source.trim().is_empty() {
        Vec::new()
    } else {
        markdown::render(body_source, skin, room)
            .lines()
            .flat_map(|line| fit(line, room))
            .collect()
    };
    let fields: Vec<(&str, &str)> = card
        .fields
        .iter()
        .map(|f| (f.key.as_str(), f.value.as_str()))
        .collect();
    let addresses: Vec<(&str, &str)> = [
        ("link", &card.link),
        ("image", &card.image),
        ("thumbnail", &card.thumbnail),
    ]
    .into_iter()
    .filter(|(_, v)| !v.trim().is_empty())
    .map(|(k, v)| (k, v.as_str()))
    .collect();
    let key_width = fields
        .iter()
        .chain(&addresses)
        .map(|(k, _)| one_line(k).width())
        .max()
        .unwrap_or(0)
        .min(room / 3);
    let mut sections: Vec<Vec<String>> = Vec::new();
    if !body.is_empty() {
        sections.push(body);
    }
    for table in [&fields, &addresses] {
        if !table.is_empty() {
            sections.push(key_values(table, key_width, room, look));
        }
    }

    let title = one_line(&card.title);
    let title = cut(title.trim(), room.saturating_sub(2));
    let natural = sections
        .iter()
        .flatten()
        .map(|l| visible_width(l))
        .chain([title.width() + 2, 8])
        .max()
        .unwrap_or(8)
        .min(room);

    let color = match look {
        Look::Colored => render::card_color(&card.color).map(terminal_color),
        Look::Styled | Look::Plain => None,
    };
    let frame = |s: &str| match color {
        Some(c) => s.with(c).to_string(),
        None => s.to_owned(),
    };
    let mut out = Vec::new();
    out.push(if title.is_empty() {
        frame(&format!("╭{}╮", "─".repeat(natural + 2)))
    } else {
        let shown = match look {
            Look::Plain => title.clone(),
            Look::Styled | Look::Colored => title.as_str().bold().to_string(),
        };
        format!(
            "{}{shown}{}",
            frame("╭─ "),
            frame(&format!(" {}╮", "─".repeat(natural - title.width() - 1)))
        )
    });
    for (i, section) in sections.iter().enumerate() {
        if i > 0 {
            out.push(format!(
                "{}{}{}",
                frame("│"),
                " ".repeat(natural + 2),
                frame("│")
            ));
        }
        for line in section {
            let pad = natural.saturating_sub(visible_width(line));
            out.push(format!(
                "{} {line}{} {}",
                frame("│"),
                " ".repeat(pad),
                frame("│")
            ));
        }
    }
    out.push(frame(&format!("╰{}╯", "─".repeat(natural + 2))));
    out.join("\n")
}

/// Rows of an aligned key/value table; values wrap under themselves.
fn key_values(rows: &[(&str, &str)], key_width: usize, room: usize, look: Look) -> Vec<String> {
    let value_width = room.saturating_sub(key_width + 2).max(1);
    let mut out = Vec::new();
    for (key, value) in rows {
        let key = cut(&one_line(key), key_width);
        let pad = " ".repeat(key_width - key.width());
        let key = match look {
            Look::Plain => key,
            Look::Styled | Look::Colored => key.as_str().bold().to_string(),
        };
        for (i, part) in wrap(&one_line(value), value_width).into_iter().enumerate() {
            if i == 0 {
                out.push(format!("{key}{pad}  {part}"));
            } else {
                out.push(format!("{}  {part}", " ".repeat(key_width)));
            }
        }
    }
    out
}

/// The text on one line: line breaks and tabs become spaces, other control characters go.
fn one_line(text: &str) -> String {
    text.chars()
        .filter_map(|c| match c {
            '\n' | '\r' | '\t' => Some(' '),
            c if c.is_control() => None,
            c => Some(c),
        })
        .collect()
}

/// `text` cut to `width` columns, with an ellipsis when something was cut.
fn cut(text: &str, width: usize) -> String {
    if text.width() <= width {
        return text.to_owned();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    out
}

/// Words of `text` in lines of at most `width` columns; longer words are cut.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let sep = usize::from(!line.is_empty());
        if line.width() + sep + word.width() <= width {
            if sep == 1 {
                line.push(' ');
            }
            line.push_str(word);
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        for c in word.chars() {
            if line.width() + c.width().unwrap_or(0) > width && !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            line.push(c);
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// `line` in pieces of at most `width` columns: termimad's wrapping can leave a line wider
/// than it was asked for, and the box must hold. Escape sequences stay whole; a piece cut
/// after one ends with a reset, so that no style leaks onto the frame.
fn fit(line: &str, width: usize) -> Vec<String> {
    if visible_width(line) <= width {
        return vec![line.to_owned()];
    }
    let mut pieces = Vec::new();
    let mut piece = String::new();
    let mut used = 0;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            // The sequence as `visible_width` reads it: CSI, OSC, or one character.
            piece.push(c);
            match chars.next() {
                Some('[') => {
                    piece.push('[');
                    for c in chars.by_ref() {
                        piece.push(c);
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                }
                Some(']') => {
                    piece.push(']');
                    while let Some(c) = chars.next() {
                        piece.push(c);
                        if c == '\x07' {
                            break;
                        }
                        if c == '\x1b' && chars.next_if_eq(&'\\').is_some() {
                            piece.push('\\');
                            break;
                        }
                    }
                }
                Some(other) => piece.push(other),
                None => {}
            }
            continue;
        }
        let w = c.width().unwrap_or(0);
        if used + w > width && used > 0 {
            if piece.contains('\x1b') {
                piece.push_str("\x1b[0m");
            }
            pieces.push(std::mem::take(&mut piece));
            used = 0;
        }
        piece.push(c);
        used += w;
    }
    if !piece.is_empty() {
        pieces.push(piece);
    }
    pieces
}

/// Columns `text` takes on the terminal, escape sequences not counted.
pub fn visible_width(text: &str) -> usize {
    let mut width = 0;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\x1b' {
            width += c.width().unwrap_or(0);
            continue;
        }
        match chars.next() {
            // CSI: parameters, then one final byte in @..~.
            Some('[') => {
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            // OSC: up to BEL or ESC \.
            Some(']') => {
                while let Some(c) = chars.next() {
                    if c == '\x07' || (c == '\x1b' && chars.next_if_eq(&'\\').is_some()) {
                        break;
                    }
                }
            }
            _ => {}
        }
    }
    width
}

/// The terminal colour for a card's basic colour (white and black become greys, which show
/// on dark and light backgrounds alike).
fn terminal_color(basic: Basic) -> Color {
    match basic {
        Basic::White | Basic::LightGrey => Color::Grey,
        Basic::Black | Basic::Grey => Color::DarkGrey,
        Basic::Blue => Color::DarkBlue,
        Basic::Green => Color::DarkGreen,
        Basic::Red => Color::Red,
        Basic::Brown => Color::DarkRed,
        Basic::Purple => Color::DarkMagenta,
        Basic::Orange => Color::AnsiValue(208),
        Basic::Yellow => Color::Yellow,
        Basic::LightGreen => Color::Green,
        Basic::Cyan => Color::DarkCyan,
        Basic::LightCyan => Color::Cyan,
        Basic::LightBlue => Color::Blue,
        Basic::Pink => Color::Magenta,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use errbot_proto::v1::CardField;

    fn card() -> Card {
        Card {
            title: "Build #42".into(),
            body: "All **green**.".into(),
            summary: "ignored: there is a body".into(),
            link: "https://ci.example/42".into(),
            image: "https://ci.example/42.png".into(),
            color: "green".into(),
            fields: vec![
                CardField {
                    key: "branch".into(),
                    value: "main".into(),
                },
                CardField {
                    key: "duration".into(),
                    value: "3 min".into(),
                },
            ],
            ..Default::default()
        }
    }

    fn plain(card: &Card, width: usize) -> String {
        render(card, Look::Plain, &markdown::skin(Look::Plain), width)
    }

    #[test]
    fn a_body_that_termimad_leaves_too_wide_is_cut_to_the_box() {
        // Found by the console fuzz target: termimad drew this body 19 columns wide in 16, and
        // the card's right border went past the terminal's width.
        let card = Card {
            title: "t".into(),
            body:
                "\u{fffd}\u{fffd}\u{507}\u{fffd}\u{fffd}\u{fffd}yit* it* c`\u{fffd}\u{fffd}\u{fffd}"
                    .into(),
            ..Default::default()
        };
        for look in [Look::Plain, Look::Styled, Look::Colored] {
            let drawn = render(&card, look, &markdown::skin(look), 20);
            for line in drawn.lines() {
                assert!(visible_width(line) <= 20, "{look:?}: {line:?}");
            }
            let text: String = drawn.chars().filter(|c| c.is_alphabetic()).collect();
            assert!(text.contains("yit") && text.contains('c'), "{drawn}");
        }
    }

    #[test]
    fn fit_keeps_escape_sequences_whole() {
        let pieces = fit("ab\x1b[3mcd\x1b[0mef", 3);
        assert_eq!(pieces, ["ab\x1b[3mc\x1b[0m", "d\x1b[0mef"]);
        assert!(pieces.iter().all(|p| visible_width(p) <= 3));
    }

    #[test]
    fn a_framed_block_with_aligned_fields_and_addresses() {
        assert_eq!(
            plain(&card(), 80),
            [
                "╭─ Build #42 ─────────────────────────╮",
                "│ All green.                          │",
                "│                                     │",
                "│ branch    main                      │",
                "│ duration  3 min                     │",
                "│                                     │",
                "│ link      https://ci.example/42     │",
                "│ image     https://ci.example/42.png │",
                "╰─────────────────────────────────────╯",
            ]
            .join("\n")
        );
    }

    #[test]
    fn every_line_has_the_frame_width() {
        let mut c = card();
        c.body = "A paragraph long enough to be wrapped at the width of a narrow terminal, \
                  with `code`.\n\n| a | b |\n|---|---|\n| 1 | 2 |"
            .into();
        c.fields.push(CardField {
            key: "a key much too long for its column".into(),
            value: "a value that wraps, and wraps again, under itself".into(),
        });
        for look in [Look::Plain, Look::Styled, Look::Colored] {
            let text = render(&c, look, &markdown::skin(look), 40);
            let widths: Vec<usize> = text.lines().map(visible_width).collect();
            assert!(
                widths.iter().all(|w| *w == 40),
                "{look:?} {widths:?}\n{text}"
            );
        }
    }

    #[test]
    fn colour_frames_only_when_colours_are_on() {
        let c = card();
        let styled = render(&c, Look::Styled, &markdown::skin(Look::Styled), 80);
        assert!(styled.contains("\x1b[1mBuild #42"), "{styled:?}");
        assert!(!markdown::tests::has_colour(&styled), "{styled:?}");
        let coloured = render(&c, Look::Colored, &markdown::skin(Look::Colored), 80);
        if std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) {
            // Dark green (ANSI 32) around the frame.
            assert!(coloured.contains("\x1b[38;5;2m╭─ "), "{coloured:?}");
        }
        assert!(!plain(&c, 80).contains('\x1b'));
    }

    #[test]
    fn summary_without_body_and_no_title() {
        let c = Card {
            summary: "just a summary".into(),
            ..Default::default()
        };
        assert_eq!(
            plain(&c, 80),
            "╭────────────────╮\n│ just a summary │\n╰────────────────╯"
        );
    }

    #[test]
    fn widths_ignore_escape_sequences() {
        assert_eq!(visible_width("\x1b[1;38;5;2mab\x1b[0m"), 2);
        assert_eq!(visible_width("\x1b]8;;https://x\x1b\\ab\x1b]8;;\x07"), 2);
        assert_eq!(visible_width("日本"), 4);
        assert_eq!(wrap("aaa bb cccccccc", 4), ["aaa", "bb", "cccc", "cccc"]);
        assert_eq!(cut("abcdef", 4), "abc…");
    }
}
