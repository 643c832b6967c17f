//! The fake's SSH side: accepting connections and answering each one's
//! authentication and channel requests through russh's server, with the
//! armed faults applied where the real failure would happen.
//!
//! Why apart from the machine and the fake's handle: this is protocol
//! plumbing (russh callbacks, channel reads, cutting a connection), while
//! `mod.rs` is what a test sees (accounts, methods, faults, what was
//! received) and [`super::shell`] what a command does on the machine.

use std::sync::Arc;

use russh::server::{self, Auth, Msg, Session};
use russh::{Channel, ChannelMsg};
use tokio::net::{TcpListener, TcpStream};

use super::machine::Machine;
use super::{BANNER, CANNOT_FORK, Command, Inner, Late, Methods, Received, Script, UNKNOWN, shell};
use crate::faults::FaultKind;

pub(super) async fn accept_loop(listener: std::net::TcpListener, inner: Arc<Inner>) {
    let Ok(listener) = TcpListener::from_std(listener) else {
        inner.shutter.mark_closed();
        return;
    };
    let mut stop = inner.stop.subscribe();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                if let Ok((stream, _)) = accepted {
                    tokio::spawn(connection(Arc::clone(&inner), stream));
                }
            }
            () = inner.shutter.wait_close() => break,
            _ = stop.wait_for(|stopped| *stopped) => break,
        }
    }
    drop(listener);
    inner.shutter.mark_closed();
}

/// Serves one SSH connection until it ends, the fake cuts it, or the fake
/// is dropped.
async fn connection(inner: Arc<Inner>, stream: TcpStream) {
    // As sshd does: without it, Nagle and delayed ACKs add ~40 ms stalls.
    let _ = stream.set_nodelay(true);
    let Ok(std_stream) = stream.into_std() else {
        return;
    };
    let Ok(clone) = std_stream.try_clone() else {
        return;
    };
    let Ok(stream) = TcpStream::from_std(std_stream) else {
        return;
    };
    let id = {
        let mut state = inner.state();
        state.next_connection += 1;
        let id = state.next_connection;
        state.connections.insert(id, clone);
        id
    };
    let handler = Handler {
        inner: Arc::clone(&inner),
        connection: id,
        user: String::new(),
        offered: Vec::new(),
        keyboard: None,
    };
    let mut stop = inner.stop.subscribe();
    if let Ok(session) = server::run_stream(inner.config(), stream, handler).await {
        tokio::select! {
            _ = session => {}
            _ = stop.wait_for(|stopped| *stopped) => {}
        }
    }
    inner.cut(id);
}

/// One connection's callbacks.
struct Handler {
    inner: Arc<Inner>,
    connection: u64,
    /// Who logged in (empty before).
    user: String,
    /// The public keys already counted as an `auth-publickey` call on this
    /// connection (a probe and its signed request are one attempt).
    offered: Vec<Vec<u8>>,
    /// The keyboard-interactive attempt waiting for its answer: its call
    /// index.
    keyboard: Option<usize>,
}

/// Why the handler ended the connection.
fn cut_error() -> russh::Error {
    russh::Error::Disconnect
}

impl Handler {
    /// Records an authentication call and applies its fault around `check`:
    /// `Ok((index, accepted))` for the caller to answer (`500` makes it a
    /// refusal), `Err` when the fault cut the connection.
    async fn authenticate(
        &mut self,
        call: &str,
        user: &str,
        check: impl FnOnce(&Machine, Methods) -> bool,
    ) -> Result<(usize, bool), russh::Error> {
        let Some(plan) = self.inner.record(
            call,
            user,
            format!("{user}: {}", call.trim_start_matches("auth-")),
        ) else {
            self.inner.cut(self.connection);
            return Err(cut_error());
        };
        if plan.close_after {
            self.inner.shutter.close().await;
        }
        let late = (plan.kind == Some(FaultKind::LateSave)).then(|| Late(Arc::clone(&self.inner)));
        if !plan.slow.is_zero() {
            tokio::time::sleep(plan.slow).await;
        }
        match plan.kind {
            Some(FaultKind::DropBeforeApply | FaultKind::Status429) => {
                self.inner.cut(self.connection);
                return Err(cut_error());
            }
            Some(FaultKind::LateSave) => tokio::time::sleep(plan.hold).await,
            _ => {}
        }
        let accepted = {
            let state = self.inner.state();
            check(&state.machine, state.methods)
        };
        drop(late);
        match plan.kind {
            Some(FaultKind::DropAfterApply) => {
                self.inner.cut(self.connection);
                return Err(cut_error());
            }
            Some(FaultKind::TimeoutAfterApply) => {
                tokio::time::sleep(plan.hold).await;
                self.inner.cut(self.connection);
                return Err(cut_error());
            }
            Some(FaultKind::Status500) => return Ok((plan.index, false)),
            _ => {}
        }
        Ok((plan.index, accepted))
    }

    fn answer(&mut self, index: usize, user: &str, accepted: bool) -> Auth {
        self.inner.set_status(index, Some(u32::from(!accepted)));
        if accepted {
            user.clone_into(&mut self.user);
            Auth::Accept
        } else {
            Auth::reject()
        }
    }
}

impl server::Handler for Handler {
    type Error = russh::Error;

    async fn auth_password(&mut self, user: &str, password: &str) -> Result<Auth, Self::Error> {
        let (index, accepted) = self
            .authenticate("auth-password", user, |machine, methods| {
                methods.password && machine.password_is(user, password)
            })
            .await?;
        Ok(self.answer(index, user, accepted))
    }

    async fn auth_publickey_offered(
        &mut self,
        user: &str,
        offer: server::PublicKeyOffer<'_>,
    ) -> Result<Auth, Self::Error> {
        let key = offer.public_key.clone();
        let blob = key.to_bytes().unwrap_or_default();
        let check = |machine: &Machine, methods: Methods| {
            methods.publickey && machine.accepts_key(user, &key)
        };
        if self.offered.contains(&blob) {
            let state = self.inner.state();
            return Ok(if check(&state.machine, state.methods) {
                Auth::Accept
            } else {
                Auth::reject()
            });
        }
        self.offered.push(blob);
        let (index, accepted) = self.authenticate("auth-publickey", user, check).await?;
        self.inner.set_status(index, Some(u32::from(!accepted)));
        Ok(if accepted {
            Auth::Accept
        } else {
            Auth::reject()
        })
    }

    async fn auth_publickey(
        &mut self,
        user: &str,
        key: server::VerifiedPublicKey<'_>,
    ) -> Result<Auth, Self::Error> {
        let accepted = {
            let state = self.inner.state();
            state.methods.publickey && state.machine.accepts_key(user, key.public_key)
        };
        if accepted {
            user.clone_into(&mut self.user);
            Ok(Auth::Accept)
        } else {
            Ok(Auth::reject())
        }
    }

    async fn auth_keyboard_interactive<'a>(
        &'a mut self,
        user: &str,
        _submethods: &str,
        response: Option<server::Response<'a>>,
    ) -> Result<Auth, Self::Error> {
        match (response, self.keyboard.take()) {
            (None, _) => {
                let (index, offered) = self
                    .authenticate("auth-keyboard-interactive", user, |_, methods| {
                        methods.keyboard_interactive
                    })
                    .await?;
                if !offered {
                    return Ok(self.answer(index, user, false));
                }
                self.keyboard = Some(index);
                Ok(Auth::Partial {
                    name: "".into(),
                    instructions: "".into(),
                    prompts: vec![("Password: ".into(), false)].into(),
                })
            }
            (Some(mut answers), Some(index)) => {
                let answer = answers.next().unwrap_or_default();
                let accepted = self
                    .inner
                    .state()
                    .machine
                    .password_is(user, &String::from_utf8_lossy(&answer));
                Ok(self.answer(index, user, accepted))
            }
            (Some(_), None) => Ok(Auth::reject()),
        }
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<Msg>,
        reply: server::ChannelOpenHandle,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        if self.inner.shutter.is_closed() {
            self.inner.cut(self.connection);
            return Err(cut_error());
        }
        reply.accept().await;
        tokio::spawn(serve_channel(
            Arc::clone(&self.inner),
            self.connection,
            self.user.clone(),
            channel,
            session.handle(),
        ));
        Ok(())
    }
}

/// `LOCK`: like `flock -n` on the machine's lock file, held until the
/// channel's stdin ends or the connection drops (the lock is released
/// either way, as the kernel releases a dead process's flock).
async fn hold_lock(
    inner: &Arc<Inner>,
    connection: u64,
    command: &Command,
    mut channel: Channel<Msg>,
    handle: server::Handle,
    fault: Option<FaultKind>,
) {
    let id = channel.id();
    let name = command.args.first().cloned().unwrap_or_default();
    let finish = |status: u32, stderr: &'static [u8]| {
        let handle = handle.clone();
        async move {
            if !stderr.is_empty() {
                let _ = handle.extended_data(id, 1, stderr.to_vec()).await;
            }
            let _ = handle.exit_status_request(id, status).await;
            let _ = handle.eof(id).await;
            let _ = handle.close(id).await;
        }
    };
    match fault {
        Some(FaultKind::DropBeforeApply) => {
            inner.cut(connection);
            return;
        }
        Some(FaultKind::Status500) => {
            finish(2, CANNOT_FORK.as_bytes()).await;
            return;
        }
        _ => {}
    }
    let taken = {
        let mut state = inner.state();
        match state.locks.get(&name) {
            Some(_) => false,
            None => {
                state.locks.insert(name.clone(), connection);
                true
            }
        }
    };
    if !taken {
        finish(75, b"").await;
        return;
    }
    let _ = handle
        .data(id, format!("{}\n", "keeper-lock held").into_bytes())
        .await;
    loop {
        match channel.wait().await {
            Some(ChannelMsg::Eof | ChannelMsg::Close) | None => break,
            Some(_) => {}
        }
    }
    inner.state().locks.remove(&name);
    finish(0, b"").await;
}

/// Serves one session channel: a terminal request, one exec, its stdin,
/// and the command's answer, with the armed fault applied.
async fn serve_channel(
    inner: Arc<Inner>,
    connection: u64,
    user: String,
    mut channel: Channel<Msg>,
    handle: server::Handle,
) {
    let id = channel.id();
    let mut pty = false;
    let line = loop {
        match channel.wait().await {
            Some(ChannelMsg::RequestPty { .. }) => {
                pty = true;
                let _ = handle.channel_success(id).await;
            }
            Some(ChannelMsg::Exec { command, .. }) => {
                break String::from_utf8_lossy(&command).into_owned();
            }
            Some(
                ChannelMsg::RequestShell { .. }
                | ChannelMsg::RequestSubsystem { .. }
                | ChannelMsg::SetEnv { .. },
            ) => {
                let _ = handle.channel_failure(id).await;
            }
            Some(ChannelMsg::Close | ChannelMsg::Eof) | None => return,
            Some(_) => {}
        }
    };
    let command = Command::parse(&line);
    let call = command.as_ref().map_or(UNKNOWN, Command::call);
    let detail = match &command {
        Some(command) if call != UNKNOWN => format!(
            "{call} as {user}{}{}",
            if pty { " (terminal)" } else { "" },
            if command.args.is_empty() {
                String::new()
            } else {
                format!(
                    ": {}",
                    command
                        .args
                        .iter()
                        .filter(|a| Script::classify(a).is_none())
                        .map(String::as_str)
                        .collect::<Vec<_>>()
                        .join(" ")
                )
            }
        ),
        _ => format!("a command the fake does not know, as {user}: {line}"),
    };
    {
        let mut state = inner.state();
        state.commands.push(Received {
            user: user.clone(),
            line: line.clone(),
            pty,
        });
        if call == UNKNOWN {
            state.unknown.push(line.clone());
        }
    }
    let Some(plan) = inner.record(call, &user, detail) else {
        inner.cut(connection);
        return;
    };
    if plan.close_after {
        inner.shutter.close().await;
    }
    if plan.kind == Some(FaultKind::Status429) {
        let _ = handle.channel_failure(id).await;
        let _ = handle.close(id).await;
        return;
    }
    let _ = handle.channel_success(id).await;

    if let Some(command) = command
        .as_ref()
        .filter(|c| Script::classify(&c.script) == Some(Script::Lock))
    {
        hold_lock(&inner, connection, command, channel, handle, plan.kind).await;
        return;
    }

    let lines = command
        .as_ref()
        .and_then(|c| Script::classify(&c.script))
        .map_or(0, Script::lines_read_under_a_terminal);
    let mut stdin = Vec::new();
    loop {
        if pty && stdin.iter().filter(|&&b| b == b'\n').count() >= lines {
            break;
        }
        match channel.wait().await {
            Some(ChannelMsg::Data { data }) => stdin.extend_from_slice(&data),
            Some(ChannelMsg::Eof) => break,
            // Gone before the command could read its input: sshd hangs it
            // up, and it never runs.
            Some(ChannelMsg::Close) | None => return,
            Some(_) => {}
        }
    }

    let late = (plan.kind == Some(FaultKind::LateSave)).then(|| Late(Arc::clone(&inner)));
    if !plan.slow.is_zero() {
        tokio::time::sleep(plan.slow).await;
    }
    match plan.kind {
        Some(FaultKind::DropBeforeApply) => {
            inner.cut(connection);
            return;
        }
        Some(FaultKind::LateSave) => tokio::time::sleep(plan.hold).await,
        _ => {}
    }
    let mut reply = if plan.kind == Some(FaultKind::Status500) {
        shell::Reply {
            stdout: Vec::new(),
            stderr: CANNOT_FORK.into(),
            status: 2,
        }
    } else {
        let mut state = inner.state();
        let expired = state.machine.accounts.get(&user).is_some_and(|a| a.expired);
        match (&command, expired) {
            (_, true) => shell::expired(),
            (Some(command), false) => shell::run(&mut state.machine, &user, pty, command, &stdin),
            (None, false) => shell::Reply {
                stdout: Vec::new(),
                stderr: b"sh: 1: the fake SSH server does not know this command\n".to_vec(),
                status: 127,
            },
        }
    };
    drop(late);
    match plan.kind {
        Some(FaultKind::DropAfterApply) => {
            inner.cut(connection);
            return;
        }
        Some(FaultKind::TimeoutAfterApply) => {
            tokio::time::sleep(plan.hold).await;
            inner.cut(connection);
            return;
        }
        Some(FaultKind::Truncated2xx) if reply.status == 0 => {
            if reply.stdout.is_empty() {
                inner.set_status(plan.index, Some(reply.status));
                let _ = handle.exit_status_request(id, reply.status).await;
            } else {
                let half = reply.stdout[..reply.stdout.len() / 2].to_vec();
                let _ = handle.data(id, half).await;
            }
            let _ = handle
                .disconnect(
                    russh::Disconnect::ConnectionLost,
                    String::new(),
                    String::new(),
                )
                .await;
            return;
        }
        Some(FaultKind::Garbled2xx) if reply.status == 0 => {
            reply.stdout = BANNER.into();
        }
        Some(FaultKind::ApplyThen500) => {
            reply = shell::Reply {
                stdout: Vec::new(),
                stderr: CANNOT_FORK.into(),
                status: 2,
            };
        }
        _ => {}
    }
    if pty {
        // A terminal merges stderr into stdout.
        let stderr = std::mem::take(&mut reply.stderr);
        reply.stdout.extend_from_slice(&stderr);
    }
    inner.set_status(plan.index, Some(reply.status));
    let mut sent = true;
    if !reply.stdout.is_empty() {
        sent &= handle.data(id, reply.stdout).await.is_ok();
    }
    if !reply.stderr.is_empty() {
        sent &= handle.extended_data(id, 1, reply.stderr).await.is_ok();
    }
    sent &= handle.exit_status_request(id, reply.status).await.is_ok();
    let _ = handle.eof(id).await;
    let _ = handle.close(id).await;
    if !sent {
        inner.set_status(plan.index, None);
    }
}
