//! RAM of the agent: a guard against growth. The figures for `thumbv7m-none-eabi`
//! (32-bit, what the board runs) are in the `agent` module docs; on a 64-bit host the
//! same types are a few hundred bytes larger (pointer-sized lengths).

mod agent_support;

use agent_support::{FakeModem, LinkPort, TestClock};
use relais_agent::agent::{Agent, AgentBuffers, AgentInbound};
use relais_agent::modem::{Modem, NoPowerControl};
use relais_agent::store::MemStore;

type NoStore = MemStore<0, 0, 0>;
type Small = Agent<LinkPort, FakeModem, NoPowerControl, TestClock, NoStore, 2, 2>;
type Default4 = Agent<LinkPort, FakeModem, NoPowerControl, TestClock, NoStore, 4, 4>;
/// As on a board: the buffers in a static of their own.
type Borrowing = Agent<
    LinkPort,
    FakeModem,
    NoPowerControl,
    TestClock,
    NoStore,
    4,
    4,
    &'static mut AgentBuffers<4>,
>;

#[test]
fn the_agent_fits_its_ram_budget() {
    let small = size_of::<Small>();
    let default = size_of::<Default4>();
    let modem = size_of::<Modem<FakeModem, NoPowerControl, TestClock>>();
    let inbound = size_of::<AgentInbound>();
    eprintln!("agent<2,2> {small} B, agent<4,4> {default} B (modem {modem}, inbound {inbound})");
    // A slot holds a job (its 640-byte text); a window place holds no event copy.
    assert!(default - small < 2 * 900 + 2 * 150, "{default} - {small}");
    // 64-bit host figures (32-bit ones are smaller: module docs). They grew by about
    // 540 B when delivery reports began to be matched on the recipient (its number in
    // every job record) and the settings began to carry the house window and the SIM
    // PIN; the board's static RAM plus its measured stack still fit 20 KiB
    // (docs/budget.md).
    assert!(small <= 11_400, "{small}");
    assert!(default <= 13_400, "{default}");
}

#[test]
fn the_buffers_hold_the_bulk_and_the_agent_without_them_is_small() {
    let agent = size_of::<Borrowing>();
    let buffers = size_of::<AgentBuffers<4>>();
    let default = size_of::<Default4>();
    eprintln!("agent without buffers {agent} B, buffers {buffers} B, together {default} B");
    // Nothing is duplicated: the inline agent is the two parts (a pointer aside).
    assert!(
        agent + buffers <= default + 16,
        "{agent} + {buffers} vs {default}"
    );
    // 32-bit: 4 536 and 8 136 bytes (module docs).
    assert!(agent <= 5_400, "{agent}");
    assert!(buffers <= 8_800, "{buffers}");
}
