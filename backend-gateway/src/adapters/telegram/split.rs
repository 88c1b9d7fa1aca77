//! Runs of styled text into messages Telegram takes: HTML for `parse_mode=HTML` and the same
//! text without markup (sent instead when Telegram refuses the HTML's entities). Telegram
//! counts a message's length after parsing its entities, in UTF-16 code units (as its entity
//! offsets), at most [`LIMIT`]; so the text people see is cut, at a line break or a space when
//! one is in the second half of the piece, and the styles open at a cut are closed before it and
//! opened again after it.

use super::format::{Run, Style};

/// Longest text of one message, in UTF-16 code units, after entity parsing.
pub const LIMIT: usize = 4096;

/// One message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Piece {
    /// The text with Telegram's HTML tags (`< > &` escaped).
    pub html: String,
    /// The text people see.
    pub plain: String,
}

/// `runs` as messages of at most `limit` UTF-16 code units of visible text each; text that is
/// only white space is not a message (Telegram refuses it).
pub fn split(runs: &[Run], limit: usize) -> Vec<Piece> {
    let limit = limit.max(2);
    let mut plain = String::new();
    let mut spans = Vec::with_capacity(runs.len());
    for run in runs {
        let start = plain.len();
        plain.push_str(&run.text);
        spans.push((start, plain.len(), canonical(&run.styles)));
    }
    let mut pieces = Vec::new();
    let mut start = 0;
    while start < plain.len() {
        let (cut, next) = cut(&plain, start, limit);
        let text = &plain[start..cut];
        if !text.trim().is_empty() {
            pieces.push(Piece {
                html: html(&plain, &spans, start, cut),
                plain: text.to_owned(),
            });
        }
        start = next;
    }
    pieces
}

/// Where the piece starting at `start` ends, and where the next one starts.
fn cut(plain: &str, start: usize, limit: usize) -> (usize, usize) {
    let mut units = 0;
    let mut end = plain.len();
    for (i, c) in plain[start..].char_indices() {
        units += c.len_utf16();
        if units > limit {
            end = start + i;
            break;
        }
    }
    if end == plain.len() {
        return (end, end);
    }
    let window = &plain[start..end];
    let half = window.len() / 2;
    for sep in ['\n', ' '] {
        if let Some(i) = window.rfind(sep).filter(|i| *i >= half) {
            return (start + i, start + i + 1);
        }
    }
    (end, end)
}

/// Styles as Telegram nests them: code and pre hold nothing else; a quote is outermost.
fn canonical(styles: &[Style]) -> Vec<Style> {
    if let Some(code) = styles
        .iter()
        .rev()
        .find(|s| matches!(s, Style::Pre(_) | Style::Code))
    {
        let quote = styles.contains(&Style::Quote) && matches!(code, Style::Code);
        return if quote {
            vec![Style::Quote, code.clone()]
        } else {
            vec![code.clone()]
        };
    }
    let mut out: Vec<Style> = Vec::new();
    for rank in 0..5 {
        for s in styles {
            let r = match s {
                Style::Quote => 0,
                Style::Link(_) => 1,
                Style::Bold => 2,
                Style::Italic => 3,
                Style::Strike => 4,
                Style::Code | Style::Pre(_) => continue,
            };
            if r == rank && !out.contains(s) {
                out.push(s.clone());
            }
        }
    }
    out
}

fn open_tag(style: &Style) -> String {
    match style {
        Style::Quote => "<blockquote>".into(),
        Style::Link(url) => format!("<a href=\"{}\">", escape(url, true)),
        Style::Bold => "<b>".into(),
        Style::Italic => "<i>".into(),
        Style::Strike => "<s>".into(),
        Style::Code => "<code>".into(),
        Style::Pre(lang) if lang.is_empty() => "<pre>".into(),
        Style::Pre(lang) => format!("<pre><code class=\"language-{}\">", escape(lang, true)),
    }
}

fn close_tag(style: &Style) -> &'static str {
    match style {
        Style::Quote => "</blockquote>",
        Style::Link(_) => "</a>",
        Style::Bold => "</b>",
        Style::Italic => "</i>",
        Style::Strike => "</s>",
        Style::Code => "</code>",
        Style::Pre(lang) if lang.is_empty() => "</pre>",
        Style::Pre(_) => "</code></pre>",
    }
}

/// `< > &` (and `"` in attributes) as entities.
fn escape(text: &str, attribute: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' if attribute => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// The HTML of `plain[from..to]`.
fn html(plain: &str, spans: &[(usize, usize, Vec<Style>)], from: usize, to: usize) -> String {
    let mut out = String::new();
    let mut open: &[Style] = &[];
    for (start, end, styles) in spans {
        let (a, b) = ((*start).max(from), (*end).min(to));
        if a >= b {
            continue;
        }
        let common = open.iter().zip(styles).take_while(|(x, y)| x == y).count();
        for s in open[common..].iter().rev() {
            out.push_str(close_tag(s));
        }
        for s in &styles[common..] {
            out.push_str(&open_tag(s));
        }
        out.push_str(&escape(&plain[a..b], false));
        open = styles;
    }
    for s in open.iter().rev() {
        out.push_str(close_tag(s));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::format::markdown;
    use super::*;

    fn utf16(s: &str) -> usize {
        s.encode_utf16().count()
    }

    #[test]
    fn html_nests_and_escapes() {
        let pieces = split(
            &markdown("**a <b> & [l](https://x?a=1&b=\"2\")** `x<y`"),
            LIMIT,
        );
        assert_eq!(pieces.len(), 1);
        assert_eq!(
            pieces[0].html,
            "<b>a &lt;b&gt; &amp; </b><a href=\"https://x?a=1&amp;b=&quot;2&quot;\"><b>l</b></a> <code>x&lt;y</code>"
        );
        assert_eq!(pieces[0].plain, "a <b> & l x<y");
    }

    #[test]
    fn long_text_is_cut_by_utf16_units_with_styles_reopened() {
        // 3000 emoji are 6000 UTF-16 units: two messages, bold in both.
        let text = format!("**{}**", "😀".repeat(3000));
        let pieces = split(&markdown(&text), LIMIT);
        assert_eq!(pieces.len(), 2);
        for p in &pieces {
            assert!(utf16(&p.plain) <= LIMIT);
            assert!(p.html.starts_with("<b>") && p.html.ends_with("</b>"));
        }
        assert_eq!(
            pieces.iter().map(|p| p.plain.as_str()).collect::<String>(),
            "😀".repeat(3000)
        );
    }

    #[test]
    fn cuts_prefer_line_breaks_then_spaces() {
        let line = "word ".repeat(10);
        let line = line.trim_end();
        let text = format!("{line}\n{line}\n{line}");
        let pieces = split(&markdown(&text), 120);
        assert_eq!(pieces.len(), 2);
        // Cut at the second line break, which is dropped.
        assert_eq!(pieces[0].plain, format!("{line}\n{line}"));
        assert_eq!(pieces[1].plain, line);
        let pieces = split(&markdown(&"word ".repeat(30)), 120);
        assert!(pieces[0].plain.ends_with("word"), "{:?}", pieces[0].plain);
        assert!(pieces.iter().all(|p| utf16(&p.plain) <= 120));
        let pieces = split(&markdown(&"x".repeat(250)), 100);
        assert_eq!(
            pieces.iter().map(|p| p.plain.len()).collect::<Vec<_>>(),
            [100, 100, 50]
        );
    }

    #[test]
    fn white_space_is_no_message() {
        assert!(split(&markdown("   "), LIMIT).is_empty());
    }
}
