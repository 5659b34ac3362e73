//! The canonical layout of `.sync` files: what `fmt` writes and the
//! language server's formatting returns. Clauses start at the margin, their
//! lines are indented four spaces (an `else` eight, a `collect` block's
//! steps four more), one blank line separates syncs and views, and a line
//! longer than [`WIDTH`] breaks its last argument list, object or list
//! first (`body: { errors: {` … `} }`), then the whole group, one item per
//! line. Comments are kept: each before the line it preceded, or at the end
//! of the line it ended. Formatting is idempotent and changes no meaning
//! (the tests parse both and compare the trees).
//!
//! A file with syntax errors is not formatted: [`format()`] returns `None`.

use crate::ast::{Arg, ArgValue, BinOp, Expr, ExprKind, Lit, Outputs, Pattern, QueryMode, Step, Sync, UnOp, View};
use crate::source::FileId;

/// The widest line the layout aims for.
pub const WIDTH: usize = 100;

/// `text` in the canonical layout, or `None` if it does not parse.
pub fn format(text: &str) -> Option<String> {
    let (file, diagnostics) = crate::parse(FileId(0), text);
    if diagnostics.iter().any(|d| d.is_error()) {
        return None;
    }
    let comments = comments(text);
    let mut lines = Lines::default();
    let mut items: Vec<Item<'_>> = file
        .syncs
        .iter()
        .map(Item::Sync)
        .chain(file.views.iter().map(Item::View))
        .collect();
    items.sort_by_key(|i| i.start());
    for (n, item) in items.iter().enumerate() {
        if n > 0 {
            lines.blank();
        }
        match item {
            Item::Sync(s) => sync(&mut lines, s),
            Item::View(v) => view(&mut lines, v),
        }
    }
    Some(lines.with_comments(&comments))
}

enum Item<'a> {
    Sync(&'a Sync),
    View(&'a View),
}

impl Item<'_> {
    fn start(&self) -> u32 {
        match self {
            Item::Sync(s) => s.span.start,
            Item::View(v) => v.span.start,
        }
    }
}

/// A `#` comment: where it starts, its text, and whether code precedes it
/// on its line.
struct Comment {
    at: usize,
    text: String,
    trailing: bool,
    /// An empty line follows it in the source.
    blank_after: bool,
}

/// The comments of `text` (a `#` outside a string, to the end of its line).
fn comments(text: &str) -> Vec<Comment> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let (mut i, mut line_start) = (0, 0);
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => line_start = i + 1,
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                if i < bytes.len() && bytes[i] == b'\n' {
                    line_start = i + 1;
                }
            }
            b'#' => {
                let end = text[i..].find('\n').map_or(text.len(), |e| i + e);
                let rest = &text[end.min(text.len())..];
                let next_line = rest.strip_prefix('\n').unwrap_or(rest);
                let blank_after = next_line
                    .split_once('\n')
                    .is_some_and(|(line, _)| line.trim().is_empty());
                out.push(Comment {
                    at: i,
                    text: text[i..end].trim_end().to_string(),
                    trailing: !text[line_start..i].trim().is_empty(),
                    blank_after,
                });
                i = end;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// Output lines, each with the source offset of what it shows (for placing
/// comments).
#[derive(Default)]
struct Lines {
    /// Text, the source offset it shows, and whether it continues the line
    /// before (a broken group).
    lines: Vec<(String, Option<u32>, bool)>,
}

impl Lines {
    /// `text` at `indent`; its later lines (a broken group) carry their
    /// own indentation.
    fn push(&mut self, indent: usize, text: &str, source: Option<u32>) {
        for (n, line) in text.split('\n').enumerate() {
            match n {
                0 => self
                    .lines
                    .push((format!("{}{line}", " ".repeat(indent)), source, false)),
                _ => self.lines.push((line.to_string(), None, true)),
            }
        }
    }

    fn blank(&mut self) {
        self.lines.push((String::new(), None, false));
    }

    /// The lines with the comments put back: an own-line comment before the
    /// first line whose source starts after it (indented like that line),
    /// a trailing one at the end of the last line whose source starts
    /// before it.
    fn with_comments(self, comments: &[Comment]) -> String {
        let anchors: Vec<(usize, u32)> = self
            .lines
            .iter()
            .enumerate()
            .filter_map(|(n, (_, s, _))| s.map(|s| (n, s)))
            .collect();
        let mut before: Vec<Vec<&Comment>> = vec![Vec::new(); self.lines.len() + 1];
        let mut after: Vec<Vec<&str>> = vec![Vec::new(); self.lines.len()];
        for c in comments {
            let at = c.at as u32;
            if c.trailing
                && let Some(&(n, _)) = anchors.iter().rev().find(|(_, s)| *s < at)
            {
                // The end of that item: its last continued line.
                let mut last = n;
                while self.lines.get(last + 1).is_some_and(|l| l.2) {
                    last += 1;
                }
                after[last].push(&c.text);
                continue;
            }
            let n = anchors
                .iter()
                .find(|(_, s)| *s > at)
                .map_or(self.lines.len(), |&(n, _)| n);
            before[n].push(c);
        }
        let mut out = String::new();
        for (n, (line, ..)) in self.lines.iter().enumerate() {
            let indent = line.len() - line.trim_start().len();
            // Comments before an item that a blank line separates from the
            // previous one stay above it, with the item's indentation.
            let comments_here = std::mem::take(&mut before[n]);
            if !comments_here.is_empty() && line.trim().is_empty() {
                // Before a blank line: they belong to what follows it.
                before[n + 1].splice(0..0, comments_here);
            } else {
                for c in comments_here {
                    out.push_str(&format!("{}{}\n", " ".repeat(indent), c.text));
                    if c.blank_after {
                        out.push('\n');
                    }
                }
            }
            out.push_str(line.trim_end());
            for c in &after[n] {
                out.push_str(&format!("  {c}"));
            }
            out.push('\n');
        }
        for c in &before[self.lines.len()] {
            out.push_str(&format!("{}\n", c.text));
        }
        out
    }
}

fn sync(lines: &mut Lines, s: &Sync) {
    lines.push(0, &format!("sync {}", s.name.name), Some(s.span.start));
    lines.push(0, "when", None);
    for p in &s.when {
        lines.push(4, &layout(&pattern(p), 4), Some(p.span.start));
    }
    if !s.where_steps.is_empty() {
        lines.push(0, "where", None);
        for (n, step_) in s.where_steps.iter().enumerate() {
            step(lines, step_, 4);
            for o in s.otherwise.iter().filter(|o| o.step == n) {
                let text = layout(&Doc::concat([Doc::text("else "), pattern(&o.invocation)]), 8);
                lines.push(8, &text, Some(o.keyword.start));
            }
        }
    }
    lines.push(0, "then", s.then_span.map(|t| t.start));
    for p in &s.then {
        lines.push(4, &layout(&pattern(p), 4), Some(p.span.start));
    }
}

fn view(lines: &mut Lines, v: &View) {
    let names = |ns: &[crate::ast::Ident]| ns.iter().map(|n| n.name.as_str()).collect::<Vec<_>>().join(", ");
    lines.push(
        0,
        &format!("view {} ({}) : ({})", v.name.name, names(&v.params), names(&v.outputs)),
        Some(v.span.start),
    );
    for s in &v.steps {
        step(lines, s, 4);
    }
}

fn step(lines: &mut Lines, s: &Step, indent: usize) {
    let start = Some(s.span().start);
    match s {
        Step::Query { mode, pattern: p, .. } => {
            let keyword = match mode {
                QueryMode::Join => "",
                QueryMode::Optional => "optional ",
                QueryMode::Not => "not ",
            };
            lines.push(
                indent,
                &layout(&Doc::concat([Doc::text(keyword), pattern(p)]), indent),
                start,
            );
        }
        Step::Filter(e) => lines.push(indent, &layout(&expr(e, 0), indent), start),
        Step::Let { name, value, .. } => {
            let doc = Doc::concat([Doc::text(format!("let {} = ", name.name)), expr(value, 0)]);
            lines.push(indent, &layout(&doc, indent), start);
        }
        Step::Use {
            name, args, outputs, ..
        } => {
            let mut parts = vec![Doc::text(format!("{} ", name.name)), arg_list(args)];
            if !outputs.is_empty() {
                parts.push(Doc::text(" : "));
                parts.push(arg_list(outputs));
            }
            lines.push(indent, &layout(&Doc::concat(parts), indent), start);
        }
        Step::Collect {
            element, name, steps, ..
        } => {
            let head = Doc::concat([
                Doc::text("collect "),
                expr(element, 0),
                Doc::text(format!(" as {} {{", name.name)),
            ]);
            lines.push(indent, &layout(&head, indent), start);
            for inner in steps {
                step(lines, inner, indent + 4);
            }
            lines.push(indent, "}", Some(s.span().end.saturating_sub(1)));
        }
    }
}

// ---- documents: text that breaks at groups when a line is too long ----------

#[derive(Clone)]
enum Doc {
    Text(String),
    Concat(Vec<Doc>),
    /// `open item, item close`, one item per line when broken.
    Group {
        open: &'static str,
        items: Vec<Doc>,
        close: &'static str,
        /// `{ a }` flat, `(a)` for the others.
        padded: bool,
    },
}

impl Doc {
    fn text(s: impl Into<String>) -> Doc {
        Doc::Text(s.into())
    }

    fn concat(parts: impl IntoIterator<Item = Doc>) -> Doc {
        Doc::Concat(parts.into_iter().collect())
    }

    fn flat(&self) -> String {
        match self {
            Doc::Text(s) => s.clone(),
            Doc::Concat(parts) => parts.iter().map(Doc::flat).collect(),
            Doc::Group {
                open,
                items,
                close,
                padded,
            } => {
                let inner = items.iter().map(Doc::flat).collect::<Vec<_>>().join(", ");
                match (*padded, items.is_empty()) {
                    (true, false) => format!("{open} {inner} {close}"),
                    _ => format!("{open}{inner}{close}"),
                }
            }
        }
    }

    /// The parts of a concatenation, flattened: texts and groups.
    fn parts<'d>(&'d self, out: &mut Vec<&'d Doc>) {
        match self {
            Doc::Concat(parts) => parts.iter().for_each(|p| p.parts(out)),
            other => out.push(other),
        }
    }
}

/// `doc` laid out on a line indented `indent` (the caller indents the first
/// line; later lines carry their own indentation).
fn layout(doc: &Doc, indent: usize) -> String {
    render(doc, indent, indent)
}

/// Renders `doc` starting at column `column`, on a line indented `indent`:
/// flat if it fits; otherwise the last group whose opening fits on the
/// line breaks. An argument list whose last argument ends in a group keeps
/// the others on the line and breaks inside that one (`(request, body: {`);
/// any other group puts one item per line, the closing bracket back at
/// `indent`.
fn render(doc: &Doc, column: usize, indent: usize) -> String {
    let flat = doc.flat();
    if column + flat.len() <= WIDTH {
        return flat;
    }
    let mut parts = Vec::new();
    doc.parts(&mut parts);
    let flats: Vec<String> = parts.iter().map(|p| p.flat()).collect();
    // The last group that can open on this line, unless it is short (a
    // `: (request)`) and an earlier one can: breaking that one says more.
    let fits = |i: usize| match parts[i] {
        Doc::Group { open, items, .. } => !items.is_empty() && column + flats[..i].concat().len() + open.len() <= WIDTH,
        _ => false,
    };
    let candidates: Vec<usize> = (0..parts.len()).rev().filter(|&i| fits(i)).collect();
    let chosen = candidates
        .iter()
        .find(|&&i| flats[i].len() >= SHORT_GROUP)
        .or(candidates.first())
        .copied();
    if let Some(i) = chosen
        && let Doc::Group { open, items, close, .. } = parts[i]
    {
        let prefix: String = flats[..i].concat();
        let suffix: String = flats[i + 1..].concat();
        let last = &items[items.len() - 1];
        let mut last_parts = Vec::new();
        last.parts(&mut last_parts);
        let hugs = *open == "(" && matches!(last_parts.last(), Some(Doc::Group { items, .. }) if !items.is_empty());
        if hugs {
            let head: String = items[..items.len() - 1].iter().map(|i| i.flat() + ", ").collect();
            let start = format!("{prefix}{open}{head}");
            if column + start.len() < WIDTH {
                let inner = render(last, column + start.len(), indent);
                if inner
                    .lines()
                    .next()
                    .is_some_and(|l| column + start.len() + l.len() <= WIDTH)
                {
                    return format!("{start}{inner}{close}{suffix}");
                }
            }
        }
        return format!(
            "{prefix}{open}{}\n{}{close}{suffix}",
            broken(items, indent),
            " ".repeat(indent)
        );
    }
    flat
}

/// A group this short (flat) is broken only when nothing before it can be.
const SHORT_GROUP: usize = 24;

fn broken(items: &[Doc], indent: usize) -> String {
    let pad = " ".repeat(indent + 4);
    let mut out = String::new();
    for (n, item) in items.iter().enumerate() {
        let comma = if n + 1 < items.len() { "," } else { "" };
        out.push_str(&format!("\n{pad}{}{comma}", render(item, indent + 4, indent + 4)));
    }
    out
}

// ---- the language's forms as documents ------------------------------------------

fn pattern(p: &Pattern) -> Doc {
    let mut parts = vec![
        Doc::text(format!("{}.{} ", p.concept.name, p.action.name)),
        arg_list(&p.args),
    ];
    match &p.outputs {
        Some(Outputs::List(outs, _)) => {
            parts.push(Doc::text(" : "));
            parts.push(arg_list(outs));
        }
        Some(Outputs::Any(_)) => parts.push(Doc::text(" : *")),
        None => {}
    }
    Doc::concat(parts)
}

fn arg_list(args: &[Arg]) -> Doc {
    Doc::Group {
        open: "(",
        items: args.iter().map(arg).collect(),
        close: ")",
        padded: false,
    }
}

fn arg(a: &Arg) -> Doc {
    let key = format!("{}{}", a.key.name, if a.optional { "?" } else { "" });
    match &a.value {
        ArgValue::Shorthand => Doc::text(key),
        ArgValue::Wildcard(_) => Doc::text(format!("{key}: _")),
        ArgValue::Expr(e) => Doc::concat([Doc::text(format!("{key}: ")), expr(e, 0)]),
    }
}

/// How tightly an operator binds (the parser's levels).
fn precedence(op: BinOp) -> u8 {
    match op {
        BinOp::Or => 1,
        BinOp::And => 2,
        BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => 3,
        BinOp::Add | BinOp::Sub => 4,
        BinOp::Mul | BinOp::Div => 5,
    }
}

/// `e` as a document; parenthesised when it binds looser than `min` (the
/// level its place needs).
fn expr(e: &Expr, min: u8) -> Doc {
    match &e.kind {
        ExprKind::Lit(l) => Doc::text(literal(l)),
        ExprKind::Var(v) => Doc::text(v.clone()),
        ExprKind::Field(base, field) => Doc::concat([expr(base, 7), Doc::text(format!(".{}", field.name))]),
        ExprKind::Object(fields) => Doc::Group {
            open: "{",
            items: fields
                .iter()
                .map(|(k, v)| match &v.kind {
                    ExprKind::Var(name) if *name == k.name && is_name(&k.name) => Doc::text(name.clone()),
                    _ => Doc::concat([Doc::text(format!("{}: ", key(&k.name))), expr(v, 0)]),
                })
                .collect(),
            close: "}",
            padded: true,
        },
        ExprKind::List(items) => Doc::Group {
            open: "[",
            items: items.iter().map(|i| expr(i, 0)).collect(),
            close: "]",
            padded: false,
        },
        ExprKind::Unary(op, inner) => {
            let symbol = match op {
                UnOp::Not => "!",
                UnOp::Neg => "-",
            };
            // `- -x` would lex as one `-` too many only if written `--`.
            let inner_doc = match (op, &inner.kind) {
                (UnOp::Neg, ExprKind::Unary(UnOp::Neg, _) | ExprKind::Lit(Lit::Int(_) | Lit::Float(_))) => {
                    Doc::concat([Doc::text("("), expr(inner, 0), Doc::text(")")])
                }
                _ => expr(inner, 6),
            };
            let doc = Doc::concat([Doc::text(symbol), inner_doc]);
            if min > 6 {
                Doc::concat([Doc::text("("), doc, Doc::text(")")])
            } else {
                doc
            }
        }
        ExprKind::Binary(op, a, b) => {
            let p = precedence(*op);
            let doc = Doc::concat([
                expr(a, p),
                Doc::text(format!(" {} ", op.symbol())),
                // Left-associative: a right operand of the same level needs
                // parentheses.
                expr(b, p + 1),
            ]);
            if p < min {
                Doc::concat([Doc::text("("), doc, Doc::text(")")])
            } else {
                doc
            }
        }
        ExprKind::Call(f, args) => Doc::concat([
            Doc::text(f.name.clone()),
            Doc::Group {
                open: "(",
                items: args.iter().map(|a| expr(a, 0)).collect(),
                close: ")",
                padded: false,
            },
        ]),
    }
}

/// Whether `s` can be written bare as a key or name.
fn is_name(s: &str) -> bool {
    s.starts_with(|c: char| c == '_' || c.is_ascii_alphabetic())
        && s.chars().all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// An object key as source text: bare when it is a name, quoted otherwise.
pub fn key(s: &str) -> String {
    if is_name(s) { s.to_string() } else { quoted(s) }
}

/// A literal as source text that lexes back to the same value.
pub fn literal(l: &Lit) -> String {
    match l {
        Lit::Null => "null".into(),
        Lit::Bool(b) => b.to_string(),
        Lit::Int(i) => i.to_string(),
        Lit::Float(f) => {
            let text = format!("{f:?}");
            if text.contains(['.', 'e', 'E']) || !f.is_finite() {
                text
            } else {
                format!("{text}.0")
            }
        }
        Lit::Str(s) => quoted(s),
    }
}

/// A string literal: `s` quoted, with the escapes the lexer reads.
pub fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
