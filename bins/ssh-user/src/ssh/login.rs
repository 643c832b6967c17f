//! Logging in: password, `keyboard-interactive`, public key and `none`.
//!
//! Kept together because the methods share one reading of the server's
//! answers ([`Auth`]): which methods it still offers decides whether a
//! refusal means a wrong credential or a method the server does not take.
use std::sync::Arc;

use common::secret::{self, Secret};
use russh::MethodKind;
use russh::client::KeyboardInteractiveAuthResponse;
use russh::keys::{HashAlg, PrivateKeyWithHashAlg};
use zeroize::Zeroizing;

use super::connect::describe;
use super::{Credential, Session, SshError};

/// What an authentication attempt gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    Accepted,
    /// Refused; the methods the server still offers.
    Rejected {
        methods: Vec<String>,
    },
}

fn method_names(methods: &russh::MethodSet) -> Vec<String> {
    methods
        .iter()
        .map(|m| <&'static str>::from(m).to_owned())
        .collect()
}

impl Session {
    /// Tries `credential` for `user`. A password is tried with the
    /// `password` method, then, if the server offers it,
    /// `keyboard-interactive` answering the password prompt. A key signs
    /// with the best RSA hash the server supports.
    pub async fn authenticate(
        &mut self,
        user: &str,
        credential: &Credential,
    ) -> Result<Auth, SshError> {
        let limit = self.deadline.remaining();
        let attempt = tokio::time::timeout(limit, self.authenticate_inner(user, credential)).await;
        self.judge(attempt)
    }

    /// The `none` method for `user`: the methods the server offers, without
    /// trying a credential (what an SSH client asks first). Costs the server
    /// no password check and counts as no failed login; accepted only for an
    /// account without a password that the server lets in without one.
    pub async fn offered_methods(&mut self, user: &str) -> Result<Auth, SshError> {
        let limit = self.deadline.remaining();
        let attempt = tokio::time::timeout(limit, async {
            match self.handle.authenticate_none(user).await {
                Ok(russh::client::AuthResult::Success) => Ok(Auth::Accepted),
                Ok(russh::client::AuthResult::Failure {
                    remaining_methods, ..
                }) => Ok(Auth::Rejected {
                    methods: method_names(&remaining_methods),
                }),
                Err(e) => Err(SshError::Lost {
                    stage: "authenticating",
                    stdin_sent: false,
                    output: describe(&e),
                }),
            }
        })
        .await;
        self.judge(attempt)
    }

    /// An authentication attempt's result as this program reads it.
    fn judge(
        &self,
        attempt: Result<Result<Auth, SshError>, tokio::time::error::Elapsed>,
    ) -> Result<Auth, SshError> {
        match attempt {
            // russh answers a connection that ended before the server did
            // as a refusal offering nothing more. A cut is not a refusal: a
            // verification login it ended proves nothing about the password
            // or key tried.
            Ok(Ok(Auth::Rejected { methods })) if methods.is_empty() && self.is_closed() => {
                Err(SshError::Lost {
                    stage: "authenticating",
                    stdin_sent: false,
                    output: "the server closed the connection without answering".into(),
                })
            }
            Ok(result) => result,
            Err(_) => Err(SshError::Timeout {
                stage: "authenticating",
                stdin_sent: false,
            }),
        }
    }

    async fn authenticate_inner(
        &mut self,
        user: &str,
        credential: &Credential,
    ) -> Result<Auth, SshError> {
        match credential {
            Credential::Key(key) => {
                let hash = match self.handle.best_supported_rsa_hash().await {
                    Ok(Some(hash)) => hash,
                    Ok(None) | Err(_) => Some(HashAlg::Sha512),
                };
                let key = PrivateKeyWithHashAlg::new(Arc::clone(key), hash);
                let result = self
                    .handle
                    .authenticate_publickey(user, key)
                    .await
                    .map_err(lost)?;
                Ok(match result {
                    russh::client::AuthResult::Success => Auth::Accepted,
                    russh::client::AuthResult::Failure {
                        remaining_methods, ..
                    } => Auth::Rejected {
                        methods: method_names(&remaining_methods),
                    },
                })
            }
            Credential::Password(password) => {
                let result = self
                    .handle
                    .authenticate_password(user, password.expose())
                    .await
                    .map_err(lost)?;
                let remaining = match result {
                    russh::client::AuthResult::Success => return Ok(Auth::Accepted),
                    russh::client::AuthResult::Failure {
                        remaining_methods, ..
                    } => remaining_methods,
                };
                if !remaining.contains(&MethodKind::KeyboardInteractive) {
                    return Ok(Auth::Rejected {
                        methods: method_names(&remaining),
                    });
                }
                self.keyboard_interactive(user, password).await
            }
        }
    }

    async fn keyboard_interactive(
        &mut self,
        user: &str,
        password: &Secret,
    ) -> Result<Auth, SshError> {
        let mut reply = self
            .handle
            .authenticate_keyboard_interactive_start(user, None)
            .await
            .map_err(lost)?;
        let mut answered = false;
        // A PAM conversation has a handful of rounds at most.
        for _ in 0..6 {
            match reply {
                KeyboardInteractiveAuthResponse::Success => return Ok(Auth::Accepted),
                KeyboardInteractiveAuthResponse::Failure {
                    remaining_methods, ..
                } => {
                    return Ok(Auth::Rejected {
                        methods: method_names(&remaining_methods),
                    });
                }
                KeyboardInteractiveAuthResponse::InfoRequest { prompts, .. } => {
                    let secret_prompts = prompts.iter().filter(|p| !p.echo).count();
                    // One hidden prompt, once: the password. A second, or
                    // one that echoes, asks for something the record lacks.
                    if secret_prompts > 1
                        || (secret_prompts == 1 && answered)
                        || prompts.iter().any(|p| p.echo)
                    {
                        return Err(SshError::UnexpectedPrompts {
                            user: user.to_owned(),
                            prompts: prompts
                                .iter()
                                .map(|p| secret::withhold_lines(p.prompt.trim()))
                                .collect(),
                        });
                    }
                    let responses: Vec<String> = prompts
                        .iter()
                        .map(|_| password.expose().to_owned())
                        .collect();
                    answered |= secret_prompts == 1;
                    let responses = Zeroizing::new(responses);
                    reply = self
                        .handle
                        .authenticate_keyboard_interactive_respond(responses.to_vec())
                        .await
                        .map_err(lost)?;
                }
            }
        }
        Ok(Auth::Rejected {
            methods: Vec::new(),
        })
    }

    /// [`Session::authenticate`], an error when refused.
    pub async fn login(&mut self, user: &str, credential: &Credential) -> Result<(), SshError> {
        match self.authenticate(user, credential).await? {
            Auth::Accepted => Ok(()),
            Auth::Rejected { methods } => Err(SshError::AuthRejected {
                user: user.to_owned(),
                methods,
            }),
        }
    }
}

/// A login's connection failed under it: never a refusal of what was tried.
fn lost(e: russh::Error) -> SshError {
    SshError::Lost {
        stage: "authenticating",
        stdin_sent: false,
        output: describe(&e),
    }
}
