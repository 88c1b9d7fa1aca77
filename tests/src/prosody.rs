//! A private prosody (the XMPP server from Debian) for the XMPP end-to-end tests: its
//! configuration, data and log in a temporary directory, listening on a free 127.0.0.1 port,
//! with a multi-user chat component (`conference.localhost`), stream management (XEP-0198,
//! on the plain server) and accounts registered with `prosodyctl`. Plain, or with TLS (STARTTLS offered, and direct TLS on a port of its own)
//! under a certificate for `localhost` made by openssl.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const PROSODY: &str = "/usr/bin/prosody";
const PROSODYCTL: &str = "/usr/bin/prosodyctl";

/// The server's domain.
pub const DOMAIN: &str = "localhost";
/// Its multi-user chat service.
pub const MUC: &str = "conference.localhost";

/// A running prosody, stopped when dropped.
pub struct Prosody {
    dir: tempfile::TempDir,
    /// The client port (STARTTLS, required when started with TLS).
    pub port: u16,
    /// The direct TLS port, when started with TLS.
    pub tls_port: Option<u16>,
    process: Option<Child>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

impl Prosody {
    /// Starts a plain server, or returns `None` (after saying so loudly) when prosody is not
    /// installed and this is not CI. In CI a missing prosody fails the test.
    pub fn start() -> Option<Self> {
        Self::start_with(false)
    }

    /// Starts a server with TLS: STARTTLS offered on `port`, direct TLS on `tls_port`, with a
    /// certificate for `localhost` ([`Prosody::certificate`], for a client to trust); PLAIN
    /// authentication is offered over TLS only.
    pub fn start_tls() -> Option<Self> {
        Self::start_with(true)
    }

    fn start_with(tls: bool) -> Option<Self> {
        if !Path::new(PROSODY).is_file() {
            let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
            assert!(
                !ci,
                "{PROSODY} is missing: tests/run.sh installs it (apt-get install prosody)"
            );
            eprintln!(
                "\n*** SKIPPED: {PROSODY} is not installed; `apt-get install prosody` (or \
                 tests/run.sh) runs the XMPP end-to-end tests ***\n"
            );
            return None;
        }
        let dir = tempfile::Builder::new()
            .prefix("errbot-prosody")
            .tempdir()
            .expect("temp dir");
        let port = free_port();
        std::fs::create_dir(dir.path().join("data")).expect("data dir");
        std::fs::create_dir(dir.path().join("certs")).expect("certs dir");
        let d = dir.path().display();
        let mut tls_port = None;
        let security = if tls {
            crate::self_signed_certificate(dir.path());
            // Found by prosody under the host's name.
            std::fs::copy(
                dir.path().join("cert.pem"),
                dir.path().join("certs/localhost.crt"),
            )
            .expect("copy certificate");
            std::fs::copy(
                dir.path().join("key.pem"),
                dir.path().join("certs/localhost.key"),
            )
            .expect("copy key");
            let direct = free_port();
            tls_port = Some(direct);
            // Encryption is offered, not required, so that the tests' people may stay plain;
            // PLAIN is offered only over TLS, so a client restricted to PLAIN proves TLS.
            format!(
                "modules_enabled = {{ \"roster\"; \"saslauth\"; \"disco\"; \"ping\"; \"tls\" }}\n\
                 c2s_require_encryption = false\nallow_unencrypted_plain_auth = false\n\
                 c2s_direct_tls_ports = {{ {direct} }}\n"
            )
        } else {
            "modules_enabled = { \"roster\"; \"saslauth\"; \"disco\"; \"ping\"; \"smacks\" }\n\
             c2s_require_encryption = false\nallow_unencrypted_plain_auth = true\n"
                .to_owned()
        };
        let config = format!(
            "pidfile = \"{d}/prosody.pid\"\ndata_path = \"{d}/data\"\ncertificates = \"{d}/certs\"\n\
             run_as_root = true\ninterfaces = {{ \"127.0.0.1\" }}\nc2s_ports = {{ {port} }}\n\
             s2s_ports = {{ }}\nhttp_ports = {{ }}\nhttps_ports = {{ }}\n\
             authentication = \"internal_hashed\"\nmodules_disabled = {{ \"s2s\" }}\n{security}\
             log = {{ debug = \"{d}/prosody.log\" }}\n\
             VirtualHost \"{DOMAIN}\"\nComponent \"{MUC}\" \"muc\"\n"
        );
        std::fs::write(dir.path().join("prosody.cfg.lua"), config).expect("write prosody.cfg.lua");
        let mut server = Self {
            dir,
            port,
            tls_port,
            process: None,
        };
        server.spawn();
        Some(server)
    }

    /// The server's directory (configuration, data, log, certificate).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The certificate the TLS server presents (a client may be told to trust it).
    pub fn certificate(&self) -> PathBuf {
        self.dir.path().join("cert.pem")
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("prosody.cfg.lua")
    }

    /// Registers an account `user@localhost`.
    pub fn register(&self, user: &str, password: &str) {
        let out = Command::new(PROSODYCTL)
            .arg("--config")
            .arg(self.config())
            .args(["register", user, DOMAIN, password])
            .stdin(Stdio::null())
            .output()
            .expect("run prosodyctl");
        assert!(
            out.status.success(),
            "prosodyctl register {user}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Starts the server process (again, after [`Prosody::stop`]) and waits for its port.
    pub fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("prosody.out"))
            .expect("prosody output file");
        let child = Command::new(PROSODY)
            .arg("--config")
            .arg(self.config())
            .arg("-F")
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone().expect("log")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("start prosody");
        self.process = Some(child);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "prosody did not listen on {}:\n{}",
                self.port,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the server (SIGTERM, as a restart would), killing it if it lingers.
    pub fn stop(&mut self) {
        self.resume();
        if let Some(mut child) = self.process.take() {
            let pid = nix::unistd::Pid::from_raw(child.id() as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            let deadline = std::time::Instant::now() + Duration::from_secs(5);
            while child.try_wait().ok().flatten().is_none() {
                if std::time::Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }

    /// Freezes the server (SIGSTOP): its connections stay open and silent, as behind a network
    /// that stopped answering.
    pub fn pause(&self) {
        self.signal(nix::sys::signal::Signal::SIGSTOP);
    }

    /// Lets a frozen server go on (SIGCONT).
    pub fn resume(&self) {
        self.signal(nix::sys::signal::Signal::SIGCONT);
    }

    fn signal(&self, signal: nix::sys::signal::Signal) {
        if let Some(child) = &self.process {
            let pid = nix::unistd::Pid::from_raw(child.id() as i32);
            let _ = nix::sys::signal::kill(pid, signal);
        }
    }

    /// The server's log.
    pub fn log(&self) -> String {
        let read =
            |name: &str| std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
        format!("{}{}", read("prosody.out"), read("prosody.log"))
    }
}

impl Drop for Prosody {
    fn drop(&mut self) {
        self.stop();
        if std::thread::panicking() {
            let log = self.log();
            let lines: Vec<&str> = log.lines().collect();
            eprintln!(
                "---- prosody's log (last lines) ----\n{}",
                lines[lines.len().saturating_sub(150)..].join("\n")
            );
        }
    }
}
