//! The backends the suite runs on, the macro that runs each test on every
//! one, and helpers to make and read streams.

use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use complaints_blobs::{BlobError, BlobStore};
use futures_util::stream::{self, Stream, TryStreamExt};
use object_store::ObjectStore;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::prefix::PrefixStore;
use sha2::{Digest, Sha256};
use tempfile::TempDir;

/// Declares each listed `async fn(Harness)` as a test on every backend:
/// `local::<name>` and `s3::<name>`.
#[macro_export]
macro_rules! conformance {
    ($($test:ident),* $(,)?) => {
        mod local {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test($crate::support::Harness::local()).await;
                }
            )*
        }
        mod s3 {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test($crate::support::Harness::s3().await).await;
                }
            )*
        }
    };
}

const BUCKET: &str = "evidence";
const PREFIX: &str = "complaints";
const ACCESS_KEY: &str = "complaints-test";
const SECRET_KEY: &str = "complaints-test-secret";

/// A blob store on one backend, and a view of everything that backend holds.
pub struct Harness {
    pub store: BlobStore,
    /// The same backend, seen directly: every key, temporary or not.
    raw: Arc<dyn ObjectStore>,
    /// Where the bytes land on disk (the local store's root, or the S3
    /// server's).
    root: PathBuf,
    _dir: TempDir,
    _server: Option<S3Server>,
}

impl Harness {
    /// The local filesystem in a fresh temp dir, opened by a `file://` URL.
    pub fn local() -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("blobs");
        let url = format!("file://{}", root.display());
        let store = BlobStore::from_url(&url).unwrap();
        let raw = Arc::new(LocalFileSystem::new_with_prefix(&root).unwrap());
        Harness {
            store,
            raw,
            root,
            _dir: dir,
            _server: None,
        }
    }

    /// S3, against an `s3s-fs` server over a fresh temp dir on 127.0.0.1,
    /// opened by an `s3://bucket/prefix?endpoint=...` URL.
    pub async fn s3() -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let server = S3Server::start(&root).await;
        let url = format!(
            "s3://{BUCKET}/{PREFIX}?endpoint=http://{}&region=us-east-1\
             &access_key_id={ACCESS_KEY}&secret_access_key={SECRET_KEY}",
            server.address
        );
        let store = BlobStore::from_url(&url).unwrap();
        let s3 = AmazonS3Builder::new()
            .with_bucket_name(BUCKET)
            .with_endpoint(format!("http://{}", server.address))
            .with_allow_http(true)
            .with_region("us-east-1")
            .with_access_key_id(ACCESS_KEY)
            .with_secret_access_key(SECRET_KEY)
            .build()
            .unwrap();
        let raw = Arc::new(PrefixStore::new(s3, PREFIX));
        Harness {
            store,
            raw,
            root,
            _dir: dir,
            _server: Some(server),
        }
    }

    /// Every key the backend holds under the store's root, sorted.
    pub async fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self
            .raw
            .list(None)
            .map_ok(|meta| meta.location.to_string())
            .try_collect()
            .await
            .unwrap();
        keys.sort();
        keys
    }

    /// Every file on disk under the backend's root (staging files and
    /// multipart parts included), sorted.
    pub fn files(&self) -> Vec<PathBuf> {
        let mut files = Vec::new();
        let mut dirs = vec![self.root.clone()];
        while let Some(dir) = dirs.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else {
                    files.push(path);
                }
            }
        }
        files.sort();
        files
    }

    /// Asserts that the backend holds nothing at all: no object, and no
    /// file on disk.
    pub async fn assert_nothing_stored(&self) {
        assert_eq!(self.keys().await, Vec::<String>::new());
        assert_eq!(self.files(), Vec::<PathBuf>::new());
    }
}

/// An S3-compatible server (`s3s-fs`) serving `root` on a loopback port
/// until dropped. The bucket is a directory under `root`.
struct S3Server {
    address: std::net::SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl S3Server {
    async fn start(root: &Path) -> S3Server {
        std::fs::create_dir_all(root.join(BUCKET)).unwrap();
        let fs = s3s_fs::FileSystem::new(root).unwrap();
        let mut builder = s3s::service::S3ServiceBuilder::new(fs);
        builder.set_auth(s3s::auth::SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
        let service = builder.build();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let service = service.clone();
                tokio::spawn(async move {
                    let io = hyper_util::rt::TokioIo::new(socket);
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, service)
                        .await;
                });
            }
        });
        S3Server { address, task }
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The lowercase hex SHA-256 of `bytes`, computed here.
pub fn sha256_of(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// `bytes` as a stream of chunks of at most `chunk` bytes.
pub fn chunks_of(
    bytes: &[u8],
    chunk: usize,
) -> impl Stream<Item = Result<Bytes, Infallible>> + Send + use<> {
    let parts: Vec<Result<Bytes, Infallible>> = bytes
        .chunks(chunk)
        .map(|part| Ok(Bytes::copy_from_slice(part)))
        .collect();
    stream::iter(parts)
}

/// Everything a read stream yields, and in how many chunks.
pub async fn read_all(stream: impl Stream<Item = Result<Bytes, BlobError>>) -> (Vec<u8>, usize) {
    let chunks: Vec<Bytes> = stream.try_collect().await.unwrap();
    let count = chunks.len();
    (chunks.concat(), count)
}

/// Deterministic filler of `len` bytes (a counter, not literal data, for
/// the large cases).
pub fn filler(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}
