//! Turns source text into tokens. Never panics; bad characters become
//! diagnostics and are skipped.

use crate::diagnostic::Diagnostic;
use crate::source::{FileId, Span};

/// Token kinds of the `.sync` language.
#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// Identifier or keyword (keywords are recognised by the parser by position).
    Ident(String),
    /// String literal, escapes resolved.
    Str(String),
    /// Integer literal.
    Int(i64),
    /// Floating-point literal.
    Float(f64),
    /// End of a line (lines separate patterns, steps and invocations).
    Newline,
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `{`
    LBrace,
    /// `}`
    RBrace,
    /// `[`
    LBracket,
    /// `]`
    RBracket,
    /// `,`
    Comma,
    /// `:`
    Colon,
    /// `.`
    Dot,
    /// `?`
    Question,
    /// `=`
    Assign,
    /// `==`
    EqEq,
    /// `!=`
    NotEq,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `&&`
    AndAnd,
    /// `||`
    OrOr,
    /// `!`
    Bang,
    /// `+`
    Plus,
    /// `-`
    Minus,
    /// `*`
    Star,
    /// `/`
    Slash,
    /// End of input.
    Eof,
}

impl Tok {
    /// How the token is shown in "expected ..., found ..." messages.
    pub fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("`{s}`"),
            Tok::Str(_) => "a string".into(),
            Tok::Int(_) | Tok::Float(_) => "a number".into(),
            Tok::Newline => "end of line".into(),
            Tok::Eof => "end of file".into(),
            other => format!("`{}`", other.symbol()),
        }
    }

    fn symbol(&self) -> &'static str {
        match self {
            Tok::LParen => "(",
            Tok::RParen => ")",
            Tok::LBrace => "{",
            Tok::RBrace => "}",
            Tok::LBracket => "[",
            Tok::RBracket => "]",
            Tok::Comma => ",",
            Tok::Colon => ":",
            Tok::Dot => ".",
            Tok::Question => "?",
            Tok::Assign => "=",
            Tok::EqEq => "==",
            Tok::NotEq => "!=",
            Tok::Lt => "<",
            Tok::Le => "<=",
            Tok::Gt => ">",
            Tok::Ge => ">=",
            Tok::AndAnd => "&&",
            Tok::OrOr => "||",
            Tok::Bang => "!",
            Tok::Plus => "+",
            Tok::Minus => "-",
            Tok::Star => "*",
            Tok::Slash => "/",
            _ => "?",
        }
    }
}

/// A token with its place in the file.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    /// Kind and payload.
    pub tok: Tok,
    /// Where it is.
    pub span: Span,
}

/// Splits `text` into tokens; the last token is always [`Tok::Eof`].
pub fn lex(file: FileId, text: &str, diags: &mut Vec<Diagnostic>) -> Vec<Token> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        let single = |tok: Tok| (tok, 1usize);
        let two = |next: u8, yes: Tok, no: Tok| {
            if bytes.get(i + 1) == Some(&next) {
                (yes, 2usize)
            } else {
                (no, 1usize)
            }
        };
        let (tok, len) = match c {
            b' ' | b'\t' | b'\r' => {
                i += 1;
                continue;
            }
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'\n' => single(Tok::Newline),
            b'(' => single(Tok::LParen),
            b')' => single(Tok::RParen),
            b'{' => single(Tok::LBrace),
            b'}' => single(Tok::RBrace),
            b'[' => single(Tok::LBracket),
            b']' => single(Tok::RBracket),
            b',' => single(Tok::Comma),
            b':' => single(Tok::Colon),
            b'.' if !bytes.get(i + 1).is_some_and(u8::is_ascii_digit) => single(Tok::Dot),
            b'?' => single(Tok::Question),
            b'+' => single(Tok::Plus),
            b'-' => single(Tok::Minus),
            b'*' => single(Tok::Star),
            b'/' => single(Tok::Slash),
            b'=' => two(b'=', Tok::EqEq, Tok::Assign),
            b'!' => two(b'=', Tok::NotEq, Tok::Bang),
            b'<' => two(b'=', Tok::Le, Tok::Lt),
            b'>' => two(b'=', Tok::Ge, Tok::Gt),
            b'&' if bytes.get(i + 1) == Some(&b'&') => (Tok::AndAnd, 2),
            b'|' if bytes.get(i + 1) == Some(&b'|') => (Tok::OrOr, 2),
            b'"' => {
                let (tok, end) = lex_string(file, text, i, diags);
                out.push(Token {
                    tok,
                    span: Span::new(start, end),
                });
                i = end;
                continue;
            }
            b'0'..=b'9' | b'.' => {
                let (tok, end) = lex_number(file, text, i, diags);
                out.push(Token {
                    tok,
                    span: Span::new(start, end),
                });
                i = end;
                continue;
            }
            c if c == b'_' || c.is_ascii_alphabetic() => {
                let mut end = i;
                while end < bytes.len() && (bytes[end] == b'_' || bytes[end].is_ascii_alphanumeric()) {
                    end += 1;
                }
                out.push(Token {
                    tok: Tok::Ident(text[i..end].to_string()),
                    span: Span::new(start, end),
                });
                i = end;
                continue;
            }
            _ => {
                let ch = text[i..].chars().next().unwrap_or('\u{fffd}');
                let len = ch.len_utf8();
                let (message, help) = match ch {
                    '&' => ("`&` is not an operator".to_string(), "write `&&` for \"and\""),
                    '|' => ("`|` is not an operator".to_string(), "write `||` for \"or\""),
                    '\'' => (
                        "strings use double quotes".to_string(),
                        "write \"text\" instead of 'text'",
                    ),
                    _ => (
                        format!("unexpected character `{}`", ch.escape_debug()),
                        "remove it; names use letters, digits and `_`",
                    ),
                };
                diags.push(
                    Diagnostic::error("E0001", message, file, Span::new(i, i + len))
                        .with_label("not part of the language")
                        .with_help(help),
                );
                i += len;
                continue;
            }
        };
        out.push(Token {
            tok,
            span: Span::new(start, start + len),
        });
        i += len;
    }
    out.push(Token {
        tok: Tok::Eof,
        span: Span::new(text.len(), text.len()),
    });
    out
}

fn lex_string(file: FileId, text: &str, start: usize, diags: &mut Vec<Diagnostic>) -> (Tok, usize) {
    let mut value = String::new();
    let mut chars = text[start + 1..].char_indices();
    while let Some((off, ch)) = chars.next() {
        let at = start + 1 + off;
        match ch {
            '"' => return (Tok::Str(value), at + 1),
            '\n' => break,
            '\\' => match chars.next() {
                Some((_, 'n')) => value.push('\n'),
                Some((_, 't')) => value.push('\t'),
                Some((_, 'r')) => value.push('\r'),
                Some((_, '"')) => value.push('"'),
                Some((_, '\\')) => value.push('\\'),
                Some((_, '0')) => value.push('\0'),
                Some((uoff, 'u')) => {
                    let rest = &text[start + 1 + uoff + 1..];
                    let parsed = rest
                        .strip_prefix('{')
                        .and_then(|r| r.find('}').map(|e| &r[..e]))
                        .and_then(|hex| u32::from_str_radix(hex, 16).ok().map(|v| (v, hex.len())))
                        .and_then(|(v, n)| char::from_u32(v).map(|c| (c, n)));
                    match parsed {
                        Some((c, n)) => {
                            value.push(c);
                            for _ in 0..n + 2 {
                                chars.next();
                            }
                        }
                        None => diags.push(
                            Diagnostic::error("E0002", "invalid unicode escape", file, Span::new(at, at + 2))
                                .with_help("write `\\u{1F600}` with 1 to 6 hex digits"),
                        ),
                    }
                }
                Some((eoff, other)) => {
                    let e = start + 1 + eoff;
                    diags.push(
                        Diagnostic::error(
                            "E0002",
                            format!("unknown escape `\\{}`", other.escape_debug()),
                            file,
                            Span::new(at, e + other.len_utf8()),
                        )
                        .with_help("known escapes: \\n \\t \\r \\\" \\\\ \\0 \\u{...}"),
                    );
                }
                None => break,
            },
            c => value.push(c),
        }
    }
    let end = text[start..].find('\n').map_or(text.len(), |n| start + n);
    diags.push(
        Diagnostic::error("E0003", "unterminated string", file, Span::new(start, end))
            .with_label("this string has no closing quote")
            .with_help("add `\"` at the end; strings cannot span lines (use \\n)"),
    );
    (Tok::Str(value), end)
}

fn lex_number(file: FileId, text: &str, start: usize, diags: &mut Vec<Diagnostic>) -> (Tok, usize) {
    let bytes = text.as_bytes();
    let mut end = start;
    let mut is_float = false;
    while end < bytes.len() {
        match bytes[end] {
            b'0'..=b'9' | b'_' => end += 1,
            b'.' if !is_float && bytes.get(end + 1).is_some_and(u8::is_ascii_digit) => {
                is_float = true;
                end += 1;
            }
            b'e' | b'E'
                if bytes
                    .get(end + 1)
                    .is_some_and(|b| b.is_ascii_digit() || *b == b'-' || *b == b'+') =>
            {
                is_float = true;
                end += 2;
            }
            _ => break,
        }
    }
    let raw: String = text[start..end].chars().filter(|&c| c != '_').collect();
    let span = Span::new(start, end);
    if is_float {
        match raw.parse::<f64>() {
            Ok(v) if v.is_finite() => (Tok::Float(v), end),
            _ => {
                diags.push(Diagnostic::error("E0004", "invalid number", file, span).with_help("write e.g. 3.5 or 1e3"));
                (Tok::Float(0.0), end)
            }
        }
    } else {
        match raw.parse::<i64>() {
            Ok(v) => (Tok::Int(v), end),
            Err(_) => {
                diags.push(
                    Diagnostic::error("E0004", "number out of range", file, span)
                        .with_help("integers must fit in 64 bits; write a decimal (e.g. 1e20) for larger values"),
                );
                (Tok::Int(0), end)
            }
        }
    }
}
