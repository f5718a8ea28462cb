//! Compliance: rule packs, recipient time, holidays, senders, keywords, decisions.
