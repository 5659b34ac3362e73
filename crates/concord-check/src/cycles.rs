//! Sync cycles that can run away: syncs whose then actions trigger each
//! other's when patterns in a loop, with no where step that could stop it.
//! (A guarded loop, such as `n < limit`, is deliberate recursion.) At run
//! time such a flow is stopped at the step quota; this warns before.

use concord_syntax::Diagnostic;

use crate::check::Summary;

/// Does sync `a` invoke an action that sync `b` has a when pattern on?
fn triggers(a: &Summary, b: &Summary) -> bool {
    a.then
        .iter()
        .any(|(c, act, _)| b.when.iter().any(|p| &p.concept == c && &p.action == act))
}

pub(crate) fn analyse(summaries: &[Summary], diags: &mut Vec<Diagnostic>) {
    let n = summaries.len();
    let edges: Vec<Vec<usize>> = (0..n)
        .map(|i| (0..n).filter(|&j| triggers(&summaries[i], &summaries[j])).collect())
        .collect();
    let mut reported: Vec<Vec<usize>> = Vec::new();
    for start in 0..n {
        if summaries[start].guard.is_some() {
            continue;
        }
        // Shortest unguarded cycle through `start` (breadth-first search).
        let mut previous = vec![usize::MAX; n];
        let mut queue = std::collections::VecDeque::from([start]);
        let mut found = None;
        while let Some(i) = queue.pop_front() {
            for &j in &edges[i] {
                if summaries[j].guard.is_some() {
                    continue;
                }
                if j == start {
                    found = Some(i);
                    break;
                }
                if previous[j] == usize::MAX {
                    previous[j] = i;
                    queue.push_back(j);
                }
            }
            if found.is_some() {
                break;
            }
        }
        let Some(last) = found else { continue };
        let mut cycle = vec![last];
        while *cycle.last().unwrap_or(&start) != start {
            let at = *cycle.last().unwrap_or(&start);
            let back = previous[at];
            if back == usize::MAX {
                cycle.push(start);
                break;
            }
            cycle.push(back);
        }
        cycle.reverse();
        let mut key = cycle.clone();
        key.sort_unstable();
        key.dedup();
        if reported.contains(&key) {
            continue;
        }
        reported.push(key);
        let names: Vec<&str> = cycle.iter().map(|&i| summaries[i].name.as_str()).collect();
        let s = &summaries[start];
        let mut d = Diagnostic::warning(
            "W0501",
            format!(
                "these syncs can trigger each other forever: {} -> {}",
                names.join(" -> "),
                names[0]
            ),
            s.file,
            s.name_span,
        )
        .with_label("starts a cycle with no where condition to end it")
        .with_help(
            "add a where step that stops the recursion (e.g. a filter on a counter or a query that becomes empty); \
             at run time such a flow is stopped at its step quota",
        );
        for &i in cycle.iter().skip(1) {
            d = d.with_secondary(summaries[i].file, summaries[i].name_span, "part of the cycle");
        }
        diags.push(d);
    }
}
