//! An HTTP client for the Rust SDK that speaks HTTP/2 with prior knowledge
//! (h2c) to an `http://` endpoint, which the SDK's own client cannot do. The
//! SDK builds, signs and parses every request as usual; only the transport
//! is hyper's HTTP/2 client on one shared connection.

use std::net::SocketAddr;
use std::sync::Arc;

use aws_sdk_kinesis::Client;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use hyper::client::conn::http2::SendRequest;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::sync::Mutex;

/// An SDK client whose every call travels over one h2c connection.
pub(crate) fn h2c_client_for(addr: SocketAddr) -> Client {
    crate::support::client_with(
        format!("http://{addr}"),
        SharedHttpClient::new(H2c {
            addr,
            connection: Arc::default(),
        }),
    )
}

#[derive(Clone, Debug)]
struct H2c {
    addr: SocketAddr,
    /// Opened on first use; HTTP/2 multiplexes every later request on it.
    connection: Arc<Mutex<Option<SendRequest<SdkBody>>>>,
}

impl H2c {
    async fn sender(&self) -> Result<SendRequest<SdkBody>, ConnectorError> {
        let mut connection = self.connection.lock().await;
        if let Some(sender) = connection.as_ref().filter(|s| !s.is_closed()) {
            return Ok(sender.clone());
        }
        let tcp = tokio::net::TcpStream::connect(self.addr)
            .await
            .map_err(|err| ConnectorError::io(err.into()))?;
        let (sender, driver) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
                .await
                .map_err(|err| ConnectorError::io(err.into()))?;
        tokio::spawn(driver);
        *connection = Some(sender.clone());
        Ok(sender)
    }
}

impl HttpConnector for H2c {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let this = self.clone();
        HttpConnectorFuture::new(async move {
            let request = request
                .try_into_http1x()
                .map_err(|err| ConnectorError::user(err.into()))?;
            let mut sender = this.sender().await?;
            let response = sender
                .send_request(request)
                .await
                .map_err(|err| ConnectorError::io(err.into()))?;
            assert_eq!(
                response.version(),
                http::Version::HTTP_2,
                "h2c, not HTTP/1.1"
            );
            let (parts, body) = response.into_parts();
            let response = http::Response::from_parts(parts, SdkBody::from_body_1_x(body));
            HttpResponse::try_from(response).map_err(|err| ConnectorError::other(err.into(), None))
        })
    }
}

impl HttpClient for H2c {
    fn http_connector(
        &self,
        _settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}
