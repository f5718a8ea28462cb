//! Flash and RAM use of a firmware image, read from its ELF section headers.
//!
//! The same arithmetic as Berkeley `size`: allocated read-only sections (`.vector_table`,
//! `.text`, `.rodata`) live in flash; allocated writable sections with contents (`.data`)
//! live in RAM and their initial values in flash; allocated sections without contents
//! (`.bss`, `.uninit`) live in RAM only. Non-allocated sections (debug info, `.defmt`)
//! cost nothing on the device. The stack is not counted: it takes the RAM that is left.

use std::fmt;
use std::path::Path;

use object::{Object, ObjectSection, SectionFlags, SectionKind};

const SHF_WRITE: u64 = 0x1;
const SHF_ALLOC: u64 = 0x2;

/// Where a section's bytes live on the device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// Code and constants.
    Flash,
    /// Initialised data: the initial values in flash, the variables in RAM.
    FlashAndRam,
    /// Zero-initialised or uninitialised data.
    Ram,
}

/// One allocated section of the image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Section {
    pub name: String,
    pub size: u64,
    pub placement: Placement,
}

/// Flash and static RAM use of an image.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SizeReport {
    pub sections: Vec<Section>,
}

impl SizeReport {
    /// Reads the section headers of the ELF file at `path`.
    pub fn from_elf(path: &Path) -> Result<Self, String> {
        let data = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Self::from_elf_bytes(&data).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Reads the section headers of an ELF image in memory.
    pub fn from_elf_bytes(data: &[u8]) -> Result<Self, String> {
        let file = object::File::parse(data).map_err(|e| format!("not an ELF file: {e}"))?;
        let mut sections = Vec::new();
        for section in file.sections() {
            let SectionFlags::Elf { sh_flags } = section.flags() else {
                return Err("not an ELF file".to_owned());
            };
            if sh_flags & SHF_ALLOC == 0 || section.size() == 0 {
                continue;
            }
            let placement = if section.kind() == SectionKind::UninitializedData {
                Placement::Ram
            } else if sh_flags & SHF_WRITE != 0 {
                Placement::FlashAndRam
            } else {
                Placement::Flash
            };
            sections.push(Section {
                name: section.name().unwrap_or("?").to_owned(),
                size: section.size(),
                placement,
            });
        }
        Ok(Self { sections })
    }

    /// Bytes of flash: text + rodata + data.
    pub fn flash(&self) -> u64 {
        self.total(|p| p != Placement::Ram)
    }

    /// Bytes of static RAM: data + bss.
    pub fn ram(&self) -> u64 {
        self.total(|p| p != Placement::Flash)
    }

    fn total(&self, counts: impl Fn(Placement) -> bool) -> u64 {
        self.sections
            .iter()
            .filter(|s| counts(s.placement))
            .map(|s| s.size)
            .sum()
    }
}

impl fmt::Display for SizeReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{:<16} {:>9}  placement", "section", "bytes")?;
        for s in &self.sections {
            let placement = match s.placement {
                Placement::Flash => "flash",
                Placement::FlashAndRam => "flash + RAM",
                Placement::Ram => "RAM",
            };
            writeln!(f, "{:<16} {:>9}  {placement}", s.name, s.size)?;
        }
        writeln!(
            f,
            "flash (text+rodata+data): {:>7} bytes ({})",
            self.flash(),
            kib(self.flash())
        )?;
        write!(
            f,
            "RAM   (data+bss):         {:>7} bytes ({})",
            self.ram(),
            kib(self.ram())
        )
    }
}

fn kib(bytes: u64) -> String {
    format!("{:.1} KiB", bytes as f64 / 1024.0)
}

/// Parses a byte count such as `131072`, `128K`, `128KiB` or `1M`.
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let (digits, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`{text}` is not a byte count"))?;
    let scale = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1024,
        "m" | "mb" | "mib" => 1024 * 1024,
        _ => return Err(format!("`{text}`: unknown unit (use K or M)")),
    };
    n.checked_mul(scale)
        .ok_or_else(|| format!("`{text}` is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> SizeReport {
        let s = |name: &str, size, placement| Section {
            name: name.to_owned(),
            size,
            placement,
        };
        SizeReport {
            sections: vec![
                s(".vector_table", 1024, Placement::Flash),
                s(".text", 5000, Placement::Flash),
                s(".rodata", 700, Placement::Flash),
                s(".data", 40, Placement::FlashAndRam),
                s(".bss", 300, Placement::Ram),
            ],
        }
    }

    #[test]
    fn flash_is_text_rodata_data_and_ram_is_data_bss() {
        let r = report();
        assert_eq!(r.flash(), 1024 + 5000 + 700 + 40);
        assert_eq!(r.ram(), 40 + 300);
    }

    #[test]
    fn garbage_is_not_an_elf() {
        assert!(SizeReport::from_elf_bytes(b"definitely not an ELF").is_err());
    }

    #[test]
    fn byte_counts_with_units() {
        assert_eq!(parse_bytes("131072"), Ok(131_072));
        assert_eq!(parse_bytes("128K"), Ok(131_072));
        assert_eq!(parse_bytes("20KiB"), Ok(20_480));
        assert_eq!(parse_bytes("1M"), Ok(1_048_576));
        assert!(parse_bytes("12 parsecs").is_err());
        assert!(parse_bytes("").is_err());
    }
}
