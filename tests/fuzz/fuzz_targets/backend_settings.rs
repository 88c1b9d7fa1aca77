//! Backend settings as errbotd hands them to `errbot-gateway check` (a `[backends.NAME]` table
//! of errbot.toml as JSON), checked for every kind the gateway knows.
//!
//! Invariant: every problem says what is wrong.
#![no_main]

use errbot_gateway::adapters::{KINDS, check};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_slice::<serde_json::Value>(data)
    else {
        return;
    };
    for kind in KINDS {
        for problem in check(kind, &map) {
            assert!(
                !problem.message.is_empty(),
                "{kind}: a problem without a message"
            );
        }
    }
});
