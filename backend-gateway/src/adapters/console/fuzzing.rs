//! Entry points for the fuzz targets of `tests/fuzz/`: replies drawn for a terminal (Markdown
//! through termimad, cards in boxes) in each look. Thin wrappers: no behaviour of their own.

use errbot_proto::v1::Content;

use super::draw::Painter;
use super::term::Look;

/// The looks, by number: 0 plain (no escape sequence), 1 styled, 2 coloured.
fn look(n: u8) -> Look {
    match n % 3 {
        0 => Look::Plain,
        1 => Look::Styled,
        _ => Look::Colored,
    }
}

/// A reply as a terminal of look `n` (see [`look`]) and `width` columns shows it.
pub fn draw(n: u8, content: &Content, width: usize) -> String {
    Painter::new(look(n)).draw(Some(content), width)
}

/// Columns `text` takes on the terminal, escape sequences not counted.
pub fn visible_width(text: &str) -> usize {
    super::card::visible_width(text)
}

/// The narrowest width replies are drawn for.
pub const MIN_WIDTH: usize = super::markdown::MIN_WIDTH;
