//! Virtualenvs for Python plugins (Errbot's AUTOINSTALL_DEPS): a plugin whose manifest names a
//! requirements file gets its own virtualenv, created and filled once, and refreshed when the
//! file changes. Concurrent errbotd instances sharing a venv directory take a file lock.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use tokio::process::Command;

/// Makes sure `<root>/<name>` is a virtualenv with the `requirements` files installed (in one
/// pip run, in order); returns its python. The path returned is absolute: the plugin runs in
/// its own directory, not errbotd's.
pub async fn ensure(root: &Path, name: &str, requirements: &[PathBuf]) -> anyhow::Result<PathBuf> {
    let root = &crate::config::absolute(root);
    let wanted = stamp_of(requirements)?;
    std::fs::create_dir_all(root).with_context(|| format!("creating {}", root.display()))?;
    let name = &dir_name(name);
    let venv = root.join(name);
    let python = venv.join("bin").join("python3");
    let stamp = venv.join(".errbot-requirements");
    let lock_path = root.join(format!("{name}.lock"));
    let lock_file = std::fs::File::create(&lock_path)
        .with_context(|| format!("creating {}", lock_path.display()))?;
    let _lock = tokio::task::spawn_blocking(move || {
        nix::fcntl::Flock::lock(lock_file, nix::fcntl::FlockArg::LockExclusive).map_err(|(_, e)| e)
    })
    .await?
    .with_context(|| format!("locking {}", lock_path.display()))?;

    if python.is_file() && std::fs::read(&stamp).ok().as_deref() == Some(&wanted[..]) {
        return Ok(python);
    }
    tracing::info!(
        plugin = name,
        "installing Python requirements into {}",
        venv.display()
    );
    run(Command::new("python3")
        .arg("-m")
        .arg("venv")
        .arg("--clear")
        .arg(&venv))
    .await?;
    let mut pip = Command::new(&python);
    pip.args([
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--quiet",
    ]);
    for file in requirements {
        pip.arg("-r").arg(file);
    }
    run(&mut pip).await?;
    std::fs::write(&stamp, &wanted).with_context(|| format!("writing {}", stamp.display()))?;
    Ok(python)
}

/// The virtualenv's directory name for plugin `name`: Errbot's names may hold spaces, which
/// the scripts' `#!` lines of a virtualenv cannot.
fn dir_name(name: &str) -> String {
    name.replace(char::is_whitespace, "_")
}

/// Whether [`ensure`] would create or refill the virtualenv (it is missing, or the requirements
/// changed since it was filled): a start that takes a while (pip), which errbotd does not wait
/// for at start-up.
pub fn needs_install(root: &Path, name: &str, requirements: &[PathBuf]) -> bool {
    let venv = crate::config::absolute(root).join(dir_name(name));
    let Ok(wanted) = stamp_of(requirements) else {
        // Unreadable requirements: `ensure` reports it.
        return false;
    };
    !venv.join("bin").join("python3").is_file()
        || std::fs::read(venv.join(".errbot-requirements")).ok() != Some(wanted)
}

/// What the stamp of a filled virtualenv holds: every requirements file's contents, in order.
fn stamp_of(requirements: &[PathBuf]) -> anyhow::Result<Vec<u8>> {
    let mut wanted = Vec::new();
    for file in requirements {
        wanted.extend(std::fs::read(file).with_context(|| format!("reading {}", file.display()))?);
        wanted.push(b'\n');
    }
    Ok(wanted)
}

async fn run(cmd: &mut Command) -> anyhow::Result<()> {
    let out = cmd
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .with_context(|| format!("running {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}
