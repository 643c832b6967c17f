//! The lock on the machine: a remote command kept running by its open stdin.
//!
//! Apart from [`super::exec`] because its life is the opposite one: a
//! command that must not end until this run says so, released politely or
//! by the connection's end (a crashed run frees the lock on its own).

use std::fmt;
use std::time::Duration;

use common::secret;
use russh::ChannelMsg;
use russh::client;

use super::exec::{Collector, start_command};
use super::{HANDSHAKE_LIMIT, Output, Session, SshError, command_line};

impl Session {
    /// Starts `/bin/sh -c '<script>' sh <args>` and leaves it running with
    /// its stdin open, once its stdout has printed the line `ready`: a
    /// lock on the machine held for as long as this run keeps the channel
    /// ([`Held::release`], or the connection ending). A command that ends
    /// first is [`Hold::Ended`] with its output.
    pub async fn hold(
        &self,
        script: &'static str,
        args: &[&str],
        ready: &str,
    ) -> Result<Hold, SshError> {
        let line = command_line(script, args);
        if secret::redact(&line) != line {
            return Err(SshError::SecretInCommandLine);
        }
        let limit = self.deadline.remaining().min(HANDSHAKE_LIMIT);
        let start = async {
            let channel = self.open_session().await?;
            start_command(&channel, &line).await?;
            Ok::<_, SshError>(channel)
        };
        let wait = async {
            let mut channel = start.await?;
            let mut output = Collector::default();
            loop {
                match channel.wait().await {
                    Some(ChannelMsg::Success) => {}
                    Some(ChannelMsg::Failure) => {
                        return Err(SshError::ExecRefused {
                            what: "run a command".into(),
                        });
                    }
                    Some(msg) => {
                        if output.take(msg) {
                            return Ok(Hold::Ended(output.finish()));
                        }
                        if String::from_utf8_lossy(&output.stdout)
                            .lines()
                            .any(|l| l.trim() == ready)
                        {
                            return Ok(Hold::Held(Held { channel }));
                        }
                    }
                    None => return Ok(Hold::Ended(output.finish())),
                }
            }
        };
        match tokio::time::timeout(limit, wait).await {
            Ok(result) => result,
            Err(_) => Err(SshError::Timeout {
                stage: "taking a lock on the machine",
                stdin_sent: false,
            }),
        }
    }
}

/// What [`Session::hold`] found.
#[derive(Debug)]
pub enum Hold {
    /// Running, and ready: kept until released.
    Held(Held),
    /// The command ended before it was ready.
    Ended(Output),
}

/// A command kept running by its open stdin.
pub struct Held {
    channel: russh::Channel<client::Msg>,
}

impl fmt::Debug for Held {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Held").finish_non_exhaustive()
    }
}

impl Held {
    /// Ends the command: its stdin reaches EOF, and the channel closes. The
    /// session's end would do the same; this is the polite form.
    pub async fn release(self) {
        let _ = self.channel.eof().await;
        let _ = self.channel.close().await;
    }

    /// [`Held::release`], then waits (briefly) until the server has closed
    /// the channel, so the session it held is free for the next command.
    pub async fn release_and_wait(mut self) {
        let _ = self.channel.eof().await;
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            loop {
                match self.channel.wait().await {
                    Some(ChannelMsg::Close) | None => break,
                    Some(_) => {}
                }
            }
        })
        .await;
        let _ = self.channel.close().await;
    }
}
