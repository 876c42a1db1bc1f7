//! Sending one upload request: the built-in reqwest client, or the host's
//! [`Transport`] when it provides one. Both paths get the same per-attempt
//! timeout and return the same [`HttpResponse`] shape.
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
//!
//! ## TLS and root certificates
//!
//! The built-in client speaks TLS through rustls on the `ring` provider with
//! Mozilla's root store compiled in (`webpki-roots`). Nothing here links
//! OpenSSL, aws-lc (which needs cmake/NASM in NDK and Xcode builds) or a
//! platform verifier: `rustls-platform-verifier` on Android must be
//! initialised through JNI with an application `Context` and ships a Kotlin
//! component, which a UniFFI library loaded through JNA never gets to do
//! (see the uniffi notes, §5). The cost of a compiled-in root store is that a
//! device's user-installed or MDM-pushed roots are not trusted, and the store
//! only changes with a library release; a host that needs its platform's trust
//! decisions (or its own proxying/tunnel bypass) provides a [`Transport`]
//! backed by URLSession or OkHttp instead. TLS 1.2 stays enabled because a
//! self-hosted collector behind an older proxy may not speak 1.3.

use super::{HttpRequest, HttpResponse, Transport};
use crate::error::{Error, Result};
use bytes::Bytes;
use std::sync::Arc;
use std::time::Duration;

/// Response body bytes kept for error messages; the rest is not read.
const RESPONSE_BODY_KEEP: usize = super::policy::ERROR_BODY_BYTES;
/// Idle connections kept to the log server: uploads come in bursts of a few
/// batches, then nothing for a long time (upstream keeps 2).
const MAX_IDLE_CONNECTIONS: usize = 2;
/// How long an idle connection is kept. Shorter than upstream's hour: on a
/// phone a dead keep-alive connection costs a failed attempt after a network
/// change, while a fresh handshake costs one round trip.
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// Sends requests one way or the other.
pub(crate) enum Sender {
    /// reqwest over rustls/ring.
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
    /// The built-in client (plain http only if `allow_http`), or the host
    /// transport if given.
    pub(crate) fn new(transport: Option<Arc<dyn Transport>>, timeout: Duration, allow_http: bool) -> Result<Sender> {
        match transport {
            Some(transport) => Ok(Sender::Host { transport, idle: Arc::new(tokio::sync::Semaphore::new(1)) }),
            None => Ok(Sender::Builtin(builtin_client(timeout, allow_http)?)),
        }
    }

    /// One attempt, bounded by `timeout` whichever path is used.
    pub(crate) async fn send(&self, req: &PreparedRequest, timeout: Duration) -> Exchange {
        // Set once the host transport was actually called, to tell "no
        // answer" from "the previous call still has not returned".
        let mut called = false;
        let fut = async {
            match self {
                Sender::Builtin(c) => send_builtin(c, req).await,
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

fn builtin_client(timeout: Duration, allow_http: bool) -> Result<reqwest::Client> {
    let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Upload(format!("TLS setup: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    // reqwest leaves ALPN to a preconfigured config: offer h2, fall back to 1.1.
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .no_proxy()
        // A 3xx is a failed attempt, never followed (see the module docs).
        .redirect(reqwest::redirect::Policy::none())
        .https_only(!allow_http)
        .timeout(timeout)
        .pool_max_idle_per_host(MAX_IDLE_CONNECTIONS)
        .pool_idle_timeout(IDLE_TIMEOUT)
        .build()
        .map_err(|e| Error::Upload(format!("building HTTP client: {e}")))
}

async fn send_builtin(client: &reqwest::Client, req: &PreparedRequest) -> Exchange {
    let mut rb = client.post(&req.url).body(req.body.clone());
    for (k, v) in &req.headers {
        rb = rb.header(k, v);
    }
    let mut resp = match rb.send().await {
        Ok(r) => r,
        Err(e) => return Exchange { result: Err(error_chain(&e)), rx_bytes: 0 },
    };
    let status = resp.status().as_u16();
    let headers: Vec<(String, String)> = resp
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    let mut rx = 15 + headers.iter().map(|(k, v)| k.len() + v.len() + 4).sum::<usize>() as u64;
    let mut body = Vec::new();
    // Keep the first KiB for the error text. A 200 whose body breaks off is
    // still a 200: the server stored the batch before it answered.
    while body.len() < RESPONSE_BODY_KEEP {
        match resp.chunk().await {
            Ok(Some(c)) => {
                rx += c.len() as u64;
                let take = c.len().min(RESPONSE_BODY_KEEP - body.len());
                body.extend_from_slice(&c[..take]);
            }
            Ok(None) | Err(_) => break,
        }
    }
    Exchange { result: Ok(HttpResponse { status, headers, body }), rx_bytes: rx }
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

/// reqwest's top-level message is often just "error sending request"; the
/// cause chain says what actually happened (refused, reset, TLS, timeout).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        src = c.source();
    }
    s
}
