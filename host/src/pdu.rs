//! `relais pdu`: encode, decode and count SMS PDUs with the codec in `relais_core::sms`.
//!
//! Output formats and JSON field names are documented in the README (`### relais pdu`).

use std::fmt::Write as _;
use std::process::ExitCode;

use clap::{Subcommand, ValueEnum};
use relais_core::sms::pdu::{
    self, Address, Concat, EncodingChoice, MessageClass, MessageReference, PhoneNumber,
    RelativeValidity, SmscField, SubmitHeader, TextPlan, Timestamp, Tpdu, UserData, Validity,
};
use relais_core::sms::{ConcatWidth, Encoding, NationalLanguage, Shift, preview_national};

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

/// `{"locking", "single"}` for national tables, `null` for the default alphabet.
fn shift_json(shift: Shift) -> Json {
    if shift.is_default() {
        return Json::Null;
    }
    let name = |l: Option<NationalLanguage>| l.map_or(Json::Null, |l| Json::str(language_name(l)));
    Json::obj([
        ("locking", name(shift.locking)),
        ("single", name(shift.single)),
    ])
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
        PduCommand::Count(a) => Ok(count(&a)),
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
    let json = Json::obj([
        ("type", Json::str("submit")),
        ("smsc", opt_str(smsc.as_ref().map(|s| s.to_string()))),
        ("to", Json::Str(to.to_string())),
        ("text", Json::str(&a.text)),
        ("encoding", Json::str(plan.encoding().name())),
        ("national", shift_json(plan.shift())),
        ("class", class_json(header.class)),
        ("report", Json::Bool(a.report)),
        ("mr", Json::Num(i64::from(a.mr))),
        (
            "segments",
            Json::Arr(
                segments
                    .into_iter()
                    .map(|(len, h, concat)| {
                        Json::obj([
                            ("length", Json::Num(len as i64)),
                            ("pdu", Json::Str(h)),
                            ("concat", concat_json(concat)),
                        ])
                    })
                    .collect(),
            ),
        ),
    ]);
    Ok(format!("{json}\n"))
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
        return Ok(format!("{}\n", Json::Obj(fields)));
    }
    let mut out = String::new();
    for (name, value) in fields {
        let shown = match value {
            Json::Null => continue,
            Json::Str(s) => s,
            other => other.to_string(),
        };
        let _ = writeln!(out, "{name}: {shown}");
    }
    Ok(out)
}

/// The decoded fields, named as in the README.
fn fields(tpdu: &Tpdu<'_>) -> Vec<(&'static str, Json)> {
    let mut f: Vec<(&'static str, Json)> = Vec::new();
    match tpdu {
        Tpdu::Deliver(d) => {
            f.push(("type", Json::str("deliver")));
            f.push(("smsc", opt_str(d.smsc.as_ref().map(|s| s.to_string()))));
            f.push(("from", Json::Str(d.from.to_string())));
            f.push(("timestamp", timestamp_json(&d.timestamp)));
            user_data_fields(&mut f, &d.user_data, d.dcs.class);
        }
        Tpdu::Submit(s) => {
            f.push(("type", Json::str("submit")));
            f.push(("smsc", opt_str(s.smsc.as_ref().map(|s| s.to_string()))));
            f.push(("to", Json::Str(s.to.to_string())));
            f.push(("mr", Json::Num(i64::from(s.message_reference.0))));
            f.push(("report", Json::Bool(s.status_report)));
            let validity = match s.validity {
                Validity::None => Json::Null,
                Validity::Relative(v) => Json::Str(format!("{} min", v.minutes())),
                Validity::Absolute(t) => timestamp_json(&t),
                Validity::Enhanced(raw) => Json::Str(format!("enhanced {}", hex(&raw))),
            };
            f.push(("validity", validity));
            user_data_fields(&mut f, &s.user_data, s.dcs.class);
        }
        Tpdu::StatusReport(r) => {
            f.push(("type", Json::str("status-report")));
            f.push(("smsc", opt_str(r.smsc.as_ref().map(|s| s.to_string()))));
            f.push(("to", Json::Str(r.recipient.to_string())));
            f.push(("mr", Json::Num(i64::from(r.message_reference.0))));
            f.push(("status", Json::str(r.status.kind().name())));
            f.push(("status_code", Json::Num(i64::from(r.status.0))));
            f.push(("status_text", Json::str(r.status.description())));
            f.push(("timestamp", timestamp_json(&r.timestamp)));
            f.push(("discharge_time", timestamp_json(&r.discharge_time)));
        }
    }
    f
}

fn user_data_fields(
    f: &mut Vec<(&'static str, Json)>,
    ud: &UserData<'_>,
    class: Option<MessageClass>,
) {
    f.push(("encoding", Json::str(ud.encoding.name())));
    if ud.encoding == Encoding::Gsm7 && !ud.shift().is_default() {
        f.push(("national", shift_json(ud.shift())));
    }
    f.push(("class", class_json(class)));
    if ud.encoding == Encoding::EightBit {
        f.push(("text", Json::Null));
        f.push(("data", Json::Str(hex(ud.octets().unwrap_or(&[])))));
    } else {
        let mut text = String::new();
        let _ = ud.write_text(&mut text);
        f.push(("text", Json::Str(text)));
    }
    f.push(("concat", concat_json(ud.udh.concat)));
}

fn concat_json(c: Option<Concat>) -> Json {
    match c {
        Some(c) => Json::obj([
            ("ref", Json::Num(i64::from(c.reference))),
            ("part", Json::Num(i64::from(c.part))),
            ("total", Json::Num(i64::from(c.total))),
        ]),
        None => Json::Null,
    }
}

fn count(a: &CountArgs) -> String {
    let p = preview_national(&a.text, &languages(&a.national));
    let unit = match p.encoding {
        Encoding::Gsm7 => "septets",
        Encoding::Ucs2 => "UTF-16 units",
        Encoding::EightBit => "octets",
    };
    if a.json {
        let json = Json::obj([
            ("encoding", Json::str(p.encoding.name())),
            ("national", shift_json(p.shift)),
            ("segments", Json::Num(i64::from(p.segments.get()))),
            ("units", Json::Num(i64::from(p.units))),
            ("capacity", Json::Num(i64::from(p.capacity))),
            ("free", Json::Num(i64::from(p.free_in_last))),
        ]);
        return format!("{json}\n");
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
    format!(
        "{}{national} {} segment{plural} ({} {unit}, {} per segment, {} free in the last)\n",
        p.encoding, p.segments, p.units, p.capacity, p.free_in_last
    )
}

fn class_json(c: Option<MessageClass>) -> Json {
    c.map_or(Json::Null, |c| Json::Num(i64::from(c.number())))
}

fn timestamp_json(t: &Timestamp) -> Json {
    Json::Str(t.to_string())
}

fn opt_str(s: Option<String>) -> Json {
    s.map_or(Json::Null, Json::Str)
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    let _ = pdu::hex::write(bytes, &mut s);
    s
}

/// Just enough JSON for this command's output (objects keep their field order).
#[derive(Debug)]
enum Json {
    Null,
    Bool(bool),
    Num(i64),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(&'static str, Json)>),
}

impl Json {
    fn str(s: &str) -> Json {
        Json::Str(s.to_owned())
    }

    fn obj<const N: usize>(fields: [(&'static str, Json); N]) -> Json {
        Json::Obj(fields.into())
    }
}

impl std::fmt::Display for Json {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Json::Null => f.write_str("null"),
            Json::Bool(b) => write!(f, "{b}"),
            Json::Num(n) => write!(f, "{n}"),
            Json::Str(s) => write_json_str(f, s),
            Json::Arr(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
            Json::Obj(fields) => {
                f.write_str("{")?;
                for (i, (name, value)) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write_json_str(f, name)?;
                    write!(f, ":{value}")?;
                }
                f.write_str("}")
            }
        }
    }
}

/// A JSON string literal (RFC 8259 §7): quote, backslash and control characters escaped.
fn write_json_str(f: &mut std::fmt::Formatter<'_>, s: &str) -> std::fmt::Result {
    f.write_str("\"")?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            c if u32::from(c) < 0x20 => write!(f, "\\u{:04x}", u32::from(c))?,
            c => f.write_char(c)?,
        }
    }
    f.write_str("\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_escapes() {
        let j = Json::obj([("t", Json::str("a\"b\\c\n\u{1}€"))]);
        assert_eq!(j.to_string(), "{\"t\":\"a\\\"b\\\\c\\n\\u0001€\"}");
    }
}
