//! Telegram's `parse_mode=HTML`, as the Bot API parses it (tdlib's `parse_html`): the tags
//! `b strong i em u ins s strike del a code pre span tg-spoiler tg-emoji blockquote`, the
//! entities `&lt; &gt; &amp; &quot;` and `&#N;`/`&#xN;` (an unknown one stays text), every
//! other tag refused, end tags matched. The result is the text people see and its entities,
//! with offsets and lengths in UTF-16 code units; errors read as the API's descriptions after
//! "Bad Request: can't parse entities: ".

use serde_json::{Value, json};

const TAGS: &[&str] = &[
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "a",
    "code",
    "pre",
    "span",
    "tg-spoiler",
    "tg-emoji",
    "blockquote",
];

fn entity_type(tag: &str, attrs: &str) -> Option<String> {
    Some(
        match tag {
            "b" | "strong" => "bold",
            "i" | "em" => "italic",
            "u" | "ins" => "underline",
            "s" | "strike" | "del" => "strikethrough",
            "a" => {
                return attr(attrs, "href").map(|_| "text_link".to_owned());
            }
            "code" => "code",
            "pre" => "pre",
            "span" if attr(attrs, "class").as_deref() == Some("tg-spoiler") => "spoiler",
            "span" => return None,
            "tg-spoiler" => "spoiler",
            "tg-emoji" => "custom_emoji",
            "blockquote" => "blockquote",
            _ => return None,
        }
        .to_owned(),
    )
}

/// The value of attribute `name` in `attrs` (`name="v"`, `name='v'` or `name=v`).
fn attr(attrs: &str, name: &str) -> Option<String> {
    let mut rest = attrs.trim();
    while !rest.is_empty() {
        let eq = rest.find('=')?;
        let key = rest[..eq].trim().to_ascii_lowercase();
        let after = rest[eq + 1..].trim_start();
        let (value, next) = match after.chars().next()? {
            q @ ('"' | '\'') => {
                let end = after[1..].find(q)? + 1;
                (&after[1..end], &after[end + 1..])
            }
            _ => {
                let end = after.find(char::is_whitespace).unwrap_or(after.len());
                (&after[..end], &after[end..])
            }
        };
        if key == name {
            return Some(decode(value));
        }
        rest = next.trim_start();
    }
    None
}

/// Decodes the entities of an attribute's value.
fn decode(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        match entity(&rest[i..]) {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[i + len..];
            }
            None => {
                out.push('&');
                rest = &rest[i + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The character of the entity `text` starts with, and the entity's length in bytes.
fn entity(text: &str) -> Option<(char, usize)> {
    let end = text.find(';')?;
    let name = &text[1..end];
    let c = match name {
        "lt" => '<',
        "gt" => '>',
        "amp" => '&',
        "quot" => '"',
        n if n.starts_with("#x") || n.starts_with("#X") => {
            char::from_u32(u32::from_str_radix(&n[2..], 16).ok()?)?
        }
        n if n.starts_with('#') => char::from_u32(n[1..].parse().ok()?)?,
        _ => return None,
    };
    Some((c, end + 1))
}

/// Parses `html`: the text and its entities, or the parse error's text.
pub fn parse(html: &str) -> Result<(String, Vec<Value>), String> {
    let mut text = String::new();
    let mut units = 0usize;
    // Open tags: name, entity type, offset, attributes.
    let mut open: Vec<(String, Option<String>, usize, String)> = Vec::new();
    let mut entities = Vec::new();
    let mut i = 0;
    while i < html.len() {
        let c = html[i..].chars().next().unwrap_or('\0');
        if c == '&'
            && let Some((d, len)) = entity(&html[i..])
        {
            text.push(d);
            units += d.len_utf16();
            i += len;
            continue;
        }
        if c != '<' {
            text.push(c);
            units += c.len_utf16();
            i += c.len_utf8();
            continue;
        }
        let begin = i;
        let Some(close) = html[i..].find('>') else {
            return Err(format!("Unclosed start tag at byte offset {begin}"));
        };
        let inside = &html[i + 1..i + close];
        i += close + 1;
        if let Some(name) = inside.strip_prefix('/') {
            let name = name.trim().to_ascii_lowercase();
            let Some((top, kind, offset, attrs)) = open.pop() else {
                return Err(format!("Unexpected end tag at byte offset {begin}"));
            };
            if top != name {
                return Err(format!(
                    "Unmatched end tag at byte offset {begin}, expected \"</{top}>\", found \"</{name}>\""
                ));
            }
            if let Some(kind) = kind
                && units > offset
            {
                let mut e = json!({"type": kind, "offset": offset, "length": units - offset});
                if kind == "text_link" {
                    e["url"] = json!(attr(&attrs, "href").unwrap_or_default());
                }
                if kind == "pre"
                    && let Some(lang) = attrs.strip_prefix("lang:")
                {
                    e["language"] = json!(lang);
                }
                entities.push(e);
            }
            continue;
        }
        let (name, attrs) = match inside.find(char::is_whitespace) {
            Some(sp) => (&inside[..sp], &inside[sp..]),
            None => (inside, ""),
        };
        let name = name.to_ascii_lowercase();
        if !TAGS.contains(&name.as_str()) {
            return Err(format!(
                "Unsupported start tag \"{name}\" at byte offset {begin}"
            ));
        }
        let mut kind = entity_type(&name, attrs);
        let mut attrs = attrs.to_owned();
        // <pre><code class="language-x"> is one pre entity with a language.
        let lang =
            attr(&attrs, "class").and_then(|c| c.strip_prefix("language-").map(str::to_owned));
        if name == "code"
            && let Some(lang) = lang
            && let Some(parent) = open.last_mut()
            && parent.0 == "pre"
            && parent.2 == units
        {
            parent.3 = format!("lang:{lang}");
            kind = None;
            attrs.clear();
        }
        open.push((name, kind, units, attrs));
    }
    if let Some((top, ..)) = open.last() {
        return Err(format!(
            "Can't find end tag corresponding to start tag \"{top}\""
        ));
    }
    entities.sort_by_key(|e| e["offset"].as_u64());
    Ok((text, entities))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_entities_and_errors() {
        let (text, entities) =
            parse("<b>bold &amp; <i>both</i></b> 😀 <a href=\"https://x?a=1&amp;b\">l</a> <pre><code class=\"language-rust\">x</code></pre>").unwrap();
        assert_eq!(text, "bold & both 😀 l x");
        let kinds: Vec<&str> = entities
            .iter()
            .map(|e| e["type"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["bold", "italic", "text_link", "pre"]);
        assert_eq!(
            entities[2]["offset"], 15,
            "the emoji counts two UTF-16 units"
        );
        assert_eq!(entities[2]["url"], "https://x?a=1&b");
        assert_eq!(entities[3]["language"], "rust");
        assert!(
            parse("<br>")
                .unwrap_err()
                .starts_with("Unsupported start tag \"br\"")
        );
        assert!(parse("<b>x").unwrap_err().starts_with("Can't find end tag"));
        assert!(
            parse("<b>x</i>")
                .unwrap_err()
                .starts_with("Unmatched end tag")
        );
        assert_eq!(parse("a &foo; b").unwrap().0, "a &foo; b");
    }
}
