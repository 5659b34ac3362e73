//! The hashing pool is bounded: beyond `QUEUED_PER_CORE` hashes per core
//! running or waiting, an action is refused as overloaded (so its flow
//! stops with 503 and `Retry-After`), and every admission is given back.
//! A process of its own: the pool is global.

use concord_concept::{ActionContext, FlowId, RecordId};
use concord_std::password;

fn ctx() -> ActionContext {
    ActionContext::new(FlowId::fresh(), RecordId::fresh())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_the_queue_hashes_are_refused_as_overloaded() {
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    let limit = cores * password::QUEUED_PER_CORE;
    let tries: Vec<_> = (0..limit * 3)
        .map(|i| {
            tokio::spawn(async move {
                let mut ctx = ctx();
                let result = password::hash(&mut ctx, format!("pw{i}")).await;
                (result.is_ok(), ctx.overloaded_for())
            })
        })
        .collect();
    let mut refused = 0;
    for t in tries {
        match t.await.unwrap() {
            (true, None) => {}
            (false, Some(wait)) => {
                assert!(wait.as_secs() >= 1, "{wait:?}");
                refused += 1;
            }
            other => panic!("a hash either runs or is refused as overloaded: {other:?}"),
        }
    }
    assert!(refused >= limit, "{refused} of {} refused, {limit} admitted", limit * 3);
    // Every admission was given back: a full queue's worth runs again.
    let again: Vec<_> = (0..limit)
        .map(|i| tokio::spawn(async move { password::hash(&mut ctx(), format!("again{i}")).await }))
        .collect();
    for h in again {
        assert!(h.await.unwrap().is_ok());
    }
}
