//! The sync graph: concepts as nodes, syncs as edges from the concepts of
//! their when patterns to the concepts of their then invocations; as DOT
//! (for Graphviz) or as a self-contained SVG.

use std::fmt::Write as _;

use crate::Program;

/// From concept, to concept, and the syncs that connect them.
type Edge = (String, String, Vec<String>);

/// The concepts, and the edges between them.
fn edges(program: &Program) -> (Vec<String>, Vec<Edge>) {
    let mut nodes: Vec<String> = Vec::new();
    let mut edges: Vec<Edge> = Vec::new();
    let node = |c: &str, nodes: &mut Vec<String>| {
        if !nodes.iter().any(|n| n == c) {
            nodes.push(c.to_string());
        }
    };
    for s in program.all_syncs() {
        for p in &s.when {
            node(&p.concept, &mut nodes);
            for i in &s.then {
                node(&i.concept, &mut nodes);
                match edges.iter_mut().find(|(a, b, _)| *a == p.concept && *b == i.concept) {
                    Some((_, _, names)) => {
                        if !names.contains(&s.name) {
                            names.push(s.name.clone());
                        }
                    }
                    None => edges.push((p.concept.clone(), i.concept.clone(), vec![s.name.clone()])),
                }
            }
        }
    }
    (nodes, edges)
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The graph in Graphviz DOT.
pub fn dot(program: &Program) -> String {
    let (nodes, edges) = edges(program);
    let mut out = String::from("digraph syncs {\n  rankdir=LR;\n  node [shape=box, style=rounded];\n");
    for n in &nodes {
        let _ = writeln!(out, "  \"{n}\";");
    }
    for (a, b, names) in &edges {
        let _ = writeln!(out, "  \"{a}\" -> \"{b}\" [label=\"{}\"];", names.join("\\n"));
    }
    out.push_str("}\n");
    out
}

/// The graph as SVG: concepts on a circle, one arrow per concept pair
/// labelled with its syncs.
pub fn svg(program: &Program) -> String {
    let (nodes, edges) = edges(program);
    let n = nodes.len().max(1) as f64;
    let (w, h) = (900.0, 700.0);
    let (cx, cy, r) = (w / 2.0, h / 2.0, 250.0);
    let at = |name: &str| {
        let i = nodes.iter().position(|x| x == name).unwrap_or(0) as f64;
        let angle = std::f64::consts::TAU * i / n - std::f64::consts::FRAC_PI_2;
        (cx + r * angle.cos(), cy + r * angle.sin())
    };
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"8\" markerHeight=\"8\" orient=\"auto\">\
         <path d=\"M0,0 L10,5 L0,10 z\" fill=\"#555\"/></marker></defs>\n"
    );
    for (a, b, names) in &edges {
        let ((x1, y1), (x2, y2)) = (at(a), at(b));
        if a == b {
            let _ = writeln!(
                out,
                "<path d=\"M{:.0},{:.0} c -40,-60 40,-60 0,0\" fill=\"none\" stroke=\"#555\" marker-end=\"url(#arrow)\"/>",
                x1,
                y1 - 14.0
            );
            let _ = writeln!(
                out,
                "<text x=\"{:.0}\" y=\"{:.0}\" text-anchor=\"middle\" fill=\"#333\"><title>{}</title>{}</text>",
                x1,
                y1 - 64.0,
                escape(&names.join("\n")),
                escape(&if names.len() > 3 {
                    format!("{} sync(s)", names.len())
                } else {
                    names.join(", ")
                })
            );
            continue;
        }
        // Stop short of the node boxes.
        let (dx, dy) = (x2 - x1, y2 - y1);
        let len = (dx * dx + dy * dy).sqrt().max(1.0);
        let (sx, sy, ex, ey) = (
            x1 + dx / len * 40.0,
            y1 + dy / len * 16.0,
            x2 - dx / len * 40.0,
            y2 - dy / len * 16.0,
        );
        let _ = writeln!(
            out,
            "<line x1=\"{sx:.0}\" y1=\"{sy:.0}\" x2=\"{ex:.0}\" y2=\"{ey:.0}\" stroke=\"#555\" marker-end=\"url(#arrow)\"/>"
        );
        let _ = writeln!(
            out,
            "<text x=\"{:.0}\" y=\"{:.0}\" text-anchor=\"middle\" fill=\"#333\"><title>{}</title>{}</text>",
            // Nearer the source, so that the labels of A->B and B->A differ.
            sx + (ex - sx) * 0.35,
            sy + (ey - sy) * 0.35 - 4.0,
            escape(&names.join("\n")),
            escape(&format!("{} sync(s)", names.len()))
        );
    }
    for name in &nodes {
        let (x, y) = at(name);
        let width = 14.0 + 7.5 * name.len() as f64;
        let _ = writeln!(
            out,
            "<rect x=\"{:.0}\" y=\"{:.0}\" width=\"{width:.0}\" height=\"28\" rx=\"8\" fill=\"#eef3fb\" stroke=\"#4a6fa5\"/>\
             <text x=\"{x:.0}\" y=\"{:.0}\" text-anchor=\"middle\" font-weight=\"bold\">{}</text>",
            x - width / 2.0,
            y - 14.0,
            y + 4.0,
            escape(name)
        );
    }
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CompiledSync, Invocation, OutcomeMatch, WhenPattern};

    fn sync(name: &str, when: &[&str], then: &[&str]) -> CompiledSync {
        CompiledSync {
            name: name.into(),
            location: String::new(),
            vars: Vec::new(),
            when: when
                .iter()
                .map(|c| WhenPattern {
                    concept: c.to_string(),
                    action: "a".into(),
                    entry: None,
                    inputs: Vec::new(),
                    outcome: OutcomeMatch::Any,
                })
                .collect(),
            steps: Vec::new(),
            then: then
                .iter()
                .map(|c| Invocation {
                    concept: c.to_string(),
                    action: "b".into(),
                    args: Vec::new(),
                    responds: false,
                })
                .collect(),
            otherwise: Vec::new(),
            written_steps: Vec::new(),
        }
    }

    #[test]
    fn concepts_are_nodes_and_syncs_label_edges() {
        let program = Program {
            syncs: vec![
                sync("Login", &["Requesting"], &["Auth"]),
                sync("Respond", &["Requesting", "Auth"], &["Requesting"]),
                sync("Again", &["Requesting"], &["Auth"]),
            ],
        };
        let d = dot(&program);
        assert!(
            d.contains("\"Requesting\" -> \"Auth\" [label=\"Login\\nAgain\"];"),
            "{d}"
        );
        assert!(d.contains("\"Auth\" -> \"Requesting\" [label=\"Respond\"];"), "{d}");
        let s = svg(&program);
        assert!(s.starts_with("<svg") && s.trim_end().ends_with("</svg>"));
        assert_eq!(s.matches("<rect").count(), 2, "one box per concept");
        assert_eq!(s.matches("marker-end").count(), 3, "one arrow per concept pair");
    }
}
