//! Python literals as JSON: what Errbot's `!plugin config NAME {'KEY': 'value'}` takes (it reads
//! the text with `ast.literal_eval`), for configurations typed the way Errbot's documentation and
//! its own `!plugin config NAME` answers write them.
//!
//! Read: dicts with string keys, lists, tuples (as lists), strings (single, double and triple
//! quotes, `r`/`u` prefixes, Python's escapes, adjacent literals joined), integers (decimal,
//! `0x`, `0o`, `0b`, `_` separators, signs), floats, `True`, `False` and `None`. Not read,
//! because JSON cannot hold them: sets, bytes, complex numbers, non-string keys, integers beyond
//! 64 bits.

use serde_json::{Map, Number, Value};

/// How deep containers may nest (a bound on the recursion, as Python's parser has one).
const MAX_DEPTH: usize = 64;

/// The value of the Python literal `text`, or why it is not one JSON can hold.
pub fn parse(text: &str) -> Result<Value, String> {
    let mut p = Parser {
        chars: text.chars().collect(),
        at: 0,
    };
    let value = p.value(0)?;
    p.blank();
    match p.peek() {
        None => Ok(value),
        Some(c) => Err(p.error(&format!("unexpected {c:?} after the value"))),
    }
}

struct Parser {
    chars: Vec<char>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn error(&self, what: &str) -> String {
        format!("{what} at character {}", self.at + 1)
    }

    /// Skips white space (line breaks included: a configuration is one expression).
    fn blank(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.at += 1;
        }
    }

    fn eat(&mut self, c: char) -> bool {
        self.blank();
        if self.peek() == Some(c) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, String> {
        if depth > MAX_DEPTH {
            return Err(self.error("containers nested too deep"));
        }
        self.blank();
        match self.peek() {
            None => Err(self.error("a value is missing")),
            Some('{') => self.dict(depth),
            Some('[') => {
                self.at += 1;
                Ok(Value::Array(self.items(']', depth)?))
            }
            Some('(') => self.parenthesized(depth),
            Some('\'' | '"') => self.strings(),
            Some(c) if c.is_ascii_digit() || matches!(c, '-' | '+' | '.') => self.number(),
            Some(c) if c.is_alphabetic() || c == '_' => {
                let word = self.word();
                match word.as_str() {
                    "True" => Ok(Value::Bool(true)),
                    "False" => Ok(Value::Bool(false)),
                    "None" => Ok(Value::Null),
                    "r" | "R" | "u" | "U" | "ru" | "rU" | "Ru" | "RU"
                        if matches!(self.peek(), Some('\'' | '"')) =>
                    {
                        self.at -= word.len();
                        self.strings()
                    }
                    "b" | "B" | "br" | "rb" | "Br" | "bR" | "BR" | "rB" | "Rb" | "RB"
                        if matches!(self.peek(), Some('\'' | '"')) =>
                    {
                        Err(self.error("bytes cannot be a configuration value"))
                    }
                    _ => Err(self.error(&format!("{word} is not a literal"))),
                }
            }
            Some(c) => Err(self.error(&format!("unexpected {c:?}"))),
        }
    }

    fn word(&mut self) -> String {
        let start = self.at;
        while self.peek().is_some_and(|c| c.is_alphanumeric() || c == '_') {
            self.at += 1;
        }
        self.chars[start..self.at].iter().collect()
    }

    /// Items up to `close`, separated by commas, a trailing comma allowed.
    fn items(&mut self, close: char, depth: usize) -> Result<Vec<Value>, String> {
        let mut items = Vec::new();
        loop {
            if self.eat(close) {
                return Ok(items);
            }
            items.push(self.value(depth + 1)?);
            if !self.eat(',') {
                return if self.eat(close) {
                    Ok(items)
                } else {
                    Err(self.error(&format!("expected ',' or {close:?}")))
                };
            }
        }
    }

    /// A tuple (a list in JSON), or a value in parentheses.
    fn parenthesized(&mut self, depth: usize) -> Result<Value, String> {
        self.at += 1;
        if self.eat(')') {
            return Ok(Value::Array(Vec::new()));
        }
        let first = self.value(depth + 1)?;
        if self.eat(')') {
            return Ok(first);
        }
        if !self.eat(',') {
            return Err(self.error("expected ',' or ')'"));
        }
        let mut items = vec![first];
        items.extend(self.items(')', depth)?);
        Ok(Value::Array(items))
    }

    fn dict(&mut self, depth: usize) -> Result<Value, String> {
        self.at += 1;
        let mut map = Map::new();
        loop {
            if self.eat('}') {
                return Ok(Value::Object(map));
            }
            let key = match self.value(depth + 1)? {
                Value::String(key) => key,
                other => {
                    // `{1, 2}` is a set; `{1: 2}` a dict with a key JSON cannot hold.
                    self.blank();
                    return Err(if self.peek() == Some(':') {
                        self.error(&format!("the key {other} is not a string"))
                    } else {
                        self.error("a set cannot be a configuration value")
                    });
                }
            };
            if !self.eat(':') {
                return Err(if matches!(self.peek(), Some(',' | '}')) {
                    self.error("a set cannot be a configuration value")
                } else {
                    self.error("expected ':' after a key")
                });
            }
            let value = self.value(depth + 1)?;
            map.insert(key, value);
            if !self.eat(',') {
                return if self.eat('}') {
                    Ok(Value::Object(map))
                } else {
                    Err(self.error("expected ',' or '}'"))
                };
            }
        }
    }

    /// One string literal or several adjacent ones, joined (`'a' "b"` is `'ab'`).
    fn strings(&mut self) -> Result<Value, String> {
        let mut out = String::new();
        loop {
            self.string(&mut out)?;
            let save = self.at;
            self.blank();
            let another = matches!(
                (self.peek(), self.chars.get(self.at + 1)),
                (Some('\'' | '"'), _) | (Some('r' | 'R' | 'u' | 'U'), Some('\'' | '"'))
            );
            if !another {
                self.at = save;
                return Ok(Value::String(out));
            }
        }
    }

    /// A string literal (with its prefix) appended to `out`.
    fn string(&mut self, out: &mut String) -> Result<(), String> {
        let mut raw = false;
        while let Some(c @ ('r' | 'R' | 'u' | 'U')) = self.peek() {
            raw |= matches!(c, 'r' | 'R');
            self.at += 1;
        }
        let Some(quote @ ('\'' | '"')) = self.peek() else {
            return Err(self.error("expected a string"));
        };
        let triple = self.chars.get(self.at + 1) == Some(&quote)
            && self.chars.get(self.at + 2) == Some(&quote);
        self.at += if triple { 3 } else { 1 };
        loop {
            let Some(c) = self.peek() else {
                return Err(self.error("the string is not closed"));
            };
            self.at += 1;
            match c {
                c if c == quote => {
                    if !triple {
                        return Ok(());
                    }
                    if self.chars.get(self.at) == Some(&quote)
                        && self.chars.get(self.at + 1) == Some(&quote)
                    {
                        self.at += 2;
                        return Ok(());
                    }
                    out.push(c);
                }
                '\n' if !triple => return Err(self.error("the string is not closed")),
                '\\' if raw => {
                    // A raw string keeps the backslash, and the quote after it.
                    out.push('\\');
                    if let Some(next) = self.peek() {
                        out.push(next);
                        self.at += 1;
                    }
                }
                '\\' => self.escape(out)?,
                c => out.push(c),
            }
        }
    }

    /// The escape after a backslash, appended to `out`.
    fn escape(&mut self, out: &mut String) -> Result<(), String> {
        let Some(c) = self.peek() else {
            return Err(self.error("the string is not closed"));
        };
        self.at += 1;
        let simple = match c {
            '\n' => return Ok(()),
            '\\' => '\\',
            '\'' => '\'',
            '"' => '"',
            'a' => '\x07',
            'b' => '\x08',
            'f' => '\x0c',
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            'v' => '\x0b',
            '0'..='7' => {
                let mut code = c.to_digit(8).unwrap_or(0);
                for _ in 0..2 {
                    match self.peek().and_then(|d| d.to_digit(8)) {
                        Some(d) => {
                            code = code * 8 + d;
                            self.at += 1;
                        }
                        None => break,
                    }
                }
                char::from_u32(code).ok_or_else(|| self.error("a bad octal escape"))?
            }
            'x' => self.hex_escape(2)?,
            'u' => self.hex_escape(4)?,
            'U' => self.hex_escape(8)?,
            'N' => return Err(self.error("\\N{...} escapes are not read")),
            other => {
                // Python keeps an unknown escape as written.
                out.push('\\');
                other
            }
        };
        out.push(simple);
        Ok(())
    }

    fn hex_escape(&mut self, digits: usize) -> Result<char, String> {
        let end = self.at + digits;
        let hex: String = self.chars.get(self.at..end).unwrap_or(&[]).iter().collect();
        let code = (hex.len() == digits)
            .then(|| u32::from_str_radix(&hex, 16).ok())
            .flatten()
            .ok_or_else(|| {
                self.error(&format!(
                    "a \\x, \\u or \\U escape needs {digits} hex digits"
                ))
            })?;
        self.at = end;
        char::from_u32(code).ok_or_else(|| self.error("an escape of no character"))
    }

    fn number(&mut self) -> Result<Value, String> {
        let mut negative = false;
        loop {
            self.blank();
            match self.peek() {
                Some('-') => negative = !negative,
                Some('+') => {}
                _ => break,
            }
            self.at += 1;
        }
        let start = self.at;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.'))
            || (self.at > start
                && matches!(self.peek(), Some('+' | '-'))
                && matches!(self.chars[self.at - 1], 'e' | 'E')
                && !self.chars[start..self.at]
                    .iter()
                    .any(|c| matches!(c, 'x' | 'X')))
        {
            self.at += 1;
        }
        let text: String = self.chars[start..self.at].iter().collect();
        let bad = || self.error(&format!("{text:?} is not a number"));
        if text.is_empty() || text.starts_with('_') || text.ends_with('_') || text.contains("__") {
            return Err(bad());
        }
        let digits = text.replace('_', "");
        let lower = digits.to_ascii_lowercase();
        let radix = match lower.get(..2) {
            Some("0x") => Some(16),
            Some("0o") => Some(8),
            Some("0b") => Some(2),
            _ => None,
        };
        if let Some(radix) = radix {
            let magnitude = u64::from_str_radix(&digits[2..], radix).map_err(|_| bad())?;
            return integer(negative, magnitude).ok_or_else(bad);
        }
        if lower.ends_with('j') || lower.contains(['x', 'o', 'b']) {
            return Err(bad());
        }
        if lower.contains(['.', 'e']) {
            let f: f64 = digits.parse().map_err(|_| bad())?;
            let f = if negative { -f } else { f };
            return Number::from_f64(f).map(Value::Number).ok_or_else(bad);
        }
        // Python 3 refuses a leading zero in a decimal integer (`010`), but not `0` or `00`.
        if digits.len() > 1 && digits.starts_with('0') && digits.chars().any(|c| c != '0') {
            return Err(bad());
        }
        let magnitude: u64 = digits.parse().map_err(|_| bad())?;
        integer(negative, magnitude).ok_or_else(bad)
    }
}

/// `magnitude` with its sign, when JSON (64 bits) can hold it.
fn integer(negative: bool, magnitude: u64) -> Option<Value> {
    if !negative {
        return Some(Value::Number(magnitude.into()));
    }
    let n = i64::try_from(magnitude)
        .map(|m| -m)
        .ok()
        .or((magnitude == 1 << 63).then_some(i64::MIN))?;
    Some(Value::Number(n.into()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn errbots_configurations_as_typed() {
        assert_eq!(
            parse(
                "{'CHANNEL': '#general', 'TIMES': 3, 'LOUD': True, 'ROOMS': ('a', 'b'), 'X': None}"
            ),
            Ok(
                json!({"CHANNEL": "#general", "TIMES": 3, "LOUD": true, "ROOMS": ["a", "b"], "X": null})
            )
        );
        assert_eq!(
            parse("{\n  \"A\": [1, 2.5, -3, 1e3,],\n  'B': {'c': ()},\n}"),
            Ok(json!({"A": [1, 2.5, -3, 1000.0], "B": {"c": []}}))
        );
        assert_eq!(parse("(1,)"), Ok(json!([1])));
        assert_eq!(parse("(1)"), Ok(json!(1)));
        assert_eq!(parse("[]"), Ok(json!([])));
    }

    #[test]
    fn strings_in_every_form() {
        assert_eq!(parse(r"'it\'s'"), Ok(json!("it's")));
        assert_eq!(
            parse(r#""a\tb\n\x41\u00e9\U0001F600\101""#),
            Ok(json!("a\tb\nAé😀A"))
        );
        assert_eq!(parse(r"r'C:\dir\n'"), Ok(json!(r"C:\dir\n")));
        assert_eq!(parse(r"'\d+'"), Ok(json!(r"\d+")));
        assert_eq!(parse("'a' \"b\" u'c'"), Ok(json!("abc")));
        assert_eq!(parse("'''one\n'two'\n'''"), Ok(json!("one\n'two'\n")));
        assert_eq!(parse("'é ü'"), Ok(json!("é ü")));
    }

    #[test]
    fn numbers_in_every_form() {
        assert_eq!(parse("1_000"), Ok(json!(1000)));
        assert_eq!(parse("0xff"), Ok(json!(255)));
        assert_eq!(parse("-0o17"), Ok(json!(-15)));
        assert_eq!(parse("0b101"), Ok(json!(5)));
        assert_eq!(parse("- -2"), Ok(json!(2)));
        assert_eq!(parse("-9223372036854775808"), Ok(json!(i64::MIN)));
        assert_eq!(parse("18446744073709551615"), Ok(json!(u64::MAX)));
        assert_eq!(parse(".5"), Ok(json!(0.5)));
        assert_eq!(parse("1.5e-3"), Ok(json!(0.0015)));
        assert_eq!(parse("00"), Ok(json!(0)));
    }

    #[test]
    fn what_json_cannot_hold_or_python_refuses_is_an_error_that_says_where() {
        for (text, why) in [
            ("{1, 2}", "a set"),
            ("{'a'}", "a set"),
            ("{1: 2}", "the key 1 is not a string"),
            ("b'x'", "bytes"),
            ("1j", "not a number"),
            ("010", "not a number"),
            ("1__0", "not a number"),
            ("18446744073709551616", "not a number"),
            ("'open", "not closed"),
            ("'a\nb'", "not closed"),
            ("[1 2]", "expected ','"),
            ("{'a' 1}", "expected ':'"),
            ("os.system('x')", "is not a literal"),
            ("1 2", "after the value"),
            ("", "missing"),
            ("'\\N{DASH}'", "\\N"),
            ("'\\x4'", "hex digits"),
        ] {
            let error = parse(text).expect_err(text);
            assert!(error.contains(why), "{text:?}: {error}");
            assert!(error.contains("at character "), "{text:?}: {error}");
        }
        let deep = "[".repeat(100) + &"]".repeat(100);
        assert!(parse(&deep).unwrap_err().contains("nested too deep"));
    }
}
