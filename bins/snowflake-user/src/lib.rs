//! rotate-snowflake-user: sets a Snowflake user's password through
//! Snowflake's SQL API, signed in with the admin's RSA key pair (a JWT), as
//! a Keeper Gateway PAM script, in place of Keeper's
//! `update_snowflake_user.py`, from the same records plus the admin's key.
//!
//! That script signs in with the admin's password (which Snowflake is
//! phasing out), builds `ALTER USER {user} SET PASSWORD = '{password}'` by
//! interpolation (a quote in the password breaks the statement, or writes
//! another), prints the connector's error and exits 1 for any failure, even
//! one after the change was sent. Here the user and the password are quoted
//! by one tested function ([`sql`]), the change is sent once, a lost answer
//! is exit 4, and Snowflake's errors are shown by their known fields only.
//! The SQL API takes no password sign-in, so the new password is proven by
//! Snowflake's answer only, and the summary says so.

use common::change;
use common::driver::{Rotator, Run};
use common::error::{Error, Result};
use common::host_lock;
use common::http;
use reqwest::StatusCode;
use zeroize::Zeroizing;

pub mod config;
pub mod jwt;
pub mod keypair;
mod snowflake;
pub mod sql;

pub use config::Setup;
use snowflake::{NO_SUCH_OBJECT, Ran, SqlApi};

/// `--help`: the record fields this binary reads and writes.
/// Snowflake's codes for a statement that ended without saying whether it
/// ran: cancelled (000604), past its timeout (000630), and a handle it no
/// longer knows (000709). A change that ends so is exit 4, never 1.
pub(crate) const UNSURE_CODES: [&str; 3] = ["000604", "000630", "000709"];

pub const FIELDS: &str = "\
Attach to: a PAM User record (login = the Snowflake user's name) whose rotation is \"Run
PAM scripts only\", with the admin record attached to the script as a rotation credential.
The records of Keeper's update_snowflake_user.py work once the admin record holds a key.

Gateway input read: user (the Snowflake user name), newPassword, records.

Admin record (never the user record), the first that applies:
  1. the attached record titled by the user record's custom field snowflake_record_title
  2. the attached record titled \"Snowflake Authentication Record\"
  3. the only attached record holding a snowflake_account_name
  login                   the admin's Snowflake user name (signs in with its key pair)
  privatePEMKey           the admin's RSA private key, PEM (PKCS#8 or PKCS#1, unencrypted),
                          whose public key is set on that user (ALTER USER ... SET
                          RSA_PUBLIC_KEY); or a keyPair field holding it
  password                not read: Snowflake's SQL API takes no password (a record with a
                          password and no key exits 2, saying what to add)
  snowflake_account_name  custom: the account identifier (myorg-myaccount, or a locator
                          such as xy12345.us-east-1)
  snowflake_url           custom, optional: the account's URL (default
                          https://<account>.snowflakecomputing.com; private link); https,
                          or plain http to a loopback address only

The admin signs in with a key-pair JWT (RS256, one hour at most) on every request to the
SQL API (POST /api/v2/statements). DESC USER reads the user first: a user Snowflake does
not show the admin's role exits 1, and a SERVICE user (no password) exits 2. Then one
ALTER USER <user> SET PASSWORD = '<newPassword>' is sent, never again: the user name as
an identifier (a name Snowflake takes unquoted is upper-cased, as Snowflake reads it;
any other is quoted as it is) and the password as a string literal, both quoted by one
function; a name or password with a control character exits 2 before any request. A
statement still running (202) is polled until it ends. Snowflake's SQL API offers no
password sign-in: the change is proven by Snowflake's answer only. Runs on one user of
one account never overlap on this host (a second run exits 1, nothing changed; lock
directory: KEEPER_ROTATOR_LOCK_DIR).

Writes (password): nothing to the vault; the Gateway stores the new password on exit 0.

Key pair: when the PAM User record holds a private key, the user's RSA key pair is rotated
instead of its password. User record (the vault's copy, read under the record's lease):
  privatePEMKey           read and written: the user's RSA private key, PEM (PKCS#8 or
                          PKCS#1, unencrypted); the new one is written as PKCS#8 PEM
  keyPair                 or this field: privateKey read; privateKey and publicKey (PEM)
                          written
  verify_successes        optional: sign-ins in a row that prove the new key (default 3)
  verify_interval_seconds optional: the pause between them (default 0.1)
  verify_timeout_seconds  optional: how long they may take (default 30)
  rotation_lease          custom text, written: held while the run runs, with what an
                          interrupted run still meant to unset
DESC USER shows the fingerprints of the user's two key slots (RSA_PUBLIC_KEY_FP,
RSA_PUBLIC_KEY_2_FP: SHA256: and base64 of the SHA-256 of the public key's DER); the
record's key must be in one of them (else exit 2). An RSA 2048 key is made here and set in
the other slot (ALTER USER <user> SET RSA_PUBLIC_KEY[_2] = '<base64 DER>'); if that slot
holds a key, the run exits 2 before any change, naming it, unless the lease shows an
interrupted run of this record meant to unset it. The new key is proven by sign-ins as the
user with it (a key-pair JWT, SELECT CURRENT_USER()) before it is stored: a key that does
not work is unset again, nothing changed. It is then stored in the field the old one was
in, the record read back, the old slot unset (ALTER USER <user> UNSET RSA_PUBLIC_KEY[_2])
and DESC USER read to confirm. A lost answer to SET or UNSET is settled by DESC USER; an
unknown outcome of the store keeps both keys (exit 4, both named).
A user with a password as well (DESC USER HAS_PASSWORD true) exits 2 before any change: on
exit 0 the Gateway stores newPassword in the record, which would not be the user's
password. Unset the password in Snowflake (ALTER USER <user> UNSET PASSWORD) or take the
key out of the record. On a key-pair rotation newPassword is not sent to Snowflake; the
Gateway still stores it in the record's password field on exit 0, where it is the password
of nothing.";

/// A user's `TYPE` as DESC USER shows it, for a message: one of the types
/// Snowflake documents is shown as that constant, anything else through
/// [`http::shown`]. The name beside it needs no check: the plan has made
/// sure it is the input's own user name. So a run that goes well shows no
/// server text, and never builds the skeletons of its secrets that
/// [`http::shown`] compares a field with (most of a password rotation's CPU
/// time: see docs/development/performance.md).
fn shown_kind(kind: &str) -> String {
    const KNOWN: [&str; 4] = ["PERSON", "SERVICE", "LEGACY_SERVICE", "null"];
    KNOWN
        .iter()
        .find(|known| kind.eq_ignore_ascii_case(known))
        .map_or_else(|| http::shown(kind), |known| (*known).to_owned())
}

/// The rotator.
#[derive(Debug)]
pub struct SnowflakeUser;

/// What planning found: the user and the signed-in API.
#[derive(Debug)]
pub struct Planned<'r> {
    setup: Setup<'r>,
    sql: SqlApi,
    /// The user's name as Snowflake shows it (`NAME`).
    name: String,
    /// The user's `TYPE` (`PERSON`, `LEGACY_SERVICE`, or null).
    kind: String,
    /// The key pair's rotation, when the user record holds a private key.
    key: Option<keypair::KeyPlan>,
}

impl Rotator for SnowflakeUser {
    const NAME: &'static str = "rotate-snowflake-user";
    const ABOUT: &'static str = "Rotates a Snowflake user's password, or its RSA key pair, \
                                 through Snowflake's SQL API with key-pair sign-in (Keeper \
                                 Gateway PAM script).";
    const FIELDS: &'static str = FIELDS;

    type Plan<'r> = Planned<'r>;

    /// A user record holding a private key: the key pair is rotated, the
    /// key stored in the record, under the record's lease.
    fn wants_lease(run: &Run) -> bool {
        keypair::in_input(&run.input)
    }

    /// One user of one account: the name as Snowflake resolves it.
    /// The whole setup is read here, the admin's key parsed, though the
    /// plan reads it again: an error here is bad input before any lock,
    /// lease or request, which the driver promises.
    fn host_lock(run: &Run) -> Result<Option<host_lock::Target>> {
        let setup = Setup::from_input(&run.input)?;
        Ok(Some(host_lock::Target {
            shown: format!("the Snowflake user '{}'", setup.user),
            service: format!("Snowflake account {}", jwt::claim_account(&setup.account)),
            account: setup.quoted_user,
        }))
    }

    fn plan(run: &Run) -> Result<Planned<'_>> {
        let setup = Setup::from_input(&run.input)?;
        let location = setup.admin.location();
        let lifetime = jwt::lifetime(run.http()?.deadline().remaining());
        let token = setup
            .key
            .token(&setup.account, &setup.admin_user, jwt::now(), lifetime)
            .map_err(|problem| Error::invalid("privatePEMKey", location.clone(), problem))?;
        let sql = SqlApi {
            api: http::Api::new(setup.url.clone(), token, "Bearer ", location, run.http()?),
        };
        let user = setup.user;
        let described = sql.read(
            &format!("DESC USER {}", setup.quoted_user),
            "reading the user (DESC USER)",
        )?;
        let properties = match described {
            Ran::Done(result) => snowflake::properties(&result),
            Ran::Failed { code, message } if code == NO_SUCH_OBJECT => {
                return Err(Error::Failed(format!(
                    "Snowflake has no user {} that the admin's role can see ({message}); check \
                     the PAM User record's login, and the admin user's default role. Nothing \
                     was changed",
                    setup.quoted_user
                )));
            }
            Ran::Failed { message, .. } => {
                return Err(Error::Failed(format!(
                    "reading the user (DESC USER {}) failed: {message}; nothing was changed",
                    setup.quoted_user
                )));
            }
        };
        let property = |name: &str| {
            properties
                .iter()
                .find(|(p, _)| p.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        let Some(name) = property("NAME") else {
            return Err(Error::Failed(format!(
                "DESC USER {} answered without the user's NAME; nothing was changed",
                setup.quoted_user
            )));
        };
        // The user DESC USER describes must be the one meant, exactly: with
        // QUOTED_IDENTIFIERS_IGNORE_CASE set on the account, "Bob.Smith@x"
        // resolves to BOB.SMITH@X, another user, whose password the change
        // would set while the Gateway stores it for this one.
        let expected = sql::stored_name(user);
        if name != expected {
            return Err(Error::Config(format!(
                "DESC USER {} describes the Snowflake user {}, not {}: the account may fold \
                 the case of quoted names (QUOTED_IDENTIFIERS_IGNORE_CASE). Set the PAM User \
                 record's login to the user's exact NAME. Nothing was changed",
                setup.quoted_user,
                http::shown(&name),
                http::shown(&expected)
            )));
        }
        let kind = property("TYPE").unwrap_or_else(|| "null".into());
        let key = if run.wants_lease() {
            let plan = keypair::plan(run, user, &properties)?;
            keypair::refuse_admin_key(&setup, &plan)?;
            Some(plan)
        } else {
            None
        };
        if key.is_none() && kind.eq_ignore_ascii_case("SERVICE") {
            return Err(Error::Config(format!(
                "the Snowflake user '{user}' is a SERVICE user, which has no password \
                 (Snowflake refuses one): rotate its key pair instead, or rotate a PERSON \
                 user. Nothing was changed"
            )));
        }
        tracing::info!(
            "Snowflake user '{user}': {name}, type {}",
            shown_kind(&kind)
        );
        Ok(Planned {
            setup,
            sql,
            name,
            kind,
            key,
        })
    }

    fn checked(p: &Planned<'_>, _run: &Run) -> common::dry_run::Checked {
        if p.key.is_some() {
            return common::dry_run::Checked::input()
                .did("the admin record and its private key")
                .did("the admin's key-pair sign-in to the SQL API, and the user, with DESC USER")
                .did("the user record's private key, and which key slot holds it (DESC USER)")
                .did("which key slot the new key would go into")
                .not("that the admin's role may set and unset the user's keys")
                .not("a sign-in as the user with a new key");
        }
        common::dry_run::Checked::input()
            .did("the admin record and its private key")
            .did("the admin's key-pair sign-in to the SQL API, and the user, with DESC USER")
            .not("that the admin's role may change the user's password")
            .not("that Snowflake's password policy accepts the new password")
    }

    fn describe(p: &Planned<'_>, _run: &Run) -> String {
        if let Some(key) = &p.key {
            return format!(
                "Snowflake user '{}' ({}, type {}) of account {}, key pair rotated (POST \
                 {}/api/v2/statements). {}",
                p.setup.user,
                p.name,
                shown_kind(&p.kind),
                p.setup.account,
                http::display_url(&p.setup.url).trim_end_matches('/'),
                key.describe(p.setup.user),
            );
        }
        format!(
            "Snowflake user '{}' ({}, type {}) of account {}; would set its password (ALTER \
             USER {} SET PASSWORD = '********', POST {}/api/v2/statements); Snowflake's answer \
             is the only proof.",
            p.setup.user,
            p.name,
            shown_kind(&p.kind),
            p.setup.account,
            p.setup.quoted_user,
            http::display_url(&p.setup.url).trim_end_matches('/'),
        )
    }

    fn apply(p: Planned<'_>, run: &Run) -> Result<String> {
        if let Some(key) = &p.key {
            return keypair::rotate(run, &p.setup, &p.sql, &p.name, key);
        }
        let Planned { setup, sql, .. } = p;
        let (user, quoted) = (setup.user, &setup.quoted_user);
        let mut statement = Zeroizing::new(format!("ALTER USER {quoted} SET PASSWORD = "));
        sql::string_literal(setup.new_password.expose(), &mut statement)
            .map_err(|problem| Error::Failed(format!("newPassword: {problem}")))?;
        let what = format!("the Snowflake password of '{user}'");
        let unsure = |error: Error| {
            error.unsure_change(
                &what,
                "It was not sent again. The record keeps the previous password, which may no \
                 longer work: check the user's PASSWORD_LAST_SET_TIME (DESC USER) and rotate \
                 again (the change does not need the old password)",
            )
        };
        tracing::info!("setting the password of '{user}' ({quoted})");
        let mark = change::mark();
        let (target, response) = sql.send_change(&run.http()?, &statement).map_err(unsure)?;
        drop(statement);
        let ran = match response.status {
            StatusCode::OK | StatusCode::ACCEPTED => sql
                .ended(&target, &response, "setting the password")
                .map_err(|error| {
                    Error::NeedsAttention(format!(
                        "{target}: Snowflake took the statement but its outcome is unknown \
                         ({error}), so {what} may or may not have changed. It was not sent \
                         again: check the user's PASSWORD_LAST_SET_TIME (DESC USER) and rotate \
                         again"
                    ))
                })?,
            // Snowflake cancels a statement past its timeout, but the
            // cancel may come after it ran.
            StatusCode::REQUEST_TIMEOUT => {
                return Err(Error::NeedsAttention(format!(
                    "{target}: Snowflake answered HTTP 408 (the statement ran out of time; {}), \
                     so {what} may or may not have changed. It was not sent again: check the \
                     user's PASSWORD_LAST_SET_TIME (DESC USER) and rotate again",
                    snowflake::error_fields(&response)
                )));
            }
            _ if response.status.as_u16() == 422 => sql.ended(&target, &response, "")?,
            _ => return Err(sql.refused(&target, &response, "setting the password")),
        };
        match ran {
            Ran::Done(_) => Ok(format!(
                "set the Snowflake password of '{user}' in account {}; proven by Snowflake's \
                 answer only (the SQL API offers no password sign-in)",
                setup.account
            )),
            // Cancelled, timed out, or a handle Snowflake no longer knows:
            // none of these says whether the statement ran.
            Ran::Failed { code, message }
                if code.is_empty() || UNSURE_CODES.contains(&code.as_str()) =>
            {
                Err(Error::NeedsAttention(format!(
                    "{target}: Snowflake answered that the statement ended without saying \
                     whether it ran ({message}), so {what} may or may not have changed. It was \
                     not sent again: check the user's PASSWORD_LAST_SET_TIME (DESC USER) and \
                     rotate again"
                )))
            }
            Ran::Failed { message, .. } => {
                // Snowflake ran the statement and says it failed: nothing
                // was set.
                change::rollback_to(mark);
                Err(Error::Failed(format!(
                    "Snowflake refused the new password of '{user}' ({message}); the password \
                     policy of the user or the account may ask for more (length, character \
                     classes, history). Nothing was changed"
                )))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::shown_kind;

    #[test]
    fn a_documented_user_type_is_shown_as_the_constant_any_other_as_a_server_field() {
        assert_eq!(shown_kind("person"), "PERSON");
        assert_eq!(shown_kind("LEGACY_SERVICE"), "LEGACY_SERVICE");
        assert_eq!(shown_kind("NULL"), "null");
        assert_eq!(shown_kind("ROBOT\nUSER"), "ROBOT USER");
    }
}
