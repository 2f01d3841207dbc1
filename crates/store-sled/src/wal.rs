//! The ingest write-ahead log: accepted events are durable once their record is here.
//!
//! sled makes a write durable only by flushing its whole log, and each flush seals an
//! I/O buffer and hands it to sled's thread pool; at thousands of events per second
//! that hand-off, not the disk, was the cost (docs/performance.md). So ingest writes
//! its sled batch without flushing, and appends the same key/value pairs to this log,
//! which one thread writes and `fdatasync`s in groups: every record submitted while a
//! sync runs goes out with the next one, so one sync covers every concurrent request.
//!
//! Replay (at open) applies a record only if its guard key (the event) is absent in
//! sled. sled recovers a prefix of its own log, so if the event is present its whole
//! batch and possibly later changes are too, and re-applying would undo them; if it is
//! absent, nothing later about those keys can have reached sled's disk either.
//!
//! Checkpoint: when the current file passes [`ROTATE_BYTES`], the writer starts a new
//! file, and a helper thread flushes sled and then deletes the old file. Every record
//! in the old file was applied to sled before it was submitted (submission happens
//! under the store's ingest lock, after the apply), so that flush covers them all.
//!
//! File format: `wal-{seq:020}.log`, a sequence of frames `[len u32 LE][crc32 u32 LE]
//! [payload]`; a payload is `[count u32]` then `count` times `[klen u32][key][vlen u32]
//! [value]`, and its first pair is the guard. A torn or corrupt frame ends the file
//! (it can only be the tail written when the process died).

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use herald_store::{StoreError, StoreErrorKind};
use tokio::sync::watch;

/// A file is retired (sled flushed, file deleted) once it holds this much.
const ROTATE_BYTES: u64 = 64 << 20;

/// One write gathers at most this much before syncing.
const MAX_GROUP_BYTES: usize = 8 << 20;

/// The least time between the starts of two syncs while records keep coming.
///
/// An `fdatasync` costs about 0.1 ms of CPU here whatever it covers, and back-to-back
/// syncs under load covered two or three events each (docs/performance.md). A record
/// that arrives sooner than this after the previous sync started waits for the rest of
/// the interval, gathering what else arrives; one that arrives later is synced at once,
/// so a lone request never waits. Only while syncs cover more than one submission: a
/// single client sending one event after another is not kept waiting either (without
/// that, it got one event per 1.1 ms instead of per 0.5 ms).
const MIN_SYNC_INTERVAL: Duration = Duration::from_millis(1);

/// Key/value pairs written as one sled batch and, for ingest, one log record.
#[derive(Debug, Default)]
pub(crate) struct Puts(Vec<(Vec<u8>, Vec<u8>)>);

impl Puts {
    pub(crate) fn put(&mut self, key: Vec<u8>, value: impl Into<Vec<u8>>) {
        self.0.push((key, value.into()));
    }

    pub(crate) fn pairs(&self) -> &[(Vec<u8>, Vec<u8>)] {
        &self.0
    }

    /// Adds these pairs to a sled batch.
    pub(crate) fn add_to(&self, batch: &mut sled::Batch) {
        for (key, value) in &self.0 {
            batch.insert(key.as_slice(), value.as_slice());
        }
    }

    /// Appends one framed log record; the first pair is the guard.
    pub(crate) fn frame_into(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&[0; 8]);
        push_u32(out, self.0.len());
        for (key, value) in &self.0 {
            push_u32(out, key.len());
            out.extend_from_slice(key);
            push_u32(out, value.len());
            out.extend_from_slice(value);
        }
        let payload_len = out.len() - start - 8;
        let crc = crc32fast::hash(&out[start + 8..]);
        out[start..start + 4].copy_from_slice(&(payload_len as u32).to_le_bytes());
        out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
    }
}

fn push_u32(out: &mut Vec<u8>, value: usize) {
    // Keys and values are far below 4 GiB (events are capped by the API body limit).
    out.extend_from_slice(&(value as u32).to_le_bytes());
}

fn read_u32(bytes: &[u8], at: &mut usize) -> Option<usize> {
    let end = at.checked_add(4)?;
    let value = u32::from_le_bytes(bytes.get(*at..end)?.try_into().ok()?);
    *at = end;
    Some(value as usize)
}

fn read_slice<'b>(bytes: &'b [u8], at: &mut usize, len: usize) -> Option<&'b [u8]> {
    let end = at.checked_add(len)?;
    let slice = bytes.get(*at..end)?;
    *at = end;
    Some(slice)
}

/// One log record: its key/value pairs, the guard first.
pub(crate) type Record<'b> = Vec<(&'b [u8], &'b [u8])>;

/// Parses the frames of one file; stops at the first torn or corrupt frame and says
/// how many bytes were valid.
pub(crate) fn parse_frames(bytes: &[u8]) -> (Vec<Record<'_>>, usize) {
    let mut records = Vec::new();
    let mut at = 0;
    loop {
        let mut cursor = at;
        let (Some(len), Some(crc)) = (read_u32(bytes, &mut cursor), read_u32(bytes, &mut cursor))
        else {
            break;
        };
        let Some(payload) = read_slice(bytes, &mut cursor, len) else {
            break;
        };
        if crc32fast::hash(payload) != crc as u32 {
            break;
        }
        let Some(pairs) = parse_payload(payload) else {
            break;
        };
        records.push(pairs);
        at = cursor;
    }
    (records, at)
}

fn parse_payload(payload: &[u8]) -> Option<Record<'_>> {
    let mut at = 0;
    let count = read_u32(payload, &mut at)?;
    let mut pairs = Vec::with_capacity(count.min(1024));
    for _ in 0..count {
        let key_len = read_u32(payload, &mut at)?;
        let key = read_slice(payload, &mut at, key_len)?;
        let value_len = read_u32(payload, &mut at)?;
        let value = read_slice(payload, &mut at, value_len)?;
        pairs.push((key, value));
    }
    (at == payload.len() && !pairs.is_empty()).then_some(pairs)
}

fn io_error(context: &'static str) -> impl FnOnce(std::io::Error) -> StoreError {
    move |error| StoreError::with_source(StoreErrorKind::Unavailable, context, error)
}

fn wal_files(dir: &Path) -> Result<Vec<(u64, PathBuf)>, StoreError> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_error("list the write-ahead log"))? {
        let entry = entry.map_err(io_error("list the write-ahead log"))?;
        let name = entry.file_name();
        let Some(seq) = name
            .to_str()
            .and_then(|name| name.strip_prefix("wal-")?.strip_suffix(".log"))
            .and_then(|seq| seq.parse::<u64>().ok())
        else {
            continue;
        };
        files.push((seq, entry.path()));
    }
    files.sort();
    Ok(files)
}

fn file_name(seq: u64) -> String {
    format!("wal-{seq:020}.log")
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|dir| dir.sync_all())
        .map_err(io_error("sync the write-ahead log directory"))
}

/// Flushes sled and makes its data file durable, before a log file that backs its
/// contents is deleted. sled's `flush` ends in `sync_file_range`, which covers neither
/// the file's metadata nor the disk's cache (only sled's periodic flusher calls
/// `sync_all`), so the file is synced here too. `wal_dir` is inside sled's directory.
fn make_sled_durable(db: &sled::Db, wal_dir: &Path) -> Result<(), StoreError> {
    db.flush()
        .map_err(crate::codec::unavailable("flush sled"))?;
    let Some(data) = wal_dir.parent().map(|parent| parent.join("db")) else {
        return Ok(());
    };
    match File::open(&data) {
        Ok(file) => file.sync_all().map_err(io_error("sync sled's data file")),
        // A temporary database may keep no file by this name.
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(io_error("open sled's data file to sync it")(error)),
    }
}

/// Applies every record of the log files in `dir` whose guard key sled lacks, makes
/// sled durable, and deletes the files. Returns how many records were applied and the next
/// file sequence number.
fn replay(dir: &Path, db: &sled::Db) -> Result<(usize, u64), StoreError> {
    let files = wal_files(dir)?;
    let mut applied = 0;
    for (_, path) in &files {
        let bytes = fs::read(path).map_err(io_error("read the write-ahead log"))?;
        let (records, valid) = parse_frames(&bytes);
        if valid < bytes.len() {
            tracing::warn!(
                file = %path.display(),
                ignored_bytes = bytes.len() - valid,
                "write-ahead log ends with a torn record (written when the process stopped)"
            );
        }
        for pairs in records {
            let guard = pairs[0].0;
            let present = db
                .contains_key(guard)
                .map_err(crate::codec::unavailable("replay: read guard key"))?;
            if present {
                continue;
            }
            // Guard last, as ingest writes it (`SledStore::write_event`), so a crash
            // during replay leaves the record to be replayed again.
            for (key, value) in pairs.iter().skip(1).chain(pairs.first()) {
                db.insert(*key, *value)
                    .map_err(crate::codec::unavailable("replay: apply record"))?;
            }
            applied += 1;
        }
    }
    if !files.is_empty() {
        make_sled_durable(db, dir)?;
    }
    for (_, path) in &files {
        fs::remove_file(path).map_err(io_error("remove a replayed write-ahead log"))?;
    }
    let next = files.last().map_or(0, |(seq, _)| seq + 1);
    Ok((applied, next))
}

/// What the writer thread has made durable.
#[derive(Debug, Clone, Copy, Default)]
struct WalState {
    /// Submissions `1..=durable` are on disk.
    durable: u64,
    /// Set once a write or sync failed; the log accepts nothing after that.
    failed: bool,
}

#[derive(Debug)]
struct Submitter {
    submitted: u64,
    /// `None` only while dropping: closing the channel stops the thread.
    tx: Option<mpsc::Sender<Vec<u8>>>,
}

/// The log writer: submit framed records, then wait for their ticket.
#[derive(Debug)]
pub(crate) struct Wal {
    submitter: Mutex<Submitter>,
    state: watch::Receiver<WalState>,
    thread: Option<JoinHandle<()>>,
}

impl Wal {
    /// Replays what a previous run left in `dir` into `db`, then starts a new file.
    pub(crate) fn open(dir: &Path, db: sled::Db) -> Result<Self, StoreError> {
        fs::create_dir_all(dir).map_err(io_error("create the write-ahead log directory"))?;
        let (applied, seq) = replay(dir, &db)?;
        if applied > 0 {
            tracing::warn!(
                applied,
                "replayed accepted events from the write-ahead log (the previous run stopped before sled flushed them)"
            );
        }
        let file = create_file(dir, seq)?;
        let (state_tx, state_rx) = watch::channel(WalState::default());
        let (tx, rx) = mpsc::channel::<Vec<u8>>();
        let writer = Writer {
            dir: dir.to_path_buf(),
            db,
            file,
            seq,
            written: 0,
            checkpoint: None,
        };
        let thread = std::thread::Builder::new()
            .name("herald-wal".into())
            .spawn(move || writer.run(&rx, &state_tx))
            .map_err(io_error("start the write-ahead log thread"))?;
        Ok(Wal {
            submitter: Mutex::new(Submitter {
                submitted: 0,
                tx: Some(tx),
            }),
            state: state_rx,
            thread: Some(thread),
        })
    }

    /// Queues framed records (or an empty barrier) and returns the ticket to wait for.
    /// Tickets are durable in submission order, so a barrier submitted after a record
    /// completes no earlier than it.
    pub(crate) fn submit(&self, framed: Vec<u8>) -> Result<u64, StoreError> {
        let mut submitter = self
            .submitter
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let sent = submitter
            .tx
            .as_ref()
            .is_some_and(|tx| tx.send(framed).is_ok());
        if !sent {
            return Err(StoreError::new(
                StoreErrorKind::Unavailable,
                "the write-ahead log stopped",
            ));
        }
        submitter.submitted += 1;
        Ok(submitter.submitted)
    }

    /// Returns once submission `ticket` is on disk.
    pub(crate) async fn durable(&self, ticket: u64) -> Result<(), StoreError> {
        let mut state = self.state.clone();
        loop {
            {
                let current = *state.borrow_and_update();
                if current.durable >= ticket {
                    return Ok(());
                }
                if current.failed {
                    return Err(StoreError::new(
                        StoreErrorKind::Unavailable,
                        "writing the write-ahead log failed",
                    ));
                }
            }
            if state.changed().await.is_err() {
                return Err(StoreError::new(
                    StoreErrorKind::Unavailable,
                    "the write-ahead log stopped",
                ));
            }
        }
    }
}

impl Drop for Wal {
    /// Stops the writer after it has written everything submitted, and waits for it
    /// (it holds a sled handle; see `GroupCommit`'s `Drop`).
    fn drop(&mut self) {
        if let Ok(mut submitter) = self.submitter.lock() {
            drop(submitter.tx.take());
        }
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::error!("write-ahead log thread panicked");
            }
        }
    }
}

fn create_file(dir: &Path, seq: u64) -> Result<File, StoreError> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(file_name(seq)))
        .map_err(io_error("create a write-ahead log file"))?;
    sync_dir(dir)?;
    Ok(file)
}

/// The writer thread's state.
struct Writer {
    dir: PathBuf,
    db: sled::Db,
    file: File,
    seq: u64,
    written: u64,
    /// The thread retiring the previous file, if one is running.
    checkpoint: Option<JoinHandle<()>>,
}

impl Writer {
    fn run(mut self, rx: &mpsc::Receiver<Vec<u8>>, state: &watch::Sender<WalState>) {
        let mut group = Vec::with_capacity(1 << 16);
        let mut durable = 0u64;
        // When the previous sync started; nothing waits for the first one.
        let mut last_sync: Option<Instant> = None;
        // Submissions the previous sync covered. One means a lone writer (a client
        // sending events one after the other): it would only wait out the interval
        // for nothing, so the next record is synced at once.
        let mut last_taken = 0u64;
        while let Ok(first) = rx.recv() {
            group.clear();
            group.extend_from_slice(&first);
            let mut taken = 1u64;
            let gather_until = last_sync
                .filter(|_| last_taken > 1)
                .map(|started| started + MIN_SYNC_INTERVAL);
            while group.len() < MAX_GROUP_BYTES {
                let more = match gather_until {
                    Some(deadline) => {
                        let left = deadline.saturating_duration_since(Instant::now());
                        // Sleeps out the interval instead of waiting on the channel:
                        // a receiver waiting there is woken by every record sent, one
                        // futex wake-up and two context switches each.
                        if !left.is_zero() {
                            std::thread::sleep(left);
                        }
                        rx.try_recv().ok()
                    }
                    None => rx.try_recv().ok(),
                };
                let Some(more) = more else { break };
                group.extend_from_slice(&more);
                taken += 1;
            }
            let result = if group.is_empty() {
                // Only barriers: everything before them is already durable.
                Ok(())
            } else {
                last_sync = Some(Instant::now());
                self.file
                    .write_all(&group)
                    .and_then(|()| self.file.sync_data())
            };
            if let Err(error) = result {
                tracing::error!(%error, "write-ahead log write failed; ingest stops");
                state.send_modify(|state| state.failed = true);
                // After a failed fsync the file's state is unknown: accept nothing more.
                break;
            }
            durable += taken;
            last_taken = taken;
            state.send_modify(|state| state.durable = durable);
            self.written += group.len() as u64;
            if self.written >= ROTATE_BYTES {
                if let Err(error) = self.rotate() {
                    tracing::error!(%error, "write-ahead log rotation failed; ingest stops");
                    state.send_modify(|state| state.failed = true);
                    break;
                }
            }
        }
        if let Some(checkpoint) = self.checkpoint.take() {
            let _ = checkpoint.join();
        }
    }

    /// Starts a new file and retires the old one on a helper thread.
    fn rotate(&mut self) -> Result<(), StoreError> {
        if let Some(previous) = self.checkpoint.take() {
            let _ = previous.join();
        }
        let old = self.dir.join(file_name(self.seq));
        self.file = create_file(&self.dir, self.seq + 1)?;
        self.seq += 1;
        self.written = 0;
        let db = self.db.clone();
        let dir = self.dir.clone();
        let handle = std::thread::Builder::new()
            .name("herald-wal-checkpoint".into())
            .spawn(move || match make_sled_durable(&db, &dir) {
                Ok(_) => {
                    if let Err(error) = fs::remove_file(&old) {
                        tracing::error!(%error, file = %old.display(), "cannot remove a retired write-ahead log");
                    }
                }
                // The file stays and is replayed at the next start; nothing is lost.
                Err(error) => tracing::error!(%error, "sled flush for a checkpoint failed"),
            })
            .map_err(io_error("start the checkpoint thread"))?;
        self.checkpoint = Some(handle);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(pairs: &[(&[u8], &[u8])]) -> Vec<u8> {
        let mut puts = Puts::default();
        for (key, value) in pairs {
            puts.put(key.to_vec(), value.to_vec());
        }
        let mut out = Vec::new();
        puts.frame_into(&mut out);
        out
    }

    #[test]
    fn frames_round_trip_and_a_torn_tail_ends_the_file() {
        let mut bytes = record(&[(b"v/a", b"event a"), (b"d/1", b"")]);
        let first_len = bytes.len();
        assert_eq!(first_len, 8 + 4 + (4 + 3 + 4 + 7) + (4 + 3 + 4));
        bytes.extend(record(&[(b"v/b", b"event b")]));
        let whole = bytes.len();
        let (records, valid) = parse_frames(&bytes);
        assert_eq!(valid, whole);
        assert_eq!(
            records,
            vec![
                vec![(&b"v/a"[..], &b"event a"[..]), (&b"d/1"[..], &b""[..])],
                vec![(&b"v/b"[..], &b"event b"[..])],
            ]
        );
        // A record cut anywhere is ignored, and so is everything after it.
        for cut in first_len..whole {
            let (records, valid) = parse_frames(&bytes[..cut]);
            assert_eq!((records.len(), valid), (1, first_len), "cut at {cut}");
        }
        // A flipped bit fails the checksum.
        bytes[first_len + 12] ^= 1;
        assert_eq!(parse_frames(&bytes).1, first_len);
    }

    #[test]
    fn replay_applies_only_records_whose_guard_is_absent() {
        let dir = tempfile::tempdir().unwrap();
        let wal_dir = dir.path().join("wal");
        fs::create_dir_all(&wal_dir).unwrap();
        let db = sled::Config::new().temporary(true).open().unwrap();
        // The second event reached sled and changed since: replay must not undo that.
        db.insert(b"v/b", b"event b").unwrap();
        db.insert(b"d/b1", b"delivered").unwrap();
        let mut log = record(&[(b"v/a", b"event a"), (b"d/a1", b"pending")]);
        log.extend(record(&[(b"v/b", b"event b"), (b"d/b1", b"pending")]));
        log.extend(b"\x10\x00\x00"); // the torn start of a third record
        fs::write(wal_dir.join(file_name(7)), &log).unwrap();

        let wal = Wal::open(&wal_dir, db.clone()).unwrap();
        assert_eq!(db.get(b"v/a").unwrap().as_deref(), Some(&b"event a"[..]));
        assert_eq!(db.get(b"d/a1").unwrap().as_deref(), Some(&b"pending"[..]));
        assert_eq!(db.get(b"d/b1").unwrap().as_deref(), Some(&b"delivered"[..]));
        // The replayed file is gone and the new one continues the sequence.
        let names: Vec<u64> = wal_files(&wal_dir)
            .unwrap()
            .into_iter()
            .map(|(seq, _)| seq)
            .collect();
        assert_eq!(names, vec![8]);
        drop(wal);
    }

    #[tokio::test]
    async fn submitted_records_are_on_disk_when_their_ticket_is_durable() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::Config::new().temporary(true).open().unwrap();
        let wal = Wal::open(dir.path(), db).unwrap();
        let first = wal.submit(record(&[(b"v/x", b"1")])).unwrap();
        let barrier = wal.submit(Vec::new()).unwrap();
        let second = wal.submit(record(&[(b"v/y", b"2")])).unwrap();
        assert_eq!((first, barrier, second), (1, 2, 3));
        wal.durable(second).await.unwrap();
        wal.durable(barrier).await.unwrap();
        let bytes = fs::read(dir.path().join(file_name(0))).unwrap();
        let (records, _) = parse_frames(&bytes);
        assert_eq!(
            records,
            vec![
                vec![(&b"v/x"[..], &b"1"[..])],
                vec![(&b"v/y"[..], &b"2"[..])]
            ]
        );
    }
}
