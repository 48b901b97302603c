//! Unpacking a command package: the entries of a plain zip (stored or deflated, RFC 1951),
//! each checked against its CRC-32 and its declared size, written under one folder. The entry
//! names were checked by [`agent::package::check`] before; they are checked again here, so no
//! entry can land outside the folder whoever calls this.

use std::path::Path;

use agent::{Error, Result};
use model::package_entry::entry_problem;

/// The most a package may unpack to, all entries together.
pub const MOST_BYTES: u64 = 1 << 30;

fn le16(b: &[u8], at: usize) -> Option<usize> {
    b.get(at..at + 2)
        .map(|s| u16::from_le_bytes([s[0], s[1]]) as usize)
}

fn le32(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// The CRC-32 (ISO-HDLC, as zip uses it) of `data`.
pub fn crc32(data: &[u8]) -> u32 {
    let mut table = [0u32; 256];
    for (i, slot) in table.iter_mut().enumerate() {
        let mut c = i as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
        *slot = c;
    }
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc = table[((crc ^ u32::from(b)) & 0xFF) as usize] ^ (crc >> 8);
    }
    crc ^ 0xFFFF_FFFF
}

struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
    buf: u32,
    count: u32,
}

impl<'a> Bits<'a> {
    fn need(&mut self, n: u32) -> std::result::Result<u32, &'static str> {
        while self.count < n {
            let byte = *self
                .data
                .get(self.pos)
                .ok_or("the deflate stream is cut short")?;
            self.pos += 1;
            self.buf |= u32::from(byte) << self.count;
            self.count += 8;
        }
        let value = self.buf & ((1u32 << n) - 1);
        self.buf >>= n;
        self.count -= n;
        Ok(value)
    }
}

/// A canonical Huffman code: how many codes of each length, and the symbols in code order.
struct Huffman {
    counts: [u16; 16],
    symbols: Vec<u16>,
}

impl Huffman {
    fn new(lengths: &[u8]) -> std::result::Result<Huffman, &'static str> {
        let mut counts = [0u16; 16];
        for &l in lengths {
            counts[usize::from(l)] += 1;
        }
        counts[0] = 0;
        let mut offsets = [0u16; 16];
        for len in 1..15 {
            offsets[len + 1] = offsets[len] + counts[len];
        }
        let mut symbols = vec![0u16; lengths.len()];
        for (symbol, &l) in lengths.iter().enumerate() {
            if l != 0 {
                let at = &mut offsets[usize::from(l)];
                *symbols
                    .get_mut(usize::from(*at))
                    .ok_or("a bad Huffman code")? = symbol as u16;
                *at += 1;
            }
        }
        Ok(Huffman { counts, symbols })
    }

    fn decode(&self, bits: &mut Bits<'_>) -> std::result::Result<u16, &'static str> {
        let (mut code, mut first, mut index) = (0i32, 0i32, 0i32);
        for len in 1..16 {
            code |= bits.need(1)? as i32;
            let count = i32::from(self.counts[len]);
            if code - first < count {
                return self
                    .symbols
                    .get((index + code - first) as usize)
                    .copied()
                    .ok_or("a bad Huffman code");
            }
            index += count;
            first = (first + count) << 1;
            code <<= 1;
        }
        Err("a code no Huffman table has")
    }
}

const LENGTH_BASE: [u16; 29] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
    163, 195, 227, 258,
];
const LENGTH_EXTRA: [u8; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
const DIST_BASE: [u16; 30] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
    2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
];
const DIST_EXTRA: [u8; 30] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
];
/// The order the code length code lengths come in.
const ORDER: [usize; 19] = [
    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
];

fn codes(
    bits: &mut Bits<'_>,
    out: &mut Vec<u8>,
    most: usize,
    lit: &Huffman,
    dist: &Huffman,
) -> std::result::Result<(), &'static str> {
    loop {
        let symbol = lit.decode(bits)?;
        match symbol {
            0..=255 => {
                if out.len() >= most {
                    return Err("more data than the entry declares");
                }
                out.push(symbol as u8);
            }
            256 => return Ok(()),
            _ => {
                let i = usize::from(symbol - 257);
                let len = usize::from(*LENGTH_BASE.get(i).ok_or("a bad length code")?)
                    + bits.need(u32::from(LENGTH_EXTRA[i]))? as usize;
                let d = usize::from(dist.decode(bits)?);
                let distance = usize::from(*DIST_BASE.get(d).ok_or("a bad distance code")?)
                    + bits.need(u32::from(DIST_EXTRA[d]))? as usize;
                if distance > out.len() {
                    return Err("a distance back past the start");
                }
                if out.len() + len > most {
                    return Err("more data than the entry declares");
                }
                let start = out.len() - distance;
                for k in 0..len {
                    let byte = out[start + k];
                    out.push(byte);
                }
            }
        }
    }
}

fn dynamic_tables(bits: &mut Bits<'_>) -> std::result::Result<(Huffman, Huffman), &'static str> {
    let nlen = bits.need(5)? as usize + 257;
    let ndist = bits.need(5)? as usize + 1;
    let ncode = bits.need(4)? as usize + 4;
    if nlen > 286 || ndist > 30 {
        return Err("too many codes");
    }
    let mut code_lengths = [0u8; 19];
    for &at in ORDER.iter().take(ncode) {
        code_lengths[at] = bits.need(3)? as u8;
    }
    let code = Huffman::new(&code_lengths)?;
    let mut lengths = vec![0u8; nlen + ndist];
    let mut i = 0;
    while i < nlen + ndist {
        let symbol = code.decode(bits)?;
        let (value, repeat) = match symbol {
            0..=15 => (symbol as u8, 1),
            16 => {
                let previous = *lengths
                    .get(i.wrapping_sub(1))
                    .filter(|_| i > 0)
                    .ok_or("a repeat with nothing before it")?;
                (previous, 3 + bits.need(2)? as usize)
            }
            17 => (0, 3 + bits.need(3)? as usize),
            _ => (0, 11 + bits.need(7)? as usize),
        };
        if i + repeat > lengths.len() {
            return Err("code lengths past the end");
        }
        for slot in &mut lengths[i..i + repeat] {
            *slot = value;
        }
        i += repeat;
    }
    Ok((
        Huffman::new(&lengths[..nlen])?,
        Huffman::new(&lengths[nlen..])?,
    ))
}

/// The bytes the raw deflate stream `data` holds, at most `most` of them.
pub fn inflate(data: &[u8], most: usize) -> std::result::Result<Vec<u8>, &'static str> {
    let mut bits = Bits {
        data,
        pos: 0,
        buf: 0,
        count: 0,
    };
    let mut out = Vec::with_capacity(most.min(1 << 24));
    loop {
        let last = bits.need(1)? == 1;
        match bits.need(2)? {
            0 => {
                // Stored: the rest of this byte is dropped.
                bits.buf = 0;
                bits.count = 0;
                let at = bits.pos;
                let len = le16(data, at).ok_or("the deflate stream is cut short")?;
                let nlen = le16(data, at + 2).ok_or("the deflate stream is cut short")?;
                if len != !nlen & 0xFFFF {
                    return Err("a stored block's length does not match its complement");
                }
                let block = data
                    .get(at + 4..at + 4 + len)
                    .ok_or("the deflate stream is cut short")?;
                if out.len() + len > most {
                    return Err("more data than the entry declares");
                }
                out.extend_from_slice(block);
                bits.pos = at + 4 + len;
            }
            1 => {
                let mut lengths = [0u8; 288];
                for (i, l) in lengths.iter_mut().enumerate() {
                    *l = match i {
                        0..=143 => 8,
                        144..=255 => 9,
                        256..=279 => 7,
                        _ => 8,
                    };
                }
                let lit = Huffman::new(&lengths)?;
                let dist = Huffman::new(&[5u8; 30])?;
                codes(&mut bits, &mut out, most, &lit, &dist)?;
            }
            2 => {
                let (lit, dist) = dynamic_tables(&mut bits)?;
                codes(&mut bits, &mut out, most, &lit, &dist)?;
            }
            _ => return Err("a block of the reserved type 3"),
        }
        if last {
            return Ok(out);
        }
    }
}

/// One entry of a zip's central directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Its name, `/` separating folders; a folder's ends with `/`.
    pub name: String,
    method: usize,
    flags: usize,
    crc: u32,
    packed: usize,
    size: usize,
    header: usize,
}

/// The entries of `zip`'s central directory.
pub fn entries(zip: &[u8]) -> std::result::Result<Vec<Entry>, &'static str> {
    const END: u32 = 0x0605_4b50;
    const CENTRAL: u32 = 0x0201_4b50;
    let lowest = zip.len().saturating_sub(22 + 65_535);
    let end = (lowest..=zip.len().saturating_sub(22))
        .rev()
        .find(|&at| le32(zip, at) == Some(END))
        .ok_or("not a zip file")?;
    let cut = "the zip is cut short";
    let count = le16(zip, end + 10).ok_or(cut)?;
    let mut at = le32(zip, end + 16).ok_or(cut)? as usize;
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        if le32(zip, at) != Some(CENTRAL) {
            return Err("the zip's central directory is damaged");
        }
        let name_len = le16(zip, at + 28).ok_or(cut)?;
        let skip = le16(zip, at + 30).ok_or(cut)? + le16(zip, at + 32).ok_or(cut)?;
        let name = zip.get(at + 46..at + 46 + name_len).ok_or(cut)?;
        out.push(Entry {
            name: String::from_utf8_lossy(name).into_owned(),
            flags: le16(zip, at + 8).ok_or(cut)?,
            method: le16(zip, at + 10).ok_or(cut)?,
            crc: le32(zip, at + 16).ok_or(cut)?,
            packed: le32(zip, at + 20).ok_or(cut)? as usize,
            size: le32(zip, at + 24).ok_or(cut)? as usize,
            header: le32(zip, at + 42).ok_or(cut)? as usize,
        });
        at += 46 + name_len + skip;
    }
    Ok(out)
}

/// The content of `entry` of `zip`, checked against its size and CRC-32.
pub fn content(zip: &[u8], entry: &Entry) -> std::result::Result<Vec<u8>, &'static str> {
    if entry.flags & 1 != 0 {
        return Err("an encrypted entry");
    }
    let cut = "the zip is cut short";
    if le32(zip, entry.header) != Some(0x0403_4b50) {
        return Err("a local header is missing");
    }
    let start = entry.header
        + 30
        + le16(zip, entry.header + 26).ok_or(cut)?
        + le16(zip, entry.header + 28).ok_or(cut)?;
    let packed = zip.get(start..start + entry.packed).ok_or(cut)?;
    let data = match entry.method {
        0 => packed.to_vec(),
        8 => inflate(packed, entry.size)?,
        _ => return Err("a compression method other than stored or deflate"),
    };
    if data.len() != entry.size {
        return Err("an entry whose size differs from the one declared");
    }
    if crc32(&data) != entry.crc {
        return Err("an entry whose CRC-32 does not match (the zip is damaged)");
    }
    Ok(data)
}

/// Unpacks every entry of the package `name` (`zip`) under `folder`; returns how many files.
pub fn unpack(name: &str, zip: &[u8], folder: &Path) -> Result<usize> {
    let refuse = |why: String| {
        Error::Device(format!(
            "the command package {} cannot be unpacked: {}",
            name, why
        ))
    };
    let all = entries(zip).map_err(|w| refuse(w.to_string()))?;
    let total: u64 = all.iter().map(|e| e.size as u64).sum();
    if total > MOST_BYTES {
        return Err(refuse(format!(
            "it would unpack to {} bytes, more than the {} a package may",
            total, MOST_BYTES
        )));
    }
    let mut files = 0;
    for entry in &all {
        if let Some(why) = entry_problem(&entry.name) {
            return Err(refuse(format!("its entry {:?} {}", entry.name, why)));
        }
        let relative: std::path::PathBuf = entry
            .name
            .split(|c| c == '/' || c == '\\')
            .filter(|p| !p.is_empty())
            .collect();
        let path = folder.join(relative);
        let io = |e: std::io::Error| Error::Io {
            what: "unpacking a command package to",
            path: path.clone(),
            source: e,
        };
        if entry.name.ends_with('/') {
            std::fs::create_dir_all(&path).map_err(io)?;
            continue;
        }
        let data = content(zip, entry)
            .map_err(|w| refuse(format!("its entry {:?}: {}", entry.name, w)))?;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        std::fs::write(&path, data).map_err(io)?;
        files += 1;
    }
    Ok(files)
}
