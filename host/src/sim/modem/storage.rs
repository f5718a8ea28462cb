//! SMS storage: `+CPMS` memories, `+CMGL`, `+CMGR`, `+CMGD` (TS 27.005 §3.2, §3.4).

use super::*;

impl Modem {
    // ---- storage

    pub(super) fn usage(&self, mem: Mem) -> (usize, usize) {
        let store = &self.stores[mem.slot()];
        (store.iter().filter(|s| s.is_some()).count(), store.len())
    }

    pub(super) fn store(&mut self, mem: Mem, item: Stored) -> Option<usize> {
        let store = &mut self.stores[mem.slot()];
        let free = store.iter().position(|s| s.is_none())?;
        store[free] = Some(item);
        Some(free + self.cfg.first_index)
    }

    pub(super) fn slot(&self, index: usize) -> Option<usize> {
        let slot = index.checked_sub(self.cfg.first_index)?;
        (slot < self.stores[self.s.cpms[0].slot()].len()).then_some(slot)
    }

    pub(super) fn item_lines(&self, index: usize, stored: &Stored, list: bool) -> Vec<String> {
        let head = if list {
            format!("+CMGL: {index},")
        } else {
            "+CMGR: ".to_string()
        };
        if !self.s.text_mode {
            let pdu = self.item_pdu(&stored.item);
            return vec![
                format!("{head}{},,{}", stored.stat as u8, tpdu_len(&pdu)),
                pdu::hex(&pdu),
            ];
        }
        let stat = stored.stat.text();
        match &stored.item {
            Item::Deliver(d) => vec![
                format!(
                    "{head}\"{stat}\",\"{}\",,\"{}\"",
                    self.te_text(&d.from),
                    d.scts.civil(self.offset).gsm_text()
                ),
                self.te_body(&d.data),
            ],
            Item::Submit { to, text, .. } => vec![
                format!("{head}\"{stat}\",\"{}\",", self.te_text(to)),
                self.te_text(text),
            ],
            Item::Report(r) => vec![format!(
                "{head}\"{stat}\",6,{},\"{}\",{},\"{}\",\"{}\",{}",
                r.mr,
                self.te_text(&r.recipient),
                toa(&r.recipient),
                r.scts.civil(self.offset).gsm_text(),
                r.discharge.civil(self.offset).gsm_text(),
                r.status
            )],
        }
    }

    pub(super) fn list(&mut self, filter: Option<Stat>) -> Result<Reply, Fail> {
        let mem = self.s.cpms[0].slot();
        let mut lines = Vec::new();
        let first = self.cfg.first_index;
        for slot in 0..self.stores[mem].len() {
            let Some(stored) = &self.stores[mem][slot] else {
                continue;
            };
            if filter.is_some_and(|f| f != stored.stat) {
                continue;
            }
            lines.extend(self.item_lines(slot + first, stored, true));
        }
        // Listing marks received messages as read (TS 27.005 §3.4.2).
        for stored in self.stores[mem].iter_mut().flatten() {
            if stored.stat == Stat::RecUnread && filter.is_none_or(|f| f == Stat::RecUnread) {
                stored.stat = Stat::RecRead;
            }
        }
        Reply::lines(lines)
    }

    pub(super) fn read(&mut self, index: usize) -> Result<Reply, Fail> {
        let mem = self.s.cpms[0].slot();
        let slot = self.slot(index).ok_or(Fail::Cms(321))?;
        let stored = self.stores[mem][slot].clone().ok_or(Fail::Cms(321))?;
        let lines = self.item_lines(index, &stored, false);
        if let Some(s) = &mut self.stores[mem][slot] {
            if s.stat == Stat::RecUnread {
                s.stat = Stat::RecRead;
            }
        }
        Reply::lines(lines)
    }

    pub(super) fn delete(&mut self, index: usize, delflag: u32) -> Result<Reply, Fail> {
        let mem = self.s.cpms[0].slot();
        if delflag == 0 {
            let slot = self.slot(index).ok_or(Fail::Cms(321))?;
            self.stores[mem][slot] = None;
            return Reply::ok();
        }
        let doomed: &[Stat] = match delflag {
            1 => &[Stat::RecRead],
            2 => &[Stat::RecRead, Stat::StoSent],
            3 => &[Stat::RecRead, Stat::StoSent, Stat::StoUnsent],
            4 => &[
                Stat::RecRead,
                Stat::StoSent,
                Stat::StoUnsent,
                Stat::RecUnread,
            ],
            _ => return Err(Fail::Cms(321)),
        };
        for s in &mut self.stores[mem] {
            if s.as_ref().is_some_and(|x| doomed.contains(&x.stat)) {
                *s = None;
            }
        }
        Reply::ok()
    }

    pub(super) fn item_pdu(&self, item: &Item) -> Vec<u8> {
        match item {
            Item::Deliver(d) => self.deliver_pdu(d),
            Item::Report(r) => self.report_pdu(r),
            Item::Submit { pdu, .. } => pdu.clone(),
        }
    }

    pub(super) fn deliver_pdu(&self, d: &Inbound) -> Vec<u8> {
        pdu::encode_deliver(&self.s.csca, &d.from, d.scts, self.offset, &d.data)
    }

    pub(super) fn report_pdu(&self, r: &StatusReport) -> Vec<u8> {
        pdu::encode_status_report(
            &self.s.csca,
            r.mr,
            &r.recipient,
            r.scts,
            r.discharge,
            self.offset,
            r.status,
        )
    }
}

/// A CMGL filter: one stat or all (4 / "ALL").
pub(super) fn parse_filter(arg: Option<&Arg>, text_mode: bool) -> Option<Option<Stat>> {
    let Some(arg) = arg else {
        return Some(Some(Stat::RecUnread));
    };
    if text_mode {
        return match arg.text.as_str() {
            "ALL" => Some(None),
            t => [
                Stat::RecUnread,
                Stat::RecRead,
                Stat::StoUnsent,
                Stat::StoSent,
            ]
            .into_iter()
            .find(|s| s.text() == t)
            .map(Some),
        };
    }
    match arg.text.parse::<u32>().ok()? {
        4 => Some(None),
        n => Stat::from_num(n).map(Some),
    }
}
