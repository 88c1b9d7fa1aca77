//! A reply's Markdown (or card) as runs of text with the styles Telegram's HTML has: bold,
//! italic, strikethrough, inline code, pre blocks with their language, links and quotes.
//! Headings are bold, list items get a bullet or their number, tables become a pre block with
//! `|` between cells, raw HTML stays text. `split` turns runs into the HTML Telegram takes
//! (`parse_mode=HTML`: far fewer ways to fail than MarkdownV2) and the plain-text fallback.

use errbot_proto::v1::{Card, Content, content};
use pulldown_cmark::{CodeBlockKind, Event, Options, Parser, Tag, TagEnd};

/// A style of Telegram's HTML.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Style {
    /// `<blockquote>`.
    Quote,
    /// `<a href>`.
    Link(String),
    /// `<b>`.
    Bold,
    /// `<i>`.
    Italic,
    /// `<s>`.
    Strike,
    /// `<code>`.
    Code,
    /// `<pre>` (with `<code class="language-…">` when the language is known).
    Pre(String),
}

/// Text shown with the same styles.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Run {
    /// The text, as people see it.
    pub text: String,
    /// Its styles, outermost first.
    pub styles: Vec<Style>,
}

/// The runs of a reply's content (`None` for a template, which errbotd renders).
pub fn content_runs(content: &Content) -> Option<Vec<Run>> {
    match content.kind.as_ref()? {
        content::Kind::Markdown(md) => Some(markdown(md)),
        content::Kind::Card(card) => Some(markdown(&card_markdown(card))),
        content::Kind::Template(_) => None,
    }
}

/// A card as Markdown: its title in bold, body (or summary), `key: value` fields, link, image.
fn card_markdown(card: &Card) -> String {
    let mut parts: Vec<String> = Vec::new();
    if !card.title.trim().is_empty() {
        parts.push(format!("**{}**", card.title.trim()));
    }
    let body = if card.body.trim().is_empty() {
        &card.summary
    } else {
        &card.body
    };
    if !body.trim().is_empty() {
        parts.push(body.trim().to_owned());
    }
    let fields: Vec<String> = card
        .fields
        .iter()
        .map(|f| format!("**{}**: {}", f.key.trim(), f.value.trim()))
        .collect();
    if !fields.is_empty() {
        parts.push(fields.join("  \n"));
    }
    for link in [&card.link, &card.image] {
        if !link.trim().is_empty() {
            parts.push(link.trim().to_owned());
        }
    }
    parts.join("\n\n")
}

/// Whether Telegram takes `url` as a link's address.
fn linkable(url: &str) -> bool {
    ["http://", "https://", "tg://", "mailto:"]
        .iter()
        .any(|p| url.to_ascii_lowercase().starts_with(p))
}

struct Renderer {
    runs: Vec<Run>,
    styles: Vec<Style>,
    /// Newlines owed before the next text (between blocks).
    owed: usize,
    /// Open lists: the next number of each ordered one.
    lists: Vec<Option<u64>>,
    /// Styles pushed by each open tag (0 or 1), to pop the right count at its end.
    pushed: Vec<bool>,
    first_cell: bool,
}

impl Renderer {
    fn text(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        if self.owed > 0 && !self.runs.is_empty() {
            let breaks = "\n".repeat(self.owed);
            self.append(&breaks, Vec::new());
        }
        self.owed = 0;
        self.append(text, self.styles.clone());
    }

    fn append(&mut self, text: &str, styles: Vec<Style>) {
        match self.runs.last_mut() {
            Some(last) if last.styles == styles => last.text.push_str(text),
            _ => self.runs.push(Run {
                text: text.to_owned(),
                styles,
            }),
        }
    }

    fn block_end(&mut self, newlines: usize) {
        if !self.runs.is_empty() {
            self.owed = self.owed.max(newlines);
        }
    }

    fn open(&mut self, style: Option<Style>) {
        match style {
            Some(s) => {
                self.styles.push(s);
                self.pushed.push(true);
            }
            None => self.pushed.push(false),
        }
    }

    fn close(&mut self) {
        if self.pushed.pop() == Some(true) {
            self.styles.pop();
        }
    }

    fn start(&mut self, tag: Tag<'_>) {
        match tag {
            Tag::Paragraph => self.open(None),
            Tag::Heading { .. } => self.open(Some(Style::Bold)),
            Tag::BlockQuote(_) => self.open(Some(Style::Quote)),
            Tag::CodeBlock(kind) => {
                let lang = match kind {
                    CodeBlockKind::Fenced(info) => info
                        .split_whitespace()
                        .next()
                        .unwrap_or("")
                        .chars()
                        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '_' | '#'))
                        .collect(),
                    CodeBlockKind::Indented => String::new(),
                };
                self.open(Some(Style::Pre(lang)));
            }
            Tag::List(first) => {
                if self.lists.is_empty() {
                    self.block_end(2);
                }
                self.lists.push(first);
                self.open(None);
            }
            Tag::Item => {
                self.block_end(1);
                let depth = self.lists.len().saturating_sub(1);
                let marker = match self.lists.last_mut() {
                    Some(Some(n)) => {
                        let m = format!("{n}. ");
                        *n += 1;
                        m
                    }
                    _ => "• ".to_owned(),
                };
                let indent = "  ".repeat(depth);
                let styles = std::mem::take(&mut self.styles);
                self.text(&format!("{indent}{marker}"));
                self.styles = styles;
                self.open(None);
            }
            Tag::Table(_) => {
                self.open(Some(Style::Pre(String::new())));
            }
            Tag::TableHead | Tag::TableRow => {
                self.first_cell = true;
                self.open(None);
            }
            Tag::TableCell => {
                if !self.first_cell {
                    self.text(" | ");
                }
                self.first_cell = false;
                self.open(None);
            }
            Tag::Emphasis => self.open(Some(Style::Italic)),
            Tag::Strong => self.open(Some(Style::Bold)),
            Tag::Strikethrough => self.open(Some(Style::Strike)),
            Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. } => {
                let url = dest_url.trim().to_owned();
                self.open(linkable(&url).then_some(Style::Link(url)));
            }
            _ => self.open(None),
        }
    }

    fn end(&mut self, tag: TagEnd) {
        self.close();
        match tag {
            TagEnd::Paragraph | TagEnd::Heading(_) | TagEnd::BlockQuote(_) => {
                self.block_end(if self.lists.is_empty() { 2 } else { 1 });
            }
            TagEnd::CodeBlock => {
                if let Some(last) = self.runs.last_mut()
                    && last.text.ends_with('\n')
                {
                    last.text.pop();
                }
                self.block_end(2);
            }
            TagEnd::List(_) => {
                self.lists.pop();
                self.block_end(if self.lists.is_empty() { 2 } else { 1 });
            }
            TagEnd::TableHead | TagEnd::TableRow => {
                let styles = self.styles.clone();
                self.append("\n", styles);
            }
            TagEnd::Table => {
                if let Some(last) = self.runs.last_mut()
                    && last.text.ends_with('\n')
                {
                    last.text.pop();
                }
                self.block_end(2);
            }
            _ => {}
        }
    }
}

/// The runs of a Markdown text.
pub fn markdown(md: &str) -> Vec<Run> {
    let options =
        Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TABLES | Options::ENABLE_TASKLISTS;
    let mut r = Renderer {
        runs: Vec::new(),
        styles: Vec::new(),
        owed: 0,
        lists: Vec::new(),
        pushed: Vec::new(),
        first_cell: false,
    };
    for event in Parser::new_ext(md, options) {
        match event {
            Event::Start(tag) => r.start(tag),
            Event::End(tag) => r.end(tag),
            Event::Text(t) => r.text(&t),
            Event::Code(t) => {
                r.styles.push(Style::Code);
                r.text(&t);
                r.styles.pop();
            }
            Event::Html(t) | Event::InlineHtml(t) => r.text(&t),
            Event::SoftBreak | Event::HardBreak => {
                let styles = r.styles.clone();
                r.append("\n", styles);
            }
            Event::Rule => {
                r.block_end(2);
                r.text("――――――――");
                r.block_end(2);
            }
            Event::TaskListMarker(done) => r.text(if done { "☑ " } else { "☐ " }),
            _ => {}
        }
    }
    r.runs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(runs: &[Run]) -> String {
        runs.iter().map(|r| r.text.as_str()).collect()
    }

    #[test]
    fn styles_of_common_markdown() {
        let runs = markdown("# Title\n\nSome **bold** and _it_ and `code` [here](https://x.y).");
        assert_eq!(plain(&runs), "Title\n\nSome bold and it and code here.");
        assert!(runs.contains(&Run {
            text: "bold".into(),
            styles: vec![Style::Bold]
        }));
        assert!(runs.contains(&Run {
            text: "code".into(),
            styles: vec![Style::Code]
        }));
        assert!(runs.contains(&Run {
            text: "here".into(),
            styles: vec![Style::Link("https://x.y".into())]
        }));
    }

    #[test]
    fn lists_code_blocks_and_tables() {
        let runs = markdown(
            "- a\n- b\n\n1. one\n2. two\n\n```rust\nfn x() {}\n```\n\n| h | k |\n|---|---|\n| 1 | 2 |\n",
        );
        assert_eq!(
            plain(&runs),
            "• a\n• b\n\n1. one\n2. two\n\nfn x() {}\n\nh | k\n1 | 2"
        );
        assert!(runs.iter().any(|r| r.styles == [Style::Pre("rust".into())]));
    }

    #[test]
    fn raw_html_is_text_and_javascript_is_no_link() {
        let runs = markdown("<b>x</b> [y](javascript:alert)");
        assert_eq!(plain(&runs), "<b>x</b> y");
        assert!(runs.iter().all(|r| r.styles.is_empty()));
    }
}
