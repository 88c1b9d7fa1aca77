//! Errbot's Webserver plugin, as errbotd's web server takes its place: the configuration Errbot's
//! users give it from the chat (`!plugin config Webserver {'HOST': '0.0.0.0', 'PORT': 3141,
//! 'SSL': {...}}`), stored where Errbot stores it (the core namespace's `configs`, under
//! `Webserver`), and its test webhook `/echo`.
//!
//! `[web]` in errbot.toml wins, as a plugin's `[plugins.NAME] config` does: with it, the chat
//! configuration is refused with a pointer to the file. Without it, the stored configuration
//! starts the web server with errbotd, and `!plugin config Webserver` starts it again on the new
//! address at once (the other `[web]` settings keep their defaults). With SSL enabled the server
//! speaks HTTPS on the SSL port instead of HTTP on `PORT`, as Errbot's does.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::bot::Bot;
use crate::config::WebSettings;
use crate::plugin_config;

/// The name the configuration goes by: Errbot's Webserver plugin.
pub const NAME: &str = "Webserver";

/// The rule of the test webhook, as `!webstatus` lists it.
pub const ECHO_RULE: &str = "/echo";

/// Whether `path` is the test webhook's (`/echo`, `/echo/`).
pub fn is_echo(path: &str) -> bool {
    path == ECHO_RULE || path == "/echo/"
}

/// Errbot's Webserver configuration template.
pub fn template() -> Value {
    json!({
        "HOST": "0.0.0.0",
        "PORT": 3141,
        "SSL": {"enabled": false, "host": "0.0.0.0", "port": 3142, "certificate": "", "key": ""},
    })
}

/// `config` completed as Errbot's Webserver completes it (no `SSL`, or `None`: SSL off; an SSL
/// without some keys: those of the template) and checked against the template.
pub fn normalize(config: &Value) -> Result<Value, String> {
    let template = template();
    let Value::Object(given) = config else {
        return Err("the configuration is a dict: {'HOST': ..., 'PORT': ..., 'SSL': ...}".into());
    };
    let mut config = given.clone();
    let ssl_template = template["SSL"].as_object().cloned().unwrap_or_default();
    match config.get_mut("SSL") {
        None | Some(Value::Null) => {
            config.insert("SSL".into(), Value::Object(ssl_template));
        }
        Some(Value::Object(ssl)) => {
            for (key, value) in ssl_template {
                ssl.entry(key).or_insert(value);
            }
        }
        Some(_) => {}
    }
    let config = Value::Object(config);
    plugin_config::check_shape(&template, &config)?;
    Ok(config)
}

/// The web server's settings for a (normalized) Webserver configuration: `[web]`'s defaults,
/// listening on `HOST:PORT`, or on `HOST:SSL.port` with the SSL certificate and key when SSL is
/// enabled. `localhost` is 127.0.0.1.
pub fn settings_of(config: &Value) -> Result<WebSettings, String> {
    let config = normalize(config)?;
    let host = config["HOST"].as_str().unwrap_or_default();
    let ssl = &config["SSL"];
    let enabled = ssl["enabled"].as_bool().unwrap_or(false);
    let port = if enabled {
        &ssl["port"]
    } else {
        &config["PORT"]
    };
    let port = port
        .as_u64()
        .and_then(|p| u16::try_from(p).ok())
        .ok_or_else(|| format!("{port} is not a port (0 to 65535)"))?;
    let host = match host {
        "" => return Err("HOST is empty: give the address to listen on ('0.0.0.0': all)".into()),
        "localhost" => "127.0.0.1",
        h => h,
    };
    let listen = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let mut settings = WebSettings {
        listen,
        ..WebSettings::default()
    };
    if enabled {
        let file = |key: &str| {
            ssl[key]
                .as_str()
                .filter(|f| !f.is_empty())
                .map(std::path::PathBuf::from)
                .ok_or_else(|| {
                    format!(
                        "SSL is enabled but its {key} is not given (`!generate certificate` makes \
                         a certificate and its key)"
                    )
                })
        };
        settings.tls_cert_file = Some(file("certificate")?);
        settings.tls_key_file = Some(file("key")?);
    }
    Ok(settings)
}

/// The web server's settings at errbotd's start: `[web]`, else the stored Webserver
/// configuration; `None`: off. A stored configuration that no longer holds is reported to the
/// admins and leaves the server off.
pub fn at_start(bot: &Bot) -> Option<WebSettings> {
    if let Some(web) = &bot.config().web {
        return Some(web.clone());
    }
    let stored = bot.storage.stored_config(NAME)?;
    match settings_of(&stored) {
        Ok(settings) => Some(settings),
        Err(why) => {
            bot.alert(format!(
                "The web server is off: its configuration (`{}plugin config {NAME}`) is wrong: \
                 {why}.",
                bot.prefix()
            ));
            None
        }
    }
}

/// The file that configures the web server, when `[web]` is there.
fn fixed_by(bot: &Bot) -> Option<String> {
    let config = bot.config();
    config.web.as_ref()?;
    Some(format!("`[web]` in {}", config.file_to_edit()))
}

/// `!plugin config Webserver [CONFIG]`: shows the template and the configuration in force, or
/// starts the web server with `text` and stores it. The configuration is stored only once the
/// server listens with it; a server that cannot start with it keeps running as it was.
pub async fn configure(bot: &Arc<Bot>, text: &str) -> String {
    let prefix = bot.prefix();
    if text.trim().is_empty() {
        let mut out = plugin_config::template_text(&prefix, NAME, &template());
        if let Some(place) = fixed_by(bot) {
            out.push_str(&format!("\n\nThe web server is set by {place}."));
        } else if let Some(current) = bot.storage.stored_config(NAME) {
            out.push_str(&plugin_config::current_text(&prefix, NAME, &current));
        }
        return out;
    }
    if let Some(place) = fixed_by(bot) {
        return format!("The web server is set by {place}; change it there and restart the bot.");
    }
    let config = match plugin_config::parse_text(text).and_then(|c| {
        normalize(&c).map_err(|why| format!("Incorrect plugin configuration: {why}."))
    }) {
        Ok(config) => config,
        Err(why) => return why,
    };
    let settings = match settings_of(&config) {
        Ok(settings) => settings,
        Err(why) => return format!("Incorrect plugin configuration: {why}."),
    };
    let _changes = bot.plugin_changes.lock().await;
    let previous = bot.web.settings();
    let addr = match bot.web.serve(bot.clone(), settings.clone()).await {
        Ok(addr) => addr,
        Err(e) => {
            let mut out = format!("The web server cannot start with this configuration: {e:#}.");
            if let Some(previous) = previous {
                out.push_str(&match bot.web.serve(bot.clone(), previous.clone()).await {
                    Ok(_) => format!(" It still listens on {}.", previous.listen),
                    Err(e) => format!(" It is off: it could not start again as it was: {e:#}."),
                });
            }
            return out;
        }
    };
    let scheme = if settings.tls_cert_file.is_some() {
        "https"
    } else {
        "http"
    };
    match bot.storage.set_config(NAME, Some(config)).await {
        Ok(()) => {
            format!("Plugin configuration done.\nThe web server listens on {scheme}://{addr}.")
        }
        Err(e) => format!(
            "The web server listens on {scheme}://{addr}, but its configuration could not be \
             stored ({e}): it will not be used after a restart."
        ),
    }
}

/// The configuration that serves HTTPS with `certificate` and `key`, from the one in force
/// (Errbot's suggestion after `!generate certificate`: SSL on `PORT + 1`).
pub fn with_tls(bot: &Bot, certificate: &str, key: &str) -> Value {
    let mut config = bot
        .storage
        .stored_config(NAME)
        .and_then(|c| normalize(&c).ok())
        .unwrap_or_else(template);
    let host = config["HOST"].clone();
    let port = config["PORT"].as_u64().map_or(3142, |p| p + 1);
    config["SSL"] = json!({
        "enabled": true, "host": host, "port": port, "certificate": certificate, "key": key,
    });
    config
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errbots_configurations_become_settings() {
        let plain =
            settings_of(&json!({"HOST": "localhost", "PORT": 5000, "SSL": null})).expect("plain");
        assert_eq!(plain.listen, "127.0.0.1:5000");
        assert_eq!(plain.tls_cert_file, None);
        let partial_ssl = json!({"HOST": "::1", "PORT": 5000, "SSL": {"enabled": false}});
        assert_eq!(settings_of(&partial_ssl).expect("ssl").listen, "[::1]:5000");
        let tls = settings_of(&json!({"HOST": "0.0.0.0", "PORT": 5000, "SSL": {
            "enabled": true, "host": "0.0.0.0", "port": 6000, "certificate": "c.pem",
            "key": "k.pem"}}))
        .expect("tls");
        assert_eq!(tls.listen, "0.0.0.0:6000");
        assert_eq!(
            tls.tls_key_file.as_deref(),
            Some(std::path::Path::new("k.pem"))
        );
    }

    #[test]
    fn wrong_configurations_say_why() {
        let no_files = json!({"HOST": "h", "PORT": 1, "SSL": {"enabled": true}});
        assert!(
            settings_of(&no_files)
                .unwrap_err()
                .contains("certificate is not given")
        );
        let bad_port = json!({"HOST": "h", "PORT": 70000});
        assert!(settings_of(&bad_port).unwrap_err().contains("not a port"));
        let missing = json!({"HOST": "h"});
        assert!(
            settings_of(&missing)
                .unwrap_err()
                .contains("doesn't contain the key PORT")
        );
        assert!(settings_of(&json!([1])).is_err());
    }

    #[test]
    fn the_echo_path() {
        assert!(is_echo("/echo") && is_echo("/echo/"));
        assert!(!is_echo("/echo/x") && !is_echo("/echoes"));
    }
}
