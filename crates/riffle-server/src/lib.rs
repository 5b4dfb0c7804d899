//! Riffle's HTTP transport.
//!
//! One plain TCP port serves HTTP/1.1 and cleartext HTTP/2 with prior
//! knowledge (the JavaScript and Java SDKs speak h2c to `http://` endpoints;
//! boto3 and the CLI speak HTTP/1.1). Each request is `POST /` with an
//! `X-Amz-Target` naming the operation; [`riffle_wire::dispatch`] does the rest.
//!
//! - [`serve`]: the accept loop and graceful shutdown. Start here.
//! - `http1`: HTTP/1.1 for SDKs' everyday requests, without hyper; it hands
//!   hyper the connection for anything else (HTTP/2 included).
//! - [`request`]: one request → one response, with AWS's request-id headers.
//! - [`body`]: whole response bodies, or SubscribeToShard's event stream.
//! - [`tls`]: the optional TLS listener's certificate (from files or self-signed).
//! - `metrics`: `GET /metrics`, the engine's counters for Prometheus.

pub mod body;
mod http1;
mod metrics;
pub mod request;
pub mod tls;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use riffle_engine::Engine;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio_rustls::TlsAcceptor;

/// Open connections at once; past this, new connections wait to be accepted.
pub const CONNECTIONS_MAX: usize = 10_000;

/// A client has this long to send a request's headers (HTTP/1.1), from
/// when the connection opens or the last answer went out.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// A client has this long to send a whole request body.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(60);
/// A client has this long to complete a TLS handshake.
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// HTTP/2 connections are pinged this often, and closed if a ping goes
/// unanswered for the timeout.
pub const HTTP2_KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(30);
pub const HTTP2_KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(20);

/// How long shutdown waits for in-flight requests before closing connections.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Where to listen: the plain port (HTTP/1.1 and h2c), and optionally a
/// TLS port (ALPN h2 and http/1.1).
pub struct Listeners {
    pub plain: TcpListener,
    pub tls: Option<(TcpListener, TlsAcceptor)>,
}

impl std::fmt::Debug for Listeners {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listeners")
            .field("plain", &self.plain.local_addr().ok())
            .field(
                "tls",
                &self
                    .tls
                    .as_ref()
                    .and_then(|(listener, _)| listener.local_addr().ok()),
            )
            .finish()
    }
}

/// Serves Kinesis on `listeners` until `shutdown` resolves, then stops
/// accepting, lets in-flight requests finish (up to [`SHUTDOWN_GRACE`]) and
/// syncs the engine's storage.
///
/// # Errors
/// The final storage sync failed.
pub async fn serve(
    listeners: Listeners,
    engine: Engine,
    shutdown: impl Future<Output = ()>,
) -> Result<(), riffle_engine::EngineError> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // Idle or trickling clients must not hold connection slots forever.
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(HTTP2_KEEP_ALIVE_INTERVAL))
        .keep_alive_timeout(HTTP2_KEEP_ALIVE_TIMEOUT);
    let builder = Arc::new(builder);
    let graceful = GracefulShutdown::new();
    // Tells connections in `http1` to close once idle; hyper's have `graceful`.
    let (stop, stopping) = watch::channel(false);
    let permits = Arc::new(Semaphore::new(CONNECTIONS_MAX));
    engine.spawn_maintenance();
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let accept_tls = async {
            match &listeners.tls {
                Some((listener, acceptor)) => (listener.accept().await, Some(acceptor.clone())),
                None => std::future::pending().await,
            }
        };
        let (accepted, tls) = tokio::select! {
            accepted = listeners.plain.accept() => (accepted, None),
            accepted = accept_tls => accepted,
            () = &mut shutdown => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(err) => {
                // Usually EMFILE: back off instead of spinning.
                tracing::warn!(error = %err, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let connection = Connection {
            engine: engine.clone(),
            builder: builder.clone(),
            watcher: graceful.watcher(),
            stopping: stopping.clone(),
        };
        tokio::spawn(async move {
            let result = match tls {
                None => connection.serve(stream).await,
                Some(acceptor) => {
                    match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream))
                        .await
                        .unwrap_or_else(|_| Err(std::io::Error::from(std::io::ErrorKind::TimedOut)))
                    {
                        Ok(stream) => connection.serve(stream).await,
                        Err(err) => {
                            tracing::debug!(%peer, error = %err, "TLS handshake failed");
                            Ok(())
                        }
                    }
                }
            };
            if let Err(err) = result {
                tracing::debug!(%peer, error = %err, "connection ended with an error");
            }
            drop(permit);
        });
    }
    tracing::info!("shutting down: finishing in-flight requests");
    let _ = stop.send(true);
    let drained = async {
        graceful.shutdown().await;
        // Every connection gives its permit back as it ends.
        let _ = permits.acquire_many(CONNECTIONS_MAX as u32).await;
    };
    if tokio::time::timeout(SHUTDOWN_GRACE, drained).await.is_err() {
        tracing::warn!("in-flight requests did not finish in time; closing their connections");
    }
    engine.shutdown()?;
    tracing::info!("storage synced; stopped");
    Ok(())
}

/// What serving one connection needs.
struct Connection {
    engine: Engine,
    builder: Arc<auto::Builder<TokioExecutor>>,
    watcher: Watcher,
    stopping: watch::Receiver<bool>,
}

impl Connection {
    /// Serves `stream` in [`http1`] until it ends there or hands over to hyper.
    async fn serve<S>(
        mut self,
        mut stream: S,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let read = match http1::serve(&mut stream, &self.engine, &mut self.stopping).await? {
            http1::Ended::Closed => return Ok(()),
            http1::Ended::HandOver(read) => read,
        };
        if *self.stopping.borrow() {
            return Ok(());
        }
        let engine = self.engine;
        let service = service_fn(move |req| {
            let engine = engine.clone();
            async move { Ok::<_, std::convert::Infallible>(request::handle(&engine, req).await) }
        });
        let stream = TokioIo::new(http1::Rewind::new(read, stream));
        self.watcher
            .watch(self.builder.serve_connection(stream, service).into_owned())
            .await
    }
}
