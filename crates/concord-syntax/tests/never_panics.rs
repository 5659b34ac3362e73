//! The parser (and the expansion of views and `else`) never panics, always
//! terminates, and every diagnostic points inside the file, whatever it is fed: random bytes, token soup, mutations of
//! valid syncs, and pathological nesting. A small deterministic generator
//! keeps the run reproducible (set `CONCORD_FUZZ_CASES` for longer runs).

use concord_syntax::{FileId, SourceMap, parse};

const VALID: &str = r#"
# a comment
sync ListMyFiles
when
    Requesting.request (path: "/my-files", session) : (request)
    Sessioning.create () : (session?)
where
    Sessioning._getUser (session) : (user)
    optional Profile._getBio (user) : (bio)
    not Following._isFollowing (follower: user, followee: author)
    count >= 10 && !(bio == null) || len(user.name) > -3.5e2
    let body = { username: name, bio: bio, tags: [1, "two", null, true] }
    collect { file, filename } as results {
        FileUploading._getFilesByOwner (owner: user) : (file, filename: _)
    }
then
    Requesting.respond (request, results, status: "ok\n\u{1F600}")
    Sessioning.create (user) : *

view Card (user, viewer) : (json)
    Profile._getBio (user) : (bio)
    let json = { user, bio }

sync Shown
when
    Requesting.request (path: "/card", who) : (request)
where
    Card (user: who, viewer: null) : (json: card)
        else Requesting.respond (request, error: "none")
    len(card) > 0
        else Requesting.respond (request, error: "empty")
then
    Requesting.respond (request, card)
"#;

const VOCABULARY: &[&str] = &[
    "sync",
    "view",
    "else",
    "Card",
    "when",
    "where",
    "then",
    "let",
    "collect",
    "as",
    "optional",
    "not",
    "Requesting",
    ".",
    "request",
    "(",
    ")",
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "?",
    "=",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "&&",
    "||",
    "!",
    "+",
    "-",
    "*",
    "/",
    "_",
    "x",
    "\"s\"",
    "\"",
    "42",
    "3.5",
    "1e",
    "true",
    "null",
    "\n",
    "\n",
    " ",
    "#c\n",
    "&",
    "|",
    "'",
    "é",
    "\u{0}",
    "\t",
    "\r\n",
    "len(",
    "9999999999999999999999",
];

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn check(text: &str) {
    let mut sources = SourceMap::new();
    let file = sources.add("fuzz.sync", text);
    let (ast, mut diags) = parse(file, text);
    // Expansion (views, `else` companions, their text) must not panic either.
    for sync in &ast.syncs {
        let _ = concord_syntax::expand::render(sync, &ast.views);
    }
    diags.extend(concord_syntax::expand::inline_views(file, &mut ast.clone()));
    for d in &diags {
        for label in std::iter::once(&d.primary).chain(&d.secondary) {
            assert!(
                label.span.start <= label.span.end,
                "inverted span in {d:?} for {text:?}"
            );
            assert!(
                label.span.end as usize <= text.len(),
                "span past the end in {d:?} for {text:?}"
            );
            assert_eq!(label.file, FileId(0));
        }
        // Rendering must not panic either.
        let _ = d.render(&sources);
    }
}

fn cases() -> usize {
    std::env::var("CONCORD_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3_000)
}

#[test]
fn random_bytes() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..cases() {
        let len = rng.below(200);
        let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        check(&String::from_utf8_lossy(&bytes));
    }
}

#[test]
fn token_soup() {
    let mut rng = Rng(0xdead_beef_cafe_f00d);
    for _ in 0..cases() {
        let n = rng.below(80);
        let text: String = (0..n)
            .map(|_| VOCABULARY[rng.below(VOCABULARY.len())])
            .collect::<Vec<_>>()
            .join(" ");
        check(&text);
    }
}

#[test]
fn mutations_of_a_valid_file() {
    let (_, diags) = parse(FileId(0), VALID);
    assert!(diags.is_empty(), "the seed text is valid: {diags:?}");
    let mut rng = Rng(0x0123_4567_89ab_cdef);
    let chars: Vec<char> = VALID.chars().collect();
    for _ in 0..cases() {
        let mut c = chars.clone();
        for _ in 0..=rng.below(4) {
            let at = rng.below(c.len());
            match rng.below(3) {
                0 if !c.is_empty() => {
                    c.remove(at.min(c.len() - 1));
                }
                1 => {
                    let ins: Vec<char> = VOCABULARY[rng.below(VOCABULARY.len())].chars().collect();
                    for (k, ch) in ins.into_iter().enumerate() {
                        c.insert((at + k).min(c.len()), ch);
                    }
                }
                _ if !c.is_empty() => {
                    let last = c.len() - 1;
                    let other = rng.below(c.len());
                    c.swap(at.min(last), other.min(last));
                }
                _ => {}
            }
        }
        check(&c.into_iter().collect::<String>());
    }
}

#[test]
fn pathological_nesting_is_an_error_not_a_stack_overflow() {
    for open in ["(", "[", "{a:", "!", "-", "collect x as y {\n"] {
        let deep = open.repeat(100_000);
        let text = format!("sync S\nwhen\n    A.b () : ()\nwhere\n    let x = {deep}\nthen\n    A.b ()\n");
        let (_, diags) = parse(FileId(0), &text);
        assert!(diags.iter().any(|d| d.is_error()), "{open}");
        check(&text);
    }
}
