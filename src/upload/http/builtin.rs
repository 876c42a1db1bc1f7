//! The built-in HTTPS client (feature `http`): reqwest over rustls/ring,
//! HTTP/1.1 only, one that never follows a redirect (see the parent module).
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
//! decisions (or its own proxying/tunnel bypass) provides a [`Transport`](crate::Transport)
//! backed by URLSession or OkHttp instead. TLS 1.2 stays enabled because a
//! self-hosted collector behind an older proxy may not speak 1.3.
//!
//! Only HTTP/1.1 is offered (ALPN `http/1.1`): the uploader sends one body
//! at a time on one keep-alive connection, so HTTP/2's multiplexing would
//! carry nothing, while h2 was 225 KB of the arm64 release library
//! (BENCHMARKS.md, "Mobile library size").

use super::{Exchange, PreparedRequest};
use crate::error::{Error, Result};
use crate::upload::HttpResponse;
use std::sync::Arc;
use std::time::Duration;

/// Response body bytes kept for error messages; the rest is not read.
const RESPONSE_BODY_KEEP: usize = super::RESPONSE_BODY_KEEP;

/// Idle connections kept to the log server: uploads come in bursts of a few
/// batches, then nothing for a long time (upstream keeps 2).
const MAX_IDLE_CONNECTIONS: usize = 2;
/// How long an idle connection is kept. Shorter than upstream's hour: on a
/// phone a dead keep-alive connection costs a failed attempt after a network
/// change, while a fresh handshake costs one round trip.
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// The client: https only unless `allow_http`, each request bounded by `timeout`.
pub(crate) fn client(timeout: Duration, allow_http: bool) -> Result<reqwest::Client> {
    let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Upload(format!("TLS setup: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    // reqwest leaves ALPN to a preconfigured config; HTTP/1.1 only (module docs).
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
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

/// One POST; the first KiB of the answer's body is kept.
pub(crate) async fn send(client: &reqwest::Client, req: &PreparedRequest) -> Exchange {
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
