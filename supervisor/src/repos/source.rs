//! What `!repos install X` means (pure): a name of the plugin index, a git URL, or a short
//! `owner/name` of GitHub; the name a repository is installed under (Errbot's
//! `human_name_for_git_url`); whether `[repos] allowed` lets a URL in.

use super::index::Index;

/// A repository to install.
#[derive(Debug, PartialEq, Eq)]
pub struct Source {
    /// The name it is installed under (`owner/repo`), also its directory under `repos/`.
    pub name: String,
    /// The git URL to clone.
    pub url: String,
}

/// Whether `text` is a git URL or path rather than a name: `scheme://...`, scp-like
/// `user@host:path`, or an absolute path.
pub fn is_url(text: &str) -> bool {
    if text.contains("://") || text.starts_with('/') {
        return true;
    }
    // scp-like syntax: `[user@]host:path`, with no slash before the colon.
    match text.split_once(':') {
        Some((host, path)) => !host.is_empty() && !host.contains('/') && !path.is_empty(),
        None => false,
    }
}

/// The name of a repository cloned from `url`: its last two path parts, `.git` removed (Errbot's
/// `human_name_for_git_url`); `None` when that makes no safe directory name.
pub fn name_for_url(url: &str) -> Option<String> {
    let tail = url.rsplit(':').next().unwrap_or(url);
    let parts: Vec<&str> = tail
        .trim_end_matches('/')
        .split('/')
        .filter(|p| !p.is_empty())
        .collect();
    let mut last: Vec<String> = parts
        .iter()
        .rev()
        .take(2)
        .rev()
        .map(|p| (*p).to_owned())
        .collect();
    if let Some(l) = last.last_mut()
        && let Some(stripped) = l.strip_suffix(".git")
    {
        *l = stripped.to_owned();
    }
    let name = last.join("/");
    valid_name(&name).then_some(name)
}

/// Whether `name` can be a repository's directory under `repos/`: one or two parts made of
/// letters, digits, `-`, `_` and `.`, none starting with a dot.
pub fn valid_name(name: &str) -> bool {
    let parts: Vec<&str> = name.split('/').collect();
    (1..=2).contains(&parts.len())
        && parts.iter().all(|p| {
            !p.is_empty()
                && !p.starts_with('.')
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        })
}

/// Resolves what an admin asked to install: a name of `index`, a git URL, or `owner/name`
/// (`https://github.com/owner/name`). The error is the reply.
pub fn resolve(target: &str, index: &Index) -> Result<Source, String> {
    if let Some(url) = index.url_of(target) {
        return Ok(Source {
            name: target.to_owned(),
            url,
        });
    }
    if is_url(target) {
        let name = name_for_url(target).ok_or_else(|| {
            format!("Cannot make a repository name from {target}: its last two path parts must be plain names.")
        })?;
        return Ok(Source {
            name,
            url: target.to_owned(),
        });
    }
    if target.split('/').count() == 2 && valid_name(target) {
        return Ok(Source {
            name: target.to_owned(),
            url: format!("https://github.com/{target}"),
        });
    }
    Err(format!(
        "{target} is neither in the plugin index nor a git URL: `!repos search` finds names."
    ))
}

/// Whether `[repos] allowed` (`None`: any) lets `url` be installed.
pub fn allowed(patterns: Option<&[String]>, url: &str) -> bool {
    patterns.is_none_or(|p| crate::glob::matches_any(p, url))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_as_errbot_makes_them() {
        assert_eq!(
            name_for_url("https://github.com/errbotio/err-imagebot.git").as_deref(),
            Some("errbotio/err-imagebot")
        );
        assert_eq!(
            name_for_url("git@github.com:gbin/plugin.git").as_deref(),
            Some("gbin/plugin")
        );
        assert_eq!(
            name_for_url("file:///tmp/x/plugins/hello.git").as_deref(),
            Some("plugins/hello")
        );
        assert_eq!(
            name_for_url("http://127.0.0.1:8080/r/hello/").as_deref(),
            Some("r/hello")
        );
        assert_eq!(name_for_url("file:///../..").as_deref(), None);
    }

    #[test]
    fn urls_and_names() {
        assert!(is_url("https://h/x"));
        assert!(is_url("git@github.com:a/b.git"));
        assert!(is_url("/srv/repo"));
        assert!(!is_url("errbotio/err-imagebot"));
        let index = Index::default();
        assert_eq!(
            resolve("errbotio/err-imagebot", &index),
            Ok(Source {
                name: "errbotio/err-imagebot".into(),
                url: "https://github.com/errbotio/err-imagebot".into()
            })
        );
        assert!(resolve("imagebot", &index).is_err());
    }

    #[test]
    fn allowed_patterns() {
        let p = vec!["https://github.com/errbotio/*".to_owned()];
        assert!(allowed(None, "anything"));
        assert!(allowed(Some(&p), "https://github.com/errbotio/err-x"));
        assert!(!allowed(Some(&p), "https://evil.example/x"));
        assert!(!allowed(Some(&[]), "https://github.com/errbotio/err-x"));
    }
}
