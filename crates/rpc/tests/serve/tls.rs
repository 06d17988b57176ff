//! TLS on the serve path and in peer channels: a client that trusts the
//! server's CA is answered; a plaintext client is refused; with a client
//! CA set, only a client with a certificate from it is answered.

use complaints_auth::Secret;
use complaints_config::{ClientTls, ServerTls};
use complaints_proto::complaints::testing::v1::NowRequest;
use complaints_proto::complaints::testing::v1::clock_service_client::ClockServiceClient;
use complaints_rpc::ServeOptions;
use complaints_rpc::peers::channel;
use complaints_telemetry::WithTraceContext;

use complaints_test_support::tls::{Authority, Issued};

use crate::support::{serve, token};

fn tls_options(authority: &Authority, client_ca: Option<&Authority>) -> ServeOptions {
    let Issued { cert_pem, key_pem } = authority.issue("server");
    ServeOptions {
        tls: Some(ServerTls {
            cert_pem,
            key_pem: Secret::new(key_pem),
            client_ca_pem: client_ca.map(|ca| ca.ca_pem().to_owned()),
        }),
        ..ServeOptions::default()
    }
}

async fn now(url: &str, tls: &ClientTls) -> Result<(), tonic::Status> {
    let channel = channel("COMPLAINTS_CASE_URL", url, tls).unwrap();
    ClockServiceClient::with_interceptor(channel, WithTraceContext::new(token()))
        .now(NowRequest {})
        .await
        .map(|_| ())
}

#[tokio::test]
async fn a_tls_server_answers_a_client_that_trusts_its_ca_and_refuses_a_plaintext_one() {
    let authority = Authority::new("complaints test CA");
    let server = serve(tls_options(&authority, None)).await;
    let port = server.address.port();
    let trusting = ClientTls {
        ca_pem: Some(authority.ca_pem().to_owned()),
        identity: None,
    };
    now(&format!("https://localhost:{port}"), &trusting)
        .await
        .unwrap();

    let plaintext = now(&format!("http://127.0.0.1:{port}"), &ClientTls::default())
        .await
        .unwrap_err();
    assert_ne!(plaintext.code(), tonic::Code::Ok);

    // A client that trusts another CA does not accept the server.
    let stranger = ClientTls {
        ca_pem: Some(Authority::new("another CA").ca_pem().to_owned()),
        identity: None,
    };
    let refused = now(&format!("https://localhost:{port}"), &stranger)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unavailable, "{refused:?}");
    server.served.stop().await;
}

#[tokio::test]
async fn with_a_client_ca_only_a_client_with_a_certificate_from_it_is_answered() {
    let authority = Authority::new("complaints test CA");
    let clients = Authority::new("complaints clients CA");
    let server = serve(tls_options(&authority, Some(&clients))).await;
    let url = format!("https://localhost:{}", server.address.port());

    let anonymous = ClientTls {
        ca_pem: Some(authority.ca_pem().to_owned()),
        identity: None,
    };
    let refused = now(&url, &anonymous).await.unwrap_err();
    assert_ne!(refused.code(), tonic::Code::Ok);

    let Issued { cert_pem, key_pem } = authority.issue("not from the clients CA");
    let wrong = ClientTls {
        ca_pem: Some(authority.ca_pem().to_owned()),
        identity: Some((cert_pem, Secret::new(key_pem))),
    };
    assert!(now(&url, &wrong).await.is_err());

    let Issued { cert_pem, key_pem } = clients.issue("intake");
    let known = ClientTls {
        ca_pem: Some(authority.ca_pem().to_owned()),
        identity: Some((cert_pem, Secret::new(key_pem))),
    };
    now(&url, &known).await.unwrap();
    server.served.stop().await;
}

#[tokio::test]
async fn peers_use_https_exactly_when_tls_is_on() {
    let with_ca = ClientTls {
        ca_pem: Some(Authority::new("a CA").ca_pem().to_owned()),
        identity: None,
    };
    let err = channel("COMPLAINTS_CASE_URL", "http://case:50051", &with_ca).unwrap_err();
    assert!(err.to_string().contains("https://"), "{err}");
    let err = channel(
        "COMPLAINTS_CASE_URL",
        "https://case:50051",
        &ClientTls::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("COMPLAINTS_TLS_CA_FILE"), "{err}");
}
