//! Running a remote command: the command line, its stdin, its bounded and
//! redacted output, and the log of every command line sent.
//!
//! Here lives the rule "secrets only on stdin": the script is a
//! `&'static str` of this program and the arguments are checked against
//! every registered secret before anything is sent.

use std::sync::{Arc, Mutex, PoisonError};

use common::secret;
use russh::{ChannelMsg, Pty};
use zeroize::Zeroizing;

use super::connect::describe;
use super::{MAX_OUTPUT, Session, SshError};

impl Session {
    /// Runs `/bin/sh -c '<script>' sh <args>`, writes `stdin` to the
    /// channel, closes it, and collects the exit status and output.
    ///
    /// `script` is `&'static str`: a constant of this program, so no secret
    /// can be formatted into it. `args` are checked against every registered
    /// secret, and the command is refused if one appears. With `pty`, a
    /// terminal with echo off is requested (for sudo's `requiretty`); its
    /// stdout and stderr arrive merged on stdout.
    pub async fn exec(
        &self,
        script: &'static str,
        args: &[&str],
        stdin: &[u8],
        pty: bool,
    ) -> Result<Output, SshError> {
        self.collect(script, args, stdin, pty)
            .await
            .map(Collector::finish)
    }

    /// [`Session::exec`], also returning stdout exactly as it arrived, not
    /// redacted: for reading a file that must come back byte for byte
    /// (`authorized_keys`: its public keys may contain a fragment that
    /// equals a registered secret's, such as a line of an OpenSSH private
    /// key, which embeds its public key). Never print the raw bytes.
    pub async fn exec_raw(
        &self,
        script: &'static str,
        args: &[&str],
        stdin: &[u8],
        pty: bool,
    ) -> Result<(Output, Zeroizing<Vec<u8>>), SshError> {
        let collected = self.collect(script, args, stdin, pty).await?;
        let raw = Zeroizing::new(collected.stdout.clone());
        Ok((collected.finish(), raw))
    }

    async fn collect(
        &self,
        script: &'static str,
        args: &[&str],
        stdin: &[u8],
        pty: bool,
    ) -> Result<Collector, SshError> {
        let line = command_line(script, args);
        if secret::redact(&line) != line {
            return Err(SshError::SecretInCommandLine);
        }
        let limit = self.deadline.remaining();
        let sent = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let run = self.exec_inner(&line, stdin, pty, Arc::clone(&sent));
        match tokio::time::timeout(limit, run).await {
            Ok(result) => result,
            Err(_) => Err(SshError::Timeout {
                stage: "running a remote command",
                stdin_sent: sent.load(std::sync::atomic::Ordering::SeqCst),
            }),
        }
    }

    async fn exec_inner(
        &self,
        line: &str,
        stdin: &[u8],
        pty: bool,
        sent: Arc<std::sync::atomic::AtomicBool>,
    ) -> Result<Collector, SshError> {
        let mut channel = self.open_session().await?;
        if pty {
            channel
                .request_pty(
                    true,
                    "dumb",
                    200,
                    24,
                    0,
                    0,
                    &[(Pty::ECHO, 0), (Pty::ECHONL, 0), (Pty::ICANON, 1)],
                )
                .await
                .map_err(|e| SshError::ExecRefused {
                    what: format!("allocate a terminal ({})", describe(&e)),
                })?;
            match channel.wait().await {
                Some(ChannelMsg::Success) => {}
                _ => {
                    return Err(SshError::ExecRefused {
                        what: "allocate a terminal (PermitTTY no, or a forced command?)".into(),
                    });
                }
            }
        }
        start_command(&channel, line).await?;
        let mut output = Collector::default();
        // Wait for the exec reply before sending any input.
        loop {
            match channel.wait().await {
                Some(ChannelMsg::Success) => break,
                Some(ChannelMsg::Failure) => {
                    return Err(SshError::ExecRefused {
                        what: "run a command".into(),
                    });
                }
                Some(msg) => {
                    if output.take(msg) {
                        return Ok(output);
                    }
                }
                None => {
                    return Err(SshError::Lost {
                        stage: "starting a remote command",
                        stdin_sent: false,
                        output: output.text(),
                    });
                }
            }
        }
        if !stdin.is_empty() {
            sent.store(true, std::sync::atomic::Ordering::SeqCst);
            let lost = |e: russh::Error, output: &Collector| SshError::Lost {
                stage: "sending input to a remote command",
                stdin_sent: true,
                output: format!("{}{}", output.text(), describe(&e)),
            };
            if let Err(e) = channel.data_bytes(stdin.to_vec()).await {
                return Err(lost(e, &output));
            }
        }
        if !pty {
            // With a terminal, EOF means nothing to the remote side; the
            // scripts read exactly the lines they need.
            let _ = channel.eof().await;
        }
        loop {
            match channel.wait().await {
                Some(msg) => {
                    if output.take(msg) {
                        return Ok(output);
                    }
                }
                None => {
                    if output.status.is_some() {
                        return Ok(output);
                    }
                    return Err(SshError::Lost {
                        stage: "waiting for a remote command",
                        stdin_sent: sent.load(std::sync::atomic::Ordering::SeqCst),
                        output: output.text(),
                    });
                }
            }
        }
    }
}

/// A command's result.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Output {
    /// The exit status; `None` when the command was killed by a signal.
    pub status: Option<u32>,
    /// The signal that killed it, if one did.
    pub signal: Option<String>,
    /// stdout, redacted, at most [`MAX_OUTPUT`] bytes of it.
    pub stdout: String,
    /// stderr, redacted (empty with a terminal: it arrives on stdout).
    pub stderr: String,
    /// Whether output was cut at [`MAX_OUTPUT`].
    pub truncated: bool,
}

impl Output {
    pub fn success(&self) -> bool {
        self.status == Some(0)
    }

    /// stdout and stderr together, for classification and messages.
    pub fn text(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

#[derive(Default)]
pub(super) struct Collector {
    pub(super) stdout: Vec<u8>,
    stderr: Vec<u8>,
    truncated: bool,
    pub(super) status: Option<u32>,
    signal: Option<String>,
    eof: bool,
}

impl Collector {
    /// Takes one message; true when the command is over.
    pub(super) fn take(&mut self, msg: ChannelMsg) -> bool {
        match msg {
            ChannelMsg::Data { data } => self.push(false, &data),
            ChannelMsg::ExtendedData { data, .. } => self.push(true, &data),
            ChannelMsg::ExitStatus { exit_status } => self.status = Some(exit_status),
            ChannelMsg::ExitSignal { signal_name, .. } => {
                self.signal = Some(format!("{signal_name:?}"));
            }
            ChannelMsg::Eof => self.eof = true,
            ChannelMsg::Close => return true,
            _ => {}
        }
        false
    }

    fn push(&mut self, err: bool, data: &[u8]) {
        let buf = if err {
            &mut self.stderr
        } else {
            &mut self.stdout
        };
        let room = MAX_OUTPUT.saturating_sub(buf.len());
        if data.len() > room {
            self.truncated = true;
        }
        buf.extend_from_slice(&data[..data.len().min(room)]);
    }

    pub(super) fn text(&self) -> String {
        secret::withhold_lines(&format!(
            "{}{}",
            String::from_utf8_lossy(&self.stdout),
            String::from_utf8_lossy(&self.stderr)
        ))
    }

    pub(super) fn finish(self) -> Output {
        Output {
            status: self.status,
            signal: self.signal,
            stdout: secret::redact(&String::from_utf8_lossy(&self.stdout)),
            stderr: secret::redact(&String::from_utf8_lossy(&self.stderr)),
            truncated: self.truncated,
        }
    }
}

/// `/bin/sh -c '<script>' sh 'arg1' …`, each part single-quoted.
pub fn command_line(script: &'static str, args: &[&str]) -> String {
    let mut line = String::from("/bin/sh -c ");
    line.push_str(&quote(script));
    line.push_str(" sh");
    for arg in args {
        line.push(' ');
        line.push_str(&quote(arg));
    }
    line
}

/// Single-quotes `text` for a POSIX shell.
pub fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

static COMMAND_LOG: Mutex<Vec<String>> = Mutex::new(Vec::new());
const COMMAND_LOG_LIMIT: usize = 256;

/// Logs `line` and asks the server to run it on `channel`; the server's
/// reply is the caller's to wait for.
pub(super) async fn start_command(
    channel: &russh::Channel<russh::client::Msg>,
    line: &str,
) -> Result<(), SshError> {
    log_command(line);
    channel
        .exec(true, line.as_bytes())
        .await
        .map_err(|e| SshError::ExecRefused {
            what: format!("run a command ({})", describe(&e)),
        })
}

fn log_command(line: &str) {
    let mut log = COMMAND_LOG.lock().unwrap_or_else(PoisonError::into_inner);
    if log.len() == COMMAND_LOG_LIMIT {
        log.remove(0);
    }
    log.push(line.to_owned());
}

/// Every command line sent by this process (the last 256), for audits and
/// tests: proof that no secret ever went into one.
pub fn command_log() -> Vec<String> {
    COMMAND_LOG
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
}
