//! The `serve`, `routes`, `trace` and `why` commands.

use std::collections::HashMap;
use std::time::Duration;

use concord_http::HttpEntry;
use concord_program::OutcomeMatch;

use crate::App;

pub(crate) async fn serve(app: App) -> Result<(), String> {
    let settings = app.settings_in_force().map_err(|e| e.to_string())?;
    let mut config = settings.http.clone();
    config.passthrough = app.passthrough_routes()?;
    let specs = app.specs();
    let entry = HttpEntry::of(&app.requesting());
    let (syncs_dir, watch_specs) = app.watcher();
    let served = app.serve_with(config.clone()).await.map_err(|e| e.to_string())?;
    let engine = served.engine.clone();
    if config.dev {
        crate::watch_syncs(engine.clone(), syncs_dir.clone(), watch_specs, Duration::from_secs(1));
        tracing::info!(target: "concord::reload", "development mode: watching {} for changes", syncs_dir.display());
    }
    let (host, port) = (settings.host.as_str(), settings.port);
    let listener = tokio::net::TcpListener::bind((host, port))
        .await
        .map_err(|e| format!("cannot listen on {host}:{port}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let program = engine.program();
    let routes = entry.routes(&program);
    let mut listing = String::new();
    for path in routes.paths() {
        listing.push_str(&format!("\n  {}{}", config.base, path));
    }
    for r in config.passthrough.routes() {
        listing.push_str(&format!(
            "\n  POST {}/{}/{}  (passthrough: {})",
            config.base, r.concept, r.name, r.justification
        ));
    }
    let invoked: Vec<String> = program
        .all_syncs()
        .into_iter()
        .flat_map(|s| s.then.iter().map(|i| format!("{}.{}", i.concept, i.action)))
        .collect();
    let unreached: Vec<String> = specs
        .iter()
        // An entry concept's actions are reached from outside.
        .filter(|s| s.entries().next().is_none())
        .flat_map(|s| s.actions.iter().map(move |a| format!("{}.{}", s.name, a.name)))
        .filter(|a| {
            !invoked.contains(a)
                && !config
                    .passthrough
                    .routes()
                    .iter()
                    .any(|r| format!("{}.{}", r.concept, r.name) == *a)
        })
        .collect();
    tracing::info!(target: "concord::http", "served routes:{listing}");
    if !unreached.is_empty() {
        tracing::info!(target: "concord::http", "actions no route reaches: {}", unreached.join(", "));
    }
    println!("listening on http://{addr}{}", config.base);
    if config.dev {
        println!("flow explorer: http://{addr}/_concord/");
    }
    let stop = async {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!(target: "concord::http", "shutting down");
    };
    concord_http::serve_until(listener, served.router, settings.connections.clone(), stop)
        .await
        .map_err(|e| e.to_string())?;
    // Records of actions that changed no state are written in batches.
    engine.flush_log().await;
    Ok(())
}

/// `routes`: each request path, the syncs that handle it, and what each
/// responding sync answers.
pub(crate) fn routes(app: &App) -> Result<(), String> {
    let settings = app.settings_in_force().map_err(|e| e.to_string())?;
    let program = app.program().map_err(|e| e.to_string())?;
    let entry = HttpEntry::of(&app.requesting());
    let table = entry.routes(&program);
    let syncs = program.all_syncs();
    let mut routes: Vec<_> = table.routes().iter().collect();
    routes.sort_by(|a, b| a.template.as_str().cmp(b.template.as_str()));
    for route in routes {
        println!("{}{}", settings.http.base, route.template);
        for s in route.syncs.iter().map(|&i| syncs[i]) {
            let waits: Vec<String> = s
                .when
                .iter()
                .filter(|p| !entry.is_entry(&p.concept, &p.action))
                .map(|p| {
                    let outcome = match &p.outcome {
                        OutcomeMatch::Success(_) => "succeeds",
                        OutcomeMatch::Error(_) => "fails",
                        OutcomeMatch::Any => "ends",
                    };
                    format!("{}.{} {outcome}", p.concept, p.action)
                })
                .collect();
            let responds = s.then.iter().any(|i| i.responds);
            let does: Vec<String> = s.then.iter().map(|i| format!("{}.{}", i.concept, i.action)).collect();
            let when = if waits.is_empty() {
                "on the request".to_string()
            } else {
                format!("when {}", waits.join(" and "))
            };
            let verb = if responds { "responds" } else { "invokes" };
            println!("  {:<36} {verb} {when}: {}", s.name, does.join(", "));
        }
    }
    let secrets = concord_program::SecretMap::derive(&program, &app.specs());
    println!("\nredacted in every record, trace and log row:");
    print!("{secrets}");
    let names = app.secret_key_names();
    if !names.is_empty() {
        println!("  and, at any depth, keys containing {}", names.join(", "));
    }
    Ok(())
}

/// `routes --openapi`: the API as an OpenAPI 3.1 document, from the syncs.
pub(crate) fn openapi(app: &App) -> Result<(), String> {
    let settings = app.settings_in_force().map_err(|e| e.to_string())?;
    let program = app.program().map_err(|e| e.to_string())?;
    let entry = HttpEntry::of(&app.requesting());
    let title = std::env::args()
        .next()
        .and_then(|p| {
            std::path::Path::new(&p)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "concord app".into());
    let mut config = settings.http;
    if let Some(shape) = app.error_shape_chosen() {
        config.error_shape = shape;
    }
    let document = concord_http::openapi::document(&program, &app.specs(), &entry, &config, &title);
    println!(
        "{}",
        serde_json::to_string_pretty(&document).map_err(|e| e.to_string())?
    );
    Ok(())
}

/// `trace [FLOW]`: a persisted flow as a tree, or the recent flows.
pub(crate) async fn trace(app: &App, flow: Option<&str>) -> Result<(), String> {
    let store = concord_store::open(&app.database_url())
        .await
        .map_err(|e| e.to_string())?;
    match flow {
        Some(flow) => {
            let entries = store.flow_log(flow.to_string()).await.map_err(|e| e.to_string())?;
            if entries.is_empty() {
                return Err(format!("no flow `{flow}` in the log (it may have been pruned)"));
            }
            let resumptions = store.resumptions(flow.to_string()).await.map_err(|e| e.to_string())?;
            print!("{}", render_trace(&entries, &resumptions));
            if let Some(owner) = store
                .open_flow_owner(flow.to_string())
                .await
                .map_err(|e| e.to_string())?
            {
                println!("{}", open_flow_note(&owner));
            }
        }
        None => {
            let now = concord_store::now_micros();
            let flows = store.flows(0, now + 1, 20).await.map_err(|e| e.to_string())?;
            for f in flows {
                println!(
                    "{}  {:>3} action(s)  {:>8.1} ms",
                    f.flow,
                    f.actions,
                    (f.completed_at - f.started_at) as f64 / 1000.0
                );
            }
        }
    }
    Ok(())
}

/// `why FLOW [SYNC]`: for a logged flow, the syncs that came close to firing
/// and why they did not (only SYNC's line if given).
pub(crate) async fn why(app: App, flow: &str, sync: Option<&str>) -> Result<(), String> {
    let url = app.database_url();
    let engine = app.load().await.map_err(|e| e.to_string())?;
    let store = concord_store::open(&url).await.map_err(|e| e.to_string())?;
    let entries = store.flow_log(flow.to_string()).await.map_err(|e| e.to_string())?;
    if entries.is_empty() {
        return Err(format!("no flow `{flow}` in the log (it may have been pruned)"));
    }
    for r in store.resumptions(flow.to_string()).await.map_err(|e| e.to_string())? {
        println!("{}", resumption_line(&r));
    }
    if let Some(owner) = store
        .open_flow_owner(flow.to_string())
        .await
        .map_err(|e| e.to_string())?
    {
        // An open flow has not done everything yet: what did not fire may
        // still fire, so there is nothing to explain.
        println!("{}", open_flow_note(&owner));
        return Ok(());
    }
    let report = concord_engine::FlowReport::from_log(&entries);
    let misses = engine.explain(&report).await;
    let fired: Vec<&str> = report.records.iter().filter_map(|r| r.sync.as_deref()).collect();
    match sync {
        Some(name) if fired.contains(&name) => println!("{name} fired in this flow"),
        Some(name) => match misses.iter().find(|m| m.sync == name) {
            Some(m) => println!("{m}"),
            None => println!("{name}: none of its patterns is close to a record of this flow"),
        },
        None if misses.is_empty() => println!("no sync came close to firing without firing"),
        None => misses.iter().for_each(|m| println!("{m}")),
    }
    Ok(())
}

/// What `trace` and `why` say of a flow whose journal is still open.
fn open_flow_note(owner: &str) -> String {
    format!(
        "this flow is not finished: it is running on node {owner}, or was interrupted there and will be \
         resumed when that node starts again (or by another node once its lease expires)"
    )
}

/// `-- interrupted; resumed at … by node … from record #N --`
fn resumption_line(r: &concord_concept::state::Resumption) -> String {
    format!(
        "-- interrupted on node {}; resumed at {} by node {} from record #{} \
         (its connection was gone: any answer from here on was recorded, not sent) --",
        r.previous_owner,
        concord_concept::time::iso(r.at / 1000),
        r.node,
        r.from_seq
    )
}

/// A flow's records as a tree: each record under the most recent record its
/// sync matched, with the sync's name before it, and a line where the flow
/// was interrupted and resumed.
pub fn render_trace(
    entries: &[concord_concept::state::LogEntry],
    resumptions: &[concord_concept::state::Resumption],
) -> String {
    use std::fmt::Write as _;
    let index: HashMap<&str, usize> = entries.iter().enumerate().map(|(i, e)| (e.id.as_str(), i)).collect();
    let mut depth = vec![0usize; entries.len()];
    for (i, e) in entries.iter().enumerate() {
        let parent = e.matched.iter().filter_map(|m| index.get(m.as_str())).max();
        depth[i] = parent.map_or(0, |&p| depth[p] + 1);
    }
    let json = |r: &concord_concept::Record| serde_json::Value::Object(r.clone()).to_string();
    let mut out = String::new();
    if let (Some(first), Some(last)) = (entries.first(), entries.last()) {
        let _ = writeln!(
            out,
            "flow {}: {} action(s), {:.1} ms",
            first.flow,
            entries.len(),
            (last.completed_at - first.started_at) as f64 / 1000.0
        );
    }
    for (e, d) in entries.iter().zip(&depth) {
        for r in resumptions.iter().filter(|r| r.from_seq == e.seq) {
            let _ = writeln!(out, "{}", resumption_line(r));
        }
        let sync = e.sync.as_deref().map(|s| format!("[{s}] ")).unwrap_or_default();
        let mark = if e.error { "  (error)" } else { "" };
        let _ = writeln!(
            out,
            "{}{sync}{}.{} {} => {}{mark}",
            "  ".repeat(*d),
            e.concept,
            e.action,
            json(&e.input),
            json(&e.output)
        );
    }
    let last = entries.last().map_or(0, |e| e.seq + 1);
    for r in resumptions.iter().filter(|r| r.from_seq >= last) {
        let _ = writeln!(out, "{}", resumption_line(r));
    }
    out
}
