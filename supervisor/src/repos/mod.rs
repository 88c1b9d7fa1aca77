//! Plugin repositories (`!repos ...`, `errbotctl repos ...`): installed from git into
//! `<data_dir>/repos/<owner>/<name>`, recorded in core storage (`installed_repos`, Errbot's
//! `{"name": "url"}`), their plugins found there at every start-up; the plugin index is cached
//! in `<data_dir>/repo-index.json`.
//!
//! - install: the name is resolved ([`source`]), checked against `[repos] allowed`, cloned
//!   ([`git`]) into a scratch directory then moved in place; every plugin in the clone is
//!   started as errbotd starts plugins (built by its `build` command, an Errbot `.plug` on the
//!   compatibility host) and activated; if one fails, the others are stopped and the clone
//!   removed: nothing is left half-installed.
//! - update: pull, then each plugin of the repository is reloaded (rebuilt when its sources
//!   changed) without downtime; a plugin that does not start again keeps its running process
//!   and the clone goes back to the commit it had.
//! - uninstall: the repository's plugins are deactivated and forgotten, the clone removed.
//!
//! Operations are serialized (one lock); each runs in a task of its own, so a chat command
//! that misses its deadline never leaves one half done. Progress goes to `progress` as
//! Errbot's messages.

pub mod git;
pub mod index;
pub mod source;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use errbot_proto::v1::RepoEntry;
use tokio::sync::mpsc::UnboundedSender;

use crate::bot::{Bot, read, write};
use crate::lifecycle::ActionError;
use crate::manifest::Discovered;
use crate::supervise::State;
use crate::supervise::plugin::{Action, PluginSlot};
use crate::supervise::policy::Policy;

/// Messages sent as an operation goes.
pub type Progress = UnboundedSender<String>;

/// One repository operation at a time.
static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Where installed repositories are cloned.
pub fn repos_dir(bot: &Bot) -> PathBuf {
    bot.config().data_dir().join("repos")
}

fn say(progress: &Progress, text: impl Into<String>) {
    let _ = progress.send(text.into());
}

fn git_timeout(bot: &Bot) -> Duration {
    Duration::from_secs_f64(bot.config().repos.git_timeout_secs)
}

async fn load_index(bot: &Bot) -> (index::Index, Option<String>) {
    let config = bot.config();
    index::load(&config.repos, &config.base_dir(), &config.data_dir()).await
}

/// The plugins of the installed repositories, for start-up: each repository's tree
/// ([`crate::manifest::discover_tree`]); problems are returned as messages.
pub async fn discover_installed(bot: &Bot) -> (Vec<Discovered>, Vec<String>) {
    let installed = match bot.storage.installed_repos().await {
        Ok(i) => i,
        Err(e) => return (vec![], vec![format!("installed repositories: {e}")]),
    };
    let root = repos_dir(bot);
    let mut found = Vec::new();
    let mut problems = Vec::new();
    for name in installed.keys() {
        let dir = root.join(name);
        if !source::valid_name(name) || !dir.is_dir() {
            problems.push(format!(
                "installed repository {name}: {} is missing (`{}repos uninstall {name}` forgets it)",
                dir.display(),
                bot.prefix()
            ));
            continue;
        }
        let (f, p) = crate::manifest::discover_tree(&dir);
        found.extend(f);
        problems.extend(p);
    }
    (found, problems)
}

/// The slots of the plugins that live in `dir`.
fn slots_in(bot: &Bot, dir: &Path) -> Vec<Arc<PluginSlot>> {
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_owned());
    read(&bot.plugins)
        .values()
        .filter(|s| s.dir().starts_with(&dir))
        .cloned()
        .collect()
}

/// `!repos`: the installed repositories, with their index descriptions.
pub async fn list(bot: &Bot) -> Result<Vec<RepoEntry>, ActionError> {
    let installed = bot.storage.installed_repos().await.map_err(|e| {
        ActionError::Failed(format!("The installed repositories cannot be read: {e}"))
    })?;
    let (index, _) = load_index(bot).await;
    let root = repos_dir(bot);
    Ok(installed
        .into_iter()
        .map(|(name, url)| {
            let description = index.description_of(&name);
            RepoEntry {
                plugins: slots_in(bot, &root.join(&name))
                    .iter()
                    .map(|s| s.name.clone())
                    .collect(),
                installed: true,
                indexed: description.is_some(),
                description: description.unwrap_or_else(|| "No description.".to_owned()),
                name,
                url,
            }
        })
        .collect())
}

/// Errbot's `repos` template: a Markdown table (I: installed, P: private, not in the index).
pub fn list_text(entries: &[RepoEntry]) -> String {
    let mut out = String::from(
        "Status  | Name                    | Description\n------- | ----------------------- | ------------\n",
    );
    for e in entries {
        let status = format!(
            "{}{}",
            if e.installed { "**I**" } else { " " },
            if e.indexed { " " } else { "**P**" }
        );
        let name = format!("**{}**", e.name);
        out.push_str(&format!(
            "{status:<7} | {name:<22} | {}\n",
            e.description.replace('\n', " ")
        ));
    }
    out
}

/// `!repos search TERM`: the plugins of the index that match.
pub async fn search(bot: &Bot, query: &str) -> Result<Vec<RepoEntry>, ActionError> {
    if query.trim().is_empty() {
        return Err(ActionError::Usage("Please specify a keyword.".to_owned()));
    }
    let (index, failure) = load_index(bot).await;
    if index.repos.is_empty()
        && let Some(why) = failure
    {
        return Err(ActionError::Failed(format!("No index: {why}.")));
    }
    let installed = bot.storage.installed_repos().await.unwrap_or_default();
    Ok(index
        .search(query)
        .into_iter()
        .map(|f| RepoEntry {
            installed: installed.contains_key(&f.repo_name),
            indexed: true,
            url: f.entry.repo.clone(),
            description: f.entry.documentation.clone(),
            plugins: vec![f.plugin],
            name: f.repo_name,
        })
        .collect())
}

/// Errbot's `repos2` template: one row per plugin found.
pub fn search_text(query: &str, entries: &[RepoEntry]) -> String {
    if entries.is_empty() {
        return format!("No plugin of the index matches {query}.");
    }
    let mut out = String::from(
        "Status  | Name                    | Description\n------- | ----------------------- | ------------\n",
    );
    for e in entries {
        let status = if e.installed { "**I**" } else { "" };
        let name = format!("**{}**", e.name);
        out.push_str(&format!(
            "{status:<7} | {name:<22} | {}\n",
            e.description.replace('\n', " ")
        ));
    }
    out
}

/// Runs `operation` in a task of its own under the repositories' lock, so that it is never
/// left half done when its caller goes away (a chat command's deadline).
async fn detached<F, T>(operation: F) -> Result<T, ActionError>
where
    F: Future<Output = Result<T, ActionError>> + Send + 'static,
    T: Send + 'static,
{
    let task = tokio::spawn(async move {
        let _guard = LOCK.lock().await;
        operation.await
    });
    task.await
        .unwrap_or_else(|e| Err(ActionError::Failed(format!("the operation failed: {e}"))))
}

/// `!repos install NAME|URL [REF]`.
pub async fn install(
    bot: &Arc<Bot>,
    target: &str,
    reference: Option<&str>,
    progress: &Progress,
) -> Result<(), ActionError> {
    let target = target.trim().to_owned();
    if target.is_empty() {
        return Err(ActionError::Usage(
            "Please specify a repository listed in \"!repos\" or \"give me the URL to a git \
             repository that I should clone for you.\""
                .to_owned(),
        ));
    }
    let (bot, progress) = (bot.clone(), progress.clone());
    let reference = reference.map(str::to_owned).filter(|r| !r.is_empty());
    detached(async move { install_locked(&bot, &target, reference.as_deref(), &progress).await })
        .await
}

async fn install_locked(
    bot: &Arc<Bot>,
    target: &str,
    reference: Option<&str>,
    progress: &Progress,
) -> Result<(), ActionError> {
    // A URL needs no index (which may be far away).
    let index = if source::is_url(target) {
        index::Index::default()
    } else {
        load_index(bot).await.0
    };
    let source = source::resolve(target, &index).map_err(ActionError::NotFound)?;
    let config = bot.config();
    if !source::allowed(config.repos.allowed.as_deref(), &source.url) {
        tracing::warn!(url = %source.url, "refused a repository outside [repos] allowed");
        return Err(ActionError::Refused(format!(
            "The repository {} is not allowed here: `[repos] allowed` in {} does not list its URL.",
            source.url,
            config.describe_source()
        )));
    }
    let installed = bot.storage.installed_repos().await.map_err(|e| {
        ActionError::Failed(format!("The installed repositories cannot be read: {e}"))
    })?;
    if installed.contains_key(&source.name) {
        return Err(ActionError::Already(format!(
            "The repository {} is already installed: `{}repos update {}` updates it.",
            source.name,
            bot.prefix(),
            source.name
        )));
    }
    say(progress, format!("Installing {target}..."));
    tracing::info!(repo = %source.name, url = %source.url, "installing a plugin repository");
    let root = repos_dir(bot);
    let dest = root.join(&source.name);
    if dest.exists() {
        // Left over by something else than an installation (those clean up): not ours to keep.
        remove_dir(&dest).await;
    }
    remove_leftovers(&root).await;
    let scratch = root.join(format!(".incoming-{}", &crate::child::new_token()[..8]));
    let cloned = async {
        tokio::fs::create_dir_all(&scratch)
            .await
            .map_err(|e| format!("creating {}: {e}", scratch.display()))?;
        git::clone(
            &source.name,
            &source.url,
            reference,
            &scratch.join("clone"),
            git_timeout(bot),
        )
        .await?;
        if let Some(parent) = dest.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| format!("creating {}: {e}", parent.display()))?;
        }
        tokio::fs::rename(scratch.join("clone"), &dest)
            .await
            .map_err(|e| format!("moving the clone to {}: {e}", dest.display()))
    }
    .await;
    remove_dir(&scratch).await;
    if let Err(e) = cloned {
        return Err(ActionError::Failed(format!(
            "Error installing the repo: Could not load this plugin: \n\n{}\n\n---\n\n{e}",
            source.url
        )));
    }
    let (found, problems) = crate::manifest::discover_tree(&dest);
    let mut errors = problems;
    if found.is_empty() && errors.is_empty() {
        errors.push(format!(
            "{}: no plugin in it (no plugin.toml, no .plug file)",
            source.url
        ));
    }
    for d in &found {
        let clash = bot.plugin(&d.manifest.name).is_some()
            || bot
                .registry()
                .plugins()
                .iter()
                .any(|p| p.builtin && p.name.eq_ignore_ascii_case(&d.manifest.name));
        if clash {
            errors.push(format!(
                "plugin {} is already loaded by the bot",
                d.manifest.name
            ));
        }
    }
    if errors.is_empty() {
        match start_all(bot, found).await {
            Ok(notes) => {
                if let Err(e) = bot
                    .storage
                    .set_installed_repo(&source.name, Some(&source.url))
                    .await
                {
                    errors.push(format!("the installation could not be stored: {e}"));
                    for slot in slots_in(bot, &dest) {
                        forget(bot, &slot).await;
                    }
                } else {
                    say(
                        progress,
                        format!(
                            "A new plugin repository has been installed correctly from {target}. \
                             Refreshing the plugins commands..."
                        ),
                    );
                    for note in notes {
                        say(progress, note);
                    }
                    say(progress, "Plugins reloaded.");
                    tracing::info!(repo = %source.name, "plugin repository installed");
                    return Ok(());
                }
            }
            Err(e) => errors.extend(e),
        }
    }
    say(
        progress,
        format!(
            "Some plugins are generating errors:\n{}.",
            errors.join("\n")
        ),
    );
    remove_dir(&dest).await;
    tracing::warn!(repo = %source.name, "installation failed: {}", errors.join("; "));
    Err(ActionError::Failed(format!(
        "Removing {} as it did not load correctly.",
        dest.display()
    )))
}

/// Removes the scratch directories of clones that errbotd did not live to finish (operations
/// run one at a time: none is in progress).
async fn remove_leftovers(root: &Path) {
    let Ok(mut entries) = tokio::fs::read_dir(root).await else {
        return;
    };
    while let Ok(Some(entry)) = entries.next_entry().await {
        if entry
            .file_name()
            .to_string_lossy()
            .starts_with(".incoming-")
        {
            remove_dir(&entry.path()).await;
        }
    }
}

async fn remove_dir(dir: &Path) {
    let dir = dir.to_owned();
    let _ = tokio::task::spawn_blocking(move || {
        if dir.exists()
            && let Err(e) = std::fs::remove_dir_all(&dir)
        {
            tracing::warn!("removing {}: {e}", dir.display());
        }
    })
    .await;
}

/// Starts and activates `found` (in dependency order) as start-up does. When one of them fails,
/// those started are stopped and forgotten: the error lists why each failed. Otherwise, notes
/// on plugins waiting (for a configuration).
async fn start_all(bot: &Arc<Bot>, found: Vec<Discovered>) -> Result<Vec<String>, Vec<String>> {
    let config = bot.config();
    let mut notes = Vec::new();
    let slots: Vec<Arc<PluginSlot>> = found
        .into_iter()
        .filter(|d| {
            let disabled = config
                .plugins
                .get(&d.manifest.name)
                .is_some_and(|p| p.disabled);
            if disabled {
                notes.push(format!(
                    "Plugin {} is disabled in errbot.toml: not started.",
                    d.manifest.name
                ));
            }
            !disabled
        })
        .map(|d| {
            let policy = Policy::from_settings(&config.plugin_supervision(&d.manifest.name));
            PluginSlot::new(d, policy)
        })
        .collect();
    {
        let mut plugins = write(&bot.plugins);
        for slot in &slots {
            plugins.insert(slot.name.clone(), slot.clone());
        }
    }
    let spawned = futures::future::join_all(slots.iter().map(|s| s.spawn(bot))).await;
    let outcomes =
        crate::daemon::activate_in_order(bot, slots.into_iter().zip(spawned).collect()).await;
    let mut errors = Vec::new();
    for (slot, outcome) in &outcomes {
        if let Err(e) = outcome {
            match e.then {
                State::Unconfigured | State::Blacklisted => {
                    notes.push(format!(
                        "Plugin {} is not activated: {}.",
                        slot.name, e.reason
                    ));
                }
                _ => errors.push(format!("{}: {}", slot.name, e.reason)),
            }
        }
    }
    let failed = !errors.is_empty();
    let mut started = Vec::new();
    for (slot, outcome) in outcomes {
        slot.supervise(bot.clone(), outcome);
        started.push(slot);
    }
    if failed {
        for slot in &started {
            forget(bot, slot).await;
        }
        return Err(errors);
    }
    bot.rebuild_registry();
    Ok(notes)
}

/// Deactivates a plugin (its in-flight commands finish), stops its slot and forgets it.
async fn forget(bot: &Arc<Bot>, slot: &Arc<PluginSlot>) {
    slot.stop().await;
    write(&bot.plugins).remove(&slot.name);
    bot.rebuild_registry();
}

/// `!repos uninstall NAME`.
pub async fn uninstall(bot: &Arc<Bot>, name: &str, progress: &Progress) -> Result<(), ActionError> {
    let name = name.trim().to_owned();
    if name.is_empty() {
        return Err(ActionError::Usage(
            "You should have a repo name as argument".to_owned(),
        ));
    }
    let (bot, progress) = (bot.clone(), progress.clone());
    detached(async move {
        let installed = bot.storage.installed_repos().await.map_err(|e| {
            ActionError::Failed(format!("The installed repositories cannot be read: {e}"))
        })?;
        if !installed.contains_key(&name) {
            return Err(ActionError::NotFound(format!(
                "This repo is not installed check with {}repos the list of installed ones",
                bot.prefix()
            )));
        }
        let dir = repos_dir(&bot).join(&name);
        if source::valid_name(&name) {
            for slot in slots_in(&bot, &dir) {
                tracing::info!(repo = %name, plugin = %slot.name, "uninstalling");
                forget(&bot, &slot).await;
            }
            remove_dir(&dir).await;
            if let Some(owner) = dir.parent().filter(|p| *p != repos_dir(&bot)) {
                // The owner's directory, once empty.
                let _ = tokio::fs::remove_dir(owner).await;
            }
        }
        bot.storage
            .set_installed_repo(&name, None)
            .await
            .map_err(|e| ActionError::Failed(format!("The change could not be stored: {e}")))?;
        tracing::info!(repo = %name, "plugin repository uninstalled");
        say(&progress, format!("Repo {name} removed."));
        Ok(())
    })
    .await
}

/// `!repos update all|NAME...`: pulls each repository and reloads its plugins.
pub async fn update(
    bot: &Arc<Bot>,
    names: &[String],
    progress: &Progress,
) -> Result<(), ActionError> {
    let names: Vec<String> = names
        .iter()
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .collect();
    if names.is_empty() {
        return Err(ActionError::Usage(format!(
            "Please tell me which repositories to update: `{}repos update all` or `{0}repos \
             update NAME ...`.",
            bot.prefix()
        )));
    }
    let (bot, progress) = (bot.clone(), progress.clone());
    detached(async move {
        let installed: BTreeMap<String, String> =
            bot.storage.installed_repos().await.map_err(|e| {
                ActionError::Failed(format!("The installed repositories cannot be read: {e}"))
            })?;
        let chosen: Vec<String> = if names.iter().any(|n| n == "all") {
            installed.keys().cloned().collect()
        } else {
            let unknown: Vec<&String> = names
                .iter()
                .filter(|n| !installed.contains_key(*n))
                .collect();
            if let Some(n) = unknown.first() {
                return Err(ActionError::NotFound(format!(
                    "{n} is not installed: check with {}repos the list of installed ones",
                    bot.prefix()
                )));
            }
            names
        };
        say(&progress, "Start updating ... ");
        let mut all_ok = true;
        for name in chosen {
            all_ok &= update_one(&bot, &name, &progress).await;
        }
        say(&progress, "Done.");
        if all_ok {
            Ok(())
        } else {
            Err(ActionError::Failed("Some updates failed.".to_owned()))
        }
    })
    .await
}

/// Pulls one repository and reloads its plugins; whether all went well.
async fn update_one(bot: &Arc<Bot>, name: &str, progress: &Progress) -> bool {
    let dir = repos_dir(bot).join(name);
    let shown = dir.display().to_string();
    let before = match git::head(&dir).await {
        Ok(c) => c,
        Err(e) => {
            say(progress, format!("Update of {shown} failed...\n\n{e}"));
            return false;
        }
    };
    if git::branch(&dir).await.is_none() {
        say(
            progress,
            format!("Update of {shown} succeeded...\n\nPinned to {before}: nothing to pull"),
        );
        return true;
    }
    if let Err(e) = git::pull(name, &dir, git_timeout(bot)).await {
        say(
            progress,
            format!("Update of {shown} failed...\n\nError pulling remote {e}"),
        );
        return false;
    }
    let after = git::head(&dir).await.unwrap_or_default();
    say(
        progress,
        format!("Update of {shown} succeeded...\n\nPulled remote"),
    );
    if after == before {
        return true;
    }
    tracing::info!(repo = %name, "updated from {before} to {after}");
    let mut ok = true;
    let mut reloaded = Vec::new();
    for slot in &slots_in(bot, &dir) {
        if !matches!(
            slot.life.state(),
            State::Running | State::Starting | State::Restarting
        ) {
            continue;
        }
        say(progress, format!("/me is reloading plugin {}", slot.name));
        match crate::lifecycle::plugin_action(bot, Action::Reload, &slot.name).await {
            Ok(_) => {
                reloaded.push(slot.clone());
                say(progress, format!("Plugin {} reloaded.", slot.name));
            }
            Err(e) => {
                ok = false;
                say(
                    progress,
                    format!("Error reactivating plugin {}: {}", slot.name, e.text()),
                );
            }
        }
    }
    // Plugins that the new commit added.
    let (found, problems) = crate::manifest::discover_tree(&dir);
    let new: Vec<Discovered> = found
        .into_iter()
        .filter(|d| bot.plugin(&d.manifest.name).is_none())
        .collect();
    for p in problems {
        ok = false;
        say(progress, format!("Error in {name}: {p}"));
    }
    if !new.is_empty() {
        match start_all(bot, new).await {
            Ok(notes) => {
                for n in notes {
                    say(progress, n);
                }
            }
            Err(errors) => {
                ok = false;
                say(
                    progress,
                    format!(
                        "Some plugins are generating errors:\n{}.",
                        errors.join("\n")
                    ),
                );
            }
        }
    }
    if !ok {
        // The plugins that did not start again still run the previous commit: so does the disk.
        match git::reset(name, &dir, &before, git_timeout(bot)).await {
            Ok(()) => {
                for slot in &reloaded {
                    if let Err(e) = slot.act(Action::Reload).await {
                        tracing::warn!(plugin = %slot.name, "reloading on {before}: {e}");
                    }
                }
                say(
                    progress,
                    format!("{name} is back on {before}, which its plugins still run."),
                );
            }
            Err(e) => tracing::warn!(repo = %name, "going back to {before}: {e}"),
        }
    }
    ok
}
