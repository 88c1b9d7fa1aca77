//! Plugin discovery: every sub-directory of a plugins directory holding a `plugin.toml`.
//!
//! ```toml
//! [plugin]
//! name = "hello"
//! description = "Greetings"
//! command = ["errbot-plugin-hello"]          # program and arguments
//! depends_on = []                            # optional
//! python_requirements = "requirements.txt"   # optional: installed into a virtualenv first
//! ```

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The `[plugin]` table of a plugin.toml.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Plugin name; must equal the name the plugin gives in Describe.
    pub name: String,
    /// One-line description, shown before the plugin has started.
    #[serde(default)]
    pub description: String,
    /// Program and arguments. The program is looked up in the plugin's directory, then beside
    /// errbotd's executable, then in PATH; it runs with the plugin's directory as working
    /// directory.
    pub command: Vec<String>,
    /// Plugins that must be active first.
    #[serde(default)]
    pub depends_on: Vec<String>,
    /// A pip requirements file to install into the plugin's virtualenv before it starts; the
    /// program `python3` or `python` then means that virtualenv's interpreter.
    #[serde(default)]
    pub python_requirements: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ManifestFile {
    plugin: Manifest,
}

/// A plugin found on disk.
#[derive(Clone, Debug)]
pub struct Discovered {
    /// Its manifest.
    pub manifest: Manifest,
    /// Its directory (absolute).
    pub dir: PathBuf,
}

impl Discovered {
    /// The program to execute and its arguments, resolved as documented on [`Manifest::command`].
    /// `venv_python` replaces `python3`/`python` when the plugin has a virtualenv.
    pub fn program(&self, venv_python: Option<&Path>) -> Result<(PathBuf, Vec<String>), String> {
        let (first, args) = self
            .manifest
            .command
            .split_first()
            .ok_or_else(|| format!("{}: `command` is empty", self.manifest_path().display()))?;
        if let Some(python) = venv_python
            && (first == "python3" || first == "python")
        {
            return Ok((python.to_owned(), args.to_vec()));
        }
        // `dir` is absolute (canonical), so the program is too, or found in PATH.
        let program = if first.contains('/') || self.dir.join(first).is_file() {
            self.dir.join(first)
        } else {
            crate::child::beside_errbotd(first)
        };
        Ok((program, args.to_vec()))
    }

    /// Path of the manifest file.
    pub fn manifest_path(&self) -> PathBuf {
        self.dir.join("plugin.toml")
    }

    /// Reads the manifest again (a reload picks up a changed `plugin.toml`); the plugin must keep
    /// its name.
    pub fn reread(&self) -> Result<Discovered, String> {
        let manifest = load(&self.manifest_path())?;
        if manifest.name != self.manifest.name {
            return Err(format!(
                "{}: the plugin was renamed from {:?} to {:?}; restart errbotd to load it",
                self.manifest_path().display(),
                self.manifest.name,
                manifest.name
            ));
        }
        Ok(Discovered {
            manifest,
            dir: self.dir.clone(),
        })
    }
}

/// Finds the plugins in `dirs`, in order. A name seen twice keeps the first directory; problems
/// are returned as messages (a broken manifest never stops the others).
pub fn discover(dirs: &[PathBuf]) -> (Vec<Discovered>, Vec<String>) {
    let mut found: Vec<Discovered> = Vec::new();
    let mut problems = Vec::new();
    let mut seen_dirs = HashSet::new();
    for dir in dirs {
        let Ok(canonical) = dir.canonicalize() else {
            continue;
        };
        if !seen_dirs.insert(canonical.clone()) {
            continue;
        }
        let Ok(entries) = std::fs::read_dir(&canonical) else {
            problems.push(format!("{}: cannot read plugins directory", dir.display()));
            continue;
        };
        let mut subdirs: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        subdirs.sort();
        for sub in subdirs {
            let path = sub.join("plugin.toml");
            if !path.is_file() {
                continue;
            }
            match load(&path) {
                Ok(manifest) => {
                    if let Some(other) = found.iter().find(|d| d.manifest.name == manifest.name) {
                        problems.push(format!(
                            "{}: plugin {:?} is already provided by {}; ignored",
                            path.display(),
                            manifest.name,
                            other.dir.display()
                        ));
                    } else {
                        found.push(Discovered { manifest, dir: sub });
                    }
                }
                Err(e) => problems.push(e),
            }
        }
    }
    (found, problems)
}

fn load(path: &Path) -> Result<Manifest, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let file: ManifestFile = toml::from_str(&text).map_err(|e| {
        let line = e.span().map_or(1, |s| {
            text[..s.start.min(text.len())].matches('\n').count() + 1
        });
        format!("{}:{line}: {}", path.display(), e.message().trim())
    })?;
    let m = file.plugin;
    if m.name.is_empty() || m.name.chars().any(|c| c.is_whitespace() || c == '/') {
        return Err(format!(
            "{}: key `plugin.name`: expected a name without spaces or '/'",
            path.display()
        ));
    }
    if m.command.is_empty() {
        return Err(format!(
            "{}: key `plugin.command`: expected at least the program",
            path.display()
        ));
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovers_and_reports_problems() {
        let root = std::env::temp_dir().join(format!("errbot-manifest-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for (name, body) in [
            ("a", "[plugin]\nname = \"a\"\ncommand = [\"run-a\"]\n"),
            ("b", "[plugin]\nname = \"b\"\ncomand = [\"x\"]\n"),
            ("c", "[plugin]\nname = \"a\"\ncommand = [\"./dup\"]\n"),
        ] {
            std::fs::create_dir_all(root.join(name)).expect("mkdir");
            std::fs::write(root.join(name).join("plugin.toml"), body).expect("write");
        }
        std::fs::create_dir_all(root.join("not-a-plugin")).expect("mkdir");
        let (found, problems) = discover(&[root.clone(), root.clone()]);
        assert_eq!(
            found
                .iter()
                .map(|d| d.manifest.name.as_str())
                .collect::<Vec<_>>(),
            ["a"]
        );
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(
            problems[0].contains("b/plugin.toml:3: unknown field `comand`"),
            "{problems:?}"
        );
        assert!(problems[1].contains("already provided"), "{problems:?}");
        let (prog, _) = found[0].program(None).expect("program");
        assert_eq!(prog, PathBuf::from("run-a"));
        let _ = std::fs::remove_dir_all(&root);
    }
}
