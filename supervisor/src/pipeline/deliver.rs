//! Deliver, the last stage of the pipeline: where a command's replies go ([`ReplySink`]): the
//! room or privately, the thread, the nick prefix in rooms, split at the size limit.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use errbot_proto::v1::{Content, Identifier, Message, Reply, content};

use super::callbacks;
use crate::bot::Bot;
use crate::config::BotSettings;
use crate::supervise::gateway::{Delivery, Gateway, Outcome};

/// Sends the replies to one inbound message: to the room it came from (or privately), in its
/// thread, split at the backend's size limit, counting what was sent. In rooms, replies may
/// address the sender by nick (`groupchat_nick_prefixed`); a command's replies may be diverted
/// to a private message or a thread ([`ReplySink::diverted`]).
pub struct ReplySink {
    gateway: Arc<Gateway>,
    public_to: Identifier,
    private_to: Identifier,
    sender: Identifier,
    direct: bool,
    all_private: bool,
    in_reply_to: String,
    thread_id: String,
    limit: u32,
    nick_prefixed: bool,
    sent: Arc<AtomicU32>,
    /// Set when plugins want the bot's own messages (CALLBACK_BOT_MESSAGE).
    observer: Option<Arc<Bot>>,
}

impl ReplySink {
    /// A sink answering `message` through `gateway`, with the `[bot]` reply settings; with an
    /// `observer`, every reply is also handed to the plugins that want the bot's own messages.
    pub fn new(
        gateway: Arc<Gateway>,
        message: &Message,
        bot: &BotSettings,
        observer: Option<Arc<Bot>>,
    ) -> Self {
        let from = message.from.clone().unwrap_or_default();
        let private_to = Identifier {
            room: String::new(),
            room_name: String::new(),
            ..from.clone()
        };
        let public_to = if message.direct {
            from.clone()
        } else {
            message.to.clone().unwrap_or(from.clone())
        };
        Self {
            gateway,
            public_to,
            private_to,
            sender: from,
            direct: message.direct,
            all_private: false,
            in_reply_to: message.id.clone(),
            thread_id: message.thread_id.clone(),
            limit: bot.message_size_limit,
            nick_prefixed: bot.groupchat_nick_prefixed,
            sent: Default::default(),
            observer,
        }
    }

    /// The same sink, with every reply sent privately (DIVERT_TO_PRIVATE) and/or in a thread
    /// (DIVERT_TO_THREAD: the message's own thread, else one started from the message, whose
    /// id is then the message's). Replies are counted together.
    pub fn diverted(&self, private: bool, thread: bool) -> ReplySink {
        ReplySink {
            gateway: self.gateway.clone(),
            public_to: self.public_to.clone(),
            private_to: self.private_to.clone(),
            sender: self.sender.clone(),
            direct: self.direct,
            all_private: self.all_private || private,
            in_reply_to: self.in_reply_to.clone(),
            thread_id: if thread && self.thread_id.is_empty() {
                self.in_reply_to.clone()
            } else {
                self.thread_id.clone()
            },
            limit: self.limit,
            nick_prefixed: self.nick_prefixed,
            sent: self.sent.clone(),
            observer: self.observer.clone(),
        }
    }

    /// Name of the backend instance the message came from.
    pub fn backend(&self) -> &str {
        &self.gateway.name
    }

    /// Number of messages sent so far.
    pub fn count(&self) -> u32 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Sends Markdown text.
    pub async fn send_text(&self, text: &str, private: bool) {
        self.send(Reply {
            content: Some(Content {
                kind: Some(content::Kind::Markdown(text.to_owned())),
            }),
            private,
            ..Default::default()
        })
        .await;
    }

    /// Sends Markdown text and waits until the chat service took it (before errbotd stops its
    /// gateways: `!restart`, `!shutdown`).
    pub async fn send_text_now(&self, text: &str) {
        let reply = Reply {
            content: Some(Content {
                kind: Some(content::Kind::Markdown(text.to_owned())),
            }),
            ..Default::default()
        };
        self.deliver(reply, Outcome::Wait).await;
    }

    /// Sends one reply (split when too long); empty replies are not sent.
    pub async fn send(&self, reply: Reply) {
        self.deliver(reply, Outcome::Forget).await;
    }

    async fn deliver(&self, reply: Reply, outcome: Outcome) {
        let diverted = reply.private || self.all_private;
        // An ephemeral reply to a room message is for the sender only, in that room (and its
        // thread): the occupant. Diverted or direct, it is an ordinary private reply.
        let ephemeral = reply.ephemeral && !diverted && !self.direct;
        let to = if diverted {
            &self.private_to
        } else if ephemeral {
            &self.sender
        } else {
            &self.public_to
        };
        let private = diverted || self.direct || ephemeral;
        let Some(mut content) = reply.content else {
            return;
        };
        match &mut content.kind {
            None => return,
            Some(content::Kind::Markdown(text)) if text.is_empty() => return,
            Some(content::Kind::Markdown(text)) if self.nick_prefixed && !private => {
                let template = self
                    .gateway
                    .current()
                    .map(|l| l.info.nick_prefix.clone())
                    .unwrap_or_default();
                text.insert_str(0, &nick_prefix(&template, &self.sender));
            }
            Some(_) => {}
        }
        // A private answer to a room message cannot go in the room's thread; a reply asked for
        // in a thread starts one from the message when it was not in one.
        let thread = if diverted && !self.direct {
            ""
        } else if reply.thread && self.thread_id.is_empty() {
            &self.in_reply_to
        } else {
            &self.thread_id
        };
        if let Some(bot) = &self.observer {
            callbacks::on_bot_message(bot, &self.gateway, to, &content, thread, None);
        }
        let delivery = self.gateway.deliver(
            self.limit,
            to,
            content,
            (thread, &self.in_reply_to),
            Delivery { outcome, ephemeral },
        );
        // Boxed: every await of a reply in a command's future would otherwise carry its size.
        match Box::pin(delivery).await {
            Ok((n, _)) => {
                self.sent.fetch_add(n, Ordering::Relaxed);
            }
            Err(e) => {
                tracing::error!(backend = %self.gateway.name, "sending a reply failed: {}", e.message());
            }
        }
    }
}

/// The text addressing `sender` at the start of a reply in a room: the gateway's template
/// (`{nick}`, `{person}`, `{display}`), or `@{nick} ` when it has none.
pub fn nick_prefix(template: &str, sender: &Identifier) -> String {
    let template = if template.is_empty() {
        "@{nick} "
    } else {
        template
    };
    let nick = if sender.nick.is_empty() {
        &sender.person
    } else {
        &sender.nick
    };
    // One pass, so that a nick containing `{person}` is not substituted again.
    let mut out = String::with_capacity(template.len() + nick.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open..];
        let (value, len) = [
            ("{nick}", nick.as_str()),
            ("{person}", sender.person.as_str()),
            ("{display}", sender.display.as_str()),
        ]
        .into_iter()
        .find(|(key, _)| after.starts_with(key))
        .map_or(("{", 1), |(key, value)| (value, key.len()));
        out.push_str(value);
        rest = &after[len..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nick_prefix_fills_the_template_once() {
        let who = Identifier {
            person: "U1".into(),
            nick: "{person}".into(),
            display: "<@U1>".into(),
            ..Default::default()
        };
        assert_eq!(nick_prefix("", &who), "@{person} ");
        assert_eq!(nick_prefix("{display}: {x", &who), "<@U1>: {x");
        let plain = Identifier {
            person: "ana!a@h".into(),
            ..Default::default()
        };
        assert_eq!(nick_prefix("{nick}: ", &plain), "ana!a@h: ");
    }
}
