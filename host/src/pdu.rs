//! `relais pdu`: encode, decode and count SMS PDUs with the codec in `relais_core::sms`.
//!
//! Output formats and JSON field names are documented in the README (`### relais pdu`).

use std::fmt::Write as _;
use std::process::ExitCode;

use clap::{Subcommand, ValueEnum};
use relais_core::sms::pdu::{
    self, Address, Concat, EncodingChoice, MessageClass, MessageReference, PhoneNumber,
    RelativeValidity, SmscField, SubmitHeader, TextPlan, Tpdu, UserData, Validity,
};
use relais_core::sms::{ConcatWidth, Encoding, NationalLanguage, Shift, preview_national};
use serde::{Serialize, Serializer};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: PduCommand,
}

#[derive(Debug, Subcommand)]
enum PduCommand {
    /// Encode TEXT as SMS-SUBMIT PDUs: one line per segment, `<length> <hex>`, where
    /// <length> is the TPDU length for `AT+CMGS=<length>` and <hex> includes the SMSC field.
    Encode(EncodeArgs),
    /// Decode a PDU (SMS-DELIVER, SMS-SUBMIT or SMS-STATUS-REPORT) given in hex.
    Decode(DecodeArgs),
    /// Tell which encoding TEXT needs and how many segments it costs.
    Count(CountArgs),
}

#[derive(Debug, clap::Args)]
struct EncodeArgs {
    /// Destination number: `+` and digits for international, digits alone otherwise.
    #[arg(long)]
    to: String,
    /// SMSC number to put in the PDU (default: `00`, the modem's `AT+CSCA` setting).
    #[arg(long)]
    smsc: Option<String>,
    /// Request a delivery report (TP-SRR).
    #[arg(long)]
    report: bool,
    /// Alphabet: `auto` picks GSM 7-bit when every character fits, else UCS-2.
    #[arg(long, value_enum, default_value_t = EncodingArg::Auto)]
    encoding: EncodingArg,
    /// Concatenation reference for multipart messages, 0-65535 (above 255 uses a 16-bit
    /// reference). Default: derived from the text, so the output is reproducible.
    #[arg(long = "ref")]
    reference: Option<u16>,
    /// TP-MR of the first segment (later segments count up); 0 lets the modem choose.
    #[arg(long, default_value_t = 0)]
    mr: u8,
    /// Message class 0-3 (0 = flash, shown at once and not stored).
    #[arg(long, value_parser = clap::value_parser!(u8).range(0..=3))]
    class: Option<u8>,
    /// Relative validity period in minutes (rounded up to what TP-VP can express).
    #[arg(long)]
    validity: Option<u32>,
    /// National language shift tables GSM 7-bit may use when that takes fewer segments
    /// than UCS-2 (comma-separated: turkish, spanish, portuguese).
    #[arg(long, value_enum, value_delimiter = ',')]
    national: Vec<LanguageArg>,
    /// Print JSON instead of lines.
    #[arg(long)]
    json: bool,
    /// The message text.
    text: String,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LanguageArg {
    Turkish,
    Spanish,
    Portuguese,
}

fn languages(args: &[LanguageArg]) -> Vec<NationalLanguage> {
    args.iter()
        .map(|l| match l {
            LanguageArg::Turkish => NationalLanguage::Turkish,
            LanguageArg::Spanish => NationalLanguage::Spanish,
            LanguageArg::Portuguese => NationalLanguage::Portuguese,
        })
        .collect()
}

fn language_name(l: NationalLanguage) -> &'static str {
    match l {
        NationalLanguage::Turkish => "turkish",
        NationalLanguage::Spanish => "spanish",
        NationalLanguage::Portuguese => "portuguese",
    }
}

/// `{"locking", "single"}`: the national language tables a GSM 7-bit text uses.
#[derive(Debug, Serialize)]
struct NationalJson {
    locking: Option<&'static str>,
    single: Option<&'static str>,
}

/// The national tables, `None` (`null`) for the default alphabet.
fn shift_json(shift: Shift) -> Option<NationalJson> {
    (!shift.is_default()).then(|| NationalJson {
        locking: shift.locking.map(language_name),
        single: shift.single.map(language_name),
    })
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum EncodingArg {
    Auto,
    Gsm7,
    Ucs2,
}

#[derive(Debug, clap::Args)]
struct DecodeArgs {
    /// The hex is a bare TPDU, without the leading SMSC field.
    #[arg(long)]
    no_smsc: bool,
    /// Print JSON instead of `field: value` lines.
    #[arg(long)]
    json: bool,
    /// The PDU in hex (upper or lower case).
    hex: String,
}

#[derive(Debug, clap::Args)]
struct CountArgs {
    /// National language shift tables that may be used (see `encode --national`).
    #[arg(long, value_enum, value_delimiter = ',')]
    national: Vec<LanguageArg>,
    /// Print JSON instead of a sentence.
    #[arg(long)]
    json: bool,
    /// The message text.
    text: String,
}

pub fn run(args: Args) -> ExitCode {
    let result = match args.command {
        PduCommand::Encode(a) => encode(&a),
        PduCommand::Decode(a) => decode(&a),
        PduCommand::Count(a) => count(&a),
    };
    match result {
        Ok(out) => {
            print!("{out}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("relais pdu: error: {message}");
            ExitCode::from(2)
        }
    }
}

fn encode(a: &EncodeArgs) -> Result<String, String> {
    let to = PhoneNumber::parse(&a.to).map_err(|e| format!("--to {:?}: {e}", a.to))?;
    let to = Address::Number(to);
    let smsc = match &a.smsc {
        Some(s) => Some(PhoneNumber::parse(s).map_err(|e| format!("--smsc {s:?}: {e}"))?),
        None => None,
    };
    let choice = match a.encoding {
        EncodingArg::Auto => EncodingChoice::Auto,
        EncodingArg::Gsm7 => EncodingChoice::Gsm7,
        EncodingArg::Ucs2 => EncodingChoice::Ucs2,
    };
    let reference = a.reference.unwrap_or_else(|| default_reference(&a.text));
    let width = if reference > 0xFF {
        ConcatWidth::Ref16
    } else {
        ConcatWidth::Ref8
    };
    let langs = languages(&a.national);
    let plan = TextPlan::with_national(&a.text, choice, width, reference, &langs)
        .map_err(|e| e.to_string())?;
    let mut header = SubmitHeader::new(&to);
    header.smsc = smsc.as_ref();
    header.status_report = a.report;
    header.class = a.class.map(MessageClass::from_bits);
    header.validity = a.validity.map(RelativeValidity::from_minutes);

    let mut segments = Vec::new();
    for (i, seg) in plan.segments().enumerate() {
        header.message_reference = MessageReference(a.mr.wrapping_add(i as u8));
        let mut buf = [0u8; pdu::MAX_PDU_LEN];
        let e = pdu::encode_submit(&header, &seg, &mut buf).map_err(|e| e.to_string())?;
        segments.push((e.tpdu_len, hex(&buf[..e.pdu_len]), seg.concat));
    }

    if !a.json {
        let mut out = String::new();
        for (len, h, _) in &segments {
            let _ = writeln!(out, "{len} {h}");
        }
        return Ok(out);
    }
    let json = EncodeJson {
        kind: "submit",
        smsc: smsc.as_ref().map(|s| s.to_string()),
        to: to.to_string(),
        text: &a.text,
        encoding: plan.encoding().name(),
        national: shift_json(plan.shift()),
        class: header.class.map(MessageClass::number),
        report: a.report,
        mr: a.mr,
        segments: segments
            .into_iter()
            .map(|(length, pdu, concat)| SegmentJson {
                length,
                pdu,
                concat: concat.map(ConcatJson::from),
            })
            .collect(),
    };
    json_line(&json)
}

/// `encode --json`.
#[derive(Debug, Serialize)]
struct EncodeJson<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    smsc: Option<String>,
    to: String,
    text: &'a str,
    encoding: &'static str,
    national: Option<NationalJson>,
    class: Option<u8>,
    report: bool,
    mr: u8,
    segments: Vec<SegmentJson>,
}

/// One segment of `encode --json`.
#[derive(Debug, Serialize)]
struct SegmentJson {
    length: usize,
    pdu: String,
    concat: Option<ConcatJson>,
}

/// `{"ref", "part", "total"}` of a multipart message.
#[derive(Debug, Serialize)]
struct ConcatJson {
    #[serde(rename = "ref")]
    reference: u16,
    part: u8,
    total: u8,
}

impl From<Concat> for ConcatJson {
    fn from(c: Concat) -> ConcatJson {
        ConcatJson {
            reference: c.reference,
            part: c.part,
            total: c.total,
        }
    }
}

/// `value` as one line of compact JSON.
fn json_line(value: &impl Serialize) -> Result<String, String> {
    let mut out = serde_json::to_string(value).map_err(|e| format!("cannot write JSON: {e}"))?;
    out.push('\n');
    Ok(out)
}

/// A reference in 0-255 derived from the text (FNV-1a), so that the same command prints
/// the same PDUs. A sender should vary it between messages to one recipient.
fn default_reference(text: &str) -> u16 {
    let mut h: u32 = 0x811C_9DC5;
    for b in text.bytes() {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    (h & 0xFF) as u16
}

fn decode(a: &DecodeArgs) -> Result<String, String> {
    let bytes = pdu::hex::decode_vec::<512>(&a.hex).map_err(|e| e.to_string())?;
    let smsc = if a.no_smsc {
        SmscField::Absent
    } else {
        SmscField::Present
    };
    let tpdu = pdu::decode(&bytes, smsc).map_err(|e| e.to_string())?;
    let fields = fields(&tpdu);
    if a.json {
        return json_line(&fields);
    }
    let mut out = String::new();
    for (name, value) in fields.0 {
        let shown = match value {
            None => continue,
            Some(Field::Text(s)) => s,
            Some(other) => serde_json::to_string(&other).map_err(|e| e.to_string())?,
        };
        let _ = writeln!(out, "{name}: {shown}");
    }
    Ok(out)
}

/// The decoded fields in order, named as in the README: `decode --json` writes them as
/// one object, `decode` as `name: value` lines (leaving out the `null` ones).
#[derive(Debug)]
struct Fields(Vec<(&'static str, Option<Field>)>);

impl Fields {
    fn put(&mut self, name: &'static str, value: impl Into<Option<Field>>) {
        self.0.push((name, value.into()));
    }
}

impl Serialize for Fields {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(name, value)| (name, value)))
    }
}

/// The value of one decoded field (a field without a value is `None`, `null` in JSON).
#[derive(Debug, Serialize)]
#[serde(untagged)]
enum Field {
    Text(String),
    Number(u8),
    Flag(bool),
    National(NationalJson),
    Concat(ConcatJson),
}

/// A text field from anything printable (names, numbers as text, timestamps).
fn text(value: impl std::fmt::Display) -> Field {
    Field::Text(value.to_string())
}

fn fields(tpdu: &Tpdu<'_>) -> Fields {
    let mut f = Fields(Vec::new());
    match tpdu {
        Tpdu::Deliver(d) => {
            f.put("type", text("deliver"));
            f.put("smsc", d.smsc.as_ref().map(text));
            f.put("from", text(&d.from));
            f.put("timestamp", text(d.timestamp));
            user_data_fields(&mut f, &d.user_data, d.dcs.class);
        }
        Tpdu::Submit(s) => {
            f.put("type", text("submit"));
            f.put("smsc", s.smsc.as_ref().map(text));
            f.put("to", text(&s.to));
            f.put("mr", Field::Number(s.message_reference.0));
            f.put("report", Field::Flag(s.status_report));
            let validity = match s.validity {
                Validity::None => None,
                Validity::Relative(v) => Some(Field::Text(format!("{} min", v.minutes()))),
                Validity::Absolute(t) => Some(text(t)),
                Validity::Enhanced(raw) => Some(Field::Text(format!("enhanced {}", hex(&raw)))),
            };
            f.put("validity", validity);
            user_data_fields(&mut f, &s.user_data, s.dcs.class);
        }
        Tpdu::StatusReport(r) => {
            f.put("type", text("status-report"));
            f.put("smsc", r.smsc.as_ref().map(text));
            f.put("to", text(&r.recipient));
            f.put("mr", Field::Number(r.message_reference.0));
            f.put("status", text(r.status.kind().name()));
            f.put("status_code", Field::Number(r.status.0));
            f.put("status_text", text(r.status.description()));
            f.put("timestamp", text(r.timestamp));
            f.put("discharge_time", text(r.discharge_time));
        }
    }
    f
}

fn user_data_fields(f: &mut Fields, ud: &UserData<'_>, class: Option<MessageClass>) {
    f.put("encoding", text(ud.encoding.name()));
    if ud.encoding == Encoding::Gsm7 && !ud.shift().is_default() {
        f.put("national", shift_json(ud.shift()).map(Field::National));
    }
    f.put("class", class.map(|c| Field::Number(c.number())));
    if ud.encoding == Encoding::EightBit {
        f.put("text", None);
        f.put("data", Field::Text(hex(ud.octets().unwrap_or(&[]))));
    } else {
        let mut text = String::new();
        let _ = ud.write_text(&mut text);
        f.put("text", Field::Text(text));
    }
    f.put(
        "concat",
        ud.udh.concat.map(|c| Field::Concat(ConcatJson::from(c))),
    );
}

fn count(a: &CountArgs) -> Result<String, String> {
    let p = preview_national(&a.text, &languages(&a.national));
    let unit = match p.encoding {
        Encoding::Gsm7 => "septets",
        Encoding::Ucs2 => "UTF-16 units",
        Encoding::EightBit => "octets",
    };
    if a.json {
        return json_line(&CountJson {
            encoding: p.encoding.name(),
            national: shift_json(p.shift),
            segments: p.segments.get(),
            units: p.units,
            capacity: p.capacity,
            free: p.free_in_last,
        });
    }
    let plural = if p.segments.get() == 1 { "" } else { "s" };
    let national = match (p.shift.locking, p.shift.single) {
        (None, None) => String::new(),
        (l, s) => format!(
            " with {} tables",
            [
                l.map(|l| format!("{} locking", language_name(l))),
                s.map(|s| format!("{} single shift", language_name(s)))
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" and ")
        ),
    };
    Ok(format!(
        "{}{national} {} segment{plural} ({} {unit}, {} per segment, {} free in the last)\n",
        p.encoding, p.segments, p.units, p.capacity, p.free_in_last
    ))
}

/// `count --json`.
#[derive(Debug, Serialize)]
struct CountJson {
    encoding: &'static str,
    national: Option<NationalJson>,
    segments: u16,
    units: u32,
    capacity: u16,
    free: u16,
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    let _ = pdu::hex::write(bytes, &mut s);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_escapes() {
        let f = Fields(vec![("t", Some(text("a\"b\\c\n\u{1}€")))]);
        assert_eq!(
            json_line(&f).unwrap(),
            "{\"t\":\"a\\\"b\\\\c\\n\\u0001€\"}\n"
        );
    }
}
