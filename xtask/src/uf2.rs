//! UF2 files: how a board in its USB boot loader (the Pico held in BOOTSEL) takes a
//! firmware copied to its mass-storage drive.
//!
//! The format (Microsoft's UF2 specification, github.com/microsoft/uf2 README) is a
//! sequence of independent 512-byte blocks, each carrying up to 476 bytes for one
//! flash address; every field is a little-endian `u32`:
//!
//! | offset | field |
//! |---|---|
//! | 0, 4 | magic `0x0A324655` ("UF2\n"), `0x9E5D5157` |
//! | 8 | flags: `0x2000` = the family id field is present |
//! | 12 | target address |
//! | 16 | payload size (256 here, a flash page) |
//! | 20, 24 | block number, number of blocks |
//! | 28 | family id (RP2040: `0xE48BFF56`) |
//! | 32 | payload, zero-padded to 476 bytes |
//! | 508 | magic `0x0AB16F30` |
//!
//! The image is read from the ELF's loadable segments at their load addresses
//! (`p_paddr`), so `.data`'s initial values land in flash where the start-up code
//! copies them from. Every 4 KiB flash sector the image touches is sent whole (pages
//! with nothing in them as zeros), except the last sector, which ends at its last
//! page: the RP2040 boot ROM erases a sector when its first block arrives, and a
//! sector sent only in part has been seen to lose pages (the same rule elf2uf2 and
//! picotool follow).

use std::collections::BTreeMap;
use std::ops::Range;

use object::Endianness;
use object::read::elf::{ElfFile32, FileHeader, ProgramHeader};

/// UF2 family id of the RP2040 (UF2 specification, families list).
pub const RP2040_FAMILY: u32 = 0xE48B_FF56;
/// Where the RP2040's flash is mapped (execute in place).
pub const RP2040_FLASH_BASE: u32 = 0x1000_0000;

const MAGIC_START0: u32 = 0x0A32_4655;
const MAGIC_START1: u32 = 0x9E5D_5157;
const MAGIC_END: u32 = 0x0AB1_6F30;
const FLAG_FAMILY_ID: u32 = 0x0000_2000;
/// Bytes of payload per block: one flash page.
pub const PAGE: u32 = 256;
/// Flash erase sector.
const SECTOR: u32 = 4096;
const BLOCK: usize = 512;
const PT_LOAD: u32 = 1;

/// Converts an ELF image into a UF2 file for `family`. Every loadable byte must lie in
/// `flash` (absolute addresses); anything else is refused, as is an image with nothing
/// to load.
pub fn from_elf(elf: &[u8], family: u32, flash: Range<u32>) -> Result<Vec<u8>, String> {
    let pages = pages_of_elf(elf, &flash)?;
    Ok(blocks(&pages, family))
}

/// The image's bytes by flash page (page address → 256 bytes), sector-padded.
fn pages_of_elf(elf: &[u8], flash: &Range<u32>) -> Result<BTreeMap<u32, Vec<u8>>, String> {
    let file =
        ElfFile32::<Endianness>::parse(elf).map_err(|e| format!("not an ELF32 file: {e}"))?;
    let endian = file.endian();
    let headers = file
        .elf_header()
        .program_headers(endian, elf)
        .map_err(|e| format!("ELF program headers: {e}"))?;
    let mut pages: BTreeMap<u32, Vec<u8>> = BTreeMap::new();
    for header in headers {
        if header.p_type(endian) != PT_LOAD || header.p_filesz(endian) == 0 {
            continue;
        }
        let start = header.p_paddr(endian);
        let data = header
            .data(endian, elf)
            .map_err(|()| format!("segment at {start:#010x} lies outside the file"))?;
        let len = u32::try_from(data.len()).map_err(|_| "segment too large".to_owned())?;
        let end = start
            .checked_add(len)
            .ok_or_else(|| format!("segment at {start:#010x} wraps around"))?;
        if start < flash.start || end > flash.end {
            return Err(format!(
                "segment {start:#010x}..{end:#010x} lies outside flash {:#010x}..{:#010x}",
                flash.start, flash.end
            ));
        }
        for (i, byte) in data.iter().enumerate() {
            let address = start + i as u32;
            let page = address - address % PAGE;
            let bytes = pages
                .entry(page)
                .or_insert_with(|| vec![0u8; PAGE as usize]);
            bytes[(address - page) as usize] = *byte;
        }
    }
    let Some(&last) = pages.keys().next_back() else {
        return Err("the ELF has nothing to load".to_owned());
    };
    // Whole sectors, except the last one, which ends at its last page.
    let sectors: Vec<u32> = pages.keys().map(|p| p - p % SECTOR).collect();
    for sector in sectors {
        let mut page = sector;
        while page < sector + SECTOR && page <= last {
            pages
                .entry(page)
                .or_insert_with(|| vec![0u8; PAGE as usize]);
            page += PAGE;
        }
    }
    Ok(pages)
}

fn blocks(pages: &BTreeMap<u32, Vec<u8>>, family: u32) -> Vec<u8> {
    let count = pages.len() as u32;
    let mut out = Vec::with_capacity(pages.len() * BLOCK);
    for (number, (address, payload)) in pages.iter().enumerate() {
        let mut block = [0u8; BLOCK];
        let fields = [
            MAGIC_START0,
            MAGIC_START1,
            FLAG_FAMILY_ID,
            *address,
            PAGE,
            number as u32,
            count,
            family,
        ];
        for (i, value) in fields.iter().enumerate() {
            block[i * 4..i * 4 + 4].copy_from_slice(&value.to_le_bytes());
        }
        block[32..32 + payload.len()].copy_from_slice(payload);
        block[508..].copy_from_slice(&MAGIC_END.to_le_bytes());
        out.extend_from_slice(&block);
    }
    out
}

/// One block of a UF2 file, read back (for tests and checks).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    pub address: u32,
    pub number: u32,
    pub count: u32,
    pub family: u32,
    pub payload: Vec<u8>,
}

/// Reads a UF2 file's blocks, checking magics, flags and sizes.
pub fn parse(file: &[u8]) -> Result<Vec<Block>, String> {
    if file.is_empty() || file.len() % BLOCK != 0 {
        return Err(format!(
            "{} bytes: not a whole number of 512-byte blocks",
            file.len()
        ));
    }
    let word = |block: &[u8], at: usize| {
        u32::from_le_bytes(block[at..at + 4].try_into().expect("4 bytes"))
    };
    file.chunks(BLOCK)
        .enumerate()
        .map(|(i, block)| {
            if word(block, 0) != MAGIC_START0
                || word(block, 4) != MAGIC_START1
                || word(block, 508) != MAGIC_END
            {
                return Err(format!("block {i}: bad magic"));
            }
            if word(block, 8) & FLAG_FAMILY_ID == 0 {
                return Err(format!("block {i}: no family id"));
            }
            let size = word(block, 16) as usize;
            if size > 476 {
                return Err(format!("block {i}: payload of {size} bytes"));
            }
            Ok(Block {
                address: word(block, 12),
                number: word(block, 20),
                count: word(block, 24),
                family: word(block, 28),
                payload: block[32..32 + size].to_vec(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal little-endian ELF32 with the given (paddr, vaddr, bytes) PT_LOAD segments.
    fn elf(segments: &[(u32, u32, &[u8])]) -> Vec<u8> {
        let phoff = 52u32;
        let mut data_off = phoff + 32 * segments.len() as u32;
        let mut out = vec![0u8; data_off as usize];
        out[..4].copy_from_slice(b"\x7fELF");
        out[4] = 1; // ELFCLASS32
        out[5] = 1; // little-endian
        out[6] = 1; // EV_CURRENT
        let put16 = |out: &mut Vec<u8>, at: usize, v: u16| {
            out[at..at + 2].copy_from_slice(&v.to_le_bytes())
        };
        let put32 = |out: &mut Vec<u8>, at: usize, v: u32| {
            out[at..at + 4].copy_from_slice(&v.to_le_bytes())
        };
        put16(&mut out, 16, 2); // ET_EXEC
        put16(&mut out, 18, 40); // EM_ARM
        put32(&mut out, 20, 1);
        put32(&mut out, 28, phoff);
        put16(&mut out, 40, 52);
        put16(&mut out, 42, 32);
        put16(&mut out, 44, segments.len() as u16);
        for (i, (paddr, vaddr, bytes)) in segments.iter().enumerate() {
            let h = phoff as usize + 32 * i;
            put32(&mut out, h, PT_LOAD);
            put32(&mut out, h + 4, data_off);
            put32(&mut out, h + 8, *vaddr);
            put32(&mut out, h + 12, *paddr);
            put32(&mut out, h + 16, bytes.len() as u32);
            put32(&mut out, h + 20, bytes.len() as u32);
            data_off += bytes.len() as u32;
        }
        for (_, _, bytes) in segments {
            out.extend_from_slice(bytes);
        }
        out
    }

    const FLASH: Range<u32> = 0x1000_0000..0x101C_0000;

    #[test]
    fn blocks_carry_pages_at_load_addresses_with_the_family() {
        let code: Vec<u8> = (0..300u32).map(|i| i as u8).collect();
        // .data: runs at 0x2000_0000, loaded from 0x1000_0200.
        let image = elf(&[
            (0x1000_0000, 0x1000_0000, &code),
            (0x1000_0200, 0x2000_0000, b"data"),
        ]);
        let uf2 = from_elf(&image, RP2040_FAMILY, FLASH).unwrap();
        let blocks = parse(&uf2).unwrap();
        // One sector touched, and it is the last: pages 0, 1, 2 (last data page).
        let addresses: Vec<u32> = blocks.iter().map(|b| b.address).collect();
        assert_eq!(addresses, [0x1000_0000, 0x1000_0100, 0x1000_0200]);
        for (i, b) in blocks.iter().enumerate() {
            assert_eq!((b.number, b.count, b.family), (i as u32, 3, RP2040_FAMILY));
            assert_eq!(b.payload.len(), 256);
        }
        assert_eq!(&blocks[0].payload[..], &code[..256]);
        assert_eq!(&blocks[1].payload[..44], &code[256..]);
        assert!(blocks[1].payload[44..].iter().all(|&b| b == 0));
        assert_eq!(&blocks[2].payload[..4], b"data");
    }

    #[test]
    fn every_touched_sector_but_the_last_is_sent_whole() {
        // Data at the start of sector 0 and in the middle of sector 2.
        let image = elf(&[
            (0x1000_0000, 0x1000_0000, b"boot"),
            (0x1000_2800, 0x1000_2800, b"x"),
        ]);
        let blocks = parse(&from_elf(&image, RP2040_FAMILY, FLASH).unwrap()).unwrap();
        let addresses: Vec<u32> = blocks.iter().map(|b| b.address).collect();
        let mut expected: Vec<u32> = (0..16).map(|i| 0x1000_0000 + i * 256).collect();
        // Sector 1 holds nothing and is not sent; sector 2 up to its data page.
        expected.extend((0..=8).map(|i| 0x1000_2000 + i * 256));
        assert_eq!(addresses, expected);
        assert!(
            blocks[1].payload.iter().all(|&b| b == 0),
            "padding is zeros"
        );
    }

    #[test]
    fn images_outside_flash_or_empty_are_refused() {
        let ram = elf(&[(0x2000_0000, 0x2000_0000, b"ram")]);
        let err = from_elf(&ram, RP2040_FAMILY, FLASH).unwrap_err();
        assert!(err.contains("outside flash"), "{err}");
        // Reaching into the store region at the end of flash.
        let store = elf(&[(0x101B_FFFE, 0x101B_FFFE, b"abcd")]);
        assert!(from_elf(&store, RP2040_FAMILY, FLASH).is_err());
        assert!(from_elf(&elf(&[]), RP2040_FAMILY, FLASH).is_err());
        assert!(from_elf(b"not an elf", RP2040_FAMILY, FLASH).is_err());
    }

    #[test]
    fn parse_refuses_damaged_files() {
        let image = elf(&[(0x1000_0000, 0x1000_0000, b"boot")]);
        let mut uf2 = from_elf(&image, RP2040_FAMILY, FLASH).unwrap();
        assert!(parse(&uf2[..511]).is_err());
        uf2[508] ^= 1;
        assert!(parse(&uf2).unwrap_err().contains("magic"));
    }
}
