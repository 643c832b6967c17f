//! The dry run's probe: a connection made exactly as a request's would be,
//! closed before a byte of any request is written ([`Client::reach`]).
//!
//! Why a connector layer: the client a real run uses decides the proxy
//! (`HTTPS_PROXY`, `NO_PROXY`, never for loopback), the resolver's
//! loopback rule, the trusted authorities (`SSL_CERT_FILE`) or the pin.
//! Rebuilding that by hand for a probe would be a second policy that could
//! drift from the first. Instead the probe sends a request through the
//! same client with one more layer around its connector, which drops the
//! connection it is handed and answers with an error: the connector's work
//! (DNS, the proxy's tunnel, the TLS handshake and its verification) is
//! done, and the request is never written.

use super::*;

impl Client {
    /// For a dry run: resolves the host of `url` and connects to it exactly
    /// as a request would (through the proxy the environment names, TLS
    /// verified against the authorities, `SSL_CERT_FILE` or the pin; plain
    /// TCP for a loopback `http` URL), then closes the connection before a
    /// byte of any request is written: nothing reaches the endpoint. `Ok`
    /// says what was reached ("DNS and TLS to host:443"); a name that does
    /// not resolve, a refused connection or a refused certificate is
    /// [`Error::Unreachable`] (exit 1, nothing was sent), a certificate that
    /// is not the pinned one [`Error::Config`] as in a real run.
    pub async fn reach(&self, url: &Url) -> Result<String> {
        self.for_url(url)?;
        let tls = url.scheme() == "https";
        let host = url.host_str().unwrap_or_default();
        let port = url.port_or_known_default().unwrap_or(0);
        let what = if tls {
            format!("DNS and TLS to {host}:{port}")
        } else {
            format!("DNS and a TCP connection to {host}:{port}")
        };
        let remaining = self.deadline.remaining();
        if remaining.is_zero() {
            return Err(self.deadline_error(&what, String::new()));
        }
        let reached = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let client = self.build_stopping(!names_loopback(url), std::sync::Arc::clone(&reached))?;
        let outcome = client
            .head(url.clone())
            .timeout(remaining.min(self.policy.request_timeout))
            .send()
            .await;
        if reached.load(std::sync::atomic::Ordering::SeqCst) {
            return Ok(what);
        }
        if let Some(refused) = self.pin_refused(&what) {
            return Err(refused);
        }
        Err(Error::Unreachable {
            target: what,
            detail: match outcome {
                Ok(_) => "the connection ended without being established".to_owned(),
                Err(e) => Failure::from_send(e).shown(),
            },
        })
    }

    /// A client like [`Client::build`]'s whose connections are closed as
    /// soon as they are established (see [`Client::reach`]).
    fn build_stopping(
        &self,
        proxy: bool,
        reached: std::sync::Arc<std::sync::atomic::AtomicBool>,
    ) -> Result<reqwest::Client> {
        let tls = self.pinned_tls()?;
        self.builder(proxy, tls)
            .connector_layer(StopWhenConnected { reached })
            .build()
            .map_err(|e| Error::Failed(format!("cannot start the HTTP client: {e}")))
    }
}

/// Closes every connection as soon as it is established (DNS, the proxy's
/// tunnel, TLS), noting that it was: [`Client::reach`].
#[derive(Debug, Clone)]
pub(super) struct StopWhenConnected {
    reached: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl<S> tower_layer::Layer<S> for StopWhenConnected {
    type Service = StopWhenConnectedService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        StopWhenConnectedService {
            inner,
            reached: std::sync::Arc::clone(&self.reached),
        }
    }
}

#[derive(Debug, Clone)]
pub(super) struct StopWhenConnectedService<S> {
    inner: S,
    reached: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl<S, R> tower_service::Service<R> for StopWhenConnectedService<S>
where
    S: tower_service::Service<R, Error = BoxError>,
    S::Future: Send + 'static,
    S::Response: Send + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = std::result::Result<S::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<std::result::Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        let connect = self.inner.call(request);
        let reached = std::sync::Arc::clone(&self.reached);
        Box::pin(async move {
            let connection = connect.await?;
            reached.store(true, std::sync::atomic::Ordering::SeqCst);
            drop(connection);
            Err(Box::new(OnlyConnecting) as BoxError)
        })
    }
}

/// The connection was closed on purpose once established.
#[derive(Debug)]
pub(super) struct OnlyConnecting;

impl std::fmt::Display for OnlyConnecting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the connection was established and closed before sending, as asked")
    }
}

impl std::error::Error for OnlyConnecting {}
