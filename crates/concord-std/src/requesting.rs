use std::collections::HashMap;
use std::sync::Mutex;

use concord_concept::{ActionContext, Record, Value};
use tokio::sync::oneshot;

/// The output of `Requesting.request`.
#[derive(Debug, Clone, PartialEq, Eq, concord_macros::Outputs)]
#[outputs(crate = concord_concept)]
pub struct RequestOut {
    /// The new request's id.
    pub request: String,
}

/// How a request was answered.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// The code a sync chose with `respondWith`; `None` for `respond`.
    pub code: Option<i64>,
    /// The answer's body.
    pub body: Value,
}

#[derive(Debug, Default)]
struct Pending {
    answered: bool,
    answer: Option<Response>,
    waiter: Option<oneshot::Sender<Response>>,
}

/// The **Requesting** concept (its purpose, principle and state are on
/// its `impl` block, which is what `concord-std`'s reference page shows).
#[derive(Debug, Default)]
pub struct Requesting {
    pending: Mutex<HashMap<String, Pending>>,
}

#[concord_macros::concept(
    crate = concord_concept,
    entry = "request",
    route_template = "path",
    method = "method",
    responds = "respond",
    responds = "respondWith"
)]
/// **concept** Requesting
///
/// **purpose** turn external requests into actions, and answer each at most
/// once.
///
/// **principle** after `request (path, ...fields) : (request)`, a sync calls
/// `respond (request, ...fields)`, whose fields become the answer's body, or
/// `respondWith (request, code, body)`, which also chooses the answer's code.
/// A second answer to the same request is an error; the first one stands.
///
/// **roles** `request` is the entry action (routes are URL path templates
/// in `path`, flows on one route differ by `method`); `respond` and
/// `respondWith` are its responders.
///
/// **state** a set of pending requests, each with an optional answer. The
/// request id is the id of the flow the request started. Pending requests
/// live in this process: they belong to live connections. A request this
/// process never saw (its flow was interrupted and resumed here) can be
/// answered: its connection is gone, and the answer stays in the record.
impl Requesting {
    /// A request arrives at `path` with any further fields.
    pub fn request(&self, ctx: &mut ActionContext, path: String, #[rest] fields: Record) -> RequestOut {
        let _ = (path, fields);
        let request = ctx.flow().to_string();
        self.lock().entry(request.clone()).or_default();
        RequestOut { request }
    }

    /// Answers `request`; its other fields are the body.
    pub fn respond(&self, request: String, #[rest] fields: Record) -> Result<(), String> {
        self.answer(
            &request,
            Response {
                code: None,
                body: Value::Object(fields),
            },
        )
    }

    /// Answers `request` with a chosen code and body (an object, or nothing).
    pub fn respond_with(&self, request: String, code: i64, body: Option<Value>) -> Result<(), String> {
        let body = match body {
            None | Some(Value::Null) => Value::Object(Record::new()),
            Some(b @ Value::Object(_)) => b,
            Some(other) => return Err(format!("the body must be an object, not {other}")),
        };
        self.answer(&request, Response { code: Some(code), body })
    }
}

impl Requesting {
    /// A new, empty concept.
    pub fn new() -> Self {
        Self::default()
    }

    fn answer(&self, request: &str, response: Response) -> Result<(), String> {
        let mut pending = self.lock();
        let Some(p) = pending.get_mut(request) else {
            // A request this process never saw: its flow was interrupted
            // (a crash, a restart) and resumed here. Its connection is gone;
            // the answer stays in the flow's record, for `trace`.
            tracing::info!(
                target: "concord::http",
                "request {request} was answered after its flow resumed; its connection is gone"
            );
            return Ok(());
        };
        if p.answered {
            return Err(format!("request `{request}` was already answered"));
        }
        p.answered = true;
        // A waiting connection takes the answer; otherwise it is kept for
        // `take_response`.
        match p.waiter.take() {
            Some(waiter) => {
                let _ = waiter.send(response);
            }
            None => p.answer = Some(response),
        }
        Ok(())
    }

    /// Registers interest in the answer to the request that flow `request`
    /// will start (call before starting the flow).
    pub fn expect(&self, request: &str) -> oneshot::Receiver<Response> {
        let (tx, rx) = oneshot::channel();
        self.lock().entry(request.to_string()).or_default().waiter = Some(tx);
        rx
    }

    /// Takes the answer of a request and forgets the request. `None` if it
    /// has not been answered (it stays pending) or is unknown.
    pub fn take_response(&self, request: &str) -> Option<Record> {
        let mut pending = self.lock();
        let answered = pending.get(request).is_some_and(|p| p.answer.is_some());
        if !answered {
            return None;
        }
        match pending.remove(request).and_then(|p| p.answer).map(|a| a.body) {
            Some(Value::Object(m)) => Some(m),
            _ => None,
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
    use concord_concept::{Concept, FlowId, Outcome, RecordId};

    fn fields(pairs: &[(&str, Value)]) -> Record {
        pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
    }

    #[tokio::test]
    async fn answers_each_request_once_and_wakes_the_waiter() {
        let r = Requesting::new();
        let flow = FlowId::fresh();
        let waiter = r.expect(&flow.to_string());
        let mut ctx = ActionContext::new(flow, RecordId::fresh());
        let input = fields(&[("path", "/x".into()), ("name", "ada".into())]);
        let Outcome::Success(out) = r.perform(&mut ctx, "request", &input).await else {
            panic!()
        };
        let id = out["request"].as_str().unwrap().to_string();
        assert_eq!(id, flow.to_string(), "the request id is the flow id");
        let respond = fields(&[("request", id.clone().into()), ("greeting", "hi".into())]);
        assert_eq!(
            r.perform(&mut ctx, "respond", &respond).await,
            Outcome::Success(Record::new())
        );
        let again = fields(&[("request", id.clone().into()), ("code", 500.into())]);
        assert_eq!(
            r.perform(&mut ctx, "respondWith", &again).await,
            Outcome::Error(format!("request `{id}` was already answered"))
        );
        let got = waiter.await.unwrap();
        assert_eq!(got.code, None);
        assert_eq!(got.body, serde_json::json!({"greeting": "hi"}));
        r.forget(&id);
        assert_eq!(r.pending_count(), 0);
    }

    #[tokio::test]
    async fn respond_with_sets_a_code() {
        let r = Requesting::new();
        let flow = FlowId::fresh();
        let mut ctx = ActionContext::new(flow, RecordId::fresh());
        r.perform(&mut ctx, "request", &fields(&[("path", "/x".into())])).await;
        let input = fields(&[
            ("request", flow.to_string().into()),
            ("code", 422.into()),
            ("body", serde_json::json!({"errors": {"body": ["can't be empty"]}})),
        ]);
        assert_eq!(
            r.perform(&mut ctx, "respondWith", &input).await,
            Outcome::Success(Record::new())
        );
        assert_eq!(
            r.take_response(&flow.to_string()).unwrap()["errors"]["body"][0],
            "can't be empty"
        );
    }

    #[tokio::test]
    async fn a_resumed_flows_answer_for_a_gone_connection_is_accepted() {
        // After a restart, a resumed flow answers a request this process
        // never saw: the answer succeeds (it stays in the flow's record).
        let r = Requesting::new();
        let mut ctx = ActionContext::new(FlowId::fresh(), RecordId::fresh());
        let input = fields(&[("request", "from-before-the-crash".into()), ("ok", true.into())]);
        assert_eq!(
            r.perform(&mut ctx, "respond", &input).await,
            Outcome::Success(Record::new())
        );
        assert_eq!(r.pending_count(), 0, "nothing is kept for it");
    }

    #[test]
    fn signature_is_open_for_fields() {
        let spec = Requesting::new().spec();
        let request = spec.action("request").unwrap();
        assert!(request.open_params);
        assert_eq!(request.success, vec![vec!["request".to_string()]]);
        assert!(!request.error);
        assert!(spec.action("respond").unwrap().error);
        assert!(!spec.action("respondWith").unwrap().open_params);
    }

    #[test]
    fn the_spec_declares_the_entry_and_its_responders() {
        use concord_concept::{ActionRole, EntryRole};
        let spec = Requesting::new().spec();
        assert_eq!(
            spec.action("request").unwrap().role,
            ActionRole::Entry(EntryRole {
                route_key: "path".into(),
                method_key: Some("method".into()),
                templates: true,
            })
        );
        let responders: Vec<&str> = spec.responders().map(|a| a.name.as_str()).collect();
        assert_eq!(responders, ["respond", "respondWith"]);
    }
}
