//! Storage keys, namespaces and JSON values as plugins send them, and backup documents as
//! `errbotctl restore` reads them.
//!
//! Invariants: a value that passes `check_value` is stored trimmed of JSON whitespace only and
//! still passes (and parses as the same JSON); a backup document that decodes encodes into one that decodes to the same namespaces
//! and counts (a restore of a backup reproduces every value byte for byte).
#![no_main]

use errbotd::storage::{backup, check_key, check_namespace, check_value};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if check_key(text).is_ok() {
        assert!(!text.is_empty() && !text.contains('\0'));
    }
    if check_namespace(text).is_ok() {
        assert!(!text.is_empty() && !text.contains('\0'));
    }
    if let Ok(stored) = check_value(text) {
        // What is stored is the document itself, trimmed, and is still a valid value.
        assert_eq!(stored, text.trim_matches([' ', '\t', '\n', '\r']));
        assert_eq!(
            check_value(stored).ok(),
            Some(stored),
            "a stored value is refused"
        );
        // Where serde_json can hold it (not `1e400`), trimming changed nothing.
        if let Ok(before) = serde_json::from_str::<serde_json::Value>(text) {
            let after: serde_json::Value = serde_json::from_str(stored).expect("still JSON");
            assert_eq!(before, after, "trimming changed the value");
        }
    }
    if let Ok((namespaces, summary)) = backup::decode(text) {
        let (again, again_summary) = backup::encode(&namespaces).expect("decoded values encode");
        let (round, round_summary) = backup::decode(&again).expect("an encoded backup decodes");
        assert_eq!(
            namespaces, round,
            "a backup's namespaces changed on the way through"
        );
        assert_eq!(summary, again_summary);
        assert_eq!(summary, round_summary);
    }
});
