//! The fake Slack's fidelity: Slack's official Python SDK (slack_sdk from PyPI, in a virtualenv
//! beside the test binaries) talks to it as it talks to Slack: WebClient calls with their
//! answers (`chat.postEphemeral` and its errors too), pagination, a lookup that fails as Slack's does, a 429; SignatureVerifier accepts
//! what the fake signs and refuses a changed body; SocketModeClient opens a connection,
//! receives an event and acknowledges it.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use errbot_tests::slack::{ALICE, APP_TOKEN, BOT_TOKEN, Fake, sign};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

const SLACK_SDK: &str = "slack_sdk==3.47.0";

const SCRIPT: &str = r#"
import json, os, threading
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.socket_mode import SocketModeClient
from slack_sdk.socket_mode.response import SocketModeResponse

api = os.environ["FAKE_API"] + "/"
web = WebClient(token=os.environ["BOT_TOKEN"], base_url=api)
out = {}
a = web.auth_test()
out["auth_user"] = a["user_id"]
out["scopes"] = a.headers.get("x-oauth-scopes", "")
out["posted_ts"] = web.chat_postMessage(channel="C0GENERAL", text="from slack_sdk")["ts"]
out["dm"] = web.conversations_open(users="U0ALICE")["channel"]["id"]
out["ephemeral_ts"] = web.chat_postEphemeral(
    channel="C0GENERAL", user="U0ALICE", text="only alice", thread_ts=out["posted_ts"])["message_ts"]
out["ephemeral_errors"] = []
for channel, user in [("C0RANDOM", "U0ALICE"), ("C0GENERAL", "U0NOBODY"), ("C0NOWHERE", "U0ALICE")]:
    try:
        web.chat_postEphemeral(channel=channel, user=user, text="x")
        out["ephemeral_errors"].append("ok")
    except SlackApiError as e:
        out["ephemeral_errors"].append(e.response["error"])
out["alice"] = web.users_info(user="U0ALICE")["user"]["profile"]["display_name"]
try:
    web.users_info(user="B0DEPLOY")
    out["bot_as_user"] = "ok"
except SlackApiError as e:
    out["bot_as_user"] = e.response["error"]
out["bot_name"] = web.bots_info(bot="B0DEPLOY")["bot"]["name"]
names = []
for page in web.conversations_list(limit=1):
    names += [c["name"] for c in page["channels"]]
out["channels"] = names
try:
    web.users_list()
    out["limited"] = None
except SlackApiError as e:
    out["limited"] = [e.response.status_code, e.response["error"], e.response.headers.get("retry-after")]
v = SignatureVerifier(os.environ["SECRET"])
body, ts, sig = os.environ["SIGNED_BODY"], os.environ["SIGNED_TS"], os.environ["SIGNED_SIG"]
out["signature_ok"] = v.is_valid(body=body, timestamp=ts, signature=sig)
out["signature_changed_body"] = v.is_valid(body=body + " ", timestamp=ts, signature=sig)
got = threading.Event()
events = []
client = SocketModeClient(app_token=os.environ["APP_TOKEN"], web_client=WebClient(base_url=api))
def listener(client, req):
    client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
    if req.type == "events_api":
        events.append([req.payload["event"]["type"], req.payload["event"].get("text")])
        if req.payload["event"].get("text") == "hello slack_sdk":
            got.set()
client.socket_mode_request_listeners.append(listener)
client.connect()
print("CONNECTED", flush=True)
got.wait(30)
out["events"] = events
client.close()
print(json.dumps(out), flush=True)
"#;

/// A virtualenv with slack_sdk, made once beside the test binaries.
fn venv() -> PathBuf {
    let dir = errbot_tests::shared_venv_dir().join("slack-sdk");
    let python = dir.join("bin/python");
    let ready = std::process::Command::new(&python)
        .args(["-c", "import slack_sdk"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ready {
        let made = std::process::Command::new("python3")
            .args(["-m", "venv"])
            .arg(&dir)
            .status()
            .expect("run python3 -m venv");
        assert!(made.success(), "python3 -m venv failed");
        let pip = std::process::Command::new(dir.join("bin/pip"))
            .args([
                "install",
                "--quiet",
                "--disable-pip-version-check",
                SLACK_SDK,
            ])
            .status()
            .expect("run pip");
        assert!(pip.success(), "pip install {SLACK_SDK} failed");
    }
    python
}

#[tokio::test(flavor = "multi_thread")]
async fn slacks_python_sdk_talks_to_the_fake_as_to_slack() {
    let python = tokio::task::spawn_blocking(venv).await.expect("venv");
    let fake = Fake::start().await;
    fake.rate_limit("users.list", 1, 7);
    let dir = tempfile::tempdir().expect("temp dir");
    let script = dir.path().join("client.py");
    std::fs::write(&script, SCRIPT).expect("write the script");
    let secret = "8f742231b10e8888abcd99yyyzzz85a5";
    let body = r#"{"token":"t","type":"url_verification","challenge":"abc"}"#;
    let ts = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
        .to_string();
    let mut child = tokio::process::Command::new(python)
        .arg(&script)
        .env("FAKE_API", fake.api_url())
        .env("BOT_TOKEN", BOT_TOKEN)
        .env("APP_TOKEN", APP_TOKEN)
        .env("SECRET", secret)
        .env("SIGNED_BODY", body)
        .env("SIGNED_SIG", sign(secret, &ts, body.as_bytes()))
        .env("SIGNED_TS", &ts)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("run the slack_sdk client");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut next = async || {
        tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .expect("the client answers in time")
            .expect("read the client")
            .expect("a line")
    };
    assert_eq!(next().await, "CONNECTED");
    fake.wait_until(Duration::from_secs(20), |f| f.connections() == 1)
        .await;
    fake.say(ALICE, "C0GENERAL", "hello slack_sdk", "");
    let out: Value = serde_json::from_str(&next().await).expect("JSON from the client");
    let status = child.wait().await.expect("the client exits");
    assert!(status.success());

    assert_eq!(out["auth_user"], "U0ERRBOT");
    assert!(
        out["scopes"]
            .as_str()
            .is_some_and(|s| s.contains("chat:write")),
        "{out}"
    );
    assert!(
        out["posted_ts"].as_str().is_some_and(|t| t.contains('.')),
        "{out}"
    );
    assert!(
        out["dm"].as_str().is_some_and(|d| d.starts_with('D')),
        "{out}"
    );
    assert!(
        out["ephemeral_ts"]
            .as_str()
            .is_some_and(|t| t.contains('.')),
        "{out}"
    );
    assert_eq!(
        out["ephemeral_errors"],
        serde_json::json!(["not_in_channel", "user_not_found", "channel_not_found"])
    );
    let ephemeral = fake.ephemerals();
    assert_eq!(ephemeral.len(), 1, "{ephemeral:?}");
    assert_eq!(ephemeral[0]["user"], ALICE);
    assert_eq!(ephemeral[0]["thread_ts"], out["posted_ts"]);
    assert_eq!(out["alice"], "Alice");
    assert_eq!(out["bot_as_user"], "user_not_found");
    assert_eq!(out["bot_name"], "deploybot");
    assert_eq!(
        out["channels"],
        serde_json::json!(["general", "random", "secret"])
    );
    assert_eq!(out["limited"], serde_json::json!([429, "ratelimited", "7"]));
    assert_eq!(out["signature_ok"], true);
    assert_eq!(out["signature_changed_body"], false);
    // The bot's own message, which waited for a connection, then alice's.
    assert_eq!(
        out["events"],
        serde_json::json!([
            ["message", "from slack_sdk"],
            ["message", "hello slack_sdk"]
        ])
    );
    assert_eq!(fake.count("from slack_sdk"), 1);
    fake.wait_until(Duration::from_secs(5), |f| f.acks().0 >= 1)
        .await;
}
