//! Posts are at most 16,383 characters (the server's `PostMessageMaxRunesV2`). errbotd splits
//! replies at that limit (reported in `BackendInfo`, with code fences reopened); this cut is the
//! last guard for text that reaches the gateway longer anyway, at line breaks when it can.

/// The longest post, in characters.
pub const POST_LIMIT: usize = 16_383;

/// Cuts `text` into pieces of at most `limit` characters, at a line break when one is in the
/// second half of the piece, else at a character boundary.
pub fn split(text: &str, limit: usize) -> Vec<String> {
    let limit = limit.max(1);
    let mut out = Vec::new();
    let mut rest = text;
    while rest.chars().count() > limit {
        let end = rest
            .char_indices()
            .nth(limit)
            .map_or(rest.len(), |(i, _)| i);
        let head = &rest[..end];
        let cut = match head.rfind('\n') {
            Some(i) if head[..i].chars().count() >= limit / 2 => i + 1,
            _ => end,
        };
        out.push(rest[..cut].trim_end_matches('\n').to_owned());
        rest = &rest[cut..];
    }
    if !rest.is_empty() || out.is_empty() {
        out.push(rest.to_owned());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_one_post() {
        assert_eq!(split("hello", POST_LIMIT), ["hello"]);
        assert_eq!(split("", POST_LIMIT), [""]);
    }

    #[test]
    fn long_text_is_cut_at_lines_and_characters() {
        assert_eq!(split("aaaa\nbbbb\ncc", 10), ["aaaa\nbbbb", "cc"]);
        assert_eq!(split("ééééé", 2), ["éé", "éé", "é"]);
        let long = "x".repeat(POST_LIMIT * 2 + 1);
        let parts = split(&long, POST_LIMIT);
        assert_eq!(parts.len(), 3);
        assert!(parts.iter().all(|p| p.chars().count() <= POST_LIMIT));
    }
}
