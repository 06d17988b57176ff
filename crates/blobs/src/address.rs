//! A blob's content address: the SHA-256 of its bytes, and the key it is stored under.

use object_store::path::Path;

use crate::error::BlobError;

/// A blob that is stored: its address and its length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBlob {
    /// The lowercase hex SHA-256 of the bytes: the blob's address.
    pub sha256: String,
    /// How many bytes it holds.
    pub size_bytes: u64,
}

/// The key a blob with this address is stored under,
/// `sha256/<first two hex digits>/<hex>`, once the address is known to be a
/// lowercase hex SHA-256 (anything else is refused, so no caller can name
/// another key).
pub(crate) fn content_key(sha256: &str) -> Result<Path, BlobError> {
    let well_formed = sha256.len() == 64
        && sha256
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !well_formed {
        return Err(BlobError::InvalidAddress);
    }
    Ok(Path::from(format!("sha256/{}/{sha256}", &sha256[..2])))
}

/// A fresh temporary key for an upload in progress.
pub(crate) fn temporary_key() -> Path {
    Path::from(format!("tmp/{}", uuid::Uuid::new_v4()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blob_is_stored_under_its_hash_fanned_out_by_its_first_two_digits() {
        let sha = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(
            content_key(sha).map(|key| key.to_string()).ok(),
            Some(format!("sha256/e3/{sha}"))
        );
    }

    #[test]
    fn an_address_that_is_not_a_lowercase_hex_sha256_is_refused() {
        for bad in [
            "",
            "e3b0",
            "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
            "../../etc/passwd/../../../../../../../../../../../../../../../../../",
            "g3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        ] {
            assert!(
                matches!(content_key(bad), Err(BlobError::InvalidAddress)),
                "{bad:?} was accepted"
            );
        }
    }
}
