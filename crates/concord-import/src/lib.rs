//! A way in from the TypeScript template: its syncs
//!
//! ```text
//! export const Name: Sync = ({ request, user: authenticatedUser }) => ({
//!   when: actions([Concept.action, { input }, { output }], ...),
//!   where: async (frames) => { ... },
//!   then: actions([Concept.action, { input }], ...),
//! });
//! ```
//!
//! become `.sync` text, read with a real TypeScript parser (oxc). Patterns,
//! variables (named by the symbol they stand for: `user: authenticatedUser`
//! is the variable `user`) and literals are translated; an output pattern on
//! a then invocation is kept, so the checker reports it (E0260, the
//! reference's `Missing binding`); `where` code and any value that is not a
//! variable or a literal is kept as a comment above a line
//! `untranslated("…")`, which the checker reports (E0295) until it is
//! rewritten by hand. The template's `{}` outputs matched errors too; here
//! `()` is success only (see docs/semantics.md).

use std::collections::HashMap;

use oxc_allocator::Allocator;
use oxc_ast::ast::{
    Argument, ArrayExpressionElement, BindingPatternKind, Expression, ObjectExpression, ObjectPropertyKind, Program,
    Statement,
};
use oxc_parser::Parser;
use oxc_span::{GetSpan, SourceType, Span};

/// A file that could not be read as TypeScript.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// The parser's messages.
    pub messages: Vec<String>,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "not valid TypeScript: {}", self.messages.join("; "))
    }
}

impl std::error::Error for ParseError {}

/// The `.sync` text of the syncs exported by `source` (a `*.sync.ts`
/// file), with how many parts were left untranslated.
pub fn translate(source: &str) -> Result<Translation, ParseError> {
    let allocator = Allocator::default();
    let parsed = Parser::new(&allocator, source, SourceType::ts()).parse();
    if !parsed.errors.is_empty() {
        return Err(ParseError {
            messages: parsed.errors.iter().map(|e| e.to_string()).collect(),
        });
    }
    let mut t = Translator {
        source,
        out: String::new(),
        untranslated: 0,
        syncs: 0,
    };
    t.program(&parsed.program);
    Ok(Translation {
        text: t.out,
        syncs: t.syncs,
        untranslated: t.untranslated,
    })
}

/// What [`translate`] made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Translation {
    /// The `.sync` text.
    pub text: String,
    /// Syncs translated.
    pub syncs: usize,
    /// Parts kept as comments above an `untranslated(…)` marker.
    pub untranslated: usize,
}

struct Translator<'s> {
    source: &'s str,
    out: String,
    untranslated: usize,
    syncs: usize,
}

/// How a sync's local names map to the symbols they stand for.
type Names = HashMap<String, String>;

impl<'s> Translator<'s> {
    fn text(&self, span: Span) -> &'s str {
        &self.source[span.start as usize..span.end as usize]
    }

    fn program(&mut self, program: &Program<'_>) {
        let mut previous_end = 0;
        for statement in &program.body {
            let Statement::ExportNamedDeclaration(export) = statement else {
                previous_end = statement.span().end;
                continue;
            };
            let Some(oxc_ast::ast::Declaration::VariableDeclaration(decl)) = &export.declaration else {
                previous_end = export.span.end;
                continue;
            };
            for d in &decl.declarations {
                let BindingPatternKind::BindingIdentifier(id) = &d.id.kind else {
                    continue;
                };
                let Some(Expression::ArrowFunctionExpression(arrow)) =
                    d.init.as_ref().map(Expression::without_parentheses)
                else {
                    continue;
                };
                // The doc comment before the export, as `#` lines.
                let doc: Vec<String> = program
                    .comments
                    .iter()
                    .filter(|c| c.span.start >= previous_end && c.span.end <= export.span.start)
                    .flat_map(|c| comment_lines(self.text(c.span)))
                    .collect();
                let mut names = Names::new();
                if let Some(param) = arrow.params.items.first()
                    && let BindingPatternKind::ObjectPattern(pattern) = &param.pattern.kind
                {
                    for p in &pattern.properties {
                        let (Some(symbol), Some(local)) = (p.key.static_name(), p.value.get_identifier_name()) else {
                            continue;
                        };
                        names.insert(local.to_string(), symbol.to_string());
                    }
                }
                let body = arrow.body.statements.first().and_then(|s| match s {
                    Statement::ExpressionStatement(e) if arrow.expression => Some(e.expression.without_parentheses()),
                    _ => None,
                });
                let Some(Expression::ObjectExpression(body)) = body else {
                    continue;
                };
                if !self.out.is_empty() {
                    self.out.push('\n');
                }
                for line in doc {
                    self.out.push_str(&line);
                    self.out.push('\n');
                }
                self.sync(id.name.as_str(), body, &names);
            }
            previous_end = export.span.end;
        }
    }

    fn sync(&mut self, name: &str, body: &ObjectExpression<'_>, names: &Names) {
        self.syncs += 1;
        let clause = |wanted: &str| {
            body.properties.iter().find_map(|p| match p {
                ObjectPropertyKind::ObjectProperty(p) if p.key.static_name().as_deref() == Some(wanted) => {
                    Some(p.value.without_parentheses())
                }
                _ => None,
            })
        };
        // What cannot be translated goes to the where clause, where a marker
        // can stand (patterns and invocations are whole lines of their own).
        let mut kept: Vec<(String, Span)> = Vec::new();
        let lines = |value: Option<&Expression<'_>>, in_when: bool, kept: &mut Vec<(String, Span)>| {
            let mut out = Vec::new();
            match value {
                Some(Expression::CallExpression(call))
                    if call
                        .callee
                        .get_identifier_reference()
                        .is_some_and(|c| c.name == "actions") =>
                {
                    for arg in &call.arguments {
                        match arg {
                            Argument::ArrayExpression(entry) => {
                                out.extend(self.pattern(entry, in_when, names, kept));
                            }
                            other => kept.push(("an action pattern".into(), other.span())),
                        }
                    }
                }
                Some(other) => kept.push((
                    format!("the {} clause", if in_when { "when" } else { "then" }),
                    other.span(),
                )),
                None => {}
            }
            out
        };
        let when = lines(clause("when"), true, &mut kept);
        let then = lines(clause("then"), false, &mut kept);
        if let Some(w) = clause("where") {
            kept.insert(0, ("the where clause".into(), w.span()));
        }
        self.out.push_str(&format!("sync {name}\nwhen\n"));
        for line in when {
            self.out.push_str(&format!("    {line}\n"));
        }
        if !kept.is_empty() {
            self.out.push_str("where\n");
            for (what, span) in kept {
                self.keep(span, &what);
            }
        }
        self.out.push_str("then\n");
        for line in then {
            self.out.push_str(&format!("    {line}\n"));
        }
    }

    /// Keeps TypeScript it cannot translate as comments, then a marker the
    /// checker reports.
    fn keep(&mut self, span: Span, what: &str) {
        self.untranslated += 1;
        self.out
            .push_str(&format!("    # import-ts could not translate {what}:\n"));
        for line in self.text(span).lines() {
            self.out.push_str(&format!("    #   {}\n", line.trim_end()));
        }
        self.out.push_str(&format!("    untranslated(\"{what}\")\n"));
    }

    /// `[Concept.action, { inputs }, { outputs }]` as a pattern line; parts
    /// it cannot translate go to `kept`.
    fn pattern(
        &self,
        entry: &oxc_ast::ast::ArrayExpression<'_>,
        in_when: bool,
        names: &Names,
        kept: &mut Vec<(String, Span)>,
    ) -> Option<String> {
        let parts: Vec<Option<&Expression<'_>>> = entry
            .elements
            .iter()
            .map(|e| match e {
                ArrayExpressionElement::SpreadElement(_) | ArrayExpressionElement::Elision(_) => None,
                other => other.as_expression(),
            })
            .collect();
        let action = match parts.first().copied().flatten().map(Expression::without_parentheses) {
            Some(Expression::StaticMemberExpression(m)) => match m.object.without_parentheses() {
                Expression::Identifier(concept) => Some(format!("{}.{}", concept.name, m.property.name)),
                _ => None,
            },
            _ => None,
        };
        let Some(action) = action else {
            kept.push(("an action pattern".into(), entry.span));
            return None;
        };
        let object = |i: usize| parts.get(i).copied().flatten().map(Expression::without_parentheses);
        let mut values = Vec::new();
        let inputs = match object(1) {
            Some(Expression::ObjectExpression(o)) => self.fields(o, names, &mut values),
            None => String::new(),
            Some(other) => {
                values.push(other.span());
                String::new()
            }
        };
        let outputs = match object(2) {
            Some(Expression::ObjectExpression(o)) => Some(self.fields(o, names, &mut values)),
            None => None,
            Some(other) => {
                values.push(other.span());
                Some(String::new())
            }
        };
        kept.extend(values.into_iter().map(|span| (format!("a value in {action}"), span)));
        Some(match (outputs, in_when) {
            (Some(outs), true) => format!("{action} ({inputs}) : ({outs})"),
            (None, true) => format!("{action} ({inputs}) : ()"),
            // A then invocation with outputs is the reference's bug; kept
            // so the checker names it.
            (Some(outs), false) if !outs.is_empty() => format!("{action} ({inputs}) : ({outs})"),
            (_, false) => format!("{action} ({inputs})"),
        })
    }

    /// `{ path: "/x", user: authenticatedUser, session }` as arguments:
    /// `path: "/x", user, session`. Values that are neither a variable nor a
    /// literal go to `kept`.
    fn fields(&self, o: &ObjectExpression<'_>, names: &Names, kept: &mut Vec<Span>) -> String {
        let mut args = Vec::new();
        for p in &o.properties {
            let ObjectPropertyKind::ObjectProperty(p) = p else {
                kept.push(p.span());
                continue;
            };
            let Some(key) = p.key.static_name() else {
                kept.push(p.span);
                continue;
            };
            match p.value.without_parentheses() {
                Expression::Identifier(v) => {
                    let var = names.get(v.name.as_str()).map_or(v.name.as_str(), String::as_str);
                    if var == key {
                        args.push(key.to_string());
                    } else {
                        args.push(format!("{key}: {var}"));
                    }
                }
                Expression::StringLiteral(s) => {
                    args.push(format!("{key}: {}", concord_syntax::format::quoted(s.value.as_str())))
                }
                Expression::NumericLiteral(n) => args.push(format!("{key}: {}", self.text(n.span))),
                Expression::BooleanLiteral(b) => args.push(format!("{key}: {}", b.value)),
                Expression::NullLiteral(_) => args.push(format!("{key}: null")),
                _ => kept.push(p.span),
            }
        }
        args.join(", ")
    }
}

/// A comment's text as `#` lines (JSDoc stars and slashes removed).
fn comment_lines(comment: &str) -> Vec<String> {
    let body = comment
        .strip_prefix("/**")
        .or_else(|| comment.strip_prefix("/*"))
        .map(|b| b.strip_suffix("*/").unwrap_or(b))
        .or_else(|| comment.strip_prefix("//"))
        .unwrap_or(comment);
    body.lines()
        .map(|l| l.trim().trim_start_matches('*').trim())
        .filter(|l| !l.is_empty())
        .map(|l| format!("# {l}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_variables_and_literals_translate_and_the_rest_is_kept() {
        let ts = r#"
import { actions, Sync } from "@engine";
/** Answers the login. */
export const Login: Sync = ({ request, user: who }) => ({
  when: actions(
    [Requesting.request, { path: "/login", n: 3, ok: true }, { request }],
    [Auth.login, {}, { user: who }],
  ),
  where: async (frames) => frames.filter(($) => $[who] !== null),
  then: actions([Requesting.respond, { request, user: who, note: `hi ${who}` }]),
});
"#;
        let t = translate(ts).unwrap();
        assert_eq!(
            t.text,
            "# Answers the login.\nsync Login\nwhen\n    Requesting.request (path: \"/login\", n: 3, ok: true) : (request)\n    Auth.login () : (user)\nwhere\n    # import-ts could not translate the where clause:\n    #   async (frames) => frames.filter(($) => $[who] !== null)\n    untranslated(\"the where clause\")\n    # import-ts could not translate a value in Requesting.respond:\n    #   note: `hi ${who}`\n    untranslated(\"a value in Requesting.respond\")\nthen\n    Requesting.respond (request, user)\n"
        );
        assert_eq!((t.syncs, t.untranslated), (1, 2));
        assert!(translate("export const = ;").is_err());
    }
}
