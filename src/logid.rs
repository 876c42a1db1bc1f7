//! Log IDs: the 32-byte private/public identifiers logtail files uploads under,
//! their hex text form, and the derivation of a node's sockstat ID from its
//! backend public ID. Byte-compatible with upstream's `types/logid`.

use sha2::{Digest, Sha256};
use std::fmt;

/// Length of an ID in bytes.
pub const ID_LEN: usize = 32;
/// Length of an ID's text form: two hex characters a byte.
pub const HEX_LEN: usize = ID_LEN * 2;
/// Appended to the backend public ID's hex before hashing, so the sockstat log
/// stream of a node is unlinkable from its main log stream without the node ID.
const SOCKSTAT_SUFFIX: &str = "sockstat";

/// Why a hex ID failed to parse. The texts are upstream's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogIdError {
    /// The text was not exactly 64 characters long (the count is in characters).
    #[error("invalid hex length: {0}")]
    Length(usize),
    /// The first character that is not a hex digit.
    #[error("invalid hex character: {0}")]
    Character(char),
}

/// A private log ID: the secret an uploader writes under (it appears in the URL).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PrivateId(pub [u8; ID_LEN]);

/// A public log ID: `sha256(private bytes)`, safe to show to people and used to
/// read a log stream back.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicId(pub [u8; ID_LEN]);

impl PrivateId {
    /// Parses 64 hex characters (either case).
    pub fn parse(s: &str) -> Result<Self, LogIdError> {
        parse_hex(s).map(PrivateId)
    }

    /// The public ID that belongs to this private one.
    pub fn public(&self) -> PublicId {
        PublicId(Sha256::digest(self.0).into())
    }

    /// Lowercase hex, 64 characters.
    pub fn to_hex(&self) -> String {
        to_hex(&self.0)
    }
}

impl PublicId {
    /// Parses 64 hex characters (either case).
    pub fn parse(s: &str) -> Result<Self, LogIdError> {
        parse_hex(s).map(PublicId)
    }

    /// Lowercase hex, 64 characters.
    pub fn to_hex(&self) -> String {
        to_hex(&self.0)
    }
}

impl fmt::Display for PublicId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for PublicId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicId({})", self.to_hex())
    }
}

impl fmt::Debug for PrivateId {
    // Never print a private ID by accident: it is the upload credential.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrivateId(public {})", self.public().to_hex())
    }
}

/// The sockstat private ID of a node:
/// `sha256(lowercase_hex(backend_public_id) + "sockstat")`.
pub fn sockstat_private_id(backend_public: &PublicId) -> PrivateId {
    let mut h = Sha256::new();
    h.update(backend_public.to_hex().as_bytes());
    h.update(SOCKSTAT_SUFFIX.as_bytes());
    PrivateId(h.finalize().into())
}

fn parse_hex(s: &str) -> Result<[u8; ID_LEN], LogIdError> {
    let chars = s.chars().count();
    if chars != HEX_LEN {
        return Err(LogIdError::Length(chars));
    }
    if let Some(bad) = s.chars().find(|c| !c.is_ascii_hexdigit()) {
        return Err(LogIdError::Character(bad));
    }
    let mut out = [0u8; ID_LEN];
    for (i, pair) in s.as_bytes().chunks_exact(2).enumerate() {
        out[i] = (hex_val(pair[0]) << 4) | hex_val(pair[1]);
    }
    Ok(out)
}

fn hex_val(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => c - b'A' + 10,
    }
}

fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const ZERO: &str = "0000000000000000000000000000000000000000000000000000000000000000";

    #[test]
    fn public_id_is_sha256_of_the_private_bytes_not_the_hex() {
        let p = PrivateId::parse(ZERO).unwrap();
        // sha256 of 32 zero bytes.
        assert_eq!(p.public().to_hex(), "66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925");
    }

    #[test]
    fn sockstat_id_hashes_the_lowercase_hex_plus_suffix() {
        let upper = PublicId::parse(&"AB".repeat(32)).unwrap();
        let private = sockstat_private_id(&upper);
        let expect: [u8; 32] = Sha256::digest(format!("{}sockstat", "ab".repeat(32)).as_bytes()).into();
        assert_eq!(private.0, expect);
    }

    #[test]
    fn parse_accepts_upper_case_and_prints_lower_case() {
        let id = PublicId::parse(&"0123456789ABCDEF".repeat(4)).unwrap();
        assert_eq!(id.to_hex(), "0123456789abcdef".repeat(4));
    }

    #[test]
    fn parse_errors_name_the_problem() {
        let cases: &[(&str, &str)] = &[
            ("", "invalid hex length: 0"),
            ("abc", "invalid hex length: 3"),
            (&"a".repeat(65), "invalid hex length: 65"),
        ];
        for (input, want) in cases {
            assert_eq!(PublicId::parse(input).unwrap_err().to_string(), *want);
        }
        let bad = format!("{}g{}", "0".repeat(10), "0".repeat(53));
        assert_eq!(PrivateId::parse(&bad).unwrap_err().to_string(), "invalid hex character: g");
        // Length counts characters, so a multi-byte character is one.
        let uni = format!("é{}", "0".repeat(63));
        assert_eq!(PublicId::parse(&uni).unwrap_err().to_string(), "invalid hex character: é");
    }

    #[test]
    fn private_id_debug_does_not_leak_the_secret() {
        let p = PrivateId::parse(ZERO).unwrap();
        assert!(!format!("{p:?}").contains(ZERO));
    }
}
