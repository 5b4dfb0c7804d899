//! The TLS listener: `--tls-self-signed` writes a certificate for localhost
//! and 127.0.0.1, and the Rust SDK (rustls) trusting it can do everything
//! over HTTPS, SubscribeToShard included.

use std::net::SocketAddr;
use std::time::Duration;

use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::{ShardIteratorType, StartingPosition, SubscribeToShardEventStream};
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};

use crate::support::Riffle;

/// The TLS port from the server's `tls_addr=` log line, via a fresh server log read.
fn tls_client(addr: SocketAddr, cert_pem: &str, host: &str) -> Client {
    let http_client = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .tls_context(
            TlsContext::builder()
                .with_trust_store(
                    TrustStore::empty()
                        .with_native_roots(false)
                        .with_pem_certificate(cert_pem.as_bytes().to_vec()),
                )
                .build()
                .unwrap(),
        )
        .build_https();
    crate::support::client_with(format!("https://{host}:{}", addr.port()), http_client)
}

#[tokio::test]
async fn the_sdk_speaks_to_a_self_signed_tls_listener() {
    let dir = tempfile::tempdir().unwrap();
    let riffle = Riffle::start_in(
        dir.path(),
        &["--tls-listen", "127.0.0.1:0", "--tls-self-signed"],
    );
    let tls_addr = riffle.tls_addr.expect("the server logged its TLS address");
    let cert = std::fs::read_to_string(dir.path().join("tls-self-signed.pem")).unwrap();
    assert!(cert.starts_with("-----BEGIN CERTIFICATE-----"));
    for host in ["localhost", "127.0.0.1"] {
        let client = tls_client(tls_addr, &cert, host);
        let stream = format!("tls-{}", host.replace('.', "-"));
        client
            .create_stream()
            .stream_name(&stream)
            .shard_count(1)
            .send()
            .await
            .unwrap();
        riffle.wait_active(&stream).await;
        let put = client
            .put_record()
            .stream_name(&stream)
            .partition_key("k")
            .data(Blob::new("secure"))
            .send()
            .await
            .unwrap();
        assert_eq!(put.shard_id(), "shardId-000000000000");

        let consumer = client
            .register_stream_consumer()
            .stream_arn(format!(
                "arn:aws:kinesis:us-east-1:000000000000:stream/{stream}"
            ))
            .consumer_name("tls-reader")
            .send()
            .await
            .unwrap()
            .consumer()
            .unwrap()
            .consumer_arn()
            .to_owned();
        let mut output = client
            .subscribe_to_shard()
            .consumer_arn(consumer)
            .shard_id("shardId-000000000000")
            .starting_position(
                StartingPosition::builder()
                    .r#type(ShardIteratorType::TrimHorizon)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        let event = tokio::time::timeout(Duration::from_secs(20), output.event_stream.recv())
            .await
            .unwrap()
            .unwrap();
        match event {
            Some(SubscribeToShardEventStream::SubscribeToShardEvent(event)) => {
                assert_eq!(event.records()[0].data().as_ref(), b"secure");
            }
            other => panic!("expected a SubscribeToShardEvent, got {other:?}"),
        }
    }
}
