//! Plugin discovery: every sub-directory of a plugins directory holding a `plugin.toml`, or an
//! Errbot plugin (a `.plug` file and its module, no `plugin.toml`), which runs on the Python
//! compatibility host (`plugin-sdk/python/host.py`, see [`compat_host_dir`]).
//!
//! ```toml
//! [plugin]
//! name = "hello"
//! description = "Greetings"
//! command = ["errbot-plugin-hello"]          # program and arguments
//! depends_on = []                            # optional
//! python_requirements = "requirements.txt"   # optional: installed into a virtualenv first
//! build = ["sh", "build.sh"]                 # optional: makes the program (see `Manifest::build`)
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
    /// A command (program and arguments) that makes `command`'s program, run in the plugin's
    /// directory before the plugin starts whenever that program is missing or older than a
    /// file of the directory (`target/` and hidden directories aside). With `build`, the
    /// program is always a path relative to the plugin's directory.
    #[serde(default)]
    pub build: Option<Vec<String>>,
    /// Started only when errbot.toml has a `[plugins.NAME]` table: for bundled plugins that not
    /// every bot wants (daily-message), which would otherwise wait for a configuration in every
    /// `!status`.
    #[serde(default)]
    pub opt_in: bool,
    /// For an Errbot plugin: its `.plug` file. The plugin then runs as `python3 host.py DIR PLUG` in
    /// a virtualenv with the host's requirements and the directory's `requirements.txt`.
    #[serde(skip)]
    pub errbot_plug: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ManifestFile {
    plugin: Manifest,
}

/// The virtualenv shared by the Errbot plugins that need nothing but the compatibility host.
pub const COMPAT_VENV: &str = "_errbot-compat-host";

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
        if self.manifest.errbot_plug.is_some() {
            let host = compat_host_dir()
                .ok_or(
                    "the Errbot compatibility host (plugin-sdk/python) is not found: set \
                        ERRBOT_PYTHON_COMPAT_DIR to its directory",
                )?
                .join("host.py");
            let python = venv_python.map_or_else(|| PathBuf::from("python3"), Path::to_owned);
            let plug = self.manifest_path();
            return Ok((
                python,
                vec![
                    host.display().to_string(),
                    self.dir.display().to_string(),
                    plug.display().to_string(),
                ],
            ));
        }
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
        let built = self.manifest.build.is_some();
        let program = if built || first.contains('/') || self.dir.join(first).is_file() {
            self.dir.join(first)
        } else {
            crate::child::beside_errbotd(first)
        };
        Ok((program, args.to_vec()))
    }

    /// Why the plugin must be built before it starts, if it must: it has a `build` command and
    /// its program is missing or older than the newest file of its directory (`target/` and
    /// hidden directories aside).
    pub fn needs_build(&self) -> Option<String> {
        self.manifest.build.as_ref()?;
        let (program, _) = self.program(None).ok()?;
        let Ok(built) = std::fs::metadata(&program).and_then(|m| m.modified()) else {
            return Some(format!("{} does not exist", program.display()));
        };
        let (newest, path) = newest_source(&self.dir)?;
        (newest > built).then(|| {
            format!(
                "{} is newer than {}",
                path.strip_prefix(&self.dir).unwrap_or(&path).display(),
                program.display()
            )
        })
    }

    /// Path of the manifest file (an Errbot plugin's `.plug`).
    pub fn manifest_path(&self) -> PathBuf {
        self.manifest
            .errbot_plug
            .clone()
            .unwrap_or_else(|| self.dir.join("plugin.toml"))
    }

    /// The pip requirements files to install into the plugin's virtualenv, in order; empty when
    /// the plugin needs none. An Errbot plugin gets the compatibility host's, then its own
    /// `requirements.txt` when it has one (Errbot's AUTOINSTALL_DEPS).
    pub fn python_requirements(&self) -> Result<Vec<PathBuf>, String> {
        if self.manifest.errbot_plug.is_none() {
            return Ok(self
                .manifest
                .python_requirements
                .iter()
                .map(|r| self.dir.join(r))
                .collect());
        }
        let host = compat_host_dir().ok_or(
            "the Errbot compatibility host (plugin-sdk/python) is not found: set \
             ERRBOT_PYTHON_COMPAT_DIR to its directory",
        )?;
        let own = self.dir.join("requirements.txt");
        Ok([host.join("requirements.txt")]
            .into_iter()
            .chain(own.is_file().then_some(own))
            .collect())
    }

    /// The name of its virtualenv (under `paths.venv_dir`): its own, except for an Errbot plugin
    /// with no `requirements.txt`, which shares the compatibility host's (one virtualenv made
    /// once for all such plugins, instead of one each).
    pub fn venv_name(&self) -> String {
        if self.manifest.errbot_plug.is_some() && !self.dir.join("requirements.txt").is_file() {
            COMPAT_VENV.to_owned()
        } else {
            self.manifest.name.clone()
        }
    }

    /// Reads the manifest again (a reload picks up a changed `plugin.toml` or `.plug`); the
    /// plugin must keep its name.
    pub fn reread(&self) -> Result<Discovered, String> {
        let path = self.manifest_path();
        let manifest = match &self.manifest.errbot_plug {
            Some(plug) => load_plug(plug)?,
            None => load(&path)?,
        };
        if manifest.name != self.manifest.name {
            return Err(format!(
                "{}: the plugin was renamed from {:?} to {:?}; restart errbotd to load it",
                path.display(),
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

/// The newest modification time of a file under `dir`, and that file: `target/` (cargo's
/// output) and hidden directories (`.git`...) are not sources; symbolic links are not followed.
fn newest_source(dir: &Path) -> Option<(std::time::SystemTime, PathBuf)> {
    let mut newest: Option<(std::time::SystemTime, PathBuf)> = None;
    let mut pending = vec![dir.to_owned()];
    while let Some(d) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(meta) = entry.metadata() else {
                continue;
            };
            let name = entry.file_name();
            if meta.is_dir() {
                let hidden = name.to_string_lossy().starts_with('.');
                let cargo_output = d == dir && name == "target";
                if !hidden && !cargo_output {
                    pending.push(entry.path());
                }
            } else if let Ok(modified) = meta.modified()
                && newest.as_ref().is_none_or(|(t, _)| modified > *t)
            {
                newest = Some((modified, entry.path()));
            }
        }
    }
    newest
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
            for (path, loaded) in manifests_in(&sub) {
                match loaded {
                    Ok(manifest) => {
                        if let Some(other) = found.iter().find(|d| d.manifest.name == manifest.name)
                        {
                            problems.push(format!(
                                "{}: plugin {:?} is already provided by {}; ignored",
                                path.display(),
                                manifest.name,
                                other.dir.display()
                            ));
                        } else {
                            found.push(Discovered {
                                manifest,
                                dir: sub.clone(),
                            });
                        }
                    }
                    Err(e) => problems.push(e),
                }
            }
        }
    }
    (found, problems)
}

/// The plugins of an installed repository (`!repos install`): its root when it is a plugin
/// directory itself (an Errbot repository usually is), else every plugin directory below it,
/// hidden directories and `target/` aside; a directory that is a plugin is not searched further.
pub fn discover_tree(root: &Path) -> (Vec<Discovered>, Vec<String>) {
    let mut found: Vec<Discovered> = Vec::new();
    let mut problems = Vec::new();
    let Ok(root) = root.canonicalize() else {
        problems.push(format!("{}: cannot read the repository", root.display()));
        return (found, problems);
    };
    let mut pending = vec![root];
    while let Some(dir) = pending.pop() {
        let manifests = manifests_in(&dir);
        if !manifests.is_empty() {
            for (_, loaded) in manifests {
                match loaded {
                    Ok(manifest) if found.iter().any(|d| d.manifest.name == manifest.name) => {
                        problems.push(format!(
                            "{}: plugin {:?} is in the repository twice",
                            dir.display(),
                            manifest.name
                        ));
                    }
                    Ok(manifest) => found.push(Discovered {
                        manifest,
                        dir: dir.clone(),
                    }),
                    Err(e) => problems.push(e),
                }
            }
            continue;
        }
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut subdirs: Vec<PathBuf> = entries
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .map(|e| e.path())
            .filter(|p| {
                p.file_name().is_some_and(|n| {
                    let n = n.to_string_lossy();
                    !n.starts_with('.') && n != "target" && n != "__pycache__"
                })
            })
            .collect();
        subdirs.sort_by(|a, b| b.cmp(a));
        pending.extend(subdirs);
    }
    found.sort_by(|a, b| a.dir.cmp(&b.dir));
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
    if m.build.as_ref().is_some_and(Vec::is_empty) {
        return Err(format!(
            "{}:{}: key `plugin.build`: expected at least the program",
            path.display(),
            line_of_key(&text, "build")
        ));
    }
    if m.build.is_some() && Path::new(&m.command[0]).is_absolute() {
        return Err(format!(
            "{}:{}: key `plugin.command`: with `build`, the program is the file the build \
             makes, relative to the plugin's directory",
            path.display(),
            line_of_key(&text, "command")
        ));
    }
    Ok(m)
}

/// Where the Errbot compatibility host is (the directory of `host.py`):
/// `$ERRBOT_PYTHON_COMPAT_DIR`, else beside an installed errbotd
/// (`../share/errbot-rs/python`), else the source tree's `plugin-sdk/python`.
pub fn compat_host_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("ERRBOT_PYTHON_COMPAT_DIR") {
        return Some(crate::config::absolute(Path::new(&dir)));
    }
    let installed = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(|d| d.join("../share/errbot-rs/python")));
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugin-sdk/python");
    installed
        .into_iter()
        .chain([source])
        .find(|d| d.join("host.py").is_file())
}

/// The manifests of a directory, each with its path: its `plugin.toml`, else each of its `.plug`
/// files (Errbot lets one directory hold several plugins, even of one module), in name order.
/// Empty when the directory is no plugin.
fn manifests_in(dir: &Path) -> Vec<(PathBuf, Result<Manifest, String>)> {
    let toml = dir.join("plugin.toml");
    if toml.is_file() {
        let loaded = load(&toml);
        return vec![(toml, loaded)];
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut plugs: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "plug") && p.is_file())
        .collect();
    plugs.sort();
    plugs
        .into_iter()
        .map(|plug| {
            let loaded = load_plug(&plug);
            (plug, loaded)
        })
        .collect()
}

/// An Errbot `.plug` file (INI, as Python's configparser reads it) as a manifest: `[Core] Name`,
/// `DependsOn` (comma-separated) and `[Documentation] Description`.
fn load_plug(path: &Path) -> Result<Manifest, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let ini = parse_ini(&text);
    let get = |section: &str, key: &str| {
        ini.iter()
            .find(|(s, k, _)| s == section && k.eq_ignore_ascii_case(key))
            .map(|(_, _, v)| v.trim().to_owned())
    };
    // Errbot takes names with spaces ("Test hooks for webhooks testing"); `!plugin activate`
    // takes the rest of the line as the name.
    let name = get("Core", "Name").unwrap_or_default();
    if name.is_empty() || name.chars().any(|c| c.is_control() || c == '/') {
        return Err(format!(
            "{}: `[Core] Name`: expected a name without '/' or control characters",
            path.display()
        ));
    }
    if get("Core", "Module").is_none_or(|m| m.is_empty()) {
        return Err(format!(
            "{}: `[Core] Module`: expected the plugin's Python module",
            path.display()
        ));
    }
    Ok(Manifest {
        name,
        description: get("Documentation", "Description").unwrap_or_default(),
        command: Vec::new(),
        depends_on: get("Core", "DependsOn")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(str::to_owned)
            .collect(),
        python_requirements: None,
        build: None,
        opt_in: false,
        errbot_plug: Some(path.to_owned()),
    })
}

/// (section, key, value) of an INI text: `[section]`, `key = value` or `key: value`, `#` and `;`
/// comment lines, indented lines continuing the previous value (configparser's rules).
fn parse_ini(text: &str) -> Vec<(String, String, String)> {
    let mut entries: Vec<(String, String, String)> = Vec::new();
    let mut section = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        if line.starts_with([' ', '\t'])
            && let Some((_, _, value)) = entries.last_mut()
        {
            value.push('\n');
            value.push_str(trimmed);
        } else if let Some(name) = trimmed.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
            section = name.trim().to_owned();
        } else if let Some(at) = trimmed.find(['=', ':']) {
            entries.push((
                section.clone(),
                trimmed[..at].trim().to_owned(),
                trimmed[at + 1..].trim().to_owned(),
            ));
        }
    }
    entries
}

/// The line (from 1) where `key = ...` is set in a manifest, 1 when not found.
fn line_of_key(text: &str, key: &str) -> usize {
    text.lines()
        .position(|l| {
            l.trim_start()
                .strip_prefix(key)
                .is_some_and(|r| r.trim_start().starts_with('='))
        })
        .map_or(1, |i| i + 1)
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

    /// A directory with a `.plug` and no plugin.toml is an Errbot plugin: name, description and
    /// dependencies from the `.plug`, run by the compatibility host in a virtualenv with the
    /// host's requirements and its own.
    #[test]
    fn errbot_plugins_are_discovered_from_their_plug_file() {
        let root = std::env::temp_dir().join(format!("errbot-plug-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let plug = "[Core]\nName = Weather\nModule = weather\nDependsOn = Geo, Units\n\n\
                    # a comment\n[Documentation]\ndescription: Forecasts\n  for every city.\n\
                    [Python]\nVersion = 3\n";
        for (dir, file, body) in [
            ("weather", "weather.plug", plug),
            ("weather", "requirements.txt", "requests\n"),
            ("broken", "broken.plug", "[Core]\nModule = broken\n"),
            (
                "spaced",
                "s.plug",
                "[Core]\nName = Test hooks\nModule = s\n",
            ),
            ("two", "a.plug", "[Core]\nName = TwoA\nModule = two\n"),
            ("two", "b.plug", "[Core]\nName = TwoB\nModule = two\n"),
            ("both", "both.plug", "[Core]\nName = Both\nModule = both\n"),
            (
                "both",
                "plugin.toml",
                "[plugin]\nname = \"both\"\ncommand = [\"b\"]\n",
            ),
        ] {
            std::fs::create_dir_all(root.join(dir)).expect("mkdir");
            std::fs::write(root.join(dir).join(file), body).expect("write");
        }
        let (found, problems) = discover(std::slice::from_ref(&root));
        // plugin.toml wins over a .plug; each of two .plug files is a plugin (Errbot's too).
        let names: Vec<_> = found.iter().map(|d| d.manifest.name.as_str()).collect();
        // Errbot's names may hold spaces.
        assert_eq!(names, ["both", "Test hooks", "TwoA", "TwoB", "Weather"]);
        assert_eq!(found[2].dir, found[3].dir);
        assert_eq!(found[3].manifest_path(), found[3].dir.join("b.plug"));
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].ends_with(
                "broken.plug: `[Core] Name`: expected a name without '/' or control characters"
            ),
            "{problems:?}"
        );
        let weather = &found[4];
        assert_eq!(weather.manifest.description, "Forecasts\nfor every city.");
        assert_eq!(weather.manifest.depends_on, ["Geo", "Units"]);
        assert_eq!(weather.manifest_path(), weather.dir.join("weather.plug"));
        let host = compat_host_dir().expect("the source tree's plugin-sdk/python");
        assert_eq!(
            weather.python_requirements().expect("requirements"),
            [
                host.join("requirements.txt"),
                weather.dir.join("requirements.txt")
            ]
        );
        let venv = Path::new("/venvs/Weather/bin/python3");
        let (program, args) = weather.program(Some(venv)).expect("program");
        assert_eq!(program, venv);
        assert_eq!(
            args,
            [
                host.join("host.py").display().to_string(),
                weather.dir.display().to_string(),
                weather.dir.join("weather.plug").display().to_string()
            ]
        );
        assert_eq!(weather.reread().expect("reread").manifest.name, "Weather");
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn a_build_command_is_checked() {
        let root = std::env::temp_dir().join(format!("errbot-build-key-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for (name, body) in [
            (
                "a",
                "[plugin]\nname = \"a\"\ncommand = [\"x\"]\nbuild = []\n",
            ),
            (
                "b",
                "[plugin]\nname = \"b\"\n\ncommand = [\"/usr/bin/x\"]\nbuild = [\"make\"]\n",
            ),
        ] {
            std::fs::create_dir_all(root.join(name)).expect("mkdir");
            std::fs::write(root.join(name).join("plugin.toml"), body).expect("write");
        }
        let (found, problems) = discover(std::slice::from_ref(&root));
        assert!(found.is_empty(), "{found:?}");
        assert!(
            problems[0]
                .ends_with("a/plugin.toml:4: key `plugin.build`: expected at least the program"),
            "{problems:?}"
        );
        assert!(
            problems[1].contains("b/plugin.toml:4: key `plugin.command`: with `build`"),
            "{problems:?}"
        );
        let _ = std::fs::remove_dir_all(&root);
    }

    /// A plugin with `build` is built when its program is missing or older than a source file;
    /// cargo's `target/` and hidden directories are not sources.
    #[test]
    fn needs_build_compares_the_program_with_the_newest_source() {
        use std::time::{Duration, SystemTime};
        let root = std::env::temp_dir().join(format!("errbot-needs-build-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let dir = root.join("p");
        for sub in ["src", "target/release", ".git", "bin"] {
            std::fs::create_dir_all(dir.join(sub)).expect("mkdir");
        }
        let toml = "[plugin]\nname = \"p\"\ncommand = [\"bin/p\"]\nbuild = [\"make\"]\n";
        std::fs::write(dir.join("plugin.toml"), toml).expect("write");
        std::fs::write(dir.join("src/main.rs"), "").expect("write");
        let (found, problems) = discover(std::slice::from_ref(&root));
        assert!(problems.is_empty(), "{problems:?}");
        let p = &found[0];
        assert_eq!(p.program(None).expect("program").0, p.dir.join("bin/p"));
        let why = p.needs_build().expect("missing program");
        assert!(why.ends_with("bin/p does not exist"), "{why}");

        let set = |path: &str, age_secs: u64| {
            let file = std::fs::File::options()
                .create(true)
                .append(true)
                .open(dir.join(path))
                .expect("open");
            file.set_modified(SystemTime::now() - Duration::from_secs(age_secs))
                .expect("set mtime");
        };
        set("plugin.toml", 100);
        set("src/main.rs", 100);
        set("bin/p", 50);
        assert_eq!(p.needs_build(), None);
        // Newer files in target/ and hidden directories do not count.
        set("target/release/p", 1);
        set(".git/index", 1);
        assert_eq!(p.needs_build(), None);
        set("src/main.rs", 10);
        assert_eq!(
            p.needs_build().as_deref(),
            Some(
                format!(
                    "src/main.rs is newer than {}",
                    p.dir.join("bin/p").display()
                )
                .as_str()
            )
        );
        // Without `build`, nothing is ever built.
        let mut plain = p.clone();
        plain.manifest.build = None;
        assert_eq!(plain.needs_build(), None);
        let _ = std::fs::remove_dir_all(&root);
    }
}
