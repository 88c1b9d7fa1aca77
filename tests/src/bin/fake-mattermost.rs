//! The tests' fake Mattermost server as a program, for clients in other languages
//! (mattermostdriver, Errbot's Mattermost backend): it prints one line of JSON (its URL, the
//! team, the bot's token and the users) and serves until killed. `--tls DIR` serves HTTPS
//! with a self-signed certificate written to DIR/cert.pem.

use errbot_tests::mattermost::{BOT_PASSWORD, BOT_TOKEN, Fake, TEAM};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let fake = match args.as_slice() {
        [] => Fake::start().await,
        [flag, dir] if flag == "--tls" => Fake::start_tls(std::path::Path::new(dir)).await,
        _ => {
            eprintln!("usage: fake-mattermost [--tls DIR]");
            std::process::exit(2);
        }
    };
    let users: Vec<serde_json::Value> = [&fake.bot, &fake.alice, &fake.bob]
        .iter()
        .map(|u| serde_json::json!({"id": u.id, "username": u.username}))
        .collect();
    println!(
        "{}",
        serde_json::json!({
            "url": fake.url(),
            "team": TEAM,
            "bot_token": BOT_TOKEN,
            "bot_password": BOT_PASSWORD,
            "users": users,
        })
    );
    let _ = tokio::signal::ctrl_c().await;
}
