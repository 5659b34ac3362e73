//! Request paths the syncs handle: literal paths and templates with
//! parameters (`/profiles/:username`).

use concord_engine::Engine;

/// The paths in `Requesting.request (path: ...)` when patterns.
#[derive(Debug, Clone, Default)]
pub struct RouteTable {
    literal: Vec<String>,
    templates: Vec<Vec<String>>,
}

impl RouteTable {
    /// The paths the engine's syncs handle.
    pub fn from_engine(engine: &Engine) -> Self {
        let paths: Vec<String> = engine
            .when_literals("Requesting", "request", "path")
            .into_iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
        Self::new(paths)
    }

    /// A table of the given paths (as listed by the syncs).
    pub fn from_engine_paths(paths: &[String]) -> Self {
        Self::new(paths.iter().cloned())
    }

    /// A table of these paths.
    pub fn new(paths: impl IntoIterator<Item = String>) -> Self {
        let mut table = RouteTable::default();
        for p in paths {
            if p.split('/').any(|s| s.starts_with(':')) {
                table.templates.push(p.split('/').map(str::to_string).collect());
            } else {
                table.literal.push(p);
            }
        }
        // More literal segments first: `/articles/feed` beats `/articles/:slug`.
        table
            .templates
            .sort_by_key(|t| std::cmp::Reverse(t.iter().filter(|s| !s.starts_with(':')).count()));
        table
    }

    /// Every path and template, for listings.
    pub fn all(&self) -> Vec<String> {
        let mut out = self.literal.clone();
        out.extend(self.templates.iter().map(|t| t.join("/")));
        out.sort();
        out
    }

    /// The path a request is matched as, and the template parameters: a
    /// literal path as is; otherwise the first matching template with its
    /// parameters (decoded); otherwise the path as is.
    pub fn resolve(&self, path: &str) -> (String, Vec<(String, String)>) {
        if self.literal.iter().any(|l| l == path) {
            return (path.to_string(), Vec::new());
        }
        let segments: Vec<&str> = path.split('/').collect();
        'templates: for t in &self.templates {
            if t.len() != segments.len() {
                continue;
            }
            let mut params = Vec::new();
            for (pat, seg) in t.iter().zip(&segments) {
                match pat.strip_prefix(':') {
                    Some(name) if !seg.is_empty() => params.push((name.to_string(), crate::decode(seg))),
                    Some(_) => continue 'templates,
                    None if pat == seg => {}
                    None => continue 'templates,
                }
            }
            return (t.join("/"), params);
        }
        (path.to_string(), Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_beat_templates_and_parameters_are_decoded() {
        let t = RouteTable::new(
            [
                "/articles/feed",
                "/articles/:slug",
                "/articles/:slug/comments/:id",
                "/profiles/:username/follow",
            ]
            .map(String::from),
        );
        assert_eq!(t.resolve("/articles/feed"), ("/articles/feed".into(), vec![]));
        assert_eq!(
            t.resolve("/articles/how-to"),
            ("/articles/:slug".into(), vec![("slug".into(), "how-to".into())])
        );
        assert_eq!(
            t.resolve("/articles/a%20b/comments/7"),
            (
                "/articles/:slug/comments/:id".into(),
                vec![("slug".into(), "a b".into()), ("id".into(), "7".into())]
            )
        );
        assert_eq!(
            t.resolve("/profiles/ada/follow").1,
            vec![("username".into(), "ada".into())]
        );
        assert_eq!(
            t.resolve("/articles/"),
            ("/articles/".into(), vec![]),
            "empty parameters do not match"
        );
        assert_eq!(t.resolve("/nowhere"), ("/nowhere".into(), vec![]));
    }
}
