//! The one route model: the routes of an entry action (request paths and
//! templates such as `/profiles/:username`, with their methods and the
//! syncs that wait for them), built from the program. The checker validates
//! templates with [`RouteTemplate::parse`]; the HTTP edge matches requests
//! with [`RouteTable::resolve`]; the `routes` command and the start-up
//! listing print [`RouteTable::routes`].

use std::fmt;

use serde_json::Value;

use crate::{CompiledSync, Matcher, Program, WhenPattern};

/// One segment of a route template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// Must be exactly this text.
    Literal(String),
    /// `:name`: any non-empty segment, bound to `name`.
    Param(String),
}

/// A request path or template, split into segments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteTemplate {
    text: String,
    segments: Vec<Segment>,
}

/// Why a route template is malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// It does not start with `/`.
    #[error("a request path starts with `/`")]
    NotAbsolute,
    /// `:` followed by something that is not a name.
    #[error("`:{0}` is not a parameter name; write `:name` with letters, digits and `_`")]
    BadParameter(String),
    /// The same parameter twice.
    #[error("`:{0}` appears twice; give each parameter its own name")]
    DuplicateParameter(String),
}

impl RouteTemplate {
    /// Parses `/a/b` or `/profiles/:username`; parameters are distinct names
    /// of letters, digits and `_`.
    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        if !text.starts_with('/') {
            return Err(TemplateError::NotAbsolute);
        }
        let mut segments = Vec::new();
        for seg in text.split('/') {
            match seg.strip_prefix(':') {
                Some(name) => {
                    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                        return Err(TemplateError::BadParameter(name.to_string()));
                    }
                    if segments.contains(&Segment::Param(name.to_string())) {
                        return Err(TemplateError::DuplicateParameter(name.to_string()));
                    }
                    segments.push(Segment::Param(name.to_string()));
                }
                None => segments.push(Segment::Literal(seg.to_string())),
            }
        }
        Ok(RouteTemplate {
            text: text.to_string(),
            segments,
        })
    }

    /// A route named by a plain string (an entry whose routes are not URL
    /// paths, such as a command name): it matches exactly that string.
    pub fn name(text: &str) -> Self {
        RouteTemplate {
            text: text.to_string(),
            segments: vec![Segment::Literal(text.to_string())],
        }
    }

    /// The template as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Its segments (the first is the empty one before the leading `/`).
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// Whether it has parameters.
    pub fn is_template(&self) -> bool {
        self.segments.iter().any(|s| matches!(s, Segment::Param(_)))
    }

    fn literal_segments(&self) -> usize {
        self.segments
            .iter()
            .filter(|s| matches!(s, Segment::Literal(_)))
            .count()
    }

    /// The parameters `path` binds, raw (not percent-decoded), if it matches.
    pub fn matches<'p>(&self, path: &'p str) -> Option<Vec<(&str, &'p str)>> {
        let mut params = Vec::new();
        let mut parts = path.split('/');
        for seg in &self.segments {
            let part = parts.next()?;
            match seg {
                Segment::Literal(l) if l == part => {}
                Segment::Param(name) if !part.is_empty() => params.push((name.as_str(), part)),
                _ => return None,
            }
        }
        parts.next().is_none().then_some(params)
    }
}

impl fmt::Display for RouteTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// An entry action: the concept and action whose flows a table routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryAction<'a> {
    /// Concept name (`Requesting`).
    pub concept: &'a str,
    /// Action name (`request`).
    pub action: &'a str,
}

/// One route: a path or template, the methods syncs require on it, and the
/// syncs that wait for a request to it.
#[derive(Debug, Clone)]
pub struct Route {
    /// The path or template.
    pub template: RouteTemplate,
    /// Methods some sync requires, in first-use order; a sync that requires
    /// none accepts any (then `any_method` is true).
    pub methods: Vec<String>,
    /// Whether some sync on this route accepts any method.
    pub any_method: bool,
    /// Indexes into [`Program::all_syncs`] of the syncs with a pattern on
    /// it (an `else` companion waits where its sync does).
    pub syncs: Vec<usize>,
}

/// The routes of one entry action in a program.
#[derive(Debug, Clone, Default)]
pub struct RouteTable {
    /// Literal paths first, then templates, more literal segments first
    /// (`/articles/feed` beats `/articles/:slug`), otherwise in program order.
    routes: Vec<Route>,
}

impl RouteTable {
    /// The routes of `entry` in `program`: the literals of its route key in
    /// when patterns (the entry role the checker put on each pattern says
    /// which key that is).
    ///
    /// A route's methods are those of the syncs that can start a flow on it
    /// (whose when clause is the entry pattern alone): another method could
    /// only start a flow that fails. A route no sync can start on takes the
    /// methods of every sync on it.
    pub fn build(program: &Program, entry: EntryAction<'_>) -> Self {
        let mut routes: Vec<Route> = Vec::new();
        // Per route: the methods of its starting syncs, whether one takes any.
        let mut starting: Vec<Option<(Vec<String>, bool)>> = Vec::new();
        for (index, sync) in program.all_syncs().into_iter().enumerate() {
            for p in entry_patterns(sync, entry) {
                let Some(path) = route_of(p) else { continue };
                let template = match p.entry.as_ref().is_some_and(|e| e.templates) {
                    true => match RouteTemplate::parse(path) {
                        Ok(t) => t,
                        // The checker rejects it; a table built from an
                        // unchecked program leaves it out.
                        Err(_) => continue,
                    },
                    false => RouteTemplate::name(path),
                };
                let at = match routes.iter().position(|r| r.template == template) {
                    Some(i) => i,
                    None => {
                        routes.push(Route {
                            template,
                            methods: Vec::new(),
                            any_method: false,
                            syncs: Vec::new(),
                        });
                        starting.push(None);
                        routes.len() - 1
                    }
                };
                if sync.when.len() == 1 {
                    let (methods, any) = starting[at].get_or_insert_with(Default::default);
                    match method_of(p) {
                        Some(m) if !methods.iter().any(|x| x == m) => methods.push(m.to_string()),
                        Some(_) => {}
                        None => *any = true,
                    }
                }
                let route = &mut routes[at];
                match method_of(p) {
                    Some(m) if !route.methods.iter().any(|x| x == m) => route.methods.push(m.to_string()),
                    Some(_) => {}
                    None => route.any_method = true,
                }
                if !route.syncs.contains(&index) {
                    route.syncs.push(index);
                }
            }
        }
        for (route, starting) in routes.iter_mut().zip(starting) {
            if let Some((methods, any)) = starting {
                route.methods = methods;
                route.any_method = any;
            }
        }
        RouteTable::ordered(routes)
    }

    /// Literal paths first, then templates with more literal segments first,
    /// otherwise in the given order (the sort is stable).
    fn ordered(mut routes: Vec<Route>) -> Self {
        routes.sort_by_key(|r| {
            (
                r.template.is_template(),
                std::cmp::Reverse(r.template.literal_segments()),
            )
        });
        RouteTable { routes }
    }

    /// Every route, literal paths first.
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// Every path and template, sorted, for listings.
    pub fn paths(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self.routes.iter().map(|r| r.template.as_str()).collect();
        out.sort_unstable();
        out
    }

    /// The route `path` is matched as, with the template's parameters (raw):
    /// a literal path as is, otherwise the first matching template.
    pub fn resolve<'p>(&self, path: &'p str) -> Option<(&Route, Vec<(&str, &'p str)>)> {
        self.routes
            .iter()
            .find_map(|r| r.template.matches(path).map(|params| (r, params)))
    }
}

/// The when patterns of `sync` on the entry action.
pub fn entry_patterns<'s>(sync: &'s CompiledSync, entry: EntryAction<'_>) -> impl Iterator<Item = &'s WhenPattern> {
    sync.when
        .iter()
        .filter(move |p| p.entry.is_some() && p.concept == entry.concept && p.action == entry.action)
}

fn literal<'p>(p: &'p WhenPattern, key: &str) -> Option<&'p str> {
    p.inputs.iter().find(|m| m.key == key).and_then(|m| match &m.matcher {
        Matcher::Literal(Value::String(s)) => Some(s.as_str()),
        _ => None,
    })
}

/// The route an entry pattern requires (the literal of its route key).
pub fn route_of(p: &WhenPattern) -> Option<&str> {
    literal(p, &p.entry.as_ref()?.route_key)
}

/// The method an entry pattern requires (the literal of its method key).
pub fn method_of(p: &WhenPattern) -> Option<&str> {
    literal(p, p.entry.as_ref()?.method_key.as_deref()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(paths: &[&str]) -> RouteTable {
        let routes: Vec<Route> = paths
            .iter()
            .map(|p| Route {
                template: RouteTemplate::parse(p).unwrap(),
                methods: Vec::new(),
                any_method: true,
                syncs: Vec::new(),
            })
            .collect();
        RouteTable::ordered(routes)
    }

    #[test]
    fn literals_beat_templates() {
        let t = table(&[
            "/articles/:slug",
            "/articles/feed",
            "/articles/:slug/comments/:id",
            "/profiles/:username/follow",
        ]);
        let (r, p) = t.resolve("/articles/feed").unwrap();
        assert_eq!((r.template.as_str(), p), ("/articles/feed", vec![]));
        let (r, p) = t.resolve("/articles/how-to").unwrap();
        assert_eq!((r.template.as_str(), p), ("/articles/:slug", vec![("slug", "how-to")]));
        let (_, p) = t.resolve("/articles/a%20b/comments/7").unwrap();
        assert_eq!(p, vec![("slug", "a%20b"), ("id", "7")]);
        assert!(t.resolve("/articles/").is_none(), "empty parameters do not match");
        assert!(t.resolve("/nowhere").is_none());
    }

    #[test]
    fn an_entry_routes_by_its_own_key_templates_or_names() {
        use crate::{CompiledSync, FieldMatch, OutcomeMatch};
        let pattern = |concept: &str, route_key: &str, templates: bool, value: &str, method: Option<&str>| {
            let literal = |key: &str, v: &str| FieldMatch {
                key: key.into(),
                optional: false,
                matcher: Matcher::Literal(Value::from(v)),
            };
            let mut inputs = vec![literal(route_key, value)];
            inputs.extend(method.map(|m| literal("method", m)));
            WhenPattern {
                concept: concept.into(),
                action: "run".into(),
                entry: Some(crate::EntryRole {
                    route_key: route_key.into(),
                    method_key: Some("method".into()),
                    templates,
                }),
                inputs,
                outcome: OutcomeMatch::Any,
            }
        };
        let sync = |name: &str, p: WhenPattern| CompiledSync {
            name: name.into(),
            when: vec![p],
            ..CompiledSync::default()
        };
        let program = Program {
            syncs: vec![
                sync("A", pattern("Http", "path", true, "/users/:id", Some("GET"))),
                sync("B", pattern("Http", "path", true, "/users/:id", Some("PUT"))),
                sync("C", pattern("Http", "path", true, "/users/me", None)),
                sync("D", pattern("Cli", "command", false, "greet:now", None)),
            ],
        };
        let http = RouteTable::build(
            &program,
            EntryAction {
                concept: "Http",
                action: "run",
            },
        );
        assert_eq!(http.paths(), ["/users/:id", "/users/me"]);
        let (me, _) = http.resolve("/users/me").unwrap();
        assert!(me.any_method && me.syncs == [2], "the literal path beats the template");
        let (user, params) = http.resolve("/users/7").unwrap();
        assert_eq!(
            (user.methods.clone(), user.syncs.clone()),
            (vec!["GET".into(), "PUT".into()], vec![0, 1])
        );
        assert_eq!(params, [("id", "7")]);
        // A sync that only answers (it waits for another action too) does
        // not open its route to every method.
        let mut follow_up = sync("E", pattern("Http", "path", true, "/users/:id", None));
        follow_up.when.push(WhenPattern {
            entry: None,
            inputs: Vec::new(),
            ..pattern("Store", "path", false, "x", None)
        });
        let mut with_follow_up = program.clone();
        with_follow_up.syncs.push(follow_up);
        let table = RouteTable::build(
            &with_follow_up,
            EntryAction {
                concept: "Http",
                action: "run",
            },
        );
        let (user, _) = table.resolve("/users/7").unwrap();
        assert!(!user.any_method && user.methods == ["GET", "PUT"] && user.syncs == [0, 1, 4]);
        let cli = RouteTable::build(
            &program,
            EntryAction {
                concept: "Cli",
                action: "run",
            },
        );
        assert_eq!(cli.paths(), ["greet:now"], "a plain name, not parsed as a path");
        assert!(cli.resolve("greet:now").is_some() && cli.resolve("greet").is_none());
    }

    #[test]
    fn malformed_templates_are_named() {
        assert_eq!(RouteTemplate::parse("a/b"), Err(TemplateError::NotAbsolute));
        assert_eq!(
            RouteTemplate::parse("/a/:"),
            Err(TemplateError::BadParameter(String::new()))
        );
        assert_eq!(
            RouteTemplate::parse("/a/:x-y"),
            Err(TemplateError::BadParameter("x-y".into()))
        );
        assert_eq!(
            RouteTemplate::parse("/a/:id/b/:id"),
            Err(TemplateError::DuplicateParameter("id".into()))
        );
        assert!(RouteTemplate::parse("/a/:id/b/:name_2").unwrap().is_template());
    }
}
