//! Newest-first pagination over a key prefix.
//!
//! Lists read an index in reverse key order; because generated ids and index times
//! sort by creation, that is newest first. A cursor is the hex of the last returned key
//! (minus the prefix), and the next page continues strictly below it, so pages stay
//! stable while new items are inserted at the top.

use herald_store::{Page, StoreError, StoreErrorKind};

use crate::codec::unavailable;
use crate::keys;
use crate::SledStore;

impl SledStore {
    /// Walks `prefix` newest first from `cursor`, keeping what `load` returns, up to `limit`.
    pub(crate) fn scan_page<T>(
        &self,
        prefix: &[u8],
        cursor: Option<&str>,
        limit: usize,
        mut load: impl FnMut(&[u8], &[u8]) -> Result<Option<T>, StoreError>,
    ) -> Result<Page<T>, StoreError> {
        let limit = limit.max(1);
        let end = match cursor {
            Some(cursor) => keys::key_of_cursor(cursor, prefix)
                .filter(|key| key.starts_with(prefix))
                .ok_or_else(|| {
                    StoreError::new(StoreErrorKind::InvalidCursor, "malformed cursor")
                })?,
            None => {
                let mut end = prefix.to_vec();
                end.push(0xff);
                end
            }
        };
        let mut items = Vec::with_capacity(limit.min(256));
        let mut last_key: Option<Vec<u8>> = None;
        for entry in self.db.range(prefix.to_vec()..end).rev() {
            let (key, value) = entry.map_err(unavailable("scan index"))?;
            if let Some(item) = load(&key, &value)? {
                if items.len() == limit {
                    // There is at least one more item: hand out a cursor.
                    let next_cursor = last_key.map(|key| keys::cursor_of(&key, prefix));
                    return Ok(Page { items, next_cursor });
                }
                items.push(item);
                last_key = Some(key.to_vec());
            }
        }
        Ok(Page {
            items,
            next_cursor: None,
        })
    }
}
