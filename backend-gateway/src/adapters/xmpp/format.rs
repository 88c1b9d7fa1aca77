//! A reply as an XMPP message body: Markdown rendered to plain text (as Errbot's XMPP backend
//! does without XHTML-IM): markers of emphasis dropped, code kept as written, list items and
//! quotes marked, links written as `text (address)`, line breaks kept; a card flattened to
//! lines. Characters XML cannot carry are left out: the stream could not send the stanza.

use errbot_proto::v1::{Content, content};
use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
use xmpp_parsers::jid::Jid;
use xmpp_parsers::message::{Lang, Message, MessageType};

/// The message stanza of a reply: its plain body, and with `xhtml` the XHTML-IM rendering of
/// Markdown beside it; `None` for content that is not a reply (a template).
pub fn message(to: Jid, type_: MessageType, content: &Content, xhtml: bool) -> Option<Message> {
    let body = body(content)?;
    let mut message = Message::new_with_type(type_, Some(to)).with_body(Lang::default(), body);
    if xhtml
        && let Some(content::Kind::Markdown(md)) = &content.kind
        && let Some(xhtml) = xhtml_im(&xml_text(md))
    {
        message.payloads.push(xhtml);
    }
    Some(message)
}

/// The body of a message for `content`; `None` for content that is not a reply (a template).
pub fn body(content: &Content) -> Option<String> {
    let text = match content.kind.as_ref()? {
        content::Kind::Markdown(md) => plain(md),
        content::Kind::Card(card) => crate::render::card_text(card),
        content::Kind::Template(_) => return None,
    };
    Some(xml_text(&text))
}

/// `text` without the characters XML 1.0 forbids (controls other than tab, line feed and
/// carriage return, lone surrogates cannot occur in a `str`, U+FFFE and U+FFFF). The stream
/// refuses to write a stanza holding one, and the reply would be lost; an escape sequence of a
/// program's coloured output (`ESC [31m`) keeps its visible part.
pub fn xml_text(text: &str) -> String {
    let allowed = |c: char| matches!(c, '\t' | '\n' | '\r' | ' '..='\u{fffd}' | '\u{10000}'..);
    if text.chars().all(allowed) {
        return text.to_owned();
    }
    text.chars().filter(|c| allowed(*c)).collect()
}

/// Markdown as an XHTML-IM payload (XEP-0071), beside the plain body; `None` when the HTML
/// does not read as XML. HTML written in the Markdown is shown as text, never passed on.
pub fn xhtml_im(markdown: &str) -> Option<xmpp_parsers::minidom::Element> {
    let events = Parser::new_ext(
        markdown,
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH,
    )
    .map(|event| match event {
        Event::Html(html) | Event::InlineHtml(html) => Event::Text(html),
        other => other,
    });
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, events);
    format!(
        "<html xmlns='http://jabber.org/protocol/xhtml-im'>\
         <body xmlns='http://www.w3.org/1999/xhtml'>{}</body></html>",
        html.trim_end()
    )
    .parse()
    .ok()
}

/// Markdown to plain text.
pub fn plain(markdown: &str) -> String {
    let mut out = String::new();
    // Open lists: the next number of an ordered one, `None` for a bulleted one.
    let mut lists: Vec<Option<u64>> = Vec::new();
    let mut links: Vec<(String, usize)> = Vec::new();
    let mut quote = 0usize;
    let mut in_code_block = false;
    let mut cells = 0usize;
    let new_line = |out: &mut String, quote: usize| {
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        for _ in 0..quote {
            out.push_str("> ");
        }
    };
    let blank_line = |out: &mut String| {
        if !out.is_empty() {
            if !out.ends_with('\n') {
                out.push('\n');
            }
            if !out.ends_with("\n\n") {
                out.push('\n');
            }
        }
    };
    for event in Parser::new_ext(
        markdown,
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH,
    ) {
        match event {
            Event::Start(Tag::Paragraph | Tag::Heading { .. }) => {
                if lists.is_empty() {
                    blank_line(&mut out);
                }
                if quote > 0 && lists.is_empty() {
                    new_line(&mut out, quote);
                }
            }
            Event::Start(Tag::CodeBlock(_)) => {
                blank_line(&mut out);
                in_code_block = true;
            }
            Event::End(TagEnd::CodeBlock) => in_code_block = false,
            Event::Start(Tag::BlockQuote(_)) => quote += 1,
            Event::End(TagEnd::BlockQuote(_)) => quote = quote.saturating_sub(1),
            Event::Start(Tag::List(first)) => {
                if lists.is_empty() {
                    blank_line(&mut out);
                }
                lists.push(first);
            }
            Event::End(TagEnd::List(_)) => {
                lists.pop();
            }
            Event::Start(Tag::Item) => {
                new_line(&mut out, quote);
                out.push_str(&"  ".repeat(lists.len().saturating_sub(1)));
                match lists.last_mut() {
                    Some(Some(n)) => {
                        out.push_str(&format!("{n}. "));
                        *n += 1;
                    }
                    _ => out.push_str("- "),
                }
            }
            Event::Start(Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. }) => {
                links.push((dest_url.to_string(), out.len()));
            }
            Event::End(TagEnd::Link | TagEnd::Image) => {
                if let Some((url, start)) = links.pop() {
                    let text = out.get(start..).unwrap_or("").trim().to_owned();
                    if text.is_empty() {
                        out.push_str(&url);
                    } else if text != url && !url.is_empty() {
                        out.push_str(&format!(" ({url})"));
                    }
                }
            }
            Event::Start(Tag::TableRow | Tag::TableHead) => {
                new_line(&mut out, quote);
                cells = 0;
            }
            Event::Start(Tag::Table(_)) => blank_line(&mut out),
            Event::Start(Tag::TableCell) => {
                if cells > 0 {
                    out.push_str(" | ");
                }
                cells += 1;
            }
            Event::Text(text) => {
                if in_code_block {
                    let mut first = true;
                    for line in text.split_inclusive('\n') {
                        if !first || out.ends_with('\n') {
                            for _ in 0..quote {
                                out.push_str("> ");
                            }
                        }
                        first = false;
                        out.push_str(line);
                    }
                } else {
                    out.push_str(&text);
                }
            }
            Event::Code(code) => out.push_str(&code),
            // A line break in the source stays one: chat replies are written line by line.
            Event::SoftBreak => new_line(&mut out, quote),
            Event::HardBreak => new_line(&mut out, quote),
            Event::Rule => {
                blank_line(&mut out);
                out.push_str("----------");
            }
            Event::Html(html) | Event::InlineHtml(html) => out.push_str(&html),
            Event::TaskListMarker(done) => out.push_str(if done { "[x] " } else { "[ ] " }),
            Event::FootnoteReference(name) => out.push_str(&format!("[{name}]")),
            _ => {}
        }
    }
    out.trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xhtml_im_carries_the_markup_and_never_raw_html() {
        let xhtml = xhtml_im("hi **there** <script>x</script>").unwrap();
        assert!(xhtml.is("html", "http://jabber.org/protocol/xhtml-im"));
        let body = xhtml
            .get_child("body", "http://www.w3.org/1999/xhtml")
            .unwrap();
        let p = body.get_child("p", "http://www.w3.org/1999/xhtml").unwrap();
        assert!(
            p.get_child("strong", "http://www.w3.org/1999/xhtml")
                .is_some()
        );
        assert!(
            p.get_child("script", "http://www.w3.org/1999/xhtml")
                .is_none()
        );
        assert!(p.text().contains("<script>x</script>"));
    }

    #[test]
    fn characters_xml_cannot_carry_are_left_out() {
        let md = Content {
            kind: Some(content::Kind::Markdown(
                "\u{1b}[31mred\u{1b}[0m\u{0} tab\there \u{fffe}é".into(),
            )),
        };
        assert_eq!(body(&md).unwrap(), "[31mred[0m tab\there é");
        let to = Jid::new("room@conference.example.org").unwrap();
        let message = message(to, MessageType::Groupchat, &md, true).unwrap();
        let xml = xso::to_vec(&message).expect("the stanza can be written");
        let back: Message = xso::from_bytes(&xml).unwrap();
        assert_eq!(
            back.bodies.values().next().unwrap(),
            "[31mred[0m tab\there é"
        );
    }

    #[test]
    fn emphasis_is_dropped_and_code_kept() {
        assert_eq!(plain("hi **there** and `code`"), "hi there and code");
        assert_eq!(plain("_a_ ~~b~~"), "a b");
        assert_eq!(plain("one|x\ntwo|y"), "one|x\ntwo|y");
    }

    #[test]
    fn blocks_lists_links_and_tables() {
        let md = "# Title\n\nSome [docs](https://x.org) and <https://y.org>.\n\n\
                  - one\n- two\n  1. a\n  2. b\n\n```\nlet x = 1;\n  indented\n```\n\n\
                  > quoted\n\n| a | b |\n|---|---|\n| 1 | 2 |";
        assert_eq!(
            plain(md),
            "Title\n\nSome docs (https://x.org) and https://y.org.\n\n- one\n- two\n  1. a\n  2. b\
             \n\nlet x = 1;\n  indented\n\n> quoted\n\na | b\n1 | 2"
        );
    }
}
