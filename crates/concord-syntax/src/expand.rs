//! `else` expansion: a where step with `else X` becomes, besides the sync
//! itself, a companion sync with the same when clause, the steps before it,
//! the step negated (`not Q (...)` for a query `Q (...) : (...)`, `!(e)` for a
//! filter `e`), and `then X`. The companion is named `<Sync>.else<n>`, `n`
//! being the step's position (1-based), and keeps the original spans, so
//! diagnostics, traces and explanations point at what was written.
//! [`render`] prints the expansion as plain `.sync` text.

use crate::ast::{Expr, ExprKind, Ident, QueryMode, Step, Sync, UnOp};
use crate::source::Span;

/// The companion syncs of `sync`'s `else` clauses, in step order.
pub fn companions(sync: &Sync) -> Vec<Sync> {
    let mut out: Vec<Sync> = Vec::new();
    let mut elses: Vec<_> = sync.otherwise.iter().collect();
    elses.sort_by_key(|o| o.step);
    for o in elses {
        let Some(step) = sync.where_steps.get(o.step) else {
            continue;
        };
        let negated = match step {
            Step::Query {
                mode: QueryMode::Join,
                pattern,
                span,
            } => Step::Query {
                mode: QueryMode::Not,
                pattern: crate::ast::Pattern {
                    outputs: None,
                    ..pattern.clone()
                },
                span: *span,
            },
            Step::Filter(e) => Step::Filter(negation(e)),
            _ => continue,
        };
        let mut where_steps = sync.where_steps[..o.step].to_vec();
        where_steps.push(negated);
        out.push(Sync {
            name: Ident {
                name: companion_name(&sync.name.name, o.step),
                span: sync.name.span,
            },
            span: sync.span,
            when_span: sync.when_span,
            when: sync.when.clone(),
            where_steps,
            then_span: Some(o.keyword),
            then: vec![o.invocation.clone()],
            otherwise: Vec::new(),
            generated: true,
            recovered: sync.recovered,
        });
    }
    out
}

/// The variables `sync`'s `else` invocations use (so that a variable bound
/// for them only does not count as unused in the sync itself).
pub fn else_variables(sync: &Sync) -> Vec<String> {
    fn walk(e: &Expr, out: &mut Vec<String>) {
        match &e.kind {
            ExprKind::Var(v) => out.push(v.clone()),
            ExprKind::Lit(_) => {}
            ExprKind::Field(b, _) | ExprKind::Unary(_, b) => walk(b, out),
            ExprKind::Object(fields) => fields.iter().for_each(|(_, v)| walk(v, out)),
            ExprKind::List(items) | ExprKind::Call(_, items) => items.iter().for_each(|i| walk(i, out)),
            ExprKind::Binary(_, a, b) => {
                walk(a, out);
                walk(b, out);
            }
        }
    }
    let mut out = Vec::new();
    for o in &sync.otherwise {
        for arg in &o.invocation.args {
            match &arg.value {
                crate::ast::ArgValue::Shorthand => out.push(arg.key.name.clone()),
                crate::ast::ArgValue::Expr(e) => walk(e, &mut out),
                crate::ast::ArgValue::Wildcard(_) => {}
            }
        }
    }
    out
}

/// `!e`, or `e` for `!e`.
fn negation(e: &Expr) -> Expr {
    match &e.kind {
        ExprKind::Unary(UnOp::Not, inner) => (**inner).clone(),
        _ => Expr {
            kind: ExprKind::Unary(UnOp::Not, Box::new(e.clone())),
            span: e.span,
        },
    }
}

/// `CurrentUser.else1` for an `else` under the first where step.
pub fn companion_name(sync: &str, step: usize) -> String {
    format!("{sync}.else{}", step + 1)
}

/// The sync as the engine runs it — without its `else` lines — followed by
/// its companions, as `.sync` text built from `source`.
pub fn render(source: &str, sync: &Sync) -> String {
    let text = |span: Span| source.get(span.start as usize..span.end as usize).unwrap_or("");
    let block = |name: &str, when: &[String], steps: &[String], then: &[String]| {
        let mut s = format!("sync {name}\nwhen\n");
        for w in when {
            s.push_str(&format!("    {w}\n"));
        }
        if !steps.is_empty() {
            s.push_str("where\n");
            for st in steps {
                s.push_str(&format!("    {st}\n"));
            }
        }
        s.push_str("then\n");
        for t in then {
            s.push_str(&format!("    {t}\n"));
        }
        s
    };
    let when: Vec<String> = sync.when.iter().map(|p| text(p.span).to_string()).collect();
    let steps: Vec<String> = sync.where_steps.iter().map(|s| text(s.span()).to_string()).collect();
    let then: Vec<String> = sync.then.iter().map(|p| text(p.span).to_string()).collect();
    let mut out = block(&sync.name.name, &when, &steps, &then);
    let mut elses: Vec<_> = sync.otherwise.iter().collect();
    elses.sort_by_key(|o| o.step);
    for o in elses {
        let mut prefix: Vec<String> = steps[..o.step.min(steps.len())].to_vec();
        let negated = match sync.where_steps.get(o.step) {
            Some(Step::Query { pattern, .. }) => format!(
                "not {}",
                text(Span {
                    start: pattern.span.start,
                    end: pattern.args_span.end,
                })
            ),
            Some(Step::Filter(e)) => match &negation(e) {
                Expr {
                    kind: ExprKind::Unary(UnOp::Not, inner),
                    ..
                } => format!("!({})", text(inner.span)),
                positive => text(positive.span).to_string(),
            },
            _ => continue,
        };
        prefix.push(negated);
        out.push('\n');
        out.push_str(&block(
            &companion_name(&sync.name.name, o.step),
            &when,
            &prefix,
            &[text(o.invocation.span).to_string()],
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::FileId;

    const SRC: &str = r#"sync CurrentUser
when
    Requesting.request (path: "/user", token?) : (request)
where
    JWT._verify (token) : (user)
        else Requesting.respondWith (request, code: 401, body: {})
    let name = "x"
    len(name) > 3
        else Requesting.respondWith (request, code: 422, body: {})
then
    Requesting.respond (request, user)
"#;

    #[test]
    fn each_else_becomes_a_companion_with_the_step_negated() {
        let (file, diags) = crate::parse(FileId(0), SRC);
        assert!(diags.is_empty(), "{diags:?}");
        let sync = &file.syncs[0];
        assert_eq!(sync.otherwise.len(), 2);
        let companions = companions(sync);
        assert_eq!(companions.len(), 2);
        assert_eq!(companions[0].name.name, "CurrentUser.else1");
        assert!(matches!(
            &companions[0].where_steps[..],
            [Step::Query { mode: QueryMode::Not, pattern, .. }] if pattern.outputs.is_none()
        ));
        assert_eq!(companions[1].name.name, "CurrentUser.else3");
        assert_eq!(companions[1].where_steps.len(), 3);
        assert!(companions.iter().all(|c| c.generated && c.then.len() == 1));
        assert_eq!(
            render(SRC, sync),
            r#"sync CurrentUser
when
    Requesting.request (path: "/user", token?) : (request)
where
    JWT._verify (token) : (user)
    let name = "x"
    len(name) > 3
then
    Requesting.respond (request, user)

sync CurrentUser.else1
when
    Requesting.request (path: "/user", token?) : (request)
where
    not JWT._verify (token)
then
    Requesting.respondWith (request, code: 401, body: {})

sync CurrentUser.else3
when
    Requesting.request (path: "/user", token?) : (request)
where
    JWT._verify (token) : (user)
    let name = "x"
    !(len(name) > 3)
then
    Requesting.respondWith (request, code: 422, body: {})
"#
        );
    }
}
