//! The `record` poller of the test plugin: each tick counts itself in storage
//! (`poll:NAME:ticks`), remembers errbotd's tick number (`poll:NAME:last`), notes a tick that
//! began while another tick of the same poller ran in this process (`poll:NAME:overlaps`), then
//! sleeps and fails as its arguments say. The end-to-end tests read the counters with
//! `!poll_count NAME`.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::Duration;

use errbot_plugin_sdk::{PollContext, Storage, StorageError};
use serde::{Deserialize, Serialize};

/// The arguments of a `record` poller (what identifies it, with the method).
#[derive(Serialize, Deserialize)]
pub struct Recorder {
    /// Name of its counters.
    pub name: String,
    /// How long each tick takes.
    pub sleep_ms: u64,
    /// Every tick fails (after counting itself).
    pub fail: bool,
}

/// The names of the `record` ticks running in this process.
static RUNNING: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

/// Takes the name out of [`RUNNING`] when the tick ends, however it ends (errbotd cancels a
/// tick past its deadline).
struct Running(Option<String>);

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(name) = self.0.take()
            && let Ok(mut running) = RUNNING.lock()
        {
            running.remove(&name);
        }
    }
}

async fn add(storage: &Storage, key: &str) -> Result<u64, StorageError> {
    storage
        .update(key, |n: Option<u64>| n.unwrap_or(0) + 1)
        .await
}

/// One tick of a `record` poller.
pub async fn record(ctx: &PollContext) -> Result<(), String> {
    let r: Recorder = ctx.args().map_err(|e| format!("bad arguments: {e}"))?;
    let overlapping = match RUNNING.lock() {
        Ok(mut running) => !running.insert(r.name.clone()),
        Err(_) => false,
    };
    let _running = Running((!overlapping).then(|| r.name.clone()));
    let storage = ctx.storage();
    let error = |e: StorageError| e.to_string();
    add(storage, &format!("poll:{}:ticks", r.name))
        .await
        .map_err(error)?;
    if overlapping {
        add(storage, &format!("poll:{}:overlaps", r.name))
            .await
            .map_err(error)?;
    }
    storage
        .set(&format!("poll:{}:last", r.name), &ctx.tick())
        .await
        .map_err(error)?;
    tokio::time::sleep(Duration::from_millis(r.sleep_ms)).await;
    if r.fail {
        return Err(format!("{} fails on purpose (tick {})", r.name, ctx.tick()));
    }
    Ok(())
}

/// `ticks=N overlaps=M last=K` of the poller named `name`.
pub async fn stats(storage: &Storage, name: &str) -> Result<String, StorageError> {
    let get = |what: &'static str| async move {
        storage
            .get::<u64>(&format!("poll:{name}:{what}"))
            .await
            .map(Option::unwrap_or_default)
    };
    Ok(format!(
        "ticks={} overlaps={} last={}",
        get("ticks").await?,
        get("overlaps").await?,
        get("last").await?
    ))
}
