//! Sending: what happens after the prompt (`+CMGS`, `+CMGW`) and `+CMSS`
//! (TS 27.005 §3.5).

use super::*;

impl Modem {
    // ---- sending

    pub(super) fn finish_prompt(
        &mut self,
        kind: PromptKind,
        buf: &[u8],
        now: SimInstant,
        net: &mut dyn Network,
    ) {
        let result = match kind {
            PromptKind::SendPdu { len } => self.parse_pdu(buf, len).and_then(|(pdu, smsc_len)| {
                let submit = pdu::decode_submit(&pdu[smsc_len..]).map_err(|_| Fail::Cms(304))?;
                let smsc = pdu::decode_smsc(&pdu).map(|s| s.0).unwrap_or_default();
                if smsc.is_empty() && self.s.csca.is_empty() {
                    return Err(Fail::Cms(330));
                }
                let sub = Submission {
                    mr: 0,
                    to: submit.to,
                    text: submit.text,
                    alphabet: submit.alphabet,
                    concat: submit.concat,
                    status_report: submit.status_report,
                    mode: SubmitMode::Pdu,
                };
                self.submit(sub, "+CMGS", now, net)
            }),
            PromptKind::SendText { to } => self
                .text_submission(to, buf)
                .and_then(|sub| self.submit(sub, "+CMGS", now, net)),
            PromptKind::WritePdu { len, stat } => {
                self.parse_pdu(buf, len).and_then(|(pdu, smsc_len)| {
                    let submit =
                        pdu::decode_submit(&pdu[smsc_len..]).map_err(|_| Fail::Cms(304))?;
                    let item = Item::Submit {
                        to: submit.to,
                        text: submit.text,
                        pdu,
                    };
                    self.write(item, stat)
                })
            }
            PromptKind::WriteText { to, stat } => self.text_submission(to, buf).and_then(|sub| {
                let pdu = pdu::encode_submit(&sub.to, &sub.text, sub.status_report);
                let item = Item::Submit {
                    to: sub.to,
                    text: sub.text,
                    pdu,
                };
                self.write(item, stat)
            }),
        };
        match result {
            Ok(Some((latency, bytes))) => self.finish_later(now, latency, bytes),
            Ok(None) => {}
            Err(fail) => self.final_fail(fail),
        }
    }

    pub(super) fn write(
        &mut self,
        item: Item,
        stat: Stat,
    ) -> Result<Option<(SimDuration, Vec<u8>)>, Fail> {
        let mem = self.s.cpms[1];
        let index = self
            .store(mem, Stored { stat, item })
            .ok_or(Fail::Cms(322))?;
        let bytes = self.reply_bytes(&[format!("+CMGW: {index}")]);
        Ok(Some((SimDuration(0), bytes)))
    }

    /// Hex after the prompt → bytes, checking `<length>` against the TPDU (docs/modems.md
    /// § Sending: AT+CMGS).
    pub(super) fn parse_pdu(&self, buf: &[u8], len: usize) -> Result<(Vec<u8>, usize), Fail> {
        let pdu = pdu::unhex(buf).ok_or(Fail::Cms(304))?;
        let smsc_len = usize::from(*pdu.first().ok_or(Fail::Cms(304))?) + 1;
        if pdu.len() != smsc_len + len {
            return Err(Fail::Cms(304));
        }
        Ok((pdu, smsc_len))
    }

    pub(super) fn text_submission(&self, to: String, buf: &[u8]) -> Result<Submission, Fail> {
        let raw = String::from_utf8_lossy(buf).into_owned();
        let text = self.te_decode(&raw).ok_or(Fail::Cms(305))?;
        let [fo, _, _, dcs] = self.s.csmp;
        let alphabet = Alphabet::from_dcs(dcs);
        let units = match alphabet {
            Alphabet::Gsm7 => pdu::gsm7_encode(&text).ok_or(Fail::Cms(305))?.len(),
            Alphabet::Ucs2 => text.encode_utf16().count() * 2,
            Alphabet::Eight => text.len(),
        };
        if units > 160 || (alphabet != Alphabet::Gsm7 && units > 140) {
            return Err(Fail::Cms(305));
        }
        Ok(Submission {
            mr: 0,
            to,
            text,
            alphabet,
            concat: None,
            status_report: fo & 0x20 != 0,
            mode: SubmitMode::Text,
        })
    }

    pub(super) fn submit(
        &mut self,
        mut sub: Submission,
        answer: &str,
        now: SimInstant,
        net: &mut dyn Network,
    ) -> Result<Option<(SimDuration, Vec<u8>)>, Fail> {
        if self.s.cfun == 0 || !self.network_up {
            return Err(Fail::Cms(331));
        }
        self.mr = self.mr.wrapping_add(1);
        sub.mr = self.mr;
        let outcome = net.submit(&self.name, now, sub);
        let bytes = match outcome.result {
            Ok(()) => self.reply_bytes(&[format!("{answer}: {}", self.mr)]),
            Err(code) => self.fail_bytes(Fail::Cms(code)),
        };
        Ok(Some((outcome.latency, bytes)))
    }

    pub(super) fn send_stored(
        &mut self,
        index: usize,
        to: Option<String>,
        now: SimInstant,
        net: &mut dyn Network,
    ) -> Result<Reply, Fail> {
        let mem = self.s.cpms[1].slot();
        let slot = index
            .checked_sub(self.cfg.first_index)
            .filter(|s| *s < self.stores[mem].len())
            .ok_or(Fail::Cms(321))?;
        let Some(Stored {
            item: Item::Submit { pdu, .. },
            ..
        }) = self.stores[mem][slot].clone()
        else {
            return Err(Fail::Cms(321));
        };
        let smsc_len = usize::from(pdu.first().copied().unwrap_or(0)) + 1;
        let submit = pdu
            .get(smsc_len..)
            .and_then(|t| pdu::decode_submit(t).ok())
            .ok_or(Fail::Cms(304))?;
        let sub = Submission {
            mr: 0,
            to: to.unwrap_or(submit.to),
            text: submit.text,
            alphabet: submit.alphabet,
            concat: submit.concat,
            status_report: submit.status_report,
            mode: if self.s.text_mode {
                SubmitMode::Text
            } else {
                SubmitMode::Pdu
            },
        };
        let done = self.submit(sub, "+CMSS", now, net)?;
        if let Some(s) = &mut self.stores[mem][slot] {
            s.stat = Stat::StoSent;
        }
        Ok(Reply {
            busy: done,
            ..Reply::default()
        })
    }
}
