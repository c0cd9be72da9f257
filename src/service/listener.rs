//! The accept loop of `serve`'s HTTP surface, with the limits a listener open to a network
//! needs: at most `[service] max-connections` connections at once (one more is answered `503`
//! and closed, never queued without bound), and a client must send a request's headers within
//! `[service] request-timeout` (a half-sent request is cut off; the handlers bound the body the
//! same way). HTTP/1.1 only, served by hyper with axum's router.
//!
//! Shutdown: when `stop` is cancelled no connection is accepted any more, idle connections are
//! closed, and the call returns once the requests in progress are answered (long-lived
//! `/events` streams end on the same signal).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The limits of one listener.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_connections: usize,
    pub request_timeout: Duration,
}

/// Serve `router` on `listener` until `stop` is cancelled.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    stop: CancellationToken,
) -> std::io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let connections = TaskTracker::new();
    loop {
        let accepted = tokio::select! {
            () = stop.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of file descriptors and the like: wait a moment rather than spin.
                tracing::warn!(error = %e, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        match Arc::clone(&permits).try_acquire_owned() {
            Ok(permit) => {
                let router = router.clone();
                let stop = stop.clone();
                connections.spawn(async move {
                    serve_connection(stream, router, limits.request_timeout, stop).await;
                    drop(permit);
                });
            }
            Err(_) => {
                tracing::warn!(peer = %peer, max_connections = limits.max_connections, "connection refused: too many open connections");
                tokio::spawn(refuse(stream));
            }
        }
    }
    connections.close();
    connections.wait().await;
    Ok(())
}

async fn serve_connection(
    stream: TcpStream,
    router: Router,
    request_timeout: Duration,
    stop: CancellationToken,
) {
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(request_timeout);
    let connection =
        builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(router));
    tokio::pin!(connection);
    let result = tokio::select! {
        r = connection.as_mut() => r,
        () = stop.cancelled() => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(e) = result {
        // A client that went away or was too slow: nothing anyone needs to act on.
        tracing::debug!(error = %e, "connection ended with an error");
    }
}

/// The answer past `max-connections`: `503` with `Retry-After`, then close. The request is
/// drained briefly first, so closing does not reset the connection before the client reads
/// the answer.
async fn refuse(mut stream: TcpStream) {
    const BODY: &str = "{\"message\":\"too many connections; try again shortly\"}";
    let head = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n",
        BODY.len()
    );
    let answer = async {
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(BODY.as_bytes()).await?;
        stream.shutdown().await?;
        let mut sink = [0u8; 4096];
        let mut drained = 0;
        while drained < 64 * 1024 {
            match stream.read(&mut sink).await? {
                0 => break,
                n => drained += n,
            }
        }
        Ok::<(), std::io::Error>(())
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), answer).await;
}
