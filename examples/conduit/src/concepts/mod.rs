//! The app's concepts. None imports another: everything between them is in
//! `syncs/`.

mod article;
mod comment;
mod favorite;
mod following;
mod password;
mod profile;
mod tag;
mod user;

pub use article::Article;
pub use comment::Comment;
pub use favorite::Favorite;
pub use following::Following;
pub use password::Password;
pub use profile::Profile;
pub use tag::Tag;
pub use user::User;
