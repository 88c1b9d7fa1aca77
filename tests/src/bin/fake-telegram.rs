//! The tests' fake Telegram Bot API as a program, for clients in other languages
//! (python-telegram-bot, Errbot's Telegram backend): it prints one line of JSON (its base URL,
//! the bot's token, the people and chats) and serves until killed.

use errbot_tests::telegram::{
    ALICE, BOB, BOT_ID, BOT_TOKEN, BOT_USERNAME, CAROL, FORUM, Fake, GROUP, TOPIC,
};

#[tokio::main]
async fn main() {
    if std::env::args().len() > 1 {
        eprintln!("usage: fake-telegram");
        std::process::exit(2);
    }
    let fake = Fake::start().await;
    println!(
        "{}",
        serde_json::json!({
            "url": fake.url(),
            "token": BOT_TOKEN,
            "bot": {"id": BOT_ID, "username": BOT_USERNAME},
            "users": {"alice": ALICE, "bob": BOB, "carol": CAROL},
            "chats": {"group": GROUP, "forum": FORUM, "topic": TOPIC},
        })
    );
    let _ = tokio::signal::ctrl_c().await;
}
