//! Replies of sms-services (Kannel's `sms-service` answers): when a `[[http.service]]`
//! has `reply = true`, the text its URL answered is sent back to the sender, as a
//! conversational message judged by the compliance core like any other.

use crate::store::db::OptionalExt as _;
use relais_core::compliance::class::Class;
use relais_core::compliance::decision::ConsentStatus;
use relais_core::compliance::number::Msisdn;
use relais_core::link::msg::MAX_TEXT;

use super::server::App;
use crate::scheduler::{judge, record_judgement};
use crate::store::{NewJob, Origin};

/// Queues the reply `body` to inbound message `inbound_id`, if its service wants
/// replies. Only text answers are sent (no content type, or `text/plain` in UTF-8 or
/// US-ASCII); an empty answer sends nothing.
pub fn send(
    app: &App,
    inbound_id: i64,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<(), String> {
    let mut store = app.ctx.store();
    let row: Option<(String, String, String)> = store
        .db()
        .query_row(
            "SELECT device, sender, text FROM inbound WHERE id = ?1",
            [inbound_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()
        .map_err(|e| e.to_string())?;
    let Some((device, sender, text)) = row else {
        return Ok(());
    };
    let Some(service) = super::outbox::route(&app.config.http.services, &text) else {
        return Ok(());
    };
    if !service.reply {
        return Ok(());
    }
    if let Some(ct) = content_type {
        let ct = ct.to_ascii_lowercase();
        let textual = ct.starts_with("text/plain");
        let charset_ok = !ct.contains("charset=")
            || ct.contains("utf-8")
            || ct.contains("\"utf-8\"")
            || ct.contains("us-ascii");
        if !textual || !charset_ok {
            return Err(format!(
                "the service answered {ct:?}; only text/plain in UTF-8 is sent back"
            ));
        }
    }
    let answer = std::str::from_utf8(body)
        .map_err(|_| "the service's answer is not UTF-8".to_string())?
        .trim();
    if answer.is_empty() {
        return Ok(());
    }
    let mut cut = answer.len().min(MAX_TEXT);
    while !answer.is_char_boundary(cut) {
        cut -= 1;
    }
    let Ok(number) = Msisdn::parse(&sender) else {
        return Err(format!("cannot reply to {sender:?}: not a phone number"));
    };
    let brand = app.default_brand(service.brand.as_deref());
    let identity = app.identity_for(&brand, Some(&device))?;
    let now = app.ctx.clock.now();
    let job = NewJob {
        number: number.to_string(),
        text: answer[..cut].to_string(),
        class: Class::Conversational,
        brand,
        categories: String::new(),
        department: None,
        consent: ConsentStatus::None,
        not_before: None,
        expires: None,
    };
    // The answer goes back through the device the message came in on: the sender
    // wrote to that SIM's number.
    let origin = Origin {
        client: format!("service:{}", service.keyword),
        via: Some(device.clone()),
        ..Default::default()
    };
    let id = store
        .insert_job_from(&job, &origin, now)
        .map_err(|e| e.to_string())?;
    let row = store
        .job(id)
        .map_err(|e| e.to_string())?
        .ok_or("the reply vanished")?;
    let judgement = judge(&store, &row, &identity, &app.ctx.options, now);
    record_judgement(&mut store, id, &judgement, now).map_err(|e| e.to_string())?;
    tracing::info!(job = id, service = %service.keyword, "service reply queued");
    Ok(())
}
