//! The whole chain, end to end, on the QEMU board: the host's link client → the real
//! `thumbv7m-none-eabi` firmware under QEMU (the device agent) → `relais sim` as the
//! modem and operator. The story itself is in `device_story` (the Pico runs it too:
//! device_e2e_pico.rs).

mod device_story;
mod device_support;
mod sim_support;

use device_support::Board;

#[test]
fn host_jobs_go_through_the_firmware_exactly_once_with_delivery_reports() {
    device_story::exactly_once(Board::Qemu, "device_e2e_once");
}

#[test]
fn the_firmware_enforces_quiet_hours_and_stop_by_itself() {
    device_story::quiet_hours_and_stop(Board::Qemu, "device_e2e_rules");
}

#[test]
fn the_firmware_judges_with_the_verified_zone_and_the_house_window() {
    device_story::zone_and_house_window(Board::Qemu, "device_e2e_inputs");
}

#[test]
fn the_firmware_enters_the_sim_pin_from_its_settings() {
    device_story::sim_pin(Board::Qemu, "device_e2e_pin");
}
