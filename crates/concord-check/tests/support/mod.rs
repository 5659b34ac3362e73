//! Concepts the checker's tests check syncs against: the standard
//! `Requesting`, the seeds' auth app and a few from the language reference. Bodies are real but trivial; only
//! the signatures matter to the checker.

#![allow(dead_code)]

use concord_concept::{Concept, ConceptSpec};
use concord_macros::{Outputs, concept};

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
        concord_std::Requesting::new().spec(),
        UserAuthentication.spec(),
        Profile.spec(),
        Sessioning.spec(),
        FileUploading.spec(),
        Following.spec(),
        Counter.spec(),
    ]
}
