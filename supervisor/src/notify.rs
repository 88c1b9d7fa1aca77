//! Warnings for the admins (Errbot's warn_admins and BOT_ADMINS_NOTIFICATIONS): errbotd's own
//! (a plugin or backend that failed, start-up problems), queued with [`crate::bot::Bot::alert`]
//! and delivered by [`run`], and those plugins send through `BotService.WarnAdmins`.
//!
//! They go to `[bot] admin_notifications`, by default the admins that are not patterns. A
//! warning that reaches nobody is logged with its text: never a silent skip.

use std::sync::Arc;

use errbot_proto::v1::{BuildIdentifierRequest, Content, content};
use tokio::sync::mpsc;

use crate::bot::{Bot, read};
use crate::supervise::gateway::Outcome;

/// Delivers the queued warnings, one after the other, until errbotd stops.
pub async fn run(bot: Arc<Bot>, mut alerts: mpsc::UnboundedReceiver<String>) {
    while let Some(text) = alerts.recv().await {
        warn_admins(&bot, &text).await;
    }
}

/// Sends `text` to every notification target, on every backend that can name it (or the one a
/// target names); returns how many messages went out.
pub async fn warn_admins(bot: &Bot, text: &str) -> usize {
    let config = bot.config();
    let targets = config.bot.notification_targets();
    let gateways: Vec<_> = read(&bot.gateways).clone();
    let limit = config.bot.message_size_limit;
    let mut reached = 0;
    for target in &targets {
        let (only, person) = target.parts();
        if let Some(name) = only
            && !gateways.iter().any(|g| g.name == name)
        {
            tracing::warn!("admin notification target {person:?}: no backend named {name:?}");
            continue;
        }
        for gateway in gateways
            .iter()
            .filter(|g| only.is_none_or(|name| g.name == name))
        {
            let link = match gateway.link().await {
                Ok(link) => link,
                Err(e) => {
                    tracing::warn!(backend = %gateway.name, "warning {person} failed: {}", e.message());
                    continue;
                }
            };
            let req = BuildIdentifierRequest {
                text: person.to_owned(),
            };
            let to = match link.client.clone().build_identifier(req).await {
                Ok(to) => to.into_inner(),
                Err(e) => {
                    // Tried on every backend: one that cannot name the person says why.
                    let level_warn = only.is_some();
                    if level_warn {
                        tracing::warn!(backend = %gateway.name, "warning {person} failed: {}", e.message());
                    } else {
                        tracing::debug!(backend = %gateway.name, "cannot warn {person} there: {}", e.message());
                    }
                    continue;
                }
            };
            let content = Content {
                kind: Some(content::Kind::Markdown(text.to_owned())),
            };
            match gateway
                .deliver(limit, &to, content, ("", ""), Outcome::Wait)
                .await
            {
                Ok(_) => reached += 1,
                Err(e) => {
                    tracing::warn!(backend = %gateway.name, "warning {person} failed: {}", e.message());
                }
            }
        }
    }
    if reached == 0 {
        tracing::warn!(
            "a warning for the admins reached nobody (set bot.admin_notifications): {text}"
        );
    }
    reached
}
