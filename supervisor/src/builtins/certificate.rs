//! `!generate certificate [NAME ...]` (admins; Errbot's Webserver command): a self-signed
//! certificate and its key for the web server's HTTPS, written into the data directory
//! (`webserver_certificate.pem`, `webserver_key.pem`, as Errbot names them), with the
//! configuration that uses them (`!plugin config Webserver`, or the `[web]` lines when errbot.toml
//! configures the web server). Its messages are Errbot's, one by one.

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;

use crate::bot::Bot;
use crate::pipeline::deliver::ReplySink;
use crate::web::webserver;

/// The certificate's file in the data directory.
pub const CERTIFICATE_FILE: &str = "webserver_certificate.pem";
/// The private key's file in the data directory (mode 0600).
pub const KEY_FILE: &str = "webserver_key.pem";

/// Makes the certificate for `localhost`, 127.0.0.1, the web server's host and the names in
/// `args`, valid for ten years, and says where it is and how to use it.
pub async fn generate(bot: &Bot, sink: &ReplySink, args: &str) -> Result<(), String> {
    let config = bot.config();
    let mut names: Vec<String> = vec!["localhost".into(), "127.0.0.1".into()];
    if let Some(web) = bot.web.settings().or_else(|| config.web.clone())
        && let Some((host, _port)) = web.listen.rsplit_once(':')
    {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if !["0.0.0.0", "::", ""].contains(&host) {
            names.push(host.to_owned());
        }
    }
    names.extend(args.split_whitespace().map(str::to_owned));
    let mut seen = std::collections::HashSet::new();
    names.retain(|n| seen.insert(n.clone()));
    sink.send_text(
        &format!(
            "Generating a new private key and certificate for {}.",
            names.join(", ")
        ),
        false,
    )
    .await;

    let mut params = rcgen::CertificateParams::new(names.clone())
        .map_err(|e| format!("cannot make a certificate for {names:?}: {e}"))?;
    let year = this_year();
    params.not_before = rcgen::date_time_ymd(year - 1, 1, 1);
    params.not_after = rcgen::date_time_ymd(year + 10, 1, 1);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, names[0].clone());
    let key = rcgen::KeyPair::generate().map_err(|e| format!("cannot make a key: {e}"))?;
    let cert = params
        .self_signed(&key)
        .map_err(|e| format!("cannot sign the certificate: {e}"))?;

    let dir = config.data_dir();
    let cert_path = dir.join(CERTIFICATE_FILE);
    let key_path = dir.join(KEY_FILE);
    write_file(&key_path, &key.serialize_pem(), 0o600)?;
    write_file(&cert_path, &cert.pem(), 0o644)?;
    let (cert_path, key_path) = (
        cert_path.display().to_string(),
        key_path.display().to_string(),
    );
    let how = if config.web.is_some() {
        format!(
            "Add to `[web]` in errbot.toml, then `{}restart`:\n```\ntls_cert_file = {cert_path:?}\n\
             tls_key_file = {key_path:?}\n```",
            bot.prefix()
        )
    } else {
        format!(
            "```\n{}plugin config {} {}\n```",
            bot.prefix(),
            webserver::NAME,
            webserver::with_tls(bot, &cert_path, &key_path)
        )
    };
    for text in [
        format!(
            "Certificate successfully generated and saved in {} (self-signed, valid until {}).",
            dir.display(),
            year + 10
        ),
        "To enable SSL with this certificate, the following config is recommended:".to_owned(),
        how,
    ] {
        sink.send_text(&text, false).await;
    }
    Ok(())
}

/// The current year (UTC; on the 31st of December it may already say the next one, which the
/// validity's margins absorb).
fn this_year() -> i32 {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    // The mean Gregorian year.
    1970 + i32::try_from(secs / 31_556_952).unwrap_or(0)
}

/// Writes `text` to `path` with `mode`, through a temporary file renamed into place.
fn write_file(path: &Path, text: &str, mode: u32) -> Result<(), String> {
    let tmp = path.with_extension("pem.tmp");
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)
        .and_then(|mut f| {
            f.write_all(text.as_bytes())?;
            f.sync_all()
        })
        .and_then(|()| std::fs::rename(&tmp, path));
    written.map_err(|e| format!("cannot write {}: {e}", path.display()))
}
