//! The languages of the keyword lists, with the replies written in each.
//!
//! A leaf of the compliance modules: a rule pack names its languages, inbound keywords
//! and outgoing opt-out instructions are matched in them.

/// A keyword language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Lang {
    /// English (US, CA, UK, global).
    En,
    /// French.
    Fr,
    /// Spanish.
    Es,
    /// German.
    De,
    /// Portuguese (Brazil).
    Pt,
    /// Italian.
    It,
    /// Dutch (Belgium).
    Nl,
    /// Swahili (Kenya).
    Sw,
}

impl Lang {
    /// Every language.
    pub const ALL: &'static [Lang] = &[
        Lang::En,
        Lang::Fr,
        Lang::Es,
        Lang::De,
        Lang::Pt,
        Lang::It,
        Lang::Nl,
        Lang::Sw,
    ];

    /// ISO 639-1 code.
    pub const fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Fr => "fr",
            Lang::Es => "es",
            Lang::De => "de",
            Lang::Pt => "pt",
            Lang::It => "it",
            Lang::Nl => "nl",
            Lang::Sw => "sw",
        }
    }

    /// The one-time opt-out confirmation, in this language.
    pub const fn opt_out_confirmation(self) -> &'static str {
        match self {
            Lang::Fr => {
                "Votre demande de désinscription a bien été prise en compte. Répondez START pour vous réabonner."
            }
            Lang::Es => {
                "Se ha dado de baja y no recibirá más mensajes. Responda START para volver a suscribirse."
            }
            Lang::Pt => {
                "Seu pedido foi registrado: você não receberá mais mensagens. Responda START para voltar."
            }
            Lang::De => {
                "Sie sind abgemeldet und erhalten keine weiteren Nachrichten. Antworten Sie START zum Anmelden."
            }
            _ => {
                "You have been unsubscribed and will receive no further messages. Reply START to resubscribe."
            }
        }
    }

    /// The help reply, in this language.
    pub const fn help_reply(self) -> &'static str {
        match self {
            Lang::Fr => {
                "Aide : répondez STOP pour ne plus recevoir de messages. Coût d'un SMS standard."
            }
            Lang::Es => "Ayuda: responda BAJA o STOP para no recibir más mensajes.",
            Lang::Pt => "Ajuda: responda SAIR para não receber mais mensagens.",
            Lang::De => "Hilfe: antworten Sie STOP, um keine Nachrichten mehr zu erhalten.",
            _ => "Help: reply STOP to unsubscribe, START to resubscribe. Msg&data rates may apply.",
        }
    }
}
