use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The output of `Sessioning.create`.
#[derive(Debug, Clone, PartialEq, Eq, concord_macros::Outputs)]
#[outputs(crate = concord_concept)]
pub struct SessionOut {
    /// The new session's id.
    pub session: String,
}

/// A row of `Sessioning._getUser`.
#[derive(Debug, Clone, PartialEq, Eq, concord_macros::Outputs)]
#[outputs(crate = concord_concept)]
pub struct UserRow {
    /// The session's user.
    pub user: String,
}

#[derive(Debug)]
struct Session {
    user: String,
    expires_at: Instant,
}

/// **concept** Sessioning [User]
///
/// **purpose** keep a user logged in across requests.
///
/// **principle** after `create (user) : (session)`, `_getUser (session)`
/// yields `user` until the session is deleted or expires; afterwards it
/// yields nothing.
///
/// **state** a set of Sessions, each with a user and an expiry time.
///
/// Session ids are 256 random bits from the operating system, hex-encoded.
#[derive(Debug)]
pub struct Sessioning {
    sessions: Mutex<HashMap<String, Session>>,
    lifetime: Duration,
    one_per_user: bool,
}

impl Default for Sessioning {
    fn default() -> Self {
        Self::new()
    }
}

#[concord_macros::concept(crate = concord_concept)]
impl Sessioning {
    /// Starts a session for `user`.
    pub fn create(&self, user: String) -> SessionOut {
        let session = fresh_token();
        let mut sessions = self.lock();
        if self.one_per_user {
            sessions.retain(|_, s| s.user != user);
        }
        sessions.insert(
            session.clone(),
            Session {
                user,
                expires_at: Instant::now() + self.lifetime,
            },
        );
        SessionOut { session }
    }

    /// Ends a session; fails if there is no such (unexpired) session.
    pub fn delete(&self, session: String) -> Result<(), String> {
        match self.lock().remove(&session) {
            Some(s) if s.expires_at > Instant::now() => Ok(()),
            _ => Err("no such session".to_string()),
        }
    }

    /// The user of a live session (no rows if unknown or expired).
    pub fn _get_user(&self, session: String) -> Vec<UserRow> {
        let mut sessions = self.lock();
        match sessions.get(&session) {
            Some(s) if s.expires_at > Instant::now() => vec![UserRow {
                user: s.user.clone(),
            }],
            Some(_) => {
                sessions.remove(&session);
                Vec::new()
            }
            None => Vec::new(),
        }
    }
}

impl Sessioning {
    /// Sessions that last 24 hours; several per user allowed.
    pub fn new() -> Self {
        Sessioning {
            sessions: Mutex::new(HashMap::new()),
            lifetime: Duration::from_secs(24 * 60 * 60),
            one_per_user: false,
        }
    }

    /// Sets how long a session lasts.
    pub fn lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// Creating a session ends the user's other sessions.
    pub fn one_session_per_user(mut self) -> Self {
        self.one_per_user = true;
        self
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn fresh_token() -> String {
    let mut bytes = [0u8; 32];
    // Without an OS random source no secure token can exist; the engine turns
    // this panic into the action's error outcome.
    getrandom::fill(&mut bytes)
        .expect("the operating system's random number generator is unavailable");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_resolve_until_deleted() {
        let s = Sessioning::new();
        let a = s.create("ada".into()).session;
        assert_eq!(a.len(), 64);
        assert_eq!(s._get_user(a.clone()), vec![UserRow { user: "ada".into() }]);
        assert_eq!(s.delete(a.clone()), Ok(()));
        assert!(s._get_user(a.clone()).is_empty());
        assert_eq!(s.delete(a), Err("no such session".into()));
    }

    #[test]
    fn sessions_expire() {
        let s = Sessioning::new().lifetime(Duration::ZERO);
        let a = s.create("ada".into()).session;
        assert!(s._get_user(a.clone()).is_empty());
        assert!(s.delete(a).is_err());
    }

    #[test]
    fn one_session_per_user_ends_the_others() {
        let s = Sessioning::new().one_session_per_user();
        let first = s.create("ada".into()).session;
        let second = s.create("ada".into()).session;
        let other = s.create("bob".into()).session;
        assert_ne!(first, second);
        assert!(s._get_user(first).is_empty());
        assert_eq!(s._get_user(second).len(), 1);
        assert_eq!(s._get_user(other).len(), 1);
    }
}
