//! The admin key: configured, or generated once on first start and stored hashed.

use herald_store::Store;

const ADMIN_KEY_SETTING: &str = "admin_key_sha256";

/// The admin key hash to authenticate with; generates, stores and prints a key if none
/// is configured or stored.
pub(crate) async fn resolve_admin_key(
    store: &dyn Store,
    configured: Option<&str>,
) -> anyhow::Result<String> {
    if let Some(key) = configured {
        return Ok(herald_api::hash_key(key));
    }
    if let Some(stored) = store.get_setting(ADMIN_KEY_SETTING).await? {
        return Ok(String::from_utf8(stored)?);
    }
    let key = herald_api::generate_key("hadm_");
    let hash = herald_api::hash_key(&key);
    store
        .put_setting(ADMIN_KEY_SETTING, hash.as_bytes())
        .await?;
    // Printed once, like a password reset link: only the hash is kept.
    println!("Generated admin key (shown once, store it now): {key}");
    Ok(hash)
}
