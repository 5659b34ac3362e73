//! docs/reference/standard-concepts.md is written from the standard
//! concepts' own specs (signatures, doc comments, state, secrets): this test
//! fails when the page and the code differ. After changing a standard
//! concept, rewrite the page with
//!
//!     CONCORD_UPDATE_REFERENCE=1 cargo test -p concord --test standard_concepts_reference

use concord::Concept;

const INTRO: &str = "\
# Reference: the standard concepts

The concepts `concord-std` ships, as syncs see them. Each signature is
`action (parameter: type, …) : (outputs) | (error)`: `?` marks an optional
parameter, `(secret)` one redacted in every record, `...` further keys of any
name; each `( )` after the colon is one outcome case a when pattern can match.
This page is generated from the concepts' specs and doc comments (see
`crates/concord/tests/standard_concepts_reference.rs`); the Rust API of each
(constructors, settings such as session lifetime) is in its rustdoc.";

#[test]
fn the_page_is_what_the_specs_say() {
    let specs = vec![
        concord::std_concepts::Requesting::new().spec(),
        concord::std_concepts::UserAuthentication.spec(),
        concord::std_concepts::Sessioning::new().spec(),
        concord::std_concepts::Jwt::new(vec![7u8; 32]).spec(),
    ];
    let page = concord::reference::concepts_markdown(INTRO, &specs) + "\n";
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/reference/standard-concepts.md");
    if std::env::var("CONCORD_UPDATE_REFERENCE").is_ok_and(|v| v == "1") {
        std::fs::write(path, &page).unwrap();
    }
    let written = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        written == page,
        "docs/reference/standard-concepts.md differs from the standard concepts' specs; \
         rewrite it with CONCORD_UPDATE_REFERENCE=1 cargo test -p concord --test standard_concepts_reference"
    );
    for concept in ["## Requesting", "## UserAuthentication", "## Sessioning", "## JWT"] {
        assert!(page.contains(concept), "{concept}");
    }
    assert!(page.contains("#### `create (user: string) : (session)"), "{page}");
}
