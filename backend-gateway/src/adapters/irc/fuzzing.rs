//! Entry points for the fuzz targets of `tests/fuzz/` (the IRC line reader, the parser's guard,
//! wire lines, Markdown and cards to IRC lines, and the cut of long lines). Thin wrappers: no
//! behaviour of their own.

use std::pin::Pin;
use std::task::{Context, Poll};

use errbot_proto::v1::{Card, Content, content};
use irc_proto::Command;
use tokio::io::{AsyncRead, ReadBuf};

pub use super::transport::MAX_LINE;

/// A stream that hands out `chunks` one read at a time, as a server's segments arrive.
struct Chunks<'a> {
    chunks: std::slice::Iter<'a, &'a [u8]>,
    pending: &'a [u8],
}

impl AsyncRead for Chunks<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if self.pending.is_empty() {
            self.pending = self.chunks.next().copied().unwrap_or_default();
        }
        let n = self.pending.len().min(buf.remaining());
        buf.put_slice(&self.pending[..n]);
        self.pending = &self.pending[n..];
        Poll::Ready(Ok(()))
    }
}

/// Every line the gateway's line reader gets out of a server sending `chunks` (then closing).
pub fn read_lines(chunks: &[&[u8]]) -> std::io::Result<Vec<String>> {
    let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    runtime.block_on(async {
        let mut reader = super::transport::LineReader::new(Chunks {
            chunks: chunks.iter(),
            pending: &[],
        });
        let mut lines = Vec::new();
        while let Some(line) = reader.next_line().await? {
            lines.push(line);
        }
        Ok(lines)
    })
}

/// Whether a received line parses into a message (the client's guarded parse).
pub fn parses(line: &str) -> bool {
    super::client::parse(line).is_some()
}

/// The wire line of a PRIVMSG of `text` to `target` (CR, LF and NUL dropped, CR LF added).
pub fn privmsg_line(target: &str, text: &str) -> String {
    super::client::line(Command::PRIVMSG(target.to_owned(), text.to_owned()))
}

/// The wire line of a TOPIC of `channel` (the room commands' path for operators' text).
pub fn topic_line(channel: &str, topic: &str) -> String {
    super::client::line(Command::TOPIC(channel.to_owned(), Some(topic.to_owned())))
}

/// The IRC lines of a Markdown reply.
pub fn render_markdown(markdown: &str) -> Vec<String> {
    super::format::content(&Content {
        kind: Some(content::Kind::Markdown(markdown.to_owned())),
    })
}

/// The IRC lines of a card.
pub fn render_card(card: &Card) -> Vec<String> {
    super::format::content(&Content {
        kind: Some(content::Kind::Card(card.clone())),
    })
}

/// A line cut into pieces of at most `budget` bytes, formatting reopened in each.
pub fn split(line: &str, budget: usize) -> Vec<String> {
    super::split::split(line, budget)
}

/// Received text without IRC formatting codes.
pub fn strip(text: &str) -> String {
    super::format::strip(text)
}
