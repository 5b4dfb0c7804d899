//! Riffle's HTTP transport.
//!
//! One plain TCP port serves HTTP/1.1 and cleartext HTTP/2 with prior
//! knowledge (the JavaScript and Java SDKs speak h2c to `http://` endpoints;
//! boto3 and the CLI speak HTTP/1.1). Each request is `POST /` with an
//! `X-Amz-Target` naming the operation; [`riffle_wire::dispatch`] does the rest.
//!
//! - [`serve`]: the accept loop and graceful shutdown. Start here.
//! - [`request`]: one request → one response, with AWS's request-id headers.
//! - [`body`]: whole response bodies, or SubscribeToShard's event stream.

pub mod body;
pub mod request;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use riffle_engine::Engine;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// Open connections at once; past this, new connections wait to be accepted.
pub const CONNECTIONS_MAX: usize = 10_000;

/// How long shutdown waits for in-flight requests before closing connections.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Serves Kinesis on `listener` until `shutdown` resolves, then stops
/// accepting, lets in-flight requests finish (up to [`SHUTDOWN_GRACE`]) and
/// syncs the engine's storage.
///
/// # Errors
/// The final storage sync failed.
pub async fn serve(
    listener: TcpListener,
    engine: Engine,
    shutdown: impl Future<Output = ()>,
) -> Result<(), riffle_engine::EngineError> {
    let builder = Arc::new(auto::Builder::new(TokioExecutor::new()));
    let graceful = GracefulShutdown::new();
    let permits = Arc::new(Semaphore::new(CONNECTIONS_MAX));
    engine.spawn_maintenance();
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Usually EMFILE: back off instead of spinning.
                    tracing::warn!(error = %err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let engine = engine.clone();
        let service = service_fn(move |req| {
            let engine = engine.clone();
            async move { Ok::<_, std::convert::Infallible>(request::handle(&engine, req).await) }
        });
        let connection = builder
            .serve_connection(TokioIo::new(stream), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(%peer, error = %err, "connection ended with an error");
            }
            drop(permit);
        });
    }
    tracing::info!("shutting down: finishing in-flight requests");
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("in-flight requests did not finish in time; closing their connections");
    }
    engine.shutdown()?;
    tracing::info!("storage synced; stopped");
    Ok(())
}
