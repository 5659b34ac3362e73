//! Standard concepts shipped with concord.
//!
//! * [`Requesting`]: external requests as actions, answered at most once.
//! * [`Sessioning`]: sessions for users, identified by unguessable tokens.
//! * [`UserAuthentication`]: usernames and passwords (Argon2id; verifies and
//!   upgrades bcrypt hashes imported from the reference stack).
//!
//! Sessioning and UserAuthentication keep their state in the app's store;
//! Requesting's pending requests live in the process.

pub mod password;
mod requesting;
mod sessioning;
mod user_authentication;

pub use requesting::{RequestOut, Requesting, Response};
pub use sessioning::{SessionOut, Sessioning, UserRow};
pub use user_authentication::{UserAuthentication, UserOut, UsernameRow};
