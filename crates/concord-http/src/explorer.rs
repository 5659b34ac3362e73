//! The flow explorer: a page served in development mode only, under
//! `/_concord/`, showing recent flows (request path, status, duration), a
//! flow as a tree of actions and the syncs between them (inputs and outputs
//! on click, errors highlighted), the syncs that came close to firing and
//! why not, and the sync graph.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use concord_concept::Value;
use concord_engine::FlowReport;
use serde_json::json;

use crate::Shared;

/// The page.
pub(crate) async fn page() -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], PAGE).into_response()
}

/// The sync graph, as SVG.
pub(crate) async fn graph(State(shared): State<Arc<Shared>>) -> Response {
    let svg = concord_program::graph::svg(&shared.engine.program());
    ([(header::CONTENT_TYPE, "image/svg+xml")], svg).into_response()
}

fn no_log() -> Response {
    crate::error(StatusCode::NOT_FOUND, "the explorer has no action log to read")
}

/// Recent flows with their request path, answer status and duration.
pub(crate) async fn flows(State(shared): State<Arc<Shared>>) -> Response {
    let Some(store) = shared.explorer.as_ref() else {
        return no_log();
    };
    let now = concord_store::now_micros();
    let list = match store.flows(0, now + 1, 50).await {
        Ok(l) => l,
        Err(e) => return crate::error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    let mut out = Vec::new();
    for f in list {
        let entries = store.flow_log(f.flow.clone()).await.unwrap_or_default();
        let root = entries.first();
        let entry = &shared.entry;
        let field = |key: Option<&str>| {
            root.zip(key)
                .and_then(|(e, key)| e.input.get(key))
                .cloned()
                .unwrap_or(Value::Null)
        };
        let path = field(Some(&entry.route_key));
        let method = field(entry.method_key.as_deref());
        let title = match root {
            Some(e) if entry.is_entry(&e.concept, &e.action) => Value::Null,
            Some(e) => Value::from(format!("{}.{}", e.concept, e.action)),
            None => Value::Null,
        };
        out.push(json!({
            "flow": f.flow,
            "path": path,
            "method": method,
            "title": title,
            "status": status_of(entry, &entries),
            "actions": f.actions,
            "errors": entries.iter().filter(|e| e.error).count(),
            "durationMs": (f.completed_at - f.started_at) as f64 / 1000.0,
        }));
    }
    crate::json_response(StatusCode::OK, Value::from(out))
}

/// The answer's status: the code a responder with a `code` chose
/// (`respondWith`), 200 for one without (`respond`), or null when nothing
/// answered.
fn status_of(entry: &crate::HttpEntry, entries: &[concord_concept::state::LogEntry]) -> Value {
    for e in entries.iter().filter(|e| !e.error) {
        match entry.responder(&e.concept, &e.action) {
            Some(params) if params.iter().any(|p| p == "code") => {
                return e.input.get("code").cloned().unwrap_or(Value::Null);
            }
            Some(_) => return Value::from(200),
            None => {}
        }
    }
    Value::Null
}

/// One flow: its records as a tree, and the syncs that came close.
pub(crate) async fn flow(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let Some(store) = shared.explorer.as_ref() else {
        return no_log();
    };
    let entries = match store.flow_log(id.clone()).await {
        Ok(e) if !e.is_empty() => e,
        Ok(_) => return crate::error(StatusCode::NOT_FOUND, format!("no flow `{id}` in the log")),
        Err(e) => return crate::error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    let index: std::collections::HashMap<&str, usize> =
        entries.iter().enumerate().map(|(i, e)| (e.id.as_str(), i)).collect();
    let mut depth = vec![0usize; entries.len()];
    let mut records = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let parent = e.matched.iter().filter_map(|m| index.get(m.as_str())).max();
        depth[i] = parent.map_or(0, |&p| depth[p] + 1);
        records.push(json!({
            "seq": e.seq,
            "depth": depth[i],
            "action": format!("{}.{}", e.concept, e.action),
            "sync": e.sync,
            "input": Value::Object(e.input.clone()),
            "output": Value::Object(e.output.clone()),
            "error": e.error,
            "ms": (e.completed_at - e.started_at) as f64 / 1000.0,
        }));
    }
    let resumptions: Vec<Value> = store
        .resumptions(id.clone())
        .await
        .unwrap_or_default()
        .iter()
        .map(|r| {
            json!({
                "at": concord_concept::time::iso(r.at / 1000),
                "node": r.node,
                "previousOwner": r.previous_owner,
                "fromSeq": r.from_seq,
            })
        })
        .collect();
    let open = store.open_flow_owner(id.clone()).await.unwrap_or_default();
    // An open flow may still do what has not happened yet: nothing to explain.
    let near_misses = match open {
        Some(_) => Vec::new(),
        None => {
            let report = FlowReport::from_log(&entries);
            shared
                .engine
                .explain(&report)
                .await
                .iter()
                .map(ToString::to_string)
                .collect()
        }
    };
    let body = json!({
        "flow": id,
        "status": status_of(&shared.entry, &entries),
        "records": records,
        "resumptions": resumptions,
        "openOn": open,
        "nearMisses": near_misses,
    });
    crate::json_response(StatusCode::OK, body)
}

const PAGE: &str = r##"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>concord flow explorer</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; display: grid; grid-template-columns: 380px 1fr; height: 100vh; }
  nav { border-right: 1px solid #ddd; overflow: auto; }
  nav h1 { font-size: 15px; margin: 12px; }
  .flow { padding: 6px 12px; cursor: pointer; border-bottom: 1px solid #f0f0f0; display: flex; gap: 8px; }
  .flow:hover, .flow.selected { background: #eef3fb; }
  .status { font-weight: bold; min-width: 34px; }
  .resumed { margin: 6px 0; padding: 4px 8px; background: #fff4d6; border-left: 3px solid #e0a800; }
  .s2 { color: #2a7a2a; } .s4 { color: #b36b00; } .s5, .none { color: #c0392b; }
  .path { flex: 1; font-family: ui-monospace, monospace; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
  .ms { color: #888; }
  main { overflow: auto; padding: 12px 20px; }
  .record { font-family: ui-monospace, monospace; padding: 3px 6px; cursor: pointer; border-left: 3px solid #4a6fa5; margin: 2px 0; }
  .record.error { border-left-color: #c0392b; background: #fdf0ee; }
  .sync { color: #4a6fa5; }
  pre { background: #f7f7f7; padding: 6px; margin: 4px 0 8px; white-space: pre-wrap; }
  .misses li { font-family: ui-monospace, monospace; }
  img { max-width: 100%; border: 1px solid #eee; margin-top: 8px; }
</style>
</head>
<body>
<nav><h1>Recent flows</h1><div id="flows">loading…</div></nav>
<main>
  <div id="detail"><p>Select a flow.</p></div>
  <h2>Sync graph</h2>
  <img src="/_concord/graph.svg" alt="sync graph: concepts and the syncs between them">
</main>
<script>
const esc = s => String(s).replace(/[&<>"]/g, c => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c]));
async function loadFlows() {
  const flows = await (await fetch('/_concord/api/flows')).json();
  const box = document.getElementById('flows');
  box.innerHTML = flows.map(f => {
    const s = f.status == null ? 'none' : 's' + String(f.status)[0];
    const label = f.path != null ? (f.method || '') + ' ' + f.path : f.title;
    return `<div class="flow" data-flow="${f.flow}"><span class="status ${s}">${f.status ?? '—'}</span>` +
      `<span class="path">${esc(label)}</span><span class="ms">${f.durationMs.toFixed(1)} ms</span></div>`;
  }).join('') || '<p style="margin:12px">No flows yet.</p>';
  box.querySelectorAll('.flow').forEach(el => el.onclick = () => { location.hash = 'flow=' + el.dataset.flow; });
}
async function showFlow(id) {
  document.querySelectorAll('.flow').forEach(el => el.classList.toggle('selected', el.dataset.flow === id));
  const f = await (await fetch('/_concord/api/flows/' + id)).json();
  const resumed = seq => f.resumptions.filter(r => r.fromSeq === seq).map(r =>
    `<div class="resumed">interrupted on node ${esc(r.previousOwner)}; resumed at ${esc(r.at)} by node ${esc(r.node)} ` +
    `from record #${r.fromSeq} (its connection was gone: answers from here on were recorded, not sent)</div>`).join('');
  const open = f.openOn == null ? '' :
    `<div class="resumed">not finished: running on node ${esc(f.openOn)}, or interrupted there and awaiting resumption</div>`;
  const rows = f.records.map((r, i) => resumed(r.seq) +
    `<div class="record${r.error ? ' error' : ''}" style="margin-left:${r.depth * 24}px" data-i="${i}">` +
    (r.sync ? `<span class="sync">[${esc(r.sync)}]</span> ` : '') + `${esc(r.action)}` +
    `<pre hidden>input  ${esc(JSON.stringify(r.input, null, 2))}\noutput ${esc(JSON.stringify(r.output, null, 2))}</pre></div>`).join('');
  const misses = f.nearMisses.length
    ? '<h3>Syncs that came close</h3><ul class="misses">' + f.nearMisses.map(m => `<li>${esc(m)}</li>`).join('') + '</ul>'
    : '';
  document.getElementById('detail').innerHTML =
    `<h2>Flow ${esc(f.flow)} — ${f.status ?? 'no answer'}</h2>` + open + rows + misses;
  document.querySelectorAll('.record').forEach(el => el.onclick = () => { const p = el.querySelector('pre'); p.hidden = !p.hidden; });
}
function route() { const m = location.hash.match(/flow=([\w-]+)/); if (m) showFlow(m[1]); }
window.onhashchange = route;
loadFlows().then(route);
</script>
</body>
</html>
"##;
