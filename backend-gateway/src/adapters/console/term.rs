//! What the terminal on stdout can show: escape sequences for styles, colours, and its width.
//!
//! The rules, "when in doubt, no colour": `TERM` unset, empty or `dumb` gets no escape sequence
//! at all; `NO_COLOR` (set and not empty, <https://no-color.org>) keeps bold and italics but no
//! colour; colours need a `TERM` known to have them (or `COLORTERM`).

/// How replies may be drawn on the terminal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Look {
    /// Text and box drawing only, no escape sequence.
    Plain,
    /// Bold, italics, underline and strikethrough; no colour.
    Styled,
    /// Styles and colours.
    Colored,
}

/// `TERM` prefixes of terminals that have (at least 8) colours.
const COLOR_TERMS: &[&str] = &[
    "xterm",
    "screen",
    "tmux",
    "rxvt",
    "linux",
    "vt100-color",
    "ansi",
    "cygwin",
    "alacritty",
    "kitty",
    "foot",
    "wezterm",
    "konsole",
    "gnome",
    "putty",
    "st-",
    "contour",
    "ghostty",
];

impl Look {
    /// The look from the environment variables `get` returns (`TERM`, `NO_COLOR`, `COLORTERM`).
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Self {
        let term = get("TERM").unwrap_or_default().to_ascii_lowercase();
        if term.trim().is_empty() || term == "dumb" {
            return Self::Plain;
        }
        if get("NO_COLOR").is_some_and(|v| !v.is_empty()) {
            return Self::Styled;
        }
        let colorterm = get("COLORTERM").is_some_and(|v| !v.trim().is_empty());
        if colorterm
            || term.contains("color")
            || term.contains("256")
            || COLOR_TERMS.iter().any(|t| term.starts_with(t))
        {
            Self::Colored
        } else {
            Self::Styled
        }
    }

    /// The look from this process's environment.
    pub fn detect() -> Self {
        Self::from_env(|name| std::env::var(name).ok())
    }
}

/// Width used when the terminal does not tell its own.
pub const DEFAULT_WIDTH: usize = 80;

/// The width of the terminal on stdout, in columns (asked at each call: it may be resized);
/// [`DEFAULT_WIDTH`] when it does not say.
pub fn width() -> usize {
    match rustix::termios::tcgetwinsize(std::io::stdout()) {
        Ok(size) if size.ws_col > 0 => usize::from(size.ws_col),
        _ => DEFAULT_WIDTH,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn look(vars: &[(&str, &str)]) -> Look {
        Look::from_env(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn colour_only_when_the_terminal_has_it_and_no_color_is_unset() {
        assert_eq!(look(&[("TERM", "xterm-256color")]), Look::Colored);
        assert_eq!(look(&[("TERM", "screen")]), Look::Colored);
        assert_eq!(
            look(&[("TERM", "vt100"), ("COLORTERM", "truecolor")]),
            Look::Colored
        );
        assert_eq!(
            look(&[("TERM", "xterm-256color"), ("NO_COLOR", "1")]),
            Look::Styled
        );
        assert_eq!(
            look(&[("TERM", "xterm"), ("NO_COLOR", "")]),
            Look::Colored,
            "an empty NO_COLOR does not count"
        );
        assert_eq!(look(&[("TERM", "vt100")]), Look::Styled, "in doubt");
        assert_eq!(
            look(&[("TERM", "dumb"), ("COLORTERM", "truecolor")]),
            Look::Plain
        );
        assert_eq!(look(&[]), Look::Plain);
    }

    #[test]
    fn width_has_a_fallback() {
        assert!(width() > 0);
    }
}
