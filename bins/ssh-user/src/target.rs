//! The machine to connect to: the PAM Machine record's dictionary.
//!
//! Why this is its own module: the Gateway's dictionary is loosely typed.
//! `pamHostname` arrives as an object `{hostName, port}`, as a one-element
//! list holding one, or as text `host:port` (IPv6 in brackets), depending on
//! the Gateway version and how the record was made. Getting the address wrong
//! would send the admin's credential to the wrong host, so every shape is
//! parsed here, strictly, and anything else is refused (exit 2) with the field
//! and record named. `operatingSystem` must say Linux: the remote scripts are
//! POSIX shell and Linux's shadow tools.

use common::error::{Error, Location, Result};
use common::records::{self, Record, Records};
use serde_json::Value;

/// The field holding the host and port.
pub const HOSTNAME_FIELD: &str = "pamHostname";
/// The field holding the operating system.
pub const OS_FIELD: &str = "operatingSystem";
/// The SSH port when the record names none.
pub const DEFAULT_PORT: u16 = 22;

/// Host and port, as the record gave them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPort {
    /// A DNS name or an IP address, IPv6 without brackets.
    pub host: String,
    pub port: u16,
}

impl HostPort {
    /// `host:port`, IPv6 in brackets: what `connect` takes and logs show.
    pub fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// The PAM Machine record this run acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub uid: String,
    pub title: String,
    pub endpoint: HostPort,
}

impl Target {
    /// Where the machine's fields were read, for messages.
    pub fn location(&self) -> Location {
        Location::Record {
            title: self.title.clone(),
            uid: self.uid.clone(),
        }
    }

    /// The machine record: `uid == resource_uid`, else the only record other
    /// than the user record that holds `pamHostname`. Its host and port are
    /// parsed and its operating system checked.
    pub fn select(records: &Records, resource_uid: Option<&str>) -> Result<Self> {
        let record = machine_record(records, resource_uid)?;
        Self::from_record(record)
    }

    /// Reads one machine record.
    pub fn from_record(record: &Record) -> Result<Self> {
        check_os(record)?;
        let endpoint = parse_hostname(record)?;
        Ok(Self {
            uid: record.uid().to_owned(),
            title: record.title().to_owned(),
            endpoint,
        })
    }
}

fn machine_record<'r>(records: &'r Records, resource_uid: Option<&str>) -> Result<&'r Record> {
    if let Some(uid) = resource_uid.map(str::trim).filter(|u| !u.is_empty())
        && let Some(record) = records.others().find(|r| r.uid() == uid)
    {
        return Ok(record);
    }
    let candidates: Vec<&Record> = records.others().filter(|r| r.has(HOSTNAME_FIELD)).collect();
    match candidates.as_slice() {
        [one] => Ok(one),
        [] => Err(Error::Config(format!(
            "no PAM Machine record in the Gateway's input: none has uid resourceRecordUid ({}) \
             and none holds '{HOSTNAME_FIELD}'. Link the user record to its PAM Machine record \
             (the \"Resource Credential\") and rotate again",
            resource_uid.unwrap_or("absent")
        ))),
        several => Err(Error::Config(format!(
            "several records hold '{HOSTNAME_FIELD}' and none has uid resourceRecordUid ({}): {}. \
             Attach only the machine's record, or make resourceRecordUid name it",
            resource_uid.unwrap_or("absent"),
            records::describe(several.iter().copied())
        ))),
    }
}

fn check_os(record: &Record) -> Result<()> {
    match record.text(OS_FIELD)? {
        Some(os) if os.eq_ignore_ascii_case("linux") => Ok(()),
        Some(os) => Err(Error::invalid(
            OS_FIELD,
            record.location(),
            format!(
                "'{os}' is not supported: rotate-ssh-user changes Linux accounts only \
                 (set it to Linux, or use the rotation built for that system)"
            ),
        )),
        None => Err(Error::Missing {
            name: OS_FIELD.into(),
            location: record.location(),
            hint: "; set it to Linux (rotate-ssh-user changes Linux accounts only)".into(),
        }),
    }
}

/// Parses `pamHostname` in each shape the Gateway sends it.
pub fn parse_hostname(record: &Record) -> Result<HostPort> {
    let location = record.location();
    let invalid = |problem: String| Error::invalid(HOSTNAME_FIELD, location.clone(), problem);
    let Some(value) = record.value(HOSTNAME_FIELD) else {
        return Err(Error::missing(HOSTNAME_FIELD, location.clone()));
    };
    let single = match value {
        Value::Array(items) => {
            let present: Vec<&Value> = items.iter().filter(|v| !is_blank(v)).collect();
            match present.as_slice() {
                [one] => *one,
                [] => return Err(Error::missing(HOSTNAME_FIELD, location.clone())),
                _ => return Err(invalid("holds several hosts where one is expected".into())),
            }
        }
        other => other,
    };
    let endpoint = match single {
        Value::Object(map) => {
            let host = map
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("hostName") || k.as_str() == "host")
                .map(|(_, v)| v);
            let host = match host {
                Some(Value::String(s)) if !s.trim().is_empty() => s.trim(),
                Some(Value::String(_) | Value::Null) | None => {
                    return Err(invalid("the object has no hostName".into()));
                }
                Some(other) => {
                    return Err(invalid(format!(
                        "hostName is {}, expected text",
                        records::kind(other)
                    )));
                }
            };
            let port = match map.iter().find(|(k, _)| k.eq_ignore_ascii_case("port")) {
                None | Some((_, Value::Null)) => None,
                Some((_, Value::Number(n))) => Some(n.to_string()),
                Some((_, Value::String(s))) if s.trim().is_empty() => None,
                Some((_, Value::String(s))) => Some(s.trim().to_owned()),
                Some((_, other)) => {
                    return Err(invalid(format!(
                        "port is {}, expected a number",
                        records::kind(other)
                    )));
                }
            };
            // A hostName may itself carry a port ("host:2222") when the
            // port field is empty.
            let parsed = split_host_port(host).map_err(&invalid)?;
            let port = match port {
                Some(p) => parse_port(&p).map_err(&invalid)?,
                None => parsed.port,
            };
            HostPort {
                host: parsed.host,
                port,
            }
        }
        Value::String(text) => split_host_port(text.trim()).map_err(&invalid)?,
        other => {
            return Err(invalid(format!(
                "holds {}, expected {{hostName, port}} or host:port",
                records::kind(other)
            )));
        }
    };
    Ok(endpoint)
}

/// `host`, `host:port`, `[v6]`, `[v6]:port` or a bare IPv6 address.
fn split_host_port(text: &str) -> Result<HostPort, String> {
    if text.is_empty() {
        return Err("the host is empty".into());
    }
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let Some((host, after)) = rest.split_once(']') else {
            return Err("'[' without a closing ']' (write IPv6 as [addr]:port)".into());
        };
        let port = match after {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or_else(|| format!("unexpected text after ']': '{p}'"))?,
            ),
        };
        (host, port)
    } else {
        match text.matches(':').count() {
            0 => (text, None),
            1 => {
                let (h, p) = text.split_once(':').unwrap_or((text, ""));
                (h, Some(p))
            }
            // Several colons and no brackets: a bare IPv6 address.
            _ => (text, None),
        }
    };
    let host = host.trim();
    if host.is_empty() {
        return Err("the host is empty".into());
    }
    if host.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("the host contains white space".into());
    }
    let port = match port {
        Some(p) => parse_port(p)?,
        None => DEFAULT_PORT,
    };
    Ok(HostPort {
        host: host.to_owned(),
        port,
    })
}

fn parse_port(text: &str) -> Result<u16, String> {
    match text.trim().parse::<u16>() {
        Ok(0) | Err(_) => Err(format!(
            "port '{}' is not a number from 1 to 65535",
            text.trim()
        )),
        Ok(port) => Ok(port),
    }
}

fn is_blank(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.iter().all(is_blank),
        Value::Bool(_) | Value::Number(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn records(items: Value, user: Option<&str>) -> Records {
        Records::parse(items.to_string().as_bytes(), user).unwrap()
    }

    fn machine(hostname: Value) -> Records {
        records(
            json!([{"uid": "m1", "title": "Web 1", "pamHostname": hostname, "operatingSystem": "Linux"}]),
            None,
        )
    }

    fn endpoint(hostname: Value) -> Result<HostPort> {
        Target::select(&machine(hostname), Some("m1")).map(|t| t.endpoint)
    }

    fn hp(host: &str, port: u16) -> HostPort {
        HostPort {
            host: host.into(),
            port,
        }
    }

    #[test]
    fn hostname_object_with_numeric_or_text_port() {
        assert_eq!(
            endpoint(json!({"hostName": "10.0.0.5", "port": 2222})).unwrap(),
            hp("10.0.0.5", 2222)
        );
        assert_eq!(
            endpoint(json!({"hostName": "web.example", "port": "2200"})).unwrap(),
            hp("web.example", 2200)
        );
    }

    #[test]
    fn hostname_object_without_port_defaults_to_22() {
        assert_eq!(
            endpoint(json!({"hostName": "web.example", "port": ""})).unwrap(),
            hp("web.example", 22)
        );
        assert_eq!(
            endpoint(json!({"hostName": "web.example"})).unwrap(),
            hp("web.example", 22)
        );
    }

    #[test]
    fn hostname_as_one_element_list() {
        assert_eq!(
            endpoint(json!([{"hostName": "h", "port": "2022"}])).unwrap(),
            hp("h", 2022)
        );
        assert_eq!(endpoint(json!(["h:23"])).unwrap(), hp("h", 23));
    }

    #[test]
    fn hostname_as_text() {
        assert_eq!(
            endpoint(json!("h.example:2201")).unwrap(),
            hp("h.example", 2201)
        );
        assert_eq!(endpoint(json!("h.example")).unwrap(), hp("h.example", 22));
    }

    #[test]
    fn ipv6_in_brackets_with_and_without_port_and_bare() {
        assert_eq!(
            endpoint(json!("[2001:db8::1]:2222")).unwrap(),
            hp("2001:db8::1", 2222)
        );
        assert_eq!(endpoint(json!("[::1]")).unwrap(), hp("::1", 22));
        assert_eq!(endpoint(json!("fe80::1")).unwrap(), hp("fe80::1", 22));
        assert_eq!(hp("::1", 22).address(), "[::1]:22");
        assert_eq!(hp("h", 22).address(), "h:22");
    }

    #[test]
    fn bad_hostnames_are_exit_2_naming_the_field_and_record() {
        for bad in [
            json!("h:0"),
            json!("h:70000"),
            json!("h:ssh"),
            json!("[::1"),
            json!("[::1]x"),
            json!({"hostName": "", "port": 22}),
            json!({"hostName": "h", "port": true}),
            json!(["a", "b"]),
            json!(42),
            json!("bad host"),
        ] {
            let err = endpoint(bad.clone()).unwrap_err();
            assert_eq!(err.exit().code(), 2, "{bad}: {err}");
            let text = err.to_string();
            assert!(
                text.contains("pamHostname") && text.contains("uid m1"),
                "{bad}: {text}"
            );
        }
    }

    #[test]
    fn operating_system_must_be_linux() {
        let ok = records(
            json!([{"uid": "m", "title": "M", "pamHostname": "h", "operatingSystem": "LINUX"}]),
            None,
        );
        assert!(Target::select(&ok, Some("m")).is_ok());
        for os in [json!("Windows"), json!(""), Value::Null] {
            let r = records(
                json!([{"uid": "m", "title": "M", "pamHostname": "h", "operatingSystem": os}]),
                None,
            );
            let err = Target::select(&r, Some("m")).unwrap_err();
            assert_eq!(err.exit().code(), 2);
            assert!(err.to_string().contains("operatingSystem"), "{err}");
        }
        let absent = records(
            json!([{"uid": "m", "title": "M", "pamHostname": "h"}]),
            None,
        );
        let err = Target::select(&absent, Some("m")).unwrap_err();
        assert!(err.to_string().contains("set it to Linux"), "{err}");
    }

    #[test]
    fn resource_uid_wins_over_other_records_with_a_hostname() {
        let r = records(
            json!([
                {"uid": "other", "title": "Other", "pamHostname": "o", "operatingSystem": "Linux"},
                {"uid": "m", "title": "M", "pamHostname": "m", "operatingSystem": "Linux"},
            ]),
            None,
        );
        assert_eq!(Target::select(&r, Some("m")).unwrap().endpoint.host, "m");
    }

    #[test]
    fn without_resource_uid_the_only_record_with_a_hostname_is_taken() {
        let r = records(
            json!([
                {"uid": "cfg", "title": "Config"},
                {"uid": "m", "title": "M", "pamHostname": "m", "operatingSystem": "Linux"},
            ]),
            None,
        );
        let t = Target::select(&r, Some("missing")).unwrap();
        assert_eq!((t.uid.as_str(), t.title.as_str()), ("m", "M"));
    }

    #[test]
    fn several_or_no_machine_records_is_exit_2_naming_them() {
        let r = records(
            json!([
                {"uid": "a", "title": "A", "pamHostname": "a", "operatingSystem": "Linux"},
                {"uid": "b", "title": "B", "pamHostname": "b", "operatingSystem": "Linux"},
            ]),
            None,
        );
        let err = Target::select(&r, None).unwrap_err();
        assert_eq!(err.exit().code(), 2);
        let text = err.to_string();
        assert!(
            text.contains("'A' (uid a)") && text.contains("'B' (uid b)"),
            "{text}"
        );

        let none = records(json!([{"uid": "x", "title": "X"}]), None);
        let err = Target::select(&none, None).unwrap_err();
        assert!(err.to_string().contains("no PAM Machine record"), "{err}");
    }

    #[test]
    fn the_user_record_is_never_the_machine() {
        let r = records(
            json!([{"uid": "u", "title": "U", "pamHostname": "h", "operatingSystem": "Linux"}]),
            Some("u"),
        );
        assert!(Target::select(&r, Some("u")).is_err());
    }
}
