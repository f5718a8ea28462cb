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
        let before: i64 = tx.query_row("SELECT count(*) FROM contacts", params![], |r| r.get(0))?;
        let mut seen = HashSet::new();
        let mut record = csv::StringRecord::new();
        loop {
            match csv.read_record(&mut record) {
                Ok(false) => break,
                Ok(true) => {}
                Err(e) => {
                    outcome.rows += 1;
                    let line = e.position().map_or(0, |p| p.line());
                    reject(&mut outcome, line, format!("unreadable row: {e}"));
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
            match row(&record, &cols, spec) {
                Ok((contact, consent, text)) => {
                    if !seen.insert(contact.number.clone()) {
                        reject(
                            &mut outcome,
                            line,
                            format!("{} appears twice in the file", contact.number),
                        );
                        continue;
                    }
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
                            outcome.campaign,
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
                    outcome.accepted += 1;
                }
                Err(reason) => reject(&mut outcome, line, reason),
            }
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
        let after: i64 = tx.query_row("SELECT count(*) FROM contacts", params![], |r| r.get(0))?;
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
}
