//! The language server for `.sync` files, with an app's own concept
//! signatures: `<app> lsp` speaks LSP on standard input and output.
//!
//! - diagnostics as you type: the checker's, with their help and notes;
//! - hover: an action's or query's signature as a sync writes it, its
//!   types, outcome cases and doc comment; a concept's doc; a view's
//!   signature;
//! - go to definition: from `Concept.action` to the Rust method (the
//!   concept macro records where it is), from a view's use to the view;
//! - completion: concepts, their actions and queries after `Concept.`,
//!   parameter and output names inside a pattern, views, built-ins, keywords;
//! - document symbols (syncs and views) and formatting (the canonical
//!   layout of `fmt`).
//!
//! Documents are checked one at a time, each on its own (views are visible
//! in their own file; sync names are checked across files by `check`).

use std::collections::HashMap;
use std::error::Error;
use std::str::FromStr;

use concord_concept::{ActionSpec, ConceptSpec, QuerySpec};
use concord_syntax::ast::{File, Step};
use concord_syntax::{FileId, Severity, SourceMap, Span};
use lsp_server::{Connection, Message, Notification, Request, Response};
use lsp_types::notification::{
    DidChangeTextDocument, DidCloseTextDocument, DidOpenTextDocument, Notification as _, PublishDiagnostics,
};
use lsp_types::request::{Completion, DocumentSymbolRequest, Formatting, GotoDefinition, HoverRequest, Request as _};
use lsp_types::{
    CompletionItem, CompletionItemKind, CompletionOptions, CompletionParams, CompletionResponse, DiagnosticSeverity,
    DidChangeTextDocumentParams, DidCloseTextDocumentParams, DidOpenTextDocumentParams, DocumentFormattingParams,
    DocumentSymbol, DocumentSymbolParams, DocumentSymbolResponse, GotoDefinitionParams, GotoDefinitionResponse, Hover,
    HoverContents, HoverParams, HoverProviderCapability, Location, MarkupContent, MarkupKind, NumberOrString, OneOf,
    Position, PublishDiagnosticsParams, Range, ServerCapabilities, SymbolKind, TextDocumentSyncCapability,
    TextDocumentSyncKind, TextEdit, Uri,
};

/// What goes wrong serving: the connection or a malformed message.
pub type ServeError = Box<dyn Error + Send + Sync>;

/// Serves LSP on standard input and output until the client shuts down.
pub fn run_stdio(specs: Vec<ConceptSpec>) -> Result<(), ServeError> {
    let (connection, io) = Connection::stdio();
    connection.initialize(serde_json::to_value(capabilities())?)?;
    serve(&connection, specs)?;
    drop(connection);
    io.join()?;
    Ok(())
}

/// What the server offers.
pub fn capabilities() -> ServerCapabilities {
    ServerCapabilities {
        text_document_sync: Some(TextDocumentSyncCapability::Kind(TextDocumentSyncKind::FULL)),
        hover_provider: Some(HoverProviderCapability::Simple(true)),
        definition_provider: Some(OneOf::Left(true)),
        completion_provider: Some(CompletionOptions {
            trigger_characters: Some(vec![".".into(), "(".into(), " ".into()]),
            ..CompletionOptions::default()
        }),
        document_symbol_provider: Some(OneOf::Left(true)),
        document_formatting_provider: Some(OneOf::Left(true)),
        ..ServerCapabilities::default()
    }
}

/// Answers requests and notifications on an initialised connection until
/// `shutdown`.
pub fn serve(connection: &Connection, specs: Vec<ConceptSpec>) -> Result<(), ServeError> {
    let mut server = Server::new(specs);
    for message in &connection.receiver {
        match message {
            Message::Request(request) => {
                if connection.handle_shutdown(&request)? {
                    return Ok(());
                }
                let response = server.answer(request);
                connection.sender.send(Message::Response(response))?;
            }
            Message::Notification(n) => {
                if let Some(published) = server.notice(n)? {
                    connection.sender.send(Message::Notification(published))?;
                }
            }
            Message::Response(_) => {}
        }
    }
    Ok(())
}

/// The open documents and the app's signatures.
pub struct Server {
    specs: Vec<ConceptSpec>,
    documents: HashMap<String, String>,
}

impl Server {
    /// A server for an app with these concepts and no open documents.
    pub fn new(specs: Vec<ConceptSpec>) -> Self {
        Server {
            specs,
            documents: HashMap::new(),
        }
    }

    fn notice(&mut self, n: Notification) -> Result<Option<Notification>, ServeError> {
        let (uri, text) = match n.method.as_str() {
            DidOpenTextDocument::METHOD => {
                let p: DidOpenTextDocumentParams = serde_json::from_value(n.params)?;
                (p.text_document.uri, p.text_document.text)
            }
            DidChangeTextDocument::METHOD => {
                let p: DidChangeTextDocumentParams = serde_json::from_value(n.params)?;
                // Full sync: the last change is the whole text.
                let Some(change) = p.content_changes.into_iter().last() else {
                    return Ok(None);
                };
                (p.text_document.uri, change.text)
            }
            DidCloseTextDocument::METHOD => {
                let p: DidCloseTextDocumentParams = serde_json::from_value(n.params)?;
                self.documents.remove(p.text_document.uri.as_str());
                let cleared = PublishDiagnosticsParams::new(p.text_document.uri, Vec::new(), None);
                return Ok(Some(Notification::new(PublishDiagnostics::METHOD.into(), cleared)));
            }
            _ => return Ok(None),
        };
        let diagnostics = self.diagnostics(&uri, &text);
        self.documents.insert(uri.as_str().to_string(), text);
        let params = PublishDiagnosticsParams::new(uri, diagnostics, None);
        Ok(Some(Notification::new(PublishDiagnostics::METHOD.into(), params)))
    }

    fn answer(&self, request: Request) -> Response {
        let id = request.id.clone();
        let result = match request.method.as_str() {
            HoverRequest::METHOD => self.on(request, |s, p: HoverParams| {
                let at = p.text_document_position_params;
                s.hover(at.text_document.uri.as_str(), at.position)
            }),
            GotoDefinition::METHOD => self.on(request, |s, p: GotoDefinitionParams| {
                let at = p.text_document_position_params;
                s.definition(&at.text_document.uri, at.position)
            }),
            Completion::METHOD => self.on(request, |s, p: CompletionParams| {
                let at = p.text_document_position;
                Some(CompletionResponse::Array(
                    s.completion(at.text_document.uri.as_str(), at.position),
                ))
            }),
            DocumentSymbolRequest::METHOD => self.on(request, |s, p: DocumentSymbolParams| {
                s.symbols(p.text_document.uri.as_str())
            }),
            Formatting::METHOD => self.on(request, |s, p: DocumentFormattingParams| {
                s.formatting(p.text_document.uri.as_str())
            }),
            other => Err(format!("unknown request `{other}`")),
        };
        match result {
            Ok(value) => Response::new_ok(id, value),
            Err(message) => Response::new_err(id, lsp_server::ErrorCode::MethodNotFound as i32, message),
        }
    }

    fn on<P: serde::de::DeserializeOwned, R: serde::Serialize>(
        &self,
        request: Request,
        f: impl FnOnce(&Self, P) -> R,
    ) -> Result<serde_json::Value, String> {
        let params: P = serde_json::from_value(request.params).map_err(|e| format!("bad parameters: {e}"))?;
        serde_json::to_value(f(self, params)).map_err(|e| e.to_string())
    }

    /// The checker's diagnostics for `text`, as LSP diagnostics.
    pub fn diagnostics(&self, uri: &Uri, text: &str) -> Vec<lsp_types::Diagnostic> {
        let name = uri.as_str().rsplit('/').next().unwrap_or("document.sync").to_string();
        let mut sources = SourceMap::new();
        let checked = concord_check::load(
            &mut sources,
            vec![concord_check::SourceText::new(name, text)],
            &self.specs,
        );
        checked
            .diagnostics
            .iter()
            .map(|d| {
                let mut message = d.message.clone();
                if !d.primary.message.is_empty() {
                    message.push_str(&format!(" ({})", d.primary.message));
                }
                for note in &d.notes {
                    message.push_str(&format!("\nnote: {note}"));
                }
                if let Some(help) = &d.help {
                    message.push_str(&format!("\nhelp: {help}"));
                }
                lsp_types::Diagnostic {
                    range: range(text, d.primary.span),
                    severity: Some(match d.severity {
                        Severity::Error => DiagnosticSeverity::ERROR,
                        Severity::Warning => DiagnosticSeverity::WARNING,
                    }),
                    code: Some(NumberOrString::String(d.code.to_string())),
                    source: Some("concord".into()),
                    message,
                    ..lsp_types::Diagnostic::default()
                }
            })
            .collect()
    }

    fn text(&self, uri: &str) -> &str {
        self.documents.get(uri).map_or("", String::as_str)
    }

    fn concept(&self, name: &str) -> Option<&ConceptSpec> {
        self.specs.iter().find(|c| c.name == name)
    }

    /// Hover at `position`: `Concept.action`, a concept, or a view.
    pub fn hover(&self, uri: &str, position: Position) -> Option<Hover> {
        let text = self.text(uri);
        let at = offset(text, position);
        let word = word_at(text, at)?;
        let markdown = match word.qualifier {
            Some(concept) => {
                let spec = self.concept(concept)?;
                match (
                    spec.actions.iter().find(|a| a.name == word.text),
                    spec.queries.iter().find(|q| q.name == word.text),
                ) {
                    (Some(a), _) => action_hover(concept, a),
                    (_, Some(q)) => query_hover(concept, q),
                    _ => return None,
                }
            }
            None => match self.concept(word.text) {
                Some(spec) => format!("**concept** `{}`\n\n{}", spec.name, spec.doc),
                None => {
                    let (file, _) = concord_syntax::parse(FileId(0), text);
                    let view = file.views.iter().find(|v| v.name.name == word.text)?;
                    format!("```sync\n{}\n```", first_line(&text[view.span.range()]))
                }
            },
        };
        Some(Hover {
            contents: HoverContents::Markup(MarkupContent {
                kind: MarkupKind::Markdown,
                value: markdown,
            }),
            range: Some(Range::new(position_of(text, word.start), position_of(text, word.end))),
        })
    }

    /// Where `Concept.action` is defined in Rust, or where a used view is.
    pub fn definition(&self, uri: &Uri, position: Position) -> Option<GotoDefinitionResponse> {
        let text = self.text(uri.as_str());
        let word = word_at(text, offset(text, position))?;
        let location = match word.qualifier {
            Some(concept) => {
                let spec = self.concept(concept)?;
                let source = spec
                    .actions
                    .iter()
                    .find(|a| a.name == word.text)
                    .and_then(|a| a.source.clone())
                    .or_else(|| {
                        spec.queries
                            .iter()
                            .find(|q| q.name == word.text)
                            .and_then(|q| q.source.clone())
                    })?;
                let spot = Position::new(source.line.saturating_sub(1), source.column.saturating_sub(1));
                Location::new(file_uri(&source.file)?, Range::new(spot, spot))
            }
            None => {
                let (file, _) = concord_syntax::parse(FileId(0), text);
                let view = file.views.iter().find(|v| v.name.name == word.text)?;
                Location::new(uri.clone(), range(text, view.name.span))
            }
        };
        Some(GotoDefinitionResponse::Scalar(location))
    }

    /// What may be written at `position`.
    pub fn completion(&self, uri: &str, position: Position) -> Vec<CompletionItem> {
        let text = self.text(uri);
        let at = offset(text, position);
        let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
        let before = &text[line_start..at];
        // `Concept.` or `Concept.ac`: its actions and queries.
        let partial = before.trim_end_matches(|c: char| c == '_' || c.is_ascii_alphanumeric());
        if let Some(head) = partial.strip_suffix('.') {
            let concept = head
                .rsplit(|c: char| !(c == '_' || c.is_ascii_alphanumeric()))
                .next()
                .unwrap_or_default();
            let Some(spec) = self.concept(concept) else {
                return Vec::new();
            };
            let actions = spec.actions.iter().map(|a| CompletionItem {
                label: a.name.clone(),
                kind: Some(CompletionItemKind::METHOD),
                detail: Some(sync_signature(concept, &a.name, &param_names(&a.params), &cases(a))),
                documentation: Some(lsp_types::Documentation::String(a.doc.clone())),
                ..CompletionItem::default()
            });
            let queries = spec.queries.iter().map(|q| CompletionItem {
                label: q.name.clone(),
                kind: Some(CompletionItemKind::FUNCTION),
                detail: Some(sync_signature(
                    concept,
                    &q.name,
                    &param_names(&q.params),
                    &format!("({})", q.outputs.join(", ")),
                )),
                documentation: Some(lsp_types::Documentation::String(q.doc.clone())),
                ..CompletionItem::default()
            });
            return actions.chain(queries).collect();
        }
        // Inside `Concept.action (`: its parameters, or after `: (` its outputs.
        if let Some((concept, name, outputs)) = open_pattern(before)
            && let Some(spec) = self.concept(concept)
        {
            let names: Vec<String> = match (
                spec.actions.iter().find(|a| a.name == name),
                spec.queries.iter().find(|q| q.name == name),
                outputs,
            ) {
                (Some(a), _, false) => a.params.iter().map(|p| p.name.clone()).collect(),
                (Some(a), _, true) => {
                    let mut keys: Vec<String> = a.success.iter().flatten().cloned().collect();
                    if a.error {
                        keys.push("error".into());
                    }
                    keys.sort();
                    keys.dedup();
                    keys
                }
                (_, Some(q), false) => q.params.iter().map(|p| p.name.clone()).collect(),
                (_, Some(q), true) => q.outputs.clone(),
                _ => Vec::new(),
            };
            return names
                .into_iter()
                .map(|n| CompletionItem {
                    label: n,
                    kind: Some(CompletionItemKind::FIELD),
                    ..CompletionItem::default()
                })
                .collect();
        }
        let (file, _) = concord_syntax::parse(FileId(0), text);
        let concepts = self.specs.iter().map(|c| CompletionItem {
            label: c.name.clone(),
            kind: Some(CompletionItemKind::CLASS),
            documentation: Some(lsp_types::Documentation::String(c.doc.clone())),
            ..CompletionItem::default()
        });
        let views = file.views.iter().map(|v| CompletionItem {
            label: v.name.name.clone(),
            kind: Some(CompletionItemKind::INTERFACE),
            detail: Some(first_line(&text[v.span.range()]).to_string()),
            ..CompletionItem::default()
        });
        let builtins = concord_program::Builtin::ALL.iter().map(|(name, ..)| CompletionItem {
            label: name.to_string(),
            kind: Some(CompletionItemKind::FUNCTION),
            detail: Some("built-in function".into()),
            ..CompletionItem::default()
        });
        let keywords = KEYWORDS.iter().map(|k| CompletionItem {
            label: k.to_string(),
            kind: Some(CompletionItemKind::KEYWORD),
            ..CompletionItem::default()
        });
        concepts.chain(views).chain(builtins).chain(keywords).collect()
    }

    /// The document's syncs and views.
    pub fn symbols(&self, uri: &str) -> Option<DocumentSymbolResponse> {
        let text = self.text(uri);
        let (file, _) = concord_syntax::parse(FileId(0), text);
        Some(DocumentSymbolResponse::Nested(symbols(text, &file)))
    }

    /// The whole document in the canonical layout (nothing if it does not
    /// parse).
    pub fn formatting(&self, uri: &str) -> Option<Vec<TextEdit>> {
        let text = self.text(uri);
        let formatted = concord_syntax::format::format(text)?;
        if formatted == text {
            return Some(Vec::new());
        }
        let whole = Range::new(Position::new(0, 0), position_of(text, text.len()));
        Some(vec![TextEdit::new(whole, formatted)])
    }
}

const KEYWORDS: [&str; 14] = [
    "sync", "view", "when", "where", "then", "else", "optional", "not", "let", "collect", "as", "true", "false", "null",
];

#[allow(deprecated)] // `DocumentSymbol::deprecated` must be written out
fn symbols(text: &str, file: &File) -> Vec<DocumentSymbol> {
    let mut out: Vec<(u32, DocumentSymbol)> = Vec::new();
    let symbol = |name: &str, detail: String, kind, span: Span, name_span: Span| DocumentSymbol {
        name: name.to_string(),
        detail: Some(detail),
        kind,
        tags: None,
        deprecated: None,
        range: range(text, span),
        selection_range: range(text, name_span),
        children: None,
    };
    for s in &file.syncs {
        let when: Vec<String> = s
            .when
            .iter()
            .map(|p| format!("{}.{}", p.concept.name, p.action.name))
            .collect();
        out.push((
            s.span.start,
            symbol(
                &s.name.name,
                format!("when {}", when.join(", ")),
                SymbolKind::FUNCTION,
                s.span,
                s.name.span,
            ),
        ));
    }
    for v in &file.views {
        let steps = v.steps.iter().filter(|s| matches!(s, Step::Query { .. })).count();
        out.push((
            v.span.start,
            symbol(
                &v.name.name,
                format!("view, {steps} queries"),
                SymbolKind::INTERFACE,
                v.span,
                v.name.span,
            ),
        ));
    }
    out.sort_by_key(|(start, _)| *start);
    out.into_iter().map(|(_, s)| s).collect()
}

// ---- signatures as hover and completion show them -------------------------------

fn param_names(params: &[concord_concept::ParamSpec]) -> String {
    params
        .iter()
        .map(|p| format!("{}{}", p.name, if p.optional { "?" } else { "" }))
        .collect::<Vec<_>>()
        .join(", ")
}

fn cases(a: &ActionSpec) -> String {
    let mut cases: Vec<String> = a.success.iter().map(|keys| format!("({})", keys.join(", "))).collect();
    if a.error {
        cases.push("(error)".into());
    }
    cases.join(" | ")
}

/// `Sessioning.create (user) : (session)`: as a sync writes it.
fn sync_signature(concept: &str, name: &str, params: &str, outputs: &str) -> String {
    format!("{concept}.{name} ({params}) : {outputs}")
}

fn action_hover(concept: &str, a: &ActionSpec) -> String {
    let mut out = format!(
        "```sync\n{}\n```\n\n`{}`",
        sync_signature(concept, &a.name, &param_names(&a.params), &cases(a)),
        a.signature()
    );
    match &a.role {
        concord_concept::ActionRole::Entry(_) => out.push_str("\n\nentry action: starts flows"),
        concord_concept::ActionRole::Responder => out.push_str("\n\nresponder: answers the flow's entry"),
        concord_concept::ActionRole::Plain => {}
    }
    if !a.doc.is_empty() {
        out.push_str(&format!("\n\n{}", a.doc));
    }
    out
}

fn query_hover(concept: &str, q: &QuerySpec) -> String {
    let mut out = format!(
        "```sync\n{}\n```\n\n`{}`",
        sync_signature(
            concept,
            &q.name,
            &param_names(&q.params),
            &format!("({})", q.outputs.join(", "))
        ),
        q.signature()
    );
    if !q.doc.is_empty() {
        out.push_str(&format!("\n\n{}", q.doc));
    }
    out
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or_default().trim_end()
}

// ---- positions -----------------------------------------------------------------

/// The byte offset of an LSP position (UTF-16 columns), clamped to the text.
fn offset(text: &str, p: Position) -> usize {
    let mut line_start = 0;
    for _ in 0..p.line {
        match text[line_start..].find('\n') {
            Some(i) => line_start += i + 1,
            None => return text.len(),
        }
    }
    let line_end = text[line_start..].find('\n').map_or(text.len(), |i| line_start + i);
    let mut units = 0;
    for (i, c) in text[line_start..line_end].char_indices() {
        if units >= p.character as usize {
            return line_start + i;
        }
        units += c.len_utf16();
    }
    line_end
}

/// The LSP position of a byte offset.
fn position_of(text: &str, at: usize) -> Position {
    let at = at.min(text.len());
    let before = &text[..at];
    let line = before.matches('\n').count();
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let character: usize = before[line_start..].chars().map(char::len_utf16).sum();
    Position::new(line as u32, character as u32)
}

fn range(text: &str, span: Span) -> Range {
    Range::new(
        position_of(text, span.start as usize),
        position_of(text, span.end as usize),
    )
}

fn file_uri(path: &str) -> Option<Uri> {
    let encoded: String = path
        .chars()
        .map(|c| match c {
            ' ' => "%20".to_string(),
            '#' => "%23".to_string(),
            '?' => "%3F".to_string(),
            c => c.to_string(),
        })
        .collect();
    Uri::from_str(&format!("file://{encoded}")).ok()
}

/// A name under the cursor, with the concept before its `.` if any.
struct Word<'t> {
    text: &'t str,
    qualifier: Option<&'t str>,
    start: usize,
    end: usize,
}

fn word_at(text: &str, at: usize) -> Option<Word<'_>> {
    let is_name = |c: u8| c == b'_' || c.is_ascii_alphanumeric();
    let bytes = text.as_bytes();
    let mut start = at.min(bytes.len());
    while start > 0 && is_name(bytes[start - 1]) {
        start -= 1;
    }
    let mut end = at.min(bytes.len());
    while end < bytes.len() && is_name(bytes[end]) {
        end += 1;
    }
    if start == end {
        return None;
    }
    let qualifier = (start > 0 && bytes[start - 1] == b'.').then(|| {
        let dot = start - 1;
        let mut q = dot;
        while q > 0 && is_name(bytes[q - 1]) {
            q -= 1;
        }
        &text[q..dot]
    });
    Some(Word {
        text: &text[start..end],
        qualifier: qualifier.filter(|q| q.starts_with(|c: char| c.is_ascii_uppercase())),
        start,
        end,
    })
}

/// The pattern whose parentheses are open at the end of `before`:
/// `(concept, action, in its outputs)`.
fn open_pattern(before: &str) -> Option<(&str, &str, bool)> {
    let mut depth = 0i32;
    let bytes = before.as_bytes();
    let mut i = bytes.len();
    while i > 0 {
        i -= 1;
        match bytes[i] {
            b')' | b']' | b'}' => depth += 1,
            b'(' | b'[' | b'{' if depth > 0 => depth -= 1,
            b'(' => {
                let head = before[..i].trim_end();
                // `... : (` after a pattern's arguments: its outputs.
                if let Some(args_end) = head.strip_suffix(':') {
                    let args_end = args_end.trim_end();
                    let open = matching_open(args_end)?;
                    let (concept, action) = pattern_name(&args_end[..open])?;
                    return Some((concept, action, true));
                }
                let (concept, action) = pattern_name(head)?;
                return Some((concept, action, false));
            }
            b'[' | b'{' => return None,
            _ => {}
        }
    }
    None
}

/// Where the `(` that the final `)` of `s` closes is.
fn matching_open(s: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    if bytes.last() != Some(&b')') {
        return None;
    }
    let mut depth = 0;
    for i in (0..bytes.len()).rev() {
        match bytes[i] {
            b')' => depth += 1,
            b'(' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// `Concept.action` at the end of `s`.
fn pattern_name(s: &str) -> Option<(&str, &str)> {
    let s = s.trim_end();
    let name_start = s
        .rfind(|c: char| !(c == '_' || c.is_ascii_alphanumeric()))
        .map_or(0, |i| i + 1);
    let action = &s[name_start..];
    let head = s[..name_start].strip_suffix('.')?;
    let concept_start = head
        .rfind(|c: char| !(c == '_' || c.is_ascii_alphanumeric()))
        .map_or(0, |i| i + 1);
    let concept = &head[concept_start..];
    (!concept.is_empty() && !action.is_empty()).then_some((concept, action))
}
