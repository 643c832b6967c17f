//! Account lookup: the user's home directory, the first command the admin
//! runs, which also proves the admin can run one.

use common::error::{Error, Result};

use crate::admin::Admin;
use crate::conn::Conn;
use crate::remote::{self, Problem};

/// The user's home directory, which also proves the admin can run a
/// command (an expired password stops exactly here).
pub(crate) fn home_of(conn: &mut Conn, admin: &Admin, user: &str) -> Result<String> {
    let expired = |text: &str| {
        (remote::classify(text) == Some(Problem::Expired)).then(|| {
            Error::Failed(format!(
                "the password of '{}' has expired and {} demands an interactive change before \
                 running any command: {}; nothing was changed",
                admin.login,
                conn_address(admin, user),
                Problem::Expired.message()
            ))
        })
    };
    let out = match conn.exec(remote::HOME_OF, &[user], b"", false) {
        Ok(out) => out,
        Err(e) => return Err(expired(&e.to_string()).unwrap_or_else(|| e.into_error())),
    };
    let home = out.stdout.trim();
    if out.success() && !home.is_empty() {
        // The key files are found from it: something printed in getent's
        // place (a wrapper's banner) must not become a path to write in.
        if !home.starts_with('/') || home.contains('\n') {
            return Err(Error::Failed(format!(
                "the home directory of '{user}' as {} printed it is not one absolute path (a \
                 login banner or a wrapper writing to stdout?); nothing was changed",
                conn.address()
            )));
        }
        return Ok(home.to_owned());
    }
    if let Some(error) = expired(&out.text()) {
        return Err(error);
    }
    if out.success() {
        return Err(Error::Config(format!(
            "there is no user '{user}' on {} (getent passwd finds nothing): check the user \
             record's login",
            conn.address()
        )));
    }
    Err(Error::Failed(remote::failure(
        &format!("running a command as '{}'", admin.login),
        &out,
    )))
}

fn conn_address(admin: &Admin, user: &str) -> String {
    if admin.login == user {
        "the machine".into()
    } else {
        format!("the machine (as '{}')", admin.login)
    }
}
