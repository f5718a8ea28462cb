//! Command-line syntax: splitting `AT…` lines into commands (V.250 §5.3) and their
//! arguments, and the texts of verbose error codes.

use super::super::time::{SimInstant, UtcOffset};

#[derive(Clone, Debug)]
pub(super) struct Arg {
    pub(super) text: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Op {
    Exec,
    Read,
    Test,
    Set(String),
}

/// TPDU length of SMSC field + TPDU (what `+CMGS`/`+CMGR`/`+CMT` count, docs/modems.md
/// § Sending: AT+CMGS).
pub(super) fn tpdu_len(pdu: &[u8]) -> usize {
    let smsc = usize::from(pdu.first().copied().unwrap_or(0)) + 1;
    pdu.len().saturating_sub(smsc)
}

/// Type of address for text-mode answers: 145 international, 129 otherwise.
pub(super) fn toa(number: &str) -> u8 {
    if number.starts_with('+') { 145 } else { 129 }
}

pub(super) fn parse_cclk(text: &str) -> Option<SimInstant> {
    // yy/MM/dd,hh:mm:ss±zz
    let (date, time) = text.split_once(',')?;
    let d: Vec<u32> = date
        .split('/')
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    let (clock, tz) = match time.find(['+', '-']) {
        Some(i) => (&time[..i], &time[i..]),
        None => (time, "+00"),
    };
    let t: Vec<u32> = clock
        .split(':')
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    if d.len() != 3 || t.len() != 3 {
        return None;
    }
    let quarters: i8 = tz.parse().ok()?;
    Some(SimInstant::from_civil(
        2000 + i64::from(d[0]),
        d[1],
        d[2],
        (t[0], t[1], t[2]),
        UtcOffset(quarters),
    ))
}

/// Splits the part of a command line after `AT` into (name, operation) pairs:
/// basic commands (`E0`, `V1`, `&F`, `Z`) and extended ones (`+CMGF=0`, `+CSQ`,
/// `+CPMS?`, `+CNMI=?`), extended ones separated by `;` (V.250 §5.3).
pub(super) fn split_commands(body: &str) -> Option<Vec<(String, Op)>> {
    let chars: Vec<char> = body.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    while i < chars.len() {
        let c = chars[i];
        if c == ';' || c == ' ' {
            i += 1;
            continue;
        }
        if matches!(c, '+' | '$' | '^' | '*' | '#' | '%') {
            let start = i;
            i += 1;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let name: String = chars[start..i]
                .iter()
                .collect::<String>()
                .to_ascii_uppercase();
            let op = if chars.get(i) == Some(&'=') && chars.get(i + 1) == Some(&'?') {
                i += 2;
                Op::Test
            } else if chars.get(i) == Some(&'?') {
                i += 1;
                Op::Read
            } else if chars.get(i) == Some(&'=') {
                i += 1;
                let start = i;
                let mut quoted = false;
                while i < chars.len() && (quoted || chars[i] != ';') {
                    if chars[i] == '"' {
                        quoted = !quoted;
                    }
                    i += 1;
                }
                Op::Set(chars[start..i].iter().collect())
            } else {
                Op::Exec
            };
            out.push((name, op));
            continue;
        }
        let (name, next) = if c == '&' {
            (
                format!("&{}", chars.get(i + 1)?.to_ascii_uppercase()),
                i + 2,
            )
        } else if c.is_ascii_alphabetic() {
            (c.to_ascii_uppercase().to_string(), i + 1)
        } else {
            return None;
        };
        if name == "D" {
            // Dialling is not simulated.
            return None;
        }
        i = next;
        if name == "S" {
            // S-register: Sn?, Sn=v
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            if chars.get(i) == Some(&'?') {
                i += 1;
            } else if chars.get(i) == Some(&'=') {
                i += 1;
                while i < chars.len() && chars[i].is_ascii_digit() {
                    i += 1;
                }
            }
            out.push((name, Op::Exec));
            continue;
        }
        let start = i;
        while i < chars.len() && chars[i].is_ascii_digit() {
            i += 1;
        }
        let op = if i > start {
            Op::Set(chars[start..i].iter().collect())
        } else {
            Op::Exec
        };
        out.push((name, op));
    }
    Some(out)
}

/// Splits `a,"b,c",d` at commas outside quotes.
pub(super) fn parse_args(text: &str) -> Vec<Arg> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut was_quoted = false;
    for c in text.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                was_quoted = true;
            }
            ',' if !quoted => {
                out.push(Arg {
                    text: cur.trim().to_string(),
                });
                cur.clear();
                was_quoted = false;
            }
            _ => cur.push(c),
        }
    }
    // A quoted last argument keeps its spaces; a bare one is trimmed.
    out.push(Arg {
        text: if was_quoted {
            cur
        } else {
            cur.trim().to_string()
        },
    });
    out
}

pub(super) fn cme_text(code: u16) -> &'static str {
    match code {
        3 => "operation not allowed",
        4 => "operation not supported",
        10 => "SIM not inserted",
        11 => "SIM PIN required",
        14 => "SIM busy",
        16 => "incorrect password",
        30 => "no network service",
        _ => "unknown",
    }
}

pub(super) fn cms_text(code: u16) -> &'static str {
    match code {
        302 => "operation not allowed",
        303 => "operation not supported",
        304 => "invalid PDU mode parameter",
        305 => "invalid text mode parameter",
        310 => "SIM not inserted",
        311 => "SIM PIN required",
        314 => "SIM busy",
        321 => "invalid memory index",
        322 => "memory full",
        330 => "SMSC address unknown",
        331 => "no network service",
        332 => "network timeout",
        340 => "no +CNMA acknowledgement expected",
        _ => "unknown error",
    }
}
