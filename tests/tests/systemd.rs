//! End-to-end: errbotd under systemd's notify protocol (`Type=notify`, `WatchdogSec=`), with the
//! test playing systemd's side of the socket.

use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use errbot_tests::{Options, TestBot};

fn receive_until(socket: &UnixDatagram, within: Duration, want: &str) -> Vec<String> {
    let deadline = Instant::now() + within;
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        if let Ok(n) = socket.recv(&mut buf) {
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            let done = text.lines().any(|l| l == want);
            seen.push(text);
            if done {
                return seen;
            }
        }
    }
    panic!("no {want:?} within {within:?}; received {seen:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn readiness_status_watchdog_restart_and_stopping_are_notified() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&path).expect("bind notify socket");
    socket
        .set_read_timeout(Some(Duration::from_millis(100)))
        .expect("timeout");
    let mut bot = TestBot::start_with(Options {
        bundled: true,
        env: vec![
            ("NOTIFY_SOCKET".into(), path.display().to_string()),
            ("WATCHDOG_USEC".into(), "300000".into()),
        ],
        ..Default::default()
    })
    .await;
    // READY=1 comes with the status line, once the bot answers (TestBot::start saw an answer).
    let ready = receive_until(&socket, Duration::from_secs(5), "READY=1");
    let last = ready.last().expect("a notification");
    assert!(
        last.contains("STATUS=2 plugins running; backends: test running"),
        "{last}"
    );
    // Pings at half the watchdog period, repeatedly.
    for _ in 0..3 {
        receive_until(&socket, Duration::from_secs(2), "WATCHDOG=1");
    }
    // The status follows the children.
    assert_eq!(
        bot.say_as("admin", "", "!plugin deactivate hello").await,
        ["Plugin hello deactivated."]
    );
    let status = receive_until(
        &socket,
        Duration::from_secs(5),
        "STATUS=1 plugins running, 1 deactivated; backends: test running",
    );
    assert!(!status.is_empty());
    // `!restart`: a reload for systemd (same pid), ended by the new image's READY=1.
    let restarting = bot.inject_and_watch("admin", "", "!restart").await;
    assert_eq!(
        restarting.text,
        "Deactivating all the plugins and restarting..."
    );
    let reload = receive_until(&socket, Duration::from_secs(10), "RELOADING=1");
    assert!(
        !reload.iter().any(|n| n.contains("STOPPING=1")),
        "{reload:?}"
    );
    receive_until(&socket, Duration::from_secs(30), "READY=1");
    bot.wait_answering().await;
    let pid = bot.process.id();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("SIGTERM");
    receive_until(&socket, Duration::from_secs(5), "STOPPING=1");
    assert_eq!(bot.stop(), Some(0));
}
