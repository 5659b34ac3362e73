//! Passthrough routes: `POST {base}/{Concept}/{action or query}` runs the
//! action or query directly. Closed by default: only routes listed in the
//! app's passthrough file, each with a justification, are served.

use axum::http::StatusCode;
use axum::response::Response;
use concord_concept::{Record, Value};
use concord_engine::Engine;

/// An open passthrough route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Concept name.
    pub concept: String,
    /// Action or query name.
    pub name: String,
    /// Why it is open.
    pub justification: String,
}

/// The open passthrough routes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Passthrough {
    routes: Vec<Route>,
}

/// A line of a passthrough file that is not understood.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{file}:{line}: {message}")]
pub struct PassthroughError {
    /// File name.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl Passthrough {
    /// Parses a passthrough file: one `Concept.action: justification` per
    /// line; `#` starts a comment.
    pub fn parse(file: &str, text: &str) -> Result<Self, PassthroughError> {
        let mut routes = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let err = |message: String| PassthroughError {
                file: file.to_string(),
                line: i + 1,
                message,
            };
            let Some((name, why)) = line.split_once(':') else {
                return Err(err(format!(
                    "`{line}` has no justification; write `Concept.action: why this route is open`"
                )));
            };
            let Some((concept, action)) = name.trim().split_once('.') else {
                return Err(err(format!("`{}` is not `Concept.action`", name.trim())));
            };
            if why.trim().is_empty() {
                return Err(err(format!("`{}` needs a justification after the colon", name.trim())));
            }
            routes.push(Route {
                concept: concept.trim().to_string(),
                name: action.trim().to_string(),
                justification: why.trim().to_string(),
            });
        }
        Ok(Passthrough { routes })
    }

    /// The open routes.
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// The open route for a request path below the base, if any.
    pub fn find(&self, path: &str) -> Option<&Route> {
        let rest = path.strip_prefix('/')?;
        let (concept, name) = rest.split_once('/')?;
        self.routes.iter().find(|r| r.concept == concept && r.name == name)
    }
}

pub(crate) async fn run(engine: &Engine, route: &Route, input: Record) -> Response {
    if route.name.starts_with('_') {
        return match engine.query(&route.concept, &route.name, input).await {
            Ok(rows) => crate::json_response(
                StatusCode::OK,
                Value::from(rows.into_iter().map(Value::Object).collect::<Vec<_>>()),
            ),
            Err(e) => crate::error(StatusCode::BAD_REQUEST, e.to_string()),
        };
    }
    match engine.run(&route.concept, &route.name, input).await {
        Ok(report) => match report.records.first().map(|r| &r.outcome) {
            Some(concord_concept::Outcome::Success(out)) => {
                crate::json_response(StatusCode::OK, Value::Object(out.clone()))
            }
            Some(concord_concept::Outcome::Error(e)) => crate::error(StatusCode::UNPROCESSABLE_ENTITY, e.clone()),
            None => crate::error(StatusCode::INTERNAL_SERVER_ERROR, "the action did not run"),
        },
        Err(e) => crate::error(StatusCode::NOT_FOUND, e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_needs_a_justification() {
        let p = Passthrough::parse(
            "p",
            "# open routes\nSessioning._getUser: the front end checks its session\n",
        )
        .unwrap();
        assert_eq!(
            p.find("/Sessioning/_getUser").unwrap().justification,
            "the front end checks its session"
        );
        assert!(p.find("/Sessioning/create").is_none());
        let e = Passthrough::parse("p", "Sessioning.create\n").unwrap_err();
        assert_eq!(e.line, 1);
        assert!(e.message.contains("no justification"), "{e}");
        assert!(Passthrough::parse("p", "Sessioning.create:   \n").is_err());
        assert!(Passthrough::parse("p", "create: because\n").is_err());
    }
}
