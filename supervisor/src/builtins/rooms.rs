//! The ChatRoom commands (Errbot's `!room ...`), carried out by the gateway of the backend the
//! command came from through BackendService's room calls.
//!
//! Improve on Errbot: until access rules exist, joining, leaving, inviting and setting a topic
//! are for admins only (Errbot lets anyone make the bot leave a channel); listing rooms,
//! occupants and reading a topic are for everyone.

use std::sync::Arc;

use errbot_proto::v1::{
    CommandSpec, DestroyRoomRequest, ExecuteRequest, GetRoomRequest, InviteToRoomRequest,
    JoinRoomRequest, LeaveRoomRequest, ListRoomsRequest, PluginDescription, SetRoomTopicRequest,
};

use crate::bot::Bot;
use crate::pipeline::deliver::ReplySink;

/// The commands, as the ChatRoom plugin.
pub fn description(cmd: impl Fn(&str, &str, bool) -> CommandSpec) -> PluginDescription {
    PluginDescription {
        name: "ChatRoom".into(),
        description: "Rooms the bot is in: join, leave, destroy, list, occupants, topic, invite."
            .into(),
        version: env!("CARGO_PKG_VERSION").into(),
        protocol_version: errbot_proto::contract::PROTOCOL_VERSION.into(),
        commands: vec![
            cmd(
                "room_join",
                "Join a room (creating it if needed): `!room join <room> [password]`.",
                true,
            ),
            cmd(
                "room_create",
                "Create a room (on IRC: join it): `!room create <room>`.",
                true,
            ),
            cmd("room_leave", "Leave a room: `!room leave <room>`.", true),
            cmd(
                "room_destroy",
                "Destroy a room, where the chat service can: `!room destroy <room>`.",
                true,
            ),
            cmd(
                "room_invite",
                "Invite people into a room: `!room invite <room> <person>...`.",
                true,
            ),
            cmd("room_list", "List the rooms the bot is in.", false),
            cmd(
                "room_occupants",
                "List the people in rooms: `!room occupants <room>...`.",
                false,
            ),
            cmd(
                "room_topic",
                "Show a room's topic, or set it (admins): `!room topic <room> [new topic]`.",
                false,
            ),
        ],
        ..Default::default()
    }
}

/// Whether `command` is one of these.
pub fn owns(command: &str) -> bool {
    command.starts_with("room_")
}

/// Runs one ChatRoom command.
pub async fn run(bot: &Arc<Bot>, sink: &ReplySink, request: &ExecuteRequest) -> Result<(), String> {
    let backend = request
        .message
        .as_ref()
        .and_then(|m| m.from.as_ref())
        .map(|f| f.backend.clone())
        .unwrap_or_default();
    let gateway = bot
        .gateway(&backend)
        .ok_or_else(|| format!("backend {backend:?} is not connected"))?;
    let mut client = gateway
        .link()
        .await
        .map_err(|s| s.message().to_owned())?
        .client
        .clone();
    let args = match words(&request.args) {
        Some(args) => args,
        None => {
            sink.send_text(
                "Sorry, I couldn't parse your arguments. No closing quotation",
                false,
            )
            .await;
            return Ok(());
        }
    };
    let first = args.first().cloned().unwrap_or_default();
    let text = match request.command.as_str() {
        "room_join" | "room_create" => {
            if first.is_empty() {
                "Please tell me which chatroom to join.".to_owned()
            } else {
                let req = JoinRoomRequest {
                    room: first.clone(),
                    password: args.get(1).cloned().unwrap_or_default(),
                };
                match client.join_room(req).await {
                    Ok(_) if request.command == "room_create" => {
                        format!("Created the room {first}.")
                    }
                    Ok(_) => format!("Joined the room {first}."),
                    Err(s) => format!("Cannot join {first}: {}.", s.message()),
                }
            }
        }
        "room_leave" => {
            if first.is_empty() {
                "Please tell me which chatroom to leave.".to_owned()
            } else {
                let req = LeaveRoomRequest {
                    room: first.clone(),
                    reason: String::new(),
                };
                match client.leave_room(req).await {
                    Ok(_) => format!("Left the room {first}."),
                    Err(s) => format!("Cannot leave {first}: {}.", s.message()),
                }
            }
        }
        "room_destroy" => {
            if first.is_empty() {
                "Please tell me which chatroom to destroy.".to_owned()
            } else {
                let req = DestroyRoomRequest {
                    room: first.clone(),
                };
                match client.destroy_room(req).await {
                    Ok(_) => format!("Destroyed the room {first}."),
                    Err(s) => format!("Cannot destroy {first}: {}.", s.message()),
                }
            }
        }
        "room_invite" => {
            if args.len() < 2 {
                "Please tell me which person(s) to invite into which room.".to_owned()
            } else {
                let people = args[1..].to_vec();
                let req = InviteToRoomRequest {
                    room: first.clone(),
                    people: people.clone(),
                };
                match client.invite_to_room(req).await {
                    Ok(_) => format!("Invited {} into the room {first}.", people.join(", ")),
                    Err(s) => format!("Cannot invite into {first}: {}.", s.message()),
                }
            }
        }
        "room_list" => match client.list_rooms(ListRoomsRequest {}).await {
            Ok(r) => {
                let rooms: Vec<String> = r
                    .into_inner()
                    .rooms
                    .into_iter()
                    .filter_map(|r| r.room.map(|i| format!("- {}", i.display)))
                    .collect();
                if rooms.is_empty() {
                    "I'm not currently in any rooms.".to_owned()
                } else {
                    format!("I'm currently in these rooms:\n\n{}", rooms.join("\n"))
                }
            }
            Err(s) => format!("Cannot list the rooms: {}.", s.message()),
        },
        "room_occupants" => {
            if args.is_empty() {
                "Please supply a room to list the occupants of.".to_owned()
            } else {
                for room in &args {
                    let req = GetRoomRequest { room: room.clone() };
                    let text = match client.get_room(req).await {
                        Ok(info) => {
                            let people: Vec<String> = info
                                .into_inner()
                                .occupants
                                .into_iter()
                                .map(|o| format!("- {}", o.person))
                                .collect();
                            format!("Occupants in {room}:\n\n{}", people.join("\n"))
                        }
                        Err(s) => format!("Cannot list occupants in {room}: {}.", s.message()),
                    };
                    sink.send_text(&text, false).await;
                }
                return Ok(());
            }
        }
        "room_topic" => {
            if first.is_empty() {
                "Please tell me which chatroom you want to know the topic of.".to_owned()
            } else if args.len() == 1 {
                match client
                    .get_room(GetRoomRequest {
                        room: first.clone(),
                    })
                    .await
                {
                    Ok(info) => {
                        let info = info.into_inner();
                        if info.has_topic {
                            format!("Topic for {first}: {}.", info.topic)
                        } else {
                            format!("No topic is set for {first}.")
                        }
                    }
                    Err(s) => format!("Cannot get the topic for {first}: {}.", s.message()),
                }
            } else if !request.sender_is_admin {
                "This command requires bot-admin privileges".to_owned()
            } else {
                let req = SetRoomTopicRequest {
                    room: first.clone(),
                    topic: args[1..].join(" "),
                };
                match client.set_room_topic(req).await {
                    Ok(_) => format!("Topic for {first} set."),
                    Err(s) => format!("Cannot set the topic for {first}: {}.", s.message()),
                }
            }
        }
        other => return Err(format!("unknown ChatRoom command {other}")),
    };
    sink.send_text(&text, false).await;
    Ok(())
}

/// Splits arguments on whitespace, with quotes grouping words (room names start with `#`, which
/// a shell-like split would take for a comment). `None` for an unclosed quote.
fn words(text: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut word: Option<String> = None;
    let mut quote: Option<char> = None;
    for c in text.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.get_or_insert_with(String::new).push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                word.get_or_insert_with(String::new);
            }
            (None, c) if c.is_whitespace() => out.extend(word.take()),
            (None, c) => word.get_or_insert_with(String::new).push(c),
        }
    }
    if quote.is_some() {
        return None;
    }
    out.extend(word);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::words;

    #[test]
    fn splits_words_and_quotes_but_keeps_hashes() {
        assert_eq!(
            words(" #chan  \"Errbot rocks\" it's' ").unwrap(),
            ["#chan", "Errbot rocks", "its"]
        );
        assert_eq!(words("#a ''").unwrap(), ["#a", ""]);
        assert!(words("\"open").is_none());
    }
}
