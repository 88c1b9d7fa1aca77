//! Slack shows at most 4,000 characters of a message's text well (longer texts are cut up by
//! Slack itself, and truncated past 40,000). errbotd splits replies at the limit the gateway
//! reports; rendering can make a part longer (escapes), so the gateway cuts again here, at line
//! breaks, closing a code block at the end of a part and opening it again in the next.

/// The longest message text the gateway posts, in characters.
pub const TEXT_LIMIT: usize = 4_000;

const FENCE: &str = "```";

/// Cuts mrkdwn `text` into parts of at most `limit` characters with balanced code fences.
pub fn split(text: &str, limit: usize) -> Vec<String> {
    // Room for a fence closed at the end of a part and one opened at the start of the next.
    let limit = limit.max(2 * (FENCE.len() + 1) + 1);
    let room = limit - (FENCE.len() + 1);
    let mut parts = Vec::new();
    let mut part = String::new();
    let mut len = 0usize;
    let mut in_code = false;
    let mut flush = |part: &mut String, len: &mut usize, in_code: bool| {
        if in_code {
            part.push('\n');
            part.push_str(FENCE);
        }
        parts.push(std::mem::take(part));
        *len = 0;
        if in_code {
            part.push_str(FENCE);
            part.push('\n');
            *len = FENCE.len() + 1;
        }
    };
    for line in text.split('\n') {
        let mut rest = line;
        loop {
            let sep = usize::from(!part.is_empty() && !part.ends_with('\n'));
            let n = rest.chars().count();
            if len + sep + n <= room {
                if sep == 1 {
                    part.push('\n');
                }
                part.push_str(rest);
                len += sep + n;
                break;
            }
            // A part holding no more than a fence takes the cut line; any other part, or one
            // without room for another character, is sent first.
            let fresh = part.is_empty() || part.trim_end() == FENCE;
            if !fresh || len + sep >= room {
                flush(&mut part, &mut len, in_code);
                continue;
            }
            // A line longer than a whole part: cut it at a character boundary (after the line
            // break, when the part holds the text's own fence line).
            if sep == 1 {
                part.push('\n');
            }
            let take = room - len - sep;
            let end = rest.char_indices().nth(take).map_or(rest.len(), |(i, _)| i);
            part.push_str(&rest[..end]);
            len += sep + take;
            rest = &rest[end..];
            if rest.is_empty() {
                break;
            }
            flush(&mut part, &mut len, in_code);
        }
        if line.trim_start().starts_with(FENCE) && line.matches(FENCE).count() % 2 == 1 {
            in_code = !in_code;
        }
    }
    if !part.is_empty() || parts.is_empty() {
        parts.push(part);
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fences_balanced(p: &str) -> bool {
        p.matches(FENCE).count().is_multiple_of(2)
    }

    #[test]
    fn short_text_is_one_part() {
        assert_eq!(split("hello", TEXT_LIMIT), ["hello"]);
        assert_eq!(split("", TEXT_LIMIT), [""]);
    }

    #[test]
    fn long_text_is_cut_at_lines() {
        let text = (0..100)
            .map(|i| format!("line {i:03}"))
            .collect::<Vec<_>>()
            .join("\n");
        let parts = split(&text, 100);
        assert!(parts.len() > 5);
        assert!(parts.iter().all(|p| p.chars().count() <= 100));
        assert_eq!(parts.join("\n"), text);
    }

    #[test]
    fn code_blocks_are_closed_and_reopened() {
        let body = (0..60)
            .map(|i| format!("code {i:02}"))
            .collect::<Vec<_>>()
            .join("\n");
        let text = format!("intro\n```\n{body}\n```\nafter");
        let parts = split(&text, 120);
        assert!(parts.len() > 3);
        for p in &parts {
            assert!(p.chars().count() <= 120, "{p:?}");
            assert!(fences_balanced(p), "{p:?}");
        }
        assert!(parts[1].starts_with("```\n"));
        assert!(parts.last().unwrap().ends_with("after"));
    }

    #[test]
    fn a_fence_line_that_fills_a_part_is_neither_joined_nor_overfilled() {
        // Found by the slack fuzz target: a part holding only the text's own fence line took
        // the next line's first character without a line break (`\`\`\`  \``, a fence with
        // another language) and went over the limit.
        let parts = split("```  \n```", 9);
        assert_eq!(parts[0], "```  \n```");
        assert!(parts.iter().all(|p| p.chars().count() <= 9), "{parts:?}");
        let parts = split(&format!("```\n{}\n```", "x".repeat(40)), 12);
        assert!(parts.iter().all(|p| p.chars().count() <= 12), "{parts:?}");
        assert!(parts.iter().all(|p| p.starts_with("```\n")), "{parts:?}");
    }

    #[test]
    fn a_very_long_line_is_cut_at_characters() {
        let parts = split(&"é".repeat(250), 100);
        assert_eq!(parts.len(), 3);
        assert!(parts.iter().all(|p| p.chars().count() <= 100));
        assert_eq!(parts.concat(), "é".repeat(250));
    }
}
