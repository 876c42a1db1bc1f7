//! Strings from Swift and Kotlin, checked here rather than in the generated
//! code. A JVM string is UTF-16 and may hold a lone surrogate (what
//! `msg.take(100)` leaves when it cuts an emoji); UniFFI's own string
//! converter would throw `MalformedInputException`, which is not a
//! `SockstatException`, from the generated binding. So the strings a host
//! passes in cross as a [`HostString`]: a UniFFI custom type carried as its
//! UTF-16 code units (little-endian bytes; `uniffi.toml` gives the Kotlin and
//! Swift conversions, so the signatures still say `String`), and this module
//! decides: names and settings refuse a lone surrogate with an
//! `InvalidArgument` saying where it is, free text replaces each with U+FFFD.
//! A Swift `String` cannot hold a lone surrogate, so from Swift every string
//! decodes cleanly.

use super::SockstatError;

/// A string as the host's UTF-16 code units, not yet checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostString(Vec<u16>);

uniffi::custom_type!(HostString, Vec<u8>, {
    lower: |s| s.0.iter().flat_map(|u| u.to_le_bytes()).collect(),
    try_lift: |bytes| HostString::from_le_bytes(&bytes),
});

impl HostString {
    /// From the bridge's little-endian code units; an odd length means the
    /// caller bypassed the generated conversion.
    fn from_le_bytes(bytes: &[u8]) -> uniffi::Result<HostString> {
        if !bytes.len().is_multiple_of(2) {
            anyhow_error(bytes.len())?;
        }
        Ok(HostString(bytes.chunks_exact(2).map(|b| u16::from_le_bytes([b[0], b[1]])).collect()))
    }

    /// The text, or an `InvalidArgument` naming `what` and the first lone
    /// surrogate: for names and settings, where a silent replacement would
    /// store something the host did not mean.
    pub(super) fn strict(&self, what: &str) -> Result<String, SockstatError> {
        let mut out = String::with_capacity(self.0.len());
        for (i, c) in char::decode_utf16(self.0.iter().copied()).enumerate() {
            match c {
                Ok(c) => out.push(c),
                Err(e) => {
                    let (unit, at) = (e.unpaired_surrogate(), self.position_of(i));
                    return Err(SockstatError::InvalidArgument {
                        reason: format!(
                            "{what} has a lone UTF-16 surrogate {unit:#06X} at index {at} (a string cut inside a \
                             character?)"
                        ),
                    });
                }
            }
        }
        Ok(out)
    }

    /// The text with each lone surrogate replaced by U+FFFD: for free text,
    /// which is stored whatever it holds.
    pub(super) fn lossy(&self) -> String {
        String::from_utf16_lossy(&self.0)
    }

    /// The UTF-16 index of the `n`th decoded item (a pair counts two units).
    fn position_of(&self, n: usize) -> usize {
        char::decode_utf16(self.0.iter().copied()).take(n).map(|c| c.map_or(1, char::len_utf16)).sum()
    }
}

/// The lift error for a malformed bridge value.
fn anyhow_error(len: usize) -> uniffi::Result<()> {
    Err(uniffi::deps::anyhow::anyhow!("a host string of {len} bytes is not UTF-16"))
}

impl From<String> for HostString {
    fn from(s: String) -> Self {
        HostString(s.encode_utf16().collect())
    }
}

impl From<&str> for HostString {
    fn from(s: &str) -> Self {
        HostString(s.encode_utf16().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn units(u: &[u16]) -> HostString {
        HostString(u.to_vec())
    }

    #[test]
    fn lone_surrogates_are_refused_in_names_and_replaced_in_text() {
        // (case, UTF-16 units, strict result or the reason's fragment, lossy text)
        let cases: &[(&str, &[u16], Result<&str, &str>, &str)] = &[
            ("ascii", &[0x61, 0x62], Ok("ab"), "ab"),
            ("pair", &[0x61, 0xD83D, 0xDE00], Ok("a😀"), "a😀"),
            ("lone-high-at-end", &[0x61, 0xD83D], Err("0xD83D at index 1"), "a\u{FFFD}"),
            ("lone-low-first", &[0xDE00, 0x61], Err("0xDE00 at index 0"), "\u{FFFD}a"),
            ("after-a-pair", &[0xD83D, 0xDE00, 0xD83D, 0x62], Err("0xD83D at index 2"), "😀\u{FFFD}b"),
            ("two-lone", &[0xDC00, 0xD800], Err("0xDC00 at index 0"), "\u{FFFD}\u{FFFD}"),
            ("empty", &[], Ok(""), ""),
        ];
        for &(name, u, strict, lossy) in cases {
            let s = units(u);
            match (s.strict("label name"), strict) {
                (Ok(got), Ok(want)) => assert_eq!(got, want, "{name}"),
                (Err(SockstatError::InvalidArgument { reason }), Err(want)) => {
                    assert!(reason.starts_with("label name has a lone UTF-16 surrogate"), "{name}: {reason}");
                    assert!(reason.contains(want), "{name}: {reason}");
                }
                (got, want) => panic!("{name}: {got:?}, wanted {want:?}"),
            }
            assert_eq!(s.lossy(), lossy, "{name}");
        }
    }

    #[test]
    fn the_bridge_is_little_endian_code_units_both_ways() {
        let s = HostString::from("a😀");
        let bytes: Vec<u8> = s.0.iter().flat_map(|u| u.to_le_bytes()).collect();
        assert_eq!(bytes, [0x61, 0, 0x3D, 0xD8, 0x00, 0xDE]);
        assert_eq!(HostString::from_le_bytes(&bytes).unwrap(), s);
        assert!(HostString::from_le_bytes(&[0x61]).is_err());
    }
}
