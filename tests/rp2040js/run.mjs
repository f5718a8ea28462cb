// Runs the relais Raspberry Pi Pico firmware in the rp2040js emulator (npm `rp2040js`,
// pinned to 1.4.1 in package-lock.json) for the end-to-end tests (tests/src/rp2040js.rs).
//
//   node run.mjs --image FW.elf|FW.uf2 [--flash-file PATH] [--modem tcp:HOST:PORT]
//                [--link-listen HOST:PORT] [--host-uart1] [--status-pin N] [--seconds N]
//
// stdout carries only the firmware's raw defmt bytes (RTT up-channel 0). stderr carries
// lines that start with "rp2040js: "; tests/src/rp2040js.rs parses these:
//   rp2040js: link tcp:127.0.0.1:PORT                  once, when ready for a host client
//   rp2040js: gpio N high|low at T ms                  PWRKEY (14) and LED (25) outputs
//   rp2040js: speed 0.41x (sim 4.1 s, wall 10.0 s)     every 10 s of wall time
//   rp2040js: flash erase 0xA..0xB at T ms (N sectors erased, M programs so far)
//   rp2040js: uart0: N bytes lost (receive FIFO full) at T ms   first loss, then <= every 100 ms
//   rp2040js: firmware stopped (break #IMM at pc=0xADDR)   then exit 101 (panic-probe's udf;
//             pc is the instruction's address), or (hard fault: ...), (reset_to_usb_boot called)
//   rp2040js: modem connection closed; ...  /  rp2040js: warning: ...  /  rp2040js: error: ...
// Exit codes: 0 (--seconds reached, SIGTERM, SIGINT), 2 (bad arguments or image), 101.
//
// What rp2040js lacks, and how this file fills each gap:
// 1. No boot ROM ships with the npm package. We load our own stand-in ROM, written from the
//    ROM table API the RP2040 datasheet documents (section 2.8.3): the magic, the function
//    and data table pointers and rom_table_lookup at 0x10..0x1a, and `BKPT #n; BX LR` stubs
//    that `mcu.onBreak` serves in JavaScript. It does not boot the chip: we start the
//    application from its vector table (VTOR = 0x10000100, after boot2) directly.
// 2. No flash write path: rp2040js's SSI is a register stub, so the real ROM's erase and
//    program routines would change nothing. Our ROM's flash_range_erase ('RE') and
//    flash_range_program ('RP', NOR semantics: bits only go from 1 to 0) act on
//    `mcu.flash` and write the store region through to --flash-file at once, so a SIGKILL
//    at any moment leaves the file as a power cut would leave the chip. Each takes the
//    chip's time (45 ms per sector erase, 0.4 ms per page program, W25Q16JV typical), in
//    which no instruction runs but the peripherals go on, as on the chip.
// 3. No XIP_CTRL block at 0x14000000 (reads give 0xffffffff, so embassy-rp would wait for
//    ever on STREAM_CTR): a small stub peripheral with an idle cache stands in.
// 4. USB bulk OUT: rp2040js clears an OUT buffer's AVAILABLE bit as soon as the device arms
//    it, not when data arrives, and embassy-rp polls that bit, then reads a stale length.
//    It also completes an armed OUT buffer with a zero-length packet whenever its host has
//    nothing to send. patchUsbBulkOut() fixes both by wrapping rp2040js methods. The
//    emulated USB host sets DTR once, at enumeration, whether a link client is there or not.
// 5. UART RX has no notion of baud timing: we feed one byte per 10 bit times of simulated
//    time. The modem's bytes come at that rate whatever the firmware does, and one that
//    finds the 32-byte FIFO full is lost and counted ("uart0: N bytes lost"), as an
//    overrun on the chip; the host link on UART1 instead waits for room.
// 8. The UART raises no RX DREQ, so DMA could not read it: uartRxDreq() follows UARTDMACR
//    and drives the DREQ from the FIFO's state.
// 6. No real-time pacing and no I/O loop: run() below paces simulated time to wall time.
// 7. No HardFault: rp2040js raises none (UDF included). panic-probe's `udf` and any BKPT
//    outside our ROM stop the run (exit 101), and so does an unaligned word read, the one
//    fault rp2040js reports; other faults (a lockup) cannot be seen.

import fs from 'node:fs';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { RP2040, BasePeripheral, USBCDC, GPIOPinState } from 'rp2040js';

const FLASH_BASE = 0x10000000;
const FLASH_SIZE = 2 * 1024 * 1024; // the Pico's W25Q16JV
const STORE_START = 0x1c0000; // the agent's store: the last 256 KiB of the flash
const STORE_END = FLASH_SIZE;
const SRAM_BASE = 0x20000000;
const WATCHED_PINS = [14, 25]; // modem PWRKEY, LED

const say = (line) => process.stderr.write(`rp2040js: ${line}\n`);
function fail(message, code = 2) {
  say(`error: ${message}`);
  process.exit(code);
}
const hex = (n) => `0x${(n >>> 0).toString(16)}`;

// ---- command line ----
const USAGE =
  'usage: run.mjs --image FW.elf|FW.uf2 [--flash-file PATH] [--modem tcp:HOST:PORT] ' +
  '[--link-listen HOST:PORT] [--host-uart1] [--status-pin N] [--seconds N]';
const opts = { linkListen: '127.0.0.1:0', hostUart1: false, seconds: Infinity };
{
  const argv = process.argv.slice(2);
  const value = (i) => (i < argv.length ? argv[i] : fail(`${argv[i - 1]} needs a value\n${USAGE}`));
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--image') opts.image = value(++i);
    else if (a === '--flash-file') opts.flashFile = value(++i);
    else if (a === '--modem') opts.modem = parseHostPort(value(++i), 'tcp:');
    else if (a === '--link-listen') opts.linkListen = value(++i);
    else if (a === '--host-uart1') opts.hostUart1 = true;
    else if (a === '--status-pin') opts.statusPin = Number(value(++i));
    else if (a === '--seconds') opts.seconds = Number(value(++i));
    else fail(`unknown argument ${a}\n${USAGE}`);
  }
  if (!opts.image) fail(`--image is required\n${USAGE}`);
  opts.link = parseHostPort(opts.linkListen, '');
  if (!(opts.seconds > 0)) fail('--seconds must be a positive number');
  const pin = opts.statusPin;
  if (pin !== undefined && !(Number.isInteger(pin) && pin >= 0 && pin < 30)) fail('--status-pin must be 0..29');
}
function parseHostPort(text, prefix) {
  const m = text.startsWith(prefix) && /^(.+):(\d+)$/.exec(text.slice(prefix.length));
  if (!m) fail(`expected ${prefix}HOST:PORT, got ${JSON.stringify(text)}`);
  return { host: m[1].replace(/^\[(.*)\]$/, '$1'), port: Number(m[2]) };
}

// ---- firmware image: ELF or UF2, as [{ offset (into the flash), bytes }] ----
function parseElf(b) {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (b.length < 52 || b[4] !== 1 || b[5] !== 1 || v.getUint16(18, true) !== 40)
    throw new Error('not a 32-bit little-endian ARM ELF');
  const phoff = v.getUint32(28, true), phentsize = v.getUint16(42, true), phnum = v.getUint16(44, true);
  if (phentsize < 32 || phoff + phnum * phentsize > b.length) throw new Error('program headers out of the file');
  const chunks = [];
  for (let i = 0; i < phnum; i++) {
    const o = phoff + i * phentsize;
    const [type, offset, , paddr, filesz] = [0, 4, 8, 12, 16].map((k) => v.getUint32(o + k, true));
    if (type !== 1 || filesz === 0) continue; // PT_LOAD with bytes in the file
    if (offset + filesz > b.length) throw new Error(`segment ${i} runs past the end of the file`);
    chunks.push({ addr: paddr, bytes: b.subarray(offset, offset + filesz), what: `segment ${i}` });
  }
  return chunks;
}
function parseUf2(b) {
  if (b.length % 512) throw new Error('UF2 length is not a multiple of 512');
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength), chunks = [], total = b.length / 512;
  for (let i = 0; i < total; i++) {
    const o = i * 512, u = (k) => v.getUint32(o + k, true);
    if (u(0) !== 0x0a324655 || u(4) !== 0x9e5d5157 || u(508) !== 0x0ab16f30) throw new Error(`block ${i}: bad magic`);
    if (u(20) !== i || u(24) !== total) throw new Error(`block ${i}: numbered ${u(20)} of ${u(24)}, expected ${i} of ${total}`);
    if (u(8) & 1) continue; // "not main flash": not for the device
    if (!(u(8) & 0x2000) || u(28) !== 0xe48bff56) throw new Error(`block ${i}: not an RP2040 (family 0xe48bff56) block`);
    if (u(16) > 476) throw new Error(`block ${i}: payload of ${u(16)} bytes`);
    chunks.push({ addr: u(12), bytes: b.subarray(o + 32, o + 32 + u(16)), what: `block ${i}` });
  }
  return chunks;
}
function loadImage(path) {
  let bytes;
  try {
    bytes = fs.readFileSync(path);
  } catch (e) {
    fail(`cannot read --image: ${e.message}`);
  }
  const isElf = bytes.length >= 4 && bytes.readUInt32BE(0) === 0x7f454c46;
  const isUf2 = bytes.length >= 4 && bytes.readUInt32LE(0) === 0x0a324655;
  let chunks;
  try {
    if (!isElf && !isUf2) throw new Error('neither an ELF nor a UF2 file');
    chunks = isElf ? parseElf(bytes) : parseUf2(bytes);
    if (!chunks.length) throw new Error('nothing to load');
    for (const c of chunks) {
      const start = c.addr - FLASH_BASE, end = start + c.bytes.length;
      if (c.addr < FLASH_BASE || end > FLASH_SIZE)
        throw new Error(`${c.what} at ${hex(c.addr)} is outside the flash (0x10000000..0x10200000)`);
      if (start < STORE_END && end > STORE_START)
        throw new Error(`${c.what} at ${hex(c.addr)} overlaps the store region (0x101c0000..0x10200000)`);
    }
  } catch (e) {
    fail(`${path}: bad ${isElf ? 'ELF' : isUf2 ? 'UF2' : 'image'}: ${e.message}`);
  }
  return chunks;
}

// ---- the chip ----
const mcu = new RP2040();
let warnings = 0;
let stopped = null; // why the firmware stopped, once it has
const emulatorSays = (component, message) => {
  if (message.startsWith('Unimplemented peripheral')) return; // ROSC, VREG, ...: harmless
  // The one fault rp2040js notices (it raises no HardFault): an unaligned word read,
  // which is a HardFault on the Cortex-M0+. Other bad accesses stay warnings, because
  // rp2040js's memory map is incomplete.
  if (message.includes('not 32 bit aligned')) stopped ??= `hard fault: ${message}`;
  if (++warnings <= 50) say(`warning: [${component}] ${message}`);
  if (warnings === 50) say('warning: further emulator warnings are not shown');
};
mcu.logger = { debug() {}, info() {}, warn: emulatorSays, error: emulatorSays };

// Gap 3: XIP_CTRL, with the cache idle (STAT = FIFO_EMPTY | FLUSH_READY), the streaming
// counter at 0 and CTRL kept as written.
class XipCtrlStub extends BasePeripheral {
  ctrl = 3;
  readUint32(offset) {
    return offset === 0x00 ? this.ctrl : offset === 0x08 ? 3 : 0;
  }
  writeUint32(offset, value) {
    if (offset === 0x00) this.ctrl = value;
  }
}
mcu.peripherals[(0x14000000 >>> 14) << 2] = new XipCtrlStub(mcu, 'XIP_CTRL');

// Gap 1: the stand-in boot ROM. Layout (our own choice, beyond the fixed header):
// 0x100 function table, 0x180 data table (pairs of u16 code, u16 address, then 0),
// 0x200 rom_table_lookup, 0x210.. one 4-byte stub per function, everything else UDF.
const ROM_FUNCS = ['P3', 'R3', 'L3', 'T3', 'MS', 'S4', 'MC', 'C4', 'IF', 'EX', 'RE', 'RP', 'FC', 'CX', 'UB'];
const LOOKUP_BKPT = 0x80, STUB_BASE = 0x210, ROM_END = 0x4000;
{
  const rom = new Uint8Array(ROM_END), rv = new DataView(rom.buffer);
  for (let a = 0; a < ROM_END; a += 2) rv.setUint16(a, 0xdefe, true); // UDF #0xfe: a stray jump stops
  rom.set([0x4d, 0x75, 0x01, 0x03], 0x10); // 'M', 'u', 1, version 3 (RP2040-B2)
  rv.setUint16(0x14, 0x100, true);
  rv.setUint16(0x16, 0x180, true);
  rv.setUint16(0x18, 0x200 | 1, true);
  rv.setUint32(0x100 + 4 * ROM_FUNCS.length, 0, true);
  ROM_FUNCS.forEach((code, i) => {
    rv.setUint16(0x100 + 4 * i, code.charCodeAt(0) | (code.charCodeAt(1) << 8), true);
    rv.setUint16(0x102 + 4 * i, (STUB_BASE + 4 * i) | 1, true);
    rv.setUint32(STUB_BASE + 4 * i, 0x4770be00 | i, true); // BKPT #i; BX LR
  });
  rv.setUint16(0x180, 0x5243, true); // 'CR': the copyright string
  rv.setUint16(0x182, 0x1c0, true);
  rv.setUint32(0x184, 0, true);
  rom.set(Buffer.from('relais stand-in ROM\0'), 0x1c0);
  rv.setUint32(0x200, 0x4770be00 | LOOKUP_BKPT, true);
  mcu.loadBootrom(new Uint32Array(rom.buffer));
}

// The store region of the flash, persisted in --flash-file.
let flashFd = null;
if (opts.flashFile) {
  const size = STORE_END - STORE_START;
  if (!fs.existsSync(opts.flashFile)) {
    // A blank (erased) chip, put in place whole so that a kill cannot leave half a file.
    fs.writeFileSync(`${opts.flashFile}.new`, Buffer.alloc(size, 0xff));
    fs.renameSync(`${opts.flashFile}.new`, opts.flashFile);
  }
  flashFd = fs.openSync(opts.flashFile, 'r+');
  if (fs.fstatSync(flashFd).size !== size) fail(`--flash-file ${opts.flashFile} is not ${size} bytes long`);
  fs.readSync(flashFd, mcu.flash, STORE_START, size, 0);
}
function flashChanged(what, start, end) {
  const s = Math.max(start, STORE_START), e = Math.min(end, STORE_END);
  if (flashFd !== null && s < e) fs.writeSync(flashFd, mcu.flash, s, e - s, s - STORE_START);
  if (start < STORE_START) say(`warning: ${what} at ${hex(start)}..${hex(end)} is outside the store region (memory only)`);
}

const R = mcu.core.registers;
// Flash operations since start: the store's wear, and how often a real chip would
// stall (an erase stops the CPU for tens of milliseconds on the Pico's flash).
const flashOps = { erases: 0, programs: 0 };
// How long the Pico's W25Q16JV takes (datasheet, AC characteristics, typical): 45 ms
// per 4 KiB sector erase, 0.4 ms per 256-byte page program. The core runs nothing
// meanwhile (it executes from that flash), but time goes on: the UART keeps receiving
// and DMA keeps moving bytes, as on the chip.
const ERASE_NANOS = 45e6, PROGRAM_NANOS = 0.4e6;
let stallUntil = 0;
const stall = (nanos) => (stallUntil = Math.max(stallUntil, mcu.clock.nanos) + nanos);
function romCall(name) {
  const [r0, r1, r2] = [R[0] >>> 0, R[1] >>> 0, R[2] >>> 0];
  switch (name) {
    case 'P3': R[0] = [...r0.toString(2)].filter((c) => c === '1').length; break;
    case 'R3': R[0] = parseInt([...r0.toString(2).padStart(32, '0')].reverse().join(''), 2); break;
    case 'L3': R[0] = Math.clz32(r0); break;
    case 'T3': R[0] = r0 === 0 ? 32 : 31 - Math.clz32(r0 & -r0); break;
    case 'MS': case 'S4': for (let k = 0; k < r2; k++) mcu.writeUint8(r0 + k, r1 & 0xff); break;
    case 'MC': case 'C4': for (let k = 0; k < r2; k++) mcu.writeUint8(r0 + k, mcu.readUint8(r1 + k)); break;
    case 'RE': case 'RP': {
      const start = name === 'RE' ? (r0 & ~0xfff) >>> 0 : r0;
      const end = name === 'RE' ? Math.ceil((r0 + r1) / 4096) * 4096 : r0 + r2;
      if (end > FLASH_SIZE) { say(`warning: ${name} at ${hex(r0)} is beyond the 2 MiB flash: ignored`); break; }
      if (name === 'RE') {
        mcu.flash.fill(0xff, start, end);
        flashOps.erases += (end - start) / 4096;
        stall(ERASE_NANOS * ((end - start) / 4096));
        say(`flash erase ${hex(start)}..${hex(end)} at ${(mcu.clock.nanos / 1e6).toFixed(3)} ms (${flashOps.erases} sectors erased, ${flashOps.programs} programs so far)`);
      } else {
        for (let k = 0; k < r2; k++) mcu.flash[r0 + k] &= mcu.readUint8(r1 + k);
        flashOps.programs += 1;
        stall(PROGRAM_NANOS * Math.ceil(r2 / 256));
      }
      flashChanged(name === 'RE' ? 'flash erase' : 'flash program', start, end);
      break;
    }
    case 'UB': stopped = 'reset_to_usb_boot called'; break;
    default: break; // IF, EX, FC, CX: no SSI or XIP state to change
  }
}
mcu.onBreak = (imm) => {
  const pc = (mcu.core.PC - 2) >>> 0; // rp2040js has already stepped past the BKPT/UDF
  if (pc === 0x200 && imm === LOOKUP_BKPT) {
    // rom_table_lookup(table, code): walk the table as the real ROM does.
    let found = 0;
    for (let p = R[0] & 0xffff; !found && p < ROM_END && mcu.readUint16(p); p += 4)
      if (mcu.readUint16(p) === (R[1] & 0xffff)) found = mcu.readUint16(p + 2);
    if (!found) say(`warning: ROM lookup of '${String.fromCharCode(R[1] & 0xff, (R[1] >> 8) & 0xff)}', which the stand-in ROM lacks`);
    R[0] = found;
  } else if (pc === STUB_BASE + 4 * imm && imm < ROM_FUNCS.length) {
    romCall(ROM_FUNCS[imm]);
  } else {
    stopped = `break #${imm} at pc=${hex(pc)}`;
  }
};

for (const c of loadImage(opts.image)) mcu.flash.set(c.bytes, c.addr - FLASH_BASE);
mcu.core.VTOR = FLASH_BASE + 0x100;
mcu.core.reset(); // SP and PC from the application's vector table

// ---- byte queues, paced UART input ----
const atFinish = []; // reports to print when the run ends
class ByteQueue {
  chunks = [];
  offset = 0;
  length = 0;
  push(buf) {
    if (buf.length) this.chunks.push(buf), (this.length += buf.length);
  }
  shift() {
    const chunk = this.chunks[0], b = chunk[this.offset++];
    this.length--;
    if (this.offset === chunk.length) this.chunks.shift(), (this.offset = 0);
    return b;
  }
  clear() {
    this.chunks = [], (this.offset = 0), (this.length = 0);
  }
}
// Gap 8: rp2040js's UART raises no RX DREQ, so DMA cannot read it. This follows the
// UARTDMACR register (RXDMAE) and keeps DREQ `dreq` up while RX DMA is on and the FIFO
// holds a byte; reading UARTDR (the DMA does) re-evaluates it.
function uartRxDreq(uart, dreq) {
  let dmacr = 0;
  const update = () =>
    dmacr & 1 && !uart.rxFIFO.empty ? mcu.dma.setDREQ(dreq) : mcu.dma.clearDREQ(dreq);
  const write = uart.writeUint32.bind(uart), read = uart.readUint32.bind(uart);
  uart.writeUint32 = (offset, value) => {
    if (offset !== 0x48) return write(offset, value);
    dmacr = value & 7;
    update();
  };
  uart.readUint32 = (offset) => {
    if (offset === 0x48) return dmacr;
    const value = read(offset);
    if (offset === 0) update();
    return value;
  };
  return update;
}

// Feeds `uart`'s RX one byte per 10 bit times of simulated time, from a clock alarm (so
// that a WFI-waiting core wakes up for it). `lossy`: as a modem does, the bytes come at
// line rate whatever the receiver does, and one that finds the FIFO full is lost (an
// overrun); they are counted and reported. Otherwise a full FIFO holds the sender back
// (ideal flow control).
function uartInput(uart, name, dreq, lossy) {
  const queue = new ByteQueue();
  const dreqUpdate = uartRxDreq(uart, dreq);
  let byteNanos = 10e9 / 115200, armed = false, lost = 0, lostSaid = 0;
  const sayLost = () =>
    say(`${name}: ${lost} bytes lost (receive FIFO full) at ${(mcu.clock.nanos / 1e6).toFixed(3)} ms`);
  atFinish.push(() => lost && sayLost());
  uart.onBaudRateChange = (baud) => {
    if (Number.isFinite(baud) && baud >= 300) byteNanos = 10e9 / baud;
  };
  const alarm = mcu.clock.createAlarm(() => {
    armed = false;
    if (queue.length && !uart.rxFIFO.full) {
      uart.feedByte(queue.shift());
      dreqUpdate();
    } else if (queue.length && lossy) {
      queue.shift();
      lost++;
      // The first loss at once, then at most every 100 ms, and the total at the end.
      if (lost === 1 || mcu.clock.nanos - lostSaid >= 100e6) (lostSaid = mcu.clock.nanos), sayLost();
    }
    if (queue.length) (armed = true), alarm.schedule(byteNanos);
  });
  return {
    queue,
    push(buf) {
      queue.push(buf);
      if (!armed && queue.length) (armed = true), alarm.schedule(byteNanos);
    },
  };
}

// ---- the modem: UART0 <-> TCP ----
const modemIn = uartInput(mcu.uart[0], 'uart0', 21, true);
const modemOut = [];
let modem = null;
mcu.uart[0].onByte = (b) => modem && modemOut.push(b);
const setStatus = (on) => opts.statusPin !== undefined && mcu.gpio[opts.statusPin].setInputValue(on);
if (opts.modem) {
  modem = await new Promise((resolve) => {
    const where = `tcp:${opts.modem.host}:${opts.modem.port}`;
    let up = false;
    const s = net.connect(opts.modem.port, opts.modem.host, () => ((up = true), resolve(s)));
    s.on('error', (e) => up || fail(`cannot connect to the modem at ${where}: ${e.message}`));
  });
  modem.setNoDelay(true);
  modem.on('data', (d) => modemIn.push(d));
  modem.on('close', () => {
    say('modem connection closed; the firmware runs on without a modem');
    modem = null;
    setStatus(false);
  });
  setStatus(true);
}

// ---- the host link: USB CDC-ACM (default) or UART1 <-> one TCP client at a time ----
let client = null;
const hostOut = [];
let hostIn; // { queue, push(buf) }
if (opts.hostUart1) {
  hostIn = uartInput(mcu.uart[1], 'uart1', 23, false);
  mcu.uart[1].onByte = (b) => client && hostOut.push(Buffer.of(b));
} else {
  const cdc = new USBCDC(mcu.usbCtrl);
  let configured = false;
  cdc.onDeviceConnected = () => ((configured = true), pumpUsb());
  cdc.onSerialData = (data) => client && hostOut.push(Buffer.from(data));
  const releaseHeldRead = patchUsbBulkOut(mcu, cdc);
  const queue = new ByteQueue();
  // Into the host's 512-byte FIFO only while it has room (it drops bytes when full).
  function pumpUsb() {
    while (configured && queue.length && !cdc.txFIFO.full) cdc.sendSerialByte(queue.shift());
    if (!cdc.txFIFO.empty) releaseHeldRead();
  }
  hostIn = { queue, push: (buf) => (queue.push(buf), pumpUsb()), pump: pumpUsb };
}

// Gap 4, two wraps around rp2040js's device-mode controller (bulk OUT, single-buffered):
// (a) an armed OUT buffer keeps AVAILABLE set until the host's data lands in it, which is
//     when the hardware clears it and sets FULL and LEN;
// (b) an OUT request made while the host has nothing to send is held (the device sees a
//     NAK) instead of being completed with a zero-length packet ~10 us later.
function patchUsbBulkOut(mcu, cdc) {
  const usb = mcu.usbCtrl, dpram = mcu.usbDPRAMView, AVAILABLE = 1 << 10, FULL = 1 << 15;
  const outBufCtrl = (ep) => 0x84 + 8 * ep;
  const dpramUpdated = usb.DPRAMUpdated.bind(usb);
  usb.DPRAMUpdated = (offset, value) => {
    dpramUpdated(offset, value);
    const isOutOfEp1To15 = offset >= outBufCtrl(1) && offset <= outBufCtrl(15) && (offset & 4);
    if (isOutOfEp1To15 && value & AVAILABLE) {
      const now = dpram.getUint32(offset, true);
      if (!(now & FULL)) dpram.setUint32(offset, now | AVAILABLE, true);
    }
  };
  const finishRead = usb.finishRead.bind(usb);
  usb.finishRead = (ep, buffer) => {
    if (ep !== 0) dpram.setUint32(outBufCtrl(ep), dpram.getUint32(outBufCtrl(ep), true) & ~AVAILABLE, true);
    finishRead(ep, buffer);
  };
  const endpointRead = usb.onEndpointRead;
  let held = null;
  usb.onEndpointRead = (ep, size) => {
    if (ep === cdc.outEndpoint && cdc.txFIFO.empty) held = [ep, size];
    else endpointRead(ep, size);
  };
  return () => {
    if (held) {
      const [ep, size] = held;
      held = null;
      endpointRead(ep, size);
    }
  };
}

const server = net.createServer((socket) => {
  if (client) {
    say('link: refused a second client');
    socket.destroy();
    return;
  }
  client = socket;
  socket.setNoDelay(true);
  socket.on('data', (d) => hostIn.push(d));
  socket.on('error', () => {});
  socket.on('close', () => {
    if (client === socket) (client = null), (hostOut.length = 0), hostIn.queue.clear();
  });
});
await new Promise((resolve) => {
  server.once('error', (e) => fail(`cannot listen on ${opts.linkListen}: ${e.message}`));
  server.listen(opts.link.port, opts.link.host, resolve);
});
{
  const { address, port } = server.address();
  say(`link tcp:${address.includes(':') ? `[${address}]` : address}:${port}`);
}

// ---- GPIO ----
for (const pin of WATCHED_PINS) {
  let level = null;
  mcu.gpio[pin].addListener((state) => {
    if (state !== GPIOPinState.High && state !== GPIOPinState.Low) return;
    const high = state === GPIOPinState.High;
    if (high !== level) say(`gpio ${pin} ${(level = high) ? 'high' : 'low'} at ${(mcu.clock.nanos / 1e6).toFixed(3)} ms`);
  });
}

// ---- defmt over RTT: the SEGGER control block, up-channel 0 drained to stdout ----
const RTT_ID = Buffer.from('SEGGER RTT\0\0\0\0\0\0');
const sram = Buffer.from(mcu.sram.buffer, mcu.sram.byteOffset, mcu.sram.byteLength);
let rtt = -1; // offset of the control block in SRAM once found
function drainRtt() {
  const v = mcu.sramView;
  if (rtt < 0) {
    const at = sram.indexOf(RTT_ID);
    if (at < 0 || at + 48 > sram.length || v.getUint32(at + 16, true) - 1 > 15) return;
    rtt = at;
  }
  const flags = v.getUint32(rtt + 44, true); // block when full, as probe-rs sets it
  if ((flags & 3) !== 2) v.setUint32(rtt + 44, (flags & ~3) | 2, true);
  const buf = v.getUint32(rtt + 28, true) - SRAM_BASE, size = v.getUint32(rtt + 32, true);
  const write = v.getUint32(rtt + 36, true), read = v.getUint32(rtt + 40, true);
  if (buf < 0 || buf + size > sram.length || write >= size || read >= size || write === read) return;
  if (write > read) process.stdout.write(Buffer.from(sram.subarray(buf + read, buf + write)));
  else process.stdout.write(Buffer.concat([sram.subarray(buf + read, buf + size), sram.subarray(buf, buf + write)]));
  v.setUint32(rtt + 40, write, true);
}
process.stdout.on('error', () => {});

// ---- the run loop, paced to wall time ----
const CHUNK = 4096; // instructions between I/O services
const SLICE_MS = 10; // wall time between event-loop turns
const limitNanos = opts.seconds * 1e9;
const core = mcu.core, clock = mcu.clock;
const wallStart = performance.now();
let nextSpeedReport = wallStart + 10000, chunks = 0, finishing = false;
// When the next clock alarm fires (rp2040js keeps them in a sorted list).
const nextAlarmAt = () => (clock.nextAlarm ? clock.nextAlarm.nanos : Infinity);

function flushOutputs() {
  if (modemOut.length) modem?.write(Buffer.from(modemOut)), (modemOut.length = 0);
  if (hostOut.length) client?.write(Buffer.concat(hostOut)), (hostOut.length = 0);
}

function run() {
  if (finishing) return;
  const sliceEnd = performance.now() + SLICE_MS;
  const target = Math.min((performance.now() - wallStart) * 1e6, limitNanos);
  while (clock.nanos < target && !stopped) {
    for (let k = 0; k < CHUNK && clock.nanos < target; k++) {
      if (clock.nanos < stallUntil) {
        // A flash operation under way: no instruction runs, peripherals go on.
        clock.tick(Math.max(0, Math.min(stallUntil, nextAlarmAt(), target) - clock.nanos));
      } else if (core.waiting) {
        clock.tick(Math.max(0, Math.min(nextAlarmAt(), target) - clock.nanos)); // sleep to the next event
      } else {
        clock.tick((core.executeInstruction() * 1e9) / mcu.clkSys);
        if (stopped) break;
      }
    }
    // Until defmt-rtt's block is found, scan often at first, then every 64th chunk.
    if (rtt >= 0 || clock.nanos < 2e8 || ++chunks % 64 === 0) drainRtt();
    hostIn.pump?.();
    if (performance.now() >= sliceEnd) break;
  }
  flushOutputs();
  const now = performance.now();
  if (now >= nextSpeedReport) {
    const sim = clock.nanos / 1e9, wall = (now - wallStart) / 1000;
    say(`speed ${(sim / wall).toFixed(2)}x (sim ${sim.toFixed(1)} s, wall ${wall.toFixed(1)} s)`);
    nextSpeedReport += 10000;
  }
  if (stopped) return finish(101, `firmware stopped (${stopped})`);
  if (clock.nanos >= limitNanos) return finish(0, `stopped after ${opts.seconds} s of simulated time`);
  if (clock.nanos >= target) setTimeout(run, 1); // caught up with the wall clock: wait for it
  else setImmediate(run); // behind it: serve the sockets, then go on
}

function finish(code, why) {
  if (finishing) return;
  finishing = true;
  drainRtt();
  flushOutputs();
  for (const report of atFinish) report();
  say(why);
  // Let the last bytes reach the sockets, for at most half a second.
  process.exitCode = code;
  const sockets = [modem, client].filter(Boolean);
  let pending = sockets.length;
  const done = () => --pending <= 0 && process.exit(code);
  for (const s of sockets) s.end(done);
  if (!pending) process.exit(code);
  setTimeout(() => process.exit(code), 500);
}
process.on('SIGTERM', () => finish(0, 'SIGTERM'));
process.on('SIGINT', () => finish(0, 'SIGINT'));

setImmediate(run);
