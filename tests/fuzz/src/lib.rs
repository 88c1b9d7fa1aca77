//! Helpers shared by the fuzz targets: how a structured input is read (a fixed-size header of
//! choices, then free text), and invariants that several targets check.
//!
//! Every structured target reads its first [`HEADER`] bytes as choices from small vocabularies
//! and the rest as the text under test, so that a seed is `HEADER` zero bytes (every choice at
//! its default) followed by a text taken from the unit tests.

use arbitrary::Unstructured;

/// Bytes of choices at the start of a structured input.
pub const HEADER: usize = 16;

/// A structured input: its header of choices and its text (invalid UTF-8 replaced).
pub struct Input<'a> {
    /// The choices.
    pub choices: Unstructured<'a>,
    /// The text under test.
    pub text: String,
}

impl<'a> Input<'a> {
    /// Splits `data` into its header and its text.
    pub fn new(data: &'a [u8]) -> Self {
        let (head, tail) = data.split_at(data.len().min(HEADER));
        Self {
            choices: Unstructured::new(head),
            text: String::from_utf8_lossy(tail).into_owned(),
        }
    }

    /// A byte of choice (0 once the header is used up).
    pub fn byte(&mut self) -> u8 {
        self.choices.arbitrary::<u8>().unwrap_or(0)
    }

    /// A boolean choice (false once the header is used up).
    pub fn flag(&mut self) -> bool {
        self.byte() & 1 == 1
    }

    /// An item of `from`, chosen by one byte.
    pub fn pick<'v, T>(&mut self, from: &'v [T]) -> &'v T {
        &from[self.byte() as usize % from.len()]
    }

    /// Up to `max` items of `from`, each chosen by one byte (how many by another).
    pub fn some<T: Clone>(&mut self, from: &[T], max: usize) -> Vec<T> {
        let n = self.byte() as usize % (max + 1);
        (0..n).map(|_| self.pick(from).clone()).collect()
    }
}

/// Checks that `parts` are `text` cut at places where a single space or line break is
/// dropped (after the last part too), each part possibly starting with a reopened code fence line (`` ```lang``) and
/// ending with a closing one (`` \n``` ``), as the reply splitters do. Returns why not.
pub fn parts_rebuild(text: &str, parts: &[String]) -> Result<(), String> {
    let mut failed = std::collections::HashSet::new();
    if rebuild_from(text, 0, parts, &mut failed) {
        Ok(())
    } else {
        Err(format!("{parts:?} do not rebuild {text:?}"))
    }
}

/// Whether `parts` rebuild `text[at..]`; `failed` remembers the (part, offset) pairs that
/// cannot, so that the search stays polynomial.
fn rebuild_from(
    text: &str,
    at: usize,
    parts: &[String],
    failed: &mut std::collections::HashSet<(usize, usize)>,
) -> bool {
    let Some((part, later)) = parts.split_first() else {
        return at == text.len();
    };
    if failed.contains(&(later.len(), at)) {
        return false;
    }
    let rest = &text[at..];
    for core in fence_variants(part) {
        if !rest.starts_with(core.as_str()) {
            continue;
        }
        let mut next = at + core.len();
        // The separator at a cut is dropped, the last one too (a text cut just before its
        // final line break).
        if matches!(text.as_bytes().get(next), Some(b'\n' | b' ')) {
            next += 1;
        }
        if rebuild_from(text, next, later, failed) {
            return true;
        }
    }
    failed.insert((later.len(), at));
    false
}

/// `part` as it is, without a first fence line, without a last `\n```` and without both.
fn fence_variants(part: &str) -> Vec<String> {
    let mut out = vec![part.to_owned()];
    let closed = part.strip_suffix("\n```");
    if let Some(c) = closed {
        out.push(c.to_owned());
    }
    let reopened = part
        .starts_with("```")
        .then(|| part.split_once('\n').map(|(_, after)| after))
        .flatten();
    if let Some(r) = reopened {
        out.push(r.to_owned());
        if let Some(c) = r.strip_suffix("\n```") {
            out.push(c.to_owned());
        }
    }
    // The longest candidate first: a part is taken as it is whenever it can be.
    out
}

/// Python's `fnmatch.fnmatchcase` written as a plain recursive definition (memoised), the
/// oracle for errbotd's iterative glob matcher. An unclosed `[` is a literal.
pub fn glob_oracle(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let mut memo = vec![None; (p.len() + 1) * (t.len() + 1)];
    glob_at(&p, &t, 0, 0, &mut memo)
}

fn glob_at(p: &[char], t: &[char], pi: usize, ti: usize, memo: &mut [Option<bool>]) -> bool {
    let slot = pi * (t.len() + 1) + ti;
    if let Some(known) = memo[slot] {
        return known;
    }
    let result = match p.get(pi) {
        None => ti == t.len(),
        Some('*') => {
            glob_at(p, t, pi + 1, ti, memo) || (ti < t.len() && glob_at(p, t, pi, ti + 1, memo))
        }
        Some(_) if ti == t.len() => false,
        Some('?') => glob_at(p, t, pi + 1, ti + 1, memo),
        Some('[') => match bracket(&p[pi..], t[ti]) {
            Some((true, len)) => glob_at(p, t, pi + len, ti + 1, memo),
            Some((false, _)) => false,
            None => t[ti] == '[' && glob_at(p, t, pi + 1, ti + 1, memo),
        },
        Some(&c) => c == t[ti] && glob_at(p, t, pi + 1, ti + 1, memo),
    };
    memo[slot] = Some(result);
    result
}

/// A bracket expression at the start of `p`: whether `c` is in it and its length, or `None`
/// when it is not closed. `]` right after `[` or `[!` is a member; `a-z` is a range unless the
/// `-` is followed by the closing `]`.
fn bracket(p: &[char], c: char) -> Option<(bool, usize)> {
    let negated = p.get(1) == Some(&'!');
    let body_start = if negated { 2 } else { 1 };
    let mut i = body_start;
    let mut members = false;
    while let Some(&m) = p.get(i) {
        if m == ']' && i > body_start {
            return Some((members != negated, i + 1));
        }
        match (p.get(i + 1), p.get(i + 2)) {
            (Some('-'), Some(&hi)) if hi != ']' => {
                members |= (m..=hi).contains(&c);
                i += 3;
            }
            _ => {
                members |= m == c;
                i += 1;
            }
        }
    }
    None
}

/// A card from free text: title, body, summary, link, image, thumbnail and colour separated by
/// `\x1f`, then key and value pairs of its fields.
pub fn card(text: &str) -> errbot_proto::v1::Card {
    let mut parts = text.split('\x1f').map(str::to_owned);
    let mut next = || parts.next().unwrap_or_default();
    let mut card = errbot_proto::v1::Card {
        title: next(),
        body: next(),
        summary: next(),
        link: next(),
        image: next(),
        thumbnail: next(),
        color: next(),
        fields: Vec::new(),
    };
    loop {
        let (key, value) = (next(), next());
        if key.is_empty() && value.is_empty() {
            break;
        }
        card.fields.push(errbot_proto::v1::CardField { key, value });
    }
    card
}

/// Whether `text` holds a control character other than a line break.
pub fn has_control(text: &str) -> bool {
    text.chars().any(|c| c.is_control() && c != '\n')
}

/// Serves `status` and the JSON `body` to every request on a port of the loopback, from a
/// thread of its own, and returns its base URL: a chat service's API that knows nobody, so
/// that a gateway's lookups fail at once, the way a refusal (not an outage) fails.
pub fn refusing_api(status: &'static str, body: &'static str) -> std::io::Result<String> {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let address = listener.local_addr()?;
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream);
            let mut length = 0usize;
            let mut line = String::new();
            // The request's head, then its body (skipped).
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
                let header = line.trim_end().to_ascii_lowercase();
                if header.is_empty() {
                    break;
                }
                if let Some(v) = header.strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                line.clear();
            }
            let mut skipped = vec![0u8; length.min(1 << 20)];
            let _ = std::io::Read::read_exact(&mut reader, &mut skipped);
            let answer = format!(
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
                 connection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = reader.get_mut().write_all(answer.as_bytes());
        }
    });
    Ok(format!("http://{address}"))
}

/// The one-thread tokio runtime the event targets run their decoders on (made once).
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
    })
}
