//! Opening an authenticated XMPP stream: TCP, then STARTTLS (or TLS from the first byte, or
//! none on loopback), with the gateway's rustls configuration on ring (`crate::tls`), then SASL
//! (SCRAM-SHA-256, SCRAM-SHA-1 or PLAIN, the best both sides know, tokio-xmpp's `client_login`)
//! and the stream restart. Resource binding, stream management and keepalive are the stanza
//! stream's (tokio-xmpp's `StanzaStream`), which takes the [`Connection`] made here.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use sasl::common::{ChannelBinding, Credentials};
use tokio::io::{AsyncRead, AsyncWrite, BufStream};
use tokio::net::TcpStream;
use tokio_xmpp::stanzastream::Connection;
use tokio_xmpp::xmlstream::{
    ReadError, StreamHeader, Timeouts, XmppStream, XmppStreamElement, initiate_stream,
};
use xmpp_parsers::starttls;

use super::settings::{Security, Settings};

/// How long connecting, TLS and authentication may take together.
const LOGIN_TIMEOUT: Duration = Duration::from_secs(30);

/// A byte stream: TCP, or TLS over TCP.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

type Boxed = BufStream<Pin<Box<dyn Io>>>;

/// The stanza stream's timeouts from the keepalive setting: silence for `keepalive` makes it
/// ask the server (a stream management request, else an XEP-0199 ping); no answer within the
/// same time again ends the connection.
pub fn timeouts(keepalive: Duration) -> Timeouts {
    Timeouts {
        read_timeout: keepalive,
        response_timeout: keepalive,
    }
}

/// Connects, secures and authenticates; the stream is ready for resource binding.
pub async fn login(
    settings: &Settings,
    tls: &Arc<rustls::ClientConfig>,
) -> Result<Connection, String> {
    match tokio::time::timeout(LOGIN_TIMEOUT, login_now(settings, tls)).await {
        Ok(result) => result,
        Err(_) => Err(format!(
            "the server did not complete the login within {} s",
            LOGIN_TIMEOUT.as_secs()
        )),
    }
}

async fn login_now(
    settings: &Settings,
    tls: &Arc<rustls::ClientConfig>,
) -> Result<Connection, String> {
    let timeouts = timeouts(settings.keepalive);
    let domain = settings.jid.domain().as_str();
    let tcp = TcpStream::connect((settings.server.as_str(), settings.port))
        .await
        .map_err(|e| {
            format!(
                "cannot connect to {}:{}: {e}",
                settings.server, settings.port
            )
        })?;
    let _ = tcp.set_nodelay(true);
    let io: Pin<Box<dyn Io>> = match settings.security {
        Security::None => Box::pin(tcp),
        Security::Direct => Box::pin(handshake(tcp, domain, tls).await?),
        Security::StartTls => {
            let stream = initiate_stream(
                BufStream::new(tcp),
                tokio_xmpp::parsers::ns::JABBER_CLIENT,
                header(domain),
                timeouts,
            )
            .await
            .map_err(|e| format!("stream set-up failed: {e}"))?;
            let (features, stream): (_, XmppStream<BufStream<TcpStream>>) = stream
                .recv_features()
                .await
                .map_err(|e| format!("stream set-up failed: {e}"))?;
            if !features.can_starttls() {
                return Err(
                    "the server does not offer STARTTLS (tls = \"direct\" or, on loopback only, \"none\")"
                        .into(),
                );
            }
            let tcp = starttls_proceed(stream).await?;
            Box::pin(handshake(tcp, domain, tls).await?)
        }
    };
    let stream = initiate_stream(
        BufStream::new(io),
        tokio_xmpp::parsers::ns::JABBER_CLIENT,
        header(domain),
        timeouts,
    )
    .await
    .map_err(|e| format!("stream set-up failed: {e}"))?;
    let (features, stream): (_, XmppStream<Boxed>) = stream
        .recv_features()
        .await
        .map_err(|e| format!("stream set-up failed: {e}"))?;
    let offered = features.sasl_mechanisms.clone();
    let usable: BTreeSet<String> = offered
        .iter()
        .filter(|m| {
            super::settings::MECHANISMS.contains(&m.as_str())
                && (settings.sasl_mechanisms.is_empty() || settings.sasl_mechanisms.contains(m))
        })
        .cloned()
        .collect();
    if usable.is_empty() {
        return Err(format!(
            "no SASL mechanism in common: the server offers {}",
            offered.iter().cloned().collect::<Vec<_>>().join(", ")
        ));
    }
    let username = settings
        .jid
        .node()
        .map(|n| n.to_string())
        .unwrap_or_default();
    let credentials = Credentials::default()
        .with_username(username)
        .with_password(settings.password.clone())
        .with_channel_binding(ChannelBinding::None);
    let stream = tokio_xmpp::client_login(stream, usable, credentials)
        .await
        .map_err(|e| format!("login as {} failed: {e}", settings.jid.to_bare()))?;
    let stream = stream
        .send_header(header(domain))
        .await
        .map_err(|e| format!("stream restart failed: {e}"))?;
    let (features, stream): (_, XmppStream<Boxed>) = stream
        .recv_features()
        .await
        .map_err(|e| format!("stream restart failed: {e}"))?;
    Ok(Connection {
        stream: stream.box_stream(),
        features,
        identity: settings.jid.clone(),
    })
}

fn header(domain: &str) -> StreamHeader<'_> {
    StreamHeader {
        to: Some(Cow::Borrowed(domain)),
        from: None,
        id: None,
    }
}

/// Asks for TLS and waits for the server's `<proceed/>`; returns the bare TCP stream.
async fn starttls_proceed(
    mut stream: XmppStream<BufStream<TcpStream>>,
) -> Result<TcpStream, String> {
    stream
        .send(&XmppStreamElement::Starttls(starttls::Nonza::Request(
            starttls::Request,
        )))
        .await
        .map_err(|e| format!("STARTTLS failed: {e}"))?;
    loop {
        match stream
            .next()
            .await
            .map(|r| r.and_then(|e| e.into_read_error()))
        {
            Some(Ok(XmppStreamElement::Starttls(starttls::Nonza::Proceed(_)))) => break,
            Some(Ok(XmppStreamElement::Starttls(starttls::Nonza::Failure(_)))) => {
                return Err("the server refused STARTTLS".into());
            }
            Some(Ok(_)) | Some(Err(ReadError::SoftTimeout)) => {}
            Some(Err(ReadError::HardError(e))) => return Err(format!("STARTTLS failed: {e}")),
            Some(Err(ReadError::ParseError(e))) => return Err(format!("STARTTLS failed: {e}")),
            Some(Err(ReadError::StreamFooterReceived)) | None => {
                return Err("the server closed the stream during STARTTLS".into());
            }
        }
    }
    Ok(stream.into_inner().into_inner())
}

/// The TLS handshake, checking the certificate against the JID's domain.
async fn handshake(
    tcp: TcpStream,
    domain: &str,
    tls: &Arc<rustls::ClientConfig>,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, String> {
    let name = rustls::pki_types::ServerName::try_from(domain.to_owned())
        .map_err(|e| format!("{domain:?} cannot be checked against a certificate: {e}"))?;
    tokio_rustls::TlsConnector::from(tls.clone())
        .connect(name, tcp)
        .await
        .map_err(|e| {
            format!(
                "TLS handshake with {domain} failed: {}",
                crate::adapters::error_chain(&e)
            )
        })
}
