//! The record dictionaries of the Gateway's input.
//!
//! Each dictionary has `uid`, `title`, then one key per field: the field's
//! label, or its type when it has none, with a number appended when the key
//! already exists (`url`, `url2`). Lookups here are case-insensitive, accept
//! those numbered duplicates, and always know which dictionary is the user
//! record, so it is never mistaken for an admin or API credential.

use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use zeroize::Zeroize;

use crate::deadline::Deadline;
use crate::error::{Error, Location, Result};
use crate::secret::{self, Secret};

mod admin;
pub use admin::AdminRecord;

/// One record dictionary, its fields in the order the Gateway sent them.
pub struct Record {
    uid: String,
    title: String,
    fields: Vec<(String, Value)>,
}

impl Record {
    pub fn uid(&self) -> &str {
        &self.uid
    }

    pub fn title(&self) -> &str {
        &self.title
    }

    /// Where a value of this record was looked for, for error messages.
    pub fn location(&self) -> Location {
        Location::Record {
            title: self.title.clone(),
            uid: self.uid.clone(),
        }
    }

    /// The keys of this record's fields, in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.fields.iter().map(|(k, _)| k.as_str())
    }

    /// Every value stored under `name` or a numbered duplicate of it, exact
    /// matches first, each group in record order.
    pub fn values<'a, 'n>(&'a self, name: &'n str) -> impl Iterator<Item = &'a Value> + 'n
    where
        'a: 'n,
    {
        lookup_order(self.fields.iter().map(|(k, _)| k.as_str()), name)
            .into_iter()
            .map(|i| &self.fields[i].1)
    }

    /// The first non-empty value under `name` (see [`Record::values`]).
    pub fn value(&self, name: &str) -> Option<&Value> {
        self.values(name).find(|v| !is_empty(v))
    }

    /// Whether the record holds a non-empty value under `name`.
    pub fn has(&self, name: &str) -> bool {
        self.value(name).is_some()
    }

    /// The field as trimmed text: a string, a number or a boolean, or a list
    /// holding one. `None` when absent or empty; an error when it holds
    /// something else (an object, a list of several values).
    pub fn text(&self, name: &str) -> Result<Option<String>> {
        Ok(self
            .scalar(name)?
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty()))
    }

    pub fn require_text(&self, name: &str) -> Result<String> {
        self.text(name)?
            .ok_or_else(|| Error::missing(name, self.location()))
    }

    /// The field as a secret, untrimmed (a password may end in a space).
    pub fn secret(&self, name: &str) -> Result<Option<Secret>> {
        Ok(self.scalar(name)?.map(Secret::new))
    }

    pub fn require_secret(&self, name: &str) -> Result<Secret> {
        self.secret(name)?
            .ok_or_else(|| Error::missing(name, self.location()))
    }

    /// The field as a yes/no switch: `true`/`false`, `yes`/`no`, `1`/`0`,
    /// `on`/`off`, any case. `None` when absent or empty.
    pub fn flag(&self, name: &str) -> Result<Option<bool>> {
        let Some(text) = self.text(name)? else {
            return Ok(None);
        };
        match text.to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" | "on" => Ok(Some(true)),
            "false" | "no" | "0" | "off" => Ok(Some(false)),
            _ => Err(Error::invalid(
                name,
                self.location(),
                "expected true or false",
            )),
        }
    }

    fn scalar(&self, name: &str) -> Result<Option<String>> {
        let Some(value) = self.value(name) else {
            return Ok(None);
        };
        let single = match value {
            Value::Array(items) => {
                let mut present = items.iter().filter(|v| !is_empty(v));
                match (present.next(), present.next()) {
                    (Some(one), None) => one,
                    (None, _) => return Ok(None),
                    (Some(_), Some(_)) => {
                        return Err(Error::invalid(
                            name,
                            self.location(),
                            "holds several values where one is expected",
                        ));
                    }
                }
            }
            other => other,
        };
        match single {
            Value::String(s) => Ok(Some(s.clone())),
            Value::Number(n) => Ok(Some(n.to_string())),
            Value::Bool(b) => Ok(Some(b.to_string())),
            Value::Null => Ok(None),
            Value::Array(_) | Value::Object(_) => Err(Error::invalid(
                name,
                self.location(),
                format!("holds {}, expected text", kind(single)),
            )),
        }
    }
}

impl fmt::Debug for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Keys only: values may be secrets.
        f.debug_struct("Record")
            .field("uid", &self.uid)
            .field("title", &self.title)
            .field("keys", &self.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Drop for Record {
    fn drop(&mut self) {
        for (_, value) in &mut self.fields {
            wipe_json(value);
        }
    }
}

/// All record dictionaries of one run, with the user record identified.
#[derive(Debug)]
pub struct Records {
    records: Vec<Record>,
    user_uid: Option<String>,
    /// The PAM configuration (`providerRecordUid`) and resource
    /// (`resourceRecordUid`) records.
    pam_uids: Vec<String>,
}

impl Records {
    /// Parses the decoded `records` JSON array. `user_uid` is the Gateway's
    /// `userRecordUid`; the record with that uid is the user record.
    ///
    /// Every value whose key names a secret (password, secret, token, private
    /// key, ...) is registered with the redactor as it is read.
    pub fn parse(json: &[u8], user_uid: Option<&str>) -> Result<Self> {
        Self::parse_within(
            json,
            user_uid,
            &Deadline::after(std::time::Duration::from_secs(
                crate::deadline::DEFAULT_SECONDS,
            )),
        )
    }

    /// [`Records::parse`], giving up (exit 2) once `deadline` passes: the
    /// input's size and shape are the sender's to choose.
    pub fn parse_within(json: &[u8], user_uid: Option<&str>, deadline: &Deadline) -> Result<Self> {
        let items: Vec<Item> = serde_json::from_slice(json).map_err(|e| {
            // serde's message may quote the value ("invalid type: string
            // \"...\""): name the type, or the position, never the value.
            match serde_json::from_slice::<Value>(json) {
                Ok(value) if !value.is_array() => Error::Input(format!(
                    "'records' is {}, expected a JSON array of objects",
                    kind(&value)
                )),
                _ => Error::Input(format!(
                    "'records' is not a JSON array of objects ({})",
                    describe_json_error(&e)
                )),
            }
        })?;
        let mut records = Vec::with_capacity(items.len());
        for (index, item) in items.into_iter().enumerate() {
            match item {
                Item::Object(entries) => {
                    records.push(Record::from_entries(index, entries, deadline)?);
                }
                Item::Other(kind) => {
                    return Err(Error::Input(format!(
                        "records[{index}] is {kind}, expected an object"
                    )));
                }
            }
        }
        Ok(Self {
            records,
            user_uid: user_uid.map(str::to_owned),
            pam_uids: Vec::new(),
        })
    }

    /// Names the PAM configuration and resource records (the Gateway's
    /// `providerRecordUid` and `resourceRecordUid`), which
    /// [`Records::attached`] leaves out.
    pub fn set_pam_record_uids(&mut self, provider: Option<&str>, resource: Option<&str>) {
        self.pam_uids = [provider, resource]
            .into_iter()
            .flatten()
            .map(str::trim)
            .filter(|uid| !uid.is_empty())
            .map(str::to_owned)
            .collect();
    }

    pub fn all(&self) -> &[Record] {
        &self.records
    }

    /// The PAM User record being rotated, when the Gateway included it.
    pub fn user(&self) -> Option<&Record> {
        let uid = self.user_uid.as_deref()?;
        self.records.iter().find(|r| r.uid == uid)
    }

    /// Every record except the user record: the PAM configuration, the
    /// resource and the records attached to the script.
    pub fn others(&self) -> impl Iterator<Item = &Record> {
        self.records
            .iter()
            .filter(|r| Some(r.uid.as_str()) != self.user_uid.as_deref())
    }

    /// The records attached to the script as rotation credentials: every
    /// record but the user record, the PAM configuration and the resource.
    /// A service's API record is looked for only among these: the PAM
    /// configuration and the resource hold urls and passwords too, and
    /// taking one for the API record would send its password to its url.
    pub fn attached(&self) -> impl Iterator<Item = &Record> {
        self.others().filter(|r| !self.pam_uids.contains(&r.uid))
    }

    /// The attached records titled `title`: exact matches, or failing those,
    /// matches ignoring case and surrounding spaces.
    pub fn titled(&self, title: &str) -> Vec<&Record> {
        let exact: Vec<_> = self.attached().filter(|r| r.title == title).collect();
        if !exact.is_empty() {
            return exact;
        }
        let wanted = title.trim();
        self.attached()
            .filter(|r| r.title.trim().eq_ignore_ascii_case(wanted))
            .collect()
    }

    /// The attached records holding a non-empty value for every key in
    /// `keys`.
    pub fn holding(&self, keys: &[&str]) -> Vec<&Record> {
        self.attached()
            .filter(|r| keys.iter().all(|k| r.has(k)))
            .collect()
    }
}

impl Record {
    fn from_entries(
        index: usize,
        entries: Vec<(String, Value)>,
        deadline: &Deadline,
    ) -> Result<Self> {
        let mut uid = None;
        let mut title = None;
        let mut fields = Vec::with_capacity(entries.len());
        for (key, value) in entries {
            if deadline.expired() {
                return Err(Error::Input(format!(
                    "reading records[{index}] took longer than the run's deadline of {} s; a \
                     Gateway's records are a few kilobytes",
                    deadline.limit_secs()
                )));
            }
            match key.as_str() {
                "uid" if uid.is_none() => uid = Some(value),
                "title" if title.is_none() => title = Some(value),
                _ => {
                    let registered = if names_a_secret(&key) {
                        register_strings(&value)
                    } else {
                        register_private_keys(&value)
                    };
                    registered.map_err(|too_many| {
                        Error::Input(format!(
                            "records[{index}] and those before it hold {too_many}; a Gateway's \
                             records hold a few"
                        ))
                    })?;
                    fields.push((key, value));
                }
            }
        }
        // A login and password also travel as base64 of `login:password`
        // (HTTP Basic authentication).
        let text = |name: &str| {
            fields
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .and_then(|(_, v)| match v {
                    Value::String(s) => Some(s.as_str()),
                    Value::Array(items) => items.first().and_then(Value::as_str),
                    _ => None,
                })
        };
        if let (Some(login), Some(password)) = (text("login"), text("password"))
            && !password.trim().is_empty()
        {
            secret::register_with_login(login.trim(), password);
        }
        let uid = match uid {
            Some(Value::String(s)) if !s.trim().is_empty() => s,
            Some(Value::String(_)) | None | Some(Value::Null) => {
                return Err(Error::Input(format!("records[{index}] has no 'uid'")));
            }
            Some(other) => {
                return Err(Error::Input(format!(
                    "records[{index}].uid is {}, expected a string",
                    kind(&other)
                )));
            }
        };
        let title = match title {
            Some(Value::String(s)) => s,
            None | Some(Value::Null) => String::new(),
            Some(other) => {
                return Err(Error::Input(format!(
                    "records[{index}].title is {}, expected a string",
                    kind(&other)
                )));
            }
        };
        Ok(Self { uid, title, fields })
    }
}

/// The records named for a message: `'Title' (uid X), ...`, or `none`.
pub fn describe<'r>(records: impl Iterator<Item = &'r Record>) -> String {
    let names: Vec<String> = records.map(|r| r.location().to_string()).collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

/// Wipes every string in a JSON value (zeroizing its memory).
pub fn wipe_json(value: &mut Value) {
    match value {
        Value::String(s) => s.zeroize(),
        Value::Array(items) => items.iter_mut().for_each(wipe_json),
        Value::Object(map) => map.values_mut().for_each(wipe_json),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// The positions among `keys` of the fields a lookup of `name` reads, in the
/// order it tries them: the keys equal to `name` ignoring case, then its
/// numbered duplicates (`url2`, `URL_2`), each group in record order. This is
/// the binaries' one field lookup ([`Record::values`]); the harness uses it
/// too, to find every field a binary could read a value from (the url it
/// points at a fake).
pub fn lookup_order<'k>(keys: impl IntoIterator<Item = &'k str>, name: &str) -> Vec<usize> {
    let keys: Vec<&str> = keys.into_iter().collect();
    let exact = (0..keys.len()).filter(|&i| keys[i].eq_ignore_ascii_case(name));
    let numbered = (0..keys.len()).filter(|&i| is_numbered_duplicate(keys[i], name));
    exact.chain(numbered).collect()
}

/// Whether `key` is `name` with a number appended (`url2`, `url 2`, `url_2`),
/// as the Gateway names a second field with the same label or type.
fn is_numbered_duplicate(key: &str, name: &str) -> bool {
    let (Some(head), Some(tail)) = (key.get(..name.len()), key.get(name.len()..)) else {
        return false;
    };
    if !head.eq_ignore_ascii_case(name) {
        return false;
    }
    let digits = tail.trim_start_matches([' ', '_', '-']);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// The fewest characters a value read from a record must have to be
/// matched anywhere in a message, inside longer words too. A secret field's
/// shorter strings (a `pinCode` of `4711`, a `password` of `Gat`) are
/// registered as well, and matched only where they stand as a word of their
/// own ([`secret::TOKEN_ONLY_BELOW`]), as a short `oldPassword` is: matched
/// anywhere, they would redact ordinary digits and words in every message.
pub const MIN_REGISTERED_CHARS: usize = secret::TOKEN_ONLY_BELOW;

/// Any value holding this is a private key, whatever its field is called.
pub const PRIVATE_KEY_MARKER: &str = "PRIVATE KEY-----";

/// Keeper's field types whose value the vault hides (shows as dots): every
/// field of one of these types is a secret, whatever its label (a `secret`
/// field labelled "Recovery codes", a `pinCode` labelled "Door").
pub const HIDDEN_FIELD_TYPES: [&str; 14] = [
    "password",
    "secret",
    "pinCode",
    "oneTimeCode",
    "otp",
    "keyPair",
    "privateKey",
    "privatePEMKey",
    "passkey",
    "securityQuestion",
    "paymentCard",
    "bankAccount",
    "licenseNumber",
    "trafficEncryptionSeed",
];

/// Whether a field of Keeper type `kind` holds a secret (see
/// [`HIDDEN_FIELD_TYPES`]; types compared ignoring case).
pub fn is_hidden_type(kind: &str) -> bool {
    HIDDEN_FIELD_TYPES
        .iter()
        .any(|t| t.eq_ignore_ascii_case(kind.trim()))
}

/// Field names (as [`words`] of them, joined) that hold secrets.
const SECRET_NAMES: [&str; 16] = [
    "privatekey",
    "privatepemkey",
    "apikey",
    "accesskeysecret",
    "secretaccesskey",
    "accesssecretkey",
    "clientsecret",
    "keypair",
    "onetimecode",
    "pincode",
    "securityquestion",
    "paymentcard",
    "bankaccount",
    "pin",
    "otp",
    "totp",
];

/// Words that make a field name a secret's.
const SECRET_WORDS: [&str; 9] = [
    "password",
    "passwd",
    "pwd",
    "passphrase",
    "secret",
    "secrets",
    "token",
    "cookie",
    "credential",
];

/// Words that make a field a setting about a secret, or an identifier, not
/// the secret itself: `client_secret_id`, `secret_expiry_days`,
/// `token_url`, `password_complexity`, `Private Key Rotate`.
const SETTING_WORDS: [&str; 30] = [
    "id",
    "ids",
    "uid",
    "name",
    "title",
    "label",
    "type",
    "count",
    "number",
    "days",
    "hours",
    "minutes",
    "seconds",
    "expiry",
    "expires",
    "expiration",
    "date",
    "time",
    "length",
    "url",
    "uri",
    "endpoint",
    "header",
    "scheme",
    "field",
    "policy",
    "complexity",
    "rules",
    "hint",
    "version",
];

/// First words that make a field a flag or a count: `keep_previous_secrets`,
/// `rotate_secret`, `use_token`.
const SETTING_FIRST_WORDS: [&str; 14] = [
    "keep", "is", "has", "use", "enable", "enabled", "disable", "allow", "require", "rotate",
    "delete", "verify", "skip", "max",
];

/// The lower-case words of a field name: split at `_`, `-`, `.`, spaces,
/// camel-case humps and where digits start (`privatePEMKey` is `private pem
/// key`, `password2` is `password 2`).
pub fn words(key: &str) -> Vec<String> {
    let chars: Vec<char> = key.chars().collect();
    let mut words = Vec::new();
    let mut word = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            if !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
            continue;
        }
        let prev = i.checked_sub(1).map(|p| chars[p]);
        let next = chars.get(i + 1);
        let hump = (c.is_uppercase()
            && prev.is_some_and(|p| {
                p.is_lowercase()
                    || p.is_ascii_digit()
                    || (p.is_uppercase() && next.is_some_and(|n| n.is_lowercase()))
            }))
            || (c.is_ascii_digit() && prev.is_some_and(|p| !p.is_ascii_digit()));
        if hump && !word.is_empty() {
            words.push(std::mem::take(&mut word));
        }
        word.extend(c.to_lowercase());
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

/// Whether a field key names a value that must never be printed: a known
/// secret field (`password`, `client_secret`, `privatePEMKey`,
/// `aws_secret_access_key`, `accessSecretKey`, `keyPair`...), or a name with
/// a secret word (password, secret, token, passphrase...) that is not a
/// setting or an identifier (`*_id`, `*_ids`, counts, `*_days`, flags such as
/// `keep_*`, titles, urls).
pub fn names_a_secret(key: &str) -> bool {
    // Lookups ignore case and accept numbered duplicates, so a key that
    // reads as a secret's name that way is one, however its humps fall
    // (`pasSword`, `clientSECRET`).
    let flat: String = key
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_ascii_lowercase();
    let flat = flat.trim_end_matches(|c: char| c.is_ascii_digit());
    if SECRET_NAMES.contains(&flat) || SECRET_WORDS.contains(&flat) {
        return true;
    }
    let mut words = words(key);
    words.retain(|w| !w.bytes().all(|b| b.is_ascii_digit()));
    let joined: String = words.concat();
    if SECRET_NAMES.contains(&joined.as_str())
        || (joined.contains("privatekey") && !words.iter().any(|w| is_setting(w)))
    {
        return true;
    }
    let Some(first) = words.first() else {
        return false;
    };
    if SETTING_FIRST_WORDS.contains(&first.as_str()) || words.iter().any(|w| is_setting(w)) {
        return false;
    }
    words.iter().any(|w| SECRET_WORDS.contains(&w.as_str()))
        || ["api", "private", "access", "secret", "session", "auth"]
            .iter()
            .any(|head| joined.starts_with(head) && joined.ends_with("key"))
}

fn is_setting(word: &str) -> bool {
    SETTING_WORDS.contains(&word)
}

/// Registers the strings of a secret field's value with the redactor: every
/// string but a blank one or a flag word (one shorter than
/// [`MIN_REGISTERED_CHARS`] is matched as a whole word only), never numbers
/// or booleans (settings, counts, flags). A blank string is no secret, and
/// as a whole word it would match every space; a flag word (`TRUE`, `no`)
/// is the value of a setting whose name reads like a secret's
/// (`password_hash_locally`), and redacting it would hide what messages say
/// about that setting.
fn register_strings(value: &Value) -> std::result::Result<(), secret::TooMany> {
    match value {
        Value::String(s) if !s.trim().is_empty() && !is_flag_word(s) => secret::try_register(s),
        Value::Array(items) => items.iter().try_for_each(register_strings),
        Value::Object(map) => map.values().try_for_each(register_strings),
        Value::String(_) | Value::Number(_) | Value::Null | Value::Bool(_) => Ok(()),
    }
}

/// Whether `value` is a flag's word: true, false, yes, no, on, off, 1 or 0
/// (what [`Record::flag`] reads), in any case.
fn is_flag_word(value: &str) -> bool {
    ["true", "false", "yes", "no", "on", "off", "1", "0"]
        .iter()
        .any(|flag| value.trim().eq_ignore_ascii_case(flag))
}

/// Registers every string holding a private key, whatever its field's name.
fn register_private_keys(value: &Value) -> std::result::Result<(), secret::TooMany> {
    match value {
        Value::String(s) if s.contains(PRIVATE_KEY_MARKER) => secret::try_register(s),
        Value::Array(items) => items.iter().try_for_each(register_private_keys),
        Value::Object(map) => map.values().try_for_each(register_private_keys),
        Value::String(_) | Value::Number(_) | Value::Null | Value::Bool(_) => Ok(()),
    }
}

/// Whether a field's value counts as absent to a lookup: null, blank text,
/// an empty object, or a list of such ([`Record::value`] skips them).
pub fn is_blank(value: &Value) -> bool {
    is_empty(value)
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(items) => items.iter().all(is_empty),
        Value::Object(map) => map.is_empty(),
        Value::Bool(_) | Value::Number(_) => false,
    }
}

/// Where and how JSON failed to parse, without the text serde quotes from
/// the input (which may be a secret).
pub fn describe_json_error(error: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let at = format!("line {} column {}", error.line(), error.column());
    match error.classify() {
        Category::Syntax => format!("invalid JSON at {at}"),
        Category::Eof => "the JSON ends early".into(),
        Category::Data => format!("a value of the wrong type at {at}"),
        Category::Io => "it could not be read".into(),
    }
}

/// A JSON value's kind, for messages that must not show the value itself.
pub fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// One element of the `records` array. Field order matters (the first of two
/// same-named fields wins) and serde_json's `Map` may sort keys, so objects are
/// read entry by entry, keeping the order the Gateway wrote.
enum Item {
    Object(Vec<(String, Value)>),
    Other(&'static str),
}

impl<'de> serde::Deserialize<'de> for Item {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        deserializer.deserialize_any(ItemVisitor)
    }
}

struct ItemVisitor;

impl<'de> Visitor<'de> for ItemVisitor {
    type Value = Item;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a record object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Item, A::Error> {
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(8));
        while let Some((key, value)) = map.next_entry::<String, Value>()? {
            entries.push((key, value));
        }
        Ok(Item::Object(entries))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Item, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Item::Other("a list"))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> std::result::Result<Item, E> {
        Ok(Item::Other("a boolean"))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> std::result::Result<Item, E> {
        Ok(Item::Other("a number"))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> std::result::Result<Item, E> {
        Ok(Item::Other("a number"))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> std::result::Result<Item, E> {
        Ok(Item::Other("a number"))
    }

    fn visit_str<E: de::Error>(self, _: &str) -> std::result::Result<Item, E> {
        Ok(Item::Other("a string"))
    }

    fn visit_unit<E: de::Error>(self) -> std::result::Result<Item, E> {
        Ok(Item::Other("null"))
    }
}

#[cfg(test)]
mod tests;
