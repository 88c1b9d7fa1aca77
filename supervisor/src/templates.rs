//! Plugins' templates (Errbot's `template=` and send_templated): `templates/NAME.md` in the
//! plugin's directory, Jinja2 syntax, rendered by errbotd with MiniJinja into the Markdown that
//! gateways receive. Templates are read from disk at each use (a plugin's templates may change
//! with a reload), only from that directory: a name cannot climb out of it.

use std::path::Path;

use errbot_proto::v1::{Content, Template, content};

/// Renders `template` of the plugin whose directory is `plugin_dir`; `default_name` stands for
/// an empty name (the command's declared template). Errors are meant for the sender.
pub fn render(
    plugin_dir: &Path,
    default_name: &str,
    template: &Template,
) -> Result<String, String> {
    let name = if template.name.is_empty() {
        default_name
    } else {
        template.name.as_str()
    };
    if name.is_empty() {
        return Err("a template reply names no template and the command declares none".into());
    }
    let params: serde_json::Value = if template.params_json.trim().is_empty() {
        serde_json::Value::Object(Default::default())
    } else {
        serde_json::from_str(&template.params_json)
            .map_err(|e| format!("template {name}: the parameters are not JSON: {e}"))?
    };
    let dir = plugin_dir.join("templates");
    let mut env = minijinja::Environment::new();
    // Markdown, not HTML: nothing is escaped.
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    env.set_loader(move |file: &str| load(&dir, file));
    let file = format!("{name}.md");
    let tmpl = env
        .get_template(&file)
        .map_err(|e| format!("template {name}: {}", describe(&e)))?;
    tmpl.render(minijinja::Value::from(minijinja::value::Serde(&params)))
        .map(|text| text.trim_end().to_owned())
        .map_err(|e| format!("template {name}: {}", describe(&e)))
}

/// The Markdown content for `content`, rendering a template of the plugin in `plugin_dir`;
/// other contents are returned as they are.
pub fn resolve(
    content: Content,
    plugin_dir: Option<&Path>,
    default_name: &str,
) -> Result<Content, String> {
    match content.kind {
        Some(content::Kind::Template(t)) => {
            let dir = plugin_dir.ok_or("templates are for plugins only")?;
            Ok(Content {
                kind: Some(content::Kind::Markdown(render(dir, default_name, &t)?)),
            })
        }
        kind => Ok(Content { kind }),
    }
}

/// Reads `file` from `dir`, refusing any name that would leave it.
fn load(dir: &Path, file: &str) -> Result<Option<String>, minijinja::Error> {
    let unsafe_name = file
        .split(['/', '\\'])
        .any(|part| part == ".." || part.is_empty())
        || Path::new(file).is_absolute();
    if unsafe_name {
        return Ok(None);
    }
    match std::fs::read_to_string(dir.join(file)) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(minijinja::Error::new(
            minijinja::ErrorKind::InvalidOperation,
            format!("cannot read {}: {e}", dir.join(file).display()),
        )),
    }
}

fn describe(e: &minijinja::Error) -> String {
    match (e.kind(), e.line()) {
        (minijinja::ErrorKind::TemplateNotFound, _) => {
            format!("no such template ({})", e.name().unwrap_or("?"))
        }
        (_, Some(line)) => format!("{e} (line {line})"),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plugin(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir(dir.path().join("templates")).expect("templates dir");
        for (name, text) in files {
            std::fs::write(dir.path().join("templates").join(name), text).expect("write");
        }
        dir
    }

    fn t(name: &str, params: &str) -> Template {
        Template {
            name: name.into(),
            params_json: params.into(),
        }
    }

    #[test]
    fn renders_jinja_with_the_parameters_and_includes() {
        let dir = plugin(&[
            (
                "weather.md",
                "**{{ city }}**: {{ temp }} °C{% if temp > 25 %} (hot){% endif %}\n\
                 {% for d in days %}- {{ d | upper }}\n{% endfor %}{% include 'footer.md' %}\n",
            ),
            ("footer.md", "<b>&</b>"),
        ]);
        let out = render(
            dir.path(),
            "",
            &t(
                "weather",
                r#"{"city": "Paris", "temp": 30, "days": ["mon", "tue"]}"#,
            ),
        )
        .expect("renders");
        assert_eq!(out, "**Paris**: 30 °C (hot)\n- MON\n- TUE\n<b>&</b>");
        // The command's declared template stands for an empty name.
        let out = render(dir.path(), "footer", &t("", "")).expect("renders");
        assert_eq!(out, "<b>&</b>");
    }

    #[test]
    fn errors_name_the_template_and_never_leave_its_directory() {
        let dir = plugin(&[("bad.md", "{% if %}"), ("ok.md", "{{ x.y.z }}")]);
        let missing = render(dir.path(), "", &t("nope", "{}")).unwrap_err();
        assert!(
            missing.contains("template nope: no such template"),
            "{missing}"
        );
        let syntax = render(dir.path(), "", &t("bad", "{}")).unwrap_err();
        assert!(
            syntax.contains("template bad:") && syntax.contains("line 1"),
            "{syntax}"
        );
        let params = render(dir.path(), "", &t("ok", "not json")).unwrap_err();
        assert!(params.contains("not JSON"), "{params}");
        std::fs::write(dir.path().join("secret.md"), "secret").expect("write");
        let escape = render(dir.path(), "", &t("../secret", "{}")).unwrap_err();
        assert!(escape.contains("no such template"), "{escape}");
        let none = render(dir.path(), "", &t("", "{}")).unwrap_err();
        assert!(none.contains("names no template"), "{none}");
    }
}
