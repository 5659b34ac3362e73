use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// Output of `JWT.issue`.
#[derive(Debug, Clone, PartialEq, Eq, concord_macros::Outputs)]
#[outputs(crate = concord_concept)]
pub struct TokenOut {
    /// The signed token.
    pub token: String,
}

/// A row of `JWT._verify`.
#[derive(Debug, Clone, PartialEq, Eq, concord_macros::Outputs)]
#[outputs(crate = concord_concept)]
pub struct SubjectRow {
    /// The user the token was issued for.
    pub user: String,
}

/// The shortest `JWT_SECRET` accepted: HS256's key is as strong as its
/// 256 bits.
pub const MIN_SECRET: usize = 32;

/// Why [`Jwt::from_env`] refused to start.
#[derive(Debug, thiserror::Error)]
pub enum JwtSecretError {
    /// The secret is too short to sign with.
    #[error(
        "JWT_SECRET is {bytes} bytes; it must be at least 32 (e.g. `openssl rand -hex 32`), \
         or unset for a random per-process key"
    )]
    TooShort {
        /// Its length.
        bytes: usize,
    },
    /// The operating system gave no random bytes for a key.
    #[error("JWT_SECRET is not set and the operating system's random number generator is unavailable")]
    NoRandomness,
}

#[derive(Serialize, Deserialize)]
struct Claims {
    sub: String,
    iat: u64,
    exp: u64,
}

/// The **JWT** concept (its purpose, principle and state are on
/// its `impl` block, which is what `concord-std`'s reference page shows).
#[derive(Clone)]
pub struct Jwt {
    secret: Vec<u8>,
    lifetime: Duration,
}

impl std::fmt::Debug for Jwt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jwt")
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}

#[concord_macros::concept(crate = concord_concept, name = "JWT", sensitive = "token")]
/// **concept** JWT \[User\]
///
/// **purpose** let a client prove, request after request, which user it
/// acts for, without server-side session state.
///
/// **principle** after `issue (user) : (token)`, `_verify (token)` yields
/// `user` until the token expires; a token that was altered, signed with
/// another secret, or expired yields nothing.
///
/// **state** none: tokens are HS256-signed JSON Web Tokens carrying the user
/// and an expiry. Tokens are bearer secrets: traces and the log show them as
/// `<redacted>`.
impl Jwt {
    /// A token for `user`.
    pub fn issue(&self, user: String) -> TokenOut {
        let iat = now();
        let claims = Claims {
            sub: user,
            iat,
            exp: iat + self.lifetime.as_secs(),
        };
        let header = b64(br#"{"alg":"HS256","typ":"JWT"}"#);
        let payload = b64(serde_json::to_string(&claims).unwrap_or_default().as_bytes());
        let signing = format!("{header}.{payload}");
        let signature = b64(&self.sign(signing.as_bytes()));
        TokenOut {
            token: format!("{signing}.{signature}"),
        }
    }

    /// The user of a valid, unexpired token (no rows otherwise, and none
    /// without a token, so routes with optional authentication can ask too).
    pub fn _verify(&self, token: Option<String>) -> Vec<SubjectRow> {
        token
            .and_then(|token| self.subject(&token))
            .map(|user| SubjectRow { user })
            .into_iter()
            .collect()
    }
}

impl Jwt {
    /// Tokens signed with `secret` (at least 32 bytes), valid for 24 hours.
    pub fn new(secret: impl Into<Vec<u8>>) -> Self {
        Jwt {
            secret: secret.into(),
            lifetime: Duration::from_secs(24 * 60 * 60),
        }
    }

    /// Signed with `JWT_SECRET` from the environment, which must be at least
    /// 32 bytes: a shorter one is refused, never silently replaced. Unset,
    /// tokens are signed with a random key made for this process (they stop
    /// working when it restarts, and another node does not accept them),
    /// and a warning says so.
    pub fn from_env() -> Result<Self, JwtSecretError> {
        match std::env::var("JWT_SECRET") {
            Ok(s) if s.len() >= MIN_SECRET => Ok(Self::new(s.into_bytes())),
            Ok(s) if !s.is_empty() => Err(JwtSecretError::TooShort { bytes: s.len() }),
            _ => {
                let mut secret = vec![0u8; MIN_SECRET];
                getrandom::fill(&mut secret).map_err(|_| JwtSecretError::NoRandomness)?;
                tracing::warn!(
                    target: "concord::jwt",
                    "JWT_SECRET is not set: tokens are signed with a random key for this process only; \
                     they stop working when it restarts and other nodes refuse them (set JWT_SECRET to \
                     {MIN_SECRET} or more random bytes, e.g. `openssl rand -hex 32`)"
                );
                Ok(Self::new(secret))
            }
        }
    }

    /// Sets how long a token is valid.
    pub fn lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    fn sign(&self, data: &[u8]) -> Vec<u8> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.secret).expect("HMAC takes keys of any length");
        mac.update(data);
        mac.finalize().into_bytes().to_vec()
    }

    fn subject(&self, token: &str) -> Option<String> {
        let (signing, signature) = token.rsplit_once('.')?;
        let (header, payload) = signing.split_once('.')?;
        if unb64(header)? != br#"{"alg":"HS256","typ":"JWT"}"# {
            return None;
        }
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.secret).ok()?;
        mac.update(signing.as_bytes());
        mac.verify_slice(&unb64(signature)?).ok()?;
        let claims: Claims = serde_json::from_slice(&unb64(payload)?).ok()?;
        (claims.exp > now()).then_some(claims.sub)
    }
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// base64url without padding.
fn b64(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len() * 4 / 3 + 4);
    for chunk in data.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | (b as u32) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

fn unb64(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut bits = 0u32;
    let mut count = 0;
    for c in text.bytes() {
        let v = ALPHABET.iter().position(|&a| a == c)? as u32;
        bits = bits << 6 | v;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count & 0xff) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_round_trips() {
        for data in [
            &b""[..],
            b"f",
            b"fo",
            b"foo",
            b"foob",
            b"fooba",
            b"foobar",
            &[0xff, 0xfe, 0x00],
        ] {
            assert_eq!(unb64(&b64(data)).unwrap(), data);
        }
        assert_eq!(b64(b"foobar"), "Zm9vYmFy");
        assert_eq!(b64(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn tokens_verify_until_altered_or_expired() {
        let jwt = Jwt::new(*b"0123456789abcdef0123456789abcdef");
        let token = jwt.issue("ada".into()).token;
        assert_eq!(token.split('.').count(), 3);
        assert_eq!(
            jwt._verify(Some(token.clone())),
            vec![SubjectRow { user: "ada".into() }]
        );
        let mut altered = token.clone();
        altered.insert(altered.find('.').unwrap() + 2, 'x');
        assert!(jwt._verify(Some(altered)).is_empty(), "altered payload");
        let other = Jwt::new(*b"another secret, also 32 bytes!!!");
        assert!(other._verify(Some(token.clone())).is_empty(), "another secret");
        let expired = Jwt::new(*b"0123456789abcdef0123456789abcdef").lifetime(Duration::ZERO);
        assert!(
            expired._verify(Some(expired.issue("ada".into()).token)).is_empty(),
            "expired"
        );
        assert!(jwt._verify(Some("not.a.token".into())).is_empty());
        assert!(jwt._verify(Some(String::new())).is_empty());
        assert!(jwt._verify(None).is_empty(), "no token");
    }

    #[test]
    fn tokens_are_sensitive() {
        use concord_concept::Concept;
        let spec = Jwt::new(vec![0; 32]).spec();
        assert_eq!(spec.name, "JWT");
        assert_eq!(spec.sensitive, ["token"]);
    }
}

#[cfg(test)]
mod interop {
    use super::*;

    /// A token signed by another implementation (Python's `hmac`, HS256) over
    /// the same header verifies here.
    #[test]
    fn verifies_a_token_made_elsewhere() {
        let secret = b"0123456789abcdef0123456789abcdef";
        let header = b64(br#"{"alg":"HS256","typ":"JWT"}"#);
        let payload = b64(br#"{"sub":"ada","iat":1,"exp":99999999999}"#);
        let signing = format!("{header}.{payload}");
        assert_eq!(header, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9");
        // base64url(HMAC-SHA256(secret, signing)) as computed by Python's hmac module.
        let theirs = "6Xea-4QLcZs8kk-ed_wbXnK6JmZsDmHMeMSRTTNyYYw";
        let jwt = Jwt::new(*secret);
        assert_eq!(b64(&jwt.sign(signing.as_bytes())), theirs);
        assert_eq!(
            jwt._verify(Some(format!("{signing}.{theirs}"))),
            vec![SubjectRow { user: "ada".into() }]
        );
    }
}
