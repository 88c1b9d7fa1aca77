//! The IRC gateway: the line reader over a server's bytes (cut into reads by the input), the
//! guarded parse of each line, wire lines built from chat text, Markdown and cards rendered to
//! IRC lines, and those lines cut at the line budget with their formatting reopened.
//!
//! Invariants: the reader gives exactly the CR LF (or LF) terminated, non-empty lines of the
//! stream, each cut at `MAX_LINE` bytes; no wire line holds CR, LF or NUL but its final CR LF;
//! rendering gives non-empty lines without CR, LF or NUL; a cut gives pieces within the budget
//! without CR, LF or NUL whose visible text is the line's (white space aside).
#![no_main]

use errbot_fuzz::{Input, card};
use errbot_gateway::adapters::irc::fuzzing as irc;
use libfuzzer_sys::fuzz_target;

fn no_break(line: &str) -> bool {
    !line.contains(['\r', '\n', '\0'])
}

fn reader(data: &[u8], cuts: &[u8]) {
    // The stream cut into reads of the sizes the header gives.
    let mut chunks = Vec::new();
    let mut rest = data;
    for &c in cuts.iter().cycle().take(64) {
        if rest.is_empty() {
            break;
        }
        let n = (usize::from(c) * 37 + 1).min(rest.len());
        chunks.push(&rest[..n]);
        rest = &rest[n..];
    }
    if !rest.is_empty() {
        chunks.push(rest);
    }
    let lines = irc::read_lines(&chunks).expect("reading from memory cannot fail");
    for line in &lines {
        assert!(!line.is_empty() && !line.contains('\n'));
        let _ = irc::parses(line);
    }
    // Without overlong lines, the lines are exactly the terminated ones.
    let mut terminated: Vec<&[u8]> = data.split(|b| *b == b'\n').collect();
    let overlong = terminated.iter().any(|l| l.len() > irc::MAX_LINE);
    terminated.pop();
    if !overlong {
        let expected: Vec<String> = terminated
            .iter()
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
            .filter(|l| !l.is_empty())
            .map(|l| String::from_utf8_lossy(l).into_owned())
            .collect();
        assert_eq!(lines, expected);
    }
}

fuzz_target!(|data: &[u8]| {
    let cuts: Vec<u8> = data.iter().take(4).copied().collect();
    reader(data, &cuts);

    let mut input = Input::new(data);
    let text = input.text.clone();
    let target = input.pick(&["#ops", "alice", "#", "", "a b"]).to_string();
    for line in [
        irc::privmsg_line(&target, &text),
        irc::topic_line(&target, &text),
    ] {
        let body = line
            .strip_suffix("\r\n")
            .expect("a wire line ends with CR LF");
        assert!(!body.contains(['\r', '\n', '\0']), "{line:?}");
    }

    let budget = usize::from(input.byte()) * 2;
    let rendered = if input.flag() {
        irc::render_card(&card(&text))
    } else {
        irc::render_markdown(&text)
    };
    for line in &rendered {
        assert!(!line.is_empty() && no_break(line), "{line:?}");
        let pieces = irc::split(line, budget);
        // Pieces of formatting and white space only are left out: compare the rest.
        let visible = |s: &str| {
            irc::strip(s)
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect::<String>()
        };
        let mut joined = String::new();
        for piece in &pieces {
            assert!(
                piece.len() <= budget.max(32),
                "{} > {budget}: {piece:?}",
                piece.len()
            );
            assert!(no_break(piece), "{piece:?}");
            joined.push_str(&visible(piece));
        }
        assert_eq!(
            joined,
            visible(line),
            "the cut of {line:?} lost text: {pieces:?}"
        );
    }
    let _ = irc::strip(&text);
});
