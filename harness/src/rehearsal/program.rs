//! What a rehearsal runs: one of the project's binaries, or any executable
//! an administrator attaches as a PAM script (`harness run --script CMD`,
//! `harness grade`).
//!
//! Why one type and no second pipeline: the world, the faults, the matrix,
//! the verdict and the report judge the fakes' end state, not the program's
//! words, so nothing in them needs the program to be ours. Only three
//! things differ for a script, and they live here:
//!
//! - **How it is started**: as the Gateway starts a PAM script, with the one
//!   base64 line on stdin and nothing on the command line. `CMD` is given
//!   to `/bin/sh -c` (the shell's own word rules: quoting, `VAR=x cmd`,
//!   pipelines; no splitter of the harness's own to disagree with it), in a
//!   fresh private working directory (0700, removed after the run), in a
//!   process group of its own, every process of it marked and killed when
//!   the run ends ([`crate::reap`]: a `setsid` grandchild too).
//! - **Its environment**: built from nothing. The administrator's own
//!   environment (`AWS_*`, `AZURE_CLIENT_SECRET`, `KSM_CONFIG`, proxies...)
//!   never reaches it: only `PATH`, the locale, `HOME` and `TMPDIR` (the
//!   working directory), and the variables the official SDKs honour that
//!   point at the fakes ([`script_env`]).
//! - **What the report shows of it**: everything a script controls is
//!   untrusted: its outputs, and everything derived from its requests
//!   (paths, call names, bodies). Each such string is masked with every
//!   secret of the run and passed through the project's redactor with the
//!   same secrets registered ([`scrub`]). Its outputs are withheld unless
//!   asked for ([`Script::show_output`]), then withheld line by line where
//!   a line shares a run of letters and digits with a secret.
//!
//! Not done, and said wherever it matters: the network is not sandboxed.
//! Proxy variables send what honours them to the script proxy
//! ([`crate::fakes::vault::FakeVault::script_proxy`]), which refuses any
//! host off this machine but the ones the fakes answer for (the KSM
//! configuration's, and a use case's real hosts such as
//! `login.microsoftonline.com`, so an SDK that names them needs no edit); a
//! script that opens its own sockets to a real host is not stopped.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::world::{RunOptions, World, mask};
use crate::fakes::vault::KSM_HOST;
use crate::runner::{Outcome, Run};

/// The use cases a script can be rehearsed for: the plain HTTP password
/// rotators and the key-set rotators, whose fakes an SDK reaches through
/// standard variables or the record's url.
pub const SCRIPT_USE_CASES: &[&str] = &[
    "rest-api",
    "okta-user",
    "aws-access-key",
    "azure-app-secret",
];

/// Why `--dry-run` is refused with `--script`.
pub const NO_DRY_RUN: &str = "--dry-run cannot be used with --script: a PAM script has no dry run \
     (Keeper's scripts read no flag and would rotate); rehearse it on the fakes without --dry-run";

/// What the harness runs.
#[derive(Debug, Clone)]
pub enum Program {
    /// One of the project's rotators.
    Binary(PathBuf),
    /// Any executable, started as the Gateway starts a PAM script.
    Script(Script),
}

/// A third-party script and how to show it.
#[derive(Debug, Clone)]
pub struct Script {
    /// The command, run by `/bin/sh -c`.
    pub command: String,
    /// Show its outputs (redacted line by line) instead of their sizes.
    pub show_output: bool,
    /// Kill it (and everything it started) after this long; `None`: the
    /// rehearsal's own deadline.
    pub deadline: Option<Duration>,
}

impl Program {
    /// One of the project's binaries.
    pub fn binary(path: impl Into<PathBuf>) -> Self {
        Self::Binary(path.into())
    }

    /// The script, if this is one.
    pub fn script(&self) -> Option<&Script> {
        match self {
            Self::Script(script) => Some(script),
            Self::Binary(_) => None,
        }
    }

    /// How the report names it: the binary's path, or `script: CMD`.
    pub fn shown(&self) -> String {
        match self {
            Self::Binary(path) => path.display().to_string(),
            Self::Script(script) => format!("script: {}", script.command),
        }
    }

    /// The outcome as the end state is judged against it. A script is
    /// judged as the Gateway reads it: exit 0 is success and every other
    /// code failure (judged as exit 1: the project's 3, curl's 28 or a
    /// Python traceback's 1 alike), except exit 4, read as the project's
    /// binaries use it (an outcome declared uncertain, the account on
    /// either password), so a script and a binary graded side by side meet
    /// one rule. What a script printed earns no credit: a key it merely
    /// names is still lost. The project's binaries keep their exit table.
    pub fn judged(&self, out: &Outcome) -> Outcome {
        match self {
            Self::Binary(_) => out.clone(),
            Self::Script(_) => Outcome {
                code: out.code.map(|code| match code {
                    0 | 4 => code,
                    _ => 1,
                }),
                stdout: String::new(),
                stderr: String::new(),
                elapsed: out.elapsed,
                timed_out: out.timed_out,
            },
        }
    }

    /// Whether the end state matches the exit code ([`World::verdict`]),
    /// the code read as [`Program::judged`] reads it. A script's failure
    /// (any code but 0 and 4) tells the Gateway only that the rotation did
    /// not complete: it is true of an end state where nothing changed, and
    /// of one where the new credential is stored and works with the old
    /// ones kept (the project's exit 3, which the Gateway cannot tell from
    /// any other failure). It is a lie only when neither holds.
    pub fn verdict(&self, world: &World, out: &Outcome, dry_run: bool) -> Result<(), String> {
        let judged = self.judged(out);
        let first = world.verdict(&judged, dry_run);
        if first.is_ok() || self.script().is_none() || judged.code != Some(1) {
            return first;
        }
        let kept = Outcome {
            code: Some(3),
            ..judged
        };
        world.verdict(&kept, dry_run).or(first)
    }

    /// [`scrub`] for a script, [`mask`] for the project's binaries (whose
    /// outputs are redacted by the binaries themselves and checked by
    /// every test).
    pub fn mask(&self, text: &str, secrets: &[String]) -> String {
        match self {
            Self::Script(_) => scrub(text, secrets),
            Self::Binary(_) => mask(text, secrets),
        }
    }
}

/// Runs `program` once in `world`: [`World::run`] for a binary; a script
/// as the Gateway runs one (see the module documentation): `/bin/sh -c
/// CMD`, the line on stdin, an environment built from nothing, a fresh
/// private working directory removed afterwards, everything it started
/// killed when it ends. `Err` only when the harness could not start it.
pub fn run(world: &World, program: &Program, options: &RunOptions) -> Result<Outcome, String> {
    let script = match program {
        Program::Binary(bin) => return Ok(world.run(bin, options)),
        Program::Script(script) => script,
    };
    if options.dry_run {
        return Err(NO_DRY_RUN.to_owned());
    }
    let home = crate::teardown::PrivateDir::new()
        .map_err(|e| format!("cannot make the script's working directory: {e}"))?;
    let mut run = Run::new("/bin/sh")
        .arg("-c")
        .arg(script.command.clone())
        .stdin(world.stdin(options))
        .env_clear()
        .current_dir(home.path())
        .track(crate::reap::new_marker());
    for (host, fake) in world.service.hosts() {
        world.vault.route(&host, &fake)?;
    }
    let proxy = world.vault.script_proxy()?;
    let config = ksm_config(world, home.path())?;
    for (key, value) in script_env(world, home.path(), &config, proxy) {
        run = run.env(&key, value);
    }
    for (key, value) in &options.env {
        run = run.env(key, value.clone());
    }
    let deadline = script
        .deadline
        .or(options.timing.map(|t| t.kill_after))
        .unwrap_or(Duration::from_secs(240));
    let out = run.kill_after(deadline).run();
    drop(home);
    Ok(out)
}

/// A copy of the fake vault's KSM configuration in `home` (0600), its
/// `hostname` [`KSM_HOST`]: a script's KSM SDK reaches it through the proxy
/// variables, and the script proxy tunnels that host to the fake vault
/// ([`crate::fakes::vault::FakeVault::script_proxy`]). (The loopback
/// address with the fake's port would go around the proxy, and Keeper's
/// Rust SDK drops the port.) Holds only the fake vault's made-up keys.
fn ksm_config(world: &World, home: &Path) -> Result<PathBuf, String> {
    let original = world.vault.config_path();
    let text = std::fs::read_to_string(&original)
        .map_err(|e| format!("cannot read {}: {e}", original.display()))?;
    let mut config: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| format!("{} is not JSON: {e}", original.display()))?;
    config["hostname"] = KSM_HOST.into();
    let path = home.join("ksm-config.json");
    crate::teardown::write_private(&path, &config.to_string())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

/// Refuses a script for a use case it cannot be rehearsed for, in one line.
pub fn check_use_case(name: &str) -> Result<(), String> {
    if SCRIPT_USE_CASES.contains(&name) {
        Ok(())
    } else {
        Err(format!(
            "--script is not supported for {name} yet: its fakes cannot be reached by a \
             script's SDK through standard variables; the use cases that take a script are {}",
            SCRIPT_USE_CASES.join(", ")
        ))
    }
}

/// `text` with every form of every secret masked ([`mask`]), then through
/// the project's redactor ([`common::secret::redact`]) with every secret
/// registered: what any string a script controls passes before it is shown.
/// A text sharing a run of its skeleton with a secret (a piece of one, in
/// any encoding) is withheld whole, as a server's field is.
pub fn scrub(text: &str, secrets: &[String]) -> String {
    register(secrets);
    let masked = mask(text, secrets);
    if common::secret::echoes_secret(&masked) {
        return common::secret::WITHHELD.to_owned();
    }
    common::secret::redact(&masked)
}

/// A script's output, when shown: [`scrub`] after every line that shares
/// a run of letters and digits with a secret is withheld whole
/// ([`common::secret::withhold_lines`]).
pub fn scrub_lines(text: &str, secrets: &[String]) -> String {
    register(secrets);
    common::secret::withhold_lines(&mask(text, secrets))
}

fn register(secrets: &[String]) {
    for secret in secrets {
        common::secret::register(secret);
    }
}

/// `12 bytes in 1 line`: what the report says of a withheld output.
pub fn size(text: &str) -> String {
    let lines = text.lines().count();
    format!(
        "{} bytes in {lines} {}",
        text.len(),
        if lines == 1 { "line" } else { "lines" }
    )
}

/// The CA bundle variables the official SDKs and tools honour: all point
/// at the fakes' test CA.
pub const CA_VARS: [&str; 5] = [
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "SSL_CERT_FILE",
    "AWS_CA_BUNDLE",
    "NODE_EXTRA_CA_CERTS",
];

/// Where plain `PATH` comes from when the harness has none.
const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// A script's whole environment: nothing of the harness's but `PATH`;
/// the locale; `HOME` and `TMPDIR` = `home`; the world's variables (the
/// same that point the project's binaries at the fakes: the AWS endpoints;
/// not those of a service whose real hosts the proxy answers for, Azure);
/// the CA bundles; the AWS per-service endpoints and region;
/// the KSM configuration `ksm_config` (see [`ksm_config`]) as
/// `KEEPER_GATEWAY_CONFIG`, `KSM_CONFIG_FILE` and `KSM_CONFIG` (base64, as
/// Keeper's Python SDK reads it from the environment); and every proxy
/// variable at the script proxy on `proxy_port`, which answers for the
/// routed hosts and refuses any other host off this machine, with loopback
/// (the fakes) going direct.
pub fn script_env(
    world: &World,
    home: &Path,
    ksm_config: &Path,
    proxy_port: u16,
) -> Vec<(String, String)> {
    use base64::Engine;
    let mut env: Vec<(String, String)> = vec![
        (
            "PATH".into(),
            std::env::var("PATH").unwrap_or_else(|_| DEFAULT_PATH.into()),
        ),
        ("LANG".into(), "C.UTF-8".into()),
        ("LC_ALL".into(), "C.UTF-8".into()),
        ("HOME".into(), home.display().to_string()),
        ("TMPDIR".into(), home.display().to_string()),
    ];
    env.extend(world.env());
    if !world.service.hosts().is_empty() {
        // The script reaches the service by its real hosts, which the
        // proxy answers for (see `run`): an endpoint variable pointing at
        // the fake's plain-HTTP address would only send its SDK where no
        // gateway sends it (azure-identity refuses an authority that is not
        // https).
        let pointed: Vec<String> = world.service.env().into_iter().map(|(k, _)| k).collect();
        env.retain(|(k, _)| !pointed.contains(k));
    }
    let ca = world.vault.ca_path().display().to_string();
    for var in CA_VARS {
        env.push((var.into(), ca.clone()));
    }
    let proxy = format!("http://127.0.0.1:{proxy_port}");
    for var in [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
    ] {
        env.push((var.into(), proxy.clone()));
    }
    for var in ["NO_PROXY", "no_proxy"] {
        env.push((var.into(), "127.0.0.1,localhost,::1".into()));
    }
    let endpoint = env
        .iter()
        .find(|(k, _)| k == "AWS_ENDPOINT_URL")
        .map(|(_, v)| v.clone());
    if let Some(endpoint) = endpoint {
        env.push(("AWS_ENDPOINT_URL_IAM".into(), endpoint.clone()));
        env.push(("AWS_ENDPOINT_URL_STS".into(), endpoint));
        env.push(("AWS_DEFAULT_REGION".into(), "us-east-1".into()));
        env.push(("AWS_REGION".into(), "us-east-1".into()));
    }
    if world.service.name() == "okta" {
        // The fake Okta org is plain http on loopback; Okta's Python SDK
        // refuses an org URL that is not https unless its testing switch,
        // which it reads from this variable, is set.
        env.push((
            "OKTA_TESTING_TESTINGDISABLEHTTPSCHECK".into(),
            "true".into(),
        ));
        // And it sends every request through the upper-case HTTPS_PROXY or
        // HTTP_PROXY, ignoring NO_PROXY: the fake vault's proxy would refuse
        // its calls to the fake org. Only the lower-case ones (which
        // Python's urllib and requests read first) stay: the SDK goes
        // direct, to the fake, and to a real org it would go direct too.
        env.retain(|(k, _)| k != "HTTPS_PROXY" && k != "HTTP_PROXY" && k != "ALL_PROXY");
    }
    if let Ok(text) = std::fs::read(ksm_config) {
        env.push((
            "KSM_CONFIG".into(),
            base64::engine::general_purpose::STANDARD.encode(text),
        ));
    }
    let config = ksm_config.display().to_string();
    env.push(("KSM_CONFIG_FILE".into(), config.clone()));
    env.push(("KEEPER_GATEWAY_CONFIG".into(), config));
    // Later entries win: keep the last of each name.
    let mut seen = std::collections::HashSet::new();
    let mut out: Vec<(String, String)> = env
        .into_iter()
        .rev()
        .filter(|(k, _)| seen.insert(k.clone()))
        .collect();
    out.reverse();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_withheld_output_is_described_by_its_size() {
        assert_eq!(size(""), "0 bytes in 0 lines");
        assert_eq!(size("a\n"), "2 bytes in 1 line");
        assert_eq!(size("a\nb"), "3 bytes in 2 lines");
    }

    #[test]
    fn scrub_masks_a_secret_in_a_request_path() {
        let secrets = vec!["N3w-Pa55word-xyz".to_owned()];
        let shown = scrub("GET /v1/N3w-Pa55word-xyz", &secrets);
        assert!(!shown.contains("N3w-Pa55word"), "{shown}");
        let shown = scrub("GET /v1/N3w%2DPa55word%2Dxyz", &secrets);
        assert!(!shown.contains("Pa55word"), "{shown}");
    }

    #[test]
    fn only_the_supported_use_cases_take_a_script() {
        assert!(check_use_case("rest-api").is_ok());
        let refused = check_use_case("ssh-user").expect_err("refused");
        assert!(refused.contains("--script is not supported for ssh-user"));
        assert!(!refused.contains('\n'));
    }
}
