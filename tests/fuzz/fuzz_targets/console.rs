//! The text console drawing replies on a terminal: Markdown through termimad (links written
//! out, emphasis rewritten, tables boxed, lines wrapped) and cards in boxes, in the plain,
//! styled and coloured looks, at any width.
//!
//! Invariants: the plain look emits no escape sequence and no control character but line
//! breaks; in the other looks every escape is one of the console's own SGR sequences
//! (`ESC [ digits ; m`), and without them nothing but line breaks is a control character (a
//! reply cannot send the terminal sequences of its own); a card's lines fit the width.
#![no_main]

use errbot_fuzz::{Input, card, has_control};
use errbot_gateway::adapters::console::fuzzing as console;
use errbot_proto::v1::{Content, content};
use libfuzzer_sys::fuzz_target;

/// `text` without the SGR sequences the console emits; `None` when another escape is in it.
fn without_sgr(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\x1b' {
            out.push(c);
            continue;
        }
        if chars.next() != Some('[') {
            return None;
        }
        loop {
            match chars.next()? {
                'm' => break,
                d if d.is_ascii_digit() || d == ';' => {}
                _ => return None,
            }
        }
    }
    Some(out)
}

/// termimad 0.35.5 subtracts `width - first_width` in `fit/wrap.rs` (line 129) where the
/// first line's indentation can be wider than the width: an overflow panic with debug
/// assertions (the fuzz build), a wrapped number in a release build (the line is left
/// unwrapped, and a card's `fit` cuts it). That panic alone is let through to `catch_unwind`
/// below; any other still aborts the run.
fn tolerate_termimad_wrap_overflow() {
    let abort = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let known = info
            .location()
            .is_some_and(|l| l.file().contains("termimad") && l.file().ends_with("wrap.rs"));
        if !known {
            abort(info);
        }
    }));
}

fuzz_target!(init: tolerate_termimad_wrap_overflow(), |data: &[u8]| {
    let mut input = Input::new(data);
    let look = input.byte() % 3;
    let width = usize::from(input.byte());
    let is_card = input.flag();
    let text = input.text.clone();
    let reply = Content {
        kind: Some(if is_card {
            content::Kind::Card(card(&text))
        } else {
            content::Kind::Markdown(text.clone())
        }),
    };
    let Ok(drawn) = std::panic::catch_unwind(|| console::draw(look, &reply, width)) else {
        return;
    };
    if look == 0 {
        assert!(
            !has_control(&drawn),
            "the plain look emitted a control character: {drawn:?}"
        );
    }
    let bare =
        without_sgr(&drawn).unwrap_or_else(|| panic!("an escape of the reply's own: {drawn:?}"));
    assert!(
        !has_control(&bare),
        "a control character reached the terminal: {drawn:?}"
    );
    if is_card {
        let room = width.max(console::MIN_WIDTH);
        for line in drawn.lines() {
            let w = console::visible_width(line);
            assert!(w <= room, "a card line of {w} columns in {room}: {line:?}");
        }
    }
});
