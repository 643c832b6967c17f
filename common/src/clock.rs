//! The vault's clock, read from the HTTP `Date` of one answer.
//!
//! A rotation lease (the `lease` module) is written and judged by a time. Two
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
//! says so: the lease's [`CLOCK_TOLERANCE`] still covers
//! clocks that differ by a few minutes.
//!
//! A `Date` has a resolution of one second and the answer takes a round trip
//! to arrive; the offset is measured from the middle of the exchange, so it
//! is right to about a second, far inside the tolerance. The request asks
//! caches not to answer for the origin (`Cache-Control: no-cache`), and an
//! `Age` a cache adds anyway is added to the `Date`.
//!
//! A `Date` is only as good as the TLS peer that sent it. One outside
//! [`PLAUSIBLE`] (a front end that answers 1970, or the year 9999, whose
//! lease time would not even be written in four digits) is not believed:
//! the local clock is used and the run warns. An offset larger than the
//! lease's tolerance is believed but warned about: this machine's clock is
//! wrong by more than gateways may differ, and a gateway that cannot read
//! the vault's clock would judge leases differently.

use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant, SystemTime};

use crate::deadline::Deadline;

/// How long the probe waits for the vault's host. It runs beside the
/// record read, so this bounds only how long a run waits for it afterwards.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// How far apart two clocks may be before a rotation lease is misjudged
/// (the lease module's rule, which this module only warns about).
pub const CLOCK_TOLERANCE: Duration = Duration::from_secs(300);

/// The most a cache's `Age` is believed to add to its `Date`.
const MAX_AGE: Duration = Duration::from_secs(3600);

/// The `Date`s believed: from 2025-01-01 to 2100-01-01 (Unix seconds).
pub const PLAUSIBLE: (u64, u64) = (1_735_689_600, 4_102_444_800);

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

/// The host the SDK sends to for a config `hostname`, resolved exactly as
/// the SDK's own (private) `get_servers` does: absent or empty is `US`; a
/// region code is its host; else the value, with `https://` put in front
/// when it does not contain `http`, read as a URL for its host, or taken as
/// it is when it does not read as one.
pub fn vault_host(hostname: Option<&str>) -> Option<String> {
    let value = hostname.filter(|h| !h.is_empty()).unwrap_or("US");
    if let Some((_, host)) = REGIONS.iter().find(|(code, _)| *code == value) {
        return Some((*host).to_owned());
    }
    let value = if value.contains("http") {
        value.to_owned()
    } else {
        format!("https://{value}")
    };
    match url::Url::parse(&value) {
        Ok(url) => url.host_str().map(str::to_owned),
        Err(_) => Some(value),
    }
}

/// The vault's clock: local time plus the offset the vault's `Date` gave.
#[derive(Debug)]
pub enum VaultClock {
    /// The probe is under way, since this instant.
    Reading(Receiver<Result<Offset, String>>, Instant),
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

    pub fn size(self) -> Duration {
        match self {
            Self::Ahead(d) | Self::Behind(d) => d,
        }
    }

    pub fn apply(self, local: SystemTime) -> SystemTime {
        match self {
            Self::Ahead(d) => local.checked_add(d).unwrap_or(local),
            Self::Behind(d) => local.checked_sub(d).unwrap_or(local),
        }
    }
}

fn fall_back(why: &str) {
    tracing::warn!(
        "cannot read the vault's clock ({why}); rotation leases are judged by this machine's \
         clock, so keep the clocks of gateways that share records in step (NTP)"
    );
}

impl VaultClock {
    /// Starts reading the clock of `host` on a thread of its own.
    pub fn start(host: String, deadline: Deadline) -> Self {
        let (tx, rx) = std::sync::mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("vault-clock".into())
            .spawn(move || {
                let _ = tx.send(probe(&host, deadline));
            });
        match spawned {
            Ok(_) => Self::Reading(rx, Instant::now()),
            Err(e) => {
                fall_back(&format!("no thread: {e}"));
                Self::Local
            }
        }
    }

    /// The vault's time now. The first time, waits for the probe, but never
    /// past [`PROBE_TIMEOUT`] from its start (a name lookup that hangs is not
    /// waited for).
    pub fn now(&mut self) -> SystemTime {
        if let Self::Reading(rx, started) = self {
            let wait =
                (PROBE_TIMEOUT + Duration::from_millis(100)).saturating_sub(started.elapsed());
            *self = match rx.recv_timeout(wait) {
                Ok(Ok(offset)) => {
                    if offset.size() > CLOCK_TOLERANCE {
                        tracing::warn!(
                            "this machine's clock is {} s {} the vault's: rotation leases are \
                             judged by the vault's, but set this clock right (NTP); gateways that \
                             cannot read the vault's clock judge by their own",
                            offset.size().as_secs(),
                            if matches!(offset, Offset::Ahead(_)) {
                                "behind"
                            } else {
                                "ahead of"
                            }
                        );
                    } else {
                        tracing::debug!("the vault's clock is {offset:?} of this machine's");
                    }
                    Self::Known(offset)
                }
                Ok(Err(why)) => {
                    fall_back(&why);
                    Self::Local
                }
                Err(RecvTimeoutError::Timeout) => {
                    fall_back(&format!("no answer within {} s", PROBE_TIMEOUT.as_secs()));
                    Self::Local
                }
                Err(RecvTimeoutError::Disconnected) => {
                    fall_back("the request failed unexpectedly");
                    Self::Local
                }
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
        client
            .head(url)
            .header(reqwest::header::CACHE_CONTROL, "no-cache")
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    format!("{host} did not answer within {:.0} s", limit.as_secs_f64())
                } else if e.is_connect() {
                    format!("could not connect to {host}")
                } else {
                    format!("the exchange with {host} failed")
                }
            })
    });
    // Never wait for what the runtime still runs (a name lookup that hangs).
    runtime.shutdown_background();
    let response = response?;
    let half_trip = sent.elapsed() / 2;
    let date = response
        .headers()
        .get(reqwest::header::DATE)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| format!("{host} answered without a Date"))?;
    let date = httpdate::parse_http_date(date)
        .map_err(|_| format!("{host} answered with a Date that does not read as one"))?;
    let unix = date
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    if !(PLAUSIBLE.0..PLAUSIBLE.1).contains(&unix) {
        return Err(format!(
            "{host} answered with the Date {}, which is not believed",
            httpdate::fmt_http_date(date)
        ));
    }
    // A cache that answered anyway says how old its answer is.
    let age = response
        .headers()
        .get(reqwest::header::AGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map_or(Duration::ZERO, Duration::from_secs)
        .min(MAX_AGE);
    Ok(Offset::between(date + age, local_sent + half_trip))
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
        // Contains "http", so no scheme is added, and it does not read as a
        // URL: the SDK takes it as it is.
        assert_eq!(
            vault_host(Some("myhttpvault.example")).as_deref(),
            Some("myhttpvault.example")
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
