//! Sending one upload request: the built-in reqwest client ([`builtin`],
//! feature `http`), or the host's [`Transport`] when it provides one. Both
//! paths get the same per-attempt timeout and return the same
//! [`HttpResponse`] shape. A build without the feature (the phone libraries)
//! has only the host path: a logger made without a transport gets
//! [`Error::NoTransport`](crate::Error::NoTransport) from its first flush, and nothing else changes.
//!
//! ## Redirects, plain http, stuck transports
//!
//! The built-in client never follows a redirect: a 3xx comes back as the
//! answer and the worker treats it like any other non-200 (retried, nothing
//! committed). Following a 301/302/303 would re-send the POST as a GET with
//! no body, and a 200 from the target would commit lines no server received;
//! a 307/308 would hand the body to a host nobody configured. The client is
//! also `https_only` unless the config allows plain http, so neither a
//! redirect nor a misconfiguration can downgrade. A host transport gets the
//! same rule from the worker (only 200 commits), and should not follow
//! redirects itself (ours on Android and iOS don't).
//!
//! A host transport call runs on a blocking helper thread, and at most one
//! is outstanding: when an attempt times out while the host is still inside
//! `send`, the next attempt waits for that call to return instead of
//! starting another one. A transport that never returns thus costs one
//! thread and one body, not one per retry.

#[cfg(feature = "http")]
mod builtin;

use super::{HttpRequest, HttpResponse, Transport};
use crate::error::Result;
use bytes::Bytes;
use std::sync::Arc;
use std::time::Duration;

/// Response body bytes kept for error messages; the rest is not read.
const RESPONSE_BODY_KEEP: usize = super::policy::ERROR_BODY_BYTES;

/// Sends requests one way or the other.
pub(crate) enum Sender {
    /// reqwest over rustls/ring.
    #[cfg(feature = "http")]
    Builtin(reqwest::Client),
    /// The host's transport, run on a blocking thread so a stuck call can be
    /// abandoned at its timeout or at shutdown.
    Host {
        /// The host's implementation.
        transport: Arc<dyn Transport>,
        /// One permit: held by the blocking call in flight, released when the
        /// host's `send` returns (not when the attempt gives up on it).
        idle: Arc<tokio::sync::Semaphore>,
    },
}

/// What one attempt produced on the wire, for byte accounting.
pub(crate) struct Exchange {
    /// The answer, or why there was none.
    pub result: std::result::Result<HttpResponse, String>,
    /// Approximate bytes received: status line, headers and the body bytes read.
    pub rx_bytes: u64,
}

impl Sender {
    /// The host transport if given, else the built-in client (plain http
    /// only if `allow_http`); [`crate::Error::NoTransport`] in a build without it.
    pub(crate) fn new(transport: Option<Arc<dyn Transport>>, timeout: Duration, allow_http: bool) -> Result<Sender> {
        match transport {
            Some(transport) => Ok(Sender::Host { transport, idle: Arc::new(tokio::sync::Semaphore::new(1)) }),
            None => Self::builtin(timeout, allow_http),
        }
    }

    #[cfg(feature = "http")]
    fn builtin(timeout: Duration, allow_http: bool) -> Result<Sender> {
        Ok(Sender::Builtin(builtin::client(timeout, allow_http)?))
    }

    #[cfg(not(feature = "http"))]
    fn builtin(_timeout: Duration, _allow_http: bool) -> Result<Sender> {
        Err(crate::Error::NoTransport)
    }

    /// One attempt, bounded by `timeout` whichever path is used.
    pub(crate) async fn send(&self, req: &PreparedRequest, timeout: Duration) -> Exchange {
        // Set once the host transport was actually called, to tell "no
        // answer" from "the previous call still has not returned".
        let mut called = false;
        let fut = async {
            match self {
                #[cfg(feature = "http")]
                Sender::Builtin(c) => builtin::send(c, req).await,
                Sender::Host { transport, idle } => {
                    // Never closed, so acquiring can only wait, not fail.
                    let Ok(permit) = idle.clone().acquire_owned().await else {
                        return Exchange { result: Err("host transport unavailable".into()), rx_bytes: 0 };
                    };
                    called = true;
                    send_host(transport.clone(), permit, req).await
                }
            }
        };
        match tokio::time::timeout(timeout, fut).await {
            Ok(x) => x,
            Err(_) if matches!(self, Sender::Host { .. }) && !called => Exchange {
                result: Err(format!(
                    "the host transport has not returned from an earlier attempt after {} more ms; \
                     not calling it again until it does",
                    timeout.as_millis()
                )),
                rx_bytes: 0,
            },
            Err(_) => Exchange { result: Err(format!("no answer within {} ms", timeout.as_millis())), rx_bytes: 0 },
        }
    }
}

/// A request kept across retries; the body is shared, not copied, per attempt
/// on the built-in path.
pub(crate) struct PreparedRequest {
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

impl PreparedRequest {
    /// Approximate bytes this request puts on the wire: request line, headers
    /// (including the Host and Content-Length the client adds) and body.
    pub(crate) fn wire_bytes(&self) -> u64 {
        let head: usize = self.headers.iter().map(|(k, v)| k.len() + v.len() + 4).sum();
        // "POST <url> HTTP/1.1\r\n" + "content-length: N\r\n" + final "\r\n".
        (self.url.len() + 16 + head + 24 + 2 + self.body.len()) as u64
    }
}

/// Calls the host transport on a blocking thread that holds `permit` until
/// the host returns, even if this attempt stops waiting first.
async fn send_host(
    t: Arc<dyn Transport>,
    permit: tokio::sync::OwnedSemaphorePermit,
    req: &PreparedRequest,
) -> Exchange {
    let request = HttpRequest { url: req.url.clone(), headers: req.headers.clone(), body: req.body.to_vec() };
    let joined = tokio::task::spawn_blocking(move || {
        let _in_flight = permit;
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| t.send(request)))
    })
    .await;
    let result = match joined {
        Ok(Ok(r)) => r,
        Ok(Err(_)) | Err(_) => Err("host transport panicked".to_string()),
    };
    let rx_bytes = match &result {
        Ok(r) => {
            let head: usize = r.headers.iter().map(|(k, v)| k.len() + v.len() + 4).sum();
            (15 + head + r.body.len()) as u64
        }
        Err(_) => 0,
    };
    let result = result.map(|mut r| {
        r.body.truncate(RESPONSE_BODY_KEEP);
        r
    });
    Exchange { result, rx_bytes }
}
