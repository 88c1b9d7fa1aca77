//! Rooms: the team's channels the bot is in, joined (created when missing, as Errbot's
//! `room.create`), left, archived, their header as the topic, their members as occupants,
//! people added.

use errbot_proto::v1::RoomInfo;
use reqwest::Method;
use serde_json::json;
use tonic::Status;

use super::Shared;
use super::client::{channel_of, text, user_of};
use super::ids::{self, Channel, Parsed};
use super::transport::ApiError;

/// A channel's name from a room's string form (`~dev`, or `dev`).
pub fn room_name(room: &str) -> Result<String, Status> {
    let name = room.trim().trim_start_matches('~');
    if ids::valid_channel_name(name) {
        Ok(name.to_owned())
    } else {
        Err(Status::invalid_argument(format!(
            "{room:?} is not a Mattermost channel (expected ~channel)"
        )))
    }
}

impl Shared {
    /// What the server says of a channel now (its header may have changed), without occupants.
    async fn fresh(&self, name: &str) -> Result<(Channel, String), Status> {
        let cached = self
            .channel_named(name)
            .await
            .map_err(|e| self.failed(&format!("channel ~{name}"), &e))?;
        let v = self
            .api
            .get(&format!("/channels/{}", cached.id))
            .await
            .map_err(|e| self.failed(&format!("channel ~{name}"), &e))?;
        Ok((channel_of(&v), text(&v, "header")))
    }

    fn info(&self, channel: &Channel, header: String) -> RoomInfo {
        RoomInfo {
            room: Some(self.ids.room(channel)),
            has_topic: !header.is_empty(),
            topic: header,
            occupants: Vec::new(),
        }
    }

    /// The team's channels the bot is in (direct conversations aside).
    pub(super) async fn rooms(&self) -> Result<Vec<RoomInfo>, Status> {
        let team_id = self.with_state(|st| st.team_id.clone());
        let v = self
            .api
            .get(&format!("/users/me/teams/{team_id}/channels"))
            .await
            .map_err(|e| self.failed("channels", &e))?;
        Ok(v.as_array()
            .map(|all| {
                all.iter()
                    .map(|c| (channel_of(c), text(c, "header")))
                    .filter(|(c, _)| !c.id.is_empty() && !c.is_direct())
                    .map(|(c, header)| self.info(&c, header))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Joins `room`, creating it (public) when the team has none of that name.
    pub(super) async fn join_room(&self, room: &str) -> Result<RoomInfo, Status> {
        let name = room_name(room)?;
        match self.join(&name).await {
            Ok(_) => {}
            Err(ApiError::Status(404, _)) => {
                let team_id = self.with_state(|st| st.team_id.clone());
                let body = json!({"team_id": team_id, "name": name, "display_name": name,
                    "type": "O"});
                self.api
                    .post("/channels", &body)
                    .await
                    .map_err(|e| self.failed(&format!("creating ~{name}"), &e))?;
                self.join(&name)
                    .await
                    .map_err(|e| self.failed(&format!("joining ~{name}"), &e))?;
            }
            Err(e) => return Err(self.failed(&format!("joining ~{name}"), &e)),
        }
        let (channel, header) = self.fresh(&name).await?;
        Ok(self.info(&channel, header))
    }

    /// Leaves `room` (not joined again at the next connection).
    pub(super) async fn leave_room(&self, room: &str) -> Result<(), Status> {
        let name = room_name(room)?;
        let channel = self
            .channel_named(&name)
            .await
            .map_err(|e| self.failed(&format!("channel ~{name}"), &e))?;
        let me = self.with_state(|st| st.me.id.clone());
        self.api
            .call(
                Method::DELETE,
                &format!("/channels/{}/members/{me}", channel.id),
                None,
            )
            .await
            .map_err(|e| self.failed(&format!("leaving ~{name}"), &e))?;
        self.with_state(|st| {
            st.wanted.remove(&name);
            st.joined.remove(&channel.id);
        });
        Ok(())
    }

    /// A room's header and members.
    pub(super) async fn room(&self, room: &str) -> Result<RoomInfo, Status> {
        let name = room_name(room)?;
        let (channel, header) = self.fresh(&name).await?;
        let v = self
            .api
            .get(&format!("/users?in_channel={}&per_page=200", channel.id))
            .await
            .map_err(|e| self.failed(&format!("members of ~{name}"), &e))?;
        let occupants = v
            .as_array()
            .map(|all| {
                all.iter()
                    .map(user_of)
                    .filter(|u| !u.id.is_empty())
                    .map(|u| self.ids.occupant(&channel, &u))
                    .collect()
            })
            .unwrap_or_default();
        Ok(RoomInfo {
            occupants,
            ..self.info(&channel, header)
        })
    }

    /// Sets a room's header.
    pub(super) async fn set_topic(&self, room: &str, topic: &str) -> Result<RoomInfo, Status> {
        let name = room_name(room)?;
        let channel = self
            .channel_named(&name)
            .await
            .map_err(|e| self.failed(&format!("channel ~{name}"), &e))?;
        let v = self
            .api
            .call(
                Method::PUT,
                &format!("/channels/{}/patch", channel.id),
                Some(&json!({"header": topic})),
            )
            .await
            .map_err(|e| self.failed(&format!("header of ~{name}"), &e))?;
        Ok(self.info(&channel, text(&v, "header")))
    }

    /// Adds people (`@user` or `~room/user`) to a room.
    pub(super) async fn invite(&self, room: &str, people: &[String]) -> Result<(), Status> {
        let name = room_name(room)?;
        let channel = self
            .channel_named(&name)
            .await
            .map_err(|e| self.failed(&format!("channel ~{name}"), &e))?;
        if people.is_empty() {
            return Err(Status::invalid_argument("nobody to invite"));
        }
        for person in people {
            let username = match ids::parse(person).map_err(Status::invalid_argument)? {
                Parsed::Person(u) | Parsed::Occupant(_, u) => u,
                Parsed::Room(_) => {
                    return Err(Status::invalid_argument(format!(
                        "{person:?} is not a person"
                    )));
                }
            };
            let user = self.user_named(&username).await?;
            self.api
                .post(
                    &format!("/channels/{}/members", channel.id),
                    &json!({"user_id": user.id}),
                )
                .await
                .map_err(|e| self.failed(&format!("adding @{username} to ~{name}"), &e))?;
        }
        Ok(())
    }

    /// Archives a room (Mattermost's delete).
    pub(super) async fn archive(&self, room: &str) -> Result<(), Status> {
        let name = room_name(room)?;
        let channel = self
            .channel_named(&name)
            .await
            .map_err(|e| self.failed(&format!("channel ~{name}"), &e))?;
        self.api
            .call(Method::DELETE, &format!("/channels/{}", channel.id), None)
            .await
            .map_err(|e| self.failed(&format!("archiving ~{name}"), &e))?;
        self.with_state(|st| {
            st.wanted.remove(&name);
            st.joined.remove(&channel.id);
            st.channels.remove(&channel.id);
        });
        Ok(())
    }
}
