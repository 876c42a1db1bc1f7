//! Label ids and their names. A label is a subsystem's byte counter, an
//! integer 0..=255 (upstream's `uint8`); ids 0..=12 carry upstream's names,
//! which must never be renumbered, and the host may name any id.

use crate::error::{Error, Result};
use std::sync::RwLock;

/// Number of label slots: every `u8`.
pub const LABEL_COUNT: usize = 256;
/// Longest accepted label name, in bytes: names travel in every log header.
pub const MAX_LABEL_NAME_BYTES: usize = 64;
/// The label the uploader's own traffic is counted under, so that uploading
/// the log never shows up as some other subsystem's traffic.
pub const SOCKSTATLOG_LOGGER: u8 = 11;

/// Upstream's label names, by id.
pub const UPSTREAM_NAMES: [&str; 13] = [
    "ControlClientAuto",
    "ControlClientDialer",
    "DERPHTTPClient",
    "LogtailLogger",
    "DNSForwarderDoH",
    "DNSForwarderUDP",
    "NetcheckClient",
    "PortmapperClient",
    "MagicsockConnUDP4",
    "MagicsockConnUDP6",
    "NetlogLogger",
    "SockstatlogLogger",
    "DNSForwarderTCP",
];

/// Checks that a host-supplied id fits in a label, never truncating.
pub fn label_id(id: u32) -> Result<u8> {
    u8::try_from(id).map_err(|_| Error::InvalidArgument(format!("label {id} is above 255")))
}

/// The names of all labels: upstream's defaults plus what the host registered.
#[derive(Debug)]
pub(crate) struct LabelNames {
    names: RwLock<Vec<Option<String>>>,
}

impl Default for LabelNames {
    fn default() -> Self {
        let mut names = vec![None; LABEL_COUNT];
        for (slot, name) in names.iter_mut().zip(UPSTREAM_NAMES) {
            *slot = Some(name.to_string());
        }
        LabelNames { names: RwLock::new(names) }
    }
}

impl LabelNames {
    /// Names (or renames) a label. The name must be 1..=64 bytes of printable
    /// characters, so that it is safe in a log header and a report.
    pub(crate) fn register(&self, id: u32, name: &str) -> Result<()> {
        let id = label_id(id)?;
        if name.is_empty() || name.len() > MAX_LABEL_NAME_BYTES {
            return Err(Error::InvalidArgument(format!(
                "label name must be 1 to {MAX_LABEL_NAME_BYTES} bytes, got {}",
                name.len()
            )));
        }
        if name.chars().any(char::is_control) {
            return Err(Error::InvalidArgument("label name has a control character".into()));
        }
        self.names.write().unwrap_or_else(|e| e.into_inner())[id as usize] = Some(name.to_string());
        Ok(())
    }

    /// The name of a label: its registered or upstream name, else `Label(N)`
    /// as upstream prints unknown labels.
    #[cfg(test)]
    fn name(&self, id: u8) -> String {
        let names = self.names.read().unwrap_or_else(|e| e.into_inner());
        names[id as usize].clone().unwrap_or_else(|| format!("Label({id})"))
    }

    /// Every named label, by id.
    pub(crate) fn named(&self) -> Vec<(u8, String)> {
        let names = self.names.read().unwrap_or_else(|e| e.into_inner());
        names.iter().enumerate().filter_map(|(i, n)| n.as_ref().map(|n| (i as u8, n.clone()))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_names_are_preloaded_and_unknown_ids_print_like_upstream() {
        let l = LabelNames::default();
        assert_eq!(l.name(2), "DERPHTTPClient");
        assert_eq!(l.name(11), "SockstatlogLogger");
        assert_eq!(l.name(12), "DNSForwarderTCP");
        assert_eq!(l.name(13), "Label(13)");
        assert_eq!(l.named().len(), 13);
    }

    #[test]
    fn register_names_any_id_and_rejects_bad_input() {
        let l = LabelNames::default();
        l.register(200, "VideoUpload").unwrap();
        assert_eq!(l.name(200), "VideoUpload");
        assert_eq!(l.register(256, "x").unwrap_err().to_string(), "invalid argument: label 256 is above 255");
        assert!(l.register(1, "").is_err());
        assert!(l.register(1, &"x".repeat(65)).is_err());
        assert!(l.register(1, "a\nb").is_err());
        assert_eq!(l.name(1), "ControlClientDialer");
    }
}
