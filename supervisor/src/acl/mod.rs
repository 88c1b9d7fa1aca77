//! Access control, as Errbot's ACLs plugin: which rule applies to a command invocation, and
//! whether the sender may run it there. Pure functions of the `[access]` settings and the
//! invocation, so that every rule and message is unit-tested here; errbotd applies the verdict
//! (and sends the reply) in the pipeline's authorize stage (`pipeline/authorize.rs`).
//!
//! The checks, in Errbot's order, the first failure deciding the reply:
//! 1. arguments (`allowargs`, `denyargs`), 2. the sender (`allowusers`, `denyusers`),
//! 3. in a room `allowmuc` then the room (`allowrooms`, `denyrooms`); in private `allowprivate`,
//! 4. admin-only commands: the sender must be an admin, and in a room the rule must say
//!    `allowmuc = true`.
//!
//! No rule can lift step 4: whatever the rules and their order, an admin-only command never runs
//! for someone who is not an admin.

pub mod settings;
#[cfg(test)]
mod tests;

pub use settings::{AccessSettings, Patterns, Rule};

use errbot_proto::v1::{Identifier, Message};

use crate::config::Config;
use crate::glob;
use crate::registry::Command;

/// One command about to run, as the access rules see it.
#[derive(Clone, Copy, Debug)]
pub struct Invocation<'a> {
    /// Plugin the command belongs to (`Help`, `hello`...).
    pub plugin: &'a str,
    /// Command name as registered (words joined by `_`).
    pub command: &'a str,
    /// The argument string; `None` when not known (help listings): argument checks are skipped.
    pub args: Option<&'a str>,
    /// The sender's ACL string (`Identifier.acl`, else `person`).
    pub sender: &'a str,
    /// The sender's stable id (`Identifier.person`) when it differs from `sender`: user rules
    /// match it too, so that a rule naming a person's id outlives a rename.
    pub sender_id: &'a str,
    /// The room's id when the command was written in a room; `None` in a direct message.
    pub room: Option<&'a str>,
    /// Name of the backend instance the message came from.
    pub backend: &'a str,
    /// The command is admin-only.
    pub admin_only: bool,
    /// The sender is a bot admin.
    pub sender_is_admin: bool,
}

/// Why a command is refused; [`Denial::reply`] is Errbot's text for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Denial {
    /// `allowargs` / `denyargs`.
    Arguments,
    /// `allowusers` / `denyusers`.
    User,
    /// `allowmuc = false`, in a room.
    Chatroom,
    /// `allowrooms` / `denyrooms`.
    Room,
    /// `allowprivate = false`, in a direct message.
    Private,
    /// Admin-only command, sender not an admin.
    AdminOnly,
    /// Admin-only command in a room without `allowmuc = true`.
    DirectOnly,
}

impl Denial {
    /// The reply sent to the sender (unless `hide_restricted_access`).
    pub fn reply(self) -> &'static str {
        match self {
            Denial::Arguments => {
                "You're not allowed to access this command using the provided arguments"
            }
            Denial::User => "You're not allowed to access this command from this user",
            Denial::Chatroom => "You're not allowed to access this command from a chatroom",
            Denial::Room => "You're not allowed to access this command from this room",
            Denial::Private => {
                "You're not allowed to access this command via private message to me"
            }
            Denial::AdminOnly => "This command requires bot-admin privileges",
            Denial::DirectOnly => "This command may only be issued through a direct message",
        }
    }
}

/// The ACL attribute of an identifier: `acl`, else `person`.
pub fn acl_of(who: &Identifier) -> &str {
    if who.acl.is_empty() {
        &who.person
    } else {
        &who.acl
    }
}

/// The person's stable id when it is not the ACL attribute already (empty otherwise): on
/// services where the ACL attribute is a name that can change (`@alice` on Mattermost), the
/// rules and admins may name the id instead, which survives a rename.
pub fn id_of(who: &Identifier) -> &str {
    if who.acl.is_empty() || who.acl == who.person {
        ""
    } else {
        &who.person
    }
}

/// Whether `who` is an admin under `config` (`bot.admins` globs against the ACL attribute, or
/// against the person's id).
pub fn is_admin(config: &Config, who: &Identifier) -> bool {
    glob::matches_any(&config.bot.admins, acl_of(who))
        || matches!(id_of(who), id if !id.is_empty() && glob::matches_any(&config.bot.admins, id))
}

/// Whether the sender of `message` may run `command` as far as the access rules tell without
/// its arguments (what `!help` lists under `hide_restricted_commands`).
pub fn may_see(config: &Config, command: &Command, message: &Message, backend: &str) -> bool {
    if !config.access.hide_restricted_commands {
        return true;
    }
    let from = message.from.clone().unwrap_or_default();
    let inv = invocation(command, message, backend, None, is_admin(config, &from));
    check(&config.access, &inv).is_ok()
}

/// The invocation of `command` by the sender of `message`, which came from backend instance
/// `backend`; `args` as the rules see them (`None`: unknown, for help listings).
pub fn invocation<'a>(
    command: &'a Command,
    message: &'a Message,
    backend: &'a str,
    args: Option<&'a str>,
    sender_is_admin: bool,
) -> Invocation<'a> {
    let from = message.from.as_ref();
    let room = if message.direct {
        None
    } else {
        // The occupant's room, else the room the message was written to.
        let own = from.map(|f| f.room.as_str()).filter(|r| !r.is_empty());
        Some(own.unwrap_or_else(|| message.to.as_ref().map_or("", |t| t.room.as_str())))
    };
    Invocation {
        plugin: &command.plugin,
        command: &command.name,
        args,
        sender: from.map_or("", acl_of),
        sender_id: from.map_or("", id_of),
        room,
        backend,
        admin_only: command.spec.admin_only,
        sender_is_admin,
    }
}

/// Whether rule `rule` is for `plugin:command` arriving from `backend`.
pub fn rule_matches(rule: &Rule, plugin: &str, command: &str, backend: &str) -> bool {
    let Some(key) = rule.command.as_deref() else {
        return false;
    };
    let key = key.trim().replace(' ', "_").to_lowercase();
    let pattern = if key.contains(':') {
        key
    } else {
        format!("*:{key}")
    };
    let subject = format!("{plugin}:{command}").to_lowercase();
    crate::glob::matches(&pattern, &subject)
        && rule.backends.as_ref().is_none_or(|b| b.matches(backend))
}

/// The rule in force for an invocation: the first matching rule merged over the defaults, or
/// the defaults alone.
pub fn effective(settings: &AccessSettings, plugin: &str, command: &str, backend: &str) -> Rule {
    settings
        .rules
        .iter()
        .map(|r| r.get_ref())
        .find(|r| rule_matches(r, plugin, command, backend))
        .map_or_else(|| settings.default.clone(), |r| r.over(&settings.default))
}

/// Checks an invocation against the rules; `Err` names the first check that failed.
pub fn check(settings: &AccessSettings, inv: &Invocation<'_>) -> Result<(), Denial> {
    let acl = effective(settings, inv.plugin, inv.command, inv.backend);
    check_rule(&acl, inv)
}

/// Checks an invocation against one (already merged) rule.
pub fn check_rule(acl: &Rule, inv: &Invocation<'_>) -> Result<(), Denial> {
    if let Some(args) = inv.args {
        if acl.allowargs.as_ref().is_some_and(|p| !p.matches(args)) {
            return Err(Denial::Arguments);
        }
        if acl.denyargs.as_ref().is_some_and(|p| p.matches(args)) {
            return Err(Denial::Arguments);
        }
    }
    // The name or the id: allowed when either is listed, denied when either is.
    let names = |p: &Patterns| {
        p.matches(inv.sender) || (!inv.sender_id.is_empty() && p.matches(inv.sender_id))
    };
    if acl.allowusers.as_ref().is_some_and(|p| !names(p)) {
        return Err(Denial::User);
    }
    if acl.denyusers.as_ref().is_some_and(names) {
        return Err(Denial::User);
    }
    match inv.room {
        Some(room) => {
            if acl.allowmuc == Some(false) {
                return Err(Denial::Chatroom);
            }
            if acl.allowrooms.as_ref().is_some_and(|p| !p.matches(room)) {
                return Err(Denial::Room);
            }
            if acl.denyrooms.as_ref().is_some_and(|p| p.matches(room)) {
                return Err(Denial::Room);
            }
        }
        None => {
            if acl.allowprivate == Some(false) {
                return Err(Denial::Private);
            }
        }
    }
    if inv.admin_only {
        if !inv.sender_is_admin {
            return Err(Denial::AdminOnly);
        }
        if inv.room.is_some() && acl.allowmuc != Some(true) {
            return Err(Denial::DirectOnly);
        }
    }
    Ok(())
}
