//! Guarded writes to AD: set or clear mS-DS-ConsistencyGuid, set the UPN, add proxy
//! addresses.
//!
//! Each write carries the value the caller (later: the plan) saw, and is refused when the
//! directory holds something else. The check is made twice: by reading first, for a clear
//! message, and inside the LDAP modify itself (delete-the-old-value plus add-the-new-value
//! is atomic on the server), so a change that lands between the read and the write still
//! makes the write fail rather than overwrite it.

use std::collections::HashSet;
use std::time::Duration;

use hardmatch_core::anchor::ObjectGuid;
use ldap3::{Ldap, Mod, Scope};

use crate::error::AdError;
use crate::ldap::{check, classify, connect, directory_entry};
use crate::reporter::Reporter;
use crate::settings::{Bind, TlsOptions};

const CONSISTENCY_GUID: &str = "mS-DS-ConsistencyGuid";
const USER_PRINCIPAL_NAME: &str = "userPrincipalName";
const PROXY_ADDRESSES: &str = "proxyAddresses";

/// A bound connection for guarded modifications.
pub struct DirectoryWriter {
    ldap: Ldap,
    url: String,
    timeout: Duration,
}

impl DirectoryWriter {
    /// Connects and binds like a read does (same TLS rules).
    pub async fn connect(
        url: &str,
        bind: &Bind,
        tls: &TlsOptions,
        timeout: Duration,
        reporter: &dyn Reporter,
    ) -> Result<Self, AdError> {
        let ldap = connect(url, bind, tls, timeout, reporter).await?;
        Ok(Self {
            ldap,
            url: url.to_owned(),
            timeout,
        })
    }

    /// Sets mS-DS-ConsistencyGuid to `new`, provided it currently holds `expected`
    /// (`None`: provided it is empty).
    pub async fn set_consistency_guid(
        &mut self,
        distinguished_name: &str,
        expected: Option<ObjectGuid>,
        new: ObjectGuid,
    ) -> Result<(), AdError> {
        let expected = expected
            .iter()
            .map(|guid| guid.ad_bytes().to_vec())
            .collect();
        let replacement = Some(new.ad_bytes().to_vec());
        self.replace_value(
            distinguished_name,
            CONSISTENCY_GUID,
            expected,
            replacement,
            render_guids,
        )
        .await
    }

    /// Removes mS-DS-ConsistencyGuid, provided it currently holds `expected`.
    pub async fn clear_consistency_guid(
        &mut self,
        distinguished_name: &str,
        expected: ObjectGuid,
    ) -> Result<(), AdError> {
        let expected = vec![expected.ad_bytes().to_vec()];
        self.replace_value(
            distinguished_name,
            CONSISTENCY_GUID,
            expected,
            None,
            render_guids,
        )
        .await
    }

    /// Sets userPrincipalName to `new`, provided it currently is `expected`.
    pub async fn set_user_principal_name(
        &mut self,
        distinguished_name: &str,
        expected: Option<&str>,
        new: &str,
    ) -> Result<(), AdError> {
        let expected = expected
            .iter()
            .map(|text| text.as_bytes().to_vec())
            .collect();
        let replacement = Some(new.as_bytes().to_vec());
        self.replace_value(
            distinguished_name,
            USER_PRINCIPAL_NAME,
            expected,
            replacement,
            render_texts,
        )
        .await
    }

    /// The guarded single-value write: refused unless the attribute holds exactly
    /// `expected`, then one modify that deletes those values and adds `replacement`, so
    /// that a change landing between the check and the modify is refused by the server too.
    async fn replace_value(
        &mut self,
        distinguished_name: &str,
        attribute: &str,
        expected: Vec<Vec<u8>>,
        replacement: Option<Vec<u8>>,
        render: fn(&[Vec<u8>]) -> String,
    ) -> Result<(), AdError> {
        let current = self.values(distinguished_name, attribute).await?;
        self.require(distinguished_name, attribute, &expected, &current, render)?;
        let mut modifications = Vec::new();
        if !expected.is_empty() {
            modifications.push(Mod::Delete(attribute.as_bytes().to_vec(), set(&expected)));
        }
        if let Some(value) = replacement {
            modifications.push(Mod::Add(attribute.as_bytes().to_vec(), set(&[value])));
        }
        self.modify(
            distinguished_name,
            attribute,
            modifications,
            expected,
            render,
        )
        .await
    }

    /// Adds proxy addresses, provided the current set is exactly `expected` (order and
    /// the case of the `SMTP:`/`smtp:` prefix matter to Exchange, so they are compared as
    /// written, ignoring only order).
    pub async fn add_proxy_addresses(
        &mut self,
        distinguished_name: &str,
        expected: &[String],
        additions: &[String],
    ) -> Result<(), AdError> {
        let current = self.values(distinguished_name, PROXY_ADDRESSES).await?;
        let expected_values: Vec<Vec<u8>> = expected
            .iter()
            .map(|text| text.as_bytes().to_vec())
            .collect();
        self.require(
            distinguished_name,
            PROXY_ADDRESSES,
            &expected_values,
            &current,
            render_texts,
        )?;
        let attribute = PROXY_ADDRESSES.as_bytes().to_vec();
        let mut modifications = Vec::new();
        // Deleting and re-adding the expected values makes the server check them
        // atomically with the addition.
        if !expected_values.is_empty() {
            modifications.push(Mod::Delete(attribute.clone(), set(&expected_values)));
        }
        let mut all = expected_values.clone();
        all.extend(additions.iter().map(|text| text.as_bytes().to_vec()));
        modifications.push(Mod::Add(attribute, set(&all)));
        self.modify(
            distinguished_name,
            PROXY_ADDRESSES,
            modifications,
            expected_values,
            render_texts,
        )
        .await
    }

    /// Closes the connection politely.
    pub async fn close(mut self) {
        let _ = self.ldap.unbind().await;
    }

    async fn values(
        &mut self,
        distinguished_name: &str,
        attribute: &str,
    ) -> Result<Vec<Vec<u8>>, AdError> {
        let result = self
            .ldap
            .with_timeout(self.timeout)
            .search(
                distinguished_name,
                Scope::Base,
                "(objectClass=*)",
                vec![attribute],
            )
            .await
            .map_err(|error| classify(&self.url, "read before write", error))?;
        let (entries, outcome) = (result.0, result.1);
        if outcome.rc == 32 {
            return Err(AdError::NoSuchEntry {
                url: self.url.clone(),
                distinguished_name: distinguished_name.to_owned(),
            });
        }
        check(&self.url, "read before write", outcome)?;
        let Some(raw) = entries.into_iter().next() else {
            return Err(AdError::NoSuchEntry {
                url: self.url.clone(),
                distinguished_name: distinguished_name.to_owned(),
            });
        };
        // Attribute options such as `;binary` do not make another attribute here either.
        Ok(directory_entry(raw)?.values(attribute).to_vec())
    }

    fn require(
        &self,
        distinguished_name: &str,
        attribute: &str,
        expected: &[Vec<u8>],
        current: &[Vec<u8>],
        render: fn(&[Vec<u8>]) -> String,
    ) -> Result<(), AdError> {
        if set(expected) == set(current) {
            return Ok(());
        }
        Err(AdError::PreconditionFailed {
            distinguished_name: distinguished_name.to_owned(),
            attribute: attribute.to_owned(),
            expected: render(expected),
            actual: render(current),
        })
    }

    async fn modify(
        &mut self,
        distinguished_name: &str,
        attribute: &str,
        modifications: Vec<Mod<Vec<u8>>>,
        expected: Vec<Vec<u8>>,
        render: fn(&[Vec<u8>]) -> String,
    ) -> Result<(), AdError> {
        let result = self
            .ldap
            .with_timeout(self.timeout)
            .modify(distinguished_name, modifications)
            .await
            .map_err(|error| classify(&self.url, "modify", error))?;
        match result.rc {
            // noSuchAttribute / attributeOrValueExists: the value changed after our read.
            16 | 20 => Err(AdError::PreconditionFailed {
                distinguished_name: distinguished_name.to_owned(),
                attribute: attribute.to_owned(),
                expected: render(&expected),
                actual: "a value that changed while writing".to_owned(),
            }),
            _ => {
                check(&self.url, "modify", result)?;
                tracing::info!(distinguished_name, attribute, "modified");
                Ok(())
            }
        }
    }
}

fn set(values: &[Vec<u8>]) -> HashSet<Vec<u8>> {
    values.iter().cloned().collect()
}

fn render_guids(values: &[Vec<u8>]) -> String {
    if values.is_empty() {
        return "no value".to_owned();
    }
    values
        .iter()
        .map(|bytes| match ObjectGuid::from_ad_slice(bytes) {
            Ok(guid) => guid.to_string(),
            Err(_) => format!("{} bytes", bytes.len()),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn render_texts(values: &[Vec<u8>]) -> String {
    if values.is_empty() {
        return "no value".to_owned();
    }
    let mut texts: Vec<String> = values
        .iter()
        .map(|bytes| format!("`{}`", String::from_utf8_lossy(bytes)))
        .collect();
    texts.sort();
    texts.join(", ")
}
