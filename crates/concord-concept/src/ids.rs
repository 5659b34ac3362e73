use std::fmt;

/// Identifies a flow: the records caused by one external stimulus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowId(pub uuid::Uuid);

/// Identifies one action record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordId(pub uuid::Uuid);

impl FlowId {
    /// A new time-ordered id.
    pub fn fresh() -> Self {
        FlowId(uuid::Uuid::now_v7())
    }
}

impl RecordId {
    /// A new time-ordered id.
    pub fn fresh() -> Self {
        RecordId(uuid::Uuid::now_v7())
    }

    /// The id of an invocation in `flow`: by `sync` (empty for the flow's
    /// first record), the records it matched, and its place among the
    /// invocations that evaluation made. The same invocation gets the same
    /// id, also when a resumed flow makes it again after a crash, so it
    /// serves as an idempotency key. A 128-bit XXH3 of those parts (a UUID
    /// of version 8): the parts are the server's own ids, so no client can
    /// aim at a collision, and it costs no SHA-1 and no string per record.
    pub fn of_invocation(flow: FlowId, sync: &str, matched: &[RecordId], ordinal: u32) -> Self {
        let mut bytes = Vec::with_capacity(16 + sync.len() + 1 + 16 * matched.len() + 4);
        bytes.extend_from_slice(flow.0.as_bytes());
        bytes.extend_from_slice(sync.as_bytes());
        bytes.push(0);
        for m in matched {
            bytes.extend_from_slice(m.0.as_bytes());
        }
        bytes.extend_from_slice(&ordinal.to_le_bytes());
        let hash = xxhash_rust::xxh3::xxh3_128(&bytes);
        RecordId(uuid::Uuid::new_v8(hash.to_le_bytes()))
    }

    /// The ids of the first journal format (UUID v5 of a text): a flow
    /// resumed from such a journal keeps them, so invocations it had
    /// committed are still recognised.
    pub fn of_invocation_v5(flow: FlowId, sync: &str, matched: &[RecordId], ordinal: u32) -> Self {
        let what = match sync.is_empty() {
            true => String::new(),
            false => {
                let ids: Vec<String> = matched.iter().map(ToString::to_string).collect();
                format!("{sync}\0{}\0{ordinal}", ids.join(","))
            }
        };
        RecordId(uuid::Uuid::new_v5(&flow.0, what.as_bytes()))
    }
}

impl fmt::Display for FlowId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Display for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invocation_s_id_is_stable_and_its_parts_tell_it_apart() {
        let flow = FlowId::fresh();
        let (a, b) = (RecordId::fresh(), RecordId::fresh());
        let id = RecordId::of_invocation(flow, "auth.Login", &[a, b], 0);
        assert_eq!(id, RecordId::of_invocation(flow, "auth.Login", &[a, b], 0));
        for other in [
            RecordId::of_invocation(FlowId::fresh(), "auth.Login", &[a, b], 0),
            RecordId::of_invocation(flow, "auth.Logout", &[a, b], 0),
            RecordId::of_invocation(flow, "auth.Login", &[b, a], 0),
            RecordId::of_invocation(flow, "auth.Login", &[a], 0),
            RecordId::of_invocation(flow, "auth.Login", &[a, b], 1),
            RecordId::of_invocation(flow, "", &[], 0),
        ] {
            assert_ne!(id, other);
        }
        assert_eq!(id.0.get_version_num(), 8);
    }

    #[test]
    fn first_format_ids_are_what_that_version_computed() {
        let flow = FlowId("01a2395d-9429-7562-a6d4-0cfc3c96ab61".parse().unwrap());
        let a = RecordId("01a2395d-9430-7000-8000-000000000001".parse().unwrap());
        // The first version's text: sync, matched ids with commas, ordinal.
        let text = format!("auth.Login\0{a}\02");
        assert_eq!(
            RecordId::of_invocation_v5(flow, "auth.Login", &[a], 2),
            RecordId(uuid::Uuid::new_v5(&flow.0, text.as_bytes()))
        );
        assert_eq!(
            RecordId::of_invocation_v5(flow, "", &[], 0),
            RecordId(uuid::Uuid::new_v5(&flow.0, b""))
        );
    }
}
