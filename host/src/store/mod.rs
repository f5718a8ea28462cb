//! The host's store: contacts, consent, opt-outs, campaigns, jobs and their full
//! state history, delivery reports, inbound messages, keywords and device status.
//!
//! It lives in one SQLite file (bundled SQLite, WAL journal: the embedded default) or
//! in a PostgreSQL database that several hosts share ([`Location`]). The statements
//! are the same on both engines ([`db`]); the schema is written once, in SQLite's
//! words, and given to PostgreSQL through [`schema::postgres`].
//!
//! Every state change is one transaction: a crash (even `SIGKILL`) at any point leaves
//! the database either before or after the change, never half-way. A device event and
//! the device's "last event stored" mark are written in the same transaction, so an
//! event is applied exactly once however often the link delivers it again.
//!
//! Times are UTC seconds since 1970 ([`UtcInstant`]); the demo runs on virtual time.
//! The schema's version is SQLite's `user_version` or PostgreSQL's `relais_schema`
//! table, and [`Store::open_at`] migrates older stores and refuses newer ones.

mod dashboard;
pub mod db;
mod events;
mod http;
mod jobs;
pub mod schema;
#[cfg(test)]
pub(crate) mod testing;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use relais_core::compliance::decision::{
    Class, Consent, ConsentStatus, OptOutScope, Recent, SendLog, Suppression,
};
use relais_core::compliance::number::Msisdn;
use relais_core::compliance::tz::UtcInstant;
use relais_core::link::msg::{EventEpoch, EventId};
use rusqlite::ErrorCode;

use db::{Db, DbError, DbResult, Engine, OptionalExt as _, Row, params};
pub use events::{Applied, BrandNames, RetryPolicy, failure_name, keyword_kind_name, refusal_name};
pub use http::{
    CallbackView, HistoryStep, InboundView, MessageFilter, MessageView, RecipientRow, WebhookRow,
};
pub use jobs::{Change, JobRow, JobState, NewJob, Origin, key_of, split_key};

/// The schema version this build writes.
pub const SCHEMA_VERSION: u32 = schema::MIGRATIONS.len() as u32;

/// The PostgreSQL notification channel of opt-out changes: `opt-out|opt-in NUMBER BRAND`.
pub const OPTOUT_CHANNEL: &str = "relais_optouts";

/// Brand name that stands for every brand in the opt-out table (STOPALL).
pub const ALL_BRANDS: &str = "*";

/// Where a store lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// A SQLite file.
    File(PathBuf),
    /// A private SQLite database in memory (tests, dry runs).
    Memory,
    /// A PostgreSQL database: a `postgres://` URL or a `host=... dbname=...` string.
    Postgres(String),
}

impl Location {
    /// `postgres://...` or `postgresql://...` is PostgreSQL; anything else is a SQLite
    /// file, relative to `base`.
    pub fn parse(text: &str, base: &Path) -> Location {
        let t = text.trim();
        if t.starts_with("postgres://") || t.starts_with("postgresql://") {
            Location::Postgres(t.to_string())
        } else if t == ":memory:" {
            Location::Memory
        } else {
            Location::File(base.join(t))
        }
    }
}

impl fmt::Display for Location {
    /// The file, or the PostgreSQL address without its password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::File(p) => write!(f, "{}", p.display()),
            Location::Memory => f.write_str(":memory:"),
            Location::Postgres(url) => f.write_str(&redact_password(url)),
        }
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`; `password=x` → `password=***`.
fn redact_password(url: &str) -> String {
    if let Some(rest) = url.split_once("://").map(|(_, r)| r) {
        let scheme = &url[..url.len() - rest.len()];
        let (auth, tail) = match rest.find('@') {
            Some(at) if !rest[..at].contains('/') => (&rest[..at], &rest[at..]),
            _ => return url.to_string(),
        };
        return match auth.split_once(':') {
            Some((user, _)) => format!("{scheme}{user}:***{tail}"),
            None => url.to_string(),
        };
    }
    url.split_whitespace()
        .map(|kv| match kv.split_once('=') {
            Some(("password", _)) => "password=***".to_string(),
            _ => kv.to_string(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// What went wrong with the store.
#[derive(Debug)]
pub enum StoreError {
    /// The file is not a SQLite database, or is damaged.
    Corrupt {
        /// The file.
        path: PathBuf,
        /// SQLite's words.
        detail: String,
    },
    /// Another process holds the database locked for longer than the busy timeout.
    Locked {
        /// The file.
        path: PathBuf,
    },
    /// The store was written by a newer relais.
    Newer {
        /// The store.
        at: String,
        /// Its schema version.
        version: u32,
    },
    /// The file could not be opened or created.
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        detail: String,
    },
    /// The database server cannot be reached, or the connection to it was lost: the
    /// statement did not run (a transaction in progress was rolled back). Trying
    /// again later may work.
    Unreachable {
        /// The server, without its password.
        at: String,
        /// Why.
        detail: String,
    },
    /// A request the store refuses (unknown campaign, bad state change, ...).
    Invalid(String),
    /// Any other database error.
    Sql(DbError),
}

impl StoreError {
    /// True when the database could not be reached: the caller may wait and try again.
    pub fn is_unreachable(&self) -> bool {
        matches!(self, StoreError::Unreachable { .. })
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Corrupt { path, detail } => write!(
                f,
                "{} is not a usable relais database ({detail}); nothing was changed. Restore a backup or point `database` in the config at a new file",
                path.display()
            ),
            StoreError::Locked { path } => write!(
                f,
                "{} is locked by another process (is a `relais run` or `relais direct` daemon using it?); nothing was changed",
                path.display()
            ),
            StoreError::Newer { at, version } => write!(
                f,
                "{at} has schema version {version}, newer than this relais understands ({SCHEMA_VERSION}); upgrade relais"
            ),
            StoreError::Open { path, detail } => {
                write!(f, "cannot open database {}: {detail}", path.display())
            }
            StoreError::Unreachable { at, detail } => {
                write!(f, "database {at} is unreachable: {detail}")
            }
            StoreError::Invalid(msg) => f.write_str(msg),
            StoreError::Sql(e) => write!(f, "database error: {e}"),
        }
    }
}

impl std::error::Error for StoreError {}

impl From<DbError> for StoreError {
    fn from(e: DbError) -> Self {
        if e.is_connection_lost() {
            return StoreError::Unreachable {
                at: "server".into(),
                detail: e.to_string(),
            };
        }
        StoreError::Sql(e)
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Sql(DbError::from(e))
    }
}

/// Result of store operations.
pub type Result<T> = std::result::Result<T, StoreError>;

/// A contact.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Contact {
    /// Row id.
    pub id: i64,
    /// E.164 number.
    pub number: String,
    /// First name (may be empty).
    pub first_name: String,
    /// Last name (may be empty).
    pub last_name: String,
    /// Other fields from the import, for templates.
    pub fields: serde_json::Map<String, serde_json::Value>,
    /// Verified time zone, when known.
    pub zone: Option<String>,
    /// Verified French department, when known.
    pub department: Option<u8>,
}

impl Contact {
    /// The value of template field `name`: `first_name`, `last_name`, `number`, or an
    /// imported column.
    pub fn field(&self, name: &str) -> Option<&str> {
        match name {
            "first_name" => Some(&self.first_name),
            "last_name" => Some(&self.last_name),
            "number" => Some(&self.number),
            _ => self.fields.get(name).and_then(|v| v.as_str()),
        }
    }
}

/// A contact to insert or update.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NewContact {
    /// E.164 number (validated by the caller).
    pub number: String,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// Other fields.
    pub fields: serde_json::Map<String, serde_json::Value>,
    /// Verified time zone.
    pub zone: Option<String>,
    /// Verified French department.
    pub department: Option<u8>,
}

/// Consent as recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsentRecord {
    /// The number.
    pub number: String,
    /// The brand.
    pub brand: String,
    /// Its status.
    pub status: ConsentStatus,
    /// Where it came from (`import:contacts.csv`, `cli`, a URL, ...).
    pub source: String,
    /// When it was recorded.
    pub at: UtcInstant,
}

/// An opt-out as recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OptOut {
    /// The number.
    pub number: String,
    /// The brand, or [`ALL_BRANDS`].
    pub brand: String,
    /// The keyword that caused it, when it came by SMS.
    pub keyword: Option<String>,
    /// Its matching tier (docs/compliance.md § Normalisation and matching), when it came by SMS.
    pub tier: Option<u8>,
    /// `sms:<device>`, `cli`, `import:<file>`.
    pub source: String,
    /// When.
    pub at: UtcInstant,
}

/// Campaign status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CampaignStatus {
    /// Imported, not started.
    Draft,
    /// Its jobs are dispatched.
    Running,
    /// Its jobs wait.
    Paused,
}

impl CampaignStatus {
    /// The stored name.
    pub const fn name(self) -> &'static str {
        match self {
            CampaignStatus::Draft => "draft",
            CampaignStatus::Running => "running",
            CampaignStatus::Paused => "paused",
        }
    }

    fn parse(text: &str) -> CampaignStatus {
        match text {
            "running" => CampaignStatus::Running,
            "paused" => CampaignStatus::Paused,
            _ => CampaignStatus::Draft,
        }
    }
}

/// A campaign.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Campaign {
    /// Row id.
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// Template with `{field}` placeholders.
    pub template: String,
    /// Message class.
    pub class: Class,
    /// Brand.
    pub brand: String,
    /// Categories, comma separated.
    pub categories: String,
    /// Status.
    pub status: CampaignStatus,
    /// Created at.
    pub created_at: UtcInstant,
}

/// A campaign to create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewCampaign {
    /// Unique name.
    pub name: String,
    /// Template.
    pub template: String,
    /// Class.
    pub class: Class,
    /// Brand.
    pub brand: String,
    /// Categories, comma separated.
    pub categories: String,
}

/// An inbound SMS as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InboundRow {
    /// The device or modem that received it.
    pub device: String,
    /// Sender.
    pub sender: String,
    /// Text.
    pub text: String,
    /// Service-centre time.
    pub at: UtcInstant,
}

/// A device or modem as the store knows it.
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceRow {
    /// Its name.
    pub name: String,
    /// Its boot id at the last handshake.
    pub boot: Option<u32>,
    /// The last event stored from it.
    pub last_event: Option<u32>,
    /// The epoch of its event store (of `last_event`).
    pub epoch: Option<u32>,
    /// When its event store last changed to another epoch, if it ever did.
    pub epoch_changed_at: Option<UtcInstant>,
    /// The last status it reported (JSON).
    pub status: serde_json::Value,
    /// When the row last changed.
    pub updated_at: UtcInstant,
}

/// The store: one connection to its database.
pub struct Store {
    db: Db,
    location: Location,
    /// Inside [`Store::batch`]: transactions are savepoints of the batch's one.
    in_batch: bool,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("location", &self.location.to_string())
            .finish()
    }
}

/// Maps a database error at `location` to the store's words for it.
fn classify(location: &Location, e: DbError) -> StoreError {
    let path = match location {
        Location::File(p) => p.clone(),
        Location::Memory => PathBuf::from(":memory:"),
        Location::Postgres(_) => {
            return match e {
                e if e.is_connection_lost() => StoreError::Unreachable {
                    at: location.to_string(),
                    detail: e.to_string(),
                },
                e => StoreError::Sql(e),
            };
        }
    };
    let code = match &e {
        DbError::Sqlite(s) => s.sqlite_error_code(),
        _ => None,
    };
    match code {
        Some(ErrorCode::NotADatabase) | Some(ErrorCode::DatabaseCorrupt) => StoreError::Corrupt {
            path,
            detail: e.to_string(),
        },
        Some(ErrorCode::DatabaseBusy) | Some(ErrorCode::DatabaseLocked) => {
            StoreError::Locked { path }
        }
        Some(ErrorCode::CannotOpen)
        | Some(ErrorCode::ReadOnly)
        | Some(ErrorCode::PermissionDenied) => StoreError::Open {
            path,
            detail: e.to_string(),
        },
        _ => StoreError::Sql(e),
    }
}

impl Store {
    /// Opens (or creates) the SQLite database at `path`: see [`Store::open_at`].
    pub fn open(path: &Path) -> Result<Store> {
        Store::open_at(&Location::File(path.to_owned()))
    }

    /// A private in-memory store (tests, dry runs).
    pub fn open_in_memory() -> Result<Store> {
        Store::open_at(&Location::Memory)
    }

    /// Opens the store at `location` and migrates it to [`SCHEMA_VERSION`].
    ///
    /// SQLite: the file is created when missing and put in WAL mode; a file that is
    /// not a database, is damaged, or is locked by another writer for more than 5 s is
    /// refused with a clear error and left as it is. PostgreSQL: the database must
    /// exist; the schema is created in it on first use. Both: a store from a newer
    /// relais is refused.
    pub fn open_at(location: &Location) -> Result<Store> {
        let err = |e| classify(location, e);
        let db = match location {
            Location::File(path) => {
                if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(parent).map_err(|e| StoreError::Open {
                        path: path.to_owned(),
                        detail: format!("cannot create {}: {e}", parent.display()),
                    })?;
                }
                Db::sqlite(rusqlite::Connection::open(path).map_err(|e| err(e.into()))?)
            }
            Location::Memory => Db::sqlite(rusqlite::Connection::open_in_memory()?),
            Location::Postgres(config) => {
                Db::postgres(config).map_err(|e| StoreError::Unreachable {
                    at: location.to_string(),
                    detail: e.to_string(),
                })?
            }
        };
        let mut store = Store {
            db,
            location: location.clone(),
            in_batch: false,
        };
        store.setup()?;
        Ok(store)
    }

    fn setup(&mut self) -> Result<()> {
        let location = self.location.clone();
        let err = |e| classify(&location, e);
        if let Some(conn) = self.db.as_sqlite() {
            conn.busy_timeout(Duration::from_secs(5))
                .map_err(|e| err(e.into()))?;
            // Reading the header is what fails on a file that is not a database.
            let version: u32 = self
                .db
                .query_value("PRAGMA user_version", params![])
                .map_err(err)?;
            if version > SCHEMA_VERSION {
                return Err(StoreError::Newer {
                    at: location.to_string(),
                    version,
                });
            }
            let mode: String = self
                .db
                .query_value("PRAGMA journal_mode = WAL", params![])
                .map_err(err)?;
            if mode != "wal" && mode != "memory" {
                tracing::warn!(%mode, "database is not in WAL mode");
            }
            self.db
                .execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")
                .map_err(err)?;
            if version < SCHEMA_VERSION {
                self.db.execute_batch("BEGIN IMMEDIATE").map_err(err)?;
                let out = schema::migrate_sqlite(&self.db, version);
                self.finish(out.map_err(err))?;
            }
            return Ok(());
        }
        // PostgreSQL: one host migrates at a time (the others wait on the lock, then
        // find the schema current).
        self.db.execute_batch("BEGIN").map_err(err)?;
        let out = schema::migrate_postgres(&self.db).map_err(err);
        let out = match out {
            Ok(v) if v > SCHEMA_VERSION => Err(StoreError::Newer {
                at: location.to_string(),
                version: v,
            }),
            other => other.map(|_| ()),
        };
        self.finish(out)
    }

    /// Commits when `out` is Ok, rolls back otherwise.
    fn finish<T>(&self, out: Result<T>) -> Result<T> {
        match out {
            Ok(v) => {
                if let Err(e) = self.db.execute_batch("COMMIT") {
                    let _ = self.db.execute_batch("ROLLBACK");
                    return Err(classify(&self.location, e));
                }
                Ok(v)
            }
            Err(e) => {
                let _ = self.db.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }

    /// Where the store lives.
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// The engine the store runs on.
    pub fn engine(&self) -> Engine {
        self.db.engine()
    }

    /// The database file (`None` for PostgreSQL and in-memory stores).
    pub fn path(&self) -> Option<&Path> {
        match &self.location {
            Location::File(p) => Some(p),
            _ => None,
        }
    }

    fn begin(&self) -> Result<()> {
        let sql = match self.db.engine() {
            Engine::Sqlite => "BEGIN IMMEDIATE",
            Engine::Postgres => "BEGIN",
        };
        self.db
            .execute_batch(sql)
            .map_err(|e| classify(&self.location, e))
    }

    /// Runs `f` in one transaction (SQLite: immediate, so it holds the write lock
    /// from the start); nothing it wrote stays if it fails. Inside [`Store::batch`] it
    /// is a savepoint of the batch's transaction.
    pub fn transaction<T>(&mut self, f: impl FnOnce(&Db) -> Result<T>) -> Result<T> {
        if self.in_batch {
            return self.savepoint("relais_step", |s| f(&s.db));
        }
        self.begin()?;
        let out = f(&self.db);
        self.finish(out)
    }

    /// Runs `f` under a savepoint of the current transaction.
    fn savepoint<T>(&mut self, name: &str, f: impl FnOnce(&mut Store) -> Result<T>) -> Result<T> {
        let location = self.location.clone();
        self.db
            .execute_batch(&format!("SAVEPOINT {name}"))
            .map_err(|e| classify(&location, e))?;
        match f(self) {
            Ok(out) => {
                self.db
                    .execute_batch(&format!("RELEASE {name}"))
                    .map_err(|e| classify(&location, e))?;
                Ok(out)
            }
            Err(e) => {
                let _ = self
                    .db
                    .execute_batch(&format!("ROLLBACK TO {name}; RELEASE {name}"));
                Err(e)
            }
        }
    }

    /// Runs `f` over the store in one transaction, committed once at the end (a group
    /// commit: many requests, one write to disk). Each [`Store::transaction`] inside it
    /// is a savepoint: one that fails leaves the others. When `f` fails nothing stays.
    pub fn batch<T>(&mut self, f: impl FnOnce(&mut Store) -> Result<T>) -> Result<T> {
        if self.in_batch {
            return f(self);
        }
        self.begin()?;
        self.in_batch = true;
        let out = f(self);
        self.in_batch = false;
        self.finish(out)
    }

    /// Runs `f` over the store as one step: inside [`Store::batch`] a savepoint (all
    /// of it stays or none), outside it one transaction.
    pub fn batch_step<T>(&mut self, f: impl FnOnce(&mut Store) -> Result<T>) -> Result<T> {
        if !self.in_batch {
            return self.batch(f);
        }
        self.savepoint("relais_batch_step", f)
    }

    /// Reads with `f` from one snapshot of the database (reports: every figure from
    /// the same instant, whatever the other hosts write meanwhile).
    pub fn snapshot<T>(&self, f: impl FnOnce(&Store) -> Result<T>) -> Result<T> {
        if self.in_batch {
            return f(self);
        }
        let begin = match self.db.engine() {
            Engine::Sqlite => "BEGIN DEFERRED",
            Engine::Postgres => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
        };
        self.db
            .execute_batch(begin)
            .map_err(|e| classify(&self.location, e))?;
        let out = f(self);
        self.finish(out)
    }

    /// Makes every commit wait until it is on disk (SQLite `synchronous = FULL`;
    /// PostgreSQL's default already does), for a process that answers "accepted" only
    /// after its commit: a power cut then loses nothing that was answered. Group
    /// commits ([`Store::batch`]) keep it fast.
    pub fn set_durable(&mut self) -> Result<()> {
        if self.db.engine() == Engine::Sqlite {
            self.db.execute_batch("PRAGMA synchronous = FULL")?;
        }
        Ok(())
    }

    /// Calls `f` with (number, brand, opted out) for every opt-out and opt-in any
    /// process commits to this store from now on (PostgreSQL `LISTEN`, on the
    /// connection's thread; again after reconnects). False on SQLite, whose other
    /// processes cannot tell: there the periodic comparison of lists finds them.
    pub fn on_optout_change(
        &self,
        f: impl Fn(&str, &str, bool) + Send + Sync + 'static,
    ) -> Result<bool> {
        let listener: db::Listener = Arc::new(move |_channel: &str, payload: &str| {
            let mut words = payload.splitn(3, ' ');
            if let (Some(action), Some(number), Some(brand)) =
                (words.next(), words.next(), words.next())
            {
                f(number, brand, action == "opt-out");
            }
        });
        Ok(self.db.listen(OPTOUT_CHANNEL, listener)?)
    }

    /// The database connection, for reports and the HTTP gateway's own tables.
    pub fn db(&self) -> &Db {
        &self.db
    }

    // ----- contacts -------------------------------------------------------------

    /// Inserts or updates contacts (by number) in one transaction; returns how many
    /// were new.
    pub fn upsert_contacts(&mut self, rows: &[NewContact], now: UtcInstant) -> Result<usize> {
        self.transaction(|tx| upsert_contacts(tx, rows, now))
    }

    /// The contact with this number.
    pub fn contact(&self, number: &str) -> Result<Option<Contact>> {
        self.db
            .query_row(
                "SELECT id, number, first_name, last_name, fields, zone, department
                 FROM contacts WHERE number = ?1",
                [number],
                contact_row,
            )
            .optional()
            .map_err(Into::into)
    }

    /// Contacts in number order, at most `limit`.
    pub fn contacts(&self, limit: usize) -> Result<Vec<Contact>> {
        let mut st = self.db.prepare(
            "SELECT id, number, first_name, last_name, fields, zone, department
             FROM contacts ORDER BY number LIMIT ?1",
        )?;
        let rows = st.query_map([limit as i64], contact_row)?;
        Ok(rows)
    }

    /// Number of contacts.
    pub fn contact_count(&self) -> Result<u64> {
        Ok(self
            .db
            .query_value::<i64>("SELECT count(*) FROM contacts", params![])? as u64)
    }

    /// Removes a contact (its jobs and history stay); true when it existed.
    pub fn remove_contact(&mut self, number: &str) -> Result<bool> {
        self.transaction(|tx| {
            Ok(tx.execute("DELETE FROM contacts WHERE number = ?1", [number])? > 0)
        })
    }

    // ----- consent -------------------------------------------------------------

    /// Records consent for `number` and `brand`.
    pub fn set_consent(&mut self, record: &ConsentRecord) -> Result<()> {
        self.transaction(|tx| set_consent(tx, record))
    }

    /// Recorded consent for `number` and `brand`.
    pub fn consent_of(&self, number: &str, brand: &str) -> Result<Option<ConsentRecord>> {
        self.db
            .query_row(
                "SELECT number, brand, status, source, at FROM consents
                 WHERE number = ?1 AND brand = ?2",
                [number, brand],
                consent_row,
            )
            .optional()
            .map_err(Into::into)
    }

    /// Every consent record, by number.
    pub fn consents(&self) -> Result<Vec<ConsentRecord>> {
        let mut st = self.db.prepare(
            "SELECT number, brand, status, source, at FROM consents ORDER BY number, brand",
        )?;
        let rows = st.query_map(params![], consent_row)?;
        Ok(rows)
    }

    // ----- opt-outs -------------------------------------------------------------

    /// Records an opt-out (brand or [`ALL_BRANDS`]); false when it was already there.
    pub fn add_optout(&mut self, optout: &OptOut) -> Result<bool> {
        self.transaction(|tx| add_optout(tx, optout))
    }

    /// Removes an opt-out (the recipient opted in again); false when there was none.
    pub fn remove_optout(
        &mut self,
        number: &str,
        brand: &str,
        source: &str,
        at: UtcInstant,
    ) -> Result<bool> {
        self.transaction(|tx| remove_optout(tx, number, brand, None, source, at))
    }

    /// Current opt-outs, by number.
    pub fn optouts(&self) -> Result<Vec<OptOut>> {
        let mut st = self.db.prepare(
            "SELECT number, brand, keyword, tier, source, at FROM optouts ORDER BY number, brand",
        )?;
        let rows = st.query_map(params![], |r| {
            Ok(OptOut {
                number: r.get(0)?,
                brand: r.get(1)?,
                keyword: r.get(2)?,
                tier: r.get(3)?,
                source: r.get(4)?,
                at: UtcInstant(r.get(5)?),
            })
        })?;
        Ok(rows)
    }

    /// The (number, brand) pairs with an opt-in on record (START, `optout remove`) and
    /// no opt-out now: entries a device may drop from its suppression list.
    pub fn opt_ins(&self) -> Result<Vec<(String, String)>> {
        let mut st = self.db.prepare(
            "SELECT DISTINCT l.number, l.brand FROM optout_log l
             WHERE l.action = 'opt-in'
               AND NOT EXISTS (SELECT 1 FROM optouts o
                               WHERE o.number = l.number AND o.brand = l.brand)
             ORDER BY l.number, l.brand",
        )?;
        let rows = st.query_map(params![], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows)
    }

    /// The opt-out covering `number` for `brand`, if any.
    pub fn opted_out_of(&self, number: &str, brand: &str) -> Result<Option<OptOutScope>> {
        let found: Option<String> = self
            .db
            .query_row(
                "SELECT brand FROM optouts WHERE number = ?1 AND (brand = ?2 OR brand = '*')
                 ORDER BY brand = '*' DESC LIMIT 1",
                [number, brand],
                |r| r.get(0),
            )
            .optional()?;
        Ok(found.map(|b| {
            if b == ALL_BRANDS {
                OptOutScope::All
            } else {
                OptOutScope::Brand
            }
        }))
    }

    // ----- campaigns ------------------------------------------------------------

    /// Creates a campaign (status draft) with its jobs, in one transaction.
    pub fn create_campaign(
        &mut self,
        campaign: &NewCampaign,
        jobs: &[NewJob],
        now: UtcInstant,
    ) -> Result<i64> {
        self.transaction(|tx| {
            let id = insert_campaign(tx, campaign, now)?;
            for job in jobs {
                jobs::insert(tx, Some(id), job, now)?;
            }
            Ok(id)
        })
    }

    /// The campaign called `name`.
    pub fn campaign(&self, name: &str) -> Result<Option<Campaign>> {
        self.db
            .query_row(
                "SELECT id, name, template, class, brand, categories, status, created_at
                 FROM campaigns WHERE name = ?1",
                [name],
                campaign_row,
            )
            .optional()
            .map_err(Into::into)
    }

    /// Every campaign, oldest first.
    pub fn campaigns(&self) -> Result<Vec<Campaign>> {
        let mut st = self.db.prepare(
            "SELECT id, name, template, class, brand, categories, status, created_at
             FROM campaigns ORDER BY id",
        )?;
        let rows = st.query_map(params![], campaign_row)?;
        Ok(rows)
    }

    /// Sets a campaign's status; an unknown name is an error.
    pub fn set_campaign_status(&mut self, name: &str, status: CampaignStatus) -> Result<()> {
        self.transaction(|tx| {
            let n = tx.execute(
                "UPDATE campaigns SET status = ?1 WHERE name = ?2",
                params![status.name(), name],
            )?;
            if n == 0 {
                return Err(StoreError::Invalid(format!("no campaign named {name:?}")));
            }
            Ok(())
        })
    }

    // ----- inbound ---------------------------------------------------------------

    /// Inbound messages, newest first, at most `limit`.
    pub fn inbound(&self, limit: usize) -> Result<Vec<InboundRow>> {
        let mut st = self.db.prepare(
            "SELECT device, sender, text, at FROM inbound ORDER BY at DESC, id DESC LIMIT ?1",
        )?;
        let rows = st.query_map([limit as i64], |r| {
            Ok(InboundRow {
                device: r.get(0)?,
                sender: r.get(1)?,
                text: r.get(2)?,
                at: UtcInstant(r.get(3)?),
            })
        })?;
        Ok(rows)
    }

    // ----- devices ---------------------------------------------------------------

    /// The last event stored from `device`, and the epoch that numbered it.
    pub fn last_event(&self, device: &str) -> Result<Option<(EventEpoch, EventId)>> {
        let v: Option<(Option<i64>, Option<i64>)> = self
            .db
            .query_row(
                "SELECT epoch, last_event FROM devices WHERE name = ?1",
                [device],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        Ok(v.and_then(|(epoch, last)| {
            Some((EventEpoch(epoch.unwrap_or(0) as u32), EventId(last? as u32)))
        }))
    }

    /// Records that `device` numbers its events in `epoch` (at each handshake). When
    /// its store had another epoch, the change is logged in `device_epochs` and the
    /// event mark starts again; returns the previous epoch and the last event stored
    /// under it.
    pub fn note_epoch(
        &mut self,
        device: &str,
        epoch: EventEpoch,
        now: UtcInstant,
    ) -> Result<Option<(EventEpoch, Option<EventId>)>> {
        self.transaction(|tx| switch_epoch(tx, device, epoch, now))
    }

    /// Records a device's status (JSON, merged into what it said before) and boot.
    pub fn set_device_status(
        &mut self,
        device: &str,
        boot: Option<u32>,
        status: &serde_json::Value,
        now: UtcInstant,
    ) -> Result<()> {
        self.transaction(|tx| {
            ensure_device(tx, device, now)?;
            merge_status(tx, device, status, boot, now)
        })
    }

    /// Records that `device` connected (`up`) or was lost, for `device.up` and
    /// `device.down` webhooks and the dashboard, and keeps `connected` in its status.
    pub fn log_device(
        &mut self,
        device: &str,
        up: bool,
        detail: &str,
        now: UtcInstant,
    ) -> Result<()> {
        self.transaction(|tx| {
            ensure_device(tx, device, now)?;
            log_order(tx)?;
            tx.execute(
                "INSERT INTO device_log (device, up, detail, at) VALUES (?1, ?2, ?3, ?4)",
                params![device, up, detail, now.0],
            )?;
            merge_status(
                tx,
                device,
                &serde_json::json!({ "connected": up }),
                None,
                now,
            )
        })
    }

    /// Makes `host` the one driving `device` (see `v5_hosts.sql`), unless another host
    /// said it drives it less than `stale_after` seconds ago: then returns that host and
    /// when it said so, and changes nothing.
    pub fn claim_device(
        &mut self,
        device: &str,
        host: &str,
        now: UtcInstant,
        stale_after: i64,
    ) -> Result<Option<(String, UtcInstant)>> {
        self.transaction(|tx| {
            ensure_device(tx, device, now)?;
            let taken = tx.execute(
                "UPDATE devices SET host = ?2, host_seen = ?3 WHERE name = ?1
                   AND (host IS NULL OR host = ?2 OR host_seen IS NULL OR host_seen < ?4)",
                params![device, host, now.0, now.0 - stale_after],
            )?;
            if taken == 1 {
                return Ok(None);
            }
            let (other, seen): (Option<String>, Option<i64>) = tx.query_row(
                "SELECT host, host_seen FROM devices WHERE name = ?1",
                [device],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            Ok(Some((
                other.unwrap_or_default(),
                UtcInstant(seen.unwrap_or(0)),
            )))
        })
    }

    /// Says again that `host` drives `device`; false when another host has taken it.
    pub fn renew_device(&mut self, device: &str, host: &str, now: UtcInstant) -> Result<bool> {
        self.transaction(|tx| {
            Ok(tx.execute(
                "UPDATE devices SET host_seen = ?3 WHERE name = ?1 AND host = ?2",
                params![device, host, now.0],
            )? == 1)
        })
    }

    /// `host` no longer drives `device` (it stops cleanly): another host may take it
    /// at once.
    pub fn release_device(&mut self, device: &str, host: &str) -> Result<()> {
        self.transaction(|tx| {
            tx.execute(
                "UPDATE devices SET host = NULL, host_seen = NULL WHERE name = ?1 AND host = ?2",
                params![device, host],
            )?;
            Ok(())
        })
    }

    /// Every device the store has heard of.
    pub fn devices(&self) -> Result<Vec<DeviceRow>> {
        let mut st = self.db.prepare(
            "SELECT name, boot, last_event, status, updated_at, epoch,
                    (SELECT max(at) FROM device_epochs e
                      WHERE e.device = d.name AND e.previous IS NOT NULL)
             FROM devices d ORDER BY name",
        )?;
        let rows = st.query_map(params![], |r| {
            let status: String = r.get(3)?;
            Ok(DeviceRow {
                name: r.get(0)?,
                boot: r.get(1)?,
                last_event: r.get(2)?,
                epoch: r.get(5)?,
                epoch_changed_at: r.get::<Option<i64>>(6)?.map(UtcInstant),
                status: serde_json::from_str(&status).unwrap_or(serde_json::Value::Null),
                updated_at: UtcInstant(r.get(4)?),
            })
        })?;
        Ok(rows)
    }
}

/// Makes `epoch` the event numbering of `device`: see [`Store::note_epoch`].
pub(crate) fn switch_epoch(
    tx: &Db,
    device: &str,
    epoch: EventEpoch,
    now: UtcInstant,
) -> Result<Option<(EventEpoch, Option<EventId>)>> {
    ensure_device(tx, device, now)?;
    let (current, last): (Option<i64>, Option<i64>) = tx.query_row(
        "SELECT epoch, last_event FROM devices WHERE name = ?1",
        [device],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let epoch_value = i64::from(epoch.0);
    if current == Some(epoch_value) {
        return Ok(None);
    }
    let previous = current.map(|e| EventEpoch(e as u32));
    tx.execute(
        "INSERT INTO device_epochs (device, epoch, previous, last_before, at)
         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
        params![device, epoch_value, current, last, now.0],
    )?;
    match current {
        // A store from before epochs: its marks are this numbering's.
        None => tx.execute(
            "UPDATE devices SET epoch = ?2 WHERE name = ?1",
            params![device, epoch_value],
        )?,
        Some(_) => tx.execute(
            "UPDATE devices SET epoch = ?2, last_event = NULL, updated_at = ?3 WHERE name = ?1",
            params![device, epoch_value, now.0],
        )?,
    };
    Ok(previous.map(|p| (p, last.map(|l| EventId(l as u32)))))
}

/// Merges `status` (a JSON object) into what `device` said before (the handshake and
/// the status reports say different things: keep both), and its boot when given.
fn merge_status(
    tx: &Db,
    device: &str,
    status: &serde_json::Value,
    boot: Option<u32>,
    now: UtcInstant,
) -> Result<()> {
    let old: String = tx.query_value("SELECT status FROM devices WHERE name = ?1", [device])?;
    let mut merged = serde_json::from_str(&old).unwrap_or(serde_json::json!({}));
    match (merged.as_object_mut(), status.as_object()) {
        (Some(m), Some(new)) => m.extend(new.clone()),
        _ => merged = status.clone(),
    }
    tx.execute(
        "UPDATE devices SET status = ?2, boot = coalesce(?3, boot), updated_at = ?4 WHERE name = ?1",
        params![device, merged.to_string(), boot, now.0],
    )?;
    Ok(())
}

fn ensure_device(tx: &Db, device: &str, now: UtcInstant) -> Result<()> {
    tx.execute(
        "INSERT INTO devices (name, updated_at) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
        params![device, now.0],
    )?;
    Ok(())
}

fn upsert_contacts(tx: &Db, rows: &[NewContact], now: UtcInstant) -> Result<usize> {
    let before: i64 = tx.query_value("SELECT count(*) FROM contacts", params![])?;
    for c in rows {
        upsert_contact(tx, c, now)?;
    }
    let after: i64 = tx.query_value("SELECT count(*) FROM contacts", params![])?;
    Ok((after - before) as usize)
}

/// Creates a campaign (status draft) inside `tx`; a name in use is an error.
pub(crate) fn insert_campaign(tx: &Db, campaign: &NewCampaign, now: UtcInstant) -> Result<i64> {
    let exists = tx
        .query_row(
            "SELECT 1 FROM campaigns WHERE name = ?1",
            [&campaign.name],
            |_| Ok(()),
        )
        .optional()?
        .is_some();
    if exists {
        return Err(StoreError::Invalid(format!(
            "a campaign named {:?} already exists; choose another --name",
            campaign.name
        )));
    }
    Ok(tx.query_value(
        "INSERT INTO campaigns (name, template, class, brand, categories, status, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, 'draft', ?6) RETURNING id",
        params![
            campaign.name,
            campaign.template,
            campaign.class.name(),
            campaign.brand,
            campaign.categories,
            now.0
        ],
    )?)
}

/// Inserts or updates one contact (by number) inside `tx`.
pub(crate) fn upsert_contact(tx: &Db, c: &NewContact, now: UtcInstant) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO contacts (number, first_name, last_name, fields, zone, department, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT(number) DO UPDATE SET first_name = excluded.first_name,
             last_name = excluded.last_name, fields = excluded.fields,
             zone = coalesce(excluded.zone, contacts.zone),
             department = coalesce(excluded.department, contacts.department)",
    )?
    .execute(params![
        c.number,
        c.first_name,
        c.last_name,
        serde_json::Value::Object(c.fields.clone()).to_string(),
        c.zone,
        c.department,
        now.0
    ])?;
    Ok(())
}

/// Creates a job inside `tx`.
pub(crate) fn insert_job(
    tx: &Db,
    campaign: Option<i64>,
    job: &NewJob,
    now: UtcInstant,
) -> Result<i64> {
    jobs::insert(tx, campaign, job, now)
}

/// The consent recorded for `number` and `brand` inside `tx` (none when nothing is).
pub(crate) fn consent_in(tx: &Db, number: &str, brand: &str) -> Result<ConsentStatus> {
    let status: Option<String> = tx
        .prepare_cached("SELECT status FROM consents WHERE number = ?1 AND brand = ?2")?
        .query_row([number, brand], |r| r.get(0))
        .optional()?;
    Ok(status
        .and_then(|s| parse_consent(&s))
        .unwrap_or(ConsentStatus::None))
}

pub(crate) fn set_consent(tx: &Db, record: &ConsentRecord) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO consents (number, brand, status, source, at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT(number, brand) DO UPDATE SET status = excluded.status,
             source = excluded.source, at = excluded.at",
    )?
    .execute(params![
        record.number,
        record.brand,
        consent_name(record.status),
        record.source,
        record.at.0
    ])?;
    Ok(())
}

pub(crate) fn add_optout(tx: &Db, o: &OptOut) -> Result<bool> {
    let n = tx.execute(
        "INSERT INTO optouts (number, brand, keyword, tier, source, at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
        params![o.number, o.brand, o.keyword, o.tier, o.source, o.at.0],
    )?;
    tx.execute(
        "INSERT INTO optout_log (number, brand, action, keyword, tier, source, at)
         VALUES (?1, ?2, 'opt-out', ?3, ?4, ?5, ?6)",
        params![o.number, o.brand, o.keyword, o.tier, o.source, o.at.0],
    )?;
    if n > 0 {
        notify_optout(tx, "opt-out", &o.number, &o.brand)?;
    }
    Ok(n > 0)
}

pub(crate) fn remove_optout(
    tx: &Db,
    number: &str,
    brand: &str,
    keyword: Option<&str>,
    source: &str,
    at: UtcInstant,
) -> Result<bool> {
    let n = tx.execute(
        "DELETE FROM optouts WHERE number = ?1 AND brand = ?2",
        params![number, brand],
    )?;
    if n == 0 {
        return Ok(false);
    }
    tx.execute(
        "INSERT INTO optout_log (number, brand, action, keyword, tier, source, at)
         VALUES (?1, ?2, 'opt-in', ?3, NULL, ?4, ?5)",
        params![number, brand, keyword, source, at.0],
    )?;
    notify_optout(tx, "opt-in", number, brand)?;
    Ok(n > 0)
}

/// Key of the advisory lock that keeps the logs (`job_history`, `inbound`,
/// `device_log`) readable in id order ("relais-log").
const LOG_LOCK: i64 = 0x0072_656c_6169_736c;

/// Before a row goes into a log read by id (the callbacks' producer keeps a cursor
/// there): on PostgreSQL several hosts' transactions draw ids at once and may commit
/// them out of order, so a reader could pass an id that commits later. Writers hold
/// this lock shared until they commit; [`Store::read_logs_in_order`] takes it
/// exclusively, so it reads only when every id drawn so far is committed or gone.
/// SQLite has one writer at a time: nothing to do.
pub(crate) fn log_order(tx: &Db) -> Result<()> {
    Ok(tx.advisory_lock_shared(LOG_LOCK)?)
}

/// Inside a transaction that reads the logs by id: waits until every log row whose id
/// is drawn is committed (or rolled back), and keeps new ones from being drawn until
/// the transaction ends (see [`log_order`]).
pub(crate) fn read_logs_in_order(tx: &Db) -> Result<()> {
    if tx.engine() == Engine::Postgres {
        tx.execute("SELECT pg_advisory_xact_lock(?1)", [LOG_LOCK])?;
    }
    Ok(())
}

/// PostgreSQL: tells every listening host of an opt-out change, when `tx` commits.
fn notify_optout(tx: &Db, action: &str, number: &str, brand: &str) -> Result<()> {
    if tx.engine() == Engine::Postgres {
        tx.execute(
            "SELECT pg_notify(?1, ?2)",
            params![OPTOUT_CHANNEL, format!("{action} {number} {brand}")],
        )?;
    }
    Ok(())
}

/// The stored name of a consent status.
pub const fn consent_name(s: ConsentStatus) -> &'static str {
    match s {
        ConsentStatus::OptedIn => "opted-in",
        ConsentStatus::ExistingCustomer => "existing-customer",
        ConsentStatus::None => "none",
    }
}

/// Parses a consent status as written in files and on the command line.
pub fn parse_consent(text: &str) -> Option<ConsentStatus> {
    match text.trim().to_ascii_lowercase().as_str() {
        "opted-in" | "opted_in" | "optin" | "opt-in" | "yes" | "y" | "true" | "1" => {
            Some(ConsentStatus::OptedIn)
        }
        "existing-customer" | "existing_customer" | "customer" => {
            Some(ConsentStatus::ExistingCustomer)
        }
        "none" | "no" | "n" | "false" | "0" | "" => Some(ConsentStatus::None),
        _ => None,
    }
}

fn contact_row(r: &Row<'_>) -> DbResult<Contact> {
    let fields: String = r.get(4)?;
    let fields = match serde_json::from_str(&fields) {
        Ok(serde_json::Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    };
    Ok(Contact {
        id: r.get(0)?,
        number: r.get(1)?,
        first_name: r.get(2)?,
        last_name: r.get(3)?,
        fields,
        zone: r.get(5)?,
        department: r.get(6)?,
    })
}

fn consent_row(r: &Row<'_>) -> DbResult<ConsentRecord> {
    let status: String = r.get(2)?;
    Ok(ConsentRecord {
        number: r.get(0)?,
        brand: r.get(1)?,
        status: parse_consent(&status).unwrap_or(ConsentStatus::None),
        source: r.get(3)?,
        at: UtcInstant(r.get(4)?),
    })
}

fn campaign_row(r: &Row<'_>) -> DbResult<Campaign> {
    let class: String = r.get(3)?;
    let status: String = r.get(6)?;
    Ok(Campaign {
        id: r.get(0)?,
        name: r.get(1)?,
        template: r.get(2)?,
        class: Class::parse(&class).unwrap_or(Class::Marketing),
        brand: r.get(4)?,
        categories: r.get(5)?,
        status: CampaignStatus::parse(&status),
        created_at: UtcInstant(r.get(7)?),
    })
}

/// The store as the compliance core's view of opt-outs, consent and recent sends, for
/// the scheduler's pre-check. Errors read as "opted out" / "no consent" (fail closed).
#[derive(Debug)]
pub struct CoreView<'s>(pub &'s Store);

impl Suppression for CoreView<'_> {
    fn opted_out(&self, number: &Msisdn, brand: &str) -> Option<OptOutScope> {
        self.0
            .opted_out_of(&number.to_string(), brand)
            .unwrap_or(Some(OptOutScope::All))
    }
}

impl Consent for CoreView<'_> {
    fn consent(&self, number: &Msisdn, brand: &str) -> ConsentStatus {
        match self.0.consent_of(&number.to_string(), brand) {
            Ok(Some(r)) => r.status,
            _ => ConsentStatus::None,
        }
    }
}

impl SendLog for CoreView<'_> {
    fn sent_since(&self, number: &Msisdn, since: UtcInstant) -> Recent {
        let row: DbResult<(i64, Option<i64>)> = self.0.db.query_row(
            "SELECT count(*), min(sent_at) FROM jobs
             WHERE number = ?1 AND class = 'marketing' AND sent_at >= ?2",
            params![number.to_string(), since.0],
            |r| Ok((r.get(0)?, r.get(1)?)),
        );
        match row {
            Ok((count, first)) => Recent {
                count: count as u32,
                oldest: first.map(UtcInstant),
            },
            Err(_) => Recent {
                count: u32::MAX,
                oldest: Some(since),
            },
        }
    }
}

#[cfg(test)]
mod tests;
