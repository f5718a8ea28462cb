//! The simulator as the modem of the agent inside the host, in virtual time (for
//! `relais demo` and tests): the device thread builds a [`World`] from a [`Scenario`]
//! (the world is shared through an `Rc` by the port, clock and power switch, so it lives
//! in that thread), drives modem `modem` of it with the real modem driver, and moves
//! virtual time by the policy of [`VirtualTime`].
//!
//! The host reaches the world through a [`SimHandle`]: virtual time (atomics, read
//! without waiting), inbound messages and faults to inject, time to move by hand, and a
//! snapshot of the world's status. Those calls are commands processed by the device
//! loop; they wait for one turn of it (about a millisecond).

use std::cell::RefCell;
use std::fmt;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use relais_agent::agent::{Agent, Config};
use relais_agent::modem::{Modem, Profile};
use relais_agent::store::Store;

use super::{AgentLoop, FinalState, LocalDevice, Runner, Turn, profile_named};
use crate::sim::operator::Ledger;
use crate::sim::peer::{Shared, WorldClock, WorldPort, WorldPower};
use crate::sim::scenario::Scenario;
use crate::sim::time::{SimDuration, SimInstant};
use crate::sim::world::World;

/// Virtual time moved at each idle turn of the device loop by default: 100 ms per turn
/// of about 1 ms, so the simulated world runs some 90 times faster than real time
/// while the agent waits for the modem or the network.
pub const SIM_STEP_MS: i64 = 100;

/// Real time the agent's link session waits for an acknowledgement before sending its
/// window again (the session's own default), converted to virtual time by
/// [`SimSetup::new`].
const RETRANSMIT_REAL_MS: i64 = 250;

/// How long a [`SimHandle`] call waits for the device loop.
const COMMAND_WAIT: Duration = Duration::from_secs(5);

/// Marks "no jump requested".
const NO_JUMP: i64 = i64::MIN;

/// Virtual time of a simulated [`LocalDevice`], shared with the host through atomics.
///
/// The policy, at every turn of the device loop where the agent had nothing to do:
///
/// - the agent is **busy** (a job holds a slot, or the modem has a send under way:
///   [`Agent::is_idle`] is false): virtual time moves by [`VirtualTime::step_ms`];
/// - the agent is **idle**: virtual time jumps to the instant asked for with
///   [`VirtualTime::request_jump_to`] when there is one ahead (the request is then
///   used up), else it moves by the step too.
///
/// The world is ticked at every turn and [`VirtualTime::now_ms`] published after it.
/// A host should ask for a jump only when it has nothing in flight to the device (a
/// job submitted just before the jump is handled after it).
#[derive(Debug)]
pub struct VirtualTime {
    now_ms: AtomicI64,
    jump_to: AtomicI64,
    step_ms: AtomicI64,
    idle: AtomicBool,
}

impl VirtualTime {
    fn new(now: SimInstant, step_ms: i64) -> VirtualTime {
        VirtualTime {
            now_ms: AtomicI64::new(now.0),
            jump_to: AtomicI64::new(NO_JUMP),
            step_ms: AtomicI64::new(step_ms.max(0)),
            idle: AtomicBool::new(true),
        }
    }

    /// Virtual now, in milliseconds since 1970 UTC, as of the device loop's last turn.
    pub fn now_ms(&self) -> i64 {
        self.now_ms.load(Ordering::Acquire)
    }

    /// Virtual now as an instant.
    pub fn now(&self) -> SimInstant {
        SimInstant(self.now_ms())
    }

    /// True when the agent was idle at the last idle turn (see the type docs).
    pub fn is_idle(&self) -> bool {
        self.idle.load(Ordering::Acquire)
    }

    /// Asks for virtual time to jump to `ms` (milliseconds since 1970 UTC) at the next
    /// idle turn where the agent is idle. Replaces an earlier request; a target not
    /// ahead of virtual now is dropped when it comes up.
    pub fn request_jump_to(&self, ms: i64) {
        self.jump_to.store(ms.max(NO_JUMP + 1), Ordering::Release);
    }

    /// Withdraws a jump not yet made.
    pub fn cancel_jump(&self) {
        self.jump_to.store(NO_JUMP, Ordering::Release);
    }

    /// The jump asked for and not yet made.
    pub fn pending_jump(&self) -> Option<i64> {
        Some(self.jump_to.load(Ordering::Acquire)).filter(|&t| t != NO_JUMP)
    }

    /// Virtual milliseconds added at each idle turn.
    pub fn step_ms(&self) -> i64 {
        self.step_ms.load(Ordering::Relaxed)
    }

    /// Changes the step (0 stops virtual time between jumps). The agent's link
    /// retransmission delay is not changed with it (see [`SimSetup::config`]).
    pub fn set_step_ms(&self, ms: i64) {
        self.step_ms.store(ms.max(0), Ordering::Relaxed);
    }

    /// How far to move virtual time at an idle turn from `now` (see the type docs). A
    /// jump stops at `cap` (the simulator's next scheduled event) and goes on from
    /// there at a later idle turn, so replies and reports are handled at their time.
    fn next_move(&self, now: i64, idle: bool, cap: Option<i64>) -> i64 {
        if idle {
            let target = self.jump_to.load(Ordering::Acquire);
            if target != NO_JUMP && target > now {
                if let Some(c) = cap.filter(|&c| c > now && c < target) {
                    return c - now;
                }
                let _ = self.jump_to.compare_exchange(
                    target,
                    NO_JUMP,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                );
                return target - now;
            }
        }
        self.step_ms()
    }
}

/// What the simulated device is built from ([`LocalDevice::spawn_sim`]).
#[derive(Debug, Clone)]
pub struct SimSetup {
    /// The scenario. Its clock is forced to `step` (virtual time moves only as
    /// [`VirtualTime`] says).
    pub scenario: Scenario,
    /// Where the simulator writes its ledger (JSON Lines, appended), if anywhere.
    pub ledger: Option<PathBuf>,
    /// The modem the agent drives (index in the scenario; 0 for the first).
    pub modem: usize,
    /// The driver profile; `None`: the one named by the scenario's modem (`sim800` when
    /// it names none).
    pub profile: Option<Profile>,
    /// The agent's configuration. Its link session's retransmission delay is in
    /// virtual time: [`SimSetup::new`] sets 250 ms of real time at [`SIM_STEP_MS`]
    /// (25 s of virtual time); change both together.
    pub config: Config,
    /// Virtual milliseconds per idle turn ([`SIM_STEP_MS`]); changeable later through
    /// [`VirtualTime::set_step_ms`].
    pub step_ms: i64,
}

impl SimSetup {
    /// The agent on the first modem of `scenario`, its ledger in `ledger`, default
    /// configuration with the retransmission delay in virtual time, [`SIM_STEP_MS`].
    pub fn new(scenario: Scenario, ledger: Option<PathBuf>) -> SimSetup {
        let mut config = Config::default();
        config.session.retransmit_ms =
            u32::try_from(RETRANSMIT_REAL_MS * SIM_STEP_MS).unwrap_or(u32::MAX);
        SimSetup {
            scenario,
            ledger,
            modem: 0,
            profile: None,
            config,
            step_ms: SIM_STEP_MS,
        }
    }
}

/// A look at the simulated world ([`SimHandle::snapshot`]).
#[derive(Debug, Clone)]
pub struct SimSnapshot {
    /// Virtual now.
    pub now: SimInstant,
    /// The ledger file, if the world writes one.
    pub ledger: Option<PathBuf>,
    /// The world's status (`relais sim`'s `status` answer: modems, registration, stored
    /// messages, line faults).
    pub status: serde_json::Value,
    /// The agent was idle at the last idle turn.
    pub agent_idle: bool,
}

type Reply<T> = mpsc::SyncSender<Result<T, String>>;

/// A request to the device loop.
enum Command {
    InjectSms {
        modem: usize,
        from: String,
        text: String,
        reply: Reply<()>,
    },
    InjectFault {
        modem: usize,
        kind: String,
        duration: Option<SimDuration>,
        probability: f64,
        reply: Reply<()>,
    },
    Advance(SimDuration, Reply<SimInstant>),
    Snapshot(Reply<SimSnapshot>),
}

/// The host's hold on a simulated device's world; clones reach the same world. Every
/// call but [`SimHandle::time`] waits for one turn of the device loop (up to 5 s, then
/// an error); call them from a blocking context (`tokio::task::spawn_blocking` in async
/// code when the wait matters).
#[derive(Clone)]
pub struct SimHandle {
    time: Arc<VirtualTime>,
    commands: mpsc::Sender<Command>,
    ledger: Option<PathBuf>,
}

impl fmt::Debug for SimHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimHandle")
            .field("time", &self.time)
            .field("ledger", &self.ledger)
            .finish_non_exhaustive()
    }
}

impl SimHandle {
    /// Virtual time and its jump requests.
    pub fn time(&self) -> &Arc<VirtualTime> {
        &self.time
    }

    /// The ledger file, if the world writes one.
    pub fn ledger(&self) -> Option<&Path> {
        self.ledger.as_deref()
    }

    /// An SMS from `from` reaches modem `modem` now (through the simulated operator).
    pub fn inject_sms(&self, modem: usize, from: &str, text: &str) -> Result<(), String> {
        self.call(|reply| Command::InjectSms {
            modem,
            from: from.to_string(),
            text: text.to_string(),
            reply,
        })
    }

    /// A fault on modem `modem` now (`relais sim`'s fault kinds: `reboot`, `sim-out`,
    /// `network-loss`, `garble`, ...; see docs/sim.md).
    pub fn inject_fault(
        &self,
        modem: usize,
        kind: &str,
        duration: Option<SimDuration>,
        probability: f64,
    ) -> Result<(), String> {
        self.call(|reply| Command::InjectFault {
            modem,
            kind: kind.to_string(),
            duration,
            probability,
            reply,
        })
    }

    /// Moves virtual time by `by` at once, whatever the agent is doing; returns the new
    /// virtual now.
    pub fn advance(&self, by: SimDuration) -> Result<SimInstant, String> {
        self.call(|reply| Command::Advance(by, reply))
    }

    /// The world as it is now.
    pub fn snapshot(&self) -> Result<SimSnapshot, String> {
        self.call(Command::Snapshot)
    }

    fn call<T>(&self, command: impl FnOnce(Reply<T>) -> Command) -> Result<T, String> {
        let (reply, answer) = mpsc::sync_channel(1);
        self.commands
            .send(command(reply))
            .map_err(|_| "the simulated device has stopped".to_string())?;
        answer
            .recv_timeout(COMMAND_WAIT)
            .map_err(|_| "the simulated device did not answer".to_string())?
    }
}

/// The device loop of a simulated device: the agent, its world, and the commands.
struct SimRunner<St> {
    inner: AgentLoop<WorldPort, WorldPower, WorldClock, St>,
    world: Shared,
    time: Arc<VirtualTime>,
    commands: mpsc::Receiver<Command>,
    ledger: Option<PathBuf>,
}

impl<St: Store> SimRunner<St> {
    fn modem(&self, modem: usize) -> Result<(), String> {
        let count = self.world.borrow().slots.len();
        if modem < count {
            Ok(())
        } else {
            Err(format!(
                "no modem {modem}: the scenario has {count} (numbered from 0)"
            ))
        }
    }

    fn handle(&mut self, command: Command) {
        match command {
            Command::InjectSms {
                modem,
                from,
                text,
                reply,
            } => {
                let done = self
                    .modem(modem)
                    .map(|()| self.world.borrow_mut().inject_sms(modem, &from, &text));
                let _ = reply.send(done);
            }
            Command::InjectFault {
                modem,
                kind,
                duration,
                probability,
                reply,
            } => {
                let done = self.modem(modem).and_then(|()| {
                    self.world
                        .borrow_mut()
                        .inject_fault(modem, &kind, duration, probability)
                });
                let _ = reply.send(done);
            }
            Command::Advance(by, reply) => {
                let mut w = self.world.borrow_mut();
                w.clock.advance(by);
                w.tick();
                let _ = reply.send(Ok(w.clock.now()));
            }
            Command::Snapshot(reply) => {
                let w = self.world.borrow();
                let _ = reply.send(Ok(SimSnapshot {
                    now: w.clock.now(),
                    ledger: self.ledger.clone(),
                    status: w.status(),
                    agent_idle: self.time.is_idle(),
                }));
            }
        }
    }
}

impl<St: Store> Runner for SimRunner<St> {
    fn turn(&mut self) -> Turn {
        while let Ok(command) = self.commands.try_recv() {
            self.handle(command);
        }
        let turn = self.inner.turn();
        let mut w = self.world.borrow_mut();
        if turn == Turn::Idle {
            let idle = self.inner.agent().is_idle();
            self.time.idle.store(idle, Ordering::Release);
            let cap = w.next_event_at().map(|t| t.0);
            let by = self.time.next_move(w.clock.now().0, idle, cap);
            w.clock.advance(SimDuration(by));
        }
        w.tick();
        self.time.now_ms.store(w.clock.now().0, Ordering::Release);
        turn
    }

    fn finish(self) -> FinalState {
        self.inner.finish()
    }
}

impl LocalDevice {
    /// Starts the agent on the simulator: the device thread builds the world of
    /// `setup.scenario` (clock forced to `step`, ledger in `setup.ledger`), the modem
    /// driver on modem `setup.modem` with the world's port, clock and power switch, and
    /// the agent with `store` (a `MemStore`, or [`open_store`](super::open_store) to
    /// test persistence). Returns the device and the host's handle on its world.
    pub fn spawn_sim<St>(
        name: &str,
        setup: SimSetup,
        store: St,
    ) -> Result<(LocalDevice, SimHandle), String>
    where
        St: Store + Send + 'static,
    {
        let mut scenario = setup.scenario;
        scenario.clock = Some("step".to_string());
        let spec = scenario.modem.get(setup.modem);
        if setup.modem > 0 && spec.is_none() {
            return Err(format!(
                "no modem {}: the scenario has {}",
                setup.modem,
                scenario.modem.len()
            ));
        }
        let profile = match setup.profile {
            Some(p) => p,
            None => {
                let named = spec.and_then(|m| m.profile.as_deref()).unwrap_or("sim800");
                profile_named(named)
                    .ok_or_else(|| format!("no driver profile for modem profile {named:?}"))?
            }
        };
        // `now` is published by the thread before this function returns.
        let time = Arc::new(VirtualTime::new(SimInstant(0), setup.step_ms));
        let (commands, commands_rx) = mpsc::channel();
        let handle = SimHandle {
            time: Arc::clone(&time),
            commands,
            ledger: setup.ledger.clone(),
        };
        let (label, index, config, ledger) =
            (name.to_string(), setup.modem, setup.config, setup.ledger);
        let device = LocalDevice::spawn(name, move |link| {
            let out = match &ledger {
                Some(path) => Ledger::open(path)
                    .map_err(|e| format!("simulator ledger {}: {e}", path.display()))?,
                None => Ledger::none(),
            };
            let world: Shared = Rc::new(RefCell::new(World::new(&scenario, out)?));
            let clock = WorldClock(Rc::clone(&world));
            let modem = Modem::new(
                WorldPort::new(&world, index),
                WorldPower::new(&world, index),
                clock.clone(),
                profile,
            );
            let agent = Agent::new(link, modem, clock, store, config)
                .map_err(|e| format!("device {label}: the agent cannot start: {e}"))?;
            time.now_ms
                .store(world.borrow().clock.now().0, Ordering::Release);
            Ok(SimRunner {
                inner: AgentLoop::new(&label, agent),
                world,
                time,
                commands: commands_rx,
                ledger,
            })
        })?;
        Ok((device, handle))
    }
}
