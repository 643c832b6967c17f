//! The records in their roles, and the Gateway's input built from them.
//!
//! Why a module of its own: the Gateway decides which records a script sees
//! and in which role (the PAM configuration is `providerRecordUid`, the
//! machine or database `resourceRecordUid`, the PAM User `userRecordUid`, and
//! the script's rotation credentials are simply "the other records"). A
//! binary that works on our fixtures can still fail on an administrator's
//! vault because of exactly that: a second pamUser, a missing attachment, a
//! label that makes a duplicate key. So the roles are chosen as the
//! administrator says (`--user`, `--resource`, `--config`, `--attach`), or
//! inferred only where there is one candidate, and every choice is shown with
//! its reason.
//!
//! The input is built as the Gateway builds it (see `../shared/README.md`):
//! the params (`providerRecordUid`, `resourceRecordUid`, `userRecordUid`,
//! `user` = the PAM User's login, `oldPassword` = its password,
//! `newPassword` = a password the harness makes up, as the Gateway would),
//! and `records`: the PAM configuration, the resource, the attached records
//! and the user record, each as its dictionary
//! ([`crate::inputs::commander::KeeperRecord::gateway_dict`]).

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::UseCase;
use crate::inputs::commander::{KeeperRecord, Loaded, Source};

/// The roles the administrator names on the command line: a uid, or the
/// exact title of a record (records exported without uids get made-up ones).
#[derive(Debug, Clone, Default)]
pub struct RoleFlags {
    pub user: Option<String>,
    pub resource: Option<String>,
    pub config: Option<String>,
    pub attach: Vec<String>,
}

impl RoleFlags {
    fn is_empty(&self) -> bool {
        self.user.is_none()
            && self.resource.is_none()
            && self.config.is_none()
            && self.attach.is_empty()
    }
}

/// One record in one role, and why it has it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Role {
    pub uid: String,
    pub title: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// Why this record: "--user", "the only pamUser record", ...
    pub why: String,
}

/// Every record's role.
#[derive(Debug, Clone, Serialize)]
pub struct Roles {
    /// The PAM configuration (`providerRecordUid`).
    pub config: Role,
    /// The machine, database or directory (`resourceRecordUid`), if any.
    pub resource: Option<Role>,
    /// The script's rotation credentials.
    pub attached: Vec<Role>,
    /// The PAM User (`userRecordUid`).
    pub user: Role,
    /// Records in the vault that the Gateway does not send to this script.
    pub not_sent: Vec<Role>,
}

/// Everything one rehearsal is built from: the vault's records, their roles
/// and the Gateway's input. Each [`super::World`] started from it is a fresh,
/// identical copy.
#[derive(Debug, Clone)]
pub struct Rehearsal {
    pub use_case: &'static UseCase,
    /// What the vault holds (with a made-up PAM configuration if none was
    /// given).
    pub records: Vec<KeeperRecord>,
    pub roles: Roles,
    /// The Gateway's params, without `records`.
    pub params: Map<String, Value>,
    /// The record dictionaries, in the order the Gateway sends them.
    pub dicts: Vec<Map<String, Value>>,
    /// What the harness made up or decided that the administrator should know.
    pub notes: Vec<String>,
    /// The files read.
    pub sources: Vec<Source>,
    /// A scenario's description, or what the files were.
    pub description: String,
}

/// What placing the records in their roles yields, from a scenario's params
/// or from the record files and the role flags: the rest of a [`Rehearsal`]
/// (the notes, the sources, the description) is the same either way.
struct Cast {
    records: Vec<KeeperRecord>,
    roles: Roles,
    params: Map<String, Value>,
    dicts: Vec<Map<String, Value>>,
}

/// A text param of the Gateway's input (`user`, `newPassword`, ...); empty
/// when absent or not text.
pub fn text_param(params: &Map<String, Value>, name: &str) -> String {
    params
        .get(name)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// The uid given to a PAM configuration the records lack.
pub const MADE_UP_CONFIG_UID: &str = "RehearsalPamConfig0001";

const CONFIG_SUFFIX: &str = "Configuration";
const RESOURCE_TYPES: [&str; 4] = [
    "pamMachine",
    "pamDatabase",
    "pamDirectory",
    "pamRemoteBrowser",
];

impl Rehearsal {
    /// Reads `paths` and builds the rehearsal (see [`Rehearsal::new`]).
    pub fn from_files(
        use_case: &'static UseCase,
        paths: &[std::path::PathBuf],
        flags: &RoleFlags,
    ) -> Result<Self, String> {
        Self::new(use_case, crate::inputs::commander::load(paths)?, flags)
    }

    /// The use case's own fixture (`fixtures/records/<name>.json`), roles
    /// inferred: what `harness demo` and the conformance suite run.
    pub fn fixture(use_case: &'static UseCase) -> Result<Self, String> {
        let name = format!("fixtures/records/{}.json", use_case.name);
        let loaded = crate::inputs::commander::parse_files(&[(
            std::path::Path::new(&name),
            use_case.fixture,
        )])?;
        Self::new(use_case, loaded, &RoleFlags::default())
    }

    /// Puts the records in their roles and builds the Gateway's input. A
    /// scenario file fixes roles and input in its params (role flags are
    /// then refused); any other record files only fill the vault.
    pub fn new(
        use_case: &'static UseCase,
        loaded: Loaded,
        flags: &RoleFlags,
    ) -> Result<Self, String> {
        let mut notes = Vec::new();
        for record in loaded.records.iter().filter(|r| r.uid_made_up) {
            notes.push(format!(
                "'{}' has no uid in the file; the harness calls it {}",
                record.title, record.uid
            ));
        }
        let description = loaded
            .scenario
            .as_ref()
            .map(|s| s.description.clone())
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| {
                loaded
                    .sources
                    .iter()
                    .map(|s| format!("{} ({} records)", s.path.display(), s.records))
                    .collect::<Vec<_>>()
                    .join(", ")
            });
        let cast = match loaded.scenario.clone() {
            Some(scenario) => {
                if !flags.is_empty() {
                    return Err("a scenario file fixes the roles in its params \
                                (providerRecordUid, resourceRecordUid, userRecordUid); \
                                edit them there instead of giving --user, --resource, \
                                --config or --attach"
                        .into());
                }
                from_scenario(&loaded, scenario, &mut notes)?
            }
            None => from_records(use_case, &loaded, flags, &mut notes)?,
        };
        Ok(Rehearsal {
            use_case,
            records: cast.records,
            roles: cast.roles,
            params: cast.params,
            dicts: cast.dicts,
            notes,
            sources: loaded.sources,
            description,
        })
    }

    /// The record with `uid` in the vault.
    pub fn record(&self, uid: &str) -> Option<&KeeperRecord> {
        self.records.iter().find(|r| r.uid == uid)
    }

    /// The PAM User record as the vault holds it.
    pub fn user_record(&self) -> Option<&KeeperRecord> {
        self.record(&self.roles.user.uid)
    }

    /// A text param: `user`, `oldPassword`, `newPassword`, ...
    pub fn param(&self, name: &str) -> String {
        text_param(&self.params, name)
    }

    /// Replaces the Gateway's `newPassword` (the conformance suite pins it).
    pub fn with_new_password(mut self, password: &str) -> Self {
        self.params
            .insert("newPassword".into(), Value::String(password.into()));
        self
    }

    /// The dictionaries other than the user's: the records the binary may
    /// take an API or admin record from.
    pub fn other_dicts(&self) -> impl Iterator<Item = &Map<String, Value>> {
        let user = self.roles.user.uid.clone();
        self.dicts
            .iter()
            .filter(move |d| d.get("uid").and_then(Value::as_str) != Some(user.as_str()))
    }

    /// The dictionaries a binary looks for its API or admin record among
    /// (`common::records::Records::attached`): every one but the user
    /// record, the PAM configuration and the resource.
    pub fn attached_dicts(&self) -> impl Iterator<Item = &Map<String, Value>> {
        let mut pam = vec![self.roles.config.uid.clone()];
        pam.extend(self.roles.resource.as_ref().map(|r| r.uid.clone()));
        self.other_dicts().filter(move |d| {
            !d.get("uid")
                .and_then(Value::as_str)
                .is_some_and(|uid| pam.iter().any(|p| p == uid))
        })
    }

    /// The records attached to the script, as the vault holds them.
    pub fn attached_records(&self) -> impl Iterator<Item = &KeeperRecord> {
        self.roles
            .attached
            .iter()
            .filter_map(|role| self.record(&role.uid))
    }

    /// The PAM configuration, as the vault holds it.
    pub fn config_record(&self) -> Option<&KeeperRecord> {
        self.record(&self.roles.config.uid)
    }
}

/// A password as the Gateway might generate it, with the characters that
/// break careless scripts: quotes, a backslash, a dollar sign, a non-ASCII
/// letter. Upper and lower case and a digit, for password policies.
pub fn new_password() -> String {
    use rand::Rng;
    const CHARS: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    let random: String = (0..16)
        .map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char)
        .collect();
    format!("Rh-{random}-\"q'\\$é9")
}

fn role(record: &KeeperRecord, why: impl Into<String>) -> Role {
    Role {
        uid: record.uid.clone(),
        title: record.title.clone(),
        kind: record.kind.clone(),
        why: why.into(),
    }
}

fn describe(records: &[&KeeperRecord]) -> String {
    records
        .iter()
        .map(|r| format!("'{}' ({}, uid {})", r.title, r.kind, r.uid))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The record a flag names: by uid, else by exact title (one only).
fn named<'r>(
    records: &'r [KeeperRecord],
    flag: &str,
    value: &str,
) -> Result<&'r KeeperRecord, String> {
    if let Some(record) = records.iter().find(|r| r.uid == value) {
        return Ok(record);
    }
    let titled: Vec<&KeeperRecord> = records.iter().filter(|r| r.title == value).collect();
    match titled.as_slice() {
        [one] => Ok(one),
        [] => Err(format!(
            "{flag} {value}: no record has that uid or title; the records are {}",
            describe(&records.iter().collect::<Vec<_>>())
        )),
        several => Err(format!(
            "{flag} {value}: several records have that title ({}); give the uid",
            describe(several)
        )),
    }
}

/// One record of a kind: by flag, else the only candidate, else none
/// (`required` says whether none is an error), else an error naming them.
fn choose<'r>(
    records: &'r [KeeperRecord],
    flag: &str,
    given: Option<&str>,
    what: &str,
    candidates: Vec<&'r KeeperRecord>,
    required: bool,
) -> Result<Option<(&'r KeeperRecord, String)>, String> {
    if let Some(value) = given {
        return named(records, flag, value).map(|r| Some((r, flag.to_owned())));
    }
    match candidates.as_slice() {
        [one] => Ok(Some((one, format!("the only {what}")))),
        [] if !required => Ok(None),
        [] => Err(format!(
            "no {what} among the records ({}); name the record with {flag} UID",
            describe(&records.iter().collect::<Vec<_>>())
        )),
        several => Err(format!(
            "several records could be the {what}: {}; name the one with {flag} UID",
            describe(several)
        )),
    }
}

fn from_records(
    use_case: &'static UseCase,
    loaded: &Loaded,
    flags: &RoleFlags,
    notes: &mut Vec<String>,
) -> Result<Cast, String> {
    let mut records = loaded.records.clone();

    // The user: --user, else the only pamUser, else the only pamUser with
    // one of the use case's own fields.
    let pam_users: Vec<&KeeperRecord> = records.iter().filter(|r| r.kind == "pamUser").collect();
    let user = match choose(
        &records,
        "--user",
        flags.user.as_deref(),
        "pamUser record",
        pam_users.clone(),
        false,
    ) {
        Ok(Some(found)) => found,
        Ok(None) => {
            return Err(format!(
                "no pamUser record among the records ({}); name the record to rotate with --user UID",
                describe(&records.iter().collect::<Vec<_>>())
            ));
        }
        Err(several) => {
            let marked: Vec<&KeeperRecord> = pam_users
                .iter()
                .copied()
                .filter(|r| use_case.user_markers.iter().any(|m| r.text(m).is_some()))
                .collect();
            match marked.as_slice() {
                [one] if flags.user.is_none() => (
                    *one,
                    format!(
                        "the only pamUser record holding {}",
                        use_case.user_markers.join(" or ")
                    ),
                ),
                _ => return Err(several),
            }
        }
    };
    let user = role(user.0, user.1);

    let configs: Vec<&KeeperRecord> = records
        .iter()
        .filter(|r| r.kind.starts_with("pam") && r.kind.ends_with(CONFIG_SUFFIX))
        .collect();
    let config = match choose(
        &records,
        "--config",
        flags.config.as_deref(),
        "pam*Configuration record",
        configs,
        false,
    )? {
        Some((record, why)) => role(record, why),
        None => {
            let made_up = KeeperRecord {
                uid: MADE_UP_CONFIG_UID.into(),
                kind: "pamNetworkConfiguration".into(),
                title: "PAM configuration (made up by the harness)".into(),
                fields: Vec::new(),
                custom: Vec::new(),
                uid_made_up: true,
                folder: None,
            };
            notes.push(format!(
                "no PAM configuration among the records: the harness made up an empty one \
                 (uid {MADE_UP_CONFIG_UID}), as every Gateway rotation has one"
            ));
            let made = role(&made_up, "made up: the records hold none");
            records.push(made_up);
            made
        }
    };

    let resources: Vec<&KeeperRecord> = records
        .iter()
        .filter(|r| RESOURCE_TYPES.contains(&r.kind.as_str()))
        .collect();
    let resource = choose(
        &records,
        "--resource",
        flags.resource.as_deref(),
        "pamMachine, pamDatabase, pamDirectory or pamRemoteBrowser record",
        resources,
        false,
    )?
    .map(|(record, why)| role(record, why));

    let taken = |uid: &str| {
        uid == user.uid || uid == config.uid || resource.as_ref().is_some_and(|r| r.uid == uid)
    };
    let mut attached = Vec::new();
    if flags.attach.is_empty() {
        for record in records.iter().filter(|r| !taken(&r.uid)) {
            attached.push(role(record, "every other record"));
        }
    } else {
        for value in &flags.attach {
            let record = named(&records, "--attach", value)?;
            if taken(&record.uid) {
                return Err(format!(
                    "--attach {value}: '{}' already has a role (PAM configuration, resource or \
                     user); the Gateway sends each record once",
                    record.title
                ));
            }
            if attached.iter().any(|a: &Role| a.uid == record.uid) {
                continue;
            }
            attached.push(role(record, "--attach"));
        }
    }
    let not_sent: Vec<Role> = records
        .iter()
        .filter(|r| !taken(&r.uid) && !attached.iter().any(|a| a.uid == r.uid))
        .map(|r| role(r, "not attached: in the vault only"))
        .collect();

    let record = |uid: &str| {
        records
            .iter()
            .find(|r| r.uid == uid)
            .unwrap_or_else(|| unreachable!("every role names one of the records"))
    };
    let user_record = record(&user.uid);
    let mut dicts = vec![record(&config.uid).gateway_dict()];
    if let Some(resource) = &resource {
        dicts.push(record(&resource.uid).gateway_dict());
    }
    for role in &attached {
        dicts.push(record(&role.uid).gateway_dict());
    }
    dicts.push(user_record.gateway_dict());

    let login = user_record.text("login").unwrap_or_default();
    if login.is_empty() {
        notes.push(format!(
            "the PAM User '{}' has no login: the Gateway's 'user' is empty",
            user_record.title
        ));
    }
    let mut params = Map::new();
    params.insert("providerRecordUid".into(), json!(config.uid));
    params.insert(
        "resourceRecordUid".into(),
        json!(resource.as_ref().map(|r| r.uid.clone()).unwrap_or_default()),
    );
    params.insert("userRecordUid".into(), json!(user.uid));
    params.insert("user".into(), json!(login));
    params.insert(
        "oldPassword".into(),
        json!(user_record.text("password").unwrap_or_default()),
    );
    let mut made_up = new_password();
    made_up.retain(|c| !use_case.password_refuses.contains(c));
    params.insert("newPassword".into(), json!(made_up));
    notes.push(
        "newPassword is made up by the harness, as the Gateway makes one up for each rotation"
            .into(),
    );
    if !use_case.password_refuses.is_empty() {
        notes.push(format!(
            "newPassword leaves out {:?}, which {} refuses: leave it out of the PAM User \
             record's password complexity too",
            use_case.password_refuses, use_case.binary
        ));
    }

    Ok(Cast {
        records,
        roles: Roles {
            config,
            resource,
            attached,
            user,
            not_sent,
        },
        params,
        dicts,
    })
}

fn from_scenario(
    loaded: &Loaded,
    scenario: crate::inputs::commander::ScenarioInput,
    notes: &mut Vec<String>,
) -> Result<Cast, String> {
    let mut dicts = scenario.dicts;
    for dict in &mut dicts {
        fill_placeholders(dict, notes)?;
    }
    let mut params = scenario.params;
    for (key, value) in &mut params {
        if let Value::String(text) = value
            && text.contains("${")
        {
            return Err(format!(
                "the scenario's param {key} uses a ${{NAME}} variable; the harness fills in \
                 only url fields (with the fakes' addresses)"
            ));
        }
    }
    if !params.contains_key("newPassword") {
        params.insert("newPassword".into(), json!(new_password()));
        notes.push("the scenario has no newPassword: the harness made one up".into());
    }
    let uid_param = |name: &str| {
        params
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let dict_title = |uid: &str| {
        dicts
            .iter()
            .find(|d| d.get("uid").and_then(Value::as_str) == Some(uid))
            .map(|d| {
                d.get("title")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            })
    };
    // The vault: the records of the record files, and the scenario's
    // dictionaries rebuilt as records where no file gave that uid.
    let mut records: Vec<KeeperRecord> = loaded.records.clone();
    let scenario_uids: Vec<String> = dicts
        .iter()
        .filter_map(|d| d.get("uid").and_then(Value::as_str).map(str::to_owned))
        .collect();
    let user_uid = uid_param("userRecordUid");
    let provider_uid = uid_param("providerRecordUid");
    for dict in &dicts {
        let uid = dict.get("uid").and_then(Value::as_str).unwrap_or_default();
        if records.iter().any(|r| r.uid == uid) {
            continue;
        }
        let kind = if uid == user_uid {
            "pamUser"
        } else if uid == provider_uid {
            "pamNetworkConfiguration"
        } else {
            "login"
        };
        records.push(KeeperRecord::from_gateway_dict(dict, kind)?);
    }
    let make_role = |uid: &str, why: &str| -> Role {
        let kind = records
            .iter()
            .find(|r| r.uid == uid)
            .map(|r| r.kind.clone())
            .unwrap_or_default();
        Role {
            uid: uid.to_owned(),
            title: dict_title(uid).unwrap_or_else(|| "(not among the records)".into()),
            kind,
            why: why.to_owned(),
        }
    };
    if user_uid.is_empty() {
        return Err("the scenario's params have no userRecordUid".into());
    }
    let config = make_role(&provider_uid, "the scenario's providerRecordUid");
    let resource_uid = uid_param("resourceRecordUid");
    let resource = (!resource_uid.is_empty())
        .then(|| make_role(&resource_uid, "the scenario's resourceRecordUid"));
    let user = make_role(&user_uid, "the scenario's userRecordUid");
    let attached: Vec<Role> = scenario_uids
        .iter()
        .filter(|uid| {
            **uid != user.uid
                && **uid != config.uid
                && resource.as_ref().is_none_or(|r| r.uid != **uid)
        })
        .map(|uid| make_role(uid, "sent by the scenario"))
        .collect();
    let not_sent = records
        .iter()
        .filter(|r| !scenario_uids.contains(&r.uid))
        .map(|r| role(r, "not in the scenario: in the vault only"))
        .collect();
    Ok(Cast {
        records,
        roles: Roles {
            config,
            resource,
            attached,
            user,
            not_sent,
        },
        params,
        dicts,
    })
}

/// A scenario's `${NAME}` stands for a fake's address: in a url field it is
/// replaced (the use case then points the field at its fake); anywhere else
/// it is an error.
fn fill_placeholders(dict: &mut Map<String, Value>, notes: &mut Vec<String>) -> Result<(), String> {
    for (key, value) in dict.iter_mut() {
        let Value::String(text) = value else { continue };
        if !text.contains("${") {
            continue;
        }
        if key.to_ascii_lowercase().contains("url") {
            let placeholder = text.clone();
            *text = "https://placeholder.invalid/".into();
            notes.push(format!(
                "{key} = {placeholder} in the scenario: the harness points it at its fake"
            ));
        } else {
            return Err(format!(
                "the scenario's field {key} uses a ${{NAME}} variable; the harness fills in only \
                 url fields (with the fakes' addresses)"
            ));
        }
    }
    Ok(())
}
