//! Diagnostics: what went wrong, where (file:line:column), and how to fix it.

use crate::source::{FileId, SourceMap, Span};
use std::fmt::Write as _;

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Loading refuses to go on.
    Error,
    /// Reported; loading goes on.
    Warning,
}

/// A place in a file with a short message, drawn under the source line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    /// File the span belongs to.
    pub file: FileId,
    /// The offending source.
    pub span: Span,
    /// What is wrong here (may be empty).
    pub message: String,
}

impl Label {
    /// A label at `span` in `file`.
    pub fn new(file: FileId, span: Span, message: impl Into<String>) -> Self {
        Label {
            file,
            span,
            message: message.into(),
        }
    }
}

/// One problem found in `.sync` sources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// Stable code, e.g. `E0101`, listed in the language reference.
    pub code: &'static str,
    /// One-line summary.
    pub message: String,
    /// Where the problem is.
    pub primary: Label,
    /// Other places involved.
    pub secondary: Vec<Label>,
    /// How to fix it.
    pub help: Option<String>,
    /// Further facts.
    pub notes: Vec<String>,
}

impl Diagnostic {
    /// An error at `span`.
    pub fn error(code: &'static str, message: impl Into<String>, file: FileId, span: Span) -> Self {
        Self::new(Severity::Error, code, message, file, span)
    }

    /// A warning at `span`.
    pub fn warning(code: &'static str, message: impl Into<String>, file: FileId, span: Span) -> Self {
        Self::new(Severity::Warning, code, message, file, span)
    }

    fn new(severity: Severity, code: &'static str, message: impl Into<String>, file: FileId, span: Span) -> Self {
        Diagnostic {
            severity,
            code,
            message: message.into(),
            primary: Label::new(file, span, ""),
            secondary: Vec::new(),
            help: None,
            notes: Vec::new(),
        }
    }

    /// Sets the message drawn under the primary span.
    pub fn with_label(mut self, message: impl Into<String>) -> Self {
        self.primary.message = message.into();
        self
    }

    /// Adds a secondary label.
    pub fn with_secondary(mut self, file: FileId, span: Span, message: impl Into<String>) -> Self {
        self.secondary.push(Label::new(file, span, message));
        self
    }

    /// Sets the help text.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Adds a note.
    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    /// True for errors.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Renders in the familiar compiler layout:
    ///
    /// ```text
    /// error[E0301]: message
    ///  --> file:line:col
    ///   |
    /// 6 |     source line
    ///   |     ^^^^^^ label
    ///   = help: ...
    /// ```
    pub fn render(&self, sources: &SourceMap) -> String {
        let mut out = String::new();
        let kind = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let _ = writeln!(out, "{kind}[{}]: {}", self.code, self.message);
        let file = sources.get(self.primary.file);
        let (line, col) = file.line_col(self.primary.span.start);
        let mut labels: Vec<(&Label, char)> = vec![(&self.primary, '^')];
        labels.extend(self.secondary.iter().map(|l| (l, '-')));
        let max_line = labels
            .iter()
            .map(|(l, _)| sources.get(l.file).line_col(l.span.start).0)
            .max()
            .unwrap_or(line);
        let width = max_line.to_string().len();
        let pad = " ".repeat(width);
        let _ = writeln!(out, "{pad}--> {}:{line}:{col}", file.name());
        let _ = writeln!(out, "{pad} |");
        // Labels in other files get their own location line.
        let mut shown_lines: Vec<(FileId, usize)> = Vec::new();
        let mut ordered = labels.clone();
        ordered.sort_by_key(|(l, _)| (l.file != self.primary.file, l.file, l.span.start));
        for (label, mark) in ordered {
            let f = sources.get(label.file);
            let (l, c) = f.line_col(label.span.start);
            if label.file != self.primary.file {
                let _ = writeln!(out, "{pad}::: {}:{l}:{c}", f.name());
            }
            let text = f.line(l).replace('\t', " ");
            if !shown_lines.contains(&(label.file, l)) {
                let _ = writeln!(out, "{l:>width$} | {text}");
                shown_lines.push((label.file, l));
            }
            let line_chars = text.chars().count();
            let start_col = c - 1;
            let span_chars = f.slice(label.span).chars().take_while(|&ch| ch != '\n').count();
            let len = span_chars.max(1).min(line_chars.saturating_sub(start_col).max(1));
            let underline: String = std::iter::repeat_n(mark, len).collect();
            let msg = if label.message.is_empty() {
                String::new()
            } else {
                format!(" {}", label.message)
            };
            let _ = writeln!(out, "{pad} | {}{underline}{msg}", " ".repeat(start_col));
        }
        for note in &self.notes {
            write_block(&mut out, &pad, "note", note);
        }
        if let Some(help) = &self.help {
            write_block(&mut out, &pad, "help", help);
        }
        out
    }
}

fn write_block(out: &mut String, pad: &str, kind: &str, text: &str) {
    let mut lines = text.lines();
    if let Some(first) = lines.next() {
        let _ = writeln!(out, "{pad} = {kind}: {first}");
    }
    let indent = " ".repeat(kind.len() + 2);
    for rest in lines {
        if rest.is_empty() {
            let _ = writeln!(out);
        } else {
            let _ = writeln!(out, "{pad}   {indent}{rest}");
        }
    }
}

/// Renders many diagnostics, then a summary line.
pub fn render_all(diagnostics: &[Diagnostic], sources: &SourceMap) -> String {
    let mut out = String::new();
    for d in diagnostics {
        out.push_str(&d.render(sources));
        out.push('\n');
    }
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = diagnostics.len() - errors;
    if errors + warnings > 0 {
        let _ = writeln!(out, "{errors} error(s), {warnings} warning(s)");
    }
    out
}
