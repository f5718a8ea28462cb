//! One connection to the store's database, SQLite or PostgreSQL, behind one small API.
//!
//! Statements are written once, in the SQL both engines share, with numbered
//! parameters (`?1`, `?2`, ...). For PostgreSQL they become `$1`, `$2`, ... and each is
//! prepared once per connection. Values cross as [`Cell`]s: integers, reals, text,
//! bytes and NULL, bound to whatever type the column has on the PostgreSQL side (an
//! `INTEGER` column there is `BIGINT`, see [`super::schema`]).
//!
//! The PostgreSQL connection is `tokio-postgres` driven by a thread of its own: the
//! store's calls are synchronous (as SQLite's are) and may come from inside the
//! host's async tasks, where blocking on another runtime is not allowed, so the
//! caller's thread only waits on the client's channel while the connection's thread
//! does the socket work. The same thread passes `LISTEN` notifications on.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::mpsc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use bytes::BytesMut;
use tokio_postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};

/// The database engine behind a [`Db`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// SQLite, one file (the embedded default).
    Sqlite,
    /// PostgreSQL, shared by several hosts.
    Postgres,
}

/// What went wrong in the database layer.
#[derive(Debug)]
pub enum DbError {
    /// SQLite said no.
    Sqlite(rusqlite::Error),
    /// PostgreSQL said no (or its connection is gone).
    Postgres(tokio_postgres::Error),
    /// A statement expected one row and found none.
    NoRow,
    /// The connection to the server was lost inside a transaction: the transaction
    /// is gone, and statements fail until it is ended.
    ConnectionLost(String),
    /// The connection settings cannot be used (a bad `sslrootcert`, no thread).
    Config(String),
    /// A column did not hold what the code reads from it.
    Decode {
        /// The column's position.
        column: usize,
        /// What was found.
        detail: String,
    },
}

impl DbError {
    /// True when the connection to the server is gone (PostgreSQL restarted, network
    /// lost): the statement did not run, and trying again later may work.
    pub fn is_connection_lost(&self) -> bool {
        match self {
            DbError::Postgres(e) => {
                e.is_closed()
                    || e.as_db_error().is_some_and(is_admin_shutdown)
                    || std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>())
            }
            DbError::ConnectionLost(_) => true,
            _ => false,
        }
    }
}

/// `57P01 admin_shutdown` and friends: the server is going away.
fn is_admin_shutdown(e: &tokio_postgres::error::DbError) -> bool {
    e.code().code().starts_with("57P") || e.code().code().starts_with("08")
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DbError::Sqlite(e) => write!(f, "{e}"),
            DbError::Postgres(e) => match e.as_db_error() {
                Some(db) => write!(f, "{}: {}", db.code().code(), db.message()),
                None => write!(f, "{e}"),
            },
            DbError::NoRow => f.write_str("no row where one was expected"),
            DbError::ConnectionLost(why) => write!(f, "connection lost: {why}"),
            DbError::Config(why) => f.write_str(why),
            DbError::Decode { column, detail } => write!(f, "column {column}: {detail}"),
        }
    }
}

impl std::error::Error for DbError {}

impl From<rusqlite::Error> for DbError {
    fn from(e: rusqlite::Error) -> Self {
        match e {
            rusqlite::Error::QueryReturnedNoRows => DbError::NoRow,
            e => DbError::Sqlite(e),
        }
    }
}

impl From<tokio_postgres::Error> for DbError {
    fn from(e: tokio_postgres::Error) -> Self {
        DbError::Postgres(e)
    }
}

/// Result of the database layer.
pub type DbResult<T> = std::result::Result<T, DbError>;

// ----- values ---------------------------------------------------------------------------

/// One value going into or coming out of a statement.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Cell<'a> {
    /// NULL.
    Null,
    /// An integer (SQLite INTEGER, PostgreSQL BIGINT/INTEGER/SMALLINT/BOOLEAN/NUMERIC).
    Int(i64),
    /// A real number.
    Real(f64),
    /// Text.
    Text(&'a str),
    /// Bytes.
    Blob(&'a [u8]),
}

/// A value that can be a statement parameter.
pub trait Param {
    /// The value as a cell.
    fn cell(&self) -> Cell<'_>;
}

macro_rules! int_param {
    ($($t:ty),*) => {$(
        impl Param for $t {
            fn cell(&self) -> Cell<'_> {
                Cell::Int(*self as i64)
            }
        }
    )*};
}
int_param!(i64, i32, i16, i8, u32, u16, u8);

impl Param for u64 {
    fn cell(&self) -> Cell<'_> {
        Cell::Int(i64::try_from(*self).unwrap_or(i64::MAX))
    }
}

impl Param for usize {
    fn cell(&self) -> Cell<'_> {
        Cell::Int(i64::try_from(*self).unwrap_or(i64::MAX))
    }
}

impl Param for bool {
    fn cell(&self) -> Cell<'_> {
        Cell::Int(i64::from(*self))
    }
}

impl Param for f64 {
    fn cell(&self) -> Cell<'_> {
        Cell::Real(*self)
    }
}

impl Param for str {
    fn cell(&self) -> Cell<'_> {
        Cell::Text(self)
    }
}

impl Param for String {
    fn cell(&self) -> Cell<'_> {
        Cell::Text(self)
    }
}

impl Param for [u8] {
    fn cell(&self) -> Cell<'_> {
        Cell::Blob(self)
    }
}

impl Param for Vec<u8> {
    fn cell(&self) -> Cell<'_> {
        Cell::Blob(self)
    }
}

impl<T: Param + ?Sized> Param for &T {
    fn cell(&self) -> Cell<'_> {
        (**self).cell()
    }
}

impl<T: Param> Param for Option<T> {
    fn cell(&self) -> Cell<'_> {
        match self {
            Some(v) => v.cell(),
            None => Cell::Null,
        }
    }
}

impl Param for Cell<'_> {
    fn cell(&self) -> Cell<'_> {
        *self
    }
}

/// Statement parameters: an array of one type (`[id]`), or `params![a, b, c]`.
pub trait Params {
    /// The values, in order.
    fn cells(&self) -> Vec<Cell<'_>>;
}

impl<T: Param, const N: usize> Params for [T; N] {
    fn cells(&self) -> Vec<Cell<'_>> {
        self.iter().map(Param::cell).collect()
    }
}

impl Params for &[&dyn Param] {
    fn cells(&self) -> Vec<Cell<'_>> {
        self.iter().map(|p| p.cell()).collect()
    }
}

/// Statement parameters of mixed types, in order: `params![a, b, c]`.
#[macro_export]
macro_rules! params {
    () => { &[] as &[&dyn $crate::store::db::Param] };
    ($($p:expr),+ $(,)?) => { &[$(&$p as &dyn $crate::store::db::Param),+] as &[&dyn $crate::store::db::Param] };
}
pub use crate::params;

/// `.optional()` on a one-row result: no row is `None` rather than an error.
pub trait OptionalExt<T> {
    /// `Ok(None)` for [`DbError::NoRow`].
    fn optional(self) -> DbResult<Option<T>>;
}

impl<T> OptionalExt<T> for DbResult<T> {
    fn optional(self) -> DbResult<Option<T>> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(DbError::NoRow) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// A type a column can be read as.
pub trait FromCell: Sized {
    /// Converts a cell, or says why not.
    fn from_cell(cell: Cell<'_>) -> Result<Self, String>;
}

impl FromCell for i64 {
    fn from_cell(cell: Cell<'_>) -> Result<Self, String> {
        match cell {
            Cell::Int(v) => Ok(v),
            Cell::Real(v) if v.fract() == 0.0 && v.abs() < 9.0e15 => Ok(v as i64),
            other => Err(format!("expected an integer, found {other:?}")),
        }
    }
}

macro_rules! int_from_cell {
    ($($t:ty),*) => {$(
        impl FromCell for $t {
            fn from_cell(cell: Cell<'_>) -> Result<Self, String> {
                let v = i64::from_cell(cell)?;
                <$t>::try_from(v).map_err(|_| format!("{v} does not fit {}", stringify!($t)))
            }
        }
    )*};
}
int_from_cell!(i32, i16, u64, u32, u16, u8, usize);

impl FromCell for bool {
    fn from_cell(cell: Cell<'_>) -> Result<Self, String> {
        Ok(i64::from_cell(cell)? != 0)
    }
}

impl FromCell for f64 {
    fn from_cell(cell: Cell<'_>) -> Result<Self, String> {
        match cell {
            Cell::Int(v) => Ok(v as f64),
            Cell::Real(v) => Ok(v),
            other => Err(format!("expected a number, found {other:?}")),
        }
    }
}

impl FromCell for String {
    fn from_cell(cell: Cell<'_>) -> Result<Self, String> {
        match cell {
            Cell::Text(s) => Ok(s.to_owned()),
            other => Err(format!("expected text, found {other:?}")),
        }
    }
}

impl FromCell for Vec<u8> {
    fn from_cell(cell: Cell<'_>) -> Result<Self, String> {
        match cell {
            Cell::Blob(b) => Ok(b.to_vec()),
            Cell::Text(s) => Ok(s.as_bytes().to_vec()),
            other => Err(format!("expected bytes, found {other:?}")),
        }
    }
}

impl<T: FromCell> FromCell for Option<T> {
    fn from_cell(cell: Cell<'_>) -> Result<Self, String> {
        match cell {
            Cell::Null => Ok(None),
            c => T::from_cell(c).map(Some),
        }
    }
}

/// One result row.
pub struct Row<'a>(RowInner<'a>);

impl fmt::Debug for Row<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Row")
    }
}

enum RowInner<'a> {
    Sqlite(&'a rusqlite::Row<'a>),
    Postgres(&'a tokio_postgres::Row),
}

impl Row<'_> {
    /// Column `i` (from 0) as a `T`.
    pub fn get<T: FromCell>(&self, i: usize) -> DbResult<T> {
        let decode = |detail| DbError::Decode { column: i, detail };
        match &self.0 {
            RowInner::Sqlite(r) => {
                let v = r.get_ref(i)?;
                let cell = match v {
                    rusqlite::types::ValueRef::Null => Cell::Null,
                    rusqlite::types::ValueRef::Integer(n) => Cell::Int(n),
                    rusqlite::types::ValueRef::Real(x) => Cell::Real(x),
                    rusqlite::types::ValueRef::Text(t) => Cell::Text(
                        std::str::from_utf8(t).map_err(|e| decode(format!("not UTF-8: {e}")))?,
                    ),
                    rusqlite::types::ValueRef::Blob(b) => Cell::Blob(b),
                };
                T::from_cell(cell).map_err(decode)
            }
            RowInner::Postgres(r) => {
                let cell: PgCell<'_> = r.try_get(i)?;
                T::from_cell(cell.0).map_err(decode)
            }
        }
    }
}

impl rusqlite::ToSql for Cell<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match *self {
            Cell::Null => ValueRef::Null,
            Cell::Int(v) => ValueRef::Integer(v),
            Cell::Real(v) => ValueRef::Real(v),
            Cell::Text(s) => ValueRef::Text(s.as_bytes()),
            Cell::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

type BoxError = Box<dyn std::error::Error + Sync + Send>;

impl ToSql for Cell<'_> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        match *self {
            Cell::Null => Ok(IsNull::Yes),
            Cell::Int(v) => match *ty {
                Type::INT8 => v.to_sql(ty, out),
                Type::INT4 => i32::try_from(v)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(v)?.to_sql(ty, out),
                Type::FLOAT8 => (v as f64).to_sql(ty, out),
                Type::FLOAT4 => (v as f32).to_sql(ty, out),
                Type::BOOL => (v != 0).to_sql(ty, out),
                Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
                    v.to_string().as_str().to_sql(&Type::TEXT, out)
                }
                _ => Err(format!("cannot bind an integer to a {ty} parameter").into()),
            },
            Cell::Real(v) => match *ty {
                Type::FLOAT8 => v.to_sql(ty, out),
                Type::FLOAT4 => (v as f32).to_sql(ty, out),
                _ => Err(format!("cannot bind a real to a {ty} parameter").into()),
            },
            Cell::Text(s) => match *ty {
                Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
                    s.to_sql(&Type::TEXT, out)
                }
                Type::JSON => {
                    out.extend_from_slice(s.as_bytes());
                    Ok(IsNull::No)
                }
                _ => Err(format!("cannot bind text to a {ty} parameter").into()),
            },
            Cell::Blob(b) => match *ty {
                Type::BYTEA => b.to_sql(ty, out),
                _ => Err(format!("cannot bind bytes to a {ty} parameter").into()),
            },
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// A PostgreSQL column value as a [`Cell`] (whatever its type).
struct PgCell<'a>(Cell<'a>);

impl<'a> FromSql<'a> for PgCell<'a> {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        Ok(PgCell(match *ty {
            Type::INT8 => Cell::Int(i64::from_sql(ty, raw)?),
            Type::INT4 => Cell::Int(i32::from_sql(ty, raw)?.into()),
            Type::INT2 => Cell::Int(i16::from_sql(ty, raw)?.into()),
            Type::OID => Cell::Int(u32::from_sql(ty, raw)?.into()),
            Type::BOOL => Cell::Int(bool::from_sql(ty, raw)?.into()),
            Type::FLOAT8 => Cell::Real(f64::from_sql(ty, raw)?),
            Type::FLOAT4 => Cell::Real(f32::from_sql(ty, raw)?.into()),
            Type::NUMERIC => numeric(raw)?,
            Type::BYTEA => Cell::Blob(raw),
            Type::JSONB => Cell::Text(std::str::from_utf8(raw.get(1..).unwrap_or(&[]))?),
            _ => Cell::Text(<&str>::from_sql(&Type::TEXT, raw)?),
        }))
    }

    fn from_sql_null(_: &Type) -> Result<Self, BoxError> {
        Ok(PgCell(Cell::Null))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// Decodes PostgreSQL's binary NUMERIC (what `sum()` of a BIGINT column returns):
/// digit count, weight, sign, scale, then base-10000 digits. Whole numbers that fit
/// come back as integers, the rest as reals.
fn numeric(raw: &[u8]) -> Result<Cell<'static>, BoxError> {
    decode_numeric(raw).map_err(Into::into)
}

/// PostgreSQL's binary NUMERIC (as the server sends `sum()` of a `BIGINT` column) as a
/// cell: whole numbers that fit are integers, the rest reals; a short or inconsistent
/// value is an error, never a panic.
pub fn decode_numeric(raw: &[u8]) -> Result<Cell<'static>, String> {
    let word = |i: usize| -> Result<i16, String> {
        let b = raw.get(i * 2..i * 2 + 2).ok_or("short NUMERIC")?;
        Ok(i16::from_be_bytes([b[0], b[1]]))
    };
    let (ndigits, weight, sign, scale) = (word(0)?, word(1)?, word(2)? as u16, word(3)?);
    if sign == 0xC000 {
        return Ok(Cell::Real(f64::NAN));
    }
    let mut value = 0f64;
    let mut whole: Option<i128> = Some(0);
    for i in 0..ndigits.max(0) as usize {
        let d = word(4 + i)?;
        let power = i32::from(weight) - i as i32;
        value += f64::from(d) * 10000f64.powi(power);
        whole = match (whole, power >= 0) {
            (Some(w), true) => 10000i128
                .checked_pow(power as u32)
                .and_then(|p| p.checked_mul(i128::from(d)))
                .and_then(|v| w.checked_add(v)),
            (w, false) if d == 0 => w,
            _ => None,
        };
    }
    let negative = sign == 0x4000;
    if scale == 0 || whole.is_some() {
        let signed = whole.and_then(|w| if negative { w.checked_neg() } else { Some(w) });
        if let Some(w) = signed.and_then(|w| i64::try_from(w).ok()) {
            return Ok(Cell::Int(w));
        }
    }
    Ok(Cell::Real(if negative { -value } else { value }))
}

// ----- statements -----------------------------------------------------------------------

/// Rewrites `?N` parameters as PostgreSQL's `$N` (outside quoted text).
pub fn postgres_sql(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut quote: Option<char> = None;
    let mut next = 1;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => {
                quote = None;
                out.push(c);
            }
            (Some(_), c) => out.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                out.push(c);
            }
            (None, '?') => {
                out.push('$');
                if chars.peek().is_some_and(char::is_ascii_digit) {
                    while let Some(d) = chars.next_if(char::is_ascii_digit) {
                        out.push(d);
                    }
                } else {
                    out.push_str(&next.to_string());
                    next += 1;
                }
            }
            (None, c) => out.push(c),
        }
    }
    out
}

/// A connection: SQLite or PostgreSQL.
pub struct Db {
    inner: Inner,
}

enum Inner {
    Sqlite(rusqlite::Connection),
    Postgres(Box<PgConn>),
}

impl fmt::Debug for Db {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Db")
            .field("engine", &self.engine())
            .finish()
    }
}

impl Db {
    /// Wraps an open SQLite connection.
    pub fn sqlite(conn: rusqlite::Connection) -> Db {
        Db {
            inner: Inner::Sqlite(conn),
        }
    }

    /// Connects to PostgreSQL (`postgres://...` or `host=... dbname=...`).
    pub fn postgres(config: &str) -> DbResult<Db> {
        Ok(Db {
            inner: Inner::Postgres(Box::new(PgConn::connect(config)?)),
        })
    }

    /// PostgreSQL: calls `listener` with each notification on `channel` (`LISTEN`),
    /// from the connection's thread, again after reconnects. Returns false on SQLite,
    /// which has no notifications.
    pub fn listen(&self, channel: &str, listener: Listener) -> DbResult<bool> {
        match &self.inner {
            Inner::Sqlite(_) => Ok(false),
            Inner::Postgres(p) => {
                *p.listener.lock().unwrap_or_else(|e| e.into_inner()) = Some(listener);
                p.batch(&format!("LISTEN {channel}"))?;
                Ok(true)
            }
        }
    }

    /// Which engine this is.
    pub fn engine(&self) -> Engine {
        match self.inner {
            Inner::Sqlite(_) => Engine::Sqlite,
            Inner::Postgres(_) => Engine::Postgres,
        }
    }

    /// The SQLite connection, when this is one.
    pub fn as_sqlite(&self) -> Option<&rusqlite::Connection> {
        match &self.inner {
            Inner::Sqlite(c) => Some(c),
            Inner::Postgres(_) => None,
        }
    }

    /// Runs statements without parameters or results, separated by `;`.
    pub fn execute_batch(&self, sql: &str) -> DbResult<()> {
        match &self.inner {
            Inner::Sqlite(c) => Ok(c.execute_batch(sql)?),
            Inner::Postgres(p) => p.batch(sql),
        }
    }

    /// PostgreSQL: holds the advisory lock `key` in shared mode until the transaction
    /// ends, taken once per transaction however often it is asked for. SQLite: nothing
    /// (one writer at a time).
    pub fn advisory_lock_shared(&self, key: i64) -> DbResult<()> {
        match &self.inner {
            Inner::Sqlite(_) => Ok(()),
            Inner::Postgres(p) => p.lock_shared(key),
        }
    }

    /// Runs one statement; returns the number of rows it changed.
    pub fn execute(&self, sql: &str, params: impl Params) -> DbResult<usize> {
        let cells = params.cells();
        match &self.inner {
            Inner::Sqlite(c) => {
                let mut st = c.prepare_cached(sql)?;
                Ok(st.execute(rusqlite::params_from_iter(cells))?)
            }
            Inner::Postgres(p) => p.execute(sql, &cells),
        }
    }

    /// Runs a query and maps every row.
    pub fn query_map<T>(
        &self,
        sql: &str,
        params: impl Params,
        mut f: impl FnMut(&Row<'_>) -> DbResult<T>,
    ) -> DbResult<Vec<T>> {
        let cells = params.cells();
        match &self.inner {
            Inner::Sqlite(c) => {
                let mut st = c.prepare_cached(sql)?;
                let mut rows = st.query(rusqlite::params_from_iter(cells))?;
                let mut out = Vec::new();
                while let Some(r) = rows.next()? {
                    out.push(f(&Row(RowInner::Sqlite(r)))?);
                }
                Ok(out)
            }
            Inner::Postgres(p) => p
                .query(sql, &cells)?
                .iter()
                .map(|r| f(&Row(RowInner::Postgres(r))))
                .collect(),
        }
    }

    /// Runs a query and maps its first row; no row is [`DbError::NoRow`] (see
    /// [`OptionalExt::optional`]).
    pub fn query_row<T>(
        &self,
        sql: &str,
        params: impl Params,
        f: impl FnOnce(&Row<'_>) -> DbResult<T>,
    ) -> DbResult<T> {
        let cells = params.cells();
        match &self.inner {
            Inner::Sqlite(c) => {
                let mut st = c.prepare_cached(sql)?;
                let mut rows = st.query(rusqlite::params_from_iter(cells))?;
                match rows.next()? {
                    Some(r) => f(&Row(RowInner::Sqlite(r))),
                    None => Err(DbError::NoRow),
                }
            }
            Inner::Postgres(p) => match p.query(sql, &cells)?.first() {
                Some(r) => f(&Row(RowInner::Postgres(r))),
                None => Err(DbError::NoRow),
            },
        }
    }

    /// Runs a query whose one row holds one value.
    pub fn query_value<T: FromCell>(&self, sql: &str, params: impl Params) -> DbResult<T> {
        self.query_row(sql, params, |r| r.get(0))
    }

    /// A statement to run (prepared and cached on first use, on both engines).
    pub fn prepare_cached(&self, sql: impl Into<String>) -> DbResult<Statement<'_>> {
        Ok(Statement {
            db: self,
            sql: sql.into(),
        })
    }

    /// Same as [`Db::prepare_cached`].
    pub fn prepare(&self, sql: impl Into<String>) -> DbResult<Statement<'_>> {
        self.prepare_cached(sql)
    }

    /// PostgreSQL: `COPY <into> FROM STDIN` (text format; `into` is `table (col, ...)`)
    /// with the rows `fill` writes, streamed in 64 KiB pieces; returns what `fill`
    /// returned and the number of rows. `fill` must not use this connection (it is
    /// busy with the COPY). SQLite has no COPY: there the caller inserts row by row.
    pub fn copy_in<T>(
        &self,
        into: &str,
        fill: impl FnOnce(&mut CopyWriter<'_>) -> DbResult<T>,
    ) -> DbResult<(T, u64)> {
        match &self.inner {
            Inner::Sqlite(_) => Err(DbError::Decode {
                column: 0,
                detail: "COPY is PostgreSQL's".into(),
            }),
            Inner::Postgres(p) => p.copy_in(into, fill),
        }
    }
}

/// Rows on their way into a `COPY` ([`Db::copy_in`]).
pub struct CopyWriter<'c> {
    sink: std::pin::Pin<Box<tokio_postgres::CopyInSink<bytes::Bytes>>>,
    buf: BytesMut,
    _client: std::marker::PhantomData<&'c ()>,
}

impl fmt::Debug for CopyWriter<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CopyWriter").finish_non_exhaustive()
    }
}

impl CopyWriter<'_> {
    /// Writes one row: its cells in the column order of the `COPY`.
    pub fn row(&mut self, cells: &[Cell<'_>]) -> DbResult<()> {
        for (i, cell) in cells.iter().enumerate() {
            if i > 0 {
                self.buf.extend_from_slice(b"\t");
            }
            copy_text(&mut self.buf, *cell);
        }
        self.buf.extend_from_slice(b"\n");
        if self.buf.len() >= 1 << 16 {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> DbResult<()> {
        use futures_util::SinkExt as _;
        if !self.buf.is_empty() {
            let chunk = self.buf.split().freeze();
            block_on(self.sink.send(chunk))?;
        }
        Ok(())
    }
}

/// A statement of a [`Db`], run with parameters.
#[derive(Debug)]
pub struct Statement<'d> {
    db: &'d Db,
    sql: String,
}

impl Statement<'_> {
    /// See [`Db::execute`].
    pub fn execute(&mut self, params: impl Params) -> DbResult<usize> {
        self.db.execute(&self.sql, params)
    }

    /// See [`Db::query_row`].
    pub fn query_row<T>(
        &mut self,
        params: impl Params,
        f: impl FnOnce(&Row<'_>) -> DbResult<T>,
    ) -> DbResult<T> {
        self.db.query_row(&self.sql, params, f)
    }

    /// See [`Db::query_map`].
    pub fn query_map<T>(
        &mut self,
        params: impl Params,
        f: impl FnMut(&Row<'_>) -> DbResult<T>,
    ) -> DbResult<Vec<T>> {
        self.db.query_map(&self.sql, params, f)
    }
}

/// Appends `cell` in COPY's text format.
fn copy_text(out: &mut BytesMut, cell: Cell<'_>) {
    match cell {
        Cell::Null => out.extend_from_slice(b"\\N"),
        Cell::Int(v) => out.extend_from_slice(v.to_string().as_bytes()),
        Cell::Real(v) => out.extend_from_slice(format!("{v:?}").as_bytes()),
        Cell::Text(s) => {
            for b in s.bytes() {
                match b {
                    b'\\' => out.extend_from_slice(b"\\\\"),
                    b'\t' => out.extend_from_slice(b"\\t"),
                    b'\n' => out.extend_from_slice(b"\\n"),
                    b'\r' => out.extend_from_slice(b"\\r"),
                    b => out.extend_from_slice(&[b]),
                }
            }
        }
        Cell::Blob(b) => {
            out.extend_from_slice(b"\\\\x");
            for x in b {
                out.extend_from_slice(format!("{x:02x}").as_bytes());
            }
        }
    }
}

// ----- PostgreSQL -----------------------------------------------------------------------

/// Called with each `NOTIFY` (channel, payload) the connection receives.
pub type Listener = Arc<dyn Fn(&str, &str) + Send + Sync>;

/// A PostgreSQL connection that comes back after the server restarts or the network
/// drops: a lost connection fails the statement that found it lost (and, inside a
/// transaction, every statement until the transaction's end, so that nothing of it is
/// ever run outside it); the next statement outside a transaction connects again and
/// says `LISTEN` again on the channels it listened to.
struct PgConn {
    config: tokio_postgres::Config,
    tls: tokio_postgres_rustls::MakeRustlsConnect,
    /// Shared with the connection's thread, which calls it.
    listener: Arc<std::sync::Mutex<Option<Listener>>>,
    live: RefCell<Option<Live>>,
    /// Inside `BEGIN` ... `COMMIT`/`ROLLBACK`.
    in_transaction: std::cell::Cell<bool>,
    /// Channels to listen to again after a reconnect.
    channels: RefCell<Vec<String>>,
    /// Advisory locks this transaction holds in shared mode (taken once each).
    shared_locks: RefCell<Vec<i64>>,
}

/// One live connection and its prepared statements.
struct Live {
    client: tokio_postgres::Client,
    statements: HashMap<String, tokio_postgres::Statement>,
    _done: mpsc::Receiver<()>,
}

impl PgConn {
    fn connect(config: &str) -> DbResult<PgConn> {
        let (config, root_cert) = take_sslrootcert(config);
        let tls = tls_connector(root_cert.as_deref().map(std::path::Path::new))?;
        let mut config: tokio_postgres::Config = config.parse()?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        if config.get_application_name().is_none() {
            config.application_name("relais");
        }
        if config.get_keepalives_idle() == Duration::from_secs(2 * 60 * 60) {
            // Notice a server that went away within a minute, not two hours.
            config.keepalives_idle(Duration::from_secs(30));
        }
        let conn = PgConn {
            config,
            tls,
            listener: Arc::default(),
            live: RefCell::new(None),
            in_transaction: std::cell::Cell::new(false),
            channels: RefCell::new(Vec::new()),
            shared_locks: RefCell::new(Vec::new()),
        };
        conn.with_live(|_| Ok(()))?;
        Ok(conn)
    }

    /// Opens a connection: its socket work on a thread of its own, which also passes
    /// notifications to the listener.
    fn open(&self) -> DbResult<Live> {
        let config = self.config.clone();
        let tls = self.tls.clone();
        let listener = self.listener.clone();
        let (client_tx, client_rx) = mpsc::channel();
        let (done_tx, done_rx) = mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("relais-postgres".into())
            .spawn(move || {
                let _done = done_tx;
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        tracing::error!("cannot start the PostgreSQL connection's runtime: {e}");
                        return;
                    }
                };
                rt.block_on(async move {
                    // TLS does not go over unix sockets: the server never offers it
                    // there, and the socket's path is no name to check a certificate of.
                    let unix_only = config
                        .get_hosts()
                        .iter()
                        .all(|h| matches!(h, tokio_postgres::config::Host::Unix(_)));
                    if unix_only {
                        match config.connect(tokio_postgres::NoTls).await {
                            Ok((client, conn)) => {
                                if client_tx.send(Ok(client)).is_ok() {
                                    drive(conn, &listener).await;
                                }
                            }
                            Err(e) => {
                                let _ = client_tx.send(Err(e));
                            }
                        }
                    } else {
                        match config.connect(tls).await {
                            Ok((client, conn)) => {
                                if client_tx.send(Ok(client)).is_ok() {
                                    drive(conn, &listener).await;
                                }
                            }
                            Err(e) => {
                                let _ = client_tx.send(Err(e));
                            }
                        }
                    }
                });
            })
            .map_err(|e| {
                DbError::Config(format!(
                    "cannot start the PostgreSQL connection thread: {e}"
                ))
            })?;
        let client = match client_rx.recv() {
            Ok(r) => r?,
            Err(_) => {
                return Err(DbError::Config(
                    "the PostgreSQL connection thread ended before connecting".into(),
                ));
            }
        };
        let live = Live {
            client,
            statements: HashMap::new(),
            _done: done_rx,
        };
        for channel in self.channels.borrow().iter() {
            block_on(live.client.batch_execute(&format!("LISTEN {channel}")))?;
        }
        Ok(live)
    }

    /// Runs `f` on the live connection: connects again when it was lost, unless a
    /// transaction was open on the lost one.
    fn with_live<T>(&self, f: impl FnOnce(&mut Live) -> DbResult<T>) -> DbResult<T> {
        let lost = self
            .live
            .borrow()
            .as_ref()
            .is_none_or(|l| l.client.is_closed());
        if lost {
            if self.in_transaction.get() {
                return Err(DbError::ConnectionLost(
                    "the transaction in progress was rolled back".into(),
                ));
            }
            let fresh = self.open()?;
            if self.live.borrow().is_some() {
                tracing::info!("database connection restored");
            }
            *self.live.borrow_mut() = Some(fresh);
        }
        let mut live = self.live.borrow_mut();
        f(live.as_mut().expect("connected above"))
    }

    fn batch(&self, sql: &str) -> DbResult<()> {
        let text = sql.trim_start();
        let word = text
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        let ends = word == "COMMIT" || (word == "ROLLBACK" && !text.contains(" TO "));
        // A lock taken after a savepoint goes with it when the savepoint is rolled back.
        if ends || word == "BEGIN" || text.contains("ROLLBACK TO") {
            self.shared_locks.borrow_mut().clear();
        }
        if ends && self.in_transaction.replace(false) {
            let live = self.live.borrow();
            let Some(l) = live.as_ref().filter(|l| !l.client.is_closed()) else {
                return Err(DbError::ConnectionLost(
                    "the transaction was rolled back".into(),
                ));
            };
            return Ok(block_on(l.client.batch_execute(sql))?);
        }
        self.with_live(|l| Ok(block_on(l.client.batch_execute(sql))?))?;
        if word == "BEGIN" {
            self.in_transaction.set(true);
        }
        if word == "LISTEN" {
            let channel = text[word.len()..].trim().trim_end_matches(';').to_string();
            let mut channels = self.channels.borrow_mut();
            if !channels.contains(&channel) {
                channels.push(channel);
            }
        }
        Ok(())
    }

    /// Takes the transaction-level advisory lock `key` in shared mode, once per
    /// transaction: a second call in the same transaction costs no round trip.
    fn lock_shared(&self, key: i64) -> DbResult<()> {
        let in_tx = self.in_transaction.get();
        if in_tx && self.shared_locks.borrow().contains(&key) {
            return Ok(());
        }
        self.execute("SELECT pg_advisory_xact_lock_shared(?1)", &[Cell::Int(key)])?;
        if in_tx {
            self.shared_locks.borrow_mut().push(key);
        }
        Ok(())
    }

    /// The prepared form of `sql` on `live` (prepared once per connection).
    fn prepared(live: &mut Live, sql: &str) -> DbResult<tokio_postgres::Statement> {
        if let Some(st) = live.statements.get(sql) {
            return Ok(st.clone());
        }
        let st = block_on(live.client.prepare(&postgres_sql(sql)))?;
        live.statements.insert(sql.to_owned(), st.clone());
        Ok(st)
    }

    fn execute(&self, sql: &str, cells: &[Cell<'_>]) -> DbResult<usize> {
        let refs: Vec<&(dyn ToSql + Sync)> = cells.iter().map(|c| c as _).collect();
        self.with_live(|l| {
            let st = Self::prepared(l, sql)?;
            Ok(block_on(l.client.execute(&st, &refs))? as usize)
        })
    }

    fn query(&self, sql: &str, cells: &[Cell<'_>]) -> DbResult<Vec<tokio_postgres::Row>> {
        let refs: Vec<&(dyn ToSql + Sync)> = cells.iter().map(|c| c as _).collect();
        self.with_live(|l| {
            let st = Self::prepared(l, sql)?;
            Ok(block_on(l.client.query(&st, &refs))?)
        })
    }

    fn copy_in<T>(
        &self,
        into: &str,
        fill: impl FnOnce(&mut CopyWriter<'_>) -> DbResult<T>,
    ) -> DbResult<(T, u64)> {
        self.with_live(|l| {
            let sink = block_on(
                l.client
                    .copy_in::<_, bytes::Bytes>(&format!("COPY {into} FROM STDIN")),
            )?;
            let mut w = CopyWriter {
                sink: Box::pin(sink),
                buf: BytesMut::with_capacity(1 << 17),
                _client: std::marker::PhantomData,
            };
            // On an error the sink is dropped unfinished: the server aborts the COPY.
            let out = fill(&mut w)?;
            w.flush()?;
            let n = block_on(w.sink.as_mut().finish())?;
            Ok((out, n))
        })
    }
}

/// Drives a connection's socket until it ends, passing notifications to the listener.
async fn drive<S, T>(
    mut conn: tokio_postgres::Connection<S, T>,
    listener: &std::sync::Mutex<Option<Listener>>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    loop {
        match std::future::poll_fn(|cx| conn.poll_message(cx)).await {
            Some(Ok(tokio_postgres::AsyncMessage::Notification(n))) => {
                let l = listener.lock().unwrap_or_else(|e| e.into_inner()).clone();
                if let Some(l) = l {
                    l(n.channel(), n.payload());
                }
            }
            Some(Ok(tokio_postgres::AsyncMessage::Notice(n))) => {
                tracing::debug!("postgres: {}", n.message());
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => {
                tracing::debug!("postgres connection ended: {e}");
                break;
            }
            None => break,
        }
    }
}

/// Takes libpq's `sslrootcert` (a PEM file of CA certificates to trust besides the
/// system's) out of a connection string, which tokio-postgres would refuse; returns
/// the rest and the file.
fn take_sslrootcert(config: &str) -> (String, Option<String>) {
    if let Some((head, query)) = config.split_once('?')
        && config.contains("://")
    {
        let mut file = None;
        let rest: Vec<&str> = query
            .split('&')
            .filter(|kv| match kv.strip_prefix("sslrootcert=") {
                Some(v) => {
                    file = Some(
                        percent_encoding::percent_decode_str(v)
                            .decode_utf8_lossy()
                            .into_owned(),
                    );
                    false
                }
                None => true,
            })
            .collect();
        let out = if rest.is_empty() {
            head.to_string()
        } else {
            format!("{head}?{}", rest.join("&"))
        };
        return (out, file);
    }
    let mut file = None;
    let rest: Vec<&str> = config
        .split_whitespace()
        .filter(|kv| match kv.strip_prefix("sslrootcert=") {
            Some(v) => {
                file = Some(v.trim_matches('\'').to_string());
                false
            }
            None => true,
        })
        .collect();
    (rest.join(" "), file)
}

/// TLS for the connection (used as `sslmode` says: `prefer`, the default, takes it when
/// the server offers it): rustls with the system's CA store, plus `root_cert`'s.
fn tls_connector(
    root_cert: Option<&std::path::Path>,
) -> DbResult<tokio_postgres_rustls::MakeRustlsConnect> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    if let Some(path) = root_cert {
        let bad =
            |e: &dyn fmt::Display| DbError::Config(format!("sslrootcert {}: {e}", path.display()));
        let mut n = 0;
        for cert in CertificateDer::pem_file_iter(path).map_err(|e| bad(&e))? {
            roots.add(cert.map_err(|e| bad(&e))?).map_err(|e| bad(&e))?;
            n += 1;
        }
        if n == 0 {
            return Err(bad(&"no certificate in the file"));
        }
    }
    // ring, the provider reqwest's rustls already builds here; rustls 0.23.48 marks it
    // deprecated for lacking post-quantum key exchange, and aws-lc-rs would add a C
    // build with cmake to every machine that builds relais.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| DbError::Config(format!("TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// Wakes the thread that waits in [`block_on`].
struct ThreadWaker(std::thread::Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Waits on the current thread for a client future; the connection's own thread
/// does the socket work, so this never needs (or enters) a runtime.
fn block_on<F: Future>(fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    let waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sslrootcert_is_taken_out_of_both_forms() {
        assert_eq!(
            take_sslrootcert("postgres://u@h/db?sslmode=require&sslrootcert=%2Fetc%2Fca.pem&x=1"),
            (
                "postgres://u@h/db?sslmode=require&x=1".to_string(),
                Some("/etc/ca.pem".to_string())
            )
        );
        assert_eq!(
            take_sslrootcert("postgres://u@h/db?sslrootcert=/ca.pem"),
            ("postgres://u@h/db".to_string(), Some("/ca.pem".to_string()))
        );
        assert_eq!(
            take_sslrootcert("host=h sslrootcert='/ca.pem' dbname=d"),
            ("host=h dbname=d".to_string(), Some("/ca.pem".to_string()))
        );
        assert_eq!(
            take_sslrootcert("postgres://u@/db?host=/tmp"),
            ("postgres://u@/db?host=/tmp".to_string(), None)
        );
        assert!(matches!(
            tls_connector(Some(std::path::Path::new("/nonexistent/ca.pem"))),
            Err(DbError::Config(_))
        ));
    }

    #[test]
    fn numbered_parameters_become_dollars_outside_quotes() {
        assert_eq!(
            postgres_sql("SELECT '?1', \"a?\" FROM t WHERE a = ?1 AND b = ?12"),
            "SELECT '?1', \"a?\" FROM t WHERE a = $1 AND b = $12"
        );
        assert_eq!(postgres_sql("VALUES (?, ?)"), "VALUES ($1, $2)");
        assert_eq!(postgres_sql("SELECT 'it''s ?'"), "SELECT 'it''s ?'");
    }

    fn numeric_bytes(ndigits: i16, weight: i16, sign: u16, scale: i16, digits: &[i16]) -> Vec<u8> {
        let mut v = Vec::new();
        for w in [ndigits, weight, sign as i16, scale].iter().chain(digits) {
            v.extend_from_slice(&w.to_be_bytes());
        }
        v
    }

    #[test]
    fn numeric_sums_come_back_as_integers() {
        // 123456789 = 1|2345|6789, weight 2.
        let raw = numeric_bytes(3, 2, 0, 0, &[1, 2345, 6789]);
        assert_eq!(numeric(&raw).unwrap(), Cell::Int(123_456_789));
        // -20000 = 2|0000 → digits trimmed: 2, weight 1.
        let raw = numeric_bytes(1, 1, 0x4000, 0, &[2]);
        assert_eq!(numeric(&raw).unwrap(), Cell::Int(-20_000));
        // 0: no digits.
        assert_eq!(
            numeric(&numeric_bytes(0, 0, 0, 0, &[])).unwrap(),
            Cell::Int(0)
        );
        // 1.5 = 1 . 5000, weight 0, scale 1.
        let raw = numeric_bytes(2, 0, 0, 1, &[1, 5000]);
        assert_eq!(numeric(&raw).unwrap(), Cell::Real(1.5));
        assert!(numeric(&[0, 1]).is_err());
        // Found by fuzzing: a weight that makes the whole part overflow is a real,
        // not a panic.
        let raw = [10, 51, 0, 10, 10, 10, 0, 0, 0, 0, 115, 0, 0, 10, 51];
        assert!(
            decode_numeric(&raw).is_err(),
            "short: 2563 digits announced"
        );
        let raw = numeric_bytes(2, 12, 0, 0, &[32767, 9999]);
        assert!(matches!(decode_numeric(&raw).unwrap(), Cell::Real(_)));
        let raw = numeric_bytes(1, 5, 0x4000, 0, &[922]);
        assert!(matches!(decode_numeric(&raw).unwrap(), Cell::Real(_)));
    }

    #[test]
    fn sqlite_round_trip_through_cells() {
        let db = Db::sqlite(rusqlite::Connection::open_in_memory().unwrap());
        db.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, n TEXT, v INTEGER, r REAL)")
            .unwrap();
        let id: i64 = db
            .query_value(
                "INSERT INTO t (n, v, r) VALUES (?1, ?2, ?3) RETURNING id",
                params!["a", 7u32, 0.5],
            )
            .unwrap();
        db.execute(
            "INSERT INTO t (n, v) VALUES (?1, ?2)",
            params![None::<String>, true],
        )
        .unwrap();
        let rows = db
            .query_map("SELECT id, n, v, r FROM t ORDER BY id", params![], |r| {
                Ok((
                    r.get::<i64>(0)?,
                    r.get::<Option<String>>(1)?,
                    r.get::<u32>(2)?,
                    r.get::<Option<f64>>(3)?,
                ))
            })
            .unwrap();
        assert_eq!(
            rows,
            vec![
                (id, Some("a".into()), 7, Some(0.5)),
                (id + 1, None, 1, None)
            ]
        );
        assert!(matches!(
            db.query_row("SELECT 1 FROM t WHERE id = ?1", [99], |r| r.get::<i64>(0)),
            Err(DbError::NoRow)
        ));
        let none = db.query_row("SELECT 1 FROM t WHERE id = ?1", [99], |r| r.get::<i64>(0));
        assert_eq!(none.optional().unwrap(), None);
        let err = db
            .query_row("SELECT n FROM t WHERE id = ?1", params![id], |r| {
                r.get::<i64>(0)
            })
            .unwrap_err();
        assert!(matches!(err, DbError::Decode { column: 0, .. }), "{err}");
    }

    #[test]
    fn copy_text_escapes_what_copy_reads_as_special() {
        let mut out = BytesMut::new();
        for c in [
            Cell::Text("a\tb\\c\nd"),
            Cell::Null,
            Cell::Int(-3),
            Cell::Blob(&[0, 255]),
        ] {
            copy_text(&mut out, c);
            out.extend_from_slice(b"|");
        }
        assert_eq!(&out[..], b"a\\tb\\\\c\\nd|\\N|-3|\\\\x00ff|");
    }
}
