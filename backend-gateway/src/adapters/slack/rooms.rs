//! Rooms: the channels the bot is in (`users.conversations`), joined (created when the
//! workspace has none of that name, as Errbot's SlackV3 does), left, archived, their topic,
//! their members as occupants (the cache's names, never a lookup per member: big channels
//! would meet rate limits), people invited.

use errbot_proto::v1::RoomInfo;
use serde_json::Value;
use tonic::{Code, Status};

use super::ids::{self, Channel, Kind, Parsed, User, Where, Who};
use super::transport::text;
use super::{Shared, channel_of};

/// What a room's string form names (`#name`, `<#C123>`, `C123`).
fn where_of(room: &str) -> Result<Where, Status> {
    match ids::parse(room) {
        Ok(Parsed::Room(at)) => Ok(at),
        _ => Err(Status::invalid_argument(format!(
            "{room:?} is not a Slack channel (expected #channel or <#C123>)"
        ))),
    }
}

fn topic_of(v: &Value) -> String {
    v.get("topic").map(|t| text(t, "value")).unwrap_or_default()
}

impl Shared {
    fn room_info(&self, channel: &Channel, topic: String) -> RoomInfo {
        RoomInfo {
            room: Some(self.ids.room(channel)),
            has_topic: !topic.is_empty(),
            topic,
            occupants: Vec::new(),
        }
    }

    fn remember_channel(&self, channel: &Channel) {
        self.with_state(|st| st.channels.insert(channel.id.clone(), channel.clone()));
    }

    /// The channel a room names, from the cache or Slack.
    async fn resolve(&self, room: &str) -> Result<Channel, Status> {
        match where_of(room)? {
            Where::Id(id) => {
                let v = self.call("conversations.info", &[("channel", &id)]).await?;
                let c = channel_of(v.get("channel").unwrap_or(&Value::Null));
                self.remember_channel(&c);
                Ok(c)
            }
            Where::Name(name) => self.channel_named(&name).await,
        }
    }

    /// The channels the bot is in (direct messages aside).
    pub(super) async fn rooms(&self) -> Result<Vec<RoomInfo>, Status> {
        let mut out = Vec::new();
        let params = [
            ("exclude_archived", "true"),
            ("types", "public_channel,private_channel"),
        ];
        self.paged("users.conversations", &params, "channels", |page| {
            for c in page {
                let channel = channel_of(c);
                if channel.id.is_empty() || matches!(channel.kind, Kind::Im | Kind::Mpim) {
                    continue;
                }
                self.remember_channel(&channel);
                out.push(self.room_info(&channel, topic_of(c)));
            }
            false
        })
        .await?;
        Ok(out)
    }

    /// Joins `room`, creating it (public) when there is no channel of that name.
    pub(super) async fn join_room(&self, room: &str) -> Result<RoomInfo, Status> {
        let at = where_of(room)?;
        let channel = match self.resolve(room).await {
            Ok(c) => c,
            Err(s) if s.code() == Code::NotFound && matches!(at, Where::Name(_)) => {
                let Where::Name(name) = at else {
                    return Err(s);
                };
                let v = self
                    .call("conversations.create", &[("name", &name)])
                    .await?;
                let c = channel_of(v.get("channel").unwrap_or(&Value::Null));
                self.remember_channel(&c);
                return Ok(self.room_info(&c, String::new()));
            }
            Err(s) => return Err(s),
        };
        let v = self
            .call("conversations.join", &[("channel", &channel.id)])
            .await?;
        let topic = v.get("channel").map(topic_of).unwrap_or_default();
        Ok(self.room_info(&channel, topic))
    }

    /// Leaves `room`.
    pub(super) async fn leave_room(&self, room: &str) -> Result<(), Status> {
        let channel = self.resolve(room).await?;
        self.call("conversations.leave", &[("channel", &channel.id)])
            .await
            .map(|_| ())
    }

    /// A room's topic (read now) and occupants.
    pub(super) async fn room(&self, room: &str) -> Result<RoomInfo, Status> {
        let channel = self.resolve(room).await?;
        let v = self
            .call("conversations.info", &[("channel", &channel.id)])
            .await?;
        let mut info = self.room_info(&channel, v.get("channel").map(topic_of).unwrap_or_default());
        let params = [("channel", channel.id.as_str())];
        self.paged("conversations.members", &params, "members", |page| {
            for id in page.iter().filter_map(Value::as_str) {
                let user = self
                    .with_state(|st| st.users.get(id).cloned())
                    .unwrap_or_else(|| User {
                        id: id.to_owned(),
                        ..Default::default()
                    });
                info.occupants.push(self.ids.occupant(&channel, &user));
            }
            false
        })
        .await?;
        Ok(info)
    }

    /// Sets a room's topic.
    pub(super) async fn set_topic(&self, room: &str, topic: &str) -> Result<RoomInfo, Status> {
        let channel = self.resolve(room).await?;
        self.call(
            "conversations.setTopic",
            &[("channel", channel.id.as_str()), ("topic", topic)],
        )
        .await?;
        Ok(self.room_info(&channel, topic.to_owned()))
    }

    /// Invites people (any person form) into a room.
    pub(super) async fn invite(&self, room: &str, people: &[String]) -> Result<(), Status> {
        let channel = self.resolve(room).await?;
        let mut ids = Vec::new();
        for person in people {
            let who = match ids::parse(person) {
                Ok(Parsed::Person(who) | Parsed::Occupant(_, who)) => who,
                _ => {
                    return Err(Status::invalid_argument(format!(
                        "{person:?} is not a Slack person (<@U123> or @name)"
                    )));
                }
            };
            ids.push(match who {
                Who::Id(id) => id,
                Who::Name(name) => self.user_named(&name).await?.id,
            });
        }
        let users = ids.join(",");
        self.call(
            "conversations.invite",
            &[("channel", channel.id.as_str()), ("users", users.as_str())],
        )
        .await
        .map(|_| ())
    }

    /// Archives a room (Slack deletes nothing through the API).
    pub(super) async fn archive(&self, room: &str) -> Result<(), Status> {
        let channel = self.resolve(room).await?;
        self.call("conversations.archive", &[("channel", &channel.id)])
            .await?;
        self.with_state(|st| st.channels.remove(&channel.id));
        Ok(())
    }
}
