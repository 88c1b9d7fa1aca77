//! errbotd, the errbot-rs supervisor, and the library behind errbotctl.
//!
//! Code map (see ARCHITECTURE.md for the invariants):
//! - [`config`]: errbot.toml and its embedded defaults.
//! - [`backend_check`]: backend settings checked by errbot-gateway, errors at their key's line.
//! - [`manifest`]: finding plugins on disk (plugin.toml).
//! - [`child`]: starting, watching and stopping child processes under the child contract.
//! - [`cmdfilter`]: command filters served by plugins.
//! - [`python_env`]: virtualenvs for Python plugins.
//! - [`build`]: building a plugin before it starts (plugin.toml's `build`).
//! - [`daemon`]: start-up and shut-down of the whole tree.
//! - [`supervise`]: plugin and gateway slots: restarts, health, reload, activate/deactivate.
//! - [`systemd`]: readiness, status and watchdog notifications.
//! - [`bot`]: the running bot's shared state.
//! - [`pipeline`]: the path of work: route -> authorize -> execute -> deliver, and callbacks.
//! - [`dispatch`]: what a message asks for (prefixes, commands, arguments, history).
//! - [`registry`]: the command table.
//! - [`builtins`]: commands built into errbotd.
//! - [`lifecycle`]: plugins waiting for a configuration; configuring, blacklisting and
//!   unblacklisting at run time.
//! - [`plugin_config`]: where a plugin's configuration comes from; its shape against the template.
//! - [`storage`]: persistent storage (SQLite or PostgreSQL), backups, errbotd's core state.
//! - [`services`]: BotService, and sending as the bot.
//! - [`pollers`]: plugins' pollers, scheduled by errbotd (Errbot's start_poller).
//! - [`notify`]: warnings for the admins (`[bot] admin_notifications`).
//! - [`control`]: ControlService (errbotctl) and the control socket's peer check.
//! - [`reload`]: reading errbot.toml again at run time (SIGHUP, `errbotctl reload-config`).
//! - [`logring`]: the recent log lines, for `errbotctl logs` and `!log tail`.
//! - [`split`]: splitting long replies.
//! - [`templates`]: plugins' Jinja2 templates, rendered into Markdown.
//! - [`acl`]: access control rules (Errbot's ACCESS_CONTROLS).
//! - [`glob`]: glob patterns for admins and ACLs.
//! - [`init`]: `errbotd init`.
//! - [`clock`]: calendar dates for messages and backups.

pub mod acl;
pub mod backend_check;
pub mod bot;
pub mod build;
pub mod builtins;
pub mod child;
pub mod clock;
pub mod cmdfilter;
pub mod config;
pub mod control;
pub mod daemon;
pub mod dispatch;
pub mod flows;
pub mod glob;
pub mod init;
pub mod lifecycle;
pub mod logring;
pub mod manifest;
pub mod notify;
pub mod pipeline;
pub mod plugin_config;
pub mod pollers;
pub mod pyliteral;
pub mod python_env;
pub mod registry;
pub mod reload;
pub mod repos;
pub mod services;
pub mod split;
pub mod storage;
pub mod supervise;
pub mod systemd;
pub mod telemetry;
pub mod templates;
pub mod web;
