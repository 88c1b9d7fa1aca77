//! Webhook routes: Errbot's (Flask's) URL rules (`/github/<repo>`) parsed once, and matched
//! against request paths. Pure: the registry holds the routes, the server asks it.

use std::collections::HashMap;

use errbot_proto::v1::WebhookSpec;

/// One segment of a rule.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    /// Must be equal.
    Literal(String),
    /// `<name>`: any one non-empty segment, captured.
    Param(String),
}

/// A plugin's webhook, ready to match.
#[derive(Clone, Debug)]
pub struct Route {
    /// The plugin serving it.
    pub plugin: String,
    /// What the plugin declared.
    pub spec: WebhookSpec,
    segments: Vec<Segment>,
}

impl Route {
    /// Parses `spec`'s rule; an error says what is wrong with it.
    pub fn new(plugin: &str, spec: &WebhookSpec) -> Result<Self, String> {
        let rule = spec.uri_rule.trim();
        if !rule.starts_with('/') {
            return Err(format!("webhook rule {rule:?} does not start with `/`"));
        }
        let mut segments = Vec::new();
        for part in rule.split('/').filter(|p| !p.is_empty()) {
            let segment = match part.strip_prefix('<').and_then(|p| p.strip_suffix('>')) {
                // Flask's converters (`<int:id>`) name the parameter after the colon.
                Some(inner) => {
                    let name = inner.rsplit(':').next().unwrap_or(inner);
                    if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
                        return Err(format!("webhook rule {rule:?}: bad parameter <{inner}>"));
                    }
                    Segment::Param(name.to_owned())
                }
                None if part.contains(['<', '>']) => {
                    return Err(format!("webhook rule {rule:?}: bad segment {part:?}"));
                }
                None => Segment::Literal(part.to_owned()),
            };
            segments.push(segment);
        }
        Ok(Self {
            plugin: plugin.to_owned(),
            spec: spec.clone(),
            segments,
        })
    }

    /// The rule, normalised (`/a/<b>`): two routes with the same shape clash.
    pub fn shape(&self) -> String {
        let parts: Vec<String> = self
            .segments
            .iter()
            .map(|s| match s {
                Segment::Literal(l) => l.clone(),
                Segment::Param(_) => "<>".to_owned(),
            })
            .collect();
        format!("/{}", parts.join("/"))
    }

    /// The parameters when `path` matches (a trailing `/` is ignored, as Flask's rules ending
    /// in `/` do).
    pub fn matches(&self, path: &str) -> Option<HashMap<String, String>> {
        let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
        if parts.len() != self.segments.len() {
            return None;
        }
        let mut params = HashMap::new();
        for (segment, part) in self.segments.iter().zip(parts) {
            match segment {
                Segment::Literal(l) if l == part => {}
                Segment::Literal(_) => return None,
                Segment::Param(name) => {
                    params.insert(name.clone(), percent_decode(part));
                }
            }
        }
        Some(params)
    }

    /// The methods accepted (POST when none were declared).
    pub fn methods(&self) -> Vec<String> {
        if self.spec.methods.is_empty() {
            vec!["POST".to_owned()]
        } else {
            self.spec.methods.iter().map(|m| m.to_uppercase()).collect()
        }
    }
}

/// `%41` -> `A` in a path segment (invalid escapes kept as they are). The segment is read as
/// the value of a form field, so the characters a form gives a meaning to (`+` a space, `&`
/// the next field) are escaped first: in a path they stand for themselves.
fn percent_decode(part: &str) -> String {
    let escaped = part.replace('+', "%2B").replace('&', "%26");
    let bytes: Vec<u8> = form_urlencoded::parse(format!("x={escaped}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned().into_bytes())
        .unwrap_or_else(|| part.as_bytes().to_vec());
    String::from_utf8_lossy(&bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(rule: &str) -> Route {
        Route::new(
            "p",
            &WebhookSpec {
                name: "w".into(),
                uri_rule: rule.into(),
                ..Default::default()
            },
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn rules_match_paths_and_capture_parameters() {
        let r = route("/github/<repo>/events");
        let params = r.matches("/github/errbot%2Drs/events").unwrap_or_default();
        assert_eq!(params.get("repo").map(String::as_str), Some("errbot-rs"));
        assert!(r.matches("/github/events").is_none());
        assert!(r.matches("/github/a/b/events").is_none());
        assert!(route("/echo/").matches("/echo").is_some());
        assert!(route("/echo").matches("/echo/").is_some());
        assert_eq!(route("/items/<int:id>").shape(), "/items/<>");
        assert_eq!(route("/a/<x>").methods(), ["POST"]);
    }

    #[test]
    fn parameters_keep_ampersands_and_plus_signs() {
        // Found by the webhook fuzz target: a `&` in a segment cut the parameter short.
        let r = route("/hook/<name>");
        for (path, want) in [
            ("/hook/a&b", "a&b"),
            ("/hook/&", "&"),
            ("/hook/a+b=c", "a+b=c"),
            ("/hook/a%26b", "a&b"),
            ("/hook/%zz", "%zz"),
        ] {
            let params = r.matches(path).unwrap_or_default();
            assert_eq!(params.get("name").map(String::as_str), Some(want), "{path}");
        }
    }

    #[test]
    fn bad_rules_are_refused() {
        for rule in ["github", "/a/<>", "/a/<b c>", "/a/x<y>"] {
            let spec = WebhookSpec {
                uri_rule: rule.into(),
                ..Default::default()
            };
            assert!(Route::new("p", &spec).is_err(), "{rule}");
        }
    }
}
