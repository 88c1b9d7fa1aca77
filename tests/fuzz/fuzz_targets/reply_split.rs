//! errbotd's reply splitting at a backend's size limit (bytes for IRC, characters elsewhere),
//! with UTF-8 text and code fences reopened in the next part.
//!
//! Invariants: no part exceeds the limit (unless it is a single character longer than the
//! limit in bytes); the parts are the text again, cut where at most one space or line break is
//! dropped, each with at most a reopened fence line before and a closing fence after; a text
//! within the limit is one part, itself.
#![no_main]

use errbot_fuzz::{Input, parts_rebuild};
use errbotd::split::{Unit, split};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let unit = if input.flag() {
        Unit::Bytes
    } else {
        Unit::Chars
    };
    let limit = match input.byte() % 4 {
        0 => usize::from(input.byte()),
        1 => usize::from(input.byte() % 24),
        2 => 0,
        _ => usize::from(u16::from_le_bytes([input.byte(), input.byte()])),
    };
    let text = input.text.as_str();
    let size = |s: &str| match unit {
        Unit::Bytes => s.len(),
        Unit::Chars => s.chars().count(),
    };
    let parts = split(text, limit, unit);
    assert!(!parts.is_empty());
    if limit == 0 || size(text) <= limit {
        assert_eq!(parts, [text]);
        return;
    }
    for part in &parts {
        assert!(
            size(part) <= limit || part.chars().count() == 1,
            "a part of {} > {limit}: {part:?}",
            size(part)
        );
    }
    if let Err(why) = parts_rebuild(text, &parts) {
        panic!("limit {limit} {unit:?}: {why}");
    }
});
