//! Checks `.sync` files against concept signatures before anything runs, and
//! compiles them into the [`Program`] the engine executes.
//!
//! Every check of the behaviour contract (`docs/semantics.md` §5) lives here: names
//! and keys against signatures, variable binding (including the seeds'
//! then-output bug), outcome patterns, built-ins, duplicate names, and the
//! request/respond coverage analysis. The crate is pure: no IO.

mod check;
mod coverage;
mod cycles;
mod suggest;

use std::collections::HashMap;

use concord_concept::ConceptSpec;
use concord_syntax::{Diagnostic, FileId, SourceMap, ast};

pub use concord_program::Program;

/// One parsed `.sync` file.
#[derive(Debug, Clone)]
pub struct SyncFile {
    /// Its id in the [`SourceMap`].
    pub file: FileId,
    /// Dotted module path from the file's place under `syncs/` (`auth` for
    /// `syncs/auth.sync`, `api.users` for `syncs/api/users.sync`).
    pub module: String,
    /// Parsed content.
    pub ast: ast::File,
}

/// Result of checking: the program (only if there is no error) and every
/// diagnostic, errors and warnings, in file order.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The compiled program, `None` if any error was found.
    pub program: Option<Program>,
    /// All diagnostics.
    pub diagnostics: Vec<Diagnostic>,
}

impl Checked {
    /// True if any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// One `.sync` text to check.
#[derive(Debug, Clone)]
pub struct SourceText {
    /// How diagnostics name it (`syncs/auth.sync`).
    pub name: String,
    /// Dotted module path its sync names are prefixed with (`auth`; empty
    /// for none).
    pub module: String,
    /// The text.
    pub text: String,
}

impl SourceText {
    /// A text whose syncs are named without a module prefix.
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        SourceText {
            name: name.into(),
            module: String::new(),
            text: text.into(),
        }
    }
}

/// Parses and checks source texts in one go; the texts are added to
/// `sources`.
pub fn load(sources: &mut SourceMap, files: Vec<SourceText>, concepts: &[ConceptSpec]) -> Checked {
    let mut parsed = Vec::new();
    let mut diagnostics = Vec::new();
    for SourceText { name, module, text } in files {
        let file = sources.add(name, text);
        let (ast, diags) = concord_syntax::parse(file, sources.get(file).text());
        diagnostics.extend(diags);
        parsed.push(SyncFile { file, module, ast });
    }
    let mut checked = check(sources, &parsed, concepts);
    if diagnostics.iter().any(Diagnostic::is_error) {
        checked.program = None;
    }
    diagnostics.extend(checked.diagnostics);
    sort(&mut diagnostics, sources);
    checked.diagnostics = diagnostics;
    checked
}

/// Errors first, then warnings; each in file and position order.
fn sort(diagnostics: &mut [Diagnostic], sources: &SourceMap) {
    diagnostics.sort_by_key(|d| {
        (
            d.severity,
            sources.get(d.primary.file).name().to_string(),
            d.primary.span.start,
        )
    });
}

/// Checks parsed files against the concepts.
pub fn check(sources: &SourceMap, files: &[SyncFile], concepts: &[ConceptSpec]) -> Checked {
    let by_name: HashMap<String, &ConceptSpec> = concepts.iter().map(|c| (c.name.clone(), c)).collect();
    let mut concept_names: Vec<&str> = concepts.iter().map(|c| c.name.as_str()).collect();
    concept_names.sort_unstable();
    let mut diagnostics = Vec::new();
    let mut program = Program::default();
    let mut summaries = Vec::new();
    let mut all_ok = true;
    let mut first_by_name: HashMap<String, (FileId, concord_syntax::Span)> = HashMap::new();
    for f in files {
        let mut fc = check::FileChecker {
            file: f.file,
            src: sources.get(f.file),
            module: &f.module,
            concepts: &by_name,
            concept_names: concept_names.clone(),
            diags: &mut diagnostics,
            views: &f.ast.views,
        };
        // Views are shorthand: each sync is compiled with their uses replaced
        // by their steps (and checked once as a whole file for naming).
        fc.diags
            .extend(concord_syntax::expand::inline_views(f.file, &mut f.ast.clone()));
        for sync in &f.ast.syncs {
            let full = if f.module.is_empty() {
                sync.name.name.clone()
            } else {
                format!("{}.{}", f.module, sync.name.name)
            };
            if let Some(&(first_file, first_span)) = first_by_name.get(&full) {
                fc.diags.push(
                    Diagnostic::error("E0280", format!("duplicate sync name `{full}`"), f.file, sync.name.span)
                        .with_label("second sync with this name")
                        .with_secondary(first_file, first_span, "first defined here")
                        .with_help("sync names identify syncs in traces and explanations; rename one of them"),
                );
                all_ok = false;
            } else if !sync.name.name.is_empty() {
                first_by_name.insert(full, (f.file, sync.name.span));
            }
            let inlined = |s: &ast::Sync| {
                let mut s = s.clone();
                let ranges = concord_syntax::expand::inline_sync(&mut s, &f.ast.views, f.file, &mut Vec::new());
                (s, ranges)
            };
            let (main, ranges) = inlined(sync);
            if main.recovered {
                all_ok = false;
                continue;
            }
            let mut compiled = match fc.check_sync(&main, sync, check::Role::Main { ranges }) {
                Some((compiled, summary)) => {
                    summaries.push(summary);
                    compiled
                }
                None => {
                    // Its companions would repeat the same findings.
                    all_ok = false;
                    continue;
                }
            };
            for companion in concord_syntax::expand::companions(sync) {
                match fc.check_sync(&inlined(&companion).0, &companion, check::Role::Companion) {
                    Some((checked, summary)) => {
                        summaries.push(summary);
                        if let Some(o) = compiled.otherwise.iter_mut().find(|o| o.name() == checked.name) {
                            o.companion = checked;
                        }
                    }
                    None => all_ok = false,
                }
            }
            program.syncs.push(compiled);
        }
    }
    // Cross-sync warnings about an incomplete program would be noise.
    if all_ok && !diagnostics.iter().any(Diagnostic::is_error) {
        coverage::analyse(&summaries, &by_name, &mut diagnostics);
        cycles::analyse(&summaries, &mut diagnostics);
    }
    // A mistake inside a view is found once per use: report it once.
    let mut seen = std::collections::HashSet::new();
    diagnostics.retain(|d| seen.insert((d.code, d.primary.file, d.primary.span, d.message.clone())));
    let has_errors = diagnostics.iter().any(Diagnostic::is_error);
    Checked {
        program: (all_ok && !has_errors).then_some(program),
        diagnostics,
    }
}
