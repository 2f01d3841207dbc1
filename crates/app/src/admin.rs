//! The admin key: configured, or generated once on first start; stored hashed either way.
//!
//! A configured key (`--admin-key` / `HERALD_ADMIN_KEY`) becomes the admin key and
//! replaces the stored one, so a later start without the flag keeps accepting it; only
//! when no key was ever configured or generated is one generated and printed once.

use herald_store::Store;

const ADMIN_KEY_SETTING: &str = "admin_key_sha256";

/// The admin key hash to authenticate with; generates, stores and prints a key if none
/// is configured or stored.
pub(crate) async fn resolve_admin_key(
    store: &dyn Store,
    configured: Option<&str>,
) -> anyhow::Result<String> {
    let stored = store.get_setting(ADMIN_KEY_SETTING).await?;
    if let Some(key) = configured {
        let hash = herald_api::hash_key(key);
        if stored.as_deref() != Some(hash.as_bytes()) {
            store
                .put_setting(ADMIN_KEY_SETTING, hash.as_bytes())
                .await?;
            if stored.is_some() {
                tracing::warn!("the configured admin key replaces the stored one; the previous key no longer works");
            }
        }
        return Ok(hash);
    }
    if let Some(stored) = stored {
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

#[cfg(test)]
mod tests {
    use super::*;
    use herald_store_sled::{SledConfig, SledStore};

    #[tokio::test]
    async fn a_configured_key_is_stored_for_later_starts() {
        let dir = tempfile::tempdir().unwrap();
        let now = herald_event::Timestamp::from_millis(1_796_310_245_000);
        let store = SledStore::open(&SledConfig::temporary(dir.path()), now).unwrap();
        let walkthrough = herald_api::hash_key("adm_walkthrough_key_123456");

        let first = resolve_admin_key(&store, Some("adm_walkthrough_key_123456"))
            .await
            .unwrap();
        assert_eq!(first, walkthrough);
        // A later start without the flag keeps accepting the configured key.
        let second = resolve_admin_key(&store, None).await.unwrap();
        assert_eq!(second, walkthrough);
        // A new configured key replaces it.
        let third = resolve_admin_key(&store, Some("adm_another_key_0000000"))
            .await
            .unwrap();
        assert_eq!(third, herald_api::hash_key("adm_another_key_0000000"));
        assert_eq!(resolve_admin_key(&store, None).await.unwrap(), third);
    }

    #[tokio::test]
    async fn a_generated_key_is_kept_across_starts() {
        let dir = tempfile::tempdir().unwrap();
        let now = herald_event::Timestamp::from_millis(1_796_310_245_000);
        let store = SledStore::open(&SledConfig::temporary(dir.path()), now).unwrap();
        let generated = resolve_admin_key(&store, None).await.unwrap();
        assert_eq!(generated.len(), 64, "a sha-256 hex hash");
        assert_eq!(resolve_admin_key(&store, None).await.unwrap(), generated);
    }
}
