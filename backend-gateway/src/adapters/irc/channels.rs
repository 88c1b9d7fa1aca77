//! What the bot knows of the channels it is in: members (with their masks once seen) and topics,
//! kept up to date from JOIN, PART, KICK, QUIT, NICK, TOPIC, NAMES and WHO.

use std::collections::BTreeMap;

use super::ids::{Mask, fold};

/// One channel the bot is in.
#[derive(Clone, Debug, Default)]
pub struct Channel {
    /// The channel's name as the server spells it.
    pub name: String,
    /// The topic, once known; `None` when none is set.
    pub topic: Option<String>,
    /// Members by folded nick.
    pub members: BTreeMap<String, Mask>,
}

/// The channels the bot is in, by folded name.
#[derive(Debug, Default)]
pub struct Channels {
    map: BTreeMap<String, Channel>,
}

impl Channels {
    /// Forgets everything (at a disconnection).
    pub fn clear(&mut self) {
        self.map.clear();
    }

    /// A channel the bot is in.
    pub fn get(&self, name: &str) -> Option<&Channel> {
        self.map.get(&fold(name))
    }

    /// Every channel, in name order.
    pub fn all(&self) -> impl Iterator<Item = &Channel> {
        self.map.values()
    }

    /// The bot joined `name`.
    pub fn joined(&mut self, name: &str) {
        self.map.entry(fold(name)).or_insert_with(|| Channel {
            name: name.to_owned(),
            ..Default::default()
        });
    }

    /// The bot left `name` (part or kick).
    pub fn left(&mut self, name: &str) -> Option<Channel> {
        self.map.remove(&fold(name))
    }

    /// Someone (with a full or partial mask) is in `channel`; a fuller mask replaces a bare one.
    pub fn add_member(&mut self, channel: &str, mask: Mask) {
        if let Some(c) = self.map.get_mut(&fold(channel)) {
            let key = fold(&mask.nick);
            match c.members.get_mut(&key) {
                Some(known) if known.is_full() && !mask.is_full() => {
                    known.nick = mask.nick;
                }
                _ => {
                    c.members.insert(key, mask);
                }
            }
        }
    }

    /// Someone left `channel`.
    pub fn remove_member(&mut self, channel: &str, nick: &str) {
        if let Some(c) = self.map.get_mut(&fold(channel)) {
            c.members.remove(&fold(nick));
        }
    }

    /// Someone quit the server: removed from every channel.
    pub fn quit(&mut self, nick: &str) {
        let key = fold(nick);
        for c in self.map.values_mut() {
            c.members.remove(&key);
        }
    }

    /// Someone changed nick.
    pub fn rename(&mut self, old: &str, new: &str) {
        let (old, new_key) = (fold(old), fold(new));
        for c in self.map.values_mut() {
            if let Some(mut mask) = c.members.remove(&old) {
                new.clone_into(&mut mask.nick);
                c.members.insert(new_key.clone(), mask);
            }
        }
    }

    /// Learns the mask of someone seen anywhere (a message, WHO): fills it in every channel.
    pub fn learn(&mut self, mask: &Mask) {
        if !mask.is_full() {
            return;
        }
        let key = fold(&mask.nick);
        for c in self.map.values_mut() {
            if let Some(known) = c.members.get_mut(&key) {
                *known = mask.clone();
            }
        }
    }

    /// The mask of `nick` if they share a channel with the bot.
    pub fn mask_of(&self, nick: &str) -> Option<Mask> {
        let key = fold(nick);
        self.map
            .values()
            .filter_map(|c| c.members.get(&key))
            .max_by_key(|m| m.is_full())
            .cloned()
    }

    /// Sets the topic of `channel` (`None`: no topic).
    pub fn set_topic(&mut self, channel: &str, topic: Option<String>) {
        if let Some(c) = self.map.get_mut(&fold(channel)) {
            c.topic = topic;
        }
    }

    /// Members of `channel` whose nick is one of the words of `text`, each once, in order of
    /// appearance (Errbot's IRC mentions).
    pub fn mentions(&self, channel: &str, text: &str) -> Vec<Mask> {
        let Some(c) = self.get(channel) else {
            return Vec::new();
        };
        let mut found: Vec<Mask> = Vec::new();
        let is_nick_char = |ch: char| ch.is_ascii_alphanumeric() || "[]\\`_^{|}-".contains(ch);
        for word in text.split(|ch: char| !is_nick_char(ch)) {
            if word.is_empty() {
                continue;
            }
            if let Some(m) = c.members.get(&fold(word))
                && !found.iter().any(|f| fold(&f.nick) == fold(&m.nick))
            {
                found.push(m.clone());
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracks_members_through_their_life() {
        let mut ch = Channels::default();
        ch.joined("#Ops");
        ch.joined("#dev");
        ch.add_member("#ops", Mask::nick("Alice"));
        ch.add_member("#dev", Mask::parse("alice!a@h").unwrap());
        ch.add_member("#ops", Mask::nick("bob"));
        assert_eq!(ch.mask_of("ALICE").unwrap().full(), "alice!a@h");
        ch.learn(&Mask::parse("bob!b@h2").unwrap());
        assert_eq!(ch.get("#OPS").unwrap().members["bob"].full(), "bob!b@h2");
        ch.rename("bob", "robert");
        assert_eq!(ch.mask_of("robert").unwrap().full(), "robert!b@h2");
        assert!(ch.mask_of("bob").is_none());
        let mentions: Vec<String> = ch
            .mentions("#ops", "robert: ping alice, robert and carol")
            .into_iter()
            .map(|m| m.nick)
            .collect();
        assert_eq!(mentions, ["robert", "Alice"]);
        ch.quit("robert");
        assert!(ch.mask_of("robert").is_none());
        ch.set_topic("#ops", Some("hi".into()));
        assert_eq!(ch.get("#ops").unwrap().topic.as_deref(), Some("hi"));
        assert_eq!(ch.left("#OPS").unwrap().name, "#Ops");
        assert_eq!(ch.all().count(), 1);
    }
}
