//! Contact and campaign import: CSV rows validated one by one (rejected rows are
//! reported with their line and reason and nothing of them is stored), templates with
//! `{field}` placeholders rendered per contact, and everything accepted written in one
//! transaction, streamed so a million rows need little memory.
//!
//! Columns (header row, case-insensitive): `number` (or `phone`, `msisdn`, `mobile`)
//! is required, in international form (`+33 6 12 34 56 78` or `0033...`);
//! `first_name`, `last_name`, `consent` (`opted-in`, `existing-customer`, `none`,
//! `yes`/`no`), `department` (French department number), `zone` (verified IANA zone)
//! are optional; any other column is a template field.

use crate::store::db::params;
use std::collections::HashSet;
use std::io::Read;

use relais_core::compliance::decision::{Class, ConsentStatus};
use relais_core::compliance::number::Msisdn;
use relais_core::compliance::tz::UtcInstant;
use relais_core::link::msg::MAX_TEXT;

use crate::store::db::{Db, Engine, Param as _};
use crate::store::{
    self, ConsentRecord, Contact, NewCampaign, NewContact, NewJob, Store, StoreError,
};

/// Placeholders of `template`, in order; an unclosed `{` or an empty `{}` is an error.
/// `{{` and `}}` stand for literal braces.
pub fn placeholders(template: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut chars = template.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '{' if chars.peek().map(|p| p.1) == Some('{') => {
                chars.next();
            }
            '{' => {
                let rest = &template[i + 1..];
                let end = rest
                    .find('}')
                    .ok_or_else(|| format!("template: `{{` at byte {i} is never closed"))?;
                let name = rest[..end].trim();
                if name.is_empty() || name.contains('{') {
                    return Err(format!("template: bad placeholder at byte {i}"));
                }
                out.push(name.to_string());
                for _ in 0..rest[..=end].chars().count() {
                    chars.next();
                }
            }
            '}' if chars.peek().map(|p| p.1) == Some('}') => {
                chars.next();
            }
            '}' => return Err(format!("template: `}}` at byte {i} has no `{{`")),
            _ => {}
        }
    }
    Ok(out)
}

/// Renders `template` for `contact`; a field the contact lacks is an error.
pub fn render(template: &str, contact: &Contact) -> Result<String, String> {
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if let Some(t) = tail.strip_prefix("{{") {
            out.push('{');
            rest = t;
        } else if let Some(t) = tail.strip_prefix("}}") {
            out.push('}');
            rest = t;
        } else if let Some(t) = tail.strip_prefix('{') {
            let end = t.find('}').ok_or("template: unclosed `{`")?;
            let name = t[..end].trim();
            let value = contact
                .field(name)
                .ok_or_else(|| format!("no value for {{{name}}}"))?;
            out.push_str(value.trim());
            rest = &t[end + 1..];
        } else {
            return Err("template: `}` without `{`".into());
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// What to do with the rows.
#[derive(Debug, Clone)]
pub struct ImportSpec {
    /// Brand for consent records and jobs.
    pub brand: String,
    /// Where consent came from (stored with it).
    pub consent_source: String,
    /// Create a campaign with a job per accepted row.
    pub campaign: Option<NewCampaign>,
    /// Not before (campaign jobs).
    pub not_before: Option<UtcInstant>,
    /// Give up after (campaign jobs).
    pub expires: Option<UtcInstant>,
    /// Refuse the whole file when any row is rejected.
    pub strict: bool,
}

/// A row left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// Line in the file (1 = header).
    pub line: u64,
    /// Why.
    pub reason: String,
}

/// The outcome of an import.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportOutcome {
    /// Rows read (header excluded).
    pub rows: u64,
    /// Rows stored.
    pub accepted: u64,
    /// Contacts that were new.
    pub new_contacts: u64,
    /// Rows left out, with reasons.
    pub rejected: Vec<Rejected>,
    /// The campaign's id, when one was created.
    pub campaign: Option<i64>,
}

/// Most rejected rows kept in the outcome (the count is in `rows - accepted`).
pub const MAX_REJECTED_KEPT: usize = 1000;

struct Columns {
    number: usize,
    first_name: Option<usize>,
    last_name: Option<usize>,
    consent: Option<usize>,
    department: Option<usize>,
    zone: Option<usize>,
    fields: Vec<(usize, String)>,
}

fn columns(headers: &csv::StringRecord) -> Result<Columns, String> {
    let names: Vec<String> = headers
        .iter()
        .map(|h| h.trim().trim_start_matches('\u{feff}').to_ascii_lowercase())
        .collect();
    let find = |alts: &[&str]| names.iter().position(|n| alts.contains(&n.as_str()));
    let number = find(&["number", "phone", "msisdn", "mobile", "tel"]).ok_or_else(|| {
        format!(
            "the header has no `number` column (found: {}); the first line must name the columns",
            names.join(", ")
        )
    })?;
    let first_name = find(&["first_name", "firstname", "first name", "prénom", "prenom"]);
    let last_name = find(&["last_name", "lastname", "last name", "nom"]);
    let consent = find(&["consent"]);
    let department = find(&["department", "departement", "département"]);
    let zone = find(&["zone", "timezone", "tz"]);
    let known = [
        Some(number),
        first_name,
        last_name,
        consent,
        department,
        zone,
    ];
    let fields = names
        .iter()
        .enumerate()
        .filter(|(i, n)| !known.contains(&Some(*i)) && !n.is_empty())
        .map(|(i, n)| (i, n.clone()))
        .collect();
    Ok(Columns {
        number,
        first_name,
        last_name,
        consent,
        department,
        zone,
        fields,
    })
}

fn cell(record: &csv::StringRecord, i: Option<usize>) -> &str {
    i.and_then(|i| record.get(i)).unwrap_or("").trim()
}

/// Validates one row into a contact, its consent and (for a campaign) its text.
fn row(
    record: &csv::StringRecord,
    cols: &Columns,
    spec: &ImportSpec,
) -> Result<(NewContact, Option<ConsentStatus>, Option<String>), String> {
    let raw = cell(record, Some(cols.number));
    if raw.is_empty() {
        return Err("empty number".into());
    }
    let number = Msisdn::parse(raw).map_err(|e| {
        if raw.starts_with('0') && !raw.starts_with("00") {
            format!(
                "{raw:?} is in national form; write it with its country code (+33 6..., +44 7...)"
            )
        } else {
            format!("{raw:?}: {e}")
        }
    })?;
    let consent = match cols.consent {
        Some(i) => Some(store::parse_consent(cell(record, Some(i))).ok_or_else(|| {
            format!(
                "consent {:?} is not one of opted-in, existing-customer, none, yes, no",
                cell(record, Some(i))
            )
        })?),
        None => None,
    };
    let department = match cell(record, cols.department) {
        "" => None,
        d => Some(
            d.parse::<u8>()
                .ok()
                .filter(|d| (1..=95).contains(d))
                .ok_or_else(|| format!("department {d:?} is not a number from 1 to 95"))?,
        ),
    };
    let zone = match cell(record, cols.zone) {
        "" => None,
        z if relais_core::compliance::tz::Zone::from_name(z).is_some() => Some(z.to_string()),
        z => return Err(format!("zone {z:?} is not a time zone relais knows")),
    };
    let mut fields = serde_json::Map::new();
    for (i, name) in &cols.fields {
        fields.insert(
            name.clone(),
            serde_json::Value::String(cell(record, Some(*i)).to_string()),
        );
    }
    let contact = NewContact {
        number: number.to_string(),
        first_name: cell(record, cols.first_name).to_string(),
        last_name: cell(record, cols.last_name).to_string(),
        fields,
        zone,
        department,
    };
    let text = match &spec.campaign {
        Some(c) => {
            let view = Contact {
                id: 0,
                number: contact.number.clone(),
                first_name: contact.first_name.clone(),
                last_name: contact.last_name.clone(),
                fields: contact.fields.clone(),
                zone: contact.zone.clone(),
                department: contact.department,
            };
            let text = render(&c.template, &view)?;
            check_text(&text)?;
            Some(text)
        }
        None => None,
    };
    Ok((contact, consent, text))
}

/// Rejects empty texts and texts over what a device can hold.
pub fn check_text(text: &str) -> Result<(), String> {
    if text.trim().is_empty() {
        return Err("the text is empty".into());
    }
    if text.len() > MAX_TEXT {
        return Err(format!(
            "the text is {} bytes; at most {MAX_TEXT} fit in a message (about 4 SMS segments)",
            text.len()
        ));
    }
    Ok(())
}

/// Imports `reader` (CSV with a header row) per `spec` in one transaction. Rows that
/// fail validation are left out and listed; with `spec.strict` any rejected row
/// leaves the store unchanged. `progress` is called with the rows read so far (every
/// 1024 rows and at the end).
pub fn import(
    store: &mut Store,
    reader: impl Read,
    spec: &ImportSpec,
    now: UtcInstant,
    progress: &mut dyn FnMut(u64),
) -> Result<ImportOutcome, String> {
    if let Some(c) = &spec.campaign {
        placeholders(&c.template)?;
        if c.template.trim().is_empty() {
            return Err("--template is empty".into());
        }
    }
    let mut csv = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(reader);
    let headers = csv
        .headers()
        .map_err(|e| format!("cannot read the header: {e}"))?
        .clone();
    let cols = columns(&headers)?;
    let mut outcome = ImportOutcome::default();
    let result = store.transaction(|tx| {
        if let Some(c) = &spec.campaign {
            outcome.campaign = Some(crate::store::insert_campaign(tx, c, now)?);
        }
        let campaign = outcome.campaign;
        let before: i64 = tx.query_value("SELECT count(*) FROM contacts", params![])?;
        match tx.engine() {
            Engine::Sqlite => read_rows(&mut csv, &cols, spec, &mut outcome, progress, |row| {
                store_row(tx, spec, campaign, row, now)
            })?,
            Engine::Postgres => copy_rows(tx, &mut csv, &cols, spec, &mut outcome, progress, now)?,
        }
        if spec.strict && outcome.accepted < outcome.rows {
            return Err(StoreError::Invalid(format!(
                "{} of {} rows were rejected and --strict is set: nothing was imported",
                outcome.rows - outcome.accepted,
                outcome.rows
            )));
        }
        if outcome.accepted == 0 {
            return Err(StoreError::Invalid(format!(
                "no row could be imported ({} rejected): nothing was stored",
                outcome.rows
            )));
        }
        let after: i64 = tx.query_value("SELECT count(*) FROM contacts", params![])?;
        outcome.new_contacts = (after - before) as u64;
        Ok(())
    });
    progress(outcome.rows);
    match result {
        Ok(()) => Ok(outcome),
        Err(StoreError::Invalid(msg)) if !outcome.rejected.is_empty() => {
            let mut msg = msg;
            for r in outcome.rejected.iter().take(10) {
                msg.push_str(&format!("\n  line {}: {}", r.line, r.reason));
            }
            Err(msg)
        }
        Err(e) => Err(e.to_string()),
    }
}

/// One accepted row: the contact, its consent (when the file says), the rendered
/// text (when a campaign is imported), and its line.
struct Accepted {
    contact: NewContact,
    consent: Option<ConsentStatus>,
    text: Option<String>,
    line: u64,
}

/// Reads every row, rejecting (with their line) the invalid ones and numbers already
/// seen, and gives each accepted row to `accept`.
fn read_rows<R: Read>(
    csv: &mut csv::Reader<R>,
    cols: &Columns,
    spec: &ImportSpec,
    outcome: &mut ImportOutcome,
    progress: &mut dyn FnMut(u64),
    mut accept: impl FnMut(Accepted) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let mut seen = HashSet::new();
    let mut record = csv::StringRecord::new();
    loop {
        match csv.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                outcome.rows += 1;
                let line = e.position().map_or(0, |p| p.line());
                reject(outcome, line, format!("unreadable row: {e}"));
                if !matches!(e.kind(), csv::ErrorKind::Utf8 { .. }) {
                    break;
                }
                continue;
            }
        }
        outcome.rows += 1;
        let line = record.position().map_or(outcome.rows + 1, |p| p.line());
        if outcome.rows % 1024 == 0 {
            progress(outcome.rows);
        }
        match row(&record, cols, spec) {
            Ok((contact, consent, text)) => {
                if !seen.insert(contact.number.clone()) {
                    reject(
                        outcome,
                        line,
                        format!("{} appears twice in the file", contact.number),
                    );
                    continue;
                }
                accept(Accepted {
                    contact,
                    consent,
                    text,
                    line,
                })?;
                outcome.accepted += 1;
            }
            Err(reason) => reject(outcome, line, reason),
        }
    }
    Ok(())
}

/// Stores one accepted row (SQLite: statements prepared once, in the import's one
/// transaction).
fn store_row(
    tx: &Db,
    spec: &ImportSpec,
    campaign: Option<i64>,
    row: Accepted,
    now: UtcInstant,
) -> Result<(), StoreError> {
    let Accepted {
        contact,
        consent,
        text,
        ..
    } = row;
    crate::store::upsert_contact(tx, &contact, now)?;
    if let Some(status) = consent {
        crate::store::set_consent(
            tx,
            &ConsentRecord {
                number: contact.number.clone(),
                brand: spec.brand.clone(),
                status,
                source: spec.consent_source.clone(),
                at: now,
            },
        )?;
    }
    if let (Some(c), Some(text)) = (&spec.campaign, text) {
        let consent = match consent {
            Some(s) => s,
            None => crate::store::consent_in(tx, &contact.number, &c.brand)?,
        };
        crate::store::insert_job(
            tx,
            campaign,
            &NewJob {
                number: contact.number.clone(),
                text,
                class: c.class,
                brand: c.brand.clone(),
                categories: c.categories.clone(),
                department: contact.department,
                consent,
                not_before: spec.not_before,
                expires: spec.expires,
            },
            now,
        )?;
    }
    Ok(())
}

/// PostgreSQL: the accepted rows go into a temporary table by `COPY` (one stream, not
/// a round trip per row), then into contacts, consents, jobs and their history with
/// one statement each: the same rows and values as [`store_row`] writes.
fn copy_rows<R: Read>(
    tx: &Db,
    csv: &mut csv::Reader<R>,
    cols: &Columns,
    spec: &ImportSpec,
    outcome: &mut ImportOutcome,
    progress: &mut dyn FnMut(u64),
    now: UtcInstant,
) -> Result<(), StoreError> {
    tx.execute_batch(
        "CREATE TEMP TABLE relais_import (line BIGINT, number TEXT, first_name TEXT,
             last_name TEXT, fields TEXT, zone TEXT, department BIGINT, consent TEXT, text TEXT)
         ON COMMIT DROP",
    )?;
    let copied = tx.copy_in(
        "relais_import (line, number, first_name, last_name, fields, zone, department, consent, text)",
        |w| {
            read_rows(csv, cols, spec, outcome, progress, |r| {
                let fields = serde_json::Value::Object(r.contact.fields).to_string();
                let dept = r.contact.department.map(i64::from);
                Ok(w.row(&[
                    r.line.cell(),
                    r.contact.number.cell(),
                    r.contact.first_name.cell(),
                    r.contact.last_name.cell(),
                    fields.cell(),
                    r.contact.zone.cell(),
                    dept.cell(),
                    r.consent.map(crate::store::consent_name).cell(),
                    r.text.cell(),
                ])?)
            })
            .map_err(|e| match e {
                StoreError::Sql(db) => db,
                other => crate::store::db::DbError::Decode {
                    column: 0,
                    detail: other.to_string(),
                },
            })
        },
    );
    copied?;
    tx.execute(
        "INSERT INTO contacts (number, first_name, last_name, fields, zone, department, created_at)
         SELECT number, first_name, last_name, fields, zone, department, ?1 FROM relais_import
         ORDER BY line
         ON CONFLICT (number) DO UPDATE SET first_name = excluded.first_name,
             last_name = excluded.last_name, fields = excluded.fields,
             zone = coalesce(excluded.zone, contacts.zone),
             department = coalesce(excluded.department, contacts.department)",
        [now.0],
    )?;
    tx.execute(
        "INSERT INTO consents (number, brand, status, source, at)
         SELECT number, ?1, consent, ?2, ?3 FROM relais_import WHERE consent IS NOT NULL
         ON CONFLICT (number, brand) DO UPDATE SET status = excluded.status,
             source = excluded.source, at = excluded.at",
        params![spec.brand, spec.consent_source, now.0],
    )?;
    let (Some(c), Some(campaign)) = (&spec.campaign, outcome.campaign) else {
        return Ok(());
    };
    let due = spec.not_before.map_or(now.0, |t| t.0.max(now.0));
    crate::store::log_order(tx)?;
    tx.execute(
        "INSERT INTO jobs (campaign_id, number, text, class, brand, categories, department,
             consent, state, due_at, expires_at, created_at, updated_at)
         SELECT ?1, r.number, r.text, ?2, ?3, ?4, r.department,
                coalesce(r.consent, (SELECT status FROM consents s
                                     WHERE s.number = r.number AND s.brand = ?3), 'none'),
                'queued', ?5, ?6, ?7, ?7
         FROM relais_import r WHERE r.text IS NOT NULL ORDER BY r.line",
        params![
            campaign,
            c.class.name(),
            c.brand,
            c.categories,
            due,
            spec.expires.map(|t| t.0),
            now.0
        ],
    )?;
    tx.execute(
        "INSERT INTO job_history (job_id, at, state, detail)
         SELECT id, ?2, 'queued', 'created' FROM jobs WHERE campaign_id = ?1 ORDER BY id",
        params![campaign, now.0],
    )?;
    Ok(())
}

fn reject(outcome: &mut ImportOutcome, line: u64, reason: String) {
    if outcome.rejected.len() < MAX_REJECTED_KEPT {
        outcome.rejected.push(Rejected { line, reason });
    }
}

/// Parses a class name for the command line.
pub fn parse_class(text: &str) -> Result<Class, String> {
    Class::parse(text)
        .ok_or_else(|| format!("class {text:?} must be transactional, marketing or conversational"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::JobState;
    use crate::store::testing::both_engines;

    const T0: UtcInstant = UtcInstant(1_780_000_000);

    fn spec(template: &str) -> ImportSpec {
        ImportSpec {
            brand: "Acme".into(),
            consent_source: "import:test.csv".into(),
            campaign: Some(NewCampaign {
                name: "spring".into(),
                template: template.into(),
                class: Class::Marketing,
                brand: "Acme".into(),
                categories: String::new(),
            }),
            not_before: None,
            expires: None,
            strict: false,
        }
    }

    #[test]
    fn templates_render_fields_and_escapes() {
        let c = Contact {
            id: 1,
            number: "+33612345678".into(),
            first_name: "Léa".into(),
            last_name: "Martin".into(),
            fields: serde_json::from_str(r#"{"city":"Lyon"}"#).unwrap(),
            zone: None,
            department: None,
        };
        assert_eq!(
            render("Bonjour {first_name} de {city} {{promo}}", &c).unwrap(),
            "Bonjour Léa de Lyon {promo}"
        );
        assert!(
            render("Hi {nickname}", &c)
                .unwrap_err()
                .contains("nickname")
        );
        assert!(placeholders("Hi {first_name").is_err());
        assert!(placeholders("Hi first_name}").is_err());
        assert_eq!(placeholders("{a} {b}").unwrap(), ["a", "b"]);
    }

    both_engines! {
    fn bad_rows_are_rejected_with_reasons_and_good_ones_stored(s) {
        let csv = "number,first_name,consent,department\n\
                   +33612345678,Léa,yes,75\n\
                   0612345678,Tom,yes,\n\
                   +33612345679,,maybe,\n\
                   +33612345680,Zoé,no,120\n\
                   +33612345678,Léa again,yes,\n\
                   ,Nobody,yes,\n\
                   +33612345681,Max,opted-in,67\n";
        let out = import(
            &mut s,
            csv.as_bytes(),
            &spec("Bonjour {first_name}"),
            T0,
            &mut |_| {},
        )
        .unwrap();
        assert_eq!(out.rows, 7);
        assert_eq!(out.accepted, 2);
        let reasons: Vec<(u64, &str)> = out
            .rejected
            .iter()
            .map(|r| (r.line, r.reason.as_str()))
            .collect();
        assert_eq!(reasons.len(), 5);
        assert!(reasons[0].1.contains("national form"), "{reasons:?}");
        assert_eq!(reasons[0].0, 3);
        assert!(reasons[1].1.contains("consent"));
        assert!(reasons[2].1.contains("department"));
        assert!(reasons[3].1.contains("twice"));
        assert!(reasons[4].1.contains("empty number"));
        let counts = s.job_counts(out.campaign).unwrap();
        assert_eq!(counts, vec![(JobState::Queued, 2)]);
        assert_eq!(
            s.contact("+33612345681").unwrap().unwrap().department,
            Some(67)
        );
        assert_eq!(
            s.consent_of("+33612345678", "Acme")
                .unwrap()
                .unwrap()
                .status,
            ConsentStatus::OptedIn
        );
    }}

    both_engines! {
    fn a_missing_field_rejects_the_row_and_strict_mode_stores_nothing(s) {
        let csv = "number,first_name\n+33612345678,Léa\n+33612345679,\n";
        let mut strict = spec("Hi {first_name}, {city}");
        let err = import(&mut s, csv.as_bytes(), &strict, T0, &mut |_| {}).unwrap_err();
        assert!(err.contains("no row could be imported"), "{err}");
        assert!(err.contains("{city}"), "{err}");
        assert_eq!(s.contact_count().unwrap(), 0);
        assert!(s.campaign("spring").unwrap().is_none());
        strict.campaign.as_mut().unwrap().template = "Hi {first_name}".into();
        strict.strict = true;
        let big = format!(
            "number,first_name\n+33612345678,Léa\n+33612345679,{}\n",
            "x".repeat(700)
        );
        let err = import(&mut s, big.as_bytes(), &strict, T0, &mut |_| {}).unwrap_err();
        assert!(err.contains("--strict"), "{err}");
        assert!(err.contains("bytes"), "{err}");
        assert_eq!(s.contact_count().unwrap(), 0);
    }}

    both_engines! {
    fn no_number_column_and_empty_template_are_errors(s) {
        let err = import(
            &mut s,
            "name\nLéa\n".as_bytes(),
            &spec("Hi"),
            T0,
            &mut |_| {},
        )
        .unwrap_err();
        assert!(err.contains("no `number` column"), "{err}");
        let err = import(
            &mut s,
            "number\n+33612345678\n".as_bytes(),
            &spec("  "),
            T0,
            &mut |_| {},
        )
        .unwrap_err();
        assert!(err.contains("empty"), "{err}");
    }}

    /// Every row of what an import writes, without ids (they differ by engine).
    fn dump(s: &Store) -> Vec<String> {
        let db = s.db();
        let mut out = Vec::new();
        let text =
            |r: &crate::store::db::Row<'_>, n: usize| -> crate::store::db::DbResult<String> {
                let mut cells = Vec::new();
                for i in 0..n {
                    let v: Option<String> = match r.get::<Option<String>>(i) {
                        Ok(v) => v,
                        Err(_) => r.get::<Option<i64>>(i)?.map(|n| n.to_string()),
                    };
                    cells.push(v.unwrap_or_else(|| "NULL".into()));
                }
                Ok(cells.join("|"))
            };
        for (sql, n) in [
            (
                "SELECT number, first_name, last_name, fields, zone, department, created_at FROM contacts ORDER BY number",
                7,
            ),
            (
                "SELECT number, brand, status, source, at FROM consents ORDER BY number, brand",
                5,
            ),
            (
                "SELECT number, text, class, brand, categories, department, consent, state, due_at, expires_at, created_at FROM jobs ORDER BY id",
                11,
            ),
            (
                "SELECT j.number, h.at, h.state, h.detail FROM job_history h JOIN jobs j ON j.id = h.job_id ORDER BY h.id",
                4,
            ),
        ] {
            out.extend(db.query_map(sql, params![], |r| text(r, n)).unwrap());
        }
        out
    }

    /// The PostgreSQL import (COPY, then one statement per table) writes exactly what
    /// the SQLite import (row by row) writes, rejections included.
    #[test]
    fn the_copy_import_writes_what_the_row_import_writes() {
        let Some(mut pg) = crate::store::testing::postgres_store(
            "campaign::the_copy_import_writes_what_the_row_import_writes",
        ) else {
            return;
        };
        let mut lite = Store::open_in_memory().unwrap();
        let csv = "number,first_name,consent,department,zone,city\n\
                   +33612345678,Léa,yes,75,,Paris\n\
                   +33612345679,Tom,,,Europe/Paris,Lyon\n\
                   0612345670,National,yes,,,Nice\n\
                   +33612345680,Zoé,no,13,,\"Mar\tseille\"\n\
                   +33612345678,Again,yes,,,Paris\n\
                   +33612345681,Max,existing-customer,67,,Strasbourg\n";
        let mut spec = spec("Bonjour {first_name} de {city}");
        spec.not_before = Some(UtcInstant(T0.0 + 3600));
        spec.expires = Some(UtcInstant(T0.0 + 86_400));
        for s in [&mut lite, &mut pg] {
            // What was there before: a contact with a zone the file does not give, and
            // a consent the file does not repeat.
            s.upsert_contacts(
                &[NewContact {
                    number: "+33612345679".into(),
                    zone: Some("Europe/Paris".into()),
                    department: Some(69),
                    ..Default::default()
                }],
                UtcInstant(T0.0 - 10),
            )
            .unwrap();
            s.set_consent(&ConsentRecord {
                number: "+33612345679".into(),
                brand: "Acme".into(),
                status: ConsentStatus::OptedIn,
                source: "earlier".into(),
                at: UtcInstant(T0.0 - 10),
            })
            .unwrap();
        }
        let a = import(&mut lite, csv.as_bytes(), &spec, T0, &mut |_| {}).unwrap();
        let b = import(&mut pg, csv.as_bytes(), &spec, T0, &mut |_| {}).unwrap();
        assert_eq!((a.rows, a.accepted, a.new_contacts), (6, 4, 3));
        assert_eq!(
            (b.rows, b.accepted, b.new_contacts, b.rejected.len()),
            (a.rows, a.accepted, a.new_contacts, a.rejected.len())
        );
        assert_eq!(dump(&pg), dump(&lite));
    }
}
