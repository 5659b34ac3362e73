//! Diagnostics as one types need a checker that stays linear on broken
//! input: ~154 KB of broken lines (thousands of errors) must check in well
//! under a second. Deciding whether an error follows a recent one used to
//! count lines from the start of the file for every earlier error (cubic:
//! 1,600 copies of a broken line took 81 s); the bound here is loose enough
//! for a loaded debug build and far below what a regression costs.

use std::time::{Duration, Instant};

use concord_check::{SourceText, load};
use concord_concept::Concept;
use concord_syntax::SourceMap;

const BROKEN_LINES: [&str; 4] = [
    "sync A when Requesting.request (path: \"/users\", method: \"POST\", user?: form) : (request) then x\n",
    "    Requesting.request (path: \"/users\", method: \"POST\", user?: form) : (request) where (((\n",
    "sync C\nwhen\n    Nope.nope (x) : (y)\nthen\n    Nope.other (x)\n",
    ")))]]]}}} when then where \"unterminated\n",
];

#[test]
fn thousands_of_broken_lines_check_quickly() {
    let specs = vec![concord_std::Requesting::new().spec()];
    for line in BROKEN_LINES {
        let text = line.repeat(154_000 / line.len());
        let started = Instant::now();
        let mut sources = SourceMap::new();
        let checked = load(&mut sources, vec![SourceText::new("big.sync", &text)], &specs);
        let took = started.elapsed();
        assert!(checked.program.is_none(), "the input is broken");
        assert!(!checked.diagnostics.is_empty());
        assert!(
            took < Duration::from_secs(3),
            "{} KB of `{}` took {took:?}",
            text.len() / 1000,
            line.trim_end()
        );
    }
}
