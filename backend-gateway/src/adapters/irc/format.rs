//! Markdown to IRC formatting, and IRC formatting out of received text.
//!
//! Replies are Markdown. IRC has control codes instead: bold `\x02`, italics `\x1D`, strike
//! `\x1E`, monospace `\x11` (for code), colours `\x03`, reset `\x0F`. Each rendered line is one
//! IRC message; blank lines are dropped (IRC refuses empty messages). Tables are compact: one
//! line per row, cells separated by ` | `, the header row in bold. Cards have their own compact
//! lines (`card.rs`).

use errbot_proto::v1::{Content, content};
use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

/// Bold.
pub const BOLD: char = '\x02';
/// Italics.
pub const ITALIC: char = '\x1D';
/// Underline.
pub const UNDERLINE: char = '\x1F';
/// Strikethrough.
pub const STRIKE: char = '\x1E';
/// Monospace (code).
pub const MONO: char = '\x11';
/// Reverse colours.
pub const REVERSE: char = '\x16';
/// Colour (followed by up to two digits, optionally `,` and two more).
pub const COLOR: char = '\x03';
/// Hex colour (followed by six hex digits, optionally `,` and six more).
pub const HEX_COLOR: char = '\x04';
/// Put between a colour code and text starting with a comma (two bold codes: no change of
/// style), so that the text's `,NN` is not read as the colour's background.
pub const COLOR_GUARD: &str = "\x02\x02";
/// Resets every format.
pub const RESET: char = '\x0F';

/// Renders a reply into IRC lines (Markdown or a card): no line is empty, none contains CR, LF
/// or NUL.
pub fn content(content: &Content) -> Vec<String> {
    match &content.kind {
        Some(content::Kind::Markdown(md)) => render(md),
        Some(content::Kind::Card(card)) => super::card::render(card),
        // errbotd renders templates; one that arrives here is refused by the session.
        Some(content::Kind::Template(_)) | None => Vec::new(),
    }
}

/// Renders Markdown into IRC lines: no line is empty, none contains CR, LF or NUL.
pub fn render(markdown: &str) -> Vec<String> {
    let mut r = Renderer::default();
    let options =
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    for event in Parser::new_ext(markdown, options) {
        r.event(event);
    }
    r.finish()
}

#[derive(Default)]
struct Renderer {
    out: Vec<String>,
    line: String,
    /// Whether `line` holds its prefix already.
    started: bool,
    /// Block prefixes: quotes ("> ") and list indentation.
    prefixes: Vec<String>,
    /// Bullet to print at the start of the next line of the current list item.
    bullet: Option<String>,
    /// Open lists: the next number of ordered ones.
    lists: Vec<Option<u64>>,
    /// Active inline styles, reopened at the start of each new line.
    styles: Vec<char>,
    in_code_block: bool,
    /// Links and images being read: destination and their text so far.
    links: Vec<(String, String)>,
    table: Option<Table>,
}

#[derive(Default)]
struct Table {
    rows: Vec<(bool, Vec<String>)>,
    in_head: bool,
    cell: Option<String>,
}

impl Renderer {
    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(t) => {
                if self.in_code_block {
                    self.code_block_text(&t);
                } else {
                    self.text(&t);
                }
            }
            Event::Code(t) => {
                self.text(&MONO.to_string());
                self.text(&t);
                self.text(&MONO.to_string());
            }
            Event::Html(t) | Event::InlineHtml(t) => {
                for (i, part) in t.split('\n').enumerate() {
                    if i > 0 {
                        self.newline();
                    }
                    self.text(part);
                }
            }
            Event::SoftBreak => self.text(" "),
            Event::HardBreak => self.newline(),
            Event::Rule => {
                self.newline();
                self.text("----");
                self.newline();
            }
            Event::TaskListMarker(done) => self.text(if done { "[x] " } else { "[ ] " }),
            Event::FootnoteReference(name) => self.text(&format!("[^{name}]")),
            Event::InlineMath(t) | Event::DisplayMath(t) => self.text(&t),
        }
    }

    fn start(&mut self, tag: Tag<'_>) {
        match tag {
            Tag::Paragraph | Tag::HtmlBlock => self.newline(),
            Tag::Heading { .. } => {
                self.newline();
                self.style(BOLD);
            }
            Tag::BlockQuote(_) => {
                self.newline();
                self.prefixes.push("> ".into());
            }
            Tag::CodeBlock(_) => {
                self.newline();
                self.in_code_block = true;
            }
            Tag::List(first) => {
                self.newline();
                self.lists.push(first);
            }
            Tag::Item => {
                self.newline();
                let marker = match self.lists.last_mut() {
                    Some(Some(n)) => {
                        let m = format!("{n}. ");
                        *n += 1;
                        m
                    }
                    _ => "• ".to_owned(),
                };
                let indent = " ".repeat(marker.chars().count());
                self.bullet = Some(marker);
                self.prefixes.push(indent);
            }
            Tag::Emphasis => self.style(ITALIC),
            Tag::Strong => self.style(BOLD),
            Tag::Strikethrough => self.style(STRIKE),
            Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. } => {
                self.links.push((dest_url.to_string(), String::new()));
            }
            Tag::Table(_) => {
                self.newline();
                self.table = Some(Table::default());
            }
            Tag::TableHead => {
                if let Some(t) = &mut self.table {
                    t.in_head = true;
                    t.rows.push((true, Vec::new()));
                }
            }
            Tag::TableRow => {
                if let Some(t) = &mut self.table {
                    t.rows.push((false, Vec::new()));
                }
            }
            Tag::TableCell => {
                if let Some(t) = &mut self.table {
                    t.cell = Some(String::new());
                }
            }
            Tag::FootnoteDefinition(name) => {
                self.newline();
                self.text(&format!("[^{name}]: "));
            }
            Tag::DefinitionList
            | Tag::DefinitionListTitle
            | Tag::DefinitionListDefinition
            | Tag::MetadataBlock(_) => self.newline(),
            Tag::Superscript | Tag::Subscript => {}
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Paragraph | TagEnd::HtmlBlock => self.newline(),
            TagEnd::Heading(_) => {
                self.unstyle(BOLD);
                self.newline();
            }
            TagEnd::BlockQuote(_) => {
                self.newline();
                self.prefixes.pop();
            }
            TagEnd::CodeBlock => {
                self.in_code_block = false;
                self.newline();
            }
            TagEnd::List(_) => {
                self.newline();
                self.lists.pop();
            }
            TagEnd::Item => {
                self.newline();
                self.bullet = None;
                self.prefixes.pop();
            }
            TagEnd::Emphasis => self.unstyle(ITALIC),
            TagEnd::Strong => self.unstyle(BOLD),
            TagEnd::Strikethrough => self.unstyle(STRIKE),
            TagEnd::Link | TagEnd::Image => {
                if let Some((dest, text)) = self.links.pop() {
                    let shown = strip(&text);
                    if !dest.is_empty()
                        && shown.trim() != dest
                        && format!("mailto:{}", shown.trim()) != dest
                    {
                        if shown.trim().is_empty() {
                            self.text(&dest);
                        } else {
                            self.text(&format!(" ({dest})"));
                        }
                    }
                }
            }
            TagEnd::TableCell => {
                if let Some(t) = &mut self.table {
                    let cell = t.cell.take().unwrap_or_default();
                    if let Some((_, row)) = t.rows.last_mut() {
                        row.push(cell.trim().to_owned());
                    }
                }
            }
            TagEnd::TableHead => {
                if let Some(t) = &mut self.table {
                    t.in_head = false;
                }
            }
            TagEnd::Table => {
                if let Some(t) = self.table.take() {
                    for (head, cells) in t.rows {
                        if cells.is_empty() {
                            continue;
                        }
                        let row = cells.join(" | ");
                        if head {
                            self.text(&format!("{BOLD}{row}{BOLD}"));
                        } else {
                            self.text(&row);
                        }
                        self.newline();
                    }
                }
            }
            TagEnd::FootnoteDefinition
            | TagEnd::DefinitionList
            | TagEnd::DefinitionListTitle
            | TagEnd::DefinitionListDefinition
            | TagEnd::MetadataBlock(_) => self.newline(),
            TagEnd::TableRow | TagEnd::Superscript | TagEnd::Subscript => {}
        }
    }

    fn style(&mut self, code: char) {
        self.text(&code.to_string());
        self.styles.push(code);
    }

    fn unstyle(&mut self, code: char) {
        if let Some(i) = self.styles.iter().rposition(|c| *c == code) {
            self.styles.remove(i);
        }
        self.text(&code.to_string());
    }

    /// Appends inline text (never a line break).
    fn text(&mut self, text: &str) {
        let clean: String = text
            .chars()
            .filter(|c| !matches!(c, '\r' | '\n' | '\0'))
            .collect();
        if clean.is_empty() {
            return;
        }
        for (_, collected) in &mut self.links {
            collected.push_str(&clean);
        }
        if let Some(t) = &mut self.table
            && let Some(cell) = &mut t.cell
        {
            cell.push_str(&clean);
            return;
        }
        if !self.started {
            self.started = true;
            let prefixes: String = self.prefixes.concat();
            match self.bullet.take() {
                // The bullet replaces the item's own indentation on its first line.
                Some(bullet) => {
                    let outer = self.prefixes.len().saturating_sub(1);
                    self.line.push_str(&self.prefixes[..outer].concat());
                    self.line.push_str(&bullet);
                }
                None => self.line.push_str(&prefixes),
            }
            let reopen: String = self
                .styles
                .iter()
                .filter(|c| !clean.starts_with(**c))
                .collect();
            self.line.push_str(&reopen);
        }
        self.line.push_str(&clean);
    }

    fn code_block_text(&mut self, text: &str) {
        let mut parts: Vec<&str> = text.split('\n').collect();
        if parts.last() == Some(&"") {
            parts.pop();
        }
        for part in parts {
            let part = part.trim_end_matches('\r');
            if !part.trim().is_empty() {
                self.text(&format!("{MONO}{part}{MONO}"));
            }
            self.newline();
        }
    }

    /// Ends the current line, if it has anything.
    fn newline(&mut self) {
        if self.started {
            let line = std::mem::take(&mut self.line);
            if !strip(&line).trim().is_empty() {
                self.out.push(line.trim_end().to_owned());
            }
            self.started = false;
        }
    }

    fn finish(mut self) -> Vec<String> {
        self.newline();
        self.out
    }
}

/// Removes IRC formatting codes (bold, colours...) from received text, so that commands written
/// in bold or colour are still recognised.
pub fn strip(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            BOLD | ITALIC | UNDERLINE | STRIKE | MONO | REVERSE | RESET => {}
            COLOR => {
                skip_digits(&mut chars, 2, |c| c.is_ascii_digit());
            }
            HEX_COLOR => {
                skip_digits(&mut chars, 6, |c| c.is_ascii_hexdigit());
            }
            c => out.push(c),
        }
    }
    out
}

/// Skips a colour's `NN[,NN]` (or hex `RRGGBB[,RRGGBB]`) after its code.
fn skip_digits(
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
    max: usize,
    digit: impl Fn(char) -> bool,
) {
    let mut count = 0;
    while count < max && chars.peek().is_some_and(|c| digit(*c)) {
        chars.next();
        count += 1;
    }
    if count > 0 {
        let mut ahead = chars.clone();
        if ahead.next() == Some(',') && ahead.peek().is_some_and(|c| digit(*c)) {
            chars.next();
            let mut n = 0;
            while n < max && chars.peek().is_some_and(|c| digit(*c)) {
                chars.next();
                n += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_styles_and_code() {
        assert_eq!(
            render("Some **bold**, *italic*, ~~gone~~ and `code`."),
            ["Some \x02bold\x02, \x1Ditalic\x1D, \x1Egone\x1E and \x11code\x11."]
        );
    }

    #[test]
    fn blocks_become_lines_without_blank_ones() {
        let md = "# Title\n\nFirst paragraph\nsame line.\n\n- one\n- two\n  - nested\n\n1. a\n2. b\n\n> quoted\n\n---\n\n```\nlet x = 1;\n\nx\n```\n";
        assert_eq!(
            render(md),
            [
                "\x02Title\x02",
                "First paragraph same line.",
                "• one",
                "• two",
                "  • nested",
                "1. a",
                "2. b",
                "> quoted",
                "----",
                "\x11let x = 1;\x11",
                "\x11x\x11",
            ]
        );
    }

    #[test]
    fn compact_tables_and_links() {
        let md = "| key | value |\n|-----|------:|\n| a | **1** |\n| b | 2 |\n\n[docs](https://x.example) <https://y.example>";
        assert_eq!(
            render(md),
            [
                "\x02key | value\x02",
                "a | \x021\x02",
                "b | 2",
                "docs (https://x.example) https://y.example",
            ]
        );
    }

    #[test]
    fn styles_reopen_after_a_hard_break_and_no_line_has_cr_lf_or_nul() {
        let lines = render("**bold  \nstill bold**\r\nplain\0text");
        assert_eq!(lines, ["\x02bold", "\x02still bold\x02 plaintext"]);
        for l in render("a\r\n\r\nb\n\n\n\nc  \n\0") {
            assert!(!l.contains(['\r', '\n', '\0']) && !l.is_empty(), "{l:?}");
        }
    }

    #[test]
    fn strips_received_formatting() {
        assert_eq!(
            strip("\x02!help\x02 \x0304,12red\x03 \x031x \x04FF0000hex\x0f"),
            "!help red x hex"
        );
        assert_eq!(strip("\x03,5 x"), ",5 x");
        assert_eq!(strip("plain"), "plain");
    }
}
