//! concord: concept design in Rust.
//!
//! An app is a set of **concepts** (Rust types whose actions and queries the
//! engine sees through `#[concept]`) composed only by **synchronizations**
//! (`.sync` files, checked against the concepts before anything runs).
//!
//! ```no_run
//! use concord::{App, concept};
//!
//! #[derive(Default)]
//! struct Counter { count: std::sync::atomic::AtomicI64 }
//!
//! #[concept]
//! impl Counter {
//!     /// Adds one.
//!     pub fn increment(&self) {
//!         self.count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
//!     }
//! }
//!
//! # async fn run() -> Result<(), concord::LoadError> {
//! let engine = App::new().concept(Counter::default()).syncs("syncs").load().await?;
//! engine.run("Counter", "increment", Default::default()).await?;
//! # Ok(()) }
//! ```
//!
//! This crate re-exports what apps need; the work is done by `concord-syntax`
//! (the language), `concord-check` (the checker) and `concord-engine` (the
//! runtime).

mod app;
pub mod reference;

/// The guide for app authors (`docs/guide/` in the repository); its Rust
/// examples are this module's doctests.
pub mod guide {
    #![doc = include_str!("../../../docs/guide/README.md")]

    /// Getting started.
    pub mod getting_started {
        #![doc = include_str!("../../../docs/guide/getting-started.md")]
    }
    /// Writing a concept.
    pub mod concepts {
        #![doc = include_str!("../../../docs/guide/concepts.md")]
    }
    /// Writing syncs.
    pub mod syncs {
        #![doc = include_str!("../../../docs/guide/syncs.md")]
    }
    /// Testing flows.
    pub mod testing {
        #![doc = include_str!("../../../docs/guide/testing.md")]
    }
    /// Serving.
    pub mod serving {
        #![doc = include_str!("../../../docs/guide/serving.md")]
    }
    /// PostgreSQL and several nodes.
    pub mod postgres {
        #![doc = include_str!("../../../docs/guide/postgres.md")]
    }
    /// Seeing what happened.
    pub mod seeing {
        #![doc = include_str!("../../../docs/guide/seeing.md")]
    }
    /// Coming from the TypeScript template.
    pub mod migrating {
        #![doc = include_str!("../../../docs/guide/migrating.md")]
    }
    /// Editors.
    pub mod editors {
        #![doc = include_str!("../../../docs/guide/editors.md")]
    }
}
mod serve;
mod settings;
pub mod testing;

pub use serve::render_trace;
pub use settings::{Settings, SettingsError};

pub use app::{App, CheckReport, DEFAULT_DATABASE, LoadError, Served, init_tracing, watch_syncs};
// What app authors write concepts with; the store's interface
// (`StateBackend`, `StateTx`, `Op`, `LogEntry`) is under `store`.
#[doc(hidden)]
pub use concord_concept::__private;
pub use concord_concept::time;
pub use concord_concept::{
    ActionContext, ActionRole, ActionSpec, BoxFuture, Collection, CollectionSpec, Concept, ConceptSpec, Cond,
    EntryRole, FlowId, IntoOutcome, IntoRows, Outcome, Outputs, ParamSpec, ParamType, Query, QueryContext, QuerySpec,
    Record, RecordId, SourceSpot, StateError, Value,
};
pub use concord_engine::{
    ActionLog, ActionRecord, Engine, EngineBuilder, EngineError, FlowError, FlowReport, FlowStatus, MissReason,
    NearMiss, QueryError,
};
/// HTTP serving: Requesting over axum, passthrough routes.
pub use concord_http as http;
pub use concord_macros::{Outputs, concept};
/// Standard concepts.
pub use concord_std as std_concepts;
/// Storage backends (SQLite, PostgreSQL) and the action log.
pub use concord_store as store;

/// The checker, for tools that check syncs without running them.
pub use concord_check as check;
/// The compiled program (the IR the engine runs), its routes and its graph.
pub use concord_program as program;
/// The `.sync` language: parser, syntax tree, diagnostics.
pub use concord_syntax as syntax;
