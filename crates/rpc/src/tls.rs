//! The TLS side of a client channel: `https://` peers verified against the
//! configured CA bundle, presenting a client certificate where one is set.

use complaints_config::ClientTls;
use tonic::transport::{Certificate, ClientTlsConfig, Identity};

/// The TLS a channel to `url` uses: none for `http://` (refused once a CA
/// bundle says TLS is on), the CA bundle (and client certificate) for
/// `https://` (refused without a CA bundle). The error is the reason.
pub fn client_tls(url: &str, tls: &ClientTls) -> Result<Option<ClientTlsConfig>, String> {
    let secure = url
        .get(..8)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("https://"));
    match (&tls.ca_pem, secure) {
        (None, false) => Ok(None),
        (Some(_), false) => Err(
            "TLS is on (COMPLAINTS_TLS_CA_FILE is set): the address must be https://".to_owned(),
        ),
        (None, true) => Err(
            "an https:// address needs the CA bundle that signed the peer's certificate (COMPLAINTS_TLS_CA_FILE)"
                .to_owned(),
        ),
        (Some(ca), true) => {
            let config = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(ca));
            Ok(Some(match &tls.identity {
                Some((cert, key)) => config.identity(Identity::from_pem(cert, key.expose())),
                None => config,
            }))
        }
    }
}
