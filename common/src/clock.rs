//! The vault's clock, read from the HTTP `Date` of one answer.
//!
//! A rotation lease ([`crate::lease`]) is written and judged by a time. Two
//! Gateways whose clocks disagree judge one lease differently: the one whose
//! clock runs ahead takes over a lease that is still live. Every Gateway
//! that shares a record talks to the same vault, so the vault's clock is the
//! one they can agree on. The Keeper SDK does not expose its answers'
//! headers, so the clock is read by one request of our own: an
//! unauthenticated `HEAD /` to the vault's host, by the route the SDK's own
//! requests take (its proxy and trust store rules). It carries no credential
//! and changes nothing; any answer (a 404, a redirect) carries a `Date`.
//!
//! The request runs on its own thread while the SDK reads the record, so it
//! costs a run no time unless the vault's host answers slower than the
//! record read. When the clock cannot be read (no answer within
//! [`PROBE_TIMEOUT`], no usable `Date`), the local clock is used and the run
//! says so: the lease's [`crate::lease::CLOCK_TOLERANCE`] still covers
//! clocks that differ by a few minutes.
//!
//! A `Date` has a resolution of one second and the answer takes a round trip
//! to arrive; the offset is measured from the middle of the exchange, so it
//! is right to about a second, far inside the tolerance.

use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use crate::deadline::Deadline;

/// How long the probe waits for the vault's host. It runs beside the
/// record read, so this bounds only how long a run waits for it afterwards.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// The hosts the Keeper SDK (17.3) maps its region codes to, as its
/// `get_keeper_servers`: a config's `hostname` is one of these codes or a
/// host name (or URL) of its own.
const REGIONS: [(&str, &str); 7] = [
    ("US", "keepersecurity.com"),
    ("EU", "keepersecurity.eu"),
    ("AU", "keepersecurity.com.au"),
    ("GOV", "govcloud.keepersecurity.us"),
    ("JP", "keepersecurity.jp"),
    ("CA", "keepersecurity.ca"),
    ("IL5", "il5.keepersecurity.us"),
];

/// The host the SDK sends to for a config `hostname`, resolved as the SDK
/// does: a region code, else the host of the value read as a URL (with
/// `https://` added when it names no scheme). `None` when there is none.
pub fn vault_host(hostname: Option<&str>) -> Option<String> {
    let value = hostname.map(str::trim).filter(|h| !h.is_empty());
    let value = value.unwrap_or("US");
    if let Some((_, host)) = REGIONS.iter().find(|(code, _)| *code == value) {
        return Some((*host).to_owned());
    }
    let url = if value.contains("http") {
        value.to_owned()
    } else {
        format!("https://{value}")
    };
    url::Url::parse(&url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
}

/// The vault's clock: local time plus the offset the vault's `Date` gave.
#[derive(Debug)]
pub enum VaultClock {
    /// The probe is under way.
    Reading(JoinHandle<Result<Offset, String>>),
    /// The vault's time is the local time plus this.
    Known(Offset),
    /// The vault's clock could not be read: the local clock stands in.
    Local,
}

/// How far the vault's clock is from the local one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offset {
    Ahead(Duration),
    Behind(Duration),
}

impl Offset {
    /// `vault - local`, measured at `local`.
    pub fn between(vault: SystemTime, local: SystemTime) -> Self {
        match vault.duration_since(local) {
            Ok(ahead) => Self::Ahead(ahead),
            Err(behind) => Self::Behind(behind.duration()),
        }
    }

    pub fn apply(self, local: SystemTime) -> SystemTime {
        match self {
            Self::Ahead(d) => local.checked_add(d).unwrap_or(local),
            Self::Behind(d) => local.checked_sub(d).unwrap_or(local),
        }
    }
}

impl VaultClock {
    /// Starts reading the clock of `host` on a thread of its own.
    pub fn start(host: String, deadline: Deadline) -> Self {
        let spawned = std::thread::Builder::new()
            .name("vault-clock".into())
            .spawn(move || probe(&host, deadline));
        match spawned {
            Ok(handle) => Self::Reading(handle),
            Err(e) => {
                tracing::info!(
                    "cannot read the vault's clock (no thread: {e}); rotation leases are judged \
                     by this machine's clock"
                );
                Self::Local
            }
        }
    }

    /// The vault's time now: waits for the probe the first time.
    pub fn now(&mut self) -> SystemTime {
        if let Self::Reading(_) = self {
            let Self::Reading(handle) = std::mem::replace(self, Self::Local) else {
                unreachable!("matched just above");
            };
            *self = match handle.join() {
                Ok(Ok(offset)) => {
                    tracing::debug!("the vault's clock is {offset:?} of this machine's");
                    Self::Known(offset)
                }
                Ok(Err(why)) => {
                    tracing::info!(
                        "cannot read the vault's clock ({why}); rotation leases are judged by \
                         this machine's clock"
                    );
                    Self::Local
                }
                Err(_) => Self::Local,
            };
        }
        let local = SystemTime::now();
        match self {
            Self::Known(offset) => offset.apply(local),
            _ => local,
        }
    }
}

/// One `HEAD /` to `host`; the offset of its `Date`. Sent the way the SDK
/// sends (the same HTTP client crate, its proxy and trust store rules), not
/// through [`crate::http::Client`], whose rule that a loopback host is never
/// proxied would send it elsewhere than the SDK's own requests go.
fn probe(host: &str, deadline: Deadline) -> Result<Offset, String> {
    let limit = PROBE_TIMEOUT.min(deadline.remaining());
    let url = url::Url::parse(&format!("https://{host}/"))
        .map_err(|_| format!("'{host}' is not a host name"))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("no async runtime: {e}"))?;
    let sent = Instant::now();
    let local_sent = SystemTime::now();
    let response = runtime.block_on(async {
        // Built inside the runtime: the client's timers belong to it.
        let client = reqwest::Client::builder()
            .connect_timeout(limit)
            .timeout(limit)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("keeper-rotators/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("no HTTP client: {e}"))?;
        client.head(url).send().await.map_err(|e| {
            if e.is_timeout() {
                format!("{host} did not answer within {:.0} s", limit.as_secs_f64())
            } else if e.is_connect() {
                format!("could not connect to {host}")
            } else {
                format!("the exchange with {host} failed")
            }
        })
    })?;
    let half_trip = sent.elapsed() / 2;
    let date = response
        .headers()
        .get(reqwest::header::DATE)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| format!("{host} answered without a Date"))?;
    let vault = httpdate::parse_http_date(date)
        .map_err(|_| format!("{host} answered with a Date that does not read as one"))?;
    Ok(Offset::between(vault, local_sent + half_trip))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vault_host_is_resolved_as_the_sdk_resolves_it() {
        assert_eq!(vault_host(None).as_deref(), Some("keepersecurity.com"));
        assert_eq!(vault_host(Some("")).as_deref(), Some("keepersecurity.com"));
        assert_eq!(vault_host(Some("EU")).as_deref(), Some("keepersecurity.eu"));
        assert_eq!(
            vault_host(Some("GOV")).as_deref(),
            Some("govcloud.keepersecurity.us")
        );
        assert_eq!(
            vault_host(Some("keepersecurity.com.au")).as_deref(),
            Some("keepersecurity.com.au")
        );
        assert_eq!(
            vault_host(Some("https://vault.example:8443/path")).as_deref(),
            Some("vault.example")
        );
    }

    #[test]
    fn an_offset_moves_the_local_time_either_way() {
        let local = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let ahead = Offset::between(local + Duration::from_secs(90), local);
        let behind = Offset::between(local - Duration::from_secs(1200), local);
        assert_eq!(ahead, Offset::Ahead(Duration::from_secs(90)));
        assert_eq!(behind, Offset::Behind(Duration::from_secs(1200)));
        assert_eq!(ahead.apply(local), local + Duration::from_secs(90));
        assert_eq!(behind.apply(local), local - Duration::from_secs(1200));
    }
}
