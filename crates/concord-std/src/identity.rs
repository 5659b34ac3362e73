//! One identity per person: the key under which a username or an email is
//! unique, so that names a reader cannot tell apart are one name.
//!
//! The key is the text trimmed, in Unicode compatibility form (NFKC: `ｆｕｌｌ`
//! and `full`, `ﬁ` and `fi`, a precomposed `é` and `e` + combining accent are
//! one), then lower-cased and normalised again. Text with a control
//! character or an invisible formatting character (zero-width spaces and
//! joiners, bidirectional overrides, a byte-order mark: Unicode's `Cc` and
//! `Cf` categories) is refused: it would make a look-alike of someone else's
//! name. What a person typed is kept for display; only the key decides
//! whether two are the same.
//!
//! Lower-casing is Unicode's lowercase mapping, which folds every cased
//! script's capitals; the few characters full case folding also expands
//! (`ß` → `ss`) stay distinct.

use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

/// Why a text cannot be an identity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// Nothing but white space.
    #[error("can't be blank")]
    Blank,
    /// A character that is invisible or controls the terminal.
    #[error("contains an invisible or control character (U+{0:04X})")]
    Hidden(u32),
}

/// The key `text` is unique under (see the module's docs), or why it is
/// refused.
pub fn key(text: &str) -> Result<String, IdentityError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(IdentityError::Blank);
    }
    if let Some(c) = text
        .chars()
        .find(|c| matches!(c.general_category(), GeneralCategory::Control | GeneralCategory::Format))
    {
        return Err(IdentityError::Hidden(c as u32));
    }
    let compatible: String = text.nfkc().collect();
    Ok(compatible.to_lowercase().nfkc().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn look_alikes_have_one_key() {
        let ada = key("ada").unwrap();
        for same in ["Ada", "ADA", " ada ", "ａｄａ", "Ａｄａ"] {
            assert_eq!(key(same).unwrap(), ada, "{same:?}");
        }
        let nfc = "Jos\u{e9}";
        let nfd = "Jose\u{301}";
        assert_ne!(nfc, nfd);
        assert_eq!(key(nfc).unwrap(), key(nfd).unwrap());
        assert_eq!(key("ﬁnn").unwrap(), "finn");
        assert_eq!(key("ΣΊΣΥΦΟΣ").unwrap(), key("σίσυφος").unwrap());
        assert_ne!(key("ada").unwrap(), key("adb").unwrap());
    }

    #[test]
    fn invisible_and_control_characters_are_refused() {
        for (text, code) in [
            ("a\u{200b}da", 0x200b),
            ("ad\u{200d}a", 0x200d),
            ("\u{feff}ada", 0xfeff),
            ("ada\u{202e}", 0x202e),
            ("a\u{7}da", 0x7),
            ("a\nda", 0xa),
        ] {
            assert_eq!(key(text), Err(IdentityError::Hidden(code)), "{text:?}");
        }
        assert_eq!(key(" \t "), Err(IdentityError::Blank));
        assert_eq!(
            IdentityError::Hidden(0x200b).to_string(),
            "contains an invisible or control character (U+200B)"
        );
    }
}
