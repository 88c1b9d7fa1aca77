//! Markdown replies rendered to Slack's mrkdwn: `*bold*`, `_italics_`, `~strike~`, `` `code` ``,
//! code blocks in triple backticks, links `<url|text>`, lists with `•` or numbers, quotes with
//! `>`, headings in bold, tables as code blocks with aligned columns.
//!
//! Slack reads `&`, `<` and `>` as markup in every text, so they are escaped everywhere; only
//! mentions of a person or a channel in Slack's own form (`<@U123>`, `<#C123|name>`) pass
//! through. `<!here>`, `<!channel>`, `<!everyone>` and group mentions are escaped: a plugin cannot
//! ping a channel by accident. (`@here` as plain text pings nobody: messages are posted without
//! `link_names`.)

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd, TextMergeStream};

/// Escapes Slack's three control characters.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// The length of a mention in Slack's form at the start of `text` (`<@U123>`, `<@U123|x>`,
/// `<#C123>`, `<#C123|name>`), if there is one.
fn mention_len(text: &str) -> Option<usize> {
    let rest = text.strip_prefix('<')?;
    let (sigils, body) = match rest.chars().next()? {
        '@' => (&['U', 'W', 'B'][..], &rest[1..]),
        '#' => (&['C', 'G'][..], &rest[1..]),
        _ => return None,
    };
    let end = body.find('>')?;
    let inner = &body[..end];
    let id = inner.split_once('|').map_or(inner, |(id, _)| id);
    let ok = id.len() >= 3
        && id.starts_with(sigils)
        && id
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        && !inner.contains('<');
    ok.then_some(2 + end + 1)
}

/// Escapes `text`, keeping mentions of people and channels in Slack's form.
pub fn escape_keeping_mentions(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('<') {
        out.push_str(&escape(&rest[..i]));
        let tail = &rest[i..];
        match mention_len(tail) {
            Some(n) => {
                out.push_str(&tail[..n]);
                rest = &tail[n..];
            }
            None => {
                out.push_str("&lt;");
                rest = &tail[1..];
            }
        }
    }
    out.push_str(&escape(rest));
    out
}

/// A URL as it may stand inside `<...|...>`. A leading `!` is escaped too: `<!here|x>` is
/// Slack's @here, whatever the Markdown link (`[x](!here)`, or the e-mail autolink
/// `<!@U1>`) meant.
fn link_url(url: &str) -> String {
    let url = url
        .replace('<', "%3C")
        .replace('>', "%3E")
        .replace('|', "%7C")
        .replace('&', "&amp;");
    match url.strip_prefix('!') {
        Some(rest) => format!("%21{rest}"),
        None => url,
    }
}

struct Renderer {
    out: String,
    /// Inline text being gathered (a link's label, a table cell), innermost last.
    buffers: Vec<String>,
    quote: usize,
    /// Open lists: the next number of an ordered one, `None` for bullets.
    lists: Vec<Option<u64>>,
    code_block: bool,
    /// A table being gathered: rows of cells.
    table: Option<Vec<Vec<String>>>,
    links: Vec<String>,
}

impl Renderer {
    fn at_line_start(&self) -> bool {
        self.out.is_empty() || self.out.ends_with('\n')
    }

    fn newline(&mut self) {
        if !self.at_line_start() {
            self.out.push('\n');
        }
    }

    /// Writes already escaped text: into the innermost buffer, or the output with the quote
    /// marks at each line's start.
    fn raw(&mut self, text: &str) {
        if let Some(buf) = self.buffers.last_mut() {
            buf.push_str(text);
            return;
        }
        for (i, line) in text.split('\n').enumerate() {
            if i > 0 {
                self.out.push('\n');
            }
            if line.is_empty() {
                continue;
            }
            if self.at_line_start() && self.quote > 0 {
                self.out.push_str(&"> ".repeat(self.quote));
            }
            self.out.push_str(line);
        }
    }

    fn in_table(&self) -> bool {
        self.table.is_some()
    }

    /// A style mark (`*`, `_`, `~`), left out inside tables (their cells are plain text).
    fn mark(&mut self, mark: &str) {
        if !self.in_table() {
            self.raw(mark);
        }
    }

    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(t) => {
                if self.code_block {
                    self.raw(&escape(&t));
                } else {
                    self.raw(&escape_keeping_mentions(&t));
                }
            }
            Event::Code(t) => {
                if self.in_table() {
                    self.raw(&escape(&t));
                } else {
                    self.raw(&format!("`{}`", escape(&t)));
                }
            }
            Event::Html(t) | Event::InlineHtml(t) => self.raw(&escape_keeping_mentions(&t)),
            Event::SoftBreak => self.raw(if self.in_table() { " " } else { "\n" }),
            Event::HardBreak => self.raw("\n"),
            Event::Rule => {
                self.newline();
                self.raw(&"─".repeat(24));
                self.newline();
            }
            Event::TaskListMarker(done) => self.raw(if done { "☑ " } else { "☐ " }),
            Event::FootnoteReference(name) => self.raw(&format!("[{}]", escape(&name))),
            Event::InlineMath(t) | Event::DisplayMath(t) => self.raw(&escape(&t)),
        }
    }

    fn start(&mut self, tag: Tag<'_>) {
        match tag {
            Tag::Paragraph | Tag::HtmlBlock => {
                if self.buffers.is_empty() {
                    self.newline();
                }
            }
            Tag::Heading { .. } => {
                self.newline();
                self.mark("*");
            }
            Tag::BlockQuote(_) => {
                self.newline();
                self.quote += 1;
            }
            Tag::CodeBlock(_) => {
                self.newline();
                self.raw("```\n");
                self.code_block = true;
            }
            Tag::List(first) => {
                self.newline();
                self.lists.push(first);
            }
            Tag::Item => {
                self.newline();
                let depth = self.lists.len().saturating_sub(1);
                let marker = match self.lists.last_mut() {
                    Some(Some(n)) => {
                        let m = format!("{n}. ");
                        *n += 1;
                        m
                    }
                    _ => "• ".to_owned(),
                };
                self.raw(&format!("{}{marker}", "    ".repeat(depth)));
            }
            Tag::Emphasis => self.mark("_"),
            Tag::Strong => self.mark("*"),
            Tag::Strikethrough => self.mark("~"),
            Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. } => {
                self.links.push(dest_url.to_string());
                self.buffers.push(String::new());
            }
            Tag::Table(_) => {
                self.newline();
                self.table = Some(Vec::new());
            }
            Tag::TableHead | Tag::TableRow => {
                if let Some(rows) = &mut self.table {
                    rows.push(Vec::new());
                }
            }
            Tag::TableCell => self.buffers.push(String::new()),
            Tag::FootnoteDefinition(name) => {
                self.newline();
                self.raw(&format!("[{}] ", escape(&name)));
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
            TagEnd::Paragraph | TagEnd::HtmlBlock => {
                if self.buffers.is_empty() {
                    self.newline();
                }
            }
            TagEnd::Heading(_) => {
                self.mark("*");
                self.newline();
            }
            TagEnd::BlockQuote(_) => {
                self.newline();
                self.quote = self.quote.saturating_sub(1);
            }
            TagEnd::CodeBlock => {
                self.newline();
                self.raw("```");
                self.code_block = false;
                self.newline();
            }
            TagEnd::List(_) => {
                self.lists.pop();
                self.newline();
            }
            TagEnd::Item => self.newline(),
            TagEnd::Emphasis => self.mark("_"),
            TagEnd::Strong => self.mark("*"),
            TagEnd::Strikethrough => self.mark("~"),
            TagEnd::Link | TagEnd::Image => {
                let label = self.buffers.pop().unwrap_or_default();
                let url = self.links.pop().unwrap_or_default();
                if self.in_table() || url.is_empty() {
                    self.raw(&label);
                } else if label.is_empty() || label == escape(&url) {
                    self.raw(&format!("<{}>", link_url(&url)));
                } else {
                    self.raw(&format!("<{}|{label}>", link_url(&url)));
                }
            }
            TagEnd::TableCell => {
                let cell = self.buffers.pop().unwrap_or_default();
                if let Some(row) = self.table.as_mut().and_then(|rows| rows.last_mut()) {
                    row.push(cell);
                }
            }
            TagEnd::Table => {
                if let Some(rows) = self.table.take() {
                    self.raw(&table(&rows));
                    self.newline();
                }
            }
            TagEnd::TableHead | TagEnd::TableRow => {}
            TagEnd::FootnoteDefinition
            | TagEnd::DefinitionList
            | TagEnd::DefinitionListTitle
            | TagEnd::DefinitionListDefinition
            | TagEnd::MetadataBlock(_) => self.newline(),
            TagEnd::Superscript | TagEnd::Subscript => {}
        }
    }
}

/// A table as a code block: columns padded to their widest cell, a rule under the head.
fn table(rows: &[Vec<String>]) -> String {
    let width = |s: &str| unicode_width::UnicodeWidthStr::width(s);
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0; columns];
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(width(cell));
        }
    }
    let mut out = String::from("```\n");
    for (r, row) in rows.iter().enumerate() {
        let cells: Vec<String> = (0..columns)
            .map(|i| {
                let cell = row.get(i).map_or("", String::as_str);
                format!("{cell}{}", " ".repeat(widths[i] - width(cell)))
            })
            .collect();
        out.push_str(cells.join(" | ").trim_end());
        out.push('\n');
        if r == 0 {
            let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
            out.push_str(&rule.join("-+-"));
            out.push('\n');
        }
    }
    out.push_str("```");
    out
}

/// Renders a Markdown reply to mrkdwn.
pub fn mrkdwn(markdown: &str) -> String {
    let options =
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    let mut r = Renderer {
        out: String::new(),
        buffers: Vec::new(),
        quote: 0,
        lists: Vec::new(),
        code_block: false,
        table: None,
        links: Vec::new(),
    };
    // Adjacent texts merged: the parser splits text at `<`, which would hide mentions.
    for event in TextMergeStream::new(Parser::new_ext(markdown, options)) {
        r.event(event);
    }
    r.out.trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_styles() {
        assert_eq!(
            mrkdwn("**bold** and *it* and ~~no~~ and `x<y`"),
            "*bold* and _it_ and ~no~ and `x&lt;y`"
        );
        assert_eq!(
            mrkdwn("[the docs](https://x.example/a?b=1&c=2) <https://y.example>"),
            "<https://x.example/a?b=1&amp;c=2|the docs> <https://y.example>"
        );
    }

    #[test]
    fn blocks() {
        assert_eq!(mrkdwn("# Title\ntext"), "*Title*\ntext");
        assert_eq!(mrkdwn("- a\n- b\n  1. c"), "• a\n• b\n    1. c");
        assert_eq!(
            mrkdwn("```\nif a < b { }\n```"),
            "```\nif a &lt; b { }\n```"
        );
        assert_eq!(mrkdwn("> quoted\n> more"), "> quoted\n> more");
        assert_eq!(
            mrkdwn("| a | bb |\n|---|---|\n| ccc | d |"),
            "```\na   | bb\n----+---\nccc | d\n```"
        );
    }

    #[test]
    fn a_link_cannot_ping_a_channel() {
        // Found by the slack fuzz target: the e-mail autolink `<!@U1>` went out as `<!@U1>`,
        // and a link to `!here` as `<!here|x>`, Slack's @here.
        assert_eq!(mrkdwn("[x](!here)"), "<%21here|x>");
        assert_eq!(mrkdwn("<!@U1>"), "<%21@U1>");
        assert!(!mrkdwn("a <!here@x.org> b").contains("<!"));
        assert_eq!(mrkdwn("[x](https://a.b/!c)"), "<https://a.b/!c|x>");
    }

    #[test]
    fn channel_pings_are_escaped_and_mentions_kept() {
        assert_eq!(
            mrkdwn("<!here> <!channel> <!everyone> hi <@U0ALICE> in <#C0GEN|general>"),
            "&lt;!here&gt; &lt;!channel&gt; &lt;!everyone&gt; hi <@U0ALICE> in <#C0GEN|general>"
        );
        assert_eq!(
            mrkdwn("a <!subteam^S1> & b"),
            "a &lt;!subteam^S1&gt; &amp; b"
        );
        assert_eq!(escape_keeping_mentions("<@u1> <@U1"), "&lt;@u1&gt; &lt;@U1");
        assert_eq!(
            mrkdwn("reaction|slack|<@U0BOB>|tada"),
            "reaction|slack|<@U0BOB>|tada"
        );
    }
}
