//! The host's upload transport as a foreign trait (URLSession, OkHttp, ...),
//! and the adapter that lets the core's uploader call it.

use super::SockstatError;
use crate::upload::{HttpRequest, HttpResponse, Transport};
use std::sync::Arc;

/// One HTTP header.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub(crate) struct HttpHeader {
    /// Header name, e.g. `Content-Encoding`.
    pub name: String,
    /// Header value.
    pub value: String,
}

/// A request the uploader wants sent: always a `POST`.
#[derive(Debug, Clone, uniffi::Record)]
pub(crate) struct UploadRequest {
    /// Full URL: `{base}/c/{collection}/{private id}`.
    pub url: String,
    /// Headers to send as given.
    pub headers: Vec<HttpHeader>,
    /// The body (a JSON array of log lines, maybe zstd-compressed).
    pub body: Vec<u8>,
}

/// What the server answered.
#[derive(Debug, Clone, uniffi::Record)]
pub(crate) struct UploadResponse {
    /// HTTP status; only 200 means stored. An `Int`/`Int32` like the
    /// platforms' own (`HttpURLConnection.responseCode`,
    /// `HTTPURLResponse.statusCode`); outside 0..=65535 it is a transport
    /// failure, retried.
    pub status: i32,
    /// Response headers (`Retry-After` is honoured).
    pub headers: Vec<HttpHeader>,
    /// The body, or its first KiB (used in error messages only).
    pub body: Vec<u8>,
}

/// Implemented by the host to send upload requests itself. Called on the
/// uploader's thread; it may block and should enforce its own timeout. An
/// error is retried like a 5xx.
#[uniffi::export(foreign)]
pub trait UploadTransport: Send + Sync {
    /// Sends one request and returns the server's answer.
    fn send(&self, request: UploadRequest) -> Result<UploadResponse, SockstatError>;
}

/// Adapts a host [`UploadTransport`] to the core's [`Transport`].
pub(super) struct HostTransport(pub(super) Arc<dyn UploadTransport>);

fn headers(h: Vec<(String, String)>) -> Vec<HttpHeader> {
    h.into_iter().map(|(name, value)| HttpHeader { name, value }).collect()
}

impl Transport for HostTransport {
    fn send(&self, r: HttpRequest) -> Result<HttpResponse, String> {
        let request = UploadRequest { url: r.url, headers: headers(r.headers), body: r.body };
        let response = self.0.send(request).map_err(|e| e.to_string())?;
        let status = u16::try_from(response.status)
            .map_err(|_| format!("host transport returned HTTP status {}", response.status))?;
        Ok(HttpResponse {
            status,
            headers: response.headers.into_iter().map(|h| (h.name, h.value)).collect(),
            body: response.body,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Answer(i32);
    impl UploadTransport for Answer {
        fn send(&self, _: UploadRequest) -> Result<UploadResponse, SockstatError> {
            Ok(UploadResponse { status: self.0, headers: vec![], body: vec![] })
        }
    }

    fn send(status: i32) -> Result<HttpResponse, String> {
        HostTransport(Arc::new(Answer(status))).send(HttpRequest { url: "u".into(), headers: vec![], body: vec![] })
    }

    #[test]
    fn a_status_outside_u16_is_a_transport_failure_not_a_wrapped_status() {
        assert_eq!(send(200).unwrap().status, 200);
        assert!(send(-1).unwrap_err().contains("-1"));
        assert!(send(65_736).unwrap_err().contains("65736"));
    }
}
