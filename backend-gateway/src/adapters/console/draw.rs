//! Replies drawn for the terminal on stdout: Markdown through termimad, cards as framed blocks,
//! at the terminal's width of the moment.

use errbot_proto::v1::{Content, content};
use termimad::MadSkin;

use super::term::{self, Look};
use super::{card, markdown};

/// Draws replies for one terminal.
pub struct Painter {
    look: Look,
    skin: MadSkin,
}

impl Painter {
    /// A painter for a terminal of this look.
    pub fn new(look: Look) -> Self {
        Self {
            look,
            skin: markdown::skin(look),
        }
    }

    /// A reply as the terminal shows it, `width` columns wide (no final line break).
    pub fn draw(&self, content: Option<&Content>, width: usize) -> String {
        match content.and_then(|c| c.kind.as_ref()) {
            Some(content::Kind::Markdown(md)) => markdown::render(md, &self.skin, width),
            Some(content::Kind::Card(c)) => card::render(c, self.look, &self.skin, width),
            None => String::new(),
        }
    }

    /// A reply drawn at the terminal's current width.
    pub fn draw_now(&self, content: Option<&Content>) -> String {
        self.draw(content, term::width())
    }
}
