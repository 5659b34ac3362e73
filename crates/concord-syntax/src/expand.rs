//! Shorthand with a visible expansion.
//!
//! **Views**: a where step `View (param: expr) : (output: var)` is replaced
//! by the steps of the view of that name in the same file, its variables
//! renamed (`slug` → `slug@View1`) so they cannot meet the caller's, with
//! `let` steps binding the parameters before and the outputs after
//! ([`inline_views`]).
//!
//! **`else`**: a where step with `else X` becomes, besides the sync
//! itself, a companion sync with the same when clause, the steps before it,
//! the step negated (`not Q (...)` for a query `Q (...) : (...)`, `!(e)` for a
//! filter `e`), and `then X`. The companion is named `<Sync>.else<n>`, `n`
//! being the step's position (1-based), and keeps the original spans, so
//! diagnostics, traces and explanations point at what was written.
//! [`render`] prints the expansion as plain `.sync` text.

use std::collections::HashMap;

use crate::ast::{
    Arg, ArgValue, Expr, ExprKind, File, Ident, Lit, Outputs, Pattern, QueryMode, Step, Sync, UnOp, View,
};
use crate::diagnostic::Diagnostic;
use crate::source::{FileId, Span};

/// Replaces every use of a view in `file`'s syncs by the view's steps.
/// Problems (an unknown view, a missing or unknown argument, a view that
/// uses a view) are returned as diagnostics and mark the sync `recovered`.
pub fn inline_views(file_id: FileId, file: &mut File) -> Vec<Diagnostic> {
    let mut diags = Vec::new();
    let mut seen: HashMap<&str, Span> = HashMap::new();
    for v in &file.views {
        if let Some(first) = seen.insert(&v.name.name, v.name.span) {
            diags.push(
                Diagnostic::error(
                    "E0112",
                    format!("duplicate view name `{}`", v.name.name),
                    file_id,
                    v.name.span,
                )
                .with_secondary(file_id, first, "first defined here")
                .with_help("rename one of them"),
            );
        }
    }
    let views = file.views.clone();
    for sync in &mut file.syncs {
        inline_sync(sync, &views, file_id, &mut diags);
    }
    diags
}

/// Replaces the view uses in one sync's where clause (see [`inline_views`]);
/// problems go to `diags` and mark the sync `recovered`. Returns, for each
/// step as written, the range of steps it became (a view's use becomes its
/// steps; any other step stays one).
pub fn inline_sync(
    sync: &mut Sync,
    views: &[View],
    file_id: FileId,
    diags: &mut Vec<Diagnostic>,
) -> Vec<std::ops::Range<usize>> {
    let identity = |n: usize| (0..n).map(|i| i..i + 1).collect();
    if sync.recovered || !uses_views(sync) {
        return identity(sync.where_steps.len());
    }
    let before = diags.len();
    let mut counter = 0;
    let mut ranges = Vec::new();
    let mut inlined = Vec::new();
    for step in std::mem::take(&mut sync.where_steps) {
        let start = inlined.len();
        inlined.extend(inline_steps(
            vec![step],
            views,
            file_id,
            &mut counter,
            &mut Vec::new(),
            diags,
        ));
        ranges.push(start..inlined.len());
    }
    sync.where_steps = inlined;
    if diags.len() > before {
        sync.recovered = true;
    }
    ranges
}

/// Most view uses one sync may expand to (views using views multiply).
const MAX_USES: usize = 1000;

/// Whether the sync's where clause uses a view.
pub fn uses_views(sync: &Sync) -> bool {
    first_use(&sync.where_steps).is_some()
}

fn first_use(steps: &[Step]) -> Option<Span> {
    steps.iter().find_map(|s| match s {
        Step::Use { name, .. } => Some(name.span),
        Step::Collect { steps, .. } => first_use(steps),
        _ => None,
    })
}

/// `active`: the views being inlined around these steps (a view that uses
/// itself, directly or not, would never end).
fn inline_steps(
    steps: Vec<Step>,
    views: &[View],
    file: FileId,
    counter: &mut usize,
    active: &mut Vec<String>,
    diags: &mut Vec<Diagnostic>,
) -> Vec<Step> {
    let mut out = Vec::new();
    for step in steps {
        match step {
            Step::Use {
                name,
                args,
                outputs,
                negated,
                span,
            } => {
                let Some(view) = views.iter().find(|v| v.name.name == name.name) else {
                    let known: Vec<&str> = views.iter().map(|v| v.name.name.as_str()).collect();
                    diags.push(
                        Diagnostic::error(
                            "E0112",
                            format!("no view named `{}` in this file", name.name),
                            file,
                            name.span,
                        )
                        .with_help(if known.is_empty() {
                            "define it in this file: `view Name (param) : (output)` followed by its steps".to_string()
                        } else {
                            format!("the views of this file are: {}", known.join(", "))
                        }),
                    );
                    continue;
                };
                if view.recovered {
                    continue;
                }
                if active.contains(&view.name.name) {
                    diags.push(
                        Diagnostic::error("E0112", format!("view `{}` uses itself", name.name), file, name.span)
                            .with_help(format!("the views being expanded here: {}", active.join(" -> "))),
                    );
                    continue;
                }
                if *counter >= MAX_USES {
                    diags.push(
                        Diagnostic::error(
                            "E0112",
                            format!("views expand to more than {MAX_USES} uses in this sync"),
                            file,
                            name.span,
                        )
                        .with_help("a view that uses others several times multiplies: use fewer, or restructure them"),
                    );
                    continue;
                }
                *counter += 1;
                let n = *counter;
                let steps = inline_one(view, &name, &args, &outputs, span, n, file, diags);
                active.push(view.name.name.clone());
                let steps = inline_steps(steps, views, file, counter, active, diags);
                active.pop();
                if negated {
                    // "The view yields nothing": its steps collected, then
                    // the list checked for emptiness.
                    let found = format!("found@{}{n}", view.name.name);
                    let var = |name: &str| Expr {
                        kind: ExprKind::Var(name.to_string()),
                        span,
                    };
                    out.push(Step::Collect {
                        element: Expr {
                            kind: ExprKind::Lit(Lit::Bool(true)),
                            span,
                        },
                        name: Ident {
                            name: found.clone(),
                            span: name.span,
                        },
                        steps,
                        span,
                    });
                    out.push(Step::Filter(Expr {
                        kind: ExprKind::Binary(
                            crate::ast::BinOp::Eq,
                            Box::new(Expr {
                                kind: ExprKind::Call(
                                    Ident {
                                        name: "len".into(),
                                        span,
                                    },
                                    vec![var(&found)],
                                ),
                                span,
                            }),
                            Box::new(Expr {
                                kind: ExprKind::Lit(Lit::Int(0)),
                                span,
                            }),
                        ),
                        span,
                    }));
                } else {
                    out.extend(steps);
                }
            }
            Step::Collect {
                element,
                name,
                steps,
                span,
            } => out.push(Step::Collect {
                element,
                name,
                steps: inline_steps(steps, views, file, counter, active, diags),
                span,
            }),
            other => out.push(other),
        }
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn inline_one(
    view: &View,
    used_as: &Ident,
    args: &[Arg],
    outputs: &[Arg],
    span: Span,
    n: usize,
    file: FileId,
    diags: &mut Vec<Diagnostic>,
) -> Vec<Step> {
    let view_name = &view.name.name;
    let signature = format!("`{view_name} ({}) : ({})`", names(&view.params), names(&view.outputs));
    let renamed = |v: &str| format!("{v}@{view_name}{n}");
    let before = diags.len();
    let mut misuse = |message: String, at: Span, help: String| {
        diags.push(Diagnostic::error("E0112", message, file, at).with_help(help));
    };
    for a in args
        .iter()
        .filter(|a| !view.params.iter().any(|p| p.name == a.key.name))
    {
        misuse(
            format!("view `{view_name}` has no parameter `{}`", a.key.name),
            a.key.span,
            format!("its signature is {signature}"),
        );
    }
    let mut steps = Vec::new();
    for p in &view.params {
        let value = match args.iter().find(|a| a.key.name == p.name).map(|a| (a, &a.value)) {
            None => {
                misuse(
                    format!("`{view_name}` needs argument `{}`", p.name),
                    used_as.span,
                    format!("its signature is {signature}"),
                );
                continue;
            }
            Some((a, ArgValue::Wildcard(at))) => {
                misuse(
                    "a view's argument needs a value".into(),
                    *at,
                    format!("pass a variable or an expression: `{}: value`", a.key.name),
                );
                continue;
            }
            Some((a, ArgValue::Shorthand)) => Expr {
                kind: ExprKind::Var(a.key.name.clone()),
                span: a.key.span,
            },
            Some((_, ArgValue::Expr(e))) => e.clone(),
        };
        steps.push(Step::Let {
            name: Ident {
                name: renamed(&p.name),
                span: p.span,
            },
            value,
            span,
        });
    }
    let mut binds = Vec::new();
    for o in outputs {
        let target = match &o.value {
            _ if !view.outputs.iter().any(|v| v.name == o.key.name) => {
                misuse(
                    format!("view `{view_name}` has no output `{}`", o.key.name),
                    o.key.span,
                    format!("its signature is {signature}"),
                );
                continue;
            }
            ArgValue::Shorthand => o.key.clone(),
            ArgValue::Expr(Expr {
                kind: ExprKind::Var(v),
                span,
            }) => Ident {
                name: v.clone(),
                span: *span,
            },
            _ => {
                misuse(
                    "a view's output binds a variable".into(),
                    o.span,
                    format!("write `{}` or `{}: name`", o.key.name, o.key.name),
                );
                continue;
            }
        };
        binds.push(Step::Let {
            value: Expr {
                kind: ExprKind::Var(renamed(&o.key.name)),
                span: o.key.span,
            },
            name: target,
            span: o.span,
        });
    }
    if diags.len() > before {
        return Vec::new();
    }
    steps.extend(view.steps.iter().map(|s| rename_step(s, &renamed)));
    steps.extend(binds);
    steps
}

fn names(ids: &[Ident]) -> String {
    ids.iter().map(|i| i.name.as_str()).collect::<Vec<_>>().join(", ")
}

fn rename_expr(e: &Expr, f: &dyn Fn(&str) -> String) -> Expr {
    let kind = match &e.kind {
        ExprKind::Var(v) => ExprKind::Var(f(v)),
        ExprKind::Lit(l) => ExprKind::Lit(l.clone()),
        ExprKind::Field(b, k) => ExprKind::Field(Box::new(rename_expr(b, f)), k.clone()),
        ExprKind::Object(fields) => {
            ExprKind::Object(fields.iter().map(|(k, v)| (k.clone(), rename_expr(v, f))).collect())
        }
        ExprKind::List(items) => ExprKind::List(items.iter().map(|i| rename_expr(i, f)).collect()),
        ExprKind::Unary(op, b) => ExprKind::Unary(*op, Box::new(rename_expr(b, f))),
        ExprKind::Binary(op, a, b) => ExprKind::Binary(*op, Box::new(rename_expr(a, f)), Box::new(rename_expr(b, f))),
        ExprKind::Call(name, args) => ExprKind::Call(name.clone(), args.iter().map(|a| rename_expr(a, f)).collect()),
    };
    Expr { kind, span: e.span }
}

fn rename_arg(a: &Arg, f: &dyn Fn(&str) -> String) -> Arg {
    let value = match &a.value {
        ArgValue::Shorthand => ArgValue::Expr(Expr {
            kind: ExprKind::Var(f(&a.key.name)),
            span: a.key.span,
        }),
        ArgValue::Expr(e) => ArgValue::Expr(rename_expr(e, f)),
        ArgValue::Wildcard(s) => ArgValue::Wildcard(*s),
    };
    Arg { value, ..a.clone() }
}

fn rename_step(step: &Step, f: &dyn Fn(&str) -> String) -> Step {
    match step {
        Step::Query { mode, pattern, span } => Step::Query {
            mode: *mode,
            pattern: Pattern {
                args: pattern.args.iter().map(|a| rename_arg(a, f)).collect(),
                outputs: pattern.outputs.as_ref().map(|o| match o {
                    Outputs::List(outs, s) => Outputs::List(outs.iter().map(|a| rename_arg(a, f)).collect(), *s),
                    Outputs::Any(s) => Outputs::Any(*s),
                }),
                ..pattern.clone()
            },
            span: *span,
        },
        Step::Filter(e) => Step::Filter(rename_expr(e, f)),
        Step::Let { name, value, span } => Step::Let {
            name: Ident {
                name: f(&name.name),
                span: name.span,
            },
            value: rename_expr(value, f),
            span: *span,
        },
        Step::Collect {
            element,
            name,
            steps,
            span,
        } => Step::Collect {
            element: rename_expr(element, f),
            name: Ident {
                name: f(&name.name),
                span: name.span,
            },
            steps: steps.iter().map(|s| rename_step(s, f)).collect(),
            span: *span,
        },
        Step::Use {
            name,
            args,
            outputs,
            negated,
            span,
        } => Step::Use {
            name: name.clone(),
            args: args.iter().map(|a| rename_arg(a, f)).collect(),
            outputs: outputs.iter().map(|a| rename_arg(a, f)).collect(),
            negated: *negated,
            span: *span,
        },
    }
}

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
            Step::Use {
                name,
                args,
                outputs: _,
                negated: false,
                span,
            } => Step::Use {
                name: name.clone(),
                args: args.clone(),
                outputs: Vec::new(),
                negated: true,
                span: *span,
            },
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

/// The sync as the engine runs it — views inlined, without its `else`
/// lines — followed by its companions, printed as `.sync` text. `views`
/// are the views of its file.
pub fn render(sync: &Sync, views: &[View]) -> String {
    let mut ignored = Vec::new();
    let mut main = sync.clone();
    inline_sync(&mut main, views, FileId(0), &mut ignored);
    let mut out = print_sync(&main.name.name, &main);
    for mut c in companions(sync) {
        inline_sync(&mut c, views, FileId(0), &mut ignored);
        out.push('\n');
        out.push_str(&print_sync(&c.name.name, &c));
    }
    out
}

fn print_sync(name: &str, sync: &Sync) -> String {
    let mut s = format!("sync {name}\nwhen\n");
    for p in &sync.when {
        s.push_str(&format!("    {}\n", print_pattern(p)));
    }
    if !sync.where_steps.is_empty() {
        s.push_str("where\n");
        for st in &sync.where_steps {
            print_step(st, 1, &mut s);
        }
    }
    s.push_str("then\n");
    for p in &sync.then {
        s.push_str(&format!("    {}\n", print_pattern(p)));
    }
    s
}

fn print_step(step: &Step, depth: usize, out: &mut String) {
    let pad = "    ".repeat(depth);
    let line = match step {
        Step::Query { mode, pattern, .. } => {
            let prefix = match mode {
                QueryMode::Join => "",
                QueryMode::Optional => "optional ",
                QueryMode::Not => "not ",
            };
            format!("{prefix}{}", print_pattern(pattern))
        }
        Step::Filter(e) => print_expr(e),
        Step::Let { name, value, .. } => format!("let {} = {}", name.name, print_expr(value)),
        Step::Use {
            name,
            args,
            outputs,
            negated,
            ..
        } => format!(
            "{}{} ({}) : ({})",
            if *negated { "not " } else { "" },
            name.name,
            print_args(args),
            print_args(outputs)
        ),
        Step::Collect {
            element, name, steps, ..
        } => {
            out.push_str(&format!("{pad}collect {} as {} {{\n", print_expr(element), name.name));
            for st in steps {
                print_step(st, depth + 1, out);
            }
            out.push_str(&format!("{pad}}}\n"));
            return;
        }
    };
    out.push_str(&format!("{pad}{line}\n"));
}

fn print_pattern(p: &Pattern) -> String {
    let outputs = match &p.outputs {
        None => String::new(),
        Some(Outputs::Any(_)) => " : *".into(),
        Some(Outputs::List(outs, _)) => format!(" : ({})", print_args(outs)),
    };
    format!(
        "{}.{} ({}){outputs}",
        p.concept.name,
        p.action.name,
        print_args(&p.args)
    )
}

fn print_args(args: &[Arg]) -> String {
    args.iter()
        .map(|a| {
            let key = format!("{}{}", a.key.name, if a.optional { "?" } else { "" });
            match &a.value {
                ArgValue::Shorthand => key,
                ArgValue::Wildcard(_) => format!("{key}: _"),
                ArgValue::Expr(Expr {
                    kind: ExprKind::Var(v), ..
                }) if *v == a.key.name => key,
                ArgValue::Expr(e) => format!("{key}: {}", print_expr(e)),
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// An expression as source text (parenthesised where nesting needs it).
pub fn print_expr(e: &Expr) -> String {
    let wrapped = |x: &Expr| match x.kind {
        ExprKind::Binary(..) => format!("({})", print_expr(x)),
        _ => print_expr(x),
    };
    match &e.kind {
        ExprKind::Lit(l) => crate::format::literal(l),
        ExprKind::Var(v) => v.clone(),
        ExprKind::Field(b, k) => format!("{}.{}", wrapped(b), k.name),
        ExprKind::Object(fields) if fields.is_empty() => "{}".into(),
        ExprKind::Object(fields) => {
            let parts: Vec<String> = fields
                .iter()
                .map(|(k, v)| match &v.kind {
                    ExprKind::Var(name) if *name == k.name => k.name.clone(),
                    _ => format!("{}: {}", crate::format::key(&k.name), print_expr(v)),
                })
                .collect();
            format!("{{ {} }}", parts.join(", "))
        }
        ExprKind::List(items) => format!("[{}]", items.iter().map(print_expr).collect::<Vec<_>>().join(", ")),
        ExprKind::Unary(UnOp::Not, b) => format!("!{}", wrapped(b)),
        ExprKind::Unary(UnOp::Neg, b) => format!("-{}", wrapped(b)),
        ExprKind::Binary(op, a, b) => format!("{} {} {}", wrapped(a), op.symbol(), wrapped(b)),
        ExprKind::Call(f, args) => format!(
            "{}({})",
            f.name,
            args.iter().map(print_expr).collect::<Vec<_>>().join(", ")
        ),
    }
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
            render(sync, &[]),
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

    const VIEWS: &str = r#"view Shown (user, viewer) : (json)
    Profile._get (user) : (bio)
    let json = { user, bio, mine: user == viewer }

sync Show
when
    Requesting.request (path: "/u", who, me) : (request)
where
    Shown (user: who, viewer: me) : (json: body)
    collect body as all {
        Shown (user: who, viewer: "x") : (json)
    }
then
    Requesting.respond (request, body, all)
"#;

    #[test]
    fn views_are_inlined_with_their_variables_renamed() {
        let (mut file, diags) = crate::parse(FileId(0), VIEWS);
        assert!(diags.is_empty(), "{diags:?}");
        assert!(uses_views(&file.syncs[0]));
        let views = file.views.clone();
        let sync = file.syncs[0].clone();
        assert!(inline_views(FileId(0), &mut file).is_empty());
        assert_eq!(
            render(&sync, &views),
            r#"sync Show
when
    Requesting.request (path: "/u", who, me) : (request)
where
    let user@Shown1 = who
    let viewer@Shown1 = me
    Profile._get (user: user@Shown1) : (bio: bio@Shown1)
    let json@Shown1 = { user: user@Shown1, bio: bio@Shown1, mine: user@Shown1 == viewer@Shown1 }
    let body = json@Shown1
    collect body as all {
        let user@Shown2 = who
        let viewer@Shown2 = "x"
        Profile._get (user: user@Shown2) : (bio: bio@Shown2)
        let json@Shown2 = { user: user@Shown2, bio: bio@Shown2, mine: user@Shown2 == viewer@Shown2 }
        let json = json@Shown2
    }
then
    Requesting.respond (request, body, all)
"#
        );
    }

    #[test]
    fn view_misuse_is_reported() {
        let src = "view V (a) : (b)\n    let b = a\n\nsync S\nwhen\n    X.y () : ()\nwhere\n    V (c: 1) : (d)\n    W ()\nthen\n    X.z ()\n";
        let (mut file, diags) = crate::parse(FileId(0), src);
        assert!(diags.is_empty(), "{diags:?}");
        let problems: Vec<String> = inline_views(FileId(0), &mut file)
            .into_iter()
            .map(|d| d.message)
            .collect();
        assert_eq!(
            problems,
            [
                "view `V` has no parameter `c`",
                "`V` needs argument `a`",
                "view `V` has no output `d`",
                "no view named `W` in this file"
            ]
        );
        assert!(file.syncs[0].recovered);
    }

    #[test]
    fn views_that_multiply_are_stopped() {
        let mut src = String::from("view V0 (a) : (b)\n    let b = a\n");
        for i in 1..20 {
            src.push_str(&format!(
                "view V{i} (a) : (b)\n    V{p} (a) : (b: x)\n    V{p} (a: x) : (b)\n",
                p = i - 1
            ));
        }
        src.push_str("sync S\nwhen\n    X.y (a) : ()\nwhere\n    V19 (a) : (b)\nthen\n    X.z (b)\n");
        let (mut file, diags) = crate::parse(FileId(0), &src);
        assert!(diags.is_empty(), "{diags:?}");
        let problems = inline_views(FileId(0), &mut file);
        assert!(
            problems.iter().any(|d| d.message.contains("more than 1000 uses")),
            "{problems:?}"
        );
    }
}
