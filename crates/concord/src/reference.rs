//! Reference pages written from concepts' own specs: signatures as the
//! checker sees them, doc comments, state and secrets. Generated, so that a
//! page cannot drift from the code it describes.

use std::fmt::Write as _;

use concord_concept::{ActionRole, ConceptSpec};

/// Rustdoc's links to Rust items (`[text](crate::path)`) as their text:
/// they mean nothing outside rustdoc. Web links stay.
fn plain_links(doc: &str) -> String {
    let mut out = String::new();
    let mut rest = doc;
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        let link = after.find("](").and_then(|close| {
            let target_end = after[close + 2..].find(')')?;
            let target = &after[close + 2..close + 2 + target_end];
            let is_item = !target.contains("://") && !target.contains('/') && !target.starts_with('#');
            is_item.then_some((close, close + 2 + target_end + 1))
        });
        match link {
            Some((close, end)) => {
                out.push_str(&rest[..open]);
                out.push_str(&after[..close]);
                rest = &after[end..];
            }
            None => {
                out.push_str(&rest[..=open]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Appends `doc` as a paragraph (nothing if empty).
fn paragraph(out: &mut String, doc: &str) {
    let doc = doc.trim();
    if !doc.is_empty() {
        let _ = write!(out, "{}\n\n", plain_links(doc));
    }
}

/// A Markdown page: `intro`, then one section per concept.
pub fn concepts_markdown(intro: &str, specs: &[ConceptSpec]) -> String {
    let mut out = String::from(intro.trim_end());
    out.push_str("\n\n");
    for spec in specs {
        let _ = write!(out, "## {}\n\n", spec.name);
        paragraph(&mut out, &spec.doc);
        if !spec.collections.is_empty() {
            out.push_str("**Stored in** ");
            let collections: Vec<String> = spec
                .collections
                .iter()
                .map(|c| {
                    let mut text = format!("`{}`", c.name);
                    let mut notes: Vec<String> = c.unique.iter().map(|u| format!("`{u}` unique")).collect();
                    notes.extend(c.indexes.iter().map(|i| format!("`{i}` indexed")));
                    if !notes.is_empty() {
                        let _ = write!(text, " ({})", notes.join(", "));
                    }
                    text
                })
                .collect();
            let _ = write!(out, "{}.\n\n", collections.join("; "));
        }
        if !spec.sensitive.is_empty() {
            let keys: Vec<String> = spec.sensitive.iter().map(|k| format!("`{k}`")).collect();
            let _ = write!(out, "**Secret** (redacted in every record): {}.\n\n", keys.join(", "));
        }
        if !spec.actions.is_empty() {
            out.push_str("### Actions\n\n");
            for a in &spec.actions {
                let _ = write!(out, "#### `{}`\n\n", a.signature());
                match &a.role {
                    ActionRole::Entry(entry) => {
                        let _ = writeln!(
                            out,
                            "*Entry*: starts flows from outside; `{}` names the route{}.\n",
                            entry.route_key,
                            entry
                                .method_key
                                .as_ref()
                                .map(|m| format!(" and `{m}` tells flows on one route apart"))
                                .unwrap_or_default()
                        );
                    }
                    ActionRole::Responder => out.push_str("*Responder*: answers a flow its entry started.\n\n"),
                    ActionRole::Plain => {}
                }
                paragraph(&mut out, &a.doc);
            }
        }
        if !spec.queries.is_empty() {
            out.push_str("### Queries\n\n");
            for q in &spec.queries {
                let _ = write!(out, "#### `{}`\n\n", q.signature());
                paragraph(&mut out, &q.doc);
            }
        }
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::plain_links;

    #[test]
    fn item_links_become_their_text_and_web_links_stay() {
        assert_eq!(plain_links("see [`key`](crate::identity::key) now"), "see `key` now");
        assert_eq!(
            plain_links("[docs](https://example.com/x)"),
            "[docs](https://example.com/x)"
        );
        assert_eq!(plain_links("a [b] c"), "a [b] c");
    }
}
