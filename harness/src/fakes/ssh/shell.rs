//! What the fake runs: the command lines `rotate-ssh-user` sends, recognised
//! and emulated on the fake machine ([`emulate`]).
//!
//! Why recognise instead of running a shell: a fake that ran `/bin/sh`
//! would be a real machine, not a fake. So each of
//! the binary's constant scripts is recognised by stable markers in its
//! text ([`Script::classify`]), and its effect is emulated here: the tools
//! it calls (chpasswd, passwd, sudo, runuser, sshd -T, getent, sha256sum,
//! the `authorized_keys` writer) answer with the exit codes and the words
//! the real ones use, which is what the binary classifies.
//!
//! Why a digest per script: markers keep matching when a script changes in
//! a way the emulation does not follow (a new exit code, a new check). Each
//! [`Script`] carries the sha256 of the exact text it was written against
//! ([`Script::reviewed`]); the binary's test
//! (`bins/ssh-user/tests/fake_ssh/`) fails as soon as a script's text
//! differs, and says to review the emulation (`shell/emulate.rs`) and
//! update the digest here.

mod emulate;

pub use emulate::Reply;
pub(crate) use emulate::{expired, run};

use std::fmt;

/// The host name the fake's messages use.
const HOST: &str = "fake-ssh";

/// The binary's constant scripts, as the fake knows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Script {
    /// `WRITE_KEYS`: replaces `authorized_keys` atomically (inner, as the owner).
    WriteKeys,
    /// `READ_KEYS`: prints the file with its sha256 and mode (inner).
    ReadKeys,
    /// `AS_OWNER`: runs an inner script as the file's owner.
    AsOwner,
    /// `AS_OWNER_ASKPASS`: stdin's first line to the askpass helper, the
    /// rest to the inner script run by `sudo -A -u USER`.
    AsOwnerAskpass,
    /// `SHADOW_DIGEST`: the sha256 of a shadow password field.
    ShadowDigest,
    /// `SSHD_T_CLIENT`: `sshd -T` for the session's own address.
    SshdTClient,
    /// `SSHD_T`: `sshd -T -C user=,host=,addr=`.
    SshdT,
    /// `SUDO_PREFLIGHT`: `sudo -n -l /usr/sbin/chpasswd`.
    SudoPreflight,
    /// `TTY_SUDO_A_CHPASSWD`: reads two lines under a terminal: the admin's
    /// password for the askpass helper, the line it pipes to `sudo -A
    /// chpasswd`.
    TtySudoAChpasswd,
    /// `TTY_SUDO_CHPASSWD`: reads one line under a terminal, pipes it to
    /// `sudo -n chpasswd`.
    TtySudoChpasswd,
    /// `SUDO_A_CHPASSWD`: stdin's first line to the askpass helper, the
    /// rest to `sudo -A -k chpasswd`.
    SudoAChpasswd,
    /// `SUDO_CHPASSWD_NO_INPUT`: `sudo -n chpasswd </dev/null`.
    SudoChpasswdNoInput,
    /// `SUDO_CHPASSWD`: `sudo -n chpasswd`.
    SudoChpasswd,
    /// `ROOT_CHPASSWD`: `chpasswd` as root.
    RootChpasswd,
    /// `SELF_PASSWD`: `passwd` as the user.
    SelfPasswd,
    /// `HOME_OF`: `getent passwd USER | cut -d: -f6`.
    HomeOf,
    /// `LOCK`: `flock -n` on the lock file, held while stdin is open
    /// (served by the fake's channel, not [`run`]).
    Lock,
    /// `CHECK_PASSWORD`: `unix_chkpwd USER nonull`, the password and a NUL
    /// on stdin (root).
    CheckPassword,
}

impl Script {
    /// Every script, most specific markers first (the order
    /// [`Script::classify`] tries them in).
    pub const ALL: [Self; 18] = [
        Self::Lock,
        Self::CheckPassword,
        Self::WriteKeys,
        Self::ReadKeys,
        Self::AsOwnerAskpass,
        Self::AsOwner,
        Self::ShadowDigest,
        Self::SshdTClient,
        Self::SshdT,
        Self::SudoPreflight,
        Self::TtySudoAChpasswd,
        Self::TtySudoChpasswd,
        Self::SudoAChpasswd,
        Self::SudoChpasswdNoInput,
        Self::SudoChpasswd,
        Self::RootChpasswd,
        Self::SelfPasswd,
        Self::HomeOf,
    ];

    /// The call name faults are armed on: the constant's name in kebab
    /// case. `AS_OWNER` is named by its inner script (`read-keys`,
    /// `write-keys`), so it has no call of its own.
    pub fn call(self) -> &'static str {
        match self {
            Self::WriteKeys => "write-keys",
            Self::ReadKeys => "read-keys",
            Self::AsOwner => "as-owner",
            Self::AsOwnerAskpass => "as-owner-askpass",
            Self::ShadowDigest => "shadow-digest",
            Self::SshdTClient => "sshd-t-client",
            Self::SshdT => "sshd-t",
            Self::SudoPreflight => "sudo-preflight",
            Self::TtySudoAChpasswd => "tty-sudo-a-chpasswd",
            Self::TtySudoChpasswd => "tty-sudo-chpasswd",
            Self::SudoAChpasswd => "sudo-a-chpasswd",
            Self::SudoChpasswdNoInput => "sudo-chpasswd-no-input",
            Self::SudoChpasswd => "sudo-chpasswd",
            Self::RootChpasswd => "root-chpasswd",
            Self::SelfPasswd => "self-passwd",
            Self::HomeOf => "home-of",
            Self::Lock => "lock",
            Self::CheckPassword => "check-password",
        }
    }

    /// The constant's name in `rotate_ssh_user::remote`.
    pub fn constant(self) -> &'static str {
        match self {
            Self::WriteKeys => "WRITE_KEYS",
            Self::ReadKeys => "READ_KEYS",
            Self::AsOwner => "AS_OWNER",
            Self::AsOwnerAskpass => "AS_OWNER_ASKPASS",
            Self::ShadowDigest => "SHADOW_DIGEST",
            Self::SshdTClient => "SSHD_T_CLIENT",
            Self::SshdT => "SSHD_T",
            Self::SudoPreflight => "SUDO_PREFLIGHT",
            Self::TtySudoAChpasswd => "TTY_SUDO_A_CHPASSWD",
            Self::TtySudoChpasswd => "TTY_SUDO_CHPASSWD",
            Self::SudoAChpasswd => "SUDO_A_CHPASSWD",
            Self::SudoChpasswdNoInput => "SUDO_CHPASSWD_NO_INPUT",
            Self::SudoChpasswd => "SUDO_CHPASSWD",
            Self::RootChpasswd => "ROOT_CHPASSWD",
            Self::SelfPasswd => "SELF_PASSWD",
            Self::HomeOf => "HOME_OF",
            Self::Lock => "LOCK",
            Self::CheckPassword => "CHECK_PASSWORD",
        }
    }

    /// Text every version of the script holds; all must be present.
    fn markers(self) -> &'static [&'static str] {
        match self {
            Self::WriteKeys => &["keeper-ak written", "mktemp"],
            Self::ReadKeys => &["keeper-ak present"],
            Self::AsOwner => &["runuser -u", "sudo) exec sudo -n -u"],
            Self::AsOwnerAskpass => &["SUDO_ASKPASS=$a sudo -A -k -p '' -u \"$user\""],
            Self::ShadowDigest => &["keeper-shadow", "getent shadow"],
            Self::SshdTClient => &["SSH_CLIENT", "/usr/sbin/sshd -T"],
            Self::SshdT => &["/usr/sbin/sshd -T -C"],
            Self::SudoPreflight => &["sudo -n -l /usr/sbin/chpasswd"],
            Self::TtySudoAChpasswd => &[
                "IFS= read -r l",
                "SUDO_ASKPASS=$a sudo -A -k -p '' /usr/sbin/chpasswd",
            ],
            Self::TtySudoChpasswd => &["IFS= read -r l", "sudo -n /usr/sbin/chpasswd"],
            Self::SudoAChpasswd => &["SUDO_ASKPASS=$a sudo -A -k -p '' /usr/sbin/chpasswd"],
            Self::SudoChpasswdNoInput => &["exec sudo -n /usr/sbin/chpasswd </dev/null"],
            Self::SudoChpasswd => &["exec sudo -n /usr/sbin/chpasswd"],
            Self::RootChpasswd => &["exec /usr/sbin/chpasswd"],
            Self::SelfPasswd => &["exec passwd"],
            Self::HomeOf => &["getent passwd \"$1\"", "cut -d: -f6"],
            Self::Lock => &["flock -n -E 75", "keeper-lock held"],
            Self::CheckPassword => &["unix_chkpwd", "keeper-chkpwd absent"],
        }
    }

    /// The sha256 of the script text this emulation was written against.
    pub fn reviewed(self) -> &'static str {
        match self {
            Self::WriteKeys => "be02e89bb3a471955bc7b362aba84705018417e4ef22f3ee898fe894f2fbc8ef",
            Self::ReadKeys => "8ea4531f3436f98cb05e417180b8bc0c08ce8dbf134b46a8e6d399f91652010b",
            Self::AsOwner => "632b37d3de7d1ea2b7e6b90d2a29770c9a1925d0f9b37a0b8b9f484985954a88",
            Self::ShadowDigest => {
                "4bbb422e4c208678cebab68f2950568946385e0b8443d270954822fb74456bb9"
            }
            Self::SshdTClient => "1211b1ee067a53e21ecff50a12423105545dfcc618aa7a0328a668dfa916841b",
            Self::SshdT => "4e9d34517a34a5b528d1fa5c7908bc4b362cf8d0073d3c28ed48246349da057f",
            Self::SudoPreflight => {
                "320e5e56a389c09bea117f214d020dbb59d3fcd8e9fcd68b5f23f72f48f3fa68"
            }
            Self::AsOwnerAskpass => {
                "2bff8001a7e1e87f870b4be03ac68e590de9b7f353031d786c22634aa9b82890"
            }
            Self::TtySudoAChpasswd => {
                "e5f2fd646475af66fbd5c766043c3a165d3cdc80d5cf60a611991a94ef56a133"
            }
            Self::TtySudoChpasswd => {
                "a181d5d69e7b70a7df27260ac0b5081c59116bda99301ebb69fd4382cc81aae9"
            }
            Self::SudoChpasswdNoInput => {
                "98962d002fb27af251feb724147ff6463b7dd98d3a24405b5b83577f4151208d"
            }
            Self::SudoAChpasswd => {
                "f5ef557906e183413605e407749d2129c98fc57432c3151d1d272421fa6bcf7d"
            }
            Self::SudoChpasswd => {
                "268bc95fab5a37ff854bae52e9ea8cf57ba55125080f4bca9fe36b95a0a19450"
            }
            Self::RootChpasswd => {
                "97608b47e3eea52b59881e16d67a81d8f22240c9254c7e6bf376fb536e576a66"
            }
            Self::SelfPasswd => "f5e8108f1361fa02cbf63054b703a56084fea51b174159ee7b5a5033843a9f83",
            Self::HomeOf => "feeee01078cae720c3563c0e8376eff1bc059d9bb62882da0cfdd14a256d2476",
            Self::Lock => "902354090e30614dcd363ad368b66879b70266799dad25390cd319ad91d1b87d",
            Self::CheckPassword => {
                "0791c8b89df3a29b52e724b46261413ad3fe0cbe1096486cb78287898602d913"
            }
        }
    }

    /// The script whose markers `text` holds, if any.
    pub fn classify(text: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|s| s.markers().iter().all(|m| text.contains(m)))
    }

    /// Under a terminal the binary sends no EOF: how many lines of stdin
    /// the script reads before it runs.
    pub fn lines_read_under_a_terminal(self) -> usize {
        match self {
            Self::TtySudoChpasswd => 1,
            Self::TtySudoAChpasswd => 2,
            _ => 0,
        }
    }
}

impl fmt::Display for Script {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.call())
    }
}

/// A command line as `/bin/sh -c '<script>' sh <args>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub script: String,
    pub args: Vec<String>,
}

impl Command {
    /// Reads `/bin/sh -c SCRIPT sh ARGS…` (POSIX quoting: `'…'`, `\x`,
    /// `"…"`); `None` for any other shape.
    pub fn parse(line: &str) -> Option<Self> {
        let words = split_words(line)?;
        match words.as_slice() {
            [sh, c, script, zero, args @ ..] if sh == "/bin/sh" && c == "-c" && zero == "sh" => {
                Some(Self {
                    script: script.clone(),
                    args: args.to_vec(),
                })
            }
            _ => None,
        }
    }

    /// The call name: the script's, or for `AS_OWNER` its inner script's;
    /// `unknown-script` when the fake does not know it.
    pub fn call(&self) -> &'static str {
        match Script::classify(&self.script) {
            Some(Script::AsOwner) => match self.args.get(2).and_then(|s| Script::classify(s)) {
                Some(inner @ (Script::ReadKeys | Script::WriteKeys)) => inner.call(),
                _ => UNKNOWN,
            },
            Some(script) => script.call(),
            None => UNKNOWN,
        }
    }
}

/// The call name of a command the fake does not know.
pub const UNKNOWN: &str = "unknown-script";

/// Shell words: `'…'` literal, `"…"` with `\` escapes, `\x` outside quotes.
fn split_words(line: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next()? {
                        '\'' => break,
                        c => w.push(c),
                    }
                }
            }
            '"' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next()? {
                        '"' => break,
                        '\\' => w.push(chars.next()?),
                        c => w.push(c),
                    }
                }
            }
            '\\' => word.get_or_insert_with(String::new).push(chars.next()?),
            c if c.is_whitespace() => {
                if let Some(w) = word.take() {
                    words.push(w);
                }
            }
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    Some(words)
}
