use std::collections::HashMap;
use std::sync::Mutex;

use concord_concept::{ActionContext, Record};

/// The output of `Requesting.request`.
#[derive(Debug, Clone, PartialEq, Eq, concord_macros::Outputs)]
#[outputs(crate = concord_concept)]
pub struct RequestOut {
    /// The new request's id.
    pub request: String,
}

#[derive(Debug, Default)]
struct Pending {
    response: Option<Record>,
}

/// **concept** Requesting
///
/// **purpose** turn external requests into actions, and answer each at most
/// once.
///
/// **principle** after `request (path, ...fields) : (request)`, a sync calls
/// `respond (request, ...fields)`; the fields become the answer. A second
/// respond to the same request is an error; the first answer stands.
///
/// **state** a set of pending requests, each with an optional response.
#[derive(Debug, Default)]
pub struct Requesting {
    pending: Mutex<HashMap<String, Pending>>,
}

#[concord_macros::concept(crate = concord_concept)]
impl Requesting {
    /// A request arrives at `path` with any further fields.
    pub fn request(&self, ctx: &mut ActionContext, path: String, #[rest] fields: Record) -> RequestOut {
        let _ = (path, fields);
        let request = ctx.fresh_id();
        self.lock().insert(request.clone(), Pending::default());
        RequestOut { request }
    }

    /// Answers `request` with `fields`; fails if it is unknown or already answered.
    pub fn respond(&self, request: String, #[rest] fields: Record) -> Result<(), String> {
        let mut pending = self.lock();
        match pending.get_mut(&request) {
            None => Err(format!("no pending request `{request}`")),
            Some(p) if p.response.is_some() => Err(format!("request `{request}` was already answered")),
            Some(p) => {
                p.response = Some(fields);
                Ok(())
            }
        }
    }
}

impl Requesting {
    /// A new, empty concept.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes the answer of a request and forgets the request. `None` if it
    /// has not been answered (it stays pending) or is unknown.
    pub fn take_response(&self, request: &str) -> Option<Record> {
        let mut pending = self.lock();
        let answered = pending.get(request).is_some_and(|p| p.response.is_some());
        if answered {
            pending.remove(request).and_then(|p| p.response)
        } else {
            None
        }
    }

    /// Forgets a request whether or not it was answered (its flow is over).
    pub fn forget(&self, request: &str) {
        self.lock().remove(request);
    }

    /// How many requests are remembered.
    pub fn pending_count(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Pending>> {
        // A poisoned lock only means another thread panicked mid-update of a
        // plain map; the map itself is still consistent.
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use concord_concept::{Concept, FlowId, Outcome, RecordId, Value};

    fn fields(pairs: &[(&str, Value)]) -> Record {
        pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
    }

    #[tokio::test]
    async fn answers_each_request_once() {
        let r = Requesting::new();
        let mut ctx = ActionContext::new(FlowId::fresh(), RecordId::fresh());
        let input = fields(&[("path", "/x".into()), ("name", "ada".into())]);
        let Outcome::Success(out) = r.perform(&mut ctx, "request", &input).await else {
            panic!()
        };
        let id = out["request"].as_str().unwrap().to_string();
        let respond = fields(&[("request", id.clone().into()), ("greeting", "hi".into())]);
        assert_eq!(
            r.perform(&mut ctx, "respond", &respond).await,
            Outcome::Success(Record::new())
        );
        let again = r.perform(&mut ctx, "respond", &respond).await;
        assert_eq!(again, Outcome::Error(format!("request `{id}` was already answered")));
        assert_eq!(r.take_response(&id), Some(fields(&[("greeting", "hi".into())])));
        assert_eq!(r.pending_count(), 0);
    }

    #[test]
    fn signature_is_open_for_fields() {
        let spec = Requesting::new().spec();
        let request = spec.action("request").unwrap();
        assert!(request.open_params);
        assert_eq!(request.success, vec![vec!["request".to_string()]]);
        assert!(!request.error);
        assert!(spec.action("respond").unwrap().error);
    }
}
