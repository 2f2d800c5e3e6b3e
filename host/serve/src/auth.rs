//! Bearer-token authentication for the service.
//!
//! Clients present the token as `Authorization: Bearer <token>` or, as
//! Splunk forwarders do, `Authorization: Splunk <token>`. The comparison
//! hashes both sides with SHA-256 and compares the digests in constant time,
//! so neither the token's bytes nor its length can be learnt from response
//! timing.

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Why a token could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// The token is empty (after trimming surrounding whitespace).
    #[error("the token is empty")]
    Empty,
    /// The token holds characters an HTTP header value cannot carry.
    #[error("the token may hold only visible ASCII characters (no spaces or control characters)")]
    NotVisibleAscii,
}

/// The shared secret clients must present. Only its digest is kept, and
/// its length, which decides whether it may guard a non-loopback address.
#[derive(Clone)]
pub struct Token {
    digest: [u8; 32],
    length: usize,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret or anything derived from it.
        f.write_str("Token(..)")
    }
}

impl Token {
    /// A token from its text, e.g. the contents of a token file; whitespace
    /// around it (a trailing newline) is ignored because editors add it.
    pub fn new(secret: &str) -> Result<Self, TokenError> {
        let secret = secret.trim();
        if secret.is_empty() {
            return Err(TokenError::Empty);
        }
        if !secret.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(TokenError::NotVisibleAscii);
        }
        Ok(Token {
            digest: Sha256::digest(secret.as_bytes()).into(),
            length: secret.len(),
        })
    }

    /// The token's length in characters (all are visible ASCII).
    pub fn length(&self) -> usize {
        self.length
    }

    /// Whether `presented` is this token, in time independent of both.
    pub fn matches(&self, presented: &str) -> bool {
        let other: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        self.digest.ct_eq(&other).into()
    }
}

/// What a request's credentials amount to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Auth {
    /// No token is configured, or the request carries the right one.
    Granted,
    /// No `Authorization` header.
    Missing,
    /// An `Authorization` header that is neither `Bearer` nor `Splunk`.
    Malformed,
    /// A token that is not the configured one.
    Wrong,
}

/// Check a request's `Authorization` header against `token` (`None`: no
/// authentication, only allowed on a loopback address).
pub fn check(headers: &HeaderMap, token: Option<&Token>) -> Auth {
    let Some(token) = token else {
        return Auth::Granted;
    };
    let Some(value) = headers.get(AUTHORIZATION) else {
        return Auth::Missing;
    };
    let Ok(value) = value.to_str() else {
        return Auth::Malformed;
    };
    let Some((scheme, presented)) = value.trim().split_once(' ') else {
        return Auth::Malformed;
    };
    if !scheme.eq_ignore_ascii_case("bearer") && !scheme.eq_ignore_ascii_case("splunk") {
        return Auth::Malformed;
    }
    if token.matches(presented.trim()) {
        Auth::Granted
    } else {
        Auth::Wrong
    }
}

#[cfg(test)]
#[path = "auth_tests.rs"]
mod tests;
