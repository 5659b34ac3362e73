//! Recursive-descent parser for `.sync` files.
//!
//! Guarantees: never panics, always terminates (every loop consumes a token
//! or stops), bounds its recursion depth, and recovers at line starts and at
//! the keywords `sync`, `when`, `where` and `then`, so one mistake does not
//! hide the rest.

use crate::ast::*;
use crate::diagnostic::Diagnostic;
use crate::lexer::{Tok, Token, lex};
use crate::source::{FileId, Span};

/// Deepest nesting of expressions and blocks before the parser gives up on a
/// construct (keeps recursion bounded on hostile input).
const MAX_DEPTH: u32 = 64;

/// Parses one file. Returns everything that could be parsed, plus every
/// problem found; the tree is only meaningful to later stages when the
/// diagnostics contain no error.
pub fn parse(file: FileId, text: &str) -> (File, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let toks = lex(file, text, &mut diags);
    let lex_errors = diags.iter().map(|d| d.primary.span).collect();
    let error_starts = diags
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.primary.span.start)
        .collect();
    let newlines = text.match_indices('\n').map(|(i, _)| i as u32).collect();
    let mut p = Parser {
        lex_errors,
        error_starts,
        newlines,
        errors: 0,
        toks,
        pos: 0,
        file,
        diags,
        group_depth: 0,
        depth: 0,
        prev_end: 0,
    };
    let ast = p.file();
    (ast, p.diags)
}

type PResult<T> = Result<T, ()>;

struct Parser {
    /// Where the lexer found problems (parsing goes on over them).
    lex_errors: Vec<Span>,
    /// Parse errors so far, including those not shown.
    errors: usize,
    /// Where each error shown so far starts, for `follows_recent_error`.
    error_starts: std::collections::BTreeSet<u32>,
    /// The offsets of the text's newlines, to find a line in `O(log n)`.
    newlines: Vec<u32>,
    toks: Vec<Token>,
    pos: usize,
    file: FileId,
    diags: Vec<Diagnostic>,
    /// Inside `(`, `[` or `{` groups newlines are insignificant.
    group_depth: u32,
    /// Recursion depth of expressions and blocks.
    depth: u32,
    prev_end: u32,
}

const CLAUSE_KEYWORDS: [&str; 5] = ["sync", "view", "when", "where", "then"];

impl Parser {
    // ---- token access -------------------------------------------------

    fn index_of_next(&self) -> usize {
        let mut i = self.pos;
        if self.group_depth > 0 {
            while matches!(self.toks.get(i).map(|t| &t.tok), Some(Tok::Newline)) {
                i += 1;
            }
        }
        i.min(self.toks.len().saturating_sub(1))
    }

    fn peek_token(&self) -> &Token {
        &self.toks[self.index_of_next()]
    }

    fn peek(&self) -> &Tok {
        &self.peek_token().tok
    }

    /// Raw lookahead (newlines count), `n` tokens after the next one.
    fn peek_nth(&self, n: usize) -> &Tok {
        let i = (self.index_of_next() + n).min(self.toks.len() - 1);
        &self.toks[i].tok
    }

    fn bump(&mut self) -> Token {
        let i = self.index_of_next();
        let t = self.toks[i].clone();
        if t.tok != Tok::Eof {
            self.pos = i + 1;
        }
        self.prev_end = t.span.end;
        t
    }

    fn at_ident(&self, word: &str) -> bool {
        matches!(self.peek(), Tok::Ident(s) if s == word)
    }

    fn at_line_end(&self) -> bool {
        matches!(self.peek(), Tok::Newline | Tok::Eof)
    }

    fn skip_newlines(&mut self) {
        while matches!(self.toks.get(self.pos).map(|t| &t.tok), Some(Tok::Newline)) {
            self.pos += 1;
        }
    }

    /// Skips to the end of the current line (the newline is left in place).
    fn skip_line(&mut self) {
        self.group_depth = 0;
        while !self.at_line_end() {
            self.bump();
        }
    }

    fn error(&mut self, code: &'static str, message: impl Into<String>, span: Span) -> &mut Diagnostic {
        self.errors += 1;
        self.error_starts.insert(span.start);
        self.diags.push(Diagnostic::error(code, message, self.file, span));
        let last = self.diags.len() - 1;
        &mut self.diags[last]
    }

    /// True if an error was already reported on this token's line or the
    /// line before: a second error there is almost always a consequence of
    /// the first (an unclosed string or parenthesis).
    ///
    /// Logarithmic in the text and the errors so far: a file of thousands of
    /// broken lines must still check while its author types.
    fn follows_recent_error(&self, span: Span) -> bool {
        // The start of the line before this token's: just after the newline
        // two back from it.
        let line = self.newlines.partition_point(|&nl| nl < span.start);
        let from = match line {
            0 | 1 => 0,
            l => self.newlines[l - 2] + 1,
        };
        self.error_starts.range(from..=span.start).next().is_some()
    }

    fn unexpected(&mut self, expected: &str, help: &str) {
        let t = self.peek_token().clone();
        if self.follows_recent_error(t.span) {
            self.errors += 1;
            // Still counts as an error for recovery; it is just not shown.
            return;
        }
        let d = self.error(
            "E0100",
            format!("expected {expected}, found {}", t.tok.describe()),
            t.span,
        );
        d.primary.message = format!("expected {expected}");
        if !help.is_empty() {
            d.help = Some(help.to_string());
        }
    }

    fn expect(&mut self, tok: Tok, expected: &str, help: &str) -> PResult<Span> {
        if *self.peek() == tok {
            Ok(self.bump().span)
        } else {
            self.unexpected(expected, help);
            Err(())
        }
    }

    fn ident(&mut self, expected: &str, help: &str) -> PResult<Ident> {
        match self.peek().clone() {
            Tok::Ident(name) => {
                let span = self.bump().span;
                Ok(Ident { name, span })
            }
            _ => {
                self.unexpected(expected, help);
                Err(())
            }
        }
    }

    fn enter(&mut self, span: Span) -> PResult<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            self.error("E0109", "nested too deeply", span).help = Some(format!(
                "split this into `let` steps; at most {MAX_DEPTH} levels of nesting are allowed"
            ));
            return Err(());
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    // ---- file and sync ------------------------------------------------

    fn file(&mut self) -> File {
        let mut file = File::default();
        loop {
            self.skip_newlines();
            match self.peek().clone() {
                Tok::Eof => break,
                Tok::Ident(s) if s == "sync" => file.syncs.push(self.sync()),
                Tok::Ident(s) if s == "view" => file.views.push(self.view()),
                _ => {
                    self.unexpected(
                        "`sync`",
                        "every synchronization starts with `sync Name` on its own line",
                    );
                    // Skip to the next line that starts with `sync` or `view`.
                    loop {
                        self.skip_line();
                        self.skip_newlines();
                        if matches!(self.peek(), Tok::Eof) || self.at_ident("sync") || self.at_ident("view") {
                            break;
                        }
                    }
                }
            }
        }
        file
    }

    fn sync(&mut self) -> Sync {
        let errors_before = self.errors;
        let sync_span = self.bump().span;
        let name = match self.peek().clone() {
            Tok::Ident(name) if !CLAUSE_KEYWORDS.contains(&name.as_str()) => {
                let span = self.bump().span;
                Ident { name, span }
            }
            _ => {
                self.unexpected(
                    "a sync name",
                    "name the sync after what it does, e.g. `sync LoginResponseSuccess`",
                );
                Ident {
                    name: String::new(),
                    span: sync_span,
                }
            }
        };
        self.end_of_item("the sync name");
        let mut sync = Sync {
            name,
            span: sync_span,
            when_span: sync_span,
            when: Vec::new(),
            where_steps: Vec::new(),
            then_span: None,
            then: Vec::new(),
            otherwise: Vec::new(),
            generated: false,
            recovered: false,
        };
        #[derive(PartialEq, Clone, Copy)]
        enum Clause {
            None,
            When,
            Where,
            Then,
        }
        let mut clause = Clause::None;
        let mut seen_when = false;
        let mut seen_where = false;
        loop {
            self.skip_newlines();
            let t = self.peek_token().clone();
            match &t.tok {
                Tok::Eof => break,
                Tok::Ident(k) if k == "sync" || k == "view" => break,
                Tok::Ident(k) if k == "when" => {
                    self.bump();
                    if seen_when {
                        self.error("E0102", "a sync has one `when` clause", t.span).help =
                            Some("list all patterns under the first `when`".into());
                    }
                    if clause == Clause::Where || clause == Clause::Then {
                        self.error("E0103", "`when` must come first", t.span).help =
                            Some("the order is: when, where (optional), then".into());
                    }
                    seen_when = true;
                    sync.when_span = t.span;
                    clause = Clause::When;
                }
                Tok::Ident(k) if k == "where" => {
                    self.bump();
                    if !seen_when || clause == Clause::Then || seen_where {
                        self.error("E0103", "`where` must come between `when` and `then`, once", t.span)
                            .help = Some("the order is: when, where (optional), then".into());
                    }
                    seen_where = true;
                    clause = Clause::Where;
                }
                Tok::Ident(k) if k == "then" => {
                    self.bump();
                    if sync.then_span.is_some() {
                        self.error("E0102", "a sync has one `then` clause", t.span).help =
                            Some("list all invocations under the first `then`".into());
                    } else if !seen_when {
                        self.error("E0103", "`then` needs a `when` clause before it", t.span)
                            .help = Some("the order is: when, where (optional), then".into());
                    }
                    sync.then_span = Some(t.span);
                    clause = Clause::Then;
                }
                _ => match clause {
                    Clause::None => {
                        self.unexpected("`when`", "a sync's body starts with `when` and its patterns");
                        self.skip_line();
                    }
                    Clause::When => {
                        if let Ok(p) = self.pattern_line("a when pattern `Concept.action (...) : (...)`") {
                            sync.when.push(p);
                        }
                    }
                    Clause::Then => {
                        if let Ok(p) = self.pattern_line("an invocation `Concept.action (...)`") {
                            sync.then.push(p);
                        }
                    }
                    Clause::Where if self.at_ident("else") => self.otherwise(&mut sync),
                    Clause::Where => {
                        if let Ok(s) = self.step() {
                            sync.where_steps.push(s);
                            self.end_of_item("the where step");
                        }
                    }
                },
            }
        }
        sync.span = sync_span.to(Span::new(self.prev_end as usize, self.prev_end as usize));
        let recovered = self.errors > errors_before
            || self
                .lex_errors
                .iter()
                .any(|e| e.start >= sync.span.start && e.start <= sync.span.end);
        sync.recovered = recovered;
        if recovered {
            // The clauses below are incomplete because of the errors already
            // reported; saying so again would only add noise.
        } else if !seen_when {
            self.error(
                "E0104",
                format!("sync `{}` has no `when` clause", sync.name.name),
                sync.name.span,
            )
            .help = Some("add `when` followed by the action patterns that trigger this sync".into());
        } else if sync.when.is_empty() {
            self.error("E0104", "`when` clause has no patterns", sync.when_span)
                .help = Some("add at least one pattern, e.g. `Requesting.request (path: \"/x\") : (request)`".into());
        }
        if !recovered {
            match sync.then_span {
                None => {
                    self.error(
                        "E0105",
                        format!("sync `{}` has no `then` clause", sync.name.name),
                        sync.name.span,
                    )
                    .help = Some("add `then` followed by the actions this sync invokes".into());
                }
                Some(span) if sync.then.is_empty() => {
                    self.error("E0105", "`then` clause has no invocations", span).help =
                        Some("add at least one invocation, e.g. `Requesting.respond (request, ...)`".into());
                }
                _ => {}
            }
        }
        sync
    }

    /// `view Name (param, ...) : (output, ...)` and its steps, up to the
    /// next `sync` or `view`.
    fn view(&mut self) -> View {
        let errors_before = self.errors;
        let start = self.bump().span;
        let help = "a view looks like `view ArticleJson (article, viewer) : (json)` followed by where steps";
        let header = (|| -> PResult<(Ident, Vec<Ident>, Vec<Ident>)> {
            let name = self.ident("a view name", help)?;
            let names = |p: &mut Self, what: &str| -> PResult<Vec<Ident>> {
                let args = p.arg_list()?.0;
                let mut out = Vec::new();
                for a in args {
                    if !matches!(a.value, ArgValue::Shorthand) || a.optional {
                        p.error("E0111", format!("a view's {what} are plain names"), a.span)
                            .help = Some(help.into());
                        return Err(());
                    }
                    out.push(a.key);
                }
                Ok(out)
            };
            if *self.peek() != Tok::LParen {
                self.unexpected("`(` and the view's parameters", help);
                return Err(());
            }
            let params = names(self, "parameters")?;
            if *self.peek() != Tok::Colon {
                self.unexpected("`:` and the view's outputs", help);
                return Err(());
            }
            self.bump();
            if *self.peek() != Tok::LParen {
                self.unexpected("`(` and the view's outputs", help);
                return Err(());
            }
            let outputs = names(self, "outputs")?;
            Ok((name, params, outputs))
        })();
        let (name, params, outputs) = match header {
            Ok(h) => {
                self.end_of_item("the view's signature");
                h
            }
            Err(()) => {
                self.skip_line();
                (
                    Ident {
                        name: String::new(),
                        span: start,
                    },
                    Vec::new(),
                    Vec::new(),
                )
            }
        };
        let mut steps = Vec::new();
        loop {
            self.skip_newlines();
            match self.peek().clone() {
                Tok::Eof => break,
                Tok::Ident(k) if k == "sync" || k == "view" => break,
                Tok::Ident(k) if CLAUSE_KEYWORDS.contains(&k.as_str()) => {
                    let span = self.bump().span;
                    self.error("E0111", format!("a view has no `{k}` clause"), span).help =
                        Some("a view is only where steps; the syncs that use it have the when and then clauses".into());
                    self.skip_line();
                }
                _ => {
                    if let Ok(s) = self.step() {
                        steps.push(s);
                        self.end_of_item("the view step");
                    }
                }
            }
        }
        let span = start.to(Span::new(self.prev_end as usize, self.prev_end as usize));
        if steps.is_empty() && self.errors == errors_before {
            self.error("E0111", format!("view `{}` has no steps", name.name), name.span)
                .help = Some("list the where steps it stands for below its signature".into());
        }
        View {
            name,
            params,
            outputs,
            steps,
            span,
            recovered: self.errors > errors_before,
        }
    }

    /// `else Concept.action (...)` after a where step that can drop frames.
    fn otherwise(&mut self, sync: &mut Sync) {
        let keyword = self.bump().span;
        let Ok(invocation) = self.pattern_line("an invocation after `else`, e.g. `Requesting.respondWith (...)`")
        else {
            return;
        };
        let step = sync.where_steps.len().checked_sub(1);
        let problem = match step.map(|i| &sync.where_steps[i]) {
            None => Some("`else` must follow a where step"),
            Some(Step::Query {
                mode: QueryMode::Join, ..
            })
            | Some(Step::Filter(_))
            | Some(Step::Use { .. }) => None,
            Some(Step::Query {
                mode: QueryMode::Not, ..
            }) => Some("`else` cannot follow a `not` query"),
            Some(_) => Some("`else` must follow a step that can drop frames"),
        };
        if let Some(message) = problem {
            self.error("E0110", message, keyword).help = Some(
                "`else` goes under a query, a filter or a view and says what to do with the frames it drops, e.g.\n\n    \
                 Article._bySlug (slug) : (article)\n        else Requesting.respondWith (request, code: 404, body: {})\n\n\
                 (for a `not` query, write the query itself and put the `else` under it)"
                    .into(),
            );
            return;
        }
        let step = step.unwrap_or_default();
        if let Some(first) = sync.otherwise.iter().find(|o| o.step == step) {
            let first = first.keyword;
            let file = self.file;
            let d = self.error("E0110", "a where step has at most one `else`", keyword);
            d.secondary
                .push(crate::Label::new(file, first, "the first `else` of this step"));
            d.help = Some("one `else` answers every frame the step drops; invoke several actions from a sync that matches its result".into());
            return;
        }
        sync.otherwise.push(Otherwise {
            step,
            keyword,
            invocation,
        });
    }

    /// After an item, the line must end. Reports and skips trailing tokens.
    fn end_of_item(&mut self, what: &str) {
        self.group_depth = 0;
        if !self.at_line_end() {
            let t = self.peek_token().clone();
            if self.follows_recent_error(t.span) {
                self.errors += 1;
                self.skip_line();
                return;
            }
            self.error("E0106", format!("unexpected {} after {what}", t.tok.describe()), t.span)
                .help = Some("write one pattern, step or invocation per line".into());
            self.skip_line();
        }
    }

    fn pattern_line(&mut self, expected: &str) -> PResult<Pattern> {
        match self.pattern(expected) {
            Ok(p) => {
                self.end_of_item("the pattern");
                Ok(p)
            }
            Err(()) => {
                self.skip_line();
                Err(())
            }
        }
    }

    // ---- patterns -----------------------------------------------------

    fn pattern(&mut self, expected: &str) -> PResult<Pattern> {
        let help = "patterns look like `Concept.action (arg, key: value) : (output)`";
        let concept = match self.peek() {
            Tok::Ident(_) => self.ident(expected, help)?,
            _ => {
                self.unexpected(expected, help);
                return Err(());
            }
        };
        if *self.peek() != Tok::Dot {
            self.unexpected("`.` after the concept name", help);
            return Err(());
        }
        self.bump();
        let action = self.ident("an action or query name", help)?;
        let open = self.peek_token().clone();
        if open.tok != Tok::LParen {
            self.unexpected(
                "`(`",
                &format!(
                    "write `{}.{} ()` even when there are no arguments",
                    concept.name, action.name
                ),
            );
            return Err(());
        }
        let (args, args_span) = self.arg_list()?;
        let outputs = if *self.peek() == Tok::Colon {
            self.bump();
            match self.peek() {
                Tok::Star => Some(Outputs::Any(self.bump().span)),
                Tok::LParen => {
                    let (outs, span) = self.arg_list()?;
                    Some(Outputs::List(outs, span))
                }
                _ => {
                    self.unexpected(
                        "`(` or `*` after `:`",
                        "outputs are `: (key, ...)` for success, `: (error)` for the error, `: *` for any outcome",
                    );
                    return Err(());
                }
            }
        } else {
            None
        };
        let span = concept
            .span
            .to(Span::new(self.prev_end as usize, self.prev_end as usize));
        Ok(Pattern {
            concept,
            action,
            args,
            args_span,
            outputs,
            span,
        })
    }

    /// `( arg, arg, ... )`
    fn arg_list(&mut self) -> PResult<(Vec<Arg>, Span)> {
        let open = self.bump().span;
        self.group_depth += 1;
        let mut args = Vec::new();
        loop {
            if *self.peek() == Tok::RParen {
                break;
            }
            args.push(self.arg()?);
            match self.peek() {
                Tok::Comma => {
                    self.bump();
                }
                Tok::RParen => break,
                _ => {
                    self.unexpected("`,` or `)`", "separate arguments with commas");
                    return Err(());
                }
            }
        }
        let close = self.bump().span;
        self.group_depth -= 1;
        Ok((args, open.to(close)))
    }

    fn arg(&mut self) -> PResult<Arg> {
        let key = self.ident(
            "an argument name",
            "arguments are `name`, `name: value`, `name?` or `name: _`",
        )?;
        let optional = if *self.peek() == Tok::Question {
            self.bump();
            true
        } else {
            false
        };
        let value = if *self.peek() == Tok::Colon {
            self.bump();
            if matches!(self.peek(), Tok::Ident(s) if s == "_") {
                ArgValue::Wildcard(self.bump().span)
            } else {
                ArgValue::Expr(self.expr()?)
            }
        } else {
            ArgValue::Shorthand
        };
        let span = key.span.to(Span::new(self.prev_end as usize, self.prev_end as usize));
        Ok(Arg {
            key,
            optional,
            value,
            span,
        })
    }

    // ---- where steps --------------------------------------------------

    /// `Name (` with a capitalised name: a view's use (built-in functions
    /// are lower case).
    fn at_view_use(&self) -> bool {
        matches!(self.peek(), Tok::Ident(n) if n.starts_with(|c: char| c.is_ascii_uppercase()))
            && *self.peek_nth(1) == Tok::LParen
    }

    fn at_pattern_start(&self) -> bool {
        matches!(self.peek(), Tok::Ident(_))
            && *self.peek_nth(1) == Tok::Dot
            && matches!(self.peek_nth(2), Tok::Ident(_))
            && *self.peek_nth(3) == Tok::LParen
    }

    fn step(&mut self) -> PResult<Step> {
        let r = self.step_inner();
        if r.is_err() {
            self.skip_line();
        }
        r
    }

    fn step_inner(&mut self) -> PResult<Step> {
        let start = self.peek_token().span;
        let mode = if self.at_ident("optional") {
            Some(QueryMode::Optional)
        } else if self.at_ident("not") {
            Some(QueryMode::Not)
        } else {
            None
        };
        if let Some(mode) = mode {
            self.bump();
            let pattern = self.pattern("a query `Concept._query (...)`")?;
            let span = start.to(pattern.span);
            return Ok(Step::Query { mode, pattern, span });
        }
        if self.at_ident("let") {
            self.bump();
            let name = self.ident("a variable name after `let`", "write `let name = expression`")?;
            self.expect(Tok::Assign, "`=`", "write `let name = expression`")?;
            let value = self.expr()?;
            let span = start.to(value.span);
            return Ok(Step::Let { name, value, span });
        }
        if self.at_ident("collect") {
            return self.collect(start);
        }
        if self.at_view_use() {
            let help = "a view is used like a query: `ArticleJson (article, viewer) : (json)`";
            let name = self.ident("a view name", help)?;
            let (args, _) = self.arg_list()?;
            let outputs = if *self.peek() == Tok::Colon {
                self.bump();
                if *self.peek() != Tok::LParen {
                    self.unexpected("`(` and the outputs to bind", help);
                    return Err(());
                }
                self.arg_list()?.0
            } else {
                Vec::new()
            };
            let span = start.to(Span::new(self.prev_end as usize, self.prev_end as usize));
            return Ok(Step::Use {
                name,
                args,
                outputs,
                negated: false,
                span,
            });
        }
        if self.at_pattern_start() {
            let pattern = self.pattern("a query")?;
            let span = pattern.span;
            return Ok(Step::Query {
                mode: QueryMode::Join,
                pattern,
                span,
            });
        }
        let e = self.expr()?;
        Ok(Step::Filter(e))
    }

    fn collect(&mut self, start: Span) -> PResult<Step> {
        self.bump();
        let element = self.expr()?;
        if !self.at_ident("as") {
            self.unexpected("`as`", "write `collect { field, ... } as name { steps }`");
            return Err(());
        }
        self.bump();
        let name = self.ident(
            "a variable name after `as`",
            "write `collect { field, ... } as name { steps }`",
        )?;
        self.expect(
            Tok::LBrace,
            "`{`",
            "the nested steps go in braces: `collect e as name { ... }`",
        )?;
        self.enter(start)?;
        let saved_group = self.group_depth;
        self.group_depth = 0;
        let mut steps = Vec::new();
        let result = loop {
            self.skip_newlines();
            let t = self.peek_token().clone();
            match &t.tok {
                Tok::RBrace => {
                    self.bump();
                    break Ok(());
                }
                Tok::Eof => {
                    self.error("E0107", "unclosed `collect` block", start).help =
                        Some("add `}` after the nested steps".into());
                    break Err(());
                }
                Tok::Ident(k) if CLAUSE_KEYWORDS.contains(&k.as_str()) => {
                    self.error("E0107", "unclosed `collect` block", start).help =
                        Some(format!("add `}}` before `{k}`"));
                    break Err(());
                }
                _ => {
                    if let Ok(s) = self.step() {
                        steps.push(s);
                        if *self.peek() != Tok::RBrace {
                            self.end_of_item("the where step");
                        }
                    }
                }
            }
        };
        self.group_depth = saved_group;
        self.leave();
        result?;
        let span = start.to(Span::new(self.prev_end as usize, self.prev_end as usize));
        Ok(Step::Collect {
            element,
            name,
            steps,
            span,
        })
    }

    // ---- expressions --------------------------------------------------

    fn expr(&mut self) -> PResult<Expr> {
        self.binary(0)
    }

    fn binop(&self) -> Option<(BinOp, u8)> {
        Some(match self.peek() {
            Tok::OrOr => (BinOp::Or, 1),
            Tok::AndAnd => (BinOp::And, 2),
            Tok::EqEq => (BinOp::Eq, 3),
            Tok::NotEq => (BinOp::Ne, 3),
            Tok::Lt => (BinOp::Lt, 3),
            Tok::Le => (BinOp::Le, 3),
            Tok::Gt => (BinOp::Gt, 3),
            Tok::Ge => (BinOp::Ge, 3),
            Tok::Plus => (BinOp::Add, 4),
            Tok::Minus => (BinOp::Sub, 4),
            Tok::Star => (BinOp::Mul, 5),
            Tok::Slash => (BinOp::Div, 5),
            _ => return None,
        })
    }

    fn binary(&mut self, min_prec: u8) -> PResult<Expr> {
        let start = self.peek_token().span;
        self.enter(start)?;
        let result = (|| {
            let mut lhs = self.unary()?;
            while let Some((op, prec)) = self.binop() {
                if prec < min_prec {
                    break;
                }
                self.bump();
                let rhs = self.binary(prec + 1)?;
                let span = lhs.span.to(rhs.span);
                lhs = Expr {
                    kind: ExprKind::Binary(op, Box::new(lhs), Box::new(rhs)),
                    span,
                };
            }
            Ok(lhs)
        })();
        self.leave();
        result
    }

    fn unary(&mut self) -> PResult<Expr> {
        let t = self.peek_token().clone();
        let op = match t.tok {
            Tok::Bang => UnOp::Not,
            Tok::Minus => UnOp::Neg,
            _ => return self.postfix(),
        };
        self.bump();
        self.enter(t.span)?;
        let inner = self.unary();
        self.leave();
        let inner = inner?;
        let span = t.span.to(inner.span);
        // Fold `-3` into a literal so it is valid wherever literals are.
        let kind = match (op, &inner.kind) {
            (UnOp::Neg, ExprKind::Lit(Lit::Int(v))) => ExprKind::Lit(Lit::Int(v.wrapping_neg())),
            (UnOp::Neg, ExprKind::Lit(Lit::Float(v))) => ExprKind::Lit(Lit::Float(-v)),
            _ => ExprKind::Unary(op, Box::new(inner)),
        };
        Ok(Expr { kind, span })
    }

    fn postfix(&mut self) -> PResult<Expr> {
        let mut e = self.primary()?;
        while *self.peek() == Tok::Dot {
            self.bump();
            let field = self.ident("a field name after `.`", "field access looks like `user.email`")?;
            let span = e.span.to(field.span);
            e = Expr {
                kind: ExprKind::Field(Box::new(e), field),
                span,
            };
        }
        Ok(e)
    }

    fn primary(&mut self) -> PResult<Expr> {
        let t = self.peek_token().clone();
        let lit = |l: Lit| ExprKind::Lit(l);
        let kind = match &t.tok {
            Tok::Int(v) => lit(Lit::Int(*v)),
            Tok::Float(v) => lit(Lit::Float(*v)),
            Tok::Str(s) => lit(Lit::Str(s.clone())),
            Tok::Ident(s) if s == "true" => lit(Lit::Bool(true)),
            Tok::Ident(s) if s == "false" => lit(Lit::Bool(false)),
            Tok::Ident(s) if s == "null" => lit(Lit::Null),
            Tok::Ident(s) if s == "_" => {
                self.error("E0108", "`_` is not a value", t.span).help =
                    Some("`_` may only stand for a whole argument, as in `key: _`".into());
                return Err(());
            }
            Tok::Ident(s) => {
                let name = s.clone();
                self.bump();
                if *self.peek() == Tok::LParen && self.toks.get(self.pos).map(|t| &t.tok) == Some(&Tok::LParen) {
                    let args = self.group(Tok::RParen, "`)`", |p| p.expr())?;
                    let span = t.span.to(Span::new(self.prev_end as usize, self.prev_end as usize));
                    return Ok(Expr {
                        kind: ExprKind::Call(Ident { name, span: t.span }, args),
                        span,
                    });
                }
                return Ok(Expr {
                    kind: ExprKind::Var(name),
                    span: t.span,
                });
            }
            Tok::LParen => {
                self.bump();
                self.group_depth += 1;
                let inner = self.expr();
                let close = inner.and_then(|e| self.expect(Tok::RParen, "`)`", "close the parenthesis").map(|_| e));
                self.group_depth -= 1;
                let mut e = close?;
                e.span = t.span.to(Span::new(self.prev_end as usize, self.prev_end as usize));
                return Ok(e);
            }
            Tok::LBracket => {
                let items = self.group(Tok::RBracket, "`]`", |p| p.expr())?;
                let span = t.span.to(Span::new(self.prev_end as usize, self.prev_end as usize));
                return Ok(Expr {
                    kind: ExprKind::List(items),
                    span,
                });
            }
            Tok::LBrace => {
                let fields = self.group(Tok::RBrace, "`}`", |p| p.object_field())?;
                let span = t.span.to(Span::new(self.prev_end as usize, self.prev_end as usize));
                return Ok(Expr {
                    kind: ExprKind::Object(fields),
                    span,
                });
            }
            _ => {
                self.unexpected(
                    "a value",
                    "values are variables, literals (\"text\", 42, true, null), `{...}`, `[...]` or built-in calls",
                );
                return Err(());
            }
        };
        self.bump();
        Ok(Expr { kind, span: t.span })
    }

    fn object_field(&mut self) -> PResult<(Ident, Expr)> {
        let key = match self.peek().clone() {
            Tok::Str(s) => {
                let span = self.bump().span;
                Ident { name: s, span }
            }
            _ => self.ident("a field name", "objects look like `{ name: value, other }`")?,
        };
        if *self.peek() == Tok::Colon {
            self.bump();
            let value = self.expr()?;
            Ok((key, value))
        } else {
            let value = Expr {
                kind: ExprKind::Var(key.name.clone()),
                span: key.span,
            };
            Ok((key, value))
        }
    }

    /// A comma-separated group opened by the current token.
    fn group<T>(
        &mut self,
        close: Tok,
        close_text: &str,
        mut item: impl FnMut(&mut Self) -> PResult<T>,
    ) -> PResult<Vec<T>> {
        let open = self.bump().span;
        self.enter(open)?;
        self.group_depth += 1;
        let result = (|| {
            let mut items = Vec::new();
            loop {
                if *self.peek() == close {
                    break;
                }
                items.push(item(self)?);
                if *self.peek() == Tok::Comma {
                    self.bump();
                } else if *self.peek() != close {
                    self.unexpected(&format!("`,` or {close_text}"), "separate items with commas");
                    return Err(());
                }
            }
            self.bump();
            Ok(items)
        })();
        self.group_depth -= 1;
        self.leave();
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(text: &str) -> File {
        let (file, diags) = parse(FileId(0), text);
        assert!(diags.is_empty(), "{diags:#?}");
        file
    }

    #[test]
    fn a_sync_with_every_clause() {
        let f = parse_ok(
            "sync S\nwhen\n    A.b (x, y: 1, z?, w: _) : (out)\nwhere\n    C._q (x) : (r)\n    r > -3\nthen\n    D.e (v: r)\n",
        );
        let s = &f.syncs[0];
        assert_eq!(s.name.name, "S");
        let p = &s.when[0];
        assert_eq!((p.concept.name.as_str(), p.action.name.as_str()), ("A", "b"));
        assert_eq!(p.args.len(), 4);
        assert!(matches!(p.args[0].value, ArgValue::Shorthand));
        assert!(matches!(
            &p.args[1].value,
            ArgValue::Expr(Expr {
                kind: ExprKind::Lit(Lit::Int(1)),
                ..
            })
        ));
        assert!(p.args[2].optional);
        assert!(matches!(p.args[3].value, ArgValue::Wildcard(_)));
        assert!(matches!(&p.outputs, Some(Outputs::List(o, _)) if o.len() == 1));
        assert!(matches!(
            &s.where_steps[0],
            Step::Query {
                mode: QueryMode::Join,
                ..
            }
        ));
        match &s.where_steps[1] {
            Step::Filter(Expr {
                kind: ExprKind::Binary(BinOp::Gt, _, rhs),
                ..
            }) => {
                assert_eq!(rhs.kind, ExprKind::Lit(Lit::Int(-3)));
            }
            other => panic!("{other:?}"),
        }
        assert!(s.then[0].outputs.is_none());
    }

    #[test]
    fn any_outcome_optional_not_let_collect() {
        let f = parse_ok(
            "sync S\nwhen\n    A.b () : *\nwhere\n    optional C._q () : (r)\n    not C._q (r)\n    let o = { k: r, r }\n    collect o as list {\n        C._q () : (o2)\n    }\nthen\n    D.e (list)\n",
        );
        let s = &f.syncs[0];
        assert!(matches!(s.when[0].outputs, Some(Outputs::Any(_))));
        assert!(matches!(
            &s.where_steps[0],
            Step::Query {
                mode: QueryMode::Optional,
                ..
            }
        ));
        assert!(matches!(
            &s.where_steps[1],
            Step::Query {
                mode: QueryMode::Not,
                ..
            }
        ));
        assert!(matches!(&s.where_steps[2], Step::Let { .. }));
        assert!(matches!(&s.where_steps[3], Step::Collect { steps, .. } if steps.len() == 1));
    }

    #[test]
    fn precedence_and_multi_line_arguments() {
        let f = parse_ok(
            "sync S\nwhen\n    A.b (\n        x,\n        y\n    ) : ()\nwhere\n    a || b && c == 1 + 2 * 3\nthen\n    D.e ()\n",
        );
        let Step::Filter(e) = &f.syncs[0].where_steps[0] else {
            panic!()
        };
        let ExprKind::Binary(BinOp::Or, _, rhs) = &e.kind else {
            panic!("{e:?}")
        };
        assert!(matches!(rhs.kind, ExprKind::Binary(BinOp::And, _, _)));
        assert_eq!(f.syncs[0].when[0].args.len(), 2);
    }

    #[test]
    fn recovers_at_the_next_sync() {
        let (f, diags) = parse(
            FileId(0),
            "sync A\nwhen\n    X.y ( : ()\nthen\n    X.y ()\n\nsync B\nwhen\n    X.y () : ()\nthen\n    X.y ()\n",
        );
        assert_eq!(diags.len(), 1, "{diags:#?}");
        assert_eq!(f.syncs.len(), 2);
        assert!(f.syncs[0].recovered);
        assert!(!f.syncs[1].recovered);
    }
}
