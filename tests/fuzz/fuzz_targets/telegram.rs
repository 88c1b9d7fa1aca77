//! The Telegram gateway: entity offsets (UTF-16 code units) made byte ranges, identifiers people
//! type (`123`, `-100123/45`, `@name`), and replies (Markdown, cards) as the HTML messages
//! (`parse_mode=HTML`) and plain-text fallbacks it sends, cut at a limit.
//!
//! Invariants: a UTF-16 range maps to the bytes of exactly those code units; every message is
//! within the limit and the messages hold the reply's text, cut only at white space; each
//! message's HTML has only Telegram's tags, properly nested and closed, links only to web, mail
//! and Telegram addresses, and reads as exactly its plain text.
#![no_main]

use errbot_fuzz::{Input, card};
use errbot_gateway::adapters::telegram::fuzzing as telegram;
use errbot_proto::v1::{Content, content};
use libfuzzer_sys::fuzz_target;

/// The text `html` shows, or why it is not HTML Telegram takes.
fn shown(html: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut open: Vec<String> = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find(['<', '&']) {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        if rest.starts_with('&') {
            let (entity, c) = [
                ("&lt;", '<'),
                ("&gt;", '>'),
                ("&amp;", '&'),
                ("&quot;", '"'),
            ]
            .into_iter()
            .find(|(e, _)| rest.starts_with(e))
            .ok_or_else(|| format!("a bare & in {html:?}"))?;
            out.push(c);
            rest = &rest[entity.len()..];
            continue;
        }
        let end = rest
            .find('>')
            .ok_or_else(|| format!("an unclosed tag in {html:?}"))?;
        let tag = &rest[1..end];
        rest = &rest[end + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            match open.pop() {
                Some(o) if o == name => {}
                other => return Err(format!("</{name}> closes {other:?} in {html:?}")),
            }
            continue;
        }
        let (name, attributes) = tag.split_once(' ').unwrap_or((tag, ""));
        match name {
            "b" | "i" | "s" | "code" | "pre" | "blockquote" if attributes.is_empty() => {}
            "code" if attributes.starts_with("class=\"language-") => {}
            "a" => {
                let href = attributes
                    .strip_prefix("href=\"")
                    .and_then(|h| h.strip_suffix('"'))
                    .ok_or_else(|| format!("a link without its address in {html:?}"))?;
                let scheme = ["http://", "https://", "tg://", "mailto:"]
                    .iter()
                    .any(|p| href.to_ascii_lowercase().starts_with(p));
                if href.contains('"') || !scheme {
                    return Err(format!("a link to {href:?}"));
                }
            }
            _ => return Err(format!("<{tag}> in {html:?}")),
        }
        if attributes.contains(['<', '>']) {
            return Err(format!("an unescaped attribute in {html:?}"));
        }
        open.push(name.to_owned());
    }
    out.push_str(rest);
    if !open.is_empty() {
        return Err(format!("{open:?} left open in {html:?}"));
    }
    Ok(out)
}

fn check_messages(content: &Content, limit: usize) {
    let messages = telegram::messages(content, limit).expect("a reply has messages");
    let whole = telegram::messages(content, usize::MAX)
        .expect("a reply has messages")
        .into_iter()
        .map(|(_, plain)| plain)
        .collect::<String>();
    let mut at = 0;
    for (html, plain) in &messages {
        let units: usize = plain.chars().map(char::len_utf16).sum();
        assert!(
            units <= limit.max(2),
            "a message of {units} units over {limit}"
        );
        assert!(!plain.trim().is_empty(), "a message of white space only");
        assert_eq!(shown(html).unwrap_or_else(|e| panic!("{e}")), *plain);
        let skipped = whole[at..]
            .find(plain.as_str())
            .unwrap_or_else(|| panic!("{plain:?} is not the reply's next text: {whole:?}"));
        assert!(
            whole[at..at + skipped].trim().is_empty(),
            "text lost before {plain:?}: {:?}",
            &whole[at..at + skipped]
        );
        at += skipped + plain.len();
    }
    assert!(whole[at..].trim().is_empty(), "text lost at the end");
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let text = input.text.clone();

    let _ = telegram::parse_identifier(&text);
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text)
        && let Some(map) = v.as_object()
    {
        let _ = errbot_gateway::adapters::check("telegram", map);
    }

    let units: Vec<usize> = text.chars().map(char::len_utf16).collect();
    let total: usize = units.iter().sum();
    let offset = usize::from(input.byte()) * total / 255;
    let length = usize::from(input.byte()) % (total - offset + 2);
    if let Some((a, b)) = telegram::utf16_range(&text, offset, length) {
        let before: usize = text[..a].chars().map(char::len_utf16).sum();
        let inside: usize = text[a..b].chars().map(char::len_utf16).sum();
        assert_eq!((before, inside), (offset, length));
    }

    let limit = match input.byte() % 3 {
        0 => telegram::LIMIT,
        _ => usize::from(input.byte()),
    };
    let markdown = Content {
        kind: Some(content::Kind::Markdown(text.clone())),
    };
    check_messages(&markdown, limit);
    let card = Content {
        kind: Some(content::Kind::Card(card(&text))),
    };
    check_messages(&card, limit);
});
