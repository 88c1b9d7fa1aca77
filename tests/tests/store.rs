//! The store itself (errbotd's `storage::Store`), on a real SQLite file and a real PostgreSQL
//! database: every test body runs on both backends.

use std::collections::BTreeMap;
use std::sync::Arc;

use errbot_tests::postgres;
use errbotd::storage::backup;
use errbotd::storage::{
    DeleteOutcome, Entry, Location, SetOutcome, StorageError, Store, WriteCounts, WriteMode,
};

/// A fresh store of each backend: SQLite in a temporary directory, PostgreSQL in a new database
/// (skipped, loudly, when no server is configured).
struct Fresh {
    _dir: tempfile::TempDir,
    sqlite: Location,
}

impl Fresh {
    fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("errbot-store")
            .tempdir()
            .expect("temp dir");
        let sqlite = Location::Sqlite(dir.path().join("errbot.db"));
        Self { _dir: dir, sqlite }
    }
}

async fn postgres_location(test: &str) -> Option<Location> {
    let server = postgres::server_url(test)?;
    Some(Location::Postgres(postgres::fresh_database(&server).await))
}

/// Defines `sqlite_NAME` and `postgres_NAME` running `body(location)`.
macro_rules! on_both_backends {
    ($name:ident, $body:ident) => {
        mod $name {
            use super::*;

            #[tokio::test(flavor = "multi_thread")]
            async fn sqlite() {
                let fresh = Fresh::new();
                $body(fresh.sqlite.clone()).await;
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn postgres() {
                if let Some(location) = postgres_location(stringify!($name)).await {
                    $body(location).await;
                }
            }
        }
    };
}

async fn open(location: &Location) -> Store {
    Store::open(location)
        .await
        .unwrap_or_else(|e| panic!("opening {location:?}: {e}"))
}

fn written(outcome: SetOutcome) -> u64 {
    match outcome {
        SetOutcome::Written(v) => v,
        other => panic!("expected a write, got {other:?}"),
    }
}

async fn get_set_delete_and_versions(location: Location) {
    let store = open(&location).await;
    assert_eq!(store.get("p", "k").await.expect("get"), None);
    let v1 = written(
        store
            .set("p", "k", "{\"a\": [1, 2.50]}", None)
            .await
            .expect("set"),
    );
    assert!(v1 > 0);
    assert_eq!(
        store.get("p", "k").await.expect("get"),
        Some(Entry {
            value: "{\"a\": [1, 2.50]}".into(),
            version: v1
        })
    );
    // Every write gets a new, larger version.
    let v2 = written(store.set("p", "k", "2", None).await.expect("set"));
    assert!(v2 > v1);
    // Compare-and-set: "only if absent" and "only at version v".
    assert_eq!(
        store.set("p", "k", "3", Some(0)).await.expect("set"),
        SetOutcome::Conflict(Some(Entry {
            value: "2".into(),
            version: v2
        }))
    );
    assert_eq!(
        store.set("p", "k", "3", Some(v1)).await.expect("set"),
        SetOutcome::Conflict(Some(Entry {
            value: "2".into(),
            version: v2
        }))
    );
    let v3 = written(store.set("p", "k", "3", Some(v2)).await.expect("set"));
    assert!(v3 > v2);
    let fresh = written(store.set("p", "new", "true", Some(0)).await.expect("set"));
    assert!(fresh > v3);
    assert_eq!(
        store.set("p", "absent", "1", Some(v3)).await.expect("set"),
        SetOutcome::Conflict(None)
    );
    // Deletes, conditional and not.
    assert_eq!(
        store.delete("p", "k", Some(v2)).await.expect("delete"),
        DeleteOutcome::Conflict(v3)
    );
    // A deletion has a version of its own, greater than every write before it: a cache can tell
    // it from an older answer.
    let DeleteOutcome::Deleted(gone) = store.delete("p", "k", Some(v3)).await.expect("delete")
    else {
        panic!("k was at {v3}: it must be deleted");
    };
    assert!(gone > fresh);
    assert_eq!(
        store.delete("p", "k", None).await.expect("delete"),
        DeleteOutcome::Missing
    );
    let DeleteOutcome::Deleted(gone_too) = store.delete("p", "new", None).await.expect("delete")
    else {
        panic!("new was set: it must be deleted");
    };
    assert!(gone_too > gone);
    // A key deleted and written again never gets an old version back (no A-B-A).
    let again = written(store.set("p", "k", "1", None).await.expect("set"));
    assert!(again > gone_too);
    assert!(matches!(
        store.set("p", "k", "9", Some(v1)).await.expect("set"),
        SetOutcome::Conflict(_)
    ));
    // Namespaces are separate.
    assert_eq!(store.get("q", "k").await.expect("get"), None);
    written(store.set("q", "k", "\"other\"", None).await.expect("set"));
    assert_eq!(
        store.get("p", "k").await.expect("get").expect("kept").value,
        "1"
    );
    // Surrounding whitespace is not stored; the rest is kept exactly.
    written(
        store
            .set("p", "ws", " \n[1,  2] \t", None)
            .await
            .expect("set"),
    );
    assert_eq!(
        store.get("p", "ws").await.expect("get").expect("set").value,
        "[1,  2]"
    );
    store.close().await;
}
on_both_backends!(get_set_delete, get_set_delete_and_versions);

async fn bad_input_is_refused(location: Location) {
    let store = open(&location).await;
    for value in ["", "{", "{'a': 1}", "1 2", "NaN", "\"\u{0}\""] {
        assert!(
            matches!(
                store.set("p", "k", value, None).await,
                Err(StorageError::InvalidValue(_))
            ),
            "{value:?} accepted"
        );
    }
    for key in ["", "a\0b", &"k".repeat(1025)] {
        assert!(
            matches!(
                store.set("p", key, "1", None).await,
                Err(StorageError::InvalidKey(_))
            ),
            "{key:?} accepted"
        );
    }
    assert!(matches!(
        store.get("", "k").await,
        Err(StorageError::InvalidNamespace(_))
    ));
    // Nothing was written on the way.
    assert_eq!(store.count().await.expect("count"), 0);
    store.close().await;
}
on_both_backends!(bad_input, bad_input_is_refused);

async fn keys_in_byte_order_with_prefixes(location: Location) {
    let store = open(&location).await;
    for key in ["b", "a", "a/2", "a/1", "A", "é", "z", "a%", "a_", "_"] {
        written(store.set("p", key, "0", None).await.expect("set"));
    }
    written(store.set("other", "a/3", "0", None).await.expect("set"));
    assert_eq!(
        store.keys("p", "").await.expect("keys"),
        ["A", "_", "a", "a%", "a/1", "a/2", "a_", "b", "z", "é"]
    );
    // The prefix is text, not a pattern: `%` and `_` match themselves only.
    assert_eq!(store.keys("p", "a/").await.expect("keys"), ["a/1", "a/2"]);
    assert_eq!(store.keys("p", "a%").await.expect("keys"), ["a%"]);
    assert_eq!(store.keys("p", "_").await.expect("keys"), ["_"]);
    assert_eq!(store.keys("p", "é").await.expect("keys"), ["é"]);
    assert!(store.keys("p", "x").await.expect("keys").is_empty());
    assert!(store.keys("empty", "").await.expect("keys").is_empty());
    store.close().await;
}
on_both_backends!(keys, keys_in_byte_order_with_prefixes);

/// Two stores on the same database (as two processes would be), each with several tasks,
/// increment one counter with compare-and-set: no increment is lost.
async fn concurrent_increments_lose_nothing(location: Location) {
    const TASKS: u64 = 6;
    const EACH: u64 = 25;
    let first = Arc::new(open(&location).await);
    let second = Arc::new(open(&location).await);
    let mut handles = Vec::new();
    for t in 0..TASKS {
        let store = if t % 2 == 0 {
            first.clone()
        } else {
            second.clone()
        };
        handles.push(tokio::spawn(async move {
            for _ in 0..EACH {
                store
                    .update("p", "counter", |old| {
                        let n: u64 = old.map_or(0, |v| v.parse().expect("a number"));
                        Some((n + 1).to_string())
                    })
                    .await
                    .expect("update");
            }
        }));
    }
    for h in handles {
        h.await.expect("task");
    }
    let total = first.get("p", "counter").await.expect("get").expect("set");
    assert_eq!(total.value, (TASKS * EACH).to_string());
    first.close().await;
    second.close().await;
}
on_both_backends!(concurrent_increments, concurrent_increments_lose_nothing);

fn sample() -> Vec<(String, Vec<(String, String)>)> {
    vec![
        (
            "core".into(),
            vec![
                ("bl_plugins".into(), "[\"hello\"]".into()),
                (
                    "configs".into(),
                    "{\"w\":{\"CITY\":\"Zürich\",\"N\":3}}".into(),
                ),
            ],
        ),
        (
            "weather".into(),
            vec![
                ("float".into(), "1.50".into()),
                (
                    "nested".into(),
                    "{\"z\": [null, {\"b\": \"\\u00e9\"}], \"a\": 1}".into(),
                ),
                ("text".into(), "\"line\\nbreak\"".into()),
            ],
        ),
        ("python-hello".into(), vec![("k".into(), "-0".into())]),
    ]
}

fn sorted(mut v: Vec<(String, Vec<(String, String)>)>) -> Vec<(String, Vec<(String, String)>)> {
    v.sort();
    for (_, entries) in &mut v {
        entries.sort();
    }
    v
}

async fn backup_restore_reproduces_everything(location: Location) {
    let source = open(&location).await;
    source
        .write_namespaces(&sample(), WriteMode::Merge, true)
        .await
        .expect("fill");
    let (text, summary) = backup::backup(&source).await.expect("backup");
    assert_eq!((summary.namespaces, summary.keys), (3, 6));
    assert_eq!(sorted(source.dump().await.expect("dump")), sorted(sample()));

    // Into an empty store of the other backend as well as of the same one.
    let target_dir = tempfile::tempdir().expect("dir");
    let mut targets = vec![Location::Sqlite(target_dir.path().join("restored.db"))];
    if let Location::Postgres(_) = location {
        targets.push(
            postgres_location("backup_restore target")
                .await
                .expect("server"),
        );
    }
    for target in targets {
        let store = open(&target).await;
        let restored = backup::restore(&store, &text, false)
            .await
            .expect("restore");
        assert_eq!(restored, summary);
        assert_eq!(
            store.dump().await.expect("dump"),
            source.dump().await.expect("dump"),
            "restored into {target:?}"
        );
        // A second restore into the now non-empty store is refused and changes nothing.
        written(store.set("weather", "extra", "1", None).await.expect("set"));
        let err = backup::restore(&store, &text, false)
            .await
            .expect_err("refused");
        assert!(matches!(err, StorageError::NotEmpty(7)), "{err}");
        assert!(store.get("weather", "extra").await.expect("get").is_some());
        // Forced: each namespace of the backup replaces the stored one.
        written(
            store
                .set("elsewhere", "kept", "1", None)
                .await
                .expect("set"),
        );
        backup::restore(&store, &text, true).await.expect("forced");
        assert!(store.get("weather", "extra").await.expect("get").is_none());
        assert!(store.get("elsewhere", "kept").await.expect("get").is_some());
        store.close().await;
    }
    source.close().await;
}
on_both_backends!(backup_restore, backup_restore_reproduces_everything);

async fn namespaces_are_replaced_or_merged(location: Location) {
    let store = open(&location).await;
    written(store.set("p", "a", "1", None).await.expect("set"));
    written(store.set("p", "b", "2", None).await.expect("set"));
    written(store.set("q", "a", "1", None).await.expect("set"));
    let doc = vec![(
        "p".to_owned(),
        vec![
            ("b".to_owned(), "20".to_owned()),
            ("c".to_owned(), "30".to_owned()),
        ],
    )];
    let counts = store
        .write_namespaces(&doc, WriteMode::Merge, false)
        .await
        .expect("merge");
    assert_eq!(
        counts,
        WriteCounts {
            written: 2,
            deleted: 0
        }
    );
    let p: BTreeMap<String, String> = store
        .namespace("p")
        .await
        .expect("ns")
        .into_iter()
        .collect();
    assert_eq!(
        p,
        BTreeMap::from([
            ("a".into(), "1".into()),
            ("b".into(), "20".into()),
            ("c".into(), "30".into())
        ])
    );
    let doc = vec![("p".to_owned(), vec![("c".to_owned(), "{}".to_owned())])];
    let counts = store
        .write_namespaces(&doc, WriteMode::Replace, false)
        .await
        .expect("replace");
    assert_eq!(
        counts,
        WriteCounts {
            written: 1,
            deleted: 2
        }
    );
    assert_eq!(
        store.namespace("p").await.expect("ns"),
        [("c".to_owned(), "{}".to_owned())]
    );
    assert_eq!(store.namespace("q").await.expect("ns").len(), 1);
    // A bad value anywhere writes nothing at all.
    let bad = vec![(
        "p".to_owned(),
        vec![
            ("d".to_owned(), "1".to_owned()),
            ("e".to_owned(), "{".to_owned()),
        ],
    )];
    assert!(
        store
            .write_namespaces(&bad, WriteMode::Merge, false)
            .await
            .is_err()
    );
    assert!(store.get("p", "d").await.expect("get").is_none());
    store.close().await;
}
on_both_backends!(namespaces, namespaces_are_replaced_or_merged);

async fn data_survives_reopening(location: Location) {
    let store = open(&location).await;
    written(store.set("p", "k", "\"kept\"", None).await.expect("set"));
    store.close().await;
    let store = open(&location).await;
    assert_eq!(
        store.get("p", "k").await.expect("get").expect("kept").value,
        "\"kept\""
    );
    // Migrations ran once; opening again is harmless.
    let again = open(&location).await;
    assert_eq!(again.count().await.expect("count"), 1);
    store.close().await;
    again.close().await;
}
on_both_backends!(reopen, data_survives_reopening);

/// Many writes at once (committed together on SQLite): each is acknowledged with its own
/// version and every one is stored.
async fn many_concurrent_writes_all_land(location: Location) {
    let store = Arc::new(open(&location).await);
    let writes = (0..300).map(|i| {
        let store = store.clone();
        tokio::spawn(async move {
            let key = format!("k{i}");
            let version = written(
                store
                    .set("p", &key, &i.to_string(), None)
                    .await
                    .expect("set"),
            );
            // Half of them also delete a key written by another task, conditionally or not.
            if i % 2 == 0 {
                let _ = store
                    .delete("p", &format!("gone{i}"), None)
                    .await
                    .expect("delete");
            }
            version
        })
    });
    let mut versions = Vec::new();
    for w in writes {
        versions.push(w.await.expect("task"));
    }
    versions.sort_unstable();
    versions.dedup();
    assert_eq!(versions.len(), 300, "every write has its own version");
    let stored: BTreeMap<String, String> = store
        .namespace("p")
        .await
        .expect("ns")
        .into_iter()
        .collect();
    assert_eq!(stored.len(), 300);
    for i in 0..300 {
        assert_eq!(stored[&format!("k{i}")], i.to_string());
    }
    store.close().await;
}
on_both_backends!(many_writes, many_concurrent_writes_all_land);
