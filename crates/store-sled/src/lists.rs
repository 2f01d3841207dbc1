//! Newest-first pagination over a key prefix.
//!
//! Lists read an index in reverse key order; because generated ids and index times
//! sort by creation, that is newest first. A cursor is the hex of the last returned key
//! (minus the prefix) with a check that binds it to the prefix (`keys::cursor_of`), and
//! the next page continues strictly below it, so pages stay stable while new items are
//! inserted at the top.

use std::collections::BTreeSet;

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
        load: impl FnMut(&[u8], &[u8]) -> Result<Option<T>, StoreError>,
    ) -> Result<Page<T>, StoreError> {
        self.scan_page_within(prefix, cursor, limit, (usize::MAX, |_| 0), load)
    }

    /// Like `scan_page`, and also ends the page (with a cursor) once the items kept
    /// weigh `budget.0` by `budget.1`; a page holds at least one item.
    pub(crate) fn scan_page_within<T>(
        &self,
        prefix: &[u8],
        cursor: Option<&str>,
        limit: usize,
        budget: (usize, impl Fn(&T) -> usize),
        mut load: impl FnMut(&[u8], &[u8]) -> Result<Option<T>, StoreError>,
    ) -> Result<Page<T>, StoreError> {
        let (max_weight, weigh) = budget;
        let mut weight = 0usize;
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
                if items.len() == limit || weight >= max_weight {
                    // There is at least one more item: hand out a cursor.
                    let next_cursor = last_key.map(|key| keys::cursor_of(&key, prefix));
                    return Ok(Page { items, next_cursor });
                }
                weight = weight.saturating_add(weigh(&item));
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

/// A newest-first page over ids gathered in memory, with `scan_page`'s cursor format
/// as if the ids were keys under `prefix` (the prefix of the items' records, so that
/// a cursor means the same position here as in the list over all of them): `load`
/// reads an id's item, or `None` to skip it.
pub(crate) fn page_of_ids<T>(
    prefix: &[u8],
    ids: &BTreeSet<Vec<u8>>,
    cursor: Option<&str>,
    limit: usize,
    mut load: impl FnMut(&[u8]) -> Result<Option<T>, StoreError>,
) -> Result<Page<T>, StoreError> {
    let end = cursor
        .map(|cursor| {
            keys::key_of_cursor(cursor, prefix)
                .map(|key| key[prefix.len()..].to_vec())
                .ok_or_else(|| StoreError::new(StoreErrorKind::InvalidCursor, "malformed cursor"))
        })
        .transpose()?;
    let limit = limit.max(1);
    let mut items = Vec::new();
    let mut last: Option<&[u8]> = None;
    // Starts below the cursor: a page does not walk the pages before it.
    let below = match end {
        Some(end) => ids.range::<Vec<u8>, _>(..end),
        None => ids.range::<Vec<u8>, _>(..),
    };
    for id in below.rev() {
        if let Some(item) = load(id)? {
            if items.len() == limit {
                let next_cursor = last.map(|last| {
                    let mut key = prefix.to_vec();
                    key.extend_from_slice(last);
                    keys::cursor_of(&key, prefix)
                });
                return Ok(Page { items, next_cursor });
            }
            items.push(item);
            last = Some(id);
        }
    }
    Ok(Page {
        items,
        next_cursor: None,
    })
}
