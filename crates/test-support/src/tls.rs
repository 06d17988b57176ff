//! Certificates made at test time: a CA of the test's own and the
//! certificates it signs, for servers and clients alike.

use std::path::{Path, PathBuf};

/// The names every certificate from [`Authority::issue`] is good for.
pub const LOOPBACK_NAMES: [&str; 2] = ["localhost", "127.0.0.1"];

/// A certificate authority made for one test: nothing outside the test
/// trusts it, and a test that needs "another CA" makes a second one.
pub struct Authority {
    ca_pem: String,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
}

impl std::fmt::Debug for Authority {
    /// Names no key: the signing key stays out of test output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Authority")
    }
}

/// A certificate and its private key, both PEM.
#[derive(Debug, Clone)]
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
}

/// Where [`write_files`] put a certificate, its key and the CA's certificate.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub ca: PathBuf,
}

impl Authority {
    /// A new CA whose certificate's common name is `name`.
    pub fn new(name: &str) -> Authority {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new())
            .expect("CA parameters without names");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
        ];
        let key = rcgen::KeyPair::generate().expect("a CA key");
        let ca_pem = params.self_signed(&key).expect("a CA certificate").pem();
        Authority {
            ca_pem,
            issuer: rcgen::Issuer::new(params, key),
        }
    }

    /// The CA's certificate (PEM): what a client or server trusts.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// A certificate named `name` for [`LOOPBACK_NAMES`], good for serving
    /// (ServerAuth) and for calling (ClientAuth).
    pub fn issue(&self, name: &str) -> Issued {
        self.issue_for(name, &LOOPBACK_NAMES)
    }

    /// A certificate named `name` for the DNS names and IP addresses in
    /// `hosts`, good for serving and for calling.
    pub fn issue_for(&self, name: &str, hosts: &[&str]) -> Issued {
        let hosts: Vec<String> = hosts.iter().map(|host| (*host).to_owned()).collect();
        let mut params =
            rcgen::CertificateParams::new(hosts).expect("DNS names or IP addresses to certify");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        params.extended_key_usages = vec![
            rcgen::ExtendedKeyUsagePurpose::ServerAuth,
            rcgen::ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let key = rcgen::KeyPair::generate().expect("a certificate key");
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("a certificate signed by the test CA");
        Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }
}

/// Writes `issued` as `<folder>/<name>.crt` and `<folder>/<name>.key`, and
/// `ca_pem` as `<folder>/ca.pem`, and says where they are: the files a
/// process's `*_FILE` settings name.
pub fn write_files(folder: &Path, name: &str, issued: &Issued, ca_pem: &str) -> TlsFiles {
    let files = TlsFiles {
        cert: folder.join(format!("{name}.crt")),
        key: folder.join(format!("{name}.key")),
        ca: folder.join("ca.pem"),
    };
    for (path, text) in [
        (&files.cert, issued.cert_pem.as_str()),
        (&files.key, issued.key_pem.as_str()),
        (&files.ca, ca_pem),
    ] {
        std::fs::write(path, text).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_issued_certificate_is_not_the_ca_and_both_are_pem() {
        let authority = Authority::new("complaints test CA");
        let issued = authority.issue("server");
        assert!(
            authority
                .ca_pem()
                .starts_with("-----BEGIN CERTIFICATE-----")
        );
        assert!(issued.cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(issued.key_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        assert_ne!(issued.cert_pem, authority.ca_pem());
    }
}
