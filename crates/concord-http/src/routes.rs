//! Which action HTTP requests become, read from `Requesting`'s spec, and
//! the program's routes for it.

use concord_concept::ConceptSpec;
use concord_program::{EntryAction, Program, RouteTable};

/// The entry action requests become and the input keys the edge fills,
/// as `Requesting`'s spec declares them (`request`, `path`, `method`), and
/// the responders that answer.
#[derive(Debug, Clone)]
pub struct HttpEntry {
    /// Concept name.
    pub concept: String,
    /// Entry action name.
    pub action: String,
    /// Input key of the path (or matched template).
    pub route_key: String,
    /// Input key of the method, if the concept has one.
    pub method_key: Option<String>,
    /// Responder actions with their parameter names.
    pub responders: Vec<(String, Vec<String>)>,
}

impl HttpEntry {
    /// The entry of a concept whose spec declares one.
    pub fn from_spec(spec: &ConceptSpec) -> Option<Self> {
        let (action, role) = spec.entries().next()?;
        Some(HttpEntry {
            concept: spec.name.clone(),
            action: action.name.clone(),
            route_key: role.route_key.clone(),
            method_key: role.method_key.clone(),
            responders: spec
                .responders()
                .map(|a| (a.name.clone(), a.params.iter().map(|p| p.name.clone()).collect()))
                .collect(),
        })
    }

    /// The entry of an app's `Requesting`.
    pub fn of(requesting: &concord_std::Requesting) -> Self {
        use concord_concept::Concept as _;
        Self::from_spec(&requesting.spec())
            .expect("Requesting's spec declares its entry action (tested in concord-std)")
    }

    /// As the route table names it.
    pub fn action(&self) -> EntryAction<'_> {
        EntryAction {
            concept: &self.concept,
            action: &self.action,
        }
    }

    /// The program's routes for this entry.
    pub fn routes(&self, program: &Program) -> RouteTable {
        RouteTable::build(program, self.action())
    }

    /// Whether a log entry of `concept.action` is this entry.
    pub fn is_entry(&self, concept: &str, action: &str) -> bool {
        concept == self.concept && action == self.action
    }

    /// The parameters of `action` when it is one of the responders.
    pub fn responder(&self, concept: &str, action: &str) -> Option<&[String]> {
        (concept == self.concept)
            .then(|| self.responders.iter().find(|(name, _)| name == action))
            .flatten()
            .map(|(_, params)| params.as_slice())
    }
}
