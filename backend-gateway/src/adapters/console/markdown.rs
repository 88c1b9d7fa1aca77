//! Markdown drawn for a terminal, with termimad: styles, headings, lists, quotes, code blocks,
//! tables with box drawing, lines wrapped at the terminal's width.
//!
//! termimad's parser (minimad) is not CommonMark: before it draws, `prepare` adjusts the
//! source at the positions pulldown-cmark (CommonMark) finds: links and images are written out
//! as `text (address)` (minimad has no links), `_emphasis_` and `__strong__` take asterisks
//! (minimad knows only those), and tables get the top and bottom rules termimad needs to close
//! their box.

use std::ops::Range;

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
use termimad::MadSkin;
use termimad::crossterm::style::Attribute;
use termimad::minimad::Alignment;

use super::term::Look;

/// Narrowest width drawn for; narrower terminals wrap the lines themselves.
pub const MIN_WIDTH: usize = 20;

/// The termimad skin for a look.
pub fn skin(look: Look) -> MadSkin {
    let mut skin = match look {
        // termimad's default: grey levels for code, table borders and bullets, readable on a
        // dark or a light background.
        Look::Colored => MadSkin::default(),
        Look::Styled => {
            let mut skin = MadSkin::no_style();
            skin.bold.add_attr(Attribute::Bold);
            skin.italic.add_attr(Attribute::Italic);
            skin.strikeout.add_attr(Attribute::CrossedOut);
            skin
        }
        Look::Plain => MadSkin::no_style(),
    };
    for header in &mut skin.headers {
        header.align = Alignment::Left;
        if look != Look::Plain {
            header.add_attr(Attribute::Bold);
            header.add_attr(Attribute::Underlined);
        }
    }
    if look != Look::Colored {
        // Without a background colour, code blocks stand out by their indentation.
        skin.code_block.left_margin = 2;
    }
    skin
}

/// Draws Markdown for a terminal `width` columns wide (no final line break). Control
/// characters of the text are dropped (a reply cannot send the terminal escape sequences of its
/// own), tabs become four spaces.
pub fn render(markdown: &str, skin: &MadSkin, width: usize) -> String {
    let markdown = without_controls(markdown);
    // Again after `prepare`, whose link addresses come decoded from the parser: `[x](&#27;)`
    // would otherwise write an ESC (found by fuzzing).
    let source = without_controls(&prepare(&markdown));
    let width = width.max(MIN_WIDTH);
    // termimad asserts on widths it cannot fit; a reply is never worth the gateway.
    let drawn = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        skin.text(&source, Some(width)).to_string()
    }));
    match drawn {
        Ok(text) => text.trim_end_matches('\n').to_owned(),
        Err(_) => {
            tracing::warn!("the console could not draw a reply; it is shown as it came");
            markdown
        }
    }
}

/// `text` without control characters (line breaks kept), tabs as four spaces.
fn without_controls(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\t'))
        .collect::<String>()
        .replace('\t', "    ")
}

/// A link or image being read: where it is in the source, its address, where its text is.
struct Open {
    whole: Range<usize>,
    dest: String,
    text: Option<Range<usize>>,
}

/// Rewrites links and images as `text (address)`, an address alone when the text is the
/// address itself (`<https://…>`) or empty; underscores delimiting emphasis as asterisks;
/// repeats each table's delimiter row above and below it. Code spans and blocks are left alone.
pub fn prepare(markdown: &str) -> String {
    let options =
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    let mut open: Vec<Open> = Vec::new();
    let mut edits: Vec<(Range<usize>, String)> = Vec::new();
    for (event, range) in Parser::new_ext(markdown, options).into_offset_iter() {
        match event {
            Event::Start(Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. }) => {
                if let Some(outer) = open.last_mut() {
                    extend(&mut outer.text, &range);
                }
                open.push(Open {
                    whole: range,
                    dest: dest_url.to_string(),
                    text: None,
                });
            }
            Event::Start(Tag::Table(_)) => {
                let table = markdown.get(range.clone()).unwrap_or_default();
                let line_start = markdown.get(..range.start).unwrap_or_default();
                let line_start = &line_start[line_start.rfind('\n').map_or(0, |i| i + 1)..];
                // Only tables of their own (not inside a quote or a list item, whose lines
                // carry a prefix the rules would lack).
                let own_lines = line_start.trim().is_empty();
                if let Some(rule) = table.lines().nth(1).map(str::trim).filter(|_| own_lines) {
                    let end = range.start + table.trim_end().len();
                    edits.push((range.start..range.start, format!("{rule}\n")));
                    edits.push((end..end, format!("\n{rule}")));
                }
            }
            Event::Start(tag @ (Tag::Emphasis | Tag::Strong)) => {
                if let Some(link) = open.last_mut() {
                    extend(&mut link.text, &range);
                }
                let n = if matches!(tag, Tag::Strong) { 2 } else { 1 };
                let delimited = markdown
                    .get(range.clone())
                    .is_some_and(|t| t.len() > 2 * n && t.starts_with('_') && t.ends_with('_'));
                if delimited {
                    let stars = "*".repeat(n);
                    edits.push((range.start..range.start + n, stars.clone()));
                    edits.push((range.end - n..range.end, stars));
                }
            }
            Event::End(TagEnd::Link | TagEnd::Image) => {
                let Some(link) = open.pop() else { continue };
                if let Some(outer) = open.last_mut() {
                    extend(&mut outer.text, &link.whole);
                }
                let inner = link.text.clone().map(|r| rewrite(markdown, r, &edits));
                // A link around an image: the image's own edit is now part of this one.
                edits.retain(|(r, _)| !(link.whole.start <= r.start && r.end <= link.whole.end));
                edits.push((link.whole.clone(), written(inner.as_deref(), &link.dest)));
            }
            _ => {
                if let Some(link) = open.last_mut() {
                    extend(&mut link.text, &range);
                }
            }
        }
    }
    rewrite(markdown, 0..markdown.len(), &edits)
}

/// Widens `text` to cover `range`.
fn extend(text: &mut Option<Range<usize>>, range: &Range<usize>) {
    *text = Some(match text.take() {
        Some(t) => t.start.min(range.start)..t.end.max(range.end),
        None => range.clone(),
    });
}

/// `source[span]` with the edits that lie inside it applied; of overlapping edits, the one
/// starting first (the widest of those) wins.
fn rewrite(source: &str, span: Range<usize>, edits: &[(Range<usize>, String)]) -> String {
    let mut inside: Vec<&(Range<usize>, String)> = edits
        .iter()
        .filter(|(r, _)| span.start <= r.start && r.end <= span.end)
        .collect();
    inside.sort_by_key(|(r, _)| (r.start, std::cmp::Reverse(r.end)));
    let mut out = String::with_capacity(span.len());
    let mut at = span.start;
    for (range, with) in inside {
        if range.start < at {
            continue;
        }
        out.push_str(source.get(at..range.start).unwrap_or_default());
        out.push_str(with);
        at = range.end;
    }
    out.push_str(source.get(at..span.end).unwrap_or_default());
    out
}

/// How a link is written out.
fn written(text: Option<&str>, dest: &str) -> String {
    let text = text.map(str::trim).unwrap_or_default();
    if dest.is_empty() {
        text.to_owned()
    } else if text.is_empty() || text == dest || format!("mailto:{text}") == dest {
        dest.to_owned()
    } else {
        format!("{text} ({dest})")
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn plain(markdown: &str, width: usize) -> String {
        render(markdown, &skin(Look::Plain), width)
    }

    #[test]
    fn character_references_cannot_send_control_characters() {
        // Found by fuzzing (console target): a link's address comes decoded from the parser,
        // so `&#27;` in it became an ESC after the text's control characters were dropped.
        for look in [Look::Plain, Look::Styled, Look::Colored] {
            let drawn = render(
                "[x](&#27;[31m) [y](&#x1B;[2J) [z](a&#6;b) ![i](&#7;) &#27;[0m",
                &skin(look),
                60,
            );
            assert!(
                !drawn.contains("\x1b[31m") && !drawn.contains("\x1b[2J"),
                "{drawn:?}"
            );
            let text = drawn.replace("\x1b[", "");
            assert!(!text.contains(['\u{6}', '\u{7}']), "{drawn:?}");
            if look == Look::Plain {
                assert!(!drawn.chars().any(char::is_control), "{drawn:?}");
            }
        }
    }

    #[test]
    fn links_and_images_are_written_out() {
        assert_eq!(
            prepare("see [the docs](https://x.example/a_b) or <https://y.example>."),
            "see the docs (https://x.example/a_b) or https://y.example."
        );
        assert_eq!(
            prepare(
                "![logo](https://x.example/l.png) [![i](https://i.example)](https://l.example)"
            ),
            "logo (https://x.example/l.png) i (https://i.example) (https://l.example)"
        );
        assert_eq!(
            prepare("`[not](a link)`\n\n```\n[nor](this)\n```\n"),
            "`[not](a link)`\n\n```\n[nor](this)\n```\n"
        );
        assert_eq!(
            prepare(
                "| a | [b](https://b.example) |\n|---|---|\n| **[c](https://c.example)** | d |"
            ),
            "|---|---|\n| a | b (https://b.example) |\n|---|---|\n| **c (https://c.example)** | d |\n|---|---|"
        );
        assert_eq!(prepare("mail <me@x.example>"), "mail me@x.example");
        assert_eq!(
            prepare("> | a |\n> |---|\n> | 1 |\n"),
            "> | a |\n> |---|\n> | 1 |\n",
            "no rules where lines have a prefix"
        );
        assert_eq!(
            prepare("_it_ __bold__ snake_case_name `_code_` [![_a_ b](i)](l)"),
            "*it* **bold** snake_case_name `_code_` *a* b (i) (l)"
        );
    }

    #[test]
    fn plain_look_has_no_escape_sequence() {
        let text = plain(
            "# Title\n\nSome **bold**, *italic* and `code`.\n\n- one\n- two\n\n```\nlet x = 1;\n```\n",
            60,
        );
        assert!(!text.contains('\x1b'), "{text:?}");
        assert_eq!(
            text.lines().map(str::trim_end).collect::<Vec<_>>(),
            [
                "Title",
                "",
                "Some bold, italic and code.",
                "",
                "• one",
                "• two",
                "",
                "  let x = 1;",
            ]
        );
    }

    #[test]
    fn the_reply_cannot_send_escape_sequences() {
        let text = plain("a\x1b[2Jb\x1b]0;title\x07c\r\nx\ty\x00", 60);
        assert_eq!(text, "a[2Jb]0;titlec\nx    y");
    }

    #[test]
    fn tables_are_drawn_with_boxes() {
        let text = plain(
            "| key | value |\n|-----|------:|\n| a | 1 |\n| bb | 22 |\n",
            60,
        );
        let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
        assert_eq!(
            lines,
            [
                "┌───┬─────┐",
                "│key│value│",
                "├───┼─────┤",
                "│a  │    1│",
                "│bb │   22│",
                "└───┴─────┘",
            ]
        );
    }

    #[test]
    fn long_lines_wrap_at_the_width() {
        let text = plain(&"word ".repeat(30), 40);
        assert!(text.lines().count() >= 4, "{text}");
        for line in text.lines() {
            assert!(
                unicode_width::UnicodeWidthStr::width(line) <= 40,
                "{line:?}"
            );
        }
    }

    #[test]
    fn styled_look_has_attributes_but_no_colour() {
        let text = render("**bold** *it* `code`\n\n# Head\n", &skin(Look::Styled), 60);
        assert!(text.contains("\x1b[1mbold"), "{text:?}");
        assert!(text.contains("\x1b[3mit"), "{text:?}");
        // No foreground (3x, 9x, 38;…) or background (4x, 10x, 48;…) colour.
        assert!(!has_colour(&text), "{text:?}");
    }

    #[test]
    fn coloured_look_colours_code() {
        let text = render("a `code` b\n", &skin(Look::Colored), 60);
        if std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) {
            assert!(has_colour(&text), "{text:?}");
        }
        assert!(text.contains("code"));
    }

    /// Whether SGR sequences in `text` set a colour.
    pub(crate) fn has_colour(text: &str) -> bool {
        text.split("\x1b[").skip(1).any(|seq| {
            let params = seq.split('m').next().unwrap_or_default();
            params.split(';').any(|p| {
                matches!(p.len(), 2 | 3)
                    && (p.starts_with('3')
                        || p.starts_with('4')
                        || p.starts_with("9")
                        || p.starts_with("10"))
                    && p.chars().all(|c| c.is_ascii_digit())
            })
        })
    }
}
