//! Python literals as JSON: what Errbot's `!plugin config NAME {'KEY': 'value'}` takes (it reads
//! the text with `ast.literal_eval`), for configurations typed the way Errbot's documentation and
//! its own `!plugin config NAME` answers write them.
//!
//! Read: dicts with string keys, lists, tuples (as lists), strings (single, double and triple
//! quotes, `r`/`u` prefixes, Python's escapes, adjacent literals joined), integers (decimal,
//! `0x`, `0o`, `0b`, `_` separators, signs), floats, `True`, `False` and `None`. Not read,
//! because JSON cannot hold them: sets, bytes, complex numbers, non-string keys, integers beyond
//! 64 bits.
//!
//! Written: [`repr`] gives a JSON value as Python's `repr` writes it (what Errbot's webhooks
//! answer with `str(payload)`, and what Errbot shows of a configuration).

use std::fmt::Write as _;

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

/// `value` as Python's `repr` writes the value `json.loads` makes of it: `{'a': [1, 2.0,
/// None, True]}` (objects keep their keys' order).
pub fn repr(value: &Value) -> String {
    let mut out = String::new();
    write_repr(&mut out, value);
    out
}

fn write_repr(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("None"),
        Value::Bool(true) => out.push_str("True"),
        Value::Bool(false) => out.push_str("False"),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => {
                let _ = write!(out, "{i}");
            }
            (None, Some(u), _) => {
                let _ = write!(out, "{u}");
            }
            (None, None, Some(f)) => out.push_str(&float_repr(f)),
            (None, None, None) => out.push_str(&n.to_string()),
        },
        Value::String(s) => string_repr(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_repr(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                string_repr(out, key);
                out.push_str(": ");
                write_repr(out, item);
            }
            out.push('}');
        }
    }
}

/// A float as Python's `repr`: the shortest digits that read back the same, positional from
/// 1e-4 up to 1e16 (`1.0`, `0.0001`), else with an exponent of at least two digits (`1e+16`,
/// `1.5e-05`).
fn float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".to_owned();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf" } else { "-inf" }.to_owned();
    }
    // Rust's `{:e}` gives the shortest round-trip digits: `-1.5e-7`, `1e20`.
    let scientific = format!("{f:e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    if (-4..16).contains(&exponent) {
        let point = exponent + 1; // digits before the decimal point
        let (int, frac) = if point <= 0 {
            let zeros = "0".repeat(usize::try_from(-point).unwrap_or(0));
            ("0".to_owned(), format!("{zeros}{digits}"))
        } else {
            let point = usize::try_from(point).unwrap_or(0);
            if digits.len() <= point {
                (format!("{digits:0<point$}"), String::new())
            } else {
                (digits[..point].to_owned(), digits[point..].to_owned())
            }
        };
        let frac = if frac.is_empty() {
            "0".to_owned()
        } else {
            frac
        };
        format!("{sign}{int}.{frac}")
    } else {
        let mantissa = if digits.len() > 1 {
            format!("{}.{}", &digits[..1], &digits[1..])
        } else {
            digits
        };
        let exp_sign = if exponent < 0 { '-' } else { '+' };
        format!("{sign}{mantissa}e{exp_sign}{:02}", exponent.abs())
    }
}

/// A string as Python's `repr`: in single quotes, or double quotes when it holds a single
/// quote and no double one; backslashes, the quote, and characters that do not print escaped.
fn string_repr(out: &mut String, s: &str) {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || (0x7f..0xa0).contains(&(c as u32)) => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
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

    #[test]
    fn repr_writes_what_python_writes() {
        // The expected texts are Python 3's repr(json.loads(...)) of the same JSON.
        let cases = [
            (
                r#"["foo", {"bar": ["baz", null, 1.0, 2]}]"#,
                "['foo', {'bar': ['baz', None, 1.0, 2]}]",
            ),
            (
                "[1e20, 1.5e-7, 0.0001, 123456789012345678.0, 0.5, -2.25, 1e16, 9999999999999998.0, 1e-5]",
                "[1e+20, 1.5e-07, 0.0001, 1.2345678901234568e+17, 0.5, -2.25, 1e+16, 9999999999999998.0, 1e-05]",
            ),
            (
                r#"["it's", "say \"hi\"", "both ' and \"", "a\\b\n\u0001\u00e9"]"#,
                r#"["it's", 'say "hi"', 'both \' and "', 'a\\b\n\x01é']"#,
            ),
            (
                "[true, false, -3, 18446744073709551615]",
                "[True, False, -3, 18446744073709551615]",
            ),
        ];
        for (json_text, python) in cases {
            let value: Value = serde_json::from_str(json_text).expect("json");
            assert_eq!(repr(&value), python, "{json_text}");
            // What repr writes reads back as the same value.
            assert_eq!(parse(&repr(&value)), Ok(value));
        }
    }
}
