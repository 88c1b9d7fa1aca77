//! Splitting long replies into messages that fit a backend's size limit (MESSAGE_SIZE_LIMIT).
//!
//! Cuts prefer a line break, then a space, and never fall inside a UTF-8 character. A code
//! fence open at a cut is closed at the end of that part and reopened (with its language) at the
//! start of the next, so every part renders on its own.

const CLOSE: &str = "\n```";

/// How a backend measures message size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// UTF-8 bytes (IRC).
    Bytes,
    /// Unicode scalar values (most services).
    Chars,
}

impl Unit {
    fn len(self, s: &str) -> usize {
        match self {
            Unit::Bytes => s.len(),
            Unit::Chars => s.chars().count(),
        }
    }

    /// Byte index of the longest prefix of `s` no larger than `budget` units.
    fn floor(self, s: &str, budget: usize) -> usize {
        match self {
            Unit::Bytes => {
                let mut i = budget.min(s.len());
                while !s.is_char_boundary(i) {
                    i -= 1;
                }
                i
            }
            Unit::Chars => s.char_indices().nth(budget).map_or(s.len(), |(i, _)| i),
        }
    }
}

/// Splits `text` into parts of at most `limit` units (0: no limit).
pub fn split(text: &str, limit: usize, unit: Unit) -> Vec<String> {
    if limit == 0 || unit.len(text) <= limit {
        return vec![text.to_owned()];
    }
    let mut parts = Vec::new();
    let mut fence: Option<String> = None;
    let mut rest = text;
    while !rest.is_empty() {
        let reopen = fence.as_ref().map(|f| format!("{f}\n")).unwrap_or_default();
        if unit.len(&reopen) + unit.len(rest) <= limit {
            parts.push(format!("{reopen}{rest}"));
            break;
        }
        // With a tiny limit there is no room for fences: cut hard.
        let reopen = if unit.len(&reopen) * 4 < limit {
            reopen
        } else {
            String::new()
        };
        let budget = limit - unit.len(&reopen);
        let mut cut = cut_point(rest, budget, unit);
        let mut open = fence_after(fence.clone(), &rest[..cut]);
        if open.is_some() && unit.len(CLOSE) * 4 < budget {
            // Leave room to close the fence.
            cut = cut_point(rest, budget - unit.len(CLOSE), unit);
            open = fence_after(fence.clone(), &rest[..cut]);
        }
        let mut part = format!("{reopen}{}", &rest[..cut]);
        if open.is_some() && unit.len(&part) + unit.len(CLOSE) <= limit {
            part.push_str(CLOSE);
        }
        fence = open;
        parts.push(part);
        rest = &rest[cut..];
        rest = rest
            .strip_prefix('\n')
            .or_else(|| rest.strip_prefix(' '))
            .unwrap_or(rest);
    }
    parts
}

/// Where to cut `rest` so that the first part holds at most `budget` units: at the last line
/// break, else the last space, else as much as fits (at least one character).
fn cut_point(rest: &str, budget: usize, unit: Unit) -> usize {
    let hard = unit
        .floor(rest, budget)
        .max(rest.chars().next().map_or(1, char::len_utf8));
    let window = &rest[..hard];
    window
        .rfind('\n')
        .filter(|&i| i > 0)
        .or_else(|| window.rfind(' ').filter(|&i| i > 0))
        .unwrap_or(hard)
}

/// The fence still open after `chunk`, given the one open before it.
fn fence_after(mut open: Option<String>, chunk: &str) -> Option<String> {
    for line in chunk.lines() {
        let t = line.trim_start();
        if t.starts_with("```") {
            open = match open {
                Some(_) => None,
                None => Some(t.to_owned()),
            };
        }
    }
    open
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_one_part() {
        assert_eq!(split("hello", 10, Unit::Bytes), ["hello"]);
        assert_eq!(split("hello", 0, Unit::Bytes), ["hello"]);
    }

    #[test]
    fn prefers_newlines_then_spaces() {
        assert_eq!(
            split("aaa bbb\nccc ddd", 9, Unit::Chars),
            ["aaa bbb", "ccc ddd"]
        );
        assert_eq!(
            split("aaaa bbbb cccc", 10, Unit::Chars),
            ["aaaa bbbb", "cccc"]
        );
        assert_eq!(split("abcdefghij", 4, Unit::Chars), ["abcd", "efgh", "ij"]);
    }

    #[test]
    fn never_breaks_utf8_and_respects_bytes() {
        let text = "é".repeat(10);
        let parts = split(&text, 5, Unit::Bytes);
        assert!(parts.iter().all(|p| p.len() <= 5), "{parts:?}");
        assert_eq!(parts.concat(), text);
    }

    #[test]
    fn code_fences_are_closed_and_reopened() {
        let text = format!(
            "intro\n```rust\n{}\n```\nend",
            (0..30)
                .map(|i| format!("let x{i} = {i};"))
                .collect::<Vec<_>>()
                .join("\n")
        );
        let parts = split(&text, 120, Unit::Chars);
        assert!(parts.len() > 2);
        for p in &parts {
            assert!(p.chars().count() <= 120, "{p}");
            assert_eq!(p.matches("```").count() % 2, 0, "unbalanced fence in {p:?}");
        }
        assert!(parts[1].starts_with("```rust\n"), "{}", parts[1]);
    }
}
