//! The `.sync` language of concord: source handling, lexer, parser, syntax
//! tree and diagnostics.
//!
//! This crate is pure: it does no IO and never panics on any input. Loading
//! files from disk is the caller's job; checking syncs against concept
//! signatures is `concord-check`'s.

pub mod ast;
pub mod diagnostic;
pub mod expand;
pub mod format;
pub mod lexer;
pub mod parser;
pub mod source;

pub use diagnostic::{Diagnostic, Label, Severity, render_all};
pub use parser::parse;
pub use source::{FileId, SourceFile, SourceMap, Span};
