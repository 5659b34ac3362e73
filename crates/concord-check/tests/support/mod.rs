//! Concepts the checker's tests check syncs against: the seeds' auth app
//! plus a few from the language reference. Bodies are real but trivial; only
//! the signatures matter to the checker.

#![allow(dead_code)]

use concord_concept::{Concept, ConceptSpec, Record};
use concord_macros::{Outputs, concept};

pub struct Requesting;

#[derive(Outputs)]
#[outputs(crate = concord_concept)]
pub struct RequestOut {
    pub request: String,
}

#[concept(
    crate = concord_concept,
    entry = "request",
    route_template = "path",
    method = "method",
    responds = "respond",
    responds = "respondWith"
)]
impl Requesting {
    pub fn request(&self, path: String, #[rest] _fields: Record) -> RequestOut {
        RequestOut { request: path }
    }
    pub fn respond(&self, request: String, #[rest] _fields: Record) -> Result<(), String> {
        let _ = request;
        Ok(())
    }
    pub fn respond_with(&self, request: String, code: i64, body: Option<serde_json::Value>) -> Result<(), String> {
        let _ = (request, code, body);
        Ok(())
    }
}

#[derive(Outputs)]
#[outputs(crate = concord_concept)]
pub struct UserOut {
    pub user: String,
}

pub struct UserAuthentication;

#[concept(crate = concord_concept)]
impl UserAuthentication {
    pub fn register(&self, username: String, password: String) -> Result<UserOut, String> {
        let _ = password;
        Ok(UserOut { user: username })
    }
    pub fn login(&self, username: String, password: String) -> Result<UserOut, String> {
        let _ = password;
        Ok(UserOut { user: username })
    }
    pub fn _get_user_by_username(&self, username: String) -> Vec<UserOut> {
        vec![UserOut { user: username }]
    }
}

pub struct Profile;

#[derive(Outputs)]
#[outputs(crate = concord_concept)]
pub struct BioOut {
    pub bio: String,
}

#[concept(crate = concord_concept)]
impl Profile {
    pub fn authenticate(&self, username: String, password: String) -> Result<UserOut, String> {
        let _ = password;
        Ok(UserOut { user: username })
    }
    pub fn _get_bio(&self, user: String) -> Vec<BioOut> {
        vec![BioOut { bio: user }]
    }
}

pub struct Sessioning;

#[derive(Outputs)]
#[outputs(crate = concord_concept)]
pub struct SessionOut {
    pub session: String,
}

#[concept(crate = concord_concept)]
impl Sessioning {
    pub fn create(&self, user: String) -> SessionOut {
        SessionOut { session: user }
    }
    pub fn delete(&self, session: String) -> Result<(), String> {
        let _ = session;
        Ok(())
    }
    pub fn _get_user(&self, session: String) -> Vec<UserOut> {
        vec![UserOut { user: session }]
    }
}

pub struct FileUploading;

#[derive(Outputs)]
#[outputs(crate = concord_concept)]
pub struct FileRow {
    pub file: String,
    pub filename: String,
}

#[concept(crate = concord_concept)]
impl FileUploading {
    pub fn _get_files_by_owner(&self, owner: String) -> Vec<FileRow> {
        vec![FileRow {
            file: owner.clone(),
            filename: owner,
        }]
    }
}

pub struct Following;

#[derive(Outputs)]
#[outputs(crate = concord_concept)]
pub struct Follows {
    pub follows: bool,
}

#[concept(crate = concord_concept)]
impl Following {
    pub fn follow(&self, follower: String, followee: String) -> Result<(), String> {
        let _ = (follower, followee);
        Ok(())
    }
    pub fn _is_following(&self, follower: String, followee: String) -> Vec<Follows> {
        let _ = (follower, followee);
        Vec::new()
    }
}

pub struct Counter;

#[derive(Outputs)]
#[outputs(crate = concord_concept)]
pub struct CountOut {
    pub count: i64,
}

#[concept(crate = concord_concept)]
impl Counter {
    pub fn add(&self, amount: i64) -> CountOut {
        CountOut { count: amount }
    }
    pub fn _get_count(&self) -> Vec<CountOut> {
        Vec::new()
    }
}

/// Signatures of all test concepts.
pub fn specs() -> Vec<ConceptSpec> {
    vec![
        Requesting.spec(),
        UserAuthentication.spec(),
        Profile.spec(),
        Sessioning.spec(),
        FileUploading.spec(),
        Following.spec(),
        Counter.spec(),
    ]
}
