//! Splitting a rendered line into IRC messages that fit the 512-byte line limit.
//!
//! A piece never cuts a UTF-8 character or a formatting code in two, breaks at a space when one
//! is available, and starts with the formatting that was active where the previous piece ended
//! (IRC clients reset formatting at the end of every message).

use super::format::{
    BOLD, COLOR, COLOR_GUARD, HEX_COLOR, ITALIC, MONO, RESET, REVERSE, STRIKE, UNDERLINE,
};

/// Formatting active at some point of a line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Style {
    bold: bool,
    italic: bool,
    underline: bool,
    strike: bool,
    mono: bool,
    reverse: bool,
    /// The colour code in force, normalised (`\x03` + two digits [+ `,` + two digits]).
    color: Option<String>,
}

impl Style {
    /// Codes that turn this style on from plain text.
    fn reopen(&self) -> String {
        let mut s = String::new();
        for (on, code) in [
            (self.bold, BOLD),
            (self.italic, ITALIC),
            (self.underline, UNDERLINE),
            (self.strike, STRIKE),
            (self.mono, MONO),
            (self.reverse, REVERSE),
        ] {
            if on {
                s.push(code);
            }
        }
        if let Some(c) = &self.color {
            s.push_str(c);
        }
        s
    }

    fn apply(&mut self, unit: &str) {
        let mut chars = unit.chars();
        match chars.next() {
            Some(BOLD) => self.bold = !self.bold,
            Some(ITALIC) => self.italic = !self.italic,
            Some(UNDERLINE) => self.underline = !self.underline,
            Some(STRIKE) => self.strike = !self.strike,
            Some(MONO) => self.mono = !self.mono,
            Some(REVERSE) => self.reverse = !self.reverse,
            Some(RESET) => *self = Style::default(),
            Some(c @ (COLOR | HEX_COLOR)) => {
                let rest = chars.as_str();
                self.color = (!rest.is_empty()).then(|| normalise(c, rest));
            }
            _ => {}
        }
    }
}

/// A colour code with two-digit numbers, so that a digit following it cannot extend it.
fn normalise(code: char, spec: &str) -> String {
    if code == HEX_COLOR {
        return format!("{code}{spec}");
    }
    let two = |n: &str| {
        if n.len() == 1 {
            format!("0{n}")
        } else {
            n.to_owned()
        }
    };
    match spec.split_once(',') {
        Some((fg, bg)) => format!("{code}{},{}", two(fg), two(bg)),
        None => format!("{code}{}", two(spec)),
    }
}

/// Cuts `line` into units: one character, or one whole formatting code with its digits.
fn units(line: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(c) = rest.chars().next() {
        let len = match c {
            COLOR => c.len_utf8() + color_len(&rest[1..], 2, |b| b.is_ascii_digit()),
            HEX_COLOR => c.len_utf8() + color_len(&rest[1..], 6, |b| b.is_ascii_hexdigit()),
            c => c.len_utf8(),
        };
        out.push(&rest[..len]);
        rest = &rest[len..];
    }
    out
}

/// Length of the `NN[,NN]` following a colour code (ASCII only, so byte lengths).
fn color_len(s: &str, max: usize, digit: impl Fn(u8) -> bool) -> usize {
    let b = s.as_bytes();
    let count = |from: usize| {
        b[from..]
            .iter()
            .take(max)
            .take_while(|c| digit(**c))
            .count()
    };
    let fg = count(0);
    if fg == 0 {
        return 0;
    }
    if b.get(fg) == Some(&b',') {
        let bg = count(fg + 1);
        if bg > 0 {
            return fg + 1 + bg;
        }
    }
    fg
}

/// Splits `line` into pieces of at most `budget` bytes (at least 32 is assumed; smaller budgets
/// are raised to 32). Pieces holding only formatting or spaces are dropped.
pub fn split(line: &str, budget: usize) -> Vec<String> {
    let budget = budget.max(32);
    if line.len() <= budget {
        return vec![line.to_owned()];
    }
    let units = units(line);
    // Style in force before each unit.
    let mut before = Vec::with_capacity(units.len() + 1);
    let mut style = Style::default();
    for u in &units {
        before.push(style.clone());
        style.apply(u);
    }
    let mut pieces = Vec::new();
    let mut start = 0;
    while start < units.len() {
        let mut prefix = before[start].reopen();
        // A reopened colour must not swallow the text after it: `\x0304` then `,12` reads as
        // a background, `\x04f` then `b0` as a longer hex colour.
        if let Some(color) = &before[start].color {
            let next = &units[start..units.len().min(start + 8)];
            let probe = format!("{color}{}", next.concat());
            if self::units(&probe).first() != Some(&color.as_str()) {
                prefix.push_str(COLOR_GUARD);
            }
        }
        let mut len = prefix.len();
        let mut end = start;
        let mut last_space = None;
        while end < units.len() && len + units[end].len() <= budget {
            if units[end] == " " {
                last_space = Some(end);
            }
            len += units[end].len();
            end += 1;
        }
        let (cut, next) = if end == units.len() {
            (end, end)
        } else {
            match last_space {
                Some(space) if space > start => (space, space + 1),
                _ => (end.max(start + 1), end.max(start + 1)),
            }
        };
        let piece = format!("{prefix}{}", units[start..cut].concat());
        let visible = super::format::strip(&piece);
        if !visible.trim().is_empty() {
            pieces.push(piece.trim_end_matches(' ').to_owned());
        }
        start = next;
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    fn visible(pieces: &[String]) -> String {
        pieces
            .iter()
            .map(|p| super::super::format::strip(p))
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn short_lines_are_kept_whole() {
        assert_eq!(split("hello", 100), ["hello"]);
    }

    #[test]
    fn breaks_at_spaces_within_the_budget() {
        let line = "word ".repeat(100);
        let pieces = split(line.trim_end(), 64);
        assert!(pieces.len() > 1);
        for p in &pieces {
            assert!(p.len() <= 64, "{p:?}");
            assert!(!p.starts_with(' ') && !p.ends_with(' '), "{p:?}");
        }
        assert_eq!(visible(&pieces), line.trim_end());
    }

    #[test]
    fn never_cuts_a_character_and_cuts_long_words() {
        let line = "é".repeat(100) + "🦀🦀🦀";
        let pieces = split(&line, 33);
        for p in &pieces {
            assert!(p.len() <= 33, "{p:?}");
        }
        assert_eq!(pieces.concat(), line);
    }

    #[test]
    fn formatting_is_reopened_and_codes_stay_whole() {
        let line = format!(
            "plain \x02{} \x0304,1{} end\x02",
            "b".repeat(40),
            "c".repeat(40)
        );
        let pieces = split(&line, 40);
        assert!(pieces.len() >= 3, "{pieces:?}");
        assert!(pieces[1].starts_with('\x02'), "{pieces:?}");
        let last = pieces.last().unwrap();
        assert!(last.starts_with("\x02\x0304,01"), "{pieces:?}");
        for p in &pieces {
            assert!(p.len() <= 40, "{p:?}");
        }
        assert_eq!(
            visible(&pieces).split_whitespace().collect::<String>(),
            super::super::format::strip(&line)
                .split_whitespace()
                .collect::<String>()
        );
    }

    #[test]
    fn a_reopened_colour_never_swallows_the_text_after_it() {
        // Found by the irc fuzz target: a piece starting with `,12` after the reopened colour
        // `\x0304` read as `\x0304,12` (a background): the text was lost.
        // Likewise a short hex colour `\x04f` reopened before `b0`.
        for (n, colour, text) in (20..40).flat_map(|n| [(n, "\x0304", ",12"), (n, "\x04f", "b0##")])
        {
            let line = format!("{colour}{}{text} tail {}", "m".repeat(n), "n".repeat(30));
            let pieces = split(&line, 32);
            let strip = super::super::format::strip;
            let shown: String = pieces.iter().map(|p| strip(p).replace(' ', "")).collect();
            assert_eq!(shown, strip(&line).replace(' ', ""), "{pieces:?}");
            assert!(pieces.iter().all(|p| p.len() <= 32), "{pieces:?}");
        }
    }

    #[test]
    fn units_keep_colour_digits() {
        assert_eq!(
            units("\x0304,12x\x03y\x033z"),
            ["\x0304,12", "x", "\x03", "y", "\x033", "z"]
        );
        assert_eq!(units("\x04FF00AAq"), ["\x04FF00AA", "q"]);
    }
}
