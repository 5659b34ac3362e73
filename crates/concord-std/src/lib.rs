//! Standard concepts shipped with concord.
//!
//! * [`Requesting`]: external requests as actions, answered at most once.
//! * [`Sessioning`]: sessions for users, identified by unguessable tokens.
//!
//! Their state is in memory for now; the storage layer gives concepts
//! durable collections without changing their actions.

mod requesting;
mod sessioning;

pub use requesting::{RequestOut, Requesting};
pub use sessioning::{SessionOut, Sessioning, UserRow};
