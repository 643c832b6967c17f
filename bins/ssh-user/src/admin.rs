//! Which credential logs in to change the user's password and keys.
//!
//! Why the order is what it is: Keeper links the admin as a separate PAM User
//! record, attached to the script; the PAM Machine record's own
//! login/password/privatePEMKey are the legacy form. The user record, the
//! machine record and the PAM configuration are never the admin: taking the
//! user record as "admin" would silently turn an admin rotation into a
//! self-rotation with the wrong old password. When several attached records
//! qualify, guessing could log in as the wrong account, so the user record's
//! `ssh_admin_record_title` must name one, or the run stops (exit 2) naming
//! the candidates. With no admin at all, the user changes their own password
//! with `oldPassword`.

use common::error::{Error, Result};
use common::records::{self, Record, Records};
use common::secret::Secret;

/// Custom field on the user record naming the admin record by title.
pub const TITLE_FIELD: &str = "ssh_admin_record_title";
pub const LOGIN_FIELD: &str = "login";
pub const PASSWORD_FIELD: &str = "password";
pub const KEY_FIELD: &str = "privatePEMKey";

/// Where the admin credential came from, for the log and the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// An attached record (a PAM User linked as the machine's admin).
    Attached { uid: String, title: String },
    /// The legacy login/password/privatePEMKey on the PAM Machine record.
    MachineLegacy { uid: String, title: String },
    /// No admin: the user logs in with `oldPassword` and changes their own.
    SelfRotation,
}

impl Source {
    pub fn describe(&self) -> String {
        match self {
            Self::Attached { uid, title } => format!("attached record '{title}' (uid {uid})"),
            Self::MachineLegacy { uid, title } => {
                format!("the legacy admin fields of machine record '{title}' (uid {uid})")
            }
            Self::SelfRotation => "the user itself, with oldPassword (self-rotation)".into(),
        }
    }
}

/// The account that logs in, and how.
#[derive(Debug, Clone)]
pub struct Admin {
    pub login: String,
    pub password: Option<Secret>,
    /// The private key's text, as stored (parse it with [`crate::keys`]).
    pub private_key: Option<Secret>,
    pub source: Source,
}

impl Admin {
    /// Whether the account logging in is the one being rotated: either no
    /// admin was found, or the admin record names the same login.
    pub fn is_self(&self, user: &str) -> bool {
        matches!(self.source, Source::SelfRotation) || self.login == user
    }

    /// Whether the admin is root (changes passwords without sudo).
    pub fn is_root(&self) -> bool {
        self.login == "root"
    }
}

/// The records a rotation reads besides the admin: which uids are never an
/// admin, and the self-rotation fallback.
#[derive(Debug, Clone, Copy)]
pub struct Selection<'a> {
    pub records: &'a Records,
    /// The PAM Machine record's uid.
    pub machine_uid: &'a str,
    /// `providerRecordUid`: the PAM configuration.
    pub configuration_uid: Option<&'a str>,
    /// The Gateway's `user`.
    pub user: &'a str,
    /// The Gateway's `oldPassword`.
    pub old_password: Option<&'a Secret>,
}

/// Chooses the admin exactly as the module doc says.
pub fn select(s: &Selection<'_>) -> Result<Admin> {
    let candidates: Vec<&Record> = s
        .records
        .others()
        .filter(|r| r.uid() != s.machine_uid && Some(r.uid()) != s.configuration_uid)
        .filter(|r| qualifies(r))
        .collect();
    let wanted = match s.records.user() {
        Some(user) => user.text(TITLE_FIELD)?,
        None => None,
    };

    if let Some(title) = wanted.as_deref() {
        let titled: Vec<&Record> = candidates
            .iter()
            .copied()
            .filter(|r| r.title() == title)
            .collect();
        let titled = if titled.is_empty() {
            candidates
                .iter()
                .copied()
                .filter(|r| r.title().trim().eq_ignore_ascii_case(title.trim()))
                .collect()
        } else {
            titled
        };
        return match titled.as_slice() {
            [one] => attached(one),
            [] => Err(Error::Config(format!(
                "{TITLE_FIELD} on the user record names '{title}', but no attached record with \
                 that title holds '{LOGIN_FIELD}' and '{PASSWORD_FIELD}' or '{KEY_FIELD}'. \
                 Candidates: {}",
                records::describe(candidates.iter().copied())
            ))),
            several => Err(Error::Config(format!(
                "{TITLE_FIELD} names '{title}', which several attached records are titled: {}. \
                 Give the admin record a unique title",
                records::describe(several.iter().copied())
            ))),
        };
    }

    match candidates.as_slice() {
        [one] => return attached(one),
        [] => {}
        several => {
            return Err(Error::Config(format!(
                "several attached records could be the admin: {}. Set the user record's custom \
                 field {TITLE_FIELD} to the title of the one to use",
                records::describe(several.iter().copied())
            )));
        }
    }

    if let Some(machine) = s.records.others().find(|r| r.uid() == s.machine_uid)
        && qualifies(machine)
    {
        let mut admin = from_record(machine)?;
        admin.source = Source::MachineLegacy {
            uid: machine.uid().to_owned(),
            title: machine.title().to_owned(),
        };
        return Ok(admin);
    }

    match s.old_password.filter(|p| !p.is_empty()) {
        Some(old) => Ok(Admin {
            login: s.user.to_owned(),
            password: Some(old.clone()),
            private_key: None,
            source: Source::SelfRotation,
        }),
        None => Err(Error::Config(format!(
            "no admin credential: attach a PAM User record with '{LOGIN_FIELD}' and \
             '{PASSWORD_FIELD}' or '{KEY_FIELD}' to the script (the machine's admin), or give the \
             user record its current password so the user can change it (oldPassword is empty)"
        ))),
    }
}

fn qualifies(record: &Record) -> bool {
    record.has(LOGIN_FIELD) && (record.has(PASSWORD_FIELD) || record.has(KEY_FIELD))
}

fn attached(record: &Record) -> Result<Admin> {
    let mut admin = from_record(record)?;
    admin.source = Source::Attached {
        uid: record.uid().to_owned(),
        title: record.title().to_owned(),
    };
    Ok(admin)
}

fn from_record(record: &Record) -> Result<Admin> {
    Ok(Admin {
        login: record.require_text(LOGIN_FIELD)?,
        password: record.secret(PASSWORD_FIELD)?.filter(|p| !p.is_empty()),
        private_key: record
            .secret(KEY_FIELD)?
            .filter(|k| !k.expose().trim().is_empty()),
        source: Source::SelfRotation,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    const USER: &str = "u-rec";

    fn parse(items: Value) -> Records {
        Records::parse(items.to_string().as_bytes(), Some(USER)).unwrap()
    }

    fn choose(records: &Records, old: Option<&str>) -> Result<Admin> {
        let old = old.map(Secret::new);
        select(&Selection {
            records,
            machine_uid: "m",
            configuration_uid: Some("cfg"),
            user: "alice",
            old_password: old.as_ref(),
        })
    }

    fn machine(extra: Value) -> Value {
        let mut m =
            json!({"uid": "m", "title": "Machine", "pamHostname": "h", "operatingSystem": "Linux"});
        if let (Value::Object(m), Value::Object(extra)) = (&mut m, extra) {
            m.extend(extra);
        }
        m
    }

    fn user(extra: Value) -> Value {
        let mut u =
            json!({"uid": USER, "title": "alice", "login": "alice", "password": "old-pw-1"});
        if let (Value::Object(u), Value::Object(extra)) = (&mut u, extra) {
            u.extend(extra);
        }
        u
    }

    #[test]
    fn the_one_attached_record_with_login_and_password_is_the_admin() {
        let r = parse(json!([
            {"uid": "cfg", "title": "PAM config", "login": "x", "password": "cfg-pw"},
            machine(json!({})),
            {"uid": "a1", "title": "Admin", "login": "ops", "password": "admin-pw-1"},
            user(json!({})),
        ]));
        let admin = choose(&r, Some("old")).unwrap();
        assert_eq!(admin.login, "ops");
        assert_eq!(admin.password.unwrap().expose(), "admin-pw-1");
        assert_eq!(
            admin.source,
            Source::Attached {
                uid: "a1".into(),
                title: "Admin".into()
            }
        );
    }

    #[test]
    fn an_attached_record_with_only_a_key_qualifies() {
        let r = parse(json!([
            machine(json!({})),
            {"uid": "a1", "title": "Admin", "login": "root", "privatePEMKey": "-----BEGIN..."},
            user(json!({})),
        ]));
        let admin = choose(&r, None).unwrap();
        assert!(admin.password.is_none() && admin.private_key.is_some());
        assert!(admin.is_root());
    }

    #[test]
    fn a_record_with_login_but_no_password_or_key_does_not_qualify() {
        let r = parse(json!([
            machine(json!({})),
            {"uid": "a1", "title": "Notes", "login": "ops"},
            user(json!({})),
        ]));
        assert_eq!(
            choose(&r, Some("old")).unwrap().source,
            Source::SelfRotation
        );
    }

    #[test]
    fn several_candidates_without_a_title_is_exit_2_naming_them() {
        let r = parse(json!([
            machine(json!({})),
            {"uid": "a1", "title": "Admin A", "login": "a", "password": "pa"},
            {"uid": "a2", "title": "Admin B", "login": "b", "password": "pb"},
            user(json!({})),
        ]));
        let err = choose(&r, Some("old")).unwrap_err();
        assert_eq!(err.exit().code(), 2);
        let text = err.to_string();
        assert!(text.contains("'Admin A' (uid a1)") && text.contains("'Admin B' (uid a2)"));
        assert!(text.contains(TITLE_FIELD), "{text}");
    }

    #[test]
    fn several_candidates_the_titled_one_is_chosen_ignoring_case() {
        let r = parse(json!([
            machine(json!({})),
            {"uid": "a1", "title": "Admin A", "login": "a", "password": "pa"},
            {"uid": "a2", "title": "Admin B", "login": "b", "password": "pb"},
            user(json!({"ssh_admin_record_title": "admin b"})),
        ]));
        assert_eq!(choose(&r, None).unwrap().login, "b");
    }

    #[test]
    fn a_title_that_matches_no_candidate_is_exit_2() {
        let r = parse(json!([
            machine(json!({})),
            {"uid": "a1", "title": "Admin A", "login": "a", "password": "pa"},
            user(json!({"ssh_admin_record_title": "Nope"})),
        ]));
        let err = choose(&r, None).unwrap_err();
        assert_eq!(err.exit().code(), 2);
        assert!(err.to_string().contains("'Nope'") && err.to_string().contains("uid a1"));
    }

    #[test]
    fn user_machine_and_configuration_records_are_never_the_admin() {
        let r = parse(json!([
            {"uid": "cfg", "title": "Config", "login": "c", "password": "pc"},
            machine(json!({})),
            user(json!({})),
        ]));
        assert_eq!(
            choose(&r, Some("old")).unwrap().source,
            Source::SelfRotation
        );
    }

    #[test]
    fn legacy_fields_on_the_machine_record_come_second() {
        let r = parse(json!([
            machine(json!({"login": "ec2-user", "privatePEMKey": "-----BEGIN..."})),
            user(json!({})),
        ]));
        let admin = choose(&r, Some("old")).unwrap();
        assert_eq!(admin.login, "ec2-user");
        assert!(matches!(admin.source, Source::MachineLegacy { .. }));
    }

    #[test]
    fn an_attached_admin_wins_over_legacy_machine_fields() {
        let r = parse(json!([
            machine(json!({"login": "legacy", "password": "lp"})),
            {"uid": "a1", "title": "Admin", "login": "ops", "password": "op"},
            user(json!({})),
        ]));
        assert_eq!(choose(&r, None).unwrap().login, "ops");
    }

    #[test]
    fn no_admin_falls_back_to_self_rotation_with_old_password() {
        let r = parse(json!([machine(json!({})), user(json!({}))]));
        let admin = choose(&r, Some("old-pw-1")).unwrap();
        assert_eq!(admin.login, "alice");
        assert_eq!(admin.password.as_ref().unwrap().expose(), "old-pw-1");
        assert!(admin.is_self("alice"));
    }

    #[test]
    fn no_admin_and_no_old_password_is_exit_2() {
        let r = parse(json!([machine(json!({})), user(json!({}))]));
        for old in [None, Some("")] {
            let err = choose(&r, old).unwrap_err();
            assert_eq!(err.exit().code(), 2);
            assert!(err.to_string().contains("no admin credential"), "{err}");
        }
    }

    #[test]
    fn an_admin_record_for_the_same_login_is_a_self_rotation() {
        let r = parse(json!([
            machine(json!({})),
            {"uid": "a1", "title": "Me", "login": "alice", "password": "p"},
            user(json!({})),
        ]));
        let admin = choose(&r, None).unwrap();
        assert!(admin.is_self("alice"));
        assert!(!admin.is_root());
    }
}
