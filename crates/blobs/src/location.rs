//! Turning the one blob store URL setting into an `object_store` backend.

use std::str::FromStr;
use std::sync::Arc;

use object_store::ObjectStore;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::local::LocalFileSystem;
use object_store::prefix::PrefixStore;
use url::Url;

use crate::error::BlobError;

/// The backend a URL names (see the crate documentation for the forms).
pub(crate) fn open(setting: &str) -> Result<Arc<dyn ObjectStore>, BlobError> {
    let setting = setting.trim();
    if setting.is_empty() {
        return Err(invalid("it is empty"));
    }
    match Url::parse(setting) {
        Ok(url) if url.scheme() == "file" => {
            let path = url
                .to_file_path()
                .map_err(|()| invalid("a file:// URL must name an absolute local path"))?;
            local(&path)
        }
        Ok(url) if url.scheme() == "s3" => s3(&url),
        // A Windows drive letter parses as a one-letter scheme.
        Ok(url) if url.scheme().len() > 1 => Err(invalid(&format!(
            "scheme {:?} is not file or s3",
            url.scheme()
        ))),
        _ => local(std::path::Path::new(setting)),
    }
}

fn local(path: &std::path::Path) -> Result<Arc<dyn ObjectStore>, BlobError> {
    std::fs::create_dir_all(path)
        .map_err(|error| invalid(&format!("its directory cannot be created ({error})")))?;
    // Directories emptied by a delete go too: an erased blob leaves no trace
    // of its address on disk.
    let store = LocalFileSystem::new_with_prefix(path)?.with_automatic_cleanup(true);
    Ok(Arc::new(store))
}

fn s3(url: &Url) -> Result<Arc<dyn ObjectStore>, BlobError> {
    let bucket = url
        .host_str()
        .filter(|bucket| !bucket.is_empty())
        .ok_or_else(|| invalid("an s3:// URL must name a bucket"))?;
    let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
    for (name, value) in url.query_pairs() {
        if name == "allow_http" {
            builder = builder.with_allow_http(value == "true");
            continue;
        }
        let key = AmazonS3ConfigKey::from_str(&name)
            .map_err(|_| invalid(&format!("{name:?} is not an S3 setting")))?;
        if matches!(key, AmazonS3ConfigKey::Endpoint) && value.starts_with("http://") {
            builder = builder.with_allow_http(true);
        }
        builder = builder.with_config(key, value);
    }
    let store = builder
        .build()
        .map_err(|error| invalid(&format!("the S3 settings are incomplete ({error})")))?;
    let prefix = url.path().trim_matches('/');
    if prefix.is_empty() {
        return Ok(Arc::new(store));
    }
    Ok(Arc::new(PrefixStore::new(store, prefix)))
}

fn invalid(reason: &str) -> BlobError {
    BlobError::InvalidUrl {
        reason: reason.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_path_and_a_file_url_are_the_local_filesystem() {
        let dir = std::env::temp_dir().join(format!("complaints-blobs-{}", uuid::Uuid::new_v4()));
        let nested = dir.join("data").join("blobs");
        let plain = open(nested.to_str().unwrap_or_default());
        assert!(plain.is_ok(), "{plain:?}");
        assert!(nested.is_dir());
        let url = Url::from_file_path(&nested)
            .map(String::from)
            .unwrap_or_default();
        let file = open(&url);
        assert!(file.is_ok(), "{file:?}");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn an_s3_url_takes_its_endpoint_region_and_keys_from_the_query() {
        let store = open(
            "s3://evidence/complaints/2026?endpoint=http://127.0.0.1:9000&region=eu-west-2\
             &access_key_id=test&secret_access_key=secret",
        );
        assert!(store.is_ok(), "{store:?}");
    }

    #[test]
    fn an_unknown_scheme_or_setting_is_refused_without_quoting_the_url() {
        for (setting, reason) in [
            ("ftp://host/blobs", "scheme \"ftp\" is not file or s3"),
            (
                "s3://evidence?secret_access_key=hunter2&colour=blue",
                "\"colour\" is not an S3 setting",
            ),
            ("", "it is empty"),
        ] {
            match open(setting) {
                Err(BlobError::InvalidUrl { reason: got }) => {
                    assert_eq!(got, reason);
                    assert!(!got.contains("hunter2"));
                }
                other => panic!("{setting:?} gave {other:?}"),
            }
        }
    }
}
