//! Misuse of `#[concept]` and `#[derive(Outputs)]` is a compile error that
//! names the problem (`tests/ui/*.rs`, the compiler's output in the `.stderr`
//! beside each; `TRYBUILD=overwrite` rewrites them after an intended change),
//! and correct use compiles (`tests/ui/pass_*.rs`).

#[test]
fn misuse_is_a_named_compile_error() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/fail_*.rs");
    t.pass("tests/ui/pass_*.rs");
}
