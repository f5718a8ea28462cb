//! `relais callbacks`: the delivery-report, sms-service and webhook calls of
//! `relais serve` as the store keeps them: list them, give dead letters their tries
//! back, prune the ones taken long ago. Works beside a running `relais serve` (the
//! store is in WAL mode; the server picks retried ones up within a second).

use clap::{Args as ClapArgs, Subcommand};

use super::Common;
use crate::scheduler::{Clock, SystemClock};

/// `relais callbacks`.
#[derive(Debug, ClapArgs)]
pub struct CallbacksArgs {
    #[command(subcommand)]
    pub command: CallbacksCommand,
    #[command(flatten)]
    pub common: Common,
}

/// Callbacks subcommands.
#[derive(Debug, Subcommand)]
pub enum CallbacksCommand {
    /// List callbacks, newest first.
    List {
        /// Only pending, done or dead ones.
        #[arg(long)]
        state: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Print JSON Lines.
        #[arg(long)]
        json: bool,
    },
    /// Give dead letters their tries back (same event ids): the ids given, or every one.
    Retry {
        /// Callback ids; none with --all-dead.
        ids: Vec<i64>,
        /// Every dead letter.
        #[arg(long)]
        all_dead: bool,
    },
    /// Remove callbacks taken more than DAYS days ago.
    Prune {
        /// Days to keep.
        #[arg(long, default_value_t = 30)]
        days: u32,
    },
}

/// Runs `relais callbacks`.
pub fn callbacks(a: CallbacksArgs) -> Result<(), String> {
    let (_, mut store) = a.common.open()?;
    let now = SystemClock.now();
    match a.command {
        CallbacksCommand::List { state, limit, json } => {
            if let Some(s) = state.as_deref()
                && !["pending", "done", "dead"].contains(&s)
            {
                return Err(format!("--state {s:?}: one of pending, done, dead"));
            }
            let rows = store
                .callback_views(state.as_deref(), limit)
                .map_err(|e| e.to_string())?;
            if rows.is_empty() {
                println!(
                    "no callback{}",
                    state.map_or(String::new(), |s| format!(" {s}"))
                );
            }
            for r in rows {
                if json {
                    println!("{}", serde_json::to_string(&r).map_err(|e| e.to_string())?);
                    continue;
                }
                let about = match (r.job_id, r.inbound_id) {
                    (Some(j), _) => format!("job {j}"),
                    (_, Some(i)) => format!("inbound {i}"),
                    _ => "-".into(),
                };
                println!(
                    "{:>6} {:<7} {:<8} {:<11} {:<12} tries {:<2} {} {}",
                    r.id,
                    r.state,
                    r.kind,
                    r.event,
                    about,
                    r.attempts,
                    crate::http::outbox::redact(&r.url),
                    match (r.last_status, r.last_error.as_deref()) {
                        (_, Some(e)) if r.state != "done" => format!("({e})"),
                        (Some(s), _) if r.state != "done" => format!("(HTTP {s})"),
                        _ => String::new(),
                    }
                );
            }
            Ok(())
        }
        CallbacksCommand::Retry { ids, all_dead } => {
            if ids.is_empty() != all_dead {
                return Err("give callback ids, or --all-dead".into());
            }
            let n = store
                .retry_dead_callbacks(&ids, now)
                .map_err(|e| e.to_string())?;
            println!("{n} dead letter(s) will be tried again by `relais serve`");
            Ok(())
        }
        CallbacksCommand::Prune { days } => {
            let n = store
                .prune_done_callbacks(now.plus(-(i64::from(days) * 86_400)))
                .map_err(|e| e.to_string())?;
            println!("removed {n} callback(s) taken more than {days} day(s) ago");
            Ok(())
        }
    }
}
