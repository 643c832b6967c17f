//! The admin application's credentials: the first source that applies,
//! logged by name (client ids only, never secrets).
//!
//! 1. An attached record (never the user record) with
//!    `application_client_id`, `client_secret`, `tenant_id`.
//! 2. The PAM configuration's dictionary in `records` with `clientId`,
//!    `clientSecret`, `tenantId`.
//! 3. The PAM configuration record fetched from the vault by
//!    `providerRecordUid` (same three fields).

use common::error::{Error, Result};
use common::gateway::GatewayInput;
use common::records::Record;
use common::secret::Secret;
use common::vault::Vault;

/// Credentials of the application that calls Graph.
#[derive(Debug, Clone)]
pub struct Admin {
    pub client_id: String,
    pub secret: Secret,
    pub tenant: String,
    /// The record holding them, and the label of its secret field.
    pub record_uid: String,
    pub secret_label: &'static str,
    pub from: String,
}

/// Finds the admin application's credentials (see the module
/// documentation). `vault` is used only for source 3.
pub fn resolve(input: &GatewayInput, vault: &mut Vault) -> Result<Admin> {
    if let Some(admin) = from_input(input)? {
        return Ok(admin);
    }
    let provider = input.provider_record_uid.as_deref();
    let Some(uid) = provider else {
        return Err(no_admin());
    };
    let record = match vault.fetch(uid) {
        Ok(record) => record,
        Err(Error::Config(_)) => return Err(no_admin()),
        Err(other) => return Err(other),
    };
    let need = |name: &str| -> Result<String> {
        record
            .text(name)?
            .ok_or_else(|| Error::missing(name, record.location()))
    };
    Ok(Admin {
        client_id: need("clientId")?,
        secret: Secret::new(need("clientSecret")?),
        tenant: need("tenantId")?,
        record_uid: record.uid().to_owned(),
        secret_label: "clientSecret",
        from: format!("the PAM configuration {} in the vault", record.location()),
    })
}

/// Sources 1 and 2, from the Gateway's input alone (a pure function of it);
/// `None` when neither applies.
pub fn from_input(input: &GatewayInput) -> Result<Option<Admin>> {
    let attached: Vec<&Record> = input
        .records
        .others()
        .filter(|r| r.has("application_client_id"))
        .collect();
    match attached.as_slice() {
        [] => {}
        [record] => {
            return Ok(Some(Admin {
                client_id: record.require_text("application_client_id")?,
                secret: record.require_secret("client_secret")?,
                tenant: record.require_text("tenant_id")?,
                record_uid: record.uid().to_owned(),
                secret_label: "client_secret",
                from: record.location().to_string(),
            }));
        }
        several => {
            return Err(Error::Config(format!(
                "several attached records hold application_client_id: {}; attach only the admin \
                 application's record",
                several
                    .iter()
                    .map(|r| r.location().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    let provider = input.provider_record_uid.as_deref();
    let mut configs: Vec<&Record> = input
        .records
        .others()
        .filter(|r| r.has("clientId"))
        .collect();
    configs.sort_by_key(|r| Some(r.uid()) != provider);
    if let Some(record) = configs.first() {
        return Ok(Some(Admin {
            client_id: record.require_text("clientId")?,
            secret: record.require_secret("clientSecret")?,
            tenant: record.require_text("tenantId")?,
            record_uid: record.uid().to_owned(),
            secret_label: "clientSecret",
            from: format!("the PAM configuration {}", record.location()),
        }));
    }
    Ok(None)
}

fn no_admin() -> Error {
    Error::Config(
        "no admin application credentials: attach a record with application_client_id, \
         client_secret and tenant_id, or use an Azure PAM configuration with clientId, \
         clientSecret and tenantId"
            .into(),
    )
}
